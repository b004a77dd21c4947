package engine

import "github.com/lexbench/lexbench/trace"

// Workload is what a workload implements to run on the engine. The engine
// owns the arena; the workload owns the layout of its domains in it and the
// transitions. Deliver is called concurrently by different shards, each with
// messages addressed only to domains of its own contiguous range, so a
// workload's transitions may touch only the state of a message's dst.
type Workload interface {
	// Domains is the number of domains D; ids are 0..D-1.
	Domains() uint32
	// StateWords is the size of the arena in words.
	StateWords() int
	// Init binds the workload to the arena and writes every domain's start
	// state. It is called once, before boot.
	Init(words []uint64)
	// Span is where domain d's canonical fields lie in the arena: words
	// [off, off+n). Spans are back to back in domain-id order.
	Span(d uint32) (off, n int)
	// Boots reports whether domain d boots (receives a Tick from itself at tick 0).
	Boots(d uint32) bool
	// Weight is domain d's expected share of work; the engine cuts the
	// domains into shards of about equal total weight.
	Weight(d uint32) uint64
	// Deliver runs the transitions of msgs, in order. msgs are addressed to
	// domains of one shard; emissions go to out.
	Deliver(out *Outbox, msgs []trace.Entry)
	// Goals evaluates the goals at quiescence; a non-nil error names the
	// violated goal and where.
	Goals() error
}
