package main

import (
	"runtime"
	"sync"
	"sync/atomic"
)

// disruptor: an LMAX Disruptor written the way its technical paper
// (Thompson et al., 2011) describes it, for one producer and one consumer
// per ring:
//
//   - a pre-allocated ring of entries whose size is a power of two, so a
//     sequence maps to its slot with a mask; entries are written in place,
//     never allocated per message;
//   - the producer is the only writer of its ring: it claims a run of
//     sequences (waiting until the consumer's sequence shows the slots are
//     free), fills the entries, then publishes them all with one store of
//     its cursor (batch publish);
//   - the consumer waits on a sequence barrier for the cursor to pass the
//     sequence it needs, then processes everything published so far (the
//     paper's batching effect) and stores its own sequence once per batch;
//   - each sequence sits alone on its cache line(s), so the producer's
//     cursor and the consumer's sequence never share a line.
//
// The wait strategy spins briefly and then yields (the paper's
// YieldingWaitStrategy): this machine has 2 vCPUs, so a consumer that only
// spun could starve its producer.

// cacheLine is padded generously (two 64-byte lines: adjacent-line
// prefetch pairs them).
const cacheLine = 128

// disruptorSlots is each ring's entry count; a power of two.
const disruptorSlots = 1 << 14

// publishMax bounds a claim, so the consumer starts on a batch while the
// producer fills the next one.
const publishMax = disruptorSlots / 8

// spinsBeforeYield is how often a waiter re-reads a sequence before it
// yields its vCPU.
const spinsBeforeYield = 64

// sequence is a counter of entries (published, or consumed) alone on its
// cache lines.
type sequence struct {
	_ [cacheLine]byte
	v atomic.Uint64
	_ [cacheLine - 8]byte
}

// ring is one producer's Disruptor ring with its one consumer.
type ring[T any] struct {
	entries []T
	mask    uint64
	// cursor counts the entries published. The producer's Store happens
	// after it wrote them (Go's atomics are sequentially consistent, so the
	// store is a release), and the consumer reads entries only below a
	// cursor it has Loaded (an acquire): it sees them fully written.
	cursor sequence
	// consumed counts the entries the consumer has finished with. The
	// producer reuses a slot only below consumed+len(entries): by then the
	// consumer's reads of it happened before its Store.
	consumed sequence
}

func newRing[T any]() *ring[T] {
	if disruptorSlots&(disruptorSlots-1) != 0 {
		panic("disruptor: ring slots not a power of two")
	}
	return &ring[T]{entries: make([]T, disruptorSlots), mask: disruptorSlots - 1}
}

// producerSide is the ring's single writer; its fields are its own.
type producerSide[T any] struct {
	r        *ring[T]
	next     uint64 // the next sequence to claim
	freeUpTo uint64 // cached bound: sequences below it are free to write
}

// claim returns up to n ≥ 1 free entries starting at the next sequence,
// contiguous in the ring, waiting for the consumer if the ring is full.
func (p *producerSide[T]) claim(n uint64) []T {
	size := uint64(len(p.r.entries))
	n = min(n, publishMax, size-(p.next&p.r.mask)) // stop at the ring's end
	if p.next+n > p.freeUpTo {
		for spins := 0; ; spins++ {
			p.freeUpTo = p.r.consumed.v.Load() + size
			if p.next+n <= p.freeUpTo {
				break
			}
			if spins >= spinsBeforeYield {
				runtime.Gosched()
			}
		}
	}
	i := p.next & p.r.mask
	return p.r.entries[i : i+n]
}

// publish makes the first n claimed entries visible to the consumer.
func (p *producerSide[T]) publish(n uint64) {
	p.next += n
	p.r.cursor.v.Store(p.next)
}

// consumerSide reads one ring through its sequence barrier.
type consumerSide[T any] struct {
	r         *ring[T]
	next      uint64 // the next sequence to read
	available uint64 // cached cursor: sequences below it are published
}

// waitFor returns the published entries from the next sequence on, at
// least one and at most want, contiguous in the ring.
func (c *consumerSide[T]) waitFor(want uint64) []T {
	if c.next >= c.available {
		for spins := 0; ; spins++ {
			c.available = c.r.cursor.v.Load()
			if c.next < c.available {
				break
			}
			if spins >= spinsBeforeYield {
				runtime.Gosched()
			}
		}
	}
	size := uint64(len(c.r.entries))
	i := c.next & c.r.mask
	n := min(want, c.available-c.next, size-i)
	return c.r.entries[i : i+n]
}

// release returns n read entries to the producer.
func (c *consumerSide[T]) release(n uint64) {
	c.next += n
	c.r.consumed.v.Store(c.next)
}

// bankEntry is a Transfer in the ring: its bank (0-based) and payload.
type bankEntry struct{ bank, a, b uint64 }

// bankingDisruptor: the driver (this goroutine) is the producer; one
// consumer goroutine owns all banks (the paper's single business logic
// processor). One writer and FIFO order, so the result is deterministic.
func bankingDisruptor(c *config) result {
	A := c.accounts
	g := newBankGen(c)
	banks := newBanks(c.banks, A)
	r := newRing[bankEntry]()
	var wg sync.WaitGroup
	wg.Add(1)
	go func() {
		defer wg.Done()
		cs := consumerSide[bankEntry]{r: r}
		for left := c.n; left > 0; {
			es := cs.waitFor(left)
			for i := range es {
				e := &es[i]
				applyTransfer(banks[e.bank*(A+2):], A, e.a, e.b)
			}
			cs.release(uint64(len(es)))
			left -= uint64(len(es))
		}
	}()
	ps := producerSide[bankEntry]{r: r}
	for k := g.tick(c.batch); k > 0; k = g.tick(c.batch) { // one Tick each
		for k > 0 {
			es := ps.claim(k)
			for i := range es {
				e := &es[i]
				e.bank, e.a, e.b = g.next()
			}
			ps.publish(uint64(len(es)))
			k -= uint64(len(es))
		}
	}
	wg.Wait()
	return bankingResult(c, g.remaining, g.rng, banks, 0, false)
}

// dataEntry is a Data in the ring: its consumer (0-based) and payload.
type dataEntry struct{ ci, a, b uint64 }

// stormDisruptor: each producer is a goroutine with its own ring (one
// writer per ring); one consumer goroutine (this one) owns all consumers
// and reads the rings in delivery order — each tick producer 0's batch,
// then producer 1's, … — so the result is deterministic.
func stormDisruptor(c *config) result {
	ps, cs := newProducers(c), make([]consumer, c.consumers)
	g := newStormGen(c)
	rem := make([]uint64, len(ps))
	rings := make([]*ring[dataEntry], len(ps))
	var wg sync.WaitGroup
	for i := range ps {
		rem[i] = ps[i].remaining
		rings[i] = newRing[dataEntry]()
		wg.Add(1)
		go func(p *producer, r *ring[dataEntry]) {
			defer wg.Done()
			w := producerSide[dataEntry]{r: r}
			for k := tickShare(&p.remaining, c.batch); k > 0; k = tickShare(&p.remaining, c.batch) {
				for k > 0 {
					es := w.claim(k)
					for j := range es {
						e := &es[j]
						e.ci, e.a, e.b = g.next(p)
					}
					w.publish(uint64(len(es)))
					k -= uint64(len(es))
				}
			}
		}(&ps[i], rings[i])
	}
	readers := make([]consumerSide[dataEntry], len(ps))
	for i := range readers {
		readers[i].r = rings[i]
	}
	for active := true; active; {
		active = false
		for i := range readers {
			k := tickShare(&rem[i], c.batch)
			active = active || rem[i] > 0
			for k > 0 {
				es := readers[i].waitFor(k)
				for j := range es {
					e := &es[j]
					cs[e.ci].receive(e.a, e.b)
				}
				readers[i].release(uint64(len(es)))
				k -= uint64(len(es))
			}
		}
	}
	wg.Wait()
	return stormResult(c, ps, cs, 0, false)
}
