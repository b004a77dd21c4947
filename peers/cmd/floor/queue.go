package main

// queue: the natural single-threaded actor loop. Every message, Ticks
// included, goes through one FIFO; one loop pops the oldest message and
// dispatches it to its domain, which may push more. For banking and storm
// FIFO order is exactly SPEC's ≺ order (a tick's messages are pushed, in
// (src, seq) order, while the previous tick's are popped), so the result is
// deterministic and equals lexbench's.

// message is one message in flight: its destination domain, kind and
// payload.
type message struct {
	dst, kind uint32
	a, b      uint64
}

// fifo is a ring of messages with a fixed, power-of-two slot count (the
// workload's in-flight bound, rounded up).
type fifo struct {
	slots      []message
	mask       uint64
	head, tail uint64 // popped, pushed
}

func newFIFO(inFlightMax uint64) *fifo {
	n := roundPow2(inFlightMax)
	if n&(n-1) != 0 {
		panic("queue: fifo slots not a power of two")
	}
	return &fifo{slots: make([]message, n), mask: n - 1}
}

func (q *fifo) push(m message) {
	if q.tail-q.head == uint64(len(q.slots)) {
		panic("queue: fifo full: more messages in flight than the workload's bound")
	}
	q.slots[q.tail&q.mask] = m
	q.tail++
}

func (q *fifo) empty() bool { return q.head == q.tail }

func (q *fifo) pop() message {
	m := q.slots[q.head&q.mask]
	q.head++
	return m
}

// bankingQueue: domain 0 the driver, 1..K the banks.
func bankingQueue(c *config) result {
	A := c.accounts
	g := newBankGen(c)
	banks := newBanks(c.banks, A)
	q := newFIFO(c.batch + 1) // the driver's batch and its Tick (SPEC §5.1)
	q.push(message{dst: 0, kind: kindTick})
	var delivered uint64
	for !q.empty() {
		m := q.pop()
		delivered++
		if m.dst == 0 { // the driver's Tick
			for k := g.tick(c.batch); k > 0; k-- {
				bank, a, b := g.next()
				q.push(message{dst: uint32(1 + bank), kind: kindTransfer, a: a, b: b})
			}
			if g.remaining > 0 {
				q.push(message{dst: 0, kind: kindTick})
			}
			continue
		}
		k := uint64(m.dst - 1)
		applyTransfer(banks[k*(A+2):], A, m.a, m.b)
	}
	r := bankingResult(c, g.remaining, g.rng, banks, 0, false)
	r.msgs = delivered // counted, not computed: the check against loop's count means something
	return r
}

// stormQueue: domains 0..P-1 the producers, P..P+C-1 the consumers.
func stormQueue(c *config) result {
	ps, cs := newProducers(c), make([]consumer, c.consumers)
	g := newStormGen(c)
	P := uint32(c.producers)
	q := newFIFO(c.producers * (c.batch + 1)) // SPEC §5.2's in-flight bound
	for p := uint32(0); p < P; p++ {
		q.push(message{dst: p, kind: kindTick})
	}
	var delivered uint64
	for !q.empty() {
		m := q.pop()
		delivered++
		if m.dst < P { // producer m.dst's Tick
			p := &ps[m.dst]
			for k := tickShare(&p.remaining, c.batch); k > 0; k-- {
				ci, a, b := g.next(p)
				q.push(message{dst: P + uint32(ci), kind: kindData, a: a, b: b})
			}
			if p.remaining > 0 {
				q.push(message{dst: m.dst, kind: kindTick})
			}
			continue
		}
		cs[m.dst-P].receive(m.a, m.b)
	}
	r := stormResult(c, ps, cs, 0, false)
	r.msgs = delivered
	return r
}
