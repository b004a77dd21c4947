package engine

import "github.com/lexbench/lexbench/trace"

// FaultKind is what the fault layer did to a network message (SPEC §7).
type FaultKind uint8

// Fault kinds, in the order of SPEC §7's thresholds.
const (
	FaultDropped    FaultKind = 1 + iota // never delivered, not journaled
	FaultDuplicated                      // delivered on time, and a copy At ticks later (journal flags 2)
	FaultDelayed                         // delivered At instead of Tick (journal flags 1)
)

var faultKindNames = [...]string{"", "dropped", "duplicated", "delayed"}

func (k FaultKind) String() string {
	if int(k) < len(faultKindNames) && k != 0 {
		return faultKindNames[k]
	}
	return "unknown"
}

// FaultEvent is one fault decision of SPEC §7 that faulted a message: the
// message as it was emitted, the tick it was due at without the fault,
// what happened to it and, for a delay or a duplicate, the tick at which
// the late message (the delayed one, or the copy) is delivered.
type FaultEvent struct {
	Tick     uint64 // the tick the message was due at without the fault (the next tick, or the tick a program scheduled it for)
	Src, Dst uint32
	Kind     trace.Kind
	A, B     uint64
	// Index is i of SPEC §7: the message's place among the messages Src
	// emitted during the tick it was emitted in (0-based, emission order).
	Index uint64
	Fault FaultKind
	At    uint64 // FaultDelayed, FaultDuplicated: the late message's delivery tick; 0 for FaultDropped
}

// recordFault keeps the decision for Config.OnFault (only called when it
// is set): m is the faulted message, i its emission index, due the tick
// it was due at and at the late message's tick.
func (sh *shard) recordFault(m *trace.Entry, i uint64, due uint64, f FaultKind, at uint64) {
	sh.faultLog = append(sh.faultLog, FaultEvent{Tick: due, Src: m.Src, Dst: m.Dst, Kind: m.Kind, A: m.A, B: m.B,
		Index: i, Fault: f, At: at})
}

// srcRun finds emission indexes in a shard's ≺-ordered emissions es for
// the observer: start is the first index of the src run last looked up.
type srcRun struct{ start int }

// index is es[k]'s place among its src's emissions; the ks asked for
// ascend, so the walks back cost O(len(es)) per tick in all.
func (c *srcRun) index(es []trace.Entry, k int) uint64 {
	src := es[k].Src
	if c.start < 0 || c.start > k || es[c.start].Src != src {
		c.start = k
		for c.start > 0 && es[c.start-1].Src == src {
			c.start--
		}
	}
	return uint64(k - c.start)
}

// reportFaults hands the fault decisions made for the coming boundary to
// Config.OnFault, shard by shard: the shards own ascending src ranges and
// each decides in ≺ order, so this is emission order (src, then seq)
// whatever the shard count.
func (r *run) reportFaults() {
	for _, sh := range r.shards {
		for i := range sh.faultLog {
			r.cfg.OnFault(&sh.faultLog[i])
		}
		sh.faultLog = sh.faultLog[:0]
	}
}
