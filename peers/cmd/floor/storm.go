package main

import "sync"

// SPEC §5.2 storm. Domains 0..P-1 are producers (remaining, sent, rng), each
// booting at tick 0; P..P+C-1 consumers (count, acc). A producer's batch
// emitted at tick t-1 is delivered at tick t, then its Tick if work
// remains. Within a tick messages are delivered in (src, seq) order:
// producer 0's batch and Tick, then producer 1's, … — the order that makes a
// consumer's acc what the spec says it is.

const fnvPrime = 0x100000001B3

type producer struct{ remaining, sent, rng uint64 }

type consumer struct{ count, acc uint64 }

func newProducers(c *config) []producer {
	P := c.producers
	ps := make([]producer, P)
	for p := range ps {
		ps[p].remaining = c.n / P
		if uint64(p) < c.n%P {
			ps[p].remaining++
		}
		ps[p].rng = c.seed + uint64(p+1)*golden
	}
	return ps
}

// consumerMask is C-1 when C is a power of two (r % C is then r & mask),
// else 0.
func consumerMask(C uint64) uint64 {
	if C&(C-1) == 0 {
		return C - 1
	}
	return 0
}

// stormCounts returns the messages delivered (P boot Ticks, the Data, the
// producers' Ticks) and the boundary where the run ends.
func stormCounts(c *config) (msgs, ticks uint64) {
	msgs, ticks = c.producers+c.n, 1
	for _, p := range newProducers(c) {
		t := (p.remaining + c.batch - 1) / c.batch
		if t > 0 {
			msgs += t - 1
		}
		ticks = max(ticks, 1+t)
	}
	return
}

func stormResult(c *config, ps []producer, cs []consumer, trace uint64, hasTrace bool) result {
	words := make([]uint64, 0, 3*len(ps)+2*len(cs))
	for _, p := range ps {
		words = append(words, p.remaining, p.sent, p.rng)
	}
	for _, c := range cs {
		words = append(words, c.count, c.acc)
	}
	msgs, ticks := stormCounts(c)
	return result{state: stateHash(words), words: words, trace: trace, hasTrace: hasTrace, msgs: msgs, ticks: ticks}
}

// stormLoop: generation and consumer arithmetic only, in delivery order.
func stormLoop(c *config) result {
	ps, cs := newProducers(c), make([]consumer, c.consumers)
	C, mask, batch := c.consumers, consumerMask(c.consumers), c.batch
	for active := true; active; {
		active = false
		for i := range ps {
			p := &ps[i]
			if p.remaining == 0 {
				continue
			}
			k := min(batch, p.remaining)
			p.remaining -= k
			active = active || p.remaining > 0
			rng, sent := p.rng, p.sent
			for end := sent + k; sent < end; sent++ {
				rng += golden
				r := mix(rng)
				var d *consumer
				if mask != 0 || C == 1 {
					d = &cs[r&mask]
				} else {
					d = &cs[r%C]
				}
				d.count++
				d.acc = (d.acc^r)*fnvPrime + sent
			}
			p.rng, p.sent = rng, sent
		}
	}
	return stormResult(c, ps, cs, 0, false)
}

// stormHash: the loop plus every delivered message as its canonical entry
// and the exact SPEC §3 block chain.
func stormHash(c *config) result {
	ps, cs := newProducers(c), make([]consumer, c.consumers)
	P, C, mask, batch := c.producers, c.consumers, consumerMask(c.consumers), c.batch
	ch := newChain(c.params())
	for p := range ps {
		ch.put(0, uint32(p), uint32(p), kindTick, 0, 0) // boot
	}
	ch.flush()
	for tick, active := uint64(1), true; active; tick++ {
		active = false
		for i := range ps {
			p := &ps[i]
			if p.remaining == 0 {
				continue
			}
			k := min(batch, p.remaining)
			p.remaining -= k
			rng, sent := p.rng, p.sent
			tickSrc := tick | uint64(i)<<32
			for k > 0 {
				free := ch.room()
				m := min(k, uint64(len(free)/entrySize))
				buf := free[:m*entrySize]
				for len(buf) >= entrySize {
					rng += golden
					r := mix(rng)
					var ci uint64
					if mask != 0 || C == 1 {
						ci = r & mask
					} else {
						ci = r % C
					}
					putEntry((*[entrySize]byte)(buf), tickSrc, (P+ci)|kindData<<32, r, sent)
					d := &cs[ci]
					d.count++
					d.acc = (d.acc^r)*fnvPrime + sent
					sent++
					buf = buf[entrySize:]
				}
				ch.commit(int(m))
				k -= m
			}
			p.rng, p.sent = rng, sent
			if p.remaining > 0 {
				active = true
				ch.put(uint32(tick), uint32(i), uint32(i), kindTick, 0, 0)
			}
		}
		ch.flush() // a block never spans two ticks
	}
	return stormResult(c, ps, cs, ch.prev, true)
}

// dataMsg is a Data message: its consumer (0-based) and payload.
type dataMsg struct{ dst, a, b uint64 }

// stormChan: each producer is a goroutine sending each Data as one message
// on its own channel; this goroutine owns all consumers and receives in
// delivery order — each tick producer 0's batch, then producer 1's, … —
// so the result is deterministic.
func stormChan(c *config) result {
	ps, cs := newProducers(c), make([]consumer, c.consumers)
	C, mask, batch := c.consumers, consumerMask(c.consumers), c.batch
	// The consumer side tracks each producer's remaining itself to know how
	// many messages of each tick come from it.
	rem := make([]uint64, len(ps))
	for i := range ps {
		rem[i] = ps[i].remaining
	}
	chs := make([]chan dataMsg, len(ps))
	var wg sync.WaitGroup
	for i := range ps {
		chs[i] = make(chan dataMsg, c.chanBuf)
		wg.Add(1)
		go func(p *producer, q chan<- dataMsg) {
			defer wg.Done()
			rng, sent := p.rng, p.sent
			for end := sent + p.remaining; sent < end; sent++ {
				rng += golden
				r := mix(rng)
				var ci uint64
				if mask != 0 || C == 1 {
					ci = r & mask
				} else {
					ci = r % C
				}
				q <- dataMsg{ci, r, sent}
			}
			close(q)
			p.rng, p.sent, p.remaining = rng, sent, 0
		}(&ps[i], chs[i])
	}
	for active := true; active; {
		active = false
		for i, q := range chs {
			if rem[i] == 0 {
				continue
			}
			k := min(batch, rem[i])
			rem[i] -= k
			active = active || rem[i] > 0
			for ; k > 0; k-- {
				m := <-q
				d := &cs[m.dst]
				d.count++
				d.acc = (d.acc^m.a)*fnvPrime + m.b
			}
		}
	}
	wg.Wait()
	return stormResult(c, ps, cs, 0, false)
}
