package engine

import (
	"errors"
	"fmt"
	"slices"
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
//     closed (an input would have restarted it), so every message it has
//     pending is internal: src and dst in the cell. Those are found in the
//     stream of the shard owning the cell (cuts are aligned to cells), in
//     the run of its srcs.
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
	*cellLayout
	lastInput []uint32 // per cell: stamp (tick+1) of its latest input tick, marked a tick early
	act       []uint64 // per cell: stamp<<actShift | index into its owner shard's acts
	recv      []uint32 // per domain: stamp of its latest internal receipt, marked a tick early
	watch     []uint32 // per cell: index+1 of its record in recs, 0 if not watched
	recs      []cellRec
	free      []uint32 // indexes of free records
	watched   []uint32 // cells with a record
	dampedAt  []uint32 // per cell, damp only: stamp of its latest damp tick
	damped    uint64   // distinct cells damped
	hits      []uint32 // cells oscillating at the current boundary
	found     *Oscillation
	event     CellEvent
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
	r, c    uint64
	n       uint32        // messages pending at c
	fp      uint64        // their fingerprint
	touched []uint32      // domains that received since c, in order of first receipt
	words   []uint64      // their states at c, spans back to back
	msgs    []trace.Entry // messages pending at c, ≺ order; Tick is due tick − c
}

func (L *localDet) init(r *run, on bool) error {
	L.on, L.damp = on, r.cfg.Damp
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

// markInputsShared is markInputs when several shards may mark one cell.
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

// isCheckpointAfter reports whether t is a checkpoint r + 2^k − 1.
func isCheckpointAfter(t, r uint64) bool {
	x := t - r
	return x&(x+1) == 0
}

// check runs at boundary t (after quiescence and budgets) and reports
// whether the run halts there. Under damp it drops the damped cells'
// messages of tick t.
func (L *localDet) check(r *run, t uint64) bool {
	ts := uint32(t + 1)
	x := slot(t)
	for _, k := range L.watched {
		if uint32(L.act[k]>>actShift) != ts {
			L.release(k) // idle, or only inputs pending: its search ends or restarts
		}
	}
	L.watched = L.watched[:0]
	L.hits = L.hits[:0]
	for _, sh := range r.shards {
		for i := range sh.acts {
			a := &sh.acts[i]
			k := a.cell
			if L.lastInput[k] == ts {
				L.release(k) // an input tick: the search restarts after it
				continue
			}
			if L.dampedAt != nil && L.lastInput[k] < L.dampedAt[k] {
				continue // damped and silent until its next input tick
			}
			w := L.watch[k]
			if w == 0 {
				// The first boundary after an input (or boot): a checkpoint.
				rec := L.alloc(k)
				if t > 0 {
					rec.r = t - 1
				}
				L.save(r, rec, t, x, a)
			} else {
				rec := &L.recs[w-1]
				if a.n == rec.n && a.fp == rec.fp || r.cfg.forceCandidate {
					L.candidates++
					if L.confirm(r, rec, x) {
						L.hits = append(L.hits, k)
						continue
					}
				}
				if isCheckpointAfter(t, rec.r) {
					L.save(r, rec, t, x, a)
				}
			}
			L.watched = append(L.watched, k)
		}
	}
	if len(L.hits) > 0 && L.oscillate(r, t, x) {
		return true
	}
	L.copyOnReceipt(r)
	return false
}

func (L *localDet) alloc(k uint32) *cellRec {
	var i uint32
	if n := len(L.free); n > 0 {
		i = L.free[n-1]
		L.free = L.free[:n-1]
	} else {
		L.recs = append(L.recs, cellRec{})
		i = uint32(len(L.recs) - 1)
	}
	L.watch[k] = i + 1
	rec := &L.recs[i]
	rec.cell, rec.r = k, 0
	return rec
}

func (L *localDet) release(k uint32) {
	if w := L.watch[k]; w != 0 {
		L.watch[k] = 0
		L.free = append(L.free, w-1)
	}
}

// cellSrcs is the run of the stream of tick slot x holding the messages
// whose src is in cell k (the stream of the shard owning k, in ≺ order).
func (r *run) cellSrcs(k uint32, x int) []trace.Entry {
	lo, hi := r.loc.starts[k], r.loc.starts[k+1]
	sh := r.shards[0]
	if len(r.shards) > 1 {
		sh = r.shards[r.shardOf(lo)]
	}
	es := sh.stream[x]
	i, j := srcIndex(es, lo), srcIndex(es, hi)
	return es[i:j]
}

// srcIndex is the index of the first message of es (in src order) whose src
// is at least d.
func srcIndex(es []trace.Entry, d uint32) int {
	i, j := 0, len(es)
	for i < j {
		h := int(uint(i+j) >> 1)
		if es[h].Src < d {
			i = h + 1
		} else {
			j = h
		}
	}
	return i
}

// save makes t the record's checkpoint: C_K(t) is its pending messages now
// and the states of its domains, copied as they receive (copyOnReceipt).
func (L *localDet) save(r *run, rec *cellRec, t uint64, x int, a *cellAct) {
	rec.c, rec.n, rec.fp = t, a.n, a.fp
	rec.touched, rec.words, rec.msgs = rec.touched[:0], rec.words[:0], rec.msgs[:0]
	lo, hi := L.starts[rec.cell], L.starts[rec.cell+1]
	for _, e := range r.cellSrcs(rec.cell, x) {
		if e.Dst >= lo && e.Dst < hi {
			e.Tick = 0 // due tick − t
			rec.msgs = append(rec.msgs, e)
		}
	}
}

// confirm compares C_K of the current boundary with the record's saved
// C_K(c): the states of the domains that received since c (the others are
// unchanged), then the pending messages in ≺ order.
func (L *localDet) confirm(r *run, rec *cellRec, x int) bool {
	off := 0
	for _, d := range rec.touched {
		o, n := r.wl.Span(d)
		if !sameState(r.proj, d, r.words[o:o+n], rec.words[off:off+n]) {
			return false
		}
		off += n
	}
	lo, hi := L.starts[rec.cell], L.starts[rec.cell+1]
	i := 0
	es := r.cellSrcs(rec.cell, x)
	for k := range es {
		e := &es[k]
		if e.Dst < lo || e.Dst >= hi {
			continue
		}
		if i == len(rec.msgs) || rec.msgs[i].Tick != 0 || !sameMsg(e, &rec.msgs[i]) {
			return false
		}
		i++
	}
	return i == len(rec.msgs)
}

// copyOnReceipt saves, for every watched cell, the state of each domain
// about to receive its first message since the cell's checkpoint.
func (L *localDet) copyOnReceipt(r *run) {
	for _, sh := range r.shards {
		for _, m := range sh.recvs {
			w := L.watch[L.of[m.d]]
			if w == 0 {
				continue
			}
			rec := &L.recs[w-1]
			if uint64(m.prev) > rec.c {
				continue // received at or after c already: copied then
			}
			o, n := r.wl.Span(m.d)
			rec.touched = append(rec.touched, m.d)
			rec.words = append(rec.words, r.words[o:o+n]...)
		}
	}
}

// oscillate reports the cells oscillating at boundary t (L.hits) and
// reports whether the run halts; under damp it damps them instead.
func (L *localDet) oscillate(r *run, t uint64, x int) (halt bool) {
	slices.Sort(L.hits)
	if L.found == nil {
		rec := &L.recs[L.watch[L.hits[0]]-1]
		L.found = &Oscillation{Tick: t, Period: t - rec.c, Domains: uint64(len(rec.touched))}
	}
	for _, k := range L.hits {
		L.report(r, k, t)
	}
	if !L.damp {
		L.found.Cells = uint64(len(L.hits))
		return true
	}
	stamp := uint32(t + 1)
	for _, k := range L.hits {
		if L.dampedAt[k] == 0 {
			L.damped++
		}
		L.dampedAt[k] = stamp
		L.release(k)
	}
	L.found.Cells = L.damped
	r.dropDamped(stamp, x)
	return false
}

// report passes cell k's oscillation at t to Config.OnCell.
func (L *localDet) report(r *run, k uint32, t uint64) {
	if r.cfg.OnCell == nil {
		return
	}
	rec := &L.recs[L.watch[k]-1]
	ev := &L.event
	ev.Cell, ev.First, ev.End = k, L.starts[k], L.starts[k+1]
	ev.Tick, ev.Period, ev.Damped = t, t-rec.c, L.damp
	ev.Domains = append(ev.Domains[:0], rec.touched...)
	slices.Sort(ev.Domains)
	r.cfg.OnCell(ev)
}

// dropDamped drops, from the messages of tick slot x, every message whose
// src and dst are both in a cell damped at this boundary (SPEC §5.7).
func (r *run) dropDamped(stamp uint32, x int) {
	L := &r.loc
	n := 0
	for p, sh := range r.shards {
		es := sh.stream[x]
		j := 0
		for i := range es {
			e := &es[i]
			if k := L.of[e.Src]; L.dampedAt[k] == stamp && L.of[e.Dst] == k {
				continue
			}
			es[j] = *e
			j++
		}
		r.dropped += uint64(len(es) - j)
		sh.stream[x] = es[:j]
		r.spans(sh, x)
		r.base[p] = n
		n += j
	}
	r.base[len(r.shards)] = n
	r.n = n
}

// checkpoint fills cp's detector fields with the local detector's state,
// in canonical form: cells ascending, each search's touched domains
// ascending with their saved states in that order (a record keeps them in
// order of first receipt, which no result depends on).
func (L *localDet) checkpoint(r *run, cp *Checkpoint) {
	cp.Local, cp.Detect, cp.Found = true, true, L.found
	cp.SavedTick, cp.NextCheck = 0, 0
	cp.Touched, cp.SavedWords, cp.SavedMsgs = cp.Touched[:0], cp.SavedWords[:0], cp.SavedMsgs[:0]
	cp.Damped = cp.Damped[:0]
	for k, at := range L.dampedAt {
		if at != 0 {
			cp.Damped = append(cp.Damped, CellDamp{Cell: uint32(k), Silent: L.lastInput[k] < at, Tick: uint64(at - 1)})
		}
	}
	slices.Sort(L.watched) // no result depends on the list's order
	n := len(L.watched)
	if cap(cp.Watched) < n {
		cp.Watched = append(cp.Watched[:cap(cp.Watched)], make([]CellSearch, n-cap(cp.Watched))...)
	}
	cp.Watched = cp.Watched[:n]
	for i, k := range L.watched {
		rec := &L.recs[L.watch[k]-1]
		cs := &cp.Watched[i]
		cs.Cell, cs.R, cs.C = k, rec.r, rec.c
		cs.Touched = append(cs.Touched[:0], rec.touched...)
		slices.Sort(cs.Touched)
		cs.Words = cs.Words[:0]
		for _, d := range cs.Touched {
			off := 0
			for _, e := range rec.touched {
				_, n := r.wl.Span(e)
				if e == d {
					cs.Words = append(cs.Words, rec.words[off:off+n]...)
					break
				}
				off += n
			}
		}
		cs.Msgs = append(cs.Msgs[:0], rec.msgs...)
	}
}

// checkRestore checks the local detector's fields of cp against w.
func checkRestoreLocal(w Workload, cp *Checkpoint) error {
	if len(cp.Touched)+len(cp.SavedWords)+len(cp.SavedMsgs) != 0 || cp.SavedTick != 0 || cp.NextCheck != 0 {
		return errors.New("checkpoint of a local detector has global detector state")
	}
	if !cp.Detect {
		return errors.New("checkpoint of a local detector that does not run")
	}
	cl, err := newCellLayout(w, w.Domains())
	if err != nil {
		return err
	}
	cells := cl.cells()
	if (cp.Found == nil) != (len(cp.Damped) == 0) || cp.Found != nil && (cp.Found.Cells != uint64(len(cp.Damped)) || cp.Found.Tick > cp.Tick) {
		return errors.New("checkpoint's found cycle does not match its damped cells")
	}
	for i, cd := range cp.Damped {
		if cd.Cell >= cells || i > 0 && cd.Cell <= cp.Damped[i-1].Cell || cd.Tick > cp.Tick || cd.Tick < cp.Found.Tick {
			return fmt.Errorf("checkpoint's damped cell %d (tick %d) is out of order or range", cd.Cell, cd.Tick)
		}
	}
	for i := range cp.Watched {
		cs := &cp.Watched[i]
		if cs.Cell >= cells || i > 0 && cs.Cell <= cp.Watched[i-1].Cell {
			return fmt.Errorf("checkpoint's watched cell %d is out of order or range", cs.Cell)
		}
		lo, hi := cl.starts[cs.Cell], cl.starts[cs.Cell+1]
		if cs.C > cp.Tick || cs.R > cs.C || !isCheckpointAfter(cs.C, cs.R) || len(cs.Msgs) == 0 {
			return fmt.Errorf("checkpoint's search of cell %d (r %d, c %d) does not fit tick %d", cs.Cell, cs.R, cs.C, cp.Tick)
		}
		words := 0
		for j, d := range cs.Touched {
			if d < lo || d >= hi || j > 0 && d <= cs.Touched[j-1] {
				return fmt.Errorf("checkpoint's search of cell %d: touched domains are not ascending domains of the cell", cs.Cell)
			}
			_, n := w.Span(d)
			words += n
		}
		if words != len(cs.Words) {
			return fmt.Errorf("checkpoint's search of cell %d has %d saved words, want %d", cs.Cell, len(cs.Words), words)
		}
		for j := range cs.Msgs {
			e := &cs.Msgs[j]
			if e.Src < lo || e.Src >= hi || e.Dst < lo || e.Dst >= hi || e.Tick != 0 || e.Flags != 0 ||
				j > 0 && e.Src < cs.Msgs[j-1].Src {
				return fmt.Errorf("checkpoint's search of cell %d: message %d is not an internal message in ≺ order", cs.Cell, j)
			}
		}
	}
	return nil
}

// restore sets the local detector to cp's (checked by checkRestoreLocal).
// The marks the next boundary reads are rebuilt: the input ticks of cp.Tick
// from its pending messages, the receipts since each search's checkpoint
// from its touched domains.
func (L *localDet) restore(r *run, cp *Checkpoint) {
	ts := uint32(cp.Tick + 1)
	for i := range cp.Pending {
		e := &cp.Pending[i]
		if k := L.of[e.Dst]; k != L.of[e.Src] {
			L.lastInput[k] = ts
		}
	}
	if cp.Found != nil {
		f := *cp.Found
		L.found = &f
	}
	for _, cd := range cp.Damped {
		L.dampedAt[cd.Cell] = uint32(cd.Tick + 1)
		if !cd.Silent {
			L.lastInput[cd.Cell] = max(L.lastInput[cd.Cell], uint32(cd.Tick+2))
		}
	}
	L.damped = uint64(len(cp.Damped))
	for i := range cp.Watched {
		cs := &cp.Watched[i]
		rec := L.alloc(cs.Cell)
		rec.r, rec.c = cs.R, cs.C
		rec.touched = append(rec.touched[:0], cs.Touched...)
		rec.words = append(rec.words[:0], cs.Words...)
		rec.msgs = append(rec.msgs[:0], cs.Msgs...)
		rec.n, rec.fp = uint32(len(rec.msgs)), 0
		for j := range rec.msgs {
			rec.fp += msgHash(rec.msgs[j].Tick, &rec.msgs[j])
		}
		for _, d := range rec.touched {
			L.recv[d] = uint32(rec.c + 1)
		}
		L.watched = append(L.watched, cs.Cell)
	}
}
