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

// Celled is implemented by a workload that fixes its cells for local
// oscillation detection (SPEC §5.7): a partition of the domains into
// contiguous id ranges, numbered 0, 1, … in id order, chosen so that a
// feedback loop lies inside one cell. A workload that does not implement
// it has one cell per domain.
type Celled interface {
	// CellOf writes the cell of every domain into cells (len = Domains()):
	// cells[0] = 0 and cells[d+1] is cells[d] or cells[d]+1. The engine
	// checks this (Run returns an error naming the first bad domain).
	CellOf(cells []uint32)
}

// Projector is implemented by a workload whose oscillation detection
// leaves some state words out of the configurations it compares (C(t) of
// SPEC §5.6 and C_K(t) of §5.7): words that can never influence a
// transition — counters that are only updated from themselves and read by
// end-of-run goals and figures (issue 17) — so that a repetition of the
// rest still proves the run never converges. The state hash and snapshots
// always cover every word; only the comparisons skip them.
type Projector interface {
	// Kept is the mask of the words of domain d's span that detection
	// compares: bit i%64 of Kept(d)[i/64] covers word i of the span. nil
	// keeps every word. The result is read, never written or retained
	// beyond the call, so workloads may return one slice per domain type.
	// Its value for a domain is fixed for the run (oscillation detection
	// remembers which of a domain's words differed).
	Kept(d uint32) []uint64
}

// TickDependent is implemented by a workload whose transitions may depend
// on the absolute tick of the message they handle (a program whose
// conditions, emissions or compared fields use `now`). The configurations
// of SPEC §5.6 and §5.7 list pending messages by tick − t, which proves a
// cycle only for transitions that are the same at every tick, so for
// such a workload, as with faults (§5.7), neither detector runs.
type TickDependent interface {
	// TickDependent reports whether detection cannot run (fixed for a
	// workload).
	TickDependent() bool
}
