package main

// Generators shared by the queue, disruptor, workiva and protoactor modes:
// one operation per call, in generation order. (loop, loophash and chan
// inline their generation; these modes pay for a message per operation
// anyway, so a call per operation is not what they measure.)

// bankGen is banking's driver (SPEC §5.1): remaining and rng.
type bankGen struct {
	rt        router
	rng       uint64
	remaining uint64
	fast      bool // the default shape, 1 bank and 2 accounts
}

func newBankGen(c *config) bankGen {
	return bankGen{rt: newRouter(c.banks, c.accounts), rng: c.seed + 1*golden, remaining: c.n,
		fast: c.banks == 1 && c.accounts == 2}
}

// tick takes the operations of the driver's next Tick: min(batch, remaining).
func (g *bankGen) tick(batch uint64) uint64 {
	k := min(batch, g.remaining)
	g.remaining -= k
	return k
}

// next is the next Transfer: its bank (0-based) and payload a = from |
// to<<32, b = amount.
func (g *bankGen) next() (bank, a, b uint64) {
	r1, r2 := mix(g.rng+golden), mix(g.rng+golden2)
	g.rng += golden2
	if g.fast {
		from := r1 & 1
		return 0, from | (from^1)<<32, 1 + r2%1000
	}
	bank, from, to := g.rt.route(r1)
	return bank, from | to<<32, 1 + r2%1000
}

// applyTransfer is a bank's Transfer with the payload as sent.
func applyTransfer(s []uint64, A, a, b uint64) { apply(s, A, a&0xFFFFFFFF, a>>32, b) }

// stormGen draws producer p's Data (SPEC §5.2): r, the consumer (0-based)
// and sent.
type stormGen struct {
	C, mask uint64
}

func newStormGen(c *config) stormGen {
	return stormGen{C: c.consumers, mask: consumerMask(c.consumers)}
}

// next advances p and returns its next Data: consumer, a = r, b = sent.
func (g *stormGen) next(p *producer) (ci, a, b uint64) {
	p.rng += golden
	r := mix(p.rng)
	if g.mask != 0 || g.C == 1 {
		ci = r & g.mask
	} else {
		ci = r % g.C
	}
	b = p.sent
	p.sent++
	return ci, r, b
}

// receive is a consumer's Data.
func (d *consumer) receive(a, b uint64) {
	d.count++
	d.acc = (d.acc^a)*fnvPrime + b
}

// tickShare is how many operations producer p emits at its next Tick, given
// what it has left; the consumer side of the threaded modes tracks each
// producer's remaining this way to know where a tick's messages from p end.
func tickShare(remaining *uint64, batch uint64) uint64 {
	k := min(batch, *remaining)
	*remaining -= k
	return k
}

// roundPow2 is the least power of two ≥ v (v ≥ 1).
func roundPow2(v uint64) uint64 {
	p := uint64(1)
	for p < v {
		p <<= 1
	}
	return p
}
