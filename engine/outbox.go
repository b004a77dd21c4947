package engine

import (
	"fmt"

	"github.com/lexbench/lexbench/trace"
)

// MaxTick is the last tick a run can deliver: ticks are u32 in the journal
// (SPEC §3). A run that would deliver a message at a later tick ends with
// an error wrapping ErrTickRange instead of wrapping around.
const MaxTick = 1<<32 - 1

// Outbox collects the messages a shard's domains emit during one tick. They
// are delivered at the next tick (or, with EmitAt, at a later one); the
// engine orders them by (src, seq), where seq is emission order, so a
// workload only has to emit.
//
// One Outbox belongs to one shard for the whole run: the domains whose
// messages the shard delivers are the contiguous id range [Lo(), Hi()).
//
// The zero Outbox is usable outside a run, e.g. to benchmark a Deliver
// alone: an empty outbox of tick 0 with no in-flight bound; Reset empties
// it again.
type Outbox struct {
	buf     []trace.Entry
	tick    uint32 // tick of delivery of what is emitted now
	next    uint64 // the same as a u64 (2^32 during the last tick a run can deliver)
	late    bool   // EmitAt put a message due after next into buf this tick
	fault   error  // the first Fault or Violate of the call in progress
	faultAt int
	viol    bool // fault came from Violate
	// emitErr is the first bad EmitAt of the least src this tick.
	emitErr    error
	emitErrSrc uint32
	limit      int  // the in-flight bound: buf never holds more
	overflow   bool // buf would have exceeded limit (the Deliver in progress was abandoned)
	lo, hi     uint32

	// Local is the workload's own per-shard value (e.g. an interpreter's
	// scratch space). The engine never reads or writes it; it persists
	// for the whole run. Because a shard's deliveries run on one goroutine
	// at a time, Local needs no locking, but it must not affect what a
	// transition computes in a way that depends on the shard count.
	Local any
}

// Fault reports that the transition of msgs[i], of the Deliver call in
// progress, failed with err (a workload's runtime error, e.g. an
// interpreted program's fault). Deliver should return at once. The engine
// goes on delivering the tick's messages after msgs[i] (in further Deliver
// calls) and finishes the tick, so that what the tick leaves does not
// depend on where the shards are cut (see Violate), then Run returns err
// at the tick's end. When several messages of one tick fault or violate,
// the first in delivery order (≺) wins, whatever the shard count, so the
// error is deterministic too.
//
// During TickEnder.EndTick, i is the id of the domain whose end-of-tick
// work failed; such faults come after every fault or violation of a
// transition in the same tick, the least domain id first.
func (o *Outbox) Fault(i int, err error) {
	if o.fault == nil {
		o.fault, o.faultAt, o.viol = err, i, false
	}
}

// Violate reports that the transition of msgs[i], of the Deliver call in
// progress, broke a property of the program (an interpreted program's
// invariant): the run ends as Violated with Result.Violation = err, at the
// end of the tick. Deliver should return at once; the engine goes on with
// the messages after msgs[i] in further Deliver calls and finishes the
// tick as usual (EndTick, blocks chained and journaled, counters), then
// ends the run at the next boundary t+1: Outcome Violated, no goals
// evaluated, Trace and State those of that boundary, Ticks t+1.
//
// When several transitions of one tick fault or violate, the first in ≺
// order (delivery order) wins, whatever the shard count: a violation ends
// the run as above, a fault makes Run return its error. During
// TickEnder.EndTick, i is the domain id (as for Fault); such reports come
// after every one made during deliveries, the least domain id first. An
// outbox past the in-flight bound in the same tick (its shard's tick
// abandoned) makes Run return that error instead of a violation; an
// emission the engine rejects (a nonexistent dst, a tick out of range)
// comes after the tick's faults and violations.
func (o *Outbox) Violate(i int, err error) {
	if o.fault == nil {
		o.fault, o.faultAt, o.viol = err, i, true
	}
}

// Tick is the tick at which emitted messages are delivered (the current tick + 1).
func (o *Outbox) Tick() uint32 { return o.tick }

// Lo and Hi bound the ids of the shard's domains: [Lo(), Hi()). Deliver
// and EndTick see only messages to, and may emit only from, these domains.
func (o *Outbox) Lo() uint32 { return o.lo }

// Hi is the end (exclusive) of the shard's domain ids; see Lo.
func (o *Outbox) Hi() uint32 { return o.hi }

// Emit sends one message from src (the domain whose transition is running)
// to dst. dst is checked by the engine before delivery.
func (o *Outbox) Emit(src, dst uint32, kind trace.Kind, a, b uint64) {
	n := len(o.buf)
	if n == cap(o.buf) {
		o.grow(1)
	}
	o.buf = o.buf[:n+1]
	e := &o.buf[n] // field stores: no temporary Entry on the stack
	e.Tick, e.Src, e.Dst, e.Kind, e.Flags = o.tick, src, dst, kind, 0
	e.A, e.B = a, b
}

// TryEmit is Emit if the outbox has room for one more message without
// growing, and reports whether it emitted. It calls nothing, so an
// interpreter's inner loop can use it and leave the rare growth (Emit) to
// a slow path.
func (o *Outbox) TryEmit(src, dst uint32, kind trace.Kind, a, b uint64) bool {
	n := len(o.buf)
	if n == cap(o.buf) {
		return false
	}
	o.buf = o.buf[:n+1]
	e := &o.buf[n]
	e.Tick, e.Src, e.Dst, e.Kind, e.Flags = o.tick, src, dst, kind, 0
	e.A, e.B = a, b
	return true
}

// EmitAt sends one message from src to dst to be delivered at tick, which
// must be at least Tick() (the next tick) and at most MaxTick; EmitAt at
// Tick() is Emit. A message due later is a late message (SPEC §1): it is
// the src's next message in seq order like any other emission, so at its
// tick it comes after src's earlier messages due then and before the ones
// src emits later; with faults on (SPEC §7) its emission index counts like
// any other emission's. A tick out of range ends the run with an error at
// the tick's end (wrapping ErrTickRange), reported like an emission to a
// nonexistent domain: for the least src that made either mistake.
func (o *Outbox) EmitAt(src, dst uint32, kind trace.Kind, a, b uint64, tick uint64) {
	if tick != o.next {
		if tick < o.next || tick > MaxTick {
			o.badEmitAt(src, tick)
			return
		}
		o.late = true
	}
	o.Emit(src, dst, kind, a, b)
	o.buf[len(o.buf)-1].Tick = uint32(tick)
}

func (o *Outbox) badEmitAt(src uint32, tick uint64) {
	if o.emitErr != nil && o.emitErrSrc <= src {
		return
	}
	o.emitErrSrc = src
	if tick < o.next {
		o.emitErr = fmt.Errorf("engine: tick %d: domain %d scheduled a message for tick %d, before the next tick %d", o.next-1, src, tick, o.next)
	} else {
		o.emitErr = fmt.Errorf("engine: tick %d: domain %d scheduled a message for tick %d: %w", o.next-1, src, tick, ErrTickRange)
	}
}

// Reserve appends n entries and returns them for the caller to fill
// completely (Tick must be set to o.Tick(), Flags to 0). It is the bulk
// form of Emit for generators.
func (o *Outbox) Reserve(n int) []trace.Entry {
	l := len(o.buf)
	if uint(cap(o.buf)-l) < uint(n) { // a negative n grows, and fails there
		o.grow(n)
	}
	o.buf = o.buf[:l+n]
	return o.buf[l : l+n : l+n]
}

// outboxOverflow is the panic value that abandons a Deliver whose
// emissions exceed the in-flight bound; the engine recovers it.
type outboxOverflow struct{}

func (o *Outbox) grow(n int) {
	limit := o.limit
	if limit == 0 {
		limit = InFlightMax // the zero Outbox
	}
	if n < 0 || n > limit-len(o.buf) {
		// More messages than may ever be in flight: abandon the
		// transition instead of running out of memory (recovered in
		// run.deliver; the run ends with ErrInFlight).
		o.overflow = true
		panic(outboxOverflow{})
	}
	nb := make([]trace.Entry, len(o.buf), min(2*cap(o.buf)+n, limit))
	copy(nb, o.buf)
	o.buf = nb
}

// recoverOverflow, deferred around calls into the workload, stops the
// panic of an outbox overflow (and no other).
func (o *Outbox) recoverOverflow() {
	if o.overflow {
		_ = recover()
	}
}

// Reset empties o, keeping its buffer, for a Deliver called outside a run
// (the engine empties its outboxes itself; Reset must not be called during
// a run).
func (o *Outbox) Reset() {
	o.buf, o.late = o.buf[:0], false
	o.fault, o.emitErr, o.overflow = nil, nil, false
}

// begin prepares the outbox for the emissions of the tick before next.
func (o *Outbox) begin(next uint64, buf []trace.Entry) {
	o.next, o.tick, o.buf, o.late = next, uint32(next), buf, false
}
