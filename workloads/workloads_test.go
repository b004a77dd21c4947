package workloads_test

import (
	"errors"
	"fmt"
	"runtime"
	"slices"
	"strings"
	"testing"

	"github.com/lexbench/lexbench/engine"
	"github.com/lexbench/lexbench/internal/refmodel"
	"github.com/lexbench/lexbench/trace"
	"github.com/lexbench/lexbench/workloads"
)

type runCase struct {
	spec    *workloads.Spec
	p       workloads.Params
	maxMsgs int64
	damp    bool
	local   bool // --detect local
}

func (c runCase) String() string {
	s := fmt.Sprintf("%s -n %d --seed %d --batch %d --%s %d --%s %d", c.spec.Name, c.p.N, c.p.Seed, c.p.Batch,
		c.spec.Keys[0].Name, c.p.K[0], c.spec.Keys[1].Name, c.p.K[1])
	if c.maxMsgs >= 0 {
		s += fmt.Sprintf(" --max-msgs %d", c.maxMsgs)
	}
	if c.damp {
		s += " --on-oscillation damp"
	}
	if c.local {
		s += " --detect local"
	}
	return s
}

func (c runCase) config(shards int) engine.Config {
	cfg := engine.Config{Params: c.spec.Text(c.p), Shards: shards, MaxTicks: -1, MaxMsgs: c.maxMsgs, Damp: c.damp}
	if c.local {
		cfg.Detect = engine.DetectLocal
	}
	return cfg
}

func runEngine(t *testing.T, c runCase, shards int) engine.Result {
	res, _ := runEngineW(t, c, shards)
	return res
}

func runEngineW(t *testing.T, c runCase, shards int) (engine.Result, workloads.Workload) {
	t.Helper()
	w := c.spec.New(c.p)
	res, err := engine.Run(w, c.config(shards))
	if err != nil {
		t.Fatalf("lexbench %s --shards %d: %v", c, shards, err)
	}
	return res, w
}

// cases covers every workload at small n with non-default parameters.
func cases() []runCase {
	var cs []runCase
	add := func(name string, n, seed, batch, k0, k1 uint64) {
		s := workloads.Lookup(name)
		cs = append(cs, runCase{spec: s, p: workloads.Params{N: n, Seed: seed, Batch: batch, K: []uint64{k0, k1}}, maxMsgs: -1})
	}
	for _, n := range []uint64{0, 1, 1000, 100_000} {
		add("banking", n, 1, 4096, 1, 2)
	}
	add("banking", 30_000, 9, 333, 5, 7)
	add("banking", 5000, 2, 1, 2, 2)
	add("storm", 20_000, 3, 100, 3, 17)
	add("storm", 7777, 4, 4096, 1, 1)
	add("storm", 50_000, 5, 1000, 5, 3000)
	add("sync", 5000, 6, 64, 5, 4)
	add("sync", 20_000, 7, 4096, 40, 2)
	add("conflict", 20_000, 8, 256, 9, 5)
	add("conflict", 30_000, 9, 4096, 3000, 3)
	add("oscillation", 3000, 10, 100, 17, 3)
	add("oscillation", 500, 11, 4096, 4096, 2)
	add("oscillation", 2000, 12, 512, 1, 1)
	cs = append(cs, runCase{spec: &workloads.OscillationSpec, p: workloads.Params{N: 3000, Seed: 13, Batch: 64, K: []uint64{50, 5}}, maxMsgs: -1, damp: true})
	cs = append(cs, runCase{spec: &workloads.StormSpec, p: workloads.Params{N: 40_000, Seed: 14, Batch: 300, K: []uint64{4, 100}}, maxMsgs: 5000})
	return append(cs, localCases()...)
}

// localCases run with --detect local (SPEC §5.7): every workload, halt and
// damp, with parameters where cells oscillate while the driver still runs,
// where they all oscillate at once, and where none does.
func localCases() []runCase {
	var cs []runCase
	add := func(name string, n, seed, batch, k0, k1 uint64, damp bool, maxMsgs int64) {
		s := workloads.Lookup(name)
		cs = append(cs, runCase{spec: s, p: workloads.Params{N: n, Seed: seed, Batch: batch, K: []uint64{k0, k1}},
			maxMsgs: maxMsgs, damp: damp, local: true})
	}
	for _, damp := range []bool{false, true} {
		add("oscillation", 3000, 10, 16, 300, 3, damp, -1)
		add("oscillation", 2000, 12, 512, 1, 1, damp, -1)
		add("oscillation", 4000, 15, 7, 40, 2, damp, -1)
		add("oscillation", 800, 16, 4096, 64, 4, damp, -1)
		add("sync", 3000, 6, 5, 7, 4, damp, -1)
		add("conflict", 5000, 8, 33, 50, 3, damp, -1)
	}
	add("oscillation", 20_000, 17, 64, 500, 4, true, 30_000) // a budget ends a damped run
	add("banking", 5000, 2, 7, 3, 2, false, -1)
	add("storm", 7000, 3, 100, 3, 17, true, -1)
	return cs
}

func TestShardCountDoesNotChangeTrace(t *testing.T) {
	for _, c := range cases() {
		one := runEngine(t, c, 1)
		for _, s := range []int{2, 3, 4, 7} {
			got := runEngine(t, c, s)
			if got.Trace != one.Trace || got.State != one.State || got.Outcome != one.Outcome || got.Ticks != one.Ticks || got.Msgs != one.Msgs {
				t.Errorf("lexbench %s --shards %d: trace %016x state %016x %v ticks %d msgs %d; shards 1: %016x %016x %v %d %d",
					c, s, got.Trace, got.State, got.Outcome, got.Ticks, got.Msgs, one.Trace, one.State, one.Outcome, one.Ticks, one.Msgs)
			}
		}
	}
}

// TestEngineMatchesReferenceModel compares the engine with the naive,
// independently written reference model in internal/refmodel.
func TestEngineMatchesReferenceModel(t *testing.T) {
	for _, c := range cases() {
		ref := refmodel.Run(refmodel.Params{Workload: c.spec.Name, N: c.p.N, Seed: c.p.Seed, Batch: c.p.Batch,
			K1: c.p.K[0], K2: c.p.K[1], MaxTicks: -1, MaxMsgs: c.maxMsgs, Damp: c.damp, Local: c.local})
		got, w := runEngineW(t, c, 2)
		osc := ""
		if o := got.Oscillation; o != nil {
			osc = fmt.Sprintf("tick=%d period=%d domains=%d", o.Tick, o.Period, o.Domains)
			if c.local {
				osc += fmt.Sprintf(" cells=%d", o.Cells)
			}
		}
		if got.Trace != ref.Trace || got.State != ref.State || got.Outcome.String() != ref.Outcome ||
			got.Ticks != ref.Ticks || got.Msgs != ref.Msgs || osc != ref.Oscillation || got.Blocks != ref.Blocks {
			t.Errorf("lexbench %s: engine %016x %016x %v ticks %d msgs %d blocks %d osc %q; reference %016x %016x %s ticks %d msgs %d blocks %d osc %q",
				c, got.Trace, got.State, got.Outcome, got.Ticks, got.Msgs, got.Blocks, osc,
				ref.Trace, ref.State, ref.Outcome, ref.Ticks, ref.Msgs, ref.Blocks, ref.Oscillation)
		}
		var figs []string
		for _, f := range w.Figures() {
			figs = append(figs, fmt.Sprintf("%s: %d", f.Name, f.Value))
		}
		if c.damp && (!c.local || got.Oscillation != nil) {
			figs = append(figs, fmt.Sprintf("dropped: %d", got.Dropped))
		}
		if fmt.Sprint(figs) != fmt.Sprint(ref.Figures) {
			t.Errorf("lexbench %s: figures %v, reference %v", c, figs, ref.Figures)
		}
	}
}

func TestGoalViolationIsReported(t *testing.T) {
	for _, spec := range workloads.All {
		p := spec.Defaults()
		p.N = 2000
		if spec.Name == "oscillation" {
			continue // oscillates before its goals are evaluated
		}
		res, err := engine.Run(spec.New(p), engine.Config{Params: spec.Text(p), Shards: 2, MaxTicks: -1, MaxMsgs: -1,
			BeforeGoals: func(words []uint64) { corrupt(spec.Name, words) }})
		if err != nil {
			t.Fatal(err)
		}
		var ge *workloads.GoalError
		switch {
		case res.Outcome != engine.Violated || res.Violation == nil:
			t.Errorf("%s: corrupted state gave %v, want violated", spec.Name, res.Outcome)
		case !errors.As(res.Violation, &ge) || !strings.HasPrefix(ge.GoalName(), spec.Name+".") || ge.Error() != ge.Msg:
			t.Errorf("%s: violation %v does not name a goal of the workload", spec.Name, res.Violation)
		default:
			t.Logf("%s: goal %s: %v", spec.Name, ge.GoalName(), res.Violation)
		}
	}
}

// corrupt changes one domain's state the way a lost or duplicated message would.
func corrupt(name string, w []uint64) {
	switch name {
	case "banking":
		w[2]++ // bank 1, account 0: money from nowhere
	case "storm":
		w[6] += 1 // consumer 0's count (after 2 producers × 3 words)
	case "sync":
		w[2+1+2*3] ^= 1 // replica 1, register 3's value
	case "conflict":
		w[2+3+1] = 3 // group 0, controller 0: suppressed without cause
	}
}

func TestOscillationGoalsHoldWhenDamped(t *testing.T) {
	spec := &workloads.OscillationSpec
	p := spec.Defaults()
	p.N = 5000
	w := spec.New(p)
	res, err := engine.Run(w, engine.Config{Params: spec.Text(p), Shards: 2, MaxTicks: -1, MaxMsgs: -1, Damp: true})
	if err != nil {
		t.Fatal(err)
	}
	if res.Outcome != engine.Damped {
		t.Fatalf("outcome %v, want damped", res.Outcome)
	}
	if err := w.Goals(); err != nil {
		t.Fatalf("non-oscillating goals after damping: %v", err)
	}
}

// heapAfter runs c and reports heap allocations and bytes the run made.
func heapAfter(t *testing.T, c runCase, shards int) (allocs, bytes uint64) {
	var a, b runtime.MemStats
	runtime.GC()
	runtime.ReadMemStats(&a)
	runEngine(t, c, shards)
	runtime.ReadMemStats(&b)
	return b.Mallocs - a.Mallocs, b.TotalAlloc - a.TotalAlloc
}

func TestAllocationsDoNotGrowWithN(t *testing.T) {
	if raceEnabled {
		t.Skip("allocation counts are meaningless under the race detector")
	}
	for _, name := range []string{"banking", "storm", "sync", "conflict", "oscillation"} {
		spec := workloads.Lookup(name)
		for _, local := range []bool{false, true} {
			if name == "oscillation" && !local {
				continue // global detection ends it when the driver is done
			}
			for _, s := range []int{1, 2} {
				if name == "oscillation" && s > 1 {
					// 15,600 ticks at n = 1e6: how often the tick barrier
					// parks a goroutine (each park may allocate) depends on
					// timing, by ±150 allocations between two runs
					continue
				}
				small, large := spec.Defaults(), spec.Defaults()
				small.N, large.N = 100_000, 1_000_000
				if name == "oscillation" {
					// cells fight, are damped and wake while the driver runs
					small.Batch, large.Batch = 64, 64
				}
				c1 := runCase{spec: spec, p: small, maxMsgs: -1, local: local, damp: local}
				c2 := runCase{spec: spec, p: large, maxMsgs: -1, local: local, damp: local}
				a1, b1 := heapAfter(t, c1, s)
				a2, b2 := heapAfter(t, c2, s)
				if a2 > a1+100 || b2 > b1+1<<20 {
					t.Errorf("%s --shards %d: n=1e5 %d allocs %d bytes; n=1e6 %d allocs %d bytes (want < 100 allocs and < 1 MiB more)",
						c2, s, a1, b1, a2, b2)
				}
			}
		}
	}
}

func TestParamsText(t *testing.T) {
	p := workloads.BankingSpec.Defaults()
	want := "lexbench/1 workload=banking n=100000000 seed=1 batch=4096 banks=1 accounts=2"
	if got := workloads.BankingSpec.Text(p); got != want {
		t.Fatalf("params %q, want %q", got, want)
	}
	for _, s := range workloads.All {
		if !strings.Contains(s.Text(s.Defaults()), "workload="+s.Name+" ") {
			t.Errorf("%s: params text lacks the workload name", s.Name)
		}
	}
}

func TestParseParamsRoundTrips(t *testing.T) {
	const b = "lexbench/1 workload=banking n=1 seed=1 batch=1 banks=1 accounts=2"
	for _, c := range cases() {
		text := c.spec.Text(c.p)
		s, p, err := workloads.ParseParams(text)
		if err != nil || s != c.spec || p.N != c.p.N || p.Seed != c.p.Seed || p.Batch != c.p.Batch || !slices.Equal(p.K, c.p.K) {
			t.Fatalf("%q: %v %v %+v", text, err, s, p)
		}
	}
	for _, text := range []string{
		"", "lexbench/1", "lexbench/2 workload=banking n=1 seed=1 batch=1 banks=1 accounts=2",
		"lexbench/1 workload=nope n=1 seed=1 batch=1 banks=1 accounts=2",
		"lexbench/1 workload=banking n=01 seed=1 batch=1 banks=1 accounts=2",
		"lexbench/1 workload=banking n=1 seed=1 batch=0 banks=1 accounts=2",
		"lexbench/1 workload=banking n=1 seed=1 batch=1 banks=1 accounts=1",
		"lexbench/1 workload=banking n=1 seed=1 batch=1 accounts=2 banks=1",
		"lexbench/1 workload=banking n=1 seed=1 batch=1 banks=1 accounts=2 ",
		"lexbench/1 workload=banking n=-1 seed=1 batch=1 banks=1 accounts=2",
		// fault keys (SPEC §7): only with faults on, all five, in order, canonical, in range
		b + " drop=0 dup=0 delay=0 maxdelay=8 fseed=1",
		b + " drop=1 dup=0 delay=0 maxdelay=8",
		b + " dup=0 drop=1 delay=0 maxdelay=8 fseed=1",
		b + " drop=01 dup=0 delay=0 maxdelay=8 fseed=1",
		b + " drop=1 dup=0 delay=0 maxdelay=0 fseed=1",
		b + " drop=1 dup=0 delay=0 maxdelay=1025 fseed=1",
		b + " drop=1000001 dup=0 delay=0 maxdelay=8 fseed=1",
		b + " drop=500000 dup=500000 delay=1 maxdelay=8 fseed=1",
		b + " drop=4294967297 dup=0 delay=0 maxdelay=8 fseed=1",
		b + " drop=1 dup=0 delay=0 maxdelay=8 fseed=1 x=1",
		b + " drop=1 dup=0 delay=0 maxdelay=8 fseed=-1",
	} {
		if _, _, err := workloads.ParseParams(text); err == nil {
			t.Errorf("%q accepted", text)
		}
	}
	for _, f := range []engine.FaultParams{
		{Drop: 1, MaxDelay: 1},
		{Dup: 1_000_000, MaxDelay: 1024, Seed: 1<<64 - 1},
		{Drop: 333_333, Dup: 333_333, Delay: 333_334, MaxDelay: 8, Seed: 7},
	} {
		p := workloads.Params{N: 5, Seed: 2, Batch: 3, K: []uint64{1, 2}, Faults: f}
		text := workloads.BankingSpec.Text(p)
		s, got, err := workloads.ParseParams(text)
		if err != nil || s != &workloads.BankingSpec || got.N != p.N || got.Seed != p.Seed || got.Batch != p.Batch || !slices.Equal(got.K, p.K) || got.Faults != p.Faults || !trace.ParamsHaveFaults(text) {
			t.Errorf("%q: %v %+v", text, err, got)
		}
	}
	if trace.ParamsHaveFaults(b) {
		t.Errorf("%q has faults", b)
	}
}
