package engine

import (
	"math"
	"slices"

	"github.com/lexbench/lexbench/trace"
)

// Oscillation detection (SPEC §5.6) is Brent's cycle search over the tick
// configurations C(t) = (every domain's state, the pending messages: those
// of tick t, then the late ones, each with its tick relative to t).
// Checkpoints are the ticks 2^k − 1; at every boundary t > 0 the engine asks
// whether C(t) equals the saved C(c(t)).
//
// What it costs and why it is exact:
//
//   - Per message: one load and compare of the receiving domain's epoch
//     stamp (skipped when consecutive messages share a receiver). A domain
//     whose stamp is stale is appended to its shard's touched list. Touched
//     domains are exactly those that received a message since the
//     checkpoint, which is both what the comparison must look at (a domain
//     that received nothing since the checkpoint has its checkpoint state)
//     and the `domains` figure of a detected cycle.
//   - Per boundary: a fingerprint — the tick's message count and its first,
//     middle and last messages (src, dst, kind, a, b) against the saved
//     tick's — rejects almost every tick in O(1). Only a candidate that
//     passes is confirmed by a full comparison: every message of the tick,
//     then the state of every touched domain against the saved copy. So a
//     fingerprint collision costs time, never a false cycle.
//   - Per checkpoint (about log2 of the ticks run): the saved state is
//     brought up to date by copying only the touched domains (the others
//     are unchanged since the last save), and the tick's messages are
//     copied. Memory is one copy of the arena plus one tick of messages,
//     proportional to the configuration, not to the number of ticks.
//
// The detector runs in the serial section of the tick barrier; the stamps
// are written by the shard that owns the domain, so shards share nothing.
type detector struct {
	on         bool
	stamp      []uint32 // per domain: epoch of its last receipt
	epoch      uint32
	checkpoint uint64 // next checkpoint tick
	savedTick  uint64
	saved      []uint64      // arena at the saved checkpoint
	savedMsgs  []trace.Entry // messages of the saved checkpoint tick
	savedLate  []trace.Entry // late messages pending then, in ≺ order (late.go)
	found      *Oscillation
	// candidates counts fingerprint matches, confirmed or not (tests).
	candidates int
	// the span of the last domain whose state candidate sampled (d+1)
	spanD uint32
	// spanDiff is the index in that span of a word detection compares
	// that differed from its saved copy when candidate last compared the
	// span (spanN: none); a uint32 in spanD's padding, so that the run's
	// layout is the same as without it
	spanDiff       uint32
	spanOff, spanN int
}

func (det *detector) init(r *run, on bool) {
	det.on = on
	if !on {
		return
	}
	det.stamp = zeroed(det.stamp, int(r.d)) // kept buffers (Buffers) or new
	det.epoch = 1
	det.saved = zeroed(det.saved, len(r.words))
}

// mark stamps the receivers of msgs.
func (sh *shard) mark(stamp []uint32, epoch uint32, msgs []trace.Entry) {
	last := ^uint32(0)
	for i := range msgs {
		d := msgs[i].Dst
		if d == last {
			continue
		}
		last = d
		if stamp[d] != epoch {
			stamp[d] = epoch
			sh.touched = append(sh.touched, d)
		}
	}
}

// check runs at boundary t (after quiescence and budgets) and reports
// whether the run oscillates at t.
func (det *detector) check(r *run, t uint64) bool {
	if t > 0 && r.part != nil {
		// A partition compared its part before the round (partEqual).
		if equal, domains := r.part.allEqual(); equal {
			det.found = &Oscillation{Tick: t, Period: t - det.savedTick, Domains: domains}
			det.on = false
			r.partCycle()
			return true
		}
	} else if t > 0 && det.candidate(r, t) {
		det.candidates++
		if det.confirm(r, t) {
			domains := 0
			for _, sh := range r.shards {
				domains += len(sh.touched)
			}
			det.found = &Oscillation{Tick: t, Period: t - det.savedTick, Domains: uint64(domains)}
			det.on = false // detection runs once per run
			return true
		}
	}
	if t == det.checkpoint {
		det.save(r, t)
		det.checkpoint = 2*t + 1
	}
	return false
}

// msgAt is message i of the current tick.
func (r *run) msgAt(i int) *trace.Entry {
	x := slot(r.tick)
	for p, sh := range r.shards {
		if i < r.base[p+1] {
			return &sh.stream[x][i-r.base[p]]
		}
	}
	panic("engine: message index out of range")
}

func sameMsg(a, b *trace.Entry) bool {
	return a.Src == b.Src && a.Dst == b.Dst && a.Kind == b.Kind && a.A == b.A && a.B == b.B
}

func (det *detector) candidate(r *run, t uint64) bool {
	if r.cfg.forceCandidate {
		return true
	}
	n := r.n
	if n != len(det.savedMsgs) || r.pendingLate() != len(det.savedLate) {
		return false
	}
	if n == 0 { // nothing due at t, only late messages: confirm compares them
		return true
	}
	first := r.msgAt(0)
	if !sameMsg(first, &det.savedMsgs[0]) ||
		n > 1 && !sameMsg(r.msgAt(n-1), &det.savedMsgs[n-1]) ||
		n > 2 && !sameMsg(r.msgAt(n/2), &det.savedMsgs[n/2]) {
		return false
	}
	// The same messages again (a domain that sends itself the same
	// message every tick, as a goal-directed one does): the state of the
	// first message's receiver against its saved copy rejects the tick in
	// O(its span) — saved holds every domain's state at the checkpoint
	// (save) — before confirm compares everything.
	d := first.Dst
	if det.spanD != d+1 {
		det.spanD = d + 1
		det.spanOff, det.spanN = r.wl.Span(d)
		det.spanDiff = uint32(min(det.spanN, math.MaxUint32))
	}
	off, k := det.spanOff, det.spanN
	a, b := r.words[off:off+k], det.saved[off:off+k]
	// The word that differed last time usually differs again (a counter
	// the receiver advances every tick): that rejects the tick with one
	// comparison. The word is one detection compares (Kept is fixed for
	// the run), so a difference there is a difference of states.
	if i := int(det.spanDiff); i < k && a[i] != b[i] {
		return false
	}
	i := firstDiff(r.proj, d, a, b)
	det.spanDiff = uint32(min(i, math.MaxUint32))
	return i == k
}

// firstDiff is the index of the first word that detection compares
// (Projector; all if proj is nil) in which a and b, two copies of domain
// d's span, differ; len(a) if they are equal in all of them (sameState).
func firstDiff(proj Projector, d uint32, a, b []uint64) int {
	var mask []uint64
	if proj != nil {
		mask = proj.Kept(d)
	}
	b = b[:len(a)]
	for i := range a {
		if w := i >> 6; w < len(mask) && mask[w]>>(i&63)&1 == 0 {
			continue
		}
		if a[i] != b[i] {
			return i
		}
	}
	return len(a)
}

func (det *detector) confirm(r *run, t uint64) bool {
	if r.n != len(det.savedMsgs) {
		return false
	}
	x := slot(t)
	i := 0
	for _, sh := range r.shards {
		for k := range sh.stream[x] {
			if !sameMsg(&sh.stream[x][k], &det.savedMsgs[i]) {
				return false
			}
			i++
		}
	}
	if !r.sameLate(t, det.savedLate, det.savedTick) {
		return false
	}
	if r.ender != nil {
		// EndTick may change a domain that received nothing: compare all
		// (in the words the Projector keeps).
		if r.proj == nil {
			return slices.Equal(r.words, det.saved)
		}
		return det.sameProjected(r, 0, r.d)
	}
	return det.sameTouched(r, r.shards)
}

// sameProjected reports whether the domains [lo, hi) hold their saved
// state in the words the Projector keeps (confirm with EndTick work;
// a partition's confirm for its own range).
func (det *detector) sameProjected(r *run, lo, hi uint32) bool {
	for d := lo; d < hi; d++ {
		off, n := r.wl.Span(d)
		if !sameState(r.proj, d, r.words[off:off+n], det.saved[off:off+n]) {
			return false
		}
	}
	return true
}

// sameTouched reports whether every domain the shards delivered to since
// the checkpoint holds its saved state (in the words the Projector keeps,
// if any).
func (det *detector) sameTouched(r *run, shards []*shard) bool {
	for _, sh := range shards {
		for _, d := range sh.touched {
			off, n := r.wl.Span(d)
			if !sameState(r.proj, d, r.words[off:off+n], det.saved[off:off+n]) {
				return false
			}
		}
	}
	return true
}

func (det *detector) save(r *run, t uint64) {
	if t == 0 || r.ender != nil { // EndTick may change any domain
		copy(det.saved, r.words)
	} else {
		for _, sh := range r.shards {
			for _, d := range sh.touched {
				off, n := r.wl.Span(d)
				copy(det.saved[off:off+n], r.words[off:off+n])
			}
		}
	}
	for _, sh := range r.shards {
		sh.touched = sh.touched[:0]
	}
	det.epoch++
	det.savedTick = t
	x := slot(t)
	if len(r.shards) == 1 {
		// one shard marks receivers a tick early (finishOutput): tick t's
		// receivers were marked under the old epoch, so mark them again.
		// At a detection tick h the early marks are tick h's receivers,
		// which equal tick c(h)'s, already counted.
		r.shards[0].mark(det.stamp, det.epoch, r.shards[0].stream[x])
	}
	det.savedMsgs = det.savedMsgs[:0]
	for _, sh := range r.own { // a partition saves its own part
		det.savedMsgs = append(det.savedMsgs, sh.stream[x]...)
	}
	det.savedLate = r.appendLateOf(det.savedLate[:0], r.own)
}
