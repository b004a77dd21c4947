package engine_test

import (
	"cmp"
	"fmt"
	"reflect"
	"slices"
	"testing"

	"pgregory.net/rapid"

	"github.com/lexbench/lexbench/engine"
	"github.com/lexbench/lexbench/trace"
)

// randSys is a random small system for local detection: cell 0 is a driver
// (domain 0) that sends inputs into the other cells during its first ticks
// and then stops; every other domain is a finite automaton over a state x
// in 0..m-1 that, on a message with payload a, moves to next[x][a%p] and
// emits at most one message, to a domain of its own cell. After the driver
// stops every cell is closed, has finitely many configurations, and holds
// no more messages than it had, so it either goes idle or cycles. A
// domain's second word counts its receipts; it never influences anything,
// and when counter is set the projection leaves it out (when not, it stays
// 0).
//
// Extended systems (late) also have timers (a domain's message may be due
// up to 2 ticks late), late inputs (the driver's up to 3 ticks late), and
// may be a TickEnder: at the end of every tick a domain in some states
// moves to another and may emit, without receiving anything.
type randSys struct {
	sizes   []int
	m, p    uint64
	counter bool
	boots   []uint32
	inputs  []randInput
	table   [][]randEntry // per domain, indexed by x*p + a%p
	ends    [][]randEntry // per domain, indexed by x: end-of-tick work if ender
	ender   bool
}

type randInput struct {
	tick  uint64 // tick of the driver's emission + 1 (≥ 1)
	dst   uint32
	a     uint64
	delay uint64
}

type randEntry struct {
	act   bool // end-of-tick work: whether the domain acts in this state
	next  uint64
	emit  int // index of the target in the cell, -1: none
	a     uint64
	delay uint64
}

func genRandSys(t *rapid.T, maxInputTick uint64, late bool) *randSys {
	s := &randSys{
		sizes:   []int{1},
		m:       rapid.Uint64Range(1, 4).Draw(t, "m"),
		p:       rapid.Uint64Range(1, 3).Draw(t, "p"),
		counter: rapid.Bool().Draw(t, "counter"),
	}
	maxDelay, maxInputDelay := uint64(0), uint64(0)
	if late {
		maxDelay, maxInputDelay = 2, 3
		s.ender = rapid.Bool().Draw(t, "ender")
	}
	for range rapid.IntRange(1, 5).Draw(t, "cells") {
		s.sizes = append(s.sizes, rapid.IntRange(1, 3).Draw(t, "size"))
	}
	def := s.def()
	cells := def.cells()
	s.table = make([][]randEntry, len(cells))
	if s.ender {
		s.ends = make([][]randEntry, len(cells))
	}
	for d := 1; d < len(cells); d++ {
		if rapid.Bool().Draw(t, "boots") {
			s.boots = append(s.boots, uint32(d))
		}
		size := s.sizes[cells[d]]
		for range s.m * s.p {
			s.table[d] = append(s.table[d], randEntry{
				next:  rapid.Uint64Range(0, s.m-1).Draw(t, "next"),
				emit:  rapid.IntRange(-1, size-1).Draw(t, "emit"),
				a:     rapid.Uint64Range(0, s.p-1).Draw(t, "a"),
				delay: rapid.Uint64Range(0, maxDelay).Draw(t, "delay"),
			})
		}
		if s.ender {
			for range s.m {
				s.ends[d] = append(s.ends[d], randEntry{
					act:   rapid.IntRange(0, 3).Draw(t, "act") == 0,
					next:  rapid.Uint64Range(0, s.m-1).Draw(t, "next"),
					emit:  rapid.IntRange(-1, size-1).Draw(t, "emit"),
					a:     rapid.Uint64Range(0, s.p-1).Draw(t, "a"),
					delay: rapid.Uint64Range(0, maxDelay).Draw(t, "delay"),
				})
			}
		}
	}
	for range rapid.IntRange(0, 6).Draw(t, "inputs") {
		s.inputs = append(s.inputs, randInput{
			tick:  rapid.Uint64Range(1, maxInputTick).Draw(t, "tick"),
			dst:   uint32(rapid.IntRange(1, len(cells)-1).Draw(t, "dst")),
			a:     rapid.Uint64Range(0, s.p-1).Draw(t, "a"),
			delay: rapid.Uint64Range(0, maxInputDelay).Draw(t, "delay"),
		})
	}
	return s
}

func (s *randSys) def() *sysDef {
	def := &sysDef{sizes: s.sizes, words: 2, boots: append([]uint32{0}, s.boots...)}
	if s.counter {
		def.kept = func(d uint32, i int) bool { return i == 0 }
	}
	cells := def.cells()
	first := make([]uint32, len(s.sizes))
	for d := len(cells) - 1; d >= 0; d-- {
		first[cells[d]] = uint32(d)
	}
	def.step = func(d uint32, st []uint64, src uint32, kind trace.Kind, a uint64, emit func(uint32, uint64, uint64)) {
		if d == 0 {
			st[0]++
			more := false
			for _, in := range s.inputs {
				if in.tick == st[0] {
					emit(in.dst, in.a, in.delay)
				}
				more = more || in.tick > st[0]
			}
			if more {
				emit(0, 0, 0)
			}
			return
		}
		e := s.table[d][st[0]*s.p+a%s.p]
		st[0] = e.next
		if s.counter {
			st[1]++
		}
		if e.emit >= 0 {
			emit(first[cells[d]]+uint32(e.emit), e.a, e.delay)
		}
	}
	if s.ender {
		def.end = func(d uint32, st []uint64, emit func(uint32, uint64, uint64)) {
			if d == 0 {
				return
			}
			e := s.ends[d][st[0]]
			if !e.act {
				return
			}
			st[0] = e.next
			if e.emit >= 0 {
				emit(first[cells[d]]+uint32(e.emit), e.a, e.delay)
			}
		}
	}
	return def
}

// plainMsg is a message of the plain simulation.
type plainMsg struct {
	src, dst uint32
	seq      uint64
	boot     bool
	a        uint64
}

// simulatePlain runs def plainly (no detection) and reports whether the run
// quiesces and which cells' projected configurations repeat after their
// last input: C_K(h) = C_K(c) for some earlier c ≥ r_K(h) with a message
// pending to K at h, compared against every configuration since the
// input, not only Brent's checkpoints. It is independent of the engine
// and of the reference model's Brent search.
func simulatePlain(t *rapid.T, def *sysDef) (quiesces bool, repeats []bool) {
	cells := def.cells()
	n, W := len(cells), def.words
	st := make([]uint64, n*W)
	seqs := make([]uint64, n)
	var pending []plainMsg
	for _, d := range def.boots {
		pending = append(pending, plainMsg{src: d, dst: d, seq: seqs[d], boot: true})
		seqs[d]++
	}
	repeats = make([]bool, len(def.sizes))
	seen := make([]map[string]bool, len(def.sizes))
	for k := range seen {
		seen[k] = map[string]bool{}
	}
	for tick := 0; tick < 20_000; tick++ {
		if len(pending) == 0 {
			return true, repeats
		}
		slices.SortStableFunc(pending, func(x, y plainMsg) int {
			return cmp.Or(cmp.Compare(x.src, y.src), cmp.Compare(x.seq, y.seq))
		})
		conf := make([]string, len(def.sizes))
		input := make([]bool, len(def.sizes))
		busy := make([]bool, len(def.sizes))
		for d := range n {
			for i := range W {
				if def.kept == nil || def.kept(uint32(d), i) {
					conf[cells[d]] += fmt.Sprintf("%d.%d=%d ", d, i, st[d*W+i])
				}
			}
		}
		for _, m := range pending {
			k := cells[m.dst]
			conf[k] += fmt.Sprintf("[%d>%d %v %d]", m.src, m.dst, m.boot, m.a)
			input[k] = input[k] || cells[m.src] != k
			busy[k] = true
		}
		for k := range conf {
			if input[k] {
				seen[k] = map[string]bool{}
			} else if busy[k] && seen[k][conf[k]] {
				repeats[k] = true
			}
			seen[k][conf[k]] = true
		}
		done := true
		for k := range busy {
			done = done && (!busy[k] || repeats[k])
		}
		if done && tick > 1 {
			return false, repeats // no input after tick 1: every busy cell cycles from here on
		}
		var next []plainMsg
		for _, m := range pending {
			src := m.dst
			kind := trace.KindData
			if m.boot {
				kind = trace.KindTick
			}
			def.step(m.dst, st[int(m.dst)*W:int(m.dst+1)*W], m.src, kind, m.a, func(dst uint32, a, delay uint64) {
				if delay != 0 {
					t.Fatalf("the plain simulation has no late messages")
				}
				next = append(next, plainMsg{src: src, dst: dst, seq: seqs[src], a: a})
				seqs[src]++
			})
		}
		pending = next
	}
	t.Fatalf("simulation did not settle in 20000 ticks")
	return false, nil
}

// TestLocalDetectionOfClosedCellsIsExact: in random systems whose inputs
// all arrive at tick 1, a halting run oscillates exactly when some cell's
// projected configuration repeats after its input, and converges when the
// run quiesces; a damping run damps exactly the repeating cells and
// converges otherwise. Every run equals the reference model's (SPEC §5.7
// computed over full configurations) and is the same for every shard
// count.
func TestLocalDetectionOfClosedCellsIsExact(t *testing.T) {
	rapid.Check(t, func(t *rapid.T) {
		s := genRandSys(t, 1, false)
		def := s.def()
		quiesces, repeats := simulatePlain(t, def)
		nRepeat := 0
		for _, r := range repeats {
			if r {
				nRepeat++
			}
		}
		if quiesces != (nRepeat == 0) {
			t.Fatalf("simulation: quiesces %v but %d cells repeat", quiesces, nRepeat)
		}
		shards := rapid.IntRange(2, 7).Draw(t, "shards")
		for _, damp := range []bool{false, true} {
			one := runRand(t, def, 1, damp)
			other := runRand(t, def, shards, damp)
			if one.res.Trace != other.res.Trace || one.res.State != other.res.State || one.res.Ticks != other.res.Ticks ||
				oscLine(one.res, true) != oscLine(other.res, true) || one.res.Dropped != other.res.Dropped {
				t.Fatalf("damp %v: shards 1 %+v, shards %d %+v", damp, one.res, shards, other.res)
			}
			res := one.res
			switch {
			case quiesces && (res.Outcome != engine.Converged || res.Oscillation != nil):
				t.Fatalf("damp %v: the run quiesces, the engine says %v %+v", damp, res.Outcome, res.Oscillation)
			case !quiesces && !damp && res.Outcome != engine.Oscillating:
				t.Fatalf("halt: %d cells repeat, the engine says %v", nRepeat, res.Outcome)
			case !quiesces && damp && (res.Outcome != engine.Damped || res.Oscillation.Cells != uint64(nRepeat)):
				t.Fatalf("damp: %d cells repeat, the engine says %v %+v", nRepeat, res.Outcome, res.Oscillation)
			}
			if !damp && res.Oscillation != nil {
				for _, ev := range one.events {
					if !repeats[ev.Cell] {
						t.Fatalf("halt: cell %d reported, but its configuration never repeats", ev.Cell)
					}
				}
			}
		}
	})
}

// TestLocalDetectionMatchesTheReferenceModel: random systems with inputs
// over several ticks (so cells restart, and are damped and woken), timers
// and late inputs (SPEC §1), and end-of-tick work (a TickEnder), halt and
// damp, at a random shard count, equal the reference model.
func TestLocalDetectionMatchesTheReferenceModel(t *testing.T) {
	rapid.Check(t, func(t *rapid.T) {
		def := genRandSys(t, 12, rapid.Bool().Draw(t, "late")).def()
		shards := rapid.IntRange(1, 7).Draw(t, "shards")
		for _, damp := range []bool{false, true} {
			c := localCfg(shards, damp)
			c.MaxTicks = 600
			r := runSys(t, def, c)
			if msg := compareRef(def, c, r); msg != "" {
				t.Fatalf("%s", msg)
			}
		}
	})
}

func runRand(t *rapid.T, def *sysDef, shards int, damp bool) sysRun {
	c := localCfg(shards, damp)
	c.MaxTicks = 20_000
	r := runSys(t, def, c)
	if msg := compareRef(def, c, r); msg != "" {
		t.Fatalf("%s", msg)
	}
	return r
}

// TestLocalCheckpointsAreCanonicalAndResumeExactly: random systems (timers,
// late inputs, TickEnders, halt and damp) checkpointed at every tick give
// the same checkpoints at shards 1 and 3, and a run resumed from any of
// them, at any shard count, ends exactly as the uninterrupted run.
func TestLocalCheckpointsAreCanonicalAndResumeExactly(t *testing.T) {
	rapid.Check(t, func(t *rapid.T) {
		def := genRandSys(t, 12, rapid.Bool().Draw(t, "late")).def()
		damp := rapid.Bool().Draw(t, "damp")
		c := localCfg(1, damp)
		c.MaxTicks = 300
		want := runSys(t, def, c).res
		var cps [2][]*engine.Checkpoint
		for i, s := range []int{1, 3} {
			cc := localCfg(s, damp)
			cc.MaxTicks, cc.SnapshotEvery = 300, 1
			cc.Snapshot = func(cp *engine.Checkpoint) error {
				cps[i] = append(cps[i], cp.Clone())
				return nil
			}
			runSys(t, def, cc)
		}
		if !reflect.DeepEqual(cps[0], cps[1]) {
			t.Fatalf("checkpoints differ between shards 1 and 3")
		}
		for _, cp := range cps[0] {
			if err := engine.CheckRestore(newSysWL(def).workload(), cp); err != nil {
				t.Fatalf("checkpoint at tick %d rejected: %v", cp.Tick, err)
			}
		}
		if len(cps[0]) == 0 {
			return
		}
		cp := cps[0][rapid.IntRange(0, len(cps[0])-1).Draw(t, "checkpoint")]
		rc := localCfg(rapid.IntRange(1, 7).Draw(t, "shards"), damp)
		rc.MaxTicks, rc.Resume = 300, cp
		got := runSys(t, def, rc).res
		got.Words, want.Words = nil, nil
		if !reflect.DeepEqual(got, want) {
			t.Fatalf("resume at tick %d: %+v, want %+v", cp.Tick, got, want)
		}
	})
}
