package main

import (
	"sync"

	"github.com/Workiva/go-datastructures/queue"
)

// workiva: the chan mode's structure with github.com/Workiva/go-datastructures
// queue.RingBuffer (a lock-free MPMC ring after Vyukov's bounded queue) in
// place of each channel. Put and Get take interface{} values, so each
// message is boxed, as a user of that API would write it; a full Put and an
// empty Get yield the processor (runtime.Gosched) and retry.

// workivaSlots is each RingBuffer's capacity, chan mode's default buffer.
const workivaSlots = 1024

// bankingWorkiva: the driver (this goroutine) Puts each transfer on its
// bank's RingBuffer; each bank is a goroutine that Gets them. One writer per
// ring and FIFO order, so the result is deterministic. A nil item ends a
// bank.
func bankingWorkiva(c *config) result {
	K, A := c.banks, c.accounts
	g := newBankGen(c)
	banks := newBanks(K, A)
	qs := make([]*queue.RingBuffer, K)
	var wg sync.WaitGroup
	for k := range qs {
		qs[k] = queue.NewRingBuffer(workivaSlots)
		wg.Add(1)
		go func(q *queue.RingBuffer, s []uint64) {
			defer wg.Done()
			for {
				it, err := q.Get()
				if err != nil {
					panic("workiva: Get: " + err.Error())
				}
				if it == nil {
					return
				}
				m := it.(transferMsg)
				applyTransfer(s, A, m.a, m.b)
			}
		}(qs[k], banks[uint64(k)*(A+2):uint64(k+1)*(A+2)])
	}
	for k := g.tick(c.batch); k > 0; k = g.tick(c.batch) {
		for ; k > 0; k-- {
			bank, a, b := g.next()
			if err := qs[bank].Put(transferMsg{a, b}); err != nil {
				panic("workiva: Put: " + err.Error())
			}
		}
	}
	for _, q := range qs {
		if err := q.Put(nil); err != nil {
			panic("workiva: Put: " + err.Error())
		}
	}
	wg.Wait()
	return bankingResult(c, g.remaining, g.rng, banks, 0, false)
}

// stormWorkiva: each producer is a goroutine Putting its Data on its own
// RingBuffer; this goroutine owns all consumers and Gets in delivery order
// (each tick producer 0's batch, then producer 1's, …), so the result is
// deterministic.
func stormWorkiva(c *config) result {
	ps, cs := newProducers(c), make([]consumer, c.consumers)
	g := newStormGen(c)
	rem := make([]uint64, len(ps))
	qs := make([]*queue.RingBuffer, len(ps))
	var wg sync.WaitGroup
	for i := range ps {
		rem[i] = ps[i].remaining
		qs[i] = queue.NewRingBuffer(workivaSlots)
		wg.Add(1)
		go func(p *producer, q *queue.RingBuffer) {
			defer wg.Done()
			for k := tickShare(&p.remaining, c.batch); k > 0; k = tickShare(&p.remaining, c.batch) {
				for ; k > 0; k-- {
					ci, a, b := g.next(p)
					if err := q.Put(dataMsg{ci, a, b}); err != nil {
						panic("workiva: Put: " + err.Error())
					}
				}
			}
		}(&ps[i], qs[i])
	}
	for active := true; active; {
		active = false
		for i, q := range qs {
			k := tickShare(&rem[i], c.batch)
			active = active || rem[i] > 0
			for ; k > 0; k-- {
				it, err := q.Get()
				if err != nil {
					panic("workiva: Get: " + err.Error())
				}
				m := it.(dataMsg)
				cs[m.dst].receive(m.a, m.b)
			}
		}
	}
	wg.Wait()
	return stormResult(c, ps, cs, 0, false)
}
