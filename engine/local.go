package engine

import (
	"sync/atomic"

	"github.com/lexbench/lexbench/trace"
)

// Local oscillation detection (SPEC §5.7) runs Brent's search per cell,
// restarted after every input tick of the cell (a tick at which a message
// from outside the cell is due to it). Cell K oscillates at h if h > r_K(h),
// a message to K is pending at h, and C_K(h) = C_K(c_K(h)), where r_K(h) is
// K's last input tick and c_K(h) its last checkpoint r + 2^k − 1 below h.
//
// What the spec's definition allows the engine to skip, and why the result
// is still exactly the spec's:
//
//   - A cell with no message pending cannot oscillate, and its next message
//     can only come from outside (its domains emit only when they receive),
//     which restarts its search. So an idle cell needs nothing: no saved
//     configuration, no work per tick.
//   - The configuration saved at an input tick holds the outside message
//     and can never be matched (a later tick holding it would be an input
//     tick itself), so nothing is saved there. After an input at r the
//     first useful checkpoint is r+1, and the cell is then watched: it has
//     a record (cellRec) until it next goes idle, receives an input, or is
//     damped. At boot (r = 0, no input) checkpoint 0 is useful and saved.
//   - Between its checkpoint c and a later boundary a watched cell is
//     closed (an input would have restarted it), so every message due to
//     it is internal: src and dst in the cell. Those are found in the
//     stream of the shard owning the cell (cuts are aligned to cells), in
//     the run of its srcs. Late messages pending to it (SPEC §1: a
//     program's timer) are listed from the late queues at the boundaries
//     where there are any, and compared by relative tick.
//   - With a TickEnder (end-of-tick work, which may change a domain that
//     received nothing and emit without receiving) the first two points
//     fail: the engine then saves and compares every domain of a cell,
//     keeps an idle cell's search until its next checkpoint, and starts a
//     search where a cell acts, from its last input tick.
//
// Costs:
//
//   - Per message, in the pass that checks a shard's outbox anyway: the
//     cell of its dst (an array load, skipped for consecutive messages of
//     one src to one dst). A message from outside marks the cell's input
//     tick (one store). An internal message adds its hash to the cell's
//     fingerprint for the next tick (a commutative sum, so emission order
//     does not matter) and marks its receiver.
//   - Per boundary: each cell with internal messages pending compares its
//     fingerprint (count and sum) with its saved one; only a match is
//     confirmed by comparing states and messages, so a collision costs
//     time, never a false report.
//   - Saved state is copied on receipt: at a checkpoint c the record keeps
//     only c's messages; a domain's state is copied the first time it
//     receives after c (at the boundary before it is delivered, when it
//     still holds its state of c). The domains that never receive are
//     unchanged, so they need neither a copy nor a comparison, and the
//     copied ones are exactly the spec's `domains` of a detected cycle.
//     Memory: one record per watched cell, holding one saved configuration
//     (its receivers' states and its messages), reused when freed.
type localDet struct {
	on, damp bool
	full     bool // the workload is a TickEnder: save and compare whole cells
	*cellLayout
	lastInput []uint32 // per cell: stamp (tick+1) of its latest input tick, marked a tick early
	act       []uint64 // per cell: stamp<<actShift | index into its owner shard's acts
	recv      []uint32 // per domain: stamp of its latest internal receipt, marked a tick early
	watch     []uint32 // per cell: index+1 of its record in recs, 0 if not watched
	recs      []cellRec
	free      []uint32      // indexes of free records
	watched   []uint32      // cells with a record
	next      []uint32      // the next boundary's watched, being built
	late      []trace.Entry // the pending late messages, ≺ order (at a boundary)
	lateKeys  []uint64      // cell<<32 | index into late, ascending
	dampedAt  []uint32      // per cell, damp only: stamp of its latest damp tick
	damped    uint64        // distinct cells damped
	hits      []uint32      // cells oscillating at the current boundary
	found     *Oscillation
	foundCell uint32    // the cell of found (the lowest oscillating at its boundary)
	event     CellEvent // reused for Config.OnCell
	// candidates counts fingerprint matches, confirmed or not (tests).
	candidates int
}

const (
	actShift = 31
	actIndex = 1<<actShift - 1
	noCell   = ^uint32(0)
)

// cellAct is a cell with internal messages due at the tick being marked.
type cellAct struct {
	cell uint32
	n    uint32 // internal messages
	fp   uint64 // sum of their msgHash
}

// recvMark is a domain's first internal receipt in the tick being marked,
// with the stamp of its previous one.
type recvMark struct{ d, prev uint32 }

// cellRec is a watched cell's search: its restart tick r, its checkpoint c
// and the configuration C_K(c) as far as it can still differ.
type cellRec struct {
	cell    uint32
	valid   bool // c is set: a checkpoint was reached since r
	r, c    uint64
	n       uint32        // messages pending at c
	fp      uint64        // their fingerprint
	touched []uint32      // domains that received since c, in order of first receipt (copy on receipt)
	words   []uint64      // their states at c, spans back to back (with a TickEnder: every domain's)
	msgs    []trace.Entry // messages pending at c, ≺ order; Tick is due tick − c
}

func (L *localDet) init(r *run, on bool) error {
	L.on, L.damp, L.full = on, r.cfg.Damp, r.ender != nil
	if !on {
		return nil
	}
	c, err := newCellLayout(r.wl, r.d)
	if err != nil {
		return err
	}
	L.cellLayout = c
	n := c.cells()
	L.lastInput = make([]uint32, n)
	L.act = make([]uint64, n)
	L.watch = make([]uint32, n)
	L.recv = make([]uint32, r.d)
	if L.damp {
		L.dampedAt = make([]uint32, n)
	}
	return nil
}

// msgHash is a message's contribution to a cell's fingerprint; rel is its
// due tick minus the boundary's.
func msgHash(rel uint32, e *trace.Entry) uint64 {
	h := (uint64(e.Src)<<32|uint64(e.Dst))*0x9E3779B97F4A7C15 ^
		e.A*0xBF58476D1CE4E5B9 ^ e.B*0x94D049BB133111EB ^
		(uint64(e.Kind)|uint64(rel)<<16)*0xD6E8FEB86659FD93
	return h ^ h>>29
}

// scan is finishOutput's pass over a shard's outbox es (emission order) in
// local mode: it checks every dst (bad is the index of the first faulty
// emission of the least src, or -1; unsorted reports whether es is not in
// src order) and marks, for the tick es is delivered at, the input ticks
// of cells and the fingerprints and receivers of internal messages. With
// more than one shard, input marks of one cell may come from several
// shards (atomically); everything else is written by the cell's owner.
//
// A domain's emissions are consecutive in es, so the loop runs per src
// with few live variables; internal messages, rare outside fights, take a
// call.
func (L *localDet) scan(sh *shard, es []trace.Entry, nd uint32, shared bool) (unsorted bool, bad int) {
	of, li := L.of[:nd], L.lastInput
	stamp := sh.out.tick + 1
	sh.acts, sh.recvs = sh.acts[:0], sh.recvs[:0]
	bad = -1
	last := uint32(0)
	for i := 0; i < len(es); {
		src := es[i].Src
		unsorted = unsorted || src < last
		last = src
		sc := noCell
		if src < nd {
			sc = of[src]
		}
		lastDst := ^uint32(0)
		j := i
		for {
			if shared {
				j, lastDst = markInputsShared(es, j, src, sc, lastDst, of, li, stamp)
			} else {
				j, lastDst = markInputs(es, j, src, sc, lastDst, of, li, stamp)
			}
			if j == len(es) || es[j].Src != src {
				break
			}
			if d := es[j].Dst; d >= nd {
				if bad < 0 || src < es[bad].Src {
					bad = j // the first of the least src: its place in ≺ order
				}
				j++
				continue
			}
			// An internal message, and the rest of the run to its dst.
			d := es[j].Dst
			for ; j < len(es) && es[j].Src == src && es[j].Dst == d; j++ {
				L.internal(sh, &es[j], stamp)
			}
		}
		i = j
	}
	return unsorted, bad
}

// markInputs marks the input ticks of the messages es[j:] of src (in cell
// sc) whose dst is in another cell, up to the end of src's run, a dst out
// of range or an internal message, and returns where it stopped. It is a
// leaf function, not inlined, so that its loop stays in registers.
//
//go:noinline
func markInputs(es []trace.Entry, j int, src, sc, lastDst uint32, of, li []uint32, stamp uint32) (int, uint32) {
	for ; j < len(es); j++ {
		e := &es[j]
		d := e.Dst
		if e.Src != src {
			break
		}
		if d == lastDst {
			continue
		}
		if d >= uint32(len(of)) {
			break
		}
		kd := of[d]
		if kd == sc {
			break
		}
		lastDst = d
		li[kd] = stamp
	}
	return j, lastDst
}

// markInputsShared is markInputs when several shards may mark one cell: a
// loop of its own, so that the one-shard loop pays no atomic operation.
//
//go:noinline
func markInputsShared(es []trace.Entry, j int, src, sc, lastDst uint32, of, li []uint32, stamp uint32) (int, uint32) {
	for ; j < len(es); j++ {
		e := &es[j]
		d := e.Dst
		if e.Src != src {
			break
		}
		if d == lastDst {
			continue
		}
		if d >= uint32(len(of)) {
			break
		}
		kd := of[d]
		if kd == sc {
			break
		}
		lastDst = d
		if atomic.LoadUint32(&li[kd]) != stamp {
			atomic.StoreUint32(&li[kd], stamp)
		}
	}
	return j, lastDst
}

// internal marks an internal message e, delivered at the tick of stamp: it
// adds e to its cell's fingerprint and marks its receiver's first receipt.
func (L *localDet) internal(sh *shard, e *trace.Entry, stamp uint32) {
	d := e.Dst
	if p := L.recv[d]; p != stamp {
		sh.recvs = append(sh.recvs, recvMark{d, p})
		L.recv[d] = stamp
	}
	k := L.of[d]
	a := L.act[k]
	j := a & actIndex
	if uint32(a>>actShift) != stamp {
		j = uint64(len(sh.acts))
		sh.acts = append(sh.acts, cellAct{cell: k})
		L.act[k] = uint64(stamp)<<actShift | j
	}
	c := &sh.acts[j]
	c.n++
	c.fp += msgHash(0, e)
}
