package engine

import (
	"errors"
	"fmt"
	"slices"

	"github.com/lexbench/lexbench/trace"
)

// This file is the local detector's work at a tick boundary (SPEC §5.7):
// which cells are visited, their Brent search, damp, and checkpoints.

// isCheckpointAfter reports whether t is a checkpoint r + 2^k − 1.
func isCheckpointAfter(t, r uint64) bool {
	x := t - r
	return x&(x+1) == 0
}

// check runs at boundary t (after quiescence and budgets) and reports
// whether the run halts there. Under damp it drops the damped cells'
// messages.
//
// The cells visited are those with an internal message pending: due at t
// (marked by scan) or late (from the late queues). Only they can
// oscillate at t: a cell whose pending messages all come from outside and
// are due later cannot repeat an earlier configuration of its current
// search, since those messages were pending then too (an outside message
// due in between would have been an input), one tick closer now.
func (L *localDet) check(r *run, t uint64) bool {
	ts := uint32(t + 1)
	x := slot(t)
	L.gatherLate(r)
	L.hits = L.hits[:0]
	// Watched cells that will not be visited (idle, or only inputs
	// pending) end or restart their search first, so that their records
	// are free for the cells visited now. With a TickEnder an idle cell
	// can act again without an input: its saved configuration stays
	// matchable until its next checkpoint (where it has nothing pending).
	next := L.next[:0]
	for _, k := range L.watched {
		if uint32(L.act[k]>>actShift) == ts || L.hasInternalLate(k) {
			continue // visited below
		}
		if rec := &L.recs[L.watch[k]-1]; L.full && L.lastInput[k] != ts && rec.valid && !isCheckpointAfter(t, rec.r) {
			next = append(next, k)
			continue
		}
		L.release(k)
	}
	for _, sh := range r.shards {
		for i := range sh.acts {
			a := &sh.acts[i]
			lo, hi := L.lateOf(a.cell)
			next = L.visit(r, t, x, a.cell, a.n, a.fp, lo, hi, next)
		}
	}
	for i := 0; i < len(L.lateKeys); {
		k := uint32(L.lateKeys[i] >> 32)
		j, internal := i, false
		for ; j < len(L.lateKeys) && uint32(L.lateKeys[j]>>32) == k; j++ {
			e := &L.late[uint32(L.lateKeys[j])]
			internal = internal || L.of[e.Src] == k
		}
		if internal && uint32(L.act[k]>>actShift) != ts {
			next = L.visit(r, t, x, k, 0, 0, i, j, next)
		}
		i = j
	}
	L.watched, L.next = next, L.watched
	if len(L.hits) > 0 && L.oscillate(r, t) {
		return true
	}
	if !L.full {
		L.copyOnReceipt(r)
	}
	return false
}

// hasInternalLate reports whether cell k has a late message from one of
// its own domains pending (gatherLate's list).
func (L *localDet) hasInternalLate(k uint32) bool {
	lo, hi := L.lateOf(k)
	for _, key := range L.lateKeys[lo:hi] {
		if L.of[L.late[uint32(key)].Src] == k {
			return true
		}
	}
	return false
}

// gatherLate lists the pending late messages (≺ order) and indexes them
// by the cell of their dst: lateKeys holds cell<<32 | index, ascending, so
// each cell's late messages are a run in ≺ order.
func (L *localDet) gatherLate(r *run) {
	L.late, L.lateKeys = L.late[:0], L.lateKeys[:0]
	if r.pendingLate() == 0 {
		return
	}
	L.late = r.appendLate(L.late)
	for i := range L.late {
		L.lateKeys = append(L.lateKeys, uint64(L.of[L.late[i].Dst])<<32|uint64(i))
	}
	slices.Sort(L.lateKeys)
}

// lateOf is the run of lateKeys of cell k's late messages.
func (L *localDet) lateOf(k uint32) (lo, hi int) {
	if len(L.lateKeys) == 0 {
		return 0, 0
	}
	lo, _ = slices.BinarySearch(L.lateKeys, uint64(k)<<32)
	hi, _ = slices.BinarySearch(L.lateKeys, uint64(k+1)<<32)
	return lo, hi
}

// visit runs cell k's search at boundary t. n and fp count and fingerprint
// its internal messages due at t; lateKeys[lo:hi] are its late ones. It
// returns next with k appended if k is watched after the visit.
func (L *localDet) visit(r *run, t uint64, x int, k uint32, n uint32, fp uint64, lo, hi int, next []uint32) []uint32 {
	ts := uint32(t + 1)
	if L.lastInput[k] == ts {
		L.release(k) // an input tick: the search restarts after it
		return next
	}
	if L.dampedAt != nil && L.lastInput[k] < L.dampedAt[k] {
		return next // damped and silent until its next input tick
	}
	for _, key := range L.lateKeys[lo:hi] {
		e := &L.late[uint32(key)]
		n++
		fp += msgHash(e.Tick-uint32(t), e)
	}
	var rec *cellRec
	if w := L.watch[k]; w == 0 {
		// No search yet since the last input (or boot). Without a
		// TickEnder this is the boundary right after the input, a
		// checkpoint; with one, an idle cell may have acted, and until
		// its next checkpoint no saved configuration can match.
		rec = L.alloc(r, k)
		if li := L.lastInput[k]; li > 0 {
			rec.r = uint64(li - 1)
		}
	} else {
		rec = &L.recs[w-1]
		if rec.valid && (n == rec.n && fp == rec.fp || r.cfg.forceCandidate) {
			L.candidates++
			if L.confirm(r, rec, t, x, lo, hi) {
				L.hits = append(L.hits, k)
				return next
			}
		}
	}
	if isCheckpointAfter(t, rec.r) {
		L.save(r, rec, t, x, n, fp, lo, hi)
	}
	return append(next, k)
}

// alloc gives cell k a record: a free one (its buffers are reused), else
// a new one whose buffers fit the cell (one allocation each).
func (L *localDet) alloc(r *run, k uint32) *cellRec {
	var i uint32
	if n := len(L.free); n > 0 {
		i = L.free[n-1]
		L.free = L.free[:n-1]
	} else {
		off, end := r.cellWords(k)
		L.recs = append(L.recs, cellRec{
			touched: make([]uint32, 0, L.starts[k+1]-L.starts[k]),
			words:   make([]uint64, 0, end-off),
			msgs:    make([]trace.Entry, 0, 4),
		})
		i = uint32(len(L.recs) - 1)
	}
	L.watch[k] = i + 1
	rec := &L.recs[i]
	rec.cell, rec.r, rec.valid = k, 0, false
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

// cellWords is where cell k's domains lie in the arena: their spans are
// back to back in id order.
func (r *run) cellWords(k uint32) (off, end int) {
	L := &r.loc
	off, _ = r.wl.Span(L.starts[k])
	o, n := r.wl.Span(L.starts[k+1] - 1)
	return off, o + n
}

// save makes t the record's checkpoint: C_K(t) is its pending messages now
// (n of them, fingerprint fp) and its states: copied now with a TickEnder,
// else as its domains receive (copyOnReceipt).
func (L *localDet) save(r *run, rec *cellRec, t uint64, x int, n uint32, fp uint64, lo, hi int) {
	rec.c, rec.n, rec.fp, rec.valid = t, n, fp, true
	rec.touched, rec.words, rec.msgs = rec.touched[:0], rec.words[:0], rec.msgs[:0]
	first, end := L.starts[rec.cell], L.starts[rec.cell+1]
	for _, e := range r.cellSrcs(rec.cell, x) {
		if e.Dst >= first && e.Dst < end {
			e.Tick = 0 // due tick − t
			rec.msgs = append(rec.msgs, e)
		}
	}
	for _, key := range L.lateKeys[lo:hi] {
		e := L.late[uint32(key)]
		e.Tick -= uint32(t)
		rec.msgs = append(rec.msgs, e)
	}
	if L.full {
		off, end := r.cellWords(rec.cell)
		rec.words = append(rec.words, r.words[off:end]...)
	}
}

// confirm compares C_K(t) with the record's saved C_K(c): the states (of
// every domain of the cell with a TickEnder, else of those that received
// since c: the others are unchanged), then the pending messages in ≺
// order by relative tick.
func (L *localDet) confirm(r *run, rec *cellRec, t uint64, x int, lo, hi int) bool {
	first, end := L.starts[rec.cell], L.starts[rec.cell+1]
	off := 0
	if L.full {
		for d := first; d < end; d++ {
			o, n := r.wl.Span(d)
			if !sameState(r.proj, d, r.words[o:o+n], rec.words[off:off+n]) {
				return false
			}
			off += n
		}
	} else {
		for _, d := range rec.touched {
			o, n := r.wl.Span(d)
			if !sameState(r.proj, d, r.words[o:o+n], rec.words[off:off+n]) {
				return false
			}
			off += n
		}
	}
	i := 0
	es := r.cellSrcs(rec.cell, x)
	for k := range es {
		e := &es[k]
		if e.Dst < first || e.Dst >= end {
			continue
		}
		if i == len(rec.msgs) || rec.msgs[i].Tick != 0 || !sameMsg(e, &rec.msgs[i]) {
			return false
		}
		i++
	}
	for _, key := range L.lateKeys[lo:hi] {
		e := &L.late[uint32(key)]
		if i == len(rec.msgs) || uint64(rec.msgs[i].Tick) != uint64(e.Tick)-t || !sameMsg(e, &rec.msgs[i]) {
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
			if !rec.valid || uint64(m.prev) > rec.c {
				continue // no checkpoint yet, or received at or after c already: copied then
			}
			o, n := r.wl.Span(m.d)
			rec.touched = append(rec.touched, m.d)
			rec.words = append(rec.words, r.words[o:o+n]...)
		}
	}
}

// receivers appends to dst the domains of the record's cell that received
// a message since its checkpoint c, ascending.
func (L *localDet) receivers(dst []uint32, rec *cellRec) []uint32 {
	start := len(dst)
	if !L.full {
		dst = append(dst, rec.touched...)
		slices.Sort(dst[start:])
		return dst
	}
	for d := L.starts[rec.cell]; d < L.starts[rec.cell+1]; d++ {
		if uint64(L.recv[d]) > rec.c {
			dst = append(dst, d)
		}
	}
	return dst
}

// oscillate reports the cells oscillating at boundary t (L.hits) and
// reports whether the run halts; under damp it damps them instead.
func (L *localDet) oscillate(r *run, t uint64) (halt bool) {
	slices.Sort(L.hits)
	ev := &L.event
	for i, k := range L.hits {
		rec := &L.recs[L.watch[k]-1]
		ev.Cell, ev.First, ev.End = k, L.starts[k], L.starts[k+1]
		ev.Tick, ev.Period, ev.Damped = t, t-rec.c, L.damp
		ev.Domains = L.receivers(ev.Domains[:0], rec)
		if i == 0 && L.found == nil {
			L.found = &Oscillation{Tick: t, Period: ev.Period, Domains: uint64(len(ev.Domains))}
			L.foundCell = k
		}
		if r.cfg.OnCell != nil {
			r.cfg.OnCell(ev)
		}
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
	// Every pending message whose src and dst are both in a cell damped
	// now, late ones included.
	r.dropPending(func(r *run, e *trace.Entry) bool {
		L := &r.loc
		k := L.of[e.Src]
		return L.of[e.Dst] == k && L.dampedAt[k] == uint32(r.tick+1)
	})
	return false
}

// checkpoint fills cp's detector fields with the local detector's state,
// in canonical form: cells ascending, each search's receivers ascending
// with (without a TickEnder) their saved states in that order (a record
// keeps them in order of first receipt, which no result depends on).
// Searches waiting for their first checkpoint are left out: resuming
// recreates them from the cell's last input tick, which a TickEnder's
// checkpoint lists for every cell (without one, such searches only exist
// at the boundary right after an input, which the pending messages show).
func (L *localDet) checkpoint(r *run, cp *Checkpoint) {
	cp.Local, cp.Detect, cp.Found = true, true, L.found
	cp.SavedTick, cp.NextCheck = 0, 0
	cp.Touched, cp.SavedWords, cp.SavedMsgs = cp.Touched[:0], cp.SavedWords[:0], cp.SavedMsgs[:0]
	cp.Damped, cp.Inputs = cp.Damped[:0], cp.Inputs[:0]
	for k, at := range L.dampedAt {
		if at != 0 {
			cp.Damped = append(cp.Damped, CellDamp{Cell: uint32(k), Silent: L.lastInput[k] < at, Tick: uint64(at - 1)})
		}
	}
	if L.full {
		for k, li := range L.lastInput {
			if li != 0 && r.ownsCell(uint32(k)) {
				cp.Inputs = append(cp.Inputs, CellInput{Cell: uint32(k), Tick: uint64(li - 1)})
			}
		}
	}
	slices.Sort(L.watched) // no result depends on the list's order
	cp.Watched = cp.Watched[:0]
	for _, k := range L.watched {
		rec := &L.recs[L.watch[k]-1]
		if !rec.valid {
			continue
		}
		if len(cp.Watched) < cap(cp.Watched) {
			cp.Watched = cp.Watched[:len(cp.Watched)+1]
		} else {
			cp.Watched = append(cp.Watched, CellSearch{})
		}
		cs := &cp.Watched[len(cp.Watched)-1]
		cs.Cell, cs.R, cs.C = k, rec.r, rec.c
		cs.Touched = L.receivers(cs.Touched[:0], rec)
		cs.Words = cs.Words[:0]
		if L.full {
			cs.Words = append(cs.Words, rec.words...)
		} else {
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
		}
		cs.Msgs = append(cs.Msgs[:0], rec.msgs...)
	}
}

// checkRestoreLocal checks the local detector's fields of cp against w.
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
	_, full := w.(TickEnder)
	cells := cl.cells()
	if (cp.Found == nil) != (len(cp.Damped) == 0) || cp.Found != nil && (cp.Found.Cells != uint64(len(cp.Damped)) || cp.Found.Tick > cp.Tick) {
		return errors.New("checkpoint's found cycle does not match its damped cells")
	}
	for i, cd := range cp.Damped {
		if cd.Cell >= cells || i > 0 && cd.Cell <= cp.Damped[i-1].Cell || cd.Tick > cp.Tick || cd.Tick < cp.Found.Tick {
			return fmt.Errorf("checkpoint's damped cell %d (tick %d) is out of order or range", cd.Cell, cd.Tick)
		}
	}
	if !full && len(cp.Inputs) != 0 {
		return errors.New("checkpoint lists input ticks, which only a TickEnder's has")
	}
	for i, in := range cp.Inputs {
		if in.Cell >= cells || i > 0 && in.Cell <= cp.Inputs[i-1].Cell || in.Tick > cp.Tick {
			return fmt.Errorf("checkpoint's input tick of cell %d (tick %d) is out of order or range", in.Cell, in.Tick)
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
		if full {
			words = 0
			for d := lo; d < hi; d++ {
				_, n := w.Span(d)
				words += n
			}
		}
		if words != len(cs.Words) {
			return fmt.Errorf("checkpoint's search of cell %d has %d saved words, want %d", cs.Cell, len(cs.Words), words)
		}
		internal := false
		for j := range cs.Msgs {
			e := &cs.Msgs[j]
			inCell := e.Src >= lo && e.Src < hi
			internal = internal || inCell
			if e.Src >= w.Domains() || e.Dst < lo || e.Dst >= hi || e.Tick == 0 && !inCell || uint64(e.Tick)+cs.C > MaxTick ||
				e.Flags != 0 || j > 0 && (e.Tick < cs.Msgs[j-1].Tick || e.Tick == cs.Msgs[j-1].Tick && e.Src < cs.Msgs[j-1].Src) {
				return fmt.Errorf("checkpoint's search of cell %d: message %d is not a pending message of the cell in ≺ order", cs.Cell, j)
			}
		}
		if !internal {
			return fmt.Errorf("checkpoint's search of cell %d has no internal message", cs.Cell)
		}
	}
	return nil
}

// restore sets the local detector to cp's (checked by checkRestoreLocal).
// The marks the next boundary reads are rebuilt: the input ticks from
// cp.Inputs and the messages due at cp.Tick, the receipts since each
// search's checkpoint from its touched domains.
func (L *localDet) restore(r *run, cp *Checkpoint) {
	for _, in := range cp.Inputs {
		L.lastInput[in.Cell] = uint32(in.Tick + 1)
	}
	ts := uint32(cp.Tick + 1)
	for i := range cp.Pending {
		e := &cp.Pending[i]
		if uint64(e.Tick) != cp.Tick {
			break
		}
		if k := L.of[e.Dst]; k != L.of[e.Src] {
			L.lastInput[k] = ts
		}
	}
	if cp.Part != nil { // messages from other partitions: inputs
		for i := range cp.Part.Inbound {
			L.lastInput[L.of[cp.Part.Inbound[i].Dst]] = ts
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
		rec := L.alloc(r, cs.Cell)
		rec.r, rec.c, rec.valid = cs.R, cs.C, true
		rec.touched = rec.touched[:0]
		if !L.full {
			rec.touched = append(rec.touched, cs.Touched...)
		}
		rec.words = append(rec.words[:0], cs.Words...)
		rec.msgs = append(rec.msgs[:0], cs.Msgs...)
		rec.n, rec.fp = uint32(len(rec.msgs)), 0
		for j := range rec.msgs {
			rec.fp += msgHash(rec.msgs[j].Tick, &rec.msgs[j])
		}
		for _, d := range cs.Touched {
			L.recv[d] = uint32(rec.c + 1)
		}
		L.watched = append(L.watched, cs.Cell)
	}
}
