package engine

import "github.com/lexbench/lexbench/trace"

// The methods in this file let a workload that wraps another see what the
// wrapped workload's transitions did, without a change to the engine's hot
// path: replicated execution (package replica) records the transitions of
// a run's input domains in a publisher and re-emits them in every replica.

// Len is the number of messages emitted into o so far during the current
// tick by this shard: a mark for Since.
func (o *Outbox) Len() int { return len(o.buf) }

// Since returns the messages emitted into o since mark (an earlier Len of
// the same tick), in emission order, as the engine will order them (their
// Tick is the tick they are due at). The slice is valid until the next
// Emit or Reserve.
func (o *Outbox) Since(mark int) []trace.Entry { return o.buf[mark:] }

// Faulted returns the error a transition passed to Fault during the
// Deliver call in progress, and the index it gave; err is nil if none did.
func (o *Outbox) Faulted() (i int, err error) { return o.faultAt, o.fault }

// MoveFault changes the index of the fault reported during the Deliver call
// in progress to i. A workload that hands a sub-slice msgs[k:] of its own
// msgs to another workload's Deliver, which faults at j, moves the fault
// to k+j: the engine picks the first fault of a tick in ≺ order by that
// index, so it must be one of the msgs the engine passed.
func (o *Outbox) MoveFault(i int) {
	if o.fault != nil {
		o.faultAt = i
	}
}
