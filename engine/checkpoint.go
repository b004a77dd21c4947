package engine

import (
	"errors"
	"fmt"
	"slices"

	"github.com/lexbench/lexbench/trace"
)

// Checkpoint is a run's whole state at a tick boundary, before the tick is
// delivered: enough to continue the run exactly as if it had never
// stopped (same trace, state, outcome, ticks and figures). It is canonical:
// it does not depend on the shard count, so a run checkpointed with one
// shard count continues with any other.
//
// The engine's seq counters are not in it: seq only orders a src's
// messages (SPEC §1), and the pending messages are listed in ≺ order, so
// their order is all a continued run needs: every message emitted after
// the checkpoint has a larger seq than every pending one of its src.
type Checkpoint struct {
	Tick    uint64 // the tick about to be delivered
	Prev    uint64 // hash of the last block (xxhash64(params) if none): the chain head
	Blocks  uint64 // blocks so far
	Entries uint64
	Msgs    uint64
	Dropped uint64
	Faults  FaultCounts // fault decisions so far (SPEC §7)
	// LastCount is the entry count of block Blocks-1 (0 if none), so the
	// last block's header is at the journal's end minus its size.
	LastCount uint32
	LastTick  uint32 // tick of block Blocks-1

	Words []uint64 // the arena
	// Pending is every message of Q in ≺ order (tick, src, seq): first the
	// messages of Tick, then the late ones (SPEC §1), each with its due
	// tick in Entry.Tick and its fault flags in Entry.Flags.
	Pending []trace.Entry

	// Oscillation detector (SPEC §5.6).
	Detect     bool          // the detector still runs
	Found      *Oscillation  // a detected cycle (damp mode goes on after it)
	SavedTick  uint64        // the checkpoint tick c whose configuration is saved
	NextCheck  uint64        // the next checkpoint tick 2^k − 1
	Touched    []uint32      // ascending: domains that received since SavedTick, and the receivers of Tick
	SavedWords []uint64      // the saved state of the Touched domains, their spans back to back; of every domain for a TickEnder
	SavedMsgs  []trace.Entry // the pending messages at SavedTick, as Pending

	// Local detector (SPEC §5.7), when Local: Detect says it runs, Found
	// is its first cycle (Cells is the damped-cell count under damp, which
	// goes on after it), Watched are the cells whose search has a saved
	// configuration and Damped the cells damped so far, both in ascending
	// cell order. The global fields above are then empty.
	// With a TickEnder, Inputs lists every cell's last input tick.
	Local   bool
	Watched []CellSearch
	Damped  []CellDamp
	Inputs  []CellInput

	// Part is set in a partition's checkpoint (partition.go): then Words
	// are its domains' words only, Pending, the detectors' fields and the
	// fault counts are its own, and the chain fields are zero.
	Part *PartCheckpoint
}

// CellInput is a cell's last input tick (SPEC §5.7).
type CellInput struct {
	Cell uint32
	Tick uint64
}

// CellSearch is one watched cell's search (SPEC §5.7) at a checkpoint.
type CellSearch struct {
	Cell    uint32
	R, C    uint64        // its last input tick r (0 if none) and its checkpoint c ≥ r
	Touched []uint32      // its domains that received a message since c, ascending
	Words   []uint64      // their states at c, spans back to back; with a TickEnder, every domain's of the cell
	Msgs    []trace.Entry // its messages pending at c, ≺ order; Tick is the due tick − c
}

// CellDamp is a cell damped during the run (SPEC §5.7).
type CellDamp struct {
	Cell   uint32
	Silent bool   // no input tick since: the cell's search waits for one
	Tick   uint64 // the last boundary it was damped at
}

// Clone returns a deep copy of cp (Config.Snapshot's checkpoint is valid
// only during the call).
func (cp *Checkpoint) Clone() *Checkpoint {
	c := *cp
	c.Words = slices.Clone(cp.Words)
	c.Pending = slices.Clone(cp.Pending)
	c.Touched = slices.Clone(cp.Touched)
	c.SavedWords = slices.Clone(cp.SavedWords)
	c.SavedMsgs = slices.Clone(cp.SavedMsgs)
	c.Damped, c.Inputs, c.Watched = slices.Clone(cp.Damped), slices.Clone(cp.Inputs), slices.Clone(cp.Watched)
	for i := range c.Watched {
		w := &c.Watched[i]
		w.Touched, w.Words, w.Msgs = slices.Clone(w.Touched), slices.Clone(w.Words), slices.Clone(w.Msgs)
	}
	if cp.Found != nil {
		f := *cp.Found
		c.Found = &f
	}
	if cp.Part != nil {
		p := *cp.Part
		p.Cuts, p.Inbound, p.Mirrors, p.Cycle = slices.Clone(p.Cuts), slices.Clone(p.Inbound), slices.Clone(p.Mirrors), slices.Clone(p.Cycle)
		c.Part = &p
	}
	return &c
}

// checkpoint fills cp from the run at the boundary of r.tick (after its
// checks). Buffers of cp are reused.
func (r *run) checkpoint(cp *Checkpoint) {
	cp.Tick, cp.Prev, cp.Blocks, cp.Entries, cp.Msgs, cp.Dropped = r.tick, r.prev, r.blocks, r.entries, r.msgs, r.dropped
	cp.Faults = r.faultCounts()
	cp.LastCount, cp.LastTick = r.lastCount, r.lastTick
	x := slot(r.tick)
	if r.part != nil {
		r.partCheckpoint(cp)
	} else {
		cp.Words = append(cp.Words[:0], r.words...)
		cp.Part = nil
	}
	cp.Pending = cp.Pending[:0]
	for _, sh := range r.own {
		cp.Pending = append(cp.Pending, sh.stream[x]...)
	}
	now := len(cp.Pending)
	cp.Pending = r.appendLateOf(cp.Pending, r.own)
	if r.loc.on {
		r.loc.checkpoint(r, cp)
		return
	}
	cp.Local = false
	det := &r.det
	cp.Detect, cp.Found = det.on, det.found
	cp.SavedTick, cp.NextCheck = det.savedTick, det.checkpoint
	cp.Touched, cp.SavedWords, cp.SavedMsgs = cp.Touched[:0], cp.SavedWords[:0], cp.SavedMsgs[:0]
	if !det.on {
		return
	}
	for _, sh := range r.shards {
		cp.Touched = append(cp.Touched, sh.touched...)
	}
	// With one shard the receivers of this tick are marked already; with
	// more, each shard marks them as it delivers. The union is the same.
	// (A partition's receivers are its own domains.)
	for i := range cp.Pending[:now] {
		if d := cp.Pending[i].Dst; r.part == nil || d >= r.part.lo() && d < r.part.hi() {
			cp.Touched = append(cp.Touched, d)
		}
	}
	if r.part != nil {
		for i := range cp.Part.Inbound {
			cp.Touched = append(cp.Touched, cp.Part.Inbound[i].Dst)
		}
	}
	slices.Sort(cp.Touched)
	cp.Touched = slices.Compact(cp.Touched)
	if r.ender != nil { // EndTick may have changed any domain since SavedTick
		off, end := 0, len(det.saved)
		if r.part != nil {
			off, end = r.rangeWords(r.part.lo(), r.part.hi())
		}
		cp.SavedWords = append(cp.SavedWords, det.saved[off:end]...)
	} else {
		for _, d := range cp.Touched {
			off, n := r.wl.Span(d)
			cp.SavedWords = append(cp.SavedWords, det.saved[off:off+n]...)
		}
	}
	cp.SavedMsgs = append(cp.SavedMsgs, det.savedMsgs...)
	cp.SavedMsgs = append(cp.SavedMsgs, det.savedLate...)
}

// CheckRestore checks that cp fits w (sizes, ids, detector consistency), so
// that a damaged or foreign checkpoint is an error, never a panic or a
// wrong run. Run calls it for Config.Resume. A partition's checkpoint is
// checked by Run against its Config.Partition.
func CheckRestore(w Workload, cp *Checkpoint) error {
	return checkRestore(w, cp, nil)
}

func checkRestore(w Workload, cp *Checkpoint, part *Partition) error {
	d := w.Domains()
	words := w.StateWords()
	if (cp.Part != nil) != (part != nil) {
		return errors.New("checkpoint of a partition for a single process, or the other way round")
	}
	if part != nil {
		if err := checkRestorePart(w, cp, part); err != nil {
			return err
		}
		lo, hi := part.Cuts[part.Index], part.Cuts[part.Index+1]
		words = 0
		if lo < hi {
			off, _ := w.Span(lo)
			o, n := w.Span(hi - 1)
			words = o + n - off
		}
	}
	if len(cp.Words) != words {
		return fmt.Errorf("checkpoint has %d state words, the workload %d", len(cp.Words), words)
	}
	if cp.Tick == 0 || cp.Tick > MaxTick {
		return fmt.Errorf("checkpoint tick %d out of range", cp.Tick)
	}
	if (cp.Blocks == 0) != (cp.LastCount == 0) || cp.LastCount > trace.BlockEntriesMax || cp.Entries < uint64(cp.LastCount) {
		return errors.New("checkpoint's chain counters are inconsistent")
	}
	if err := checkPending(cp.Pending, cp.Tick, d, "pending"); err != nil {
		return err
	}
	if cp.Local {
		return checkRestoreLocal(w, cp)
	}
	if len(cp.Watched)+len(cp.Damped)+len(cp.Inputs) != 0 {
		return errors.New("checkpoint has local detector state but no local detector")
	}
	if !cp.Detect {
		if len(cp.Touched)+len(cp.SavedWords)+len(cp.SavedMsgs) != 0 {
			return errors.New("checkpoint has detector state but no detector")
		}
		return nil
	}
	if cp.Found != nil {
		return errors.New("checkpoint has a running detector and a found cycle")
	}
	if cp.SavedTick > cp.Tick || cp.NextCheck <= cp.Tick || cp.NextCheck&(cp.NextCheck+1) != 0 || cp.SavedTick&(cp.SavedTick+1) != 0 {
		return fmt.Errorf("checkpoint's detector ticks (saved %d, next %d) do not fit tick %d", cp.SavedTick, cp.NextCheck, cp.Tick)
	}
	words = 0
	for i, t := range cp.Touched {
		if t >= d || (i > 0 && t <= cp.Touched[i-1]) {
			return errors.New("checkpoint's touched domains are not ascending domain ids")
		}
		_, n := w.Span(t)
		words += n
	}
	if _, ok := w.(TickEnder); ok {
		words = len(cp.Words)
	}
	if words != len(cp.SavedWords) {
		return fmt.Errorf("checkpoint has %d saved words for its touched domains, want %d", len(cp.SavedWords), words)
	}
	for i := range cp.Pending {
		if uint64(cp.Pending[i].Tick) != cp.Tick {
			break
		}
		if d := cp.Pending[i].Dst; part != nil && (d < part.Cuts[part.Index] || d >= part.Cuts[part.Index+1]) {
			continue // another partition's receiver
		}
		if _, ok := slices.BinarySearch(cp.Touched, cp.Pending[i].Dst); !ok {
			return errors.New("checkpoint's touched domains miss a pending receiver")
		}
	}
	return checkPending(cp.SavedMsgs, cp.SavedTick, d, "saved")
}

// checkPending checks a list of pending messages at tick t: in ≺ order,
// due at t or later (and at most MaxTick), between the d domains, with
// valid flags.
func checkPending(es []trace.Entry, t uint64, d uint32, what string) error {
	for i := range es {
		e := &es[i]
		if e.Src >= d || e.Dst >= d || uint64(e.Tick) < t || e.Flags > trace.FlagsMax {
			return fmt.Errorf("checkpoint's %s message %d is not a message due at tick %d or later between the %d domains", what, i, t, d)
		}
		if i > 0 {
			p := &es[i-1]
			if e.Tick < p.Tick || e.Tick == p.Tick && e.Src < p.Src {
				return fmt.Errorf("checkpoint's %s messages are not in ≺ order at %d", what, i)
			}
		}
	}
	return nil
}

// restore sets the run to cp, in place of boot and the boundary checks of
// cp.Tick (they ran before the checkpoint was taken).
func (r *run) restore(cp *Checkpoint) {
	if r.part != nil {
		r.partRestore(cp)
	} else {
		copy(r.words, cp.Words)
	}
	r.tick, r.prev, r.blocks, r.entries, r.msgs, r.dropped = cp.Tick, cp.Prev, cp.Blocks, cp.Entries, cp.Msgs, cp.Dropped
	r.lastCount, r.lastTick = cp.LastCount, cp.LastTick
	r.fc = cp.Faults
	r.resumed = cp.Tick
	x := slot(cp.Tick)
	now := 0
	for now < len(cp.Pending) && uint64(cp.Pending[now].Tick) == cp.Tick {
		now++
	}
	// All messages of this tick in shard 0's stream: the tick is the
	// concatenation of the streams, so any split of it is the same tick.
	// (A partition's first shard; its remote shards' streams are restored
	// by partRestore.)
	sh0 := r.own[0]
	sh0.stream[x] = append(sh0.stream[x][:0], cp.Pending[:now]...)
	r.spans(sh0, x)
	r.n = 0
	for p, sh := range r.shards {
		r.base[p] = r.n
		r.n += len(sh.stream[x])
	}
	r.base[len(r.shards)] = r.n
	// Late messages go to their src's shard, in list order, so that for a
	// due tick and a src they keep their seq order, before anything the
	// continued run emits.
	for i := now; i < len(cp.Pending); i++ {
		e := cp.Pending[i]
		r.shards[r.shardOf(e.Src)].late.insert(&e, cp.Tick+1)
	}
	if cp.Local {
		r.loc.restore(r, cp)
		return
	}
	det := &r.det
	det.found = cp.Found
	if !cp.Detect {
		det.on = false
		return
	}
	det.savedTick, det.checkpoint = cp.SavedTick, cp.NextCheck
	copy(det.saved, r.words)
	if r.ender != nil {
		off, end := 0, len(det.saved)
		if r.part != nil {
			off, end = r.rangeWords(r.part.lo(), r.part.hi())
		}
		copy(det.saved[off:end], cp.SavedWords)
	}
	k := 0
	for _, d := range cp.Touched {
		if r.ender == nil {
			off, n := r.wl.Span(d)
			copy(det.saved[off:off+n], cp.SavedWords[k:k+n])
			k += n
		}
		det.stamp[d] = det.epoch
		sh := r.shards[r.shardOf(d)]
		sh.touched = append(sh.touched, d)
	}
	now = 0
	for now < len(cp.SavedMsgs) && uint64(cp.SavedMsgs[now].Tick) == cp.SavedTick {
		now++
	}
	det.savedMsgs = append(det.savedMsgs[:0], cp.SavedMsgs[:now]...)
	det.savedLate = append(det.savedLate[:0], cp.SavedMsgs[now:]...)
}
