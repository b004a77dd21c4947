package engine

import "github.com/lexbench/lexbench/trace"

// Outbox collects the messages a shard's domains emit during one tick. They
// are delivered at the next tick; the engine orders them by (src, seq), where
// seq is emission order, so a workload only has to emit.
type Outbox struct {
	buf     []trace.Entry
	tick    uint32 // tick of delivery of what is emitted now
	fault   error
	faultAt int
}

// Fault reports that the transition of msgs[i], of the Deliver call in
// progress, failed with err (a workload's runtime error, e.g. an
// interpreted program's fault). Deliver should return at once; the engine
// delivers nothing more and Run returns err at the tick's end. When several
// messages of one tick fault, the run reports the first in delivery order
// (≺), whatever the shard count, so the error is deterministic too.
func (o *Outbox) Fault(i int, err error) {
	if o.fault == nil {
		o.fault, o.faultAt = err, i
	}
}

// Tick is the tick at which emitted messages are delivered (the current tick + 1).
func (o *Outbox) Tick() uint32 { return o.tick }

// Emit sends one message from src (the domain whose transition is running)
// to dst. dst is checked by the engine before delivery.
func (o *Outbox) Emit(src, dst uint32, kind trace.Kind, a, b uint64) {
	n := len(o.buf)
	if n == cap(o.buf) {
		o.grow(1)
	}
	o.buf = o.buf[:n+1]
	e := &o.buf[n] // field stores: no temporary Entry on the stack
	e.Tick, e.Src, e.Dst, e.Kind, e.Reserved = o.tick, src, dst, kind, 0
	e.A, e.B = a, b
}

// Reserve appends n entries and returns them for the caller to fill
// completely (Tick must be set to o.Tick(), Reserved to 0). It is the bulk
// form of Emit for generators.
func (o *Outbox) Reserve(n int) []trace.Entry {
	l := len(o.buf)
	if cap(o.buf)-l < n {
		o.grow(n)
	}
	o.buf = o.buf[:l+n]
	return o.buf[l : l+n : l+n]
}

func (o *Outbox) grow(n int) {
	nb := make([]trace.Entry, len(o.buf), 2*cap(o.buf)+n)
	copy(nb, o.buf)
	o.buf = nb
}
