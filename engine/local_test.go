package engine_test

import (
	"fmt"
	"reflect"
	"slices"
	"testing"

	"github.com/lexbench/lexbench/engine"
	"github.com/lexbench/lexbench/internal/refmodel"
	"github.com/lexbench/lexbench/trace"
)

// sysDef is a small test system: domains of `words` state words each, in
// consecutive cells of the given sizes, and one pure transition shared by
// the engine workload (sysWL) and the reference model (refmodel.System),
// so that the two differ only in how they run and detect oscillation.
type sysDef struct {
	sizes []int // domains per cell; cell k's domains follow cell k-1's
	words int
	boots []uint32
	kept  func(d uint32, i int) bool // nil: detection compares every word
	// step is a domain's transition, end (if set) its end-of-tick work
	// (a TickEnder); emit sends a Data due delay ticks after the next
	// tick (delay > 0: a late message).
	step func(d uint32, st []uint64, src uint32, kind trace.Kind, a uint64, emit func(dst uint32, a, delay uint64))
	end  func(d uint32, st []uint64, emit func(dst uint32, a, delay uint64))
}

func (s *sysDef) domains() int {
	n := 0
	for _, z := range s.sizes {
		n += z
	}
	return n
}

func (s *sysDef) cells() []uint32 {
	var c []uint32
	for k, z := range s.sizes {
		for range z {
			c = append(c, uint32(k))
		}
	}
	return c
}

// sysWL runs a sysDef on the engine and logs what every domain receives
// (each domain's log is written only by the shard that owns it).
type sysWL struct {
	def   *sysDef
	st    []uint64
	cells []uint32
	masks [][]uint64
	log   [][]trace.Entry
}

func newSysWL(def *sysDef) *sysWL {
	w := &sysWL{def: def, cells: def.cells(), log: make([][]trace.Entry, def.domains())}
	if def.kept != nil {
		for d := range def.domains() {
			m := make([]uint64, (def.words+63)/64)
			for i := range def.words {
				if def.kept(uint32(d), i) {
					m[i/64] |= 1 << (i % 64)
				}
			}
			w.masks = append(w.masks, m)
		}
	}
	return w
}

func (w *sysWL) Domains() uint32          { return uint32(len(w.cells)) }
func (w *sysWL) StateWords() int          { return len(w.cells) * w.def.words }
func (w *sysWL) Init(words []uint64)      { w.st = words }
func (w *sysWL) Span(d uint32) (int, int) { return int(d) * w.def.words, w.def.words }
func (w *sysWL) Boots(d uint32) bool      { return slices.Contains(w.def.boots, d) }
func (w *sysWL) Weight(uint32) uint64     { return 1 }
func (w *sysWL) Goals() error             { return nil }
func (w *sysWL) CellOf(cells []uint32)    { copy(cells, w.cells) }
func (w *sysWL) Kept(d uint32) []uint64 {
	if w.masks == nil {
		return nil
	}
	return w.masks[d]
}

func (w *sysWL) Deliver(out *engine.Outbox, msgs []trace.Entry) {
	for i := range msgs {
		m := &msgs[i]
		d, W := m.Dst, w.def.words
		w.log[d] = append(w.log[d], *m)
		w.def.step(d, w.st[int(d)*W:int(d+1)*W], m.Src, m.Kind, m.A, emitter(out, d))
	}
}

func emitter(out *engine.Outbox, src uint32) func(dst uint32, a, delay uint64) {
	return func(dst uint32, a, delay uint64) {
		out.EmitAt(src, dst, trace.KindData, a, 0, uint64(out.Tick())+delay)
	}
}

// sysEnder is a sysWL with end-of-tick work.
type sysEnder struct{ *sysWL }

func (w sysEnder) EndTick(out *engine.Outbox) {
	W := w.def.words
	for d := out.Lo(); d < out.Hi(); d++ {
		w.def.end(d, w.st[int(d)*W:int(d+1)*W], emitter(out, d))
	}
}

// ref runs the system on the reference model.
func (s *sysDef) ref(o refmodel.Options) refmodel.Result {
	n, W := s.domains(), s.words
	st := make([]uint64, n*W)
	cells := s.cells()
	var end func(d uint32, emit func(uint32, uint16, uint64, uint64, uint64))
	if s.end != nil {
		end = func(d uint32, emit func(uint32, uint16, uint64, uint64, uint64)) {
			s.end(d, st[int(d)*W:int(d+1)*W], func(to uint32, a, delay uint64) {
				emit(to, uint16(trace.KindData), a, 0, delay)
			})
		}
	}
	return refmodel.RunSystem(refmodel.System{
		Domains: n,
		Boots:   s.boots,
		Deliver: func(src, dst uint32, kind uint16, a, b uint64, emit func(uint32, uint16, uint64, uint64, uint64)) {
			s.step(dst, st[int(dst)*W:int(dst+1)*W], src, trace.Kind(kind), a, func(to uint32, a, delay uint64) {
				emit(to, uint16(trace.KindData), a, 0, delay)
			})
		},
		EndTick: end,
		State:   func() []uint64 { return slices.Clone(st) },
		Size:    func(uint32) int { return W },
		Cell:    func(d uint32) int { return int(cells[d]) },
		Kept:    s.kept,
		Goals:   func() bool { return true },
	}, o)
}

type sysRun struct {
	res    engine.Result
	wl     *sysWL
	events []engine.CellEvent
}

// tb is what the helpers need of a *testing.T or a *rapid.T.
type tb interface {
	Helper()
	Fatal(args ...any)
}

func runSys(t tb, def *sysDef, c engine.Config) sysRun {
	t.Helper()
	r := sysRun{wl: newSysWL(def)}
	c.OnCell = func(ev *engine.CellEvent) {
		e := *ev
		e.Domains = slices.Clone(ev.Domains)
		r.events = append(r.events, e)
	}
	var err error
	if r.res, err = engine.Run(r.wl.workload(), c); err != nil {
		t.Fatal(err)
	}
	return r
}

// workload is w, with end-of-tick work if its system has some.
func (w *sysWL) workload() engine.Workload {
	if w.def.end != nil {
		return sysEnder{w}
	}
	return w
}

func localCfg(shards int, damp bool) engine.Config {
	c := cfg(shards)
	c.Detect, c.Damp = engine.DetectLocal, damp
	return c
}

// oscLine is the engine's oscillation line as the reference prints it.
func oscLine(res engine.Result, local bool) string {
	o := res.Oscillation
	if o == nil {
		return ""
	}
	s := fmt.Sprintf("tick=%d period=%d domains=%d", o.Tick, o.Period, o.Domains)
	if local {
		s += fmt.Sprintf(" cells=%d", o.Cells)
	}
	return s
}

// checkAgainstRef compares an engine run of def with the reference model's.
func checkAgainstRef(t *testing.T, def *sysDef, c engine.Config) sysRun {
	t.Helper()
	r := runSys(t, def, c)
	if msg := compareRef(def, c, r); msg != "" {
		t.Fatal(msg)
	}
	return r
}

// compareRef describes how the engine run r of def differs from the
// reference model's, or returns "".
func compareRef(def *sysDef, c engine.Config, r sysRun) string {
	local := c.Detect == engine.DetectLocal
	ref := def.ref(refmodel.Options{Params: c.Params, MaxTicks: c.MaxTicks, MaxMsgs: c.MaxMsgs, Damp: c.Damp, Local: local})
	var figs []string
	if local && c.Damp && r.res.Oscillation != nil {
		figs = append(figs, fmt.Sprintf("dropped: %d", r.res.Dropped))
	}
	got := fmt.Sprintf("trace %016x state %016x %v ticks %d msgs %d blocks %d osc %q figs %v",
		r.res.Trace, r.res.State, r.res.Outcome, r.res.Ticks, r.res.Msgs, r.res.Blocks, oscLine(r.res, local), figs)
	want := fmt.Sprintf("trace %016x state %016x %s ticks %d msgs %d blocks %d osc %q figs %v",
		ref.Trace, ref.State, ref.Outcome, ref.Ticks, ref.Msgs, ref.Blocks, ref.Oscillation, ref.Figures)
	if got != want {
		return fmt.Sprintf("shards %d local %v damp %v:\nengine    %s\nreference %s", c.Shards, local, c.Damp, got, want)
	}
	return ""
}

// pingPong: cell 0 is a driver (domain 0) that, on each of its Ticks, adds
// 1 to its count n, sends n to the receiver (domain 3, cell 2) — an input
// to cell 2 at every tick until n = stop — and, when n = wake, sends a
// Data to domain 1. Cell 1 holds domains 1 and 2, which answer every
// message with a Data to each other, forever; domain 1 boots (with
// fighters) and so does the driver. The fighters' second word counts
// their receipts if counter is set, and a projection (kept) leaves it out
// of their configurations.
func pingPong(stop, wake uint64, fighters bool, counter bool) *sysDef {
	def := &sysDef{sizes: []int{1, 2, 1}, words: 2, boots: []uint32{0}}
	if fighters {
		def.boots = append(def.boots, 1)
	}
	if counter {
		def.kept = func(d uint32, i int) bool { return d == 0 || d == 3 || i == 0 }
	}
	def.step = func(d uint32, st []uint64, src uint32, kind trace.Kind, a uint64, emit func(uint32, uint64, uint64)) {
		switch d {
		case 0:
			st[0]++
			n := st[0]
			emit(3, n, 0)
			if n == wake {
				emit(1, 7, 0)
			}
			if n < stop {
				emit(0, 0, 0)
			}
		case 1, 2:
			if counter {
				st[1]++
			}
			emit(3-d, 5, 0)
		case 3:
			st[0] += a
		}
	}
	return def
}

func TestPingPongCellNextToACellWithInputsIsCaughtAtTheSpecTick(t *testing.T) {
	// Cell 1: C(0) = boot Tick 1→1, C(1) = Data 1→2, C(2) = Data 2→1,
	// C(3) = Data 1→2 = C(1). No input, so r = 0 and the checkpoints are
	// 0, 1, 3: the cell oscillates at 3 with period 3 − 1 = 2, domains 1
	// and 2 having received in ticks 1..2. Cell 2 receives an input at
	// every tick, so it never oscillates, and the driver's count changes.
	def := pingPong(1000, 0, true, false)
	for s := 1; s <= 7; s++ {
		r := checkAgainstRef(t, def, localCfg(s, false))
		want := engine.Oscillation{Tick: 3, Period: 2, Domains: 2, Cells: 1}
		if r.res.Outcome != engine.Oscillating || *r.res.Oscillation != want || r.res.Ticks != 3 || r.res.Msgs != 8 {
			t.Fatalf("shards %d: %v %+v ticks %d msgs %d, want oscillating %+v ticks 3 msgs 8", s, r.res.Outcome, r.res.Oscillation, r.res.Ticks, r.res.Msgs, want)
		}
		wantEv := []engine.CellEvent{{Cell: 1, First: 1, End: 3, Tick: 3, Period: 2, Domains: []uint32{1, 2}}}
		if !reflect.DeepEqual(r.events, wantEv) {
			t.Fatalf("shards %d: events %+v, want %+v", s, r.events, wantEv)
		}
	}
	// Global detection needs the whole configuration to repeat: not before
	// the driver is done.
	g := checkAgainstRef(t, def, cfg(2))
	if g.res.Oscillation == nil || g.res.Oscillation.Tick <= 1000 {
		t.Fatalf("global: %+v, want a cycle after the driver's 1000 ticks", g.res.Oscillation)
	}
}

func TestDampedCellWakesOnInputAndItsSearchRestarts(t *testing.T) {
	// Damped at 3 (as above), the cell is silent; the driver's Data to
	// domain 1 at tick 50 is an input (r = 50) that restarts the fight:
	// C(51) = 1→2, C(52) = 2→1, C(53) = 1→2 with checkpoints 50, 51, 53,
	// so it oscillates again at 53, period 2, and is damped again.
	def := pingPong(80, 50, true, false)
	for s := 1; s <= 7; s++ {
		r := checkAgainstRef(t, def, localCfg(s, true))
		want := engine.Oscillation{Tick: 3, Period: 2, Domains: 2, Cells: 1}
		if r.res.Outcome != engine.Damped || *r.res.Oscillation != want || r.res.Dropped != 2 {
			t.Fatalf("shards %d: %v %+v dropped %d, want damped %+v dropped 2", s, r.res.Outcome, r.res.Oscillation, r.res.Dropped, want)
		}
		wantEv := []engine.CellEvent{
			{Cell: 1, First: 1, End: 3, Tick: 3, Period: 2, Domains: []uint32{1, 2}, Damped: true},
			{Cell: 1, First: 1, End: 3, Tick: 53, Period: 2, Domains: []uint32{1, 2}, Damped: true},
		}
		if !reflect.DeepEqual(r.events, wantEv) {
			t.Fatalf("shards %d: events %+v, want %+v", s, r.events, wantEv)
		}
	}
}

func TestDampLeavesEveryOtherCellsTraceUntouched(t *testing.T) {
	// The same system with and without the fight (domain 1 does not boot
	// and the driver never wakes it): every other domain receives the same
	// messages at the same ticks and ends in the same state.
	calm := runSys(t, pingPong(60, 0, false, false), localCfg(1, true))
	if calm.res.Outcome != engine.Converged || calm.res.Oscillation != nil {
		t.Fatalf("without the fight: %v %+v", calm.res.Outcome, calm.res.Oscillation)
	}
	for s := 1; s <= 7; s++ {
		fight := runSys(t, pingPong(60, 0, true, false), localCfg(s, true))
		if fight.res.Outcome != engine.Damped || fight.res.Dropped != 1 {
			t.Fatalf("shards %d: the fight was not damped: %v dropped %d", s, fight.res.Outcome, fight.res.Dropped)
		}
		for _, d := range []uint32{0, 3} {
			if !slices.Equal(fight.wl.log[d], calm.wl.log[d]) {
				t.Fatalf("shards %d: domain %d received\n%v\nwith the fight, and\n%v\nwithout", s, d, fight.wl.log[d], calm.wl.log[d])
			}
			if !slices.Equal(fight.res.Words[2*d:2*d+2], calm.res.Words[2*d:2*d+2]) {
				t.Fatalf("shards %d: domain %d ends in %v with the fight, %v without", s, d, fight.res.Words[2*d:2*d+2], calm.res.Words[2*d:2*d+2])
			}
		}
		if fight.res.Ticks != calm.res.Ticks {
			t.Fatalf("shards %d: the run ended at %d with the fight, %d without", s, fight.res.Ticks, calm.res.Ticks)
		}
	}
}

func TestProjectionLetsACounterNotHideAFight(t *testing.T) {
	// The fighters count their receipts: the whole state never repeats, so
	// without a projection neither detector finds the fight and the budget
	// ends the run; with the counter left out, both find it.
	for _, s := range []int{1, 3} {
		for _, local := range []bool{false, true} {
			c := cfg(s)
			c.MaxTicks = 300
			if local {
				c.Detect = engine.DetectLocal
			}
			plain := checkAgainstRef(t, pingPong(100, 0, true, true), c)
			noProj := pingPong(100, 0, true, true)
			noProj.kept = nil
			hidden := checkAgainstRef(t, noProj, c)
			if plain.res.Outcome != engine.Oscillating || hidden.res.Outcome != engine.Budget || hidden.res.Oscillation != nil {
				t.Fatalf("shards %d local %v: projected %v, unprojected %v; want oscillating and budget", s, local, plain.res.Outcome, hidden.res.Outcome)
			}
			if local && plain.res.Oscillation.Tick != 3 {
				t.Fatalf("shards %d: local detection with projection at %d, want 3", s, plain.res.Oscillation.Tick)
			}
		}
	}
}

// With end-of-tick work (a TickEnder: programs with goals) the global
// detector compares every domain, not only the receivers; it must still
// compare only the words the projection keeps.
func TestProjectionHoldsWithEndOfTickWork(t *testing.T) {
	for _, s := range []int{1, 3} {
		for _, local := range []bool{false, true} {
			def := pingPong(100, 0, true, true)
			def.end = func(uint32, []uint64, func(uint32, uint64, uint64)) {} // nothing: only its presence matters
			c := cfg(s)
			c.MaxTicks = 300
			if local {
				c.Detect = engine.DetectLocal
			}
			r := checkAgainstRef(t, def, c)
			if r.res.Outcome != engine.Oscillating {
				t.Fatalf("shards %d local %v: %v, want oscillating (the counter is projected out)", s, local, r.res.Outcome)
			}
		}
	}
}

func TestLocalFingerprintCollisionIsRejectedByFullComparison(t *testing.T) {
	for _, def := range []*sysDef{pingPong(80, 50, true, false), pingPong(300, 0, false, false)} {
		for _, s := range []int{1, 2, 5} {
			for _, damp := range []bool{false, true} {
				plain := runSys(t, def, localCfg(s, damp))
				c := localCfg(s, damp)
				engine.ForceFingerprintMatch(&c)
				forced := runSys(t, def, c)
				plain.res.Words, forced.res.Words = nil, nil
				if !reflect.DeepEqual(plain.res, forced.res) || !reflect.DeepEqual(plain.events, forced.events) {
					t.Fatalf("shards %d damp %v: every fingerprint matching changed the run:\n%+v\n%+v", s, damp, forced.res, plain.res)
				}
			}
		}
	}
}

func TestResumeMidSearchGivesTheUninterruptedResult(t *testing.T) {
	def := pingPong(80, 50, true, false)
	want := runSys(t, def, localCfg(1, true)).res
	var cps []*engine.Checkpoint
	c := localCfg(2, true)
	c.SnapshotEvery = 1
	c.Snapshot = func(cp *engine.Checkpoint) error {
		cps = append(cps, cp.Clone())
		return nil
	}
	runSys(t, def, c)
	var mid, silent, woken bool
	for _, cp := range cps {
		for _, w := range cp.Watched {
			mid = mid || w.Cell == 1
		}
		for _, d := range cp.Damped {
			silent = silent || d.Silent
			woken = woken || !d.Silent
		}
		for _, s := range []int{1, 3, 7} {
			rc := localCfg(s, true)
			rc.Resume = cp
			got := runSys(t, def, rc).res
			if got.Trace != want.Trace || got.State != want.State || got.Outcome != want.Outcome || got.Ticks != want.Ticks ||
				got.Msgs != want.Msgs || got.Dropped != want.Dropped || !reflect.DeepEqual(got.Oscillation, want.Oscillation) {
				t.Fatalf("resume at tick %d with %d shards: %+v, want %+v", cp.Tick, s, got, want)
			}
		}
	}
	if !mid || !silent || !woken {
		t.Fatalf("checkpoints cover a search of cell 1 %v, a silent damped cell %v, a woken one %v; want all", mid, silent, woken)
	}
}

func TestBadCellsAreAnError(t *testing.T) {
	def := pingPong(10, 0, true, false)
	for _, cells := range [][]uint32{{1, 1, 1, 2}, {0, 2, 2, 3}, {0, 1, 0, 1}} {
		w := newSysWL(def)
		w.cells = cells
		if _, err := engine.Run(w.workload(), localCfg(1, false)); err == nil {
			t.Errorf("cells %v accepted", cells)
		}
	}
}

// TestCheckRestoreRejectsDamagedLocalState: a local checkpoint whose
// detector fields do not fit the workload or each other is an error, never
// a panic or a wrong run.
func TestCheckRestoreRejectsDamagedLocalState(t *testing.T) {
	def := pingPong(80, 50, true, false)
	var good *engine.Checkpoint
	c := localCfg(1, true)
	c.SnapshotEvery = 1
	c.Snapshot = func(cp *engine.Checkpoint) error {
		if good == nil && len(cp.Damped) > 0 && len(cp.Watched) > 0 {
			good = cp.Clone()
		}
		return nil
	}
	runSys(t, def, c)
	if good == nil {
		t.Fatal("no checkpoint with a damped cell and a search")
	}
	w := newSysWL(def).workload()
	if err := engine.CheckRestore(w, good); err != nil {
		t.Fatalf("good checkpoint rejected: %v", err)
	}
	for i, damage := range []func(cp *engine.Checkpoint){
		func(cp *engine.Checkpoint) { cp.Watched[0].Cell = 9 },
		func(cp *engine.Checkpoint) { cp.Watched[0].C = cp.Tick + 1 },
		func(cp *engine.Checkpoint) { cp.Watched[0].C = cp.Watched[0].R + 2 },
		func(cp *engine.Checkpoint) { cp.Watched[0].Words = append(cp.Watched[0].Words, 0) },
		func(cp *engine.Checkpoint) { cp.Watched[0].Touched = []uint32{3} }, // a domain of another cell
		func(cp *engine.Checkpoint) { cp.Watched[0].Msgs[0].Dst = 3 },       // outside the cell
		func(cp *engine.Checkpoint) { cp.Watched[0].Msgs[0].Src = 3 },       // due now from outside
		func(cp *engine.Checkpoint) { cp.Watched[0].Msgs = nil },
		func(cp *engine.Checkpoint) { cp.Damped = nil },
		func(cp *engine.Checkpoint) { cp.Damped[0].Tick = cp.Tick + 1 },
		func(cp *engine.Checkpoint) { cp.Found.Cells = 7 },
		func(cp *engine.Checkpoint) { cp.Inputs = []engine.CellInput{{Cell: 1, Tick: 2}} }, // not a TickEnder
		func(cp *engine.Checkpoint) { cp.SavedTick = 1 },
		func(cp *engine.Checkpoint) { cp.Local = false },
	} {
		cp := good.Clone()
		damage(cp)
		if err := engine.CheckRestore(w, cp); err == nil && cp.Local {
			t.Errorf("damage %d accepted", i)
		}
		rc := localCfg(2, true)
		rc.Resume = cp
		if _, err := engine.Run(newSysWL(def).workload(), rc); err == nil {
			t.Errorf("damage %d: the resumed run did not fail", i)
		}
	}
}
