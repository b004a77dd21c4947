package lang

import (
	"os"
	"path/filepath"
	"runtime"
	"slices"
	"strings"
	"testing"

	"github.com/lexbench/lexbench/engine"
	"github.com/lexbench/lexbench/trace"
	"github.com/lexbench/lexbench/workloads"
)

func compileFile(t testing.TB, path string) *Program {
	t.Helper()
	src, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	p, err := Compile(path, string(src))
	if err != nil {
		t.Fatal(err)
	}
	return p
}

func runProgram(t testing.TB, p *Program, pr workloads.Params, shards int) (engine.Result, workloads.Workload) {
	t.Helper()
	sp := p.Spec()
	w := sp.New(pr)
	res, err := engine.Run(w, engine.Config{Params: sp.Text(pr), Shards: shards, MaxTicks: -1, MaxMsgs: -1})
	if err != nil {
		t.Fatalf("%s shards=%d: %v", sp.Text(pr), shards, err)
	}
	return res, w
}

func params(p *Program, n, seed uint64) workloads.Params {
	pr := p.Spec().Defaults()
	pr.N, pr.Seed = n, seed
	return pr
}

func TestElectionConvergesToOneLeaderPerRingOnEveryShardCount(t *testing.T) {
	p := compileFile(t, "../workloads/lxm/election.lxm")
	for _, seed := range []uint64{1, 2, 3, 99} {
		for _, k := range [][]uint64{{64, 16}, {1, 1}, {3, 7}, {200, 2}} {
			pr := params(p, 500, seed)
			pr.K = k
			var first engine.Result
			for i, s := range []int{1, 2, 3, 7} {
				res, w := runProgram(t, p, pr, s)
				if res.Outcome != engine.Converged {
					t.Fatalf("%s shards=%d: outcome %v: %v", p.Spec().Text(pr), s, res.Outcome, res.Violation)
				}
				if i == 0 {
					first = res
					// every ring some node woke elected exactly one leader
					if f := w.Figures(); len(f) != 1 || f[0].Name != "leaders" || f[0].Value == 0 || f[0].Value > k[0] {
						t.Fatalf("%s: figures %v", p.Spec().Text(pr), f)
					}
					continue
				}
				if res.Trace != first.Trace || res.State != first.State || res.Msgs != first.Msgs {
					t.Fatalf("%s: shards=%d gives trace %016x state %016x, shards=1 %016x %016x",
						p.Spec().Text(pr), s, res.Trace, res.State, first.Trace, first.State)
				}
			}
		}
	}
}

func TestElectionWithNoWakesHasNoLeader(t *testing.T) {
	p := compileFile(t, "../workloads/lxm/election.lxm")
	res, w := runProgram(t, p, params(p, 0, 1), 2)
	if res.Outcome != engine.Converged || w.Figures()[0].Value != 0 {
		t.Fatalf("n=0: %v %v figures %v", res.Outcome, res.Violation, w.Figures())
	}
}

func TestBrokenElectionViolatesItsGoal(t *testing.T) {
	p := compileFile(t, "testdata/election-broken.lxm")
	for _, s := range []int{1, 2, 3} {
		res, _ := runProgram(t, p, params(p, 1000, 1), s)
		if res.Outcome != engine.Violated {
			t.Fatalf("shards=%d: outcome %v, want violated", s, res.Outcome)
		}
		// the first 10 failures, each with the source text as written and
		// the value of every sub-expression, then a note that there are more
		lines := strings.Split(res.Violation.Error(), "\n")
		if len(lines) != 11 || lines[10] != "(more failures: the first 10 are shown)" {
			t.Fatalf("violation %q", lines)
		}
		for _, l := range lines[:10] {
			if !strings.HasPrefix(l, "goal one_leader_per_ring: testdata/election-broken.lxm:97:17: assert node(g, j).leader == top failed: node(g, j).leader = ") ||
				!strings.Contains(l, ", node(g, j) = ") || !strings.Contains(l, ", g = 0, j = ") || !strings.Contains(l, ", top = ") || !strings.HasSuffix(l, " (woke = 1)") {
				t.Fatalf("violation line %q", l)
			}
		}
	}
}

func TestProgramsAgreeWithNativeWorkloads(t *testing.T) {
	for _, spec := range workloads.All {
		p := compileFile(t, filepath.Join("../workloads/lxm", spec.Name+".lxm"))
		if p.Name != spec.Name || !slices.Equal(p.Keys, spec.Keys) {
			t.Fatalf("%s: name %s keys %+v, want %+v", spec.Name, p.Name, p.Keys, spec.Keys)
		}
		for _, seed := range []uint64{1, 7} {
			for _, batch := range []uint64{1, 5, 4096} {
				pr := spec.Defaults()
				pr.N, pr.Seed, pr.Batch = min(3000, 100*batch), seed, batch // few ticks: the race detector makes barriers slow
				want, err := engine.Run(spec.New(pr), engine.Config{Params: spec.Text(pr), Shards: 1, MaxTicks: -1, MaxMsgs: -1})
				if err != nil {
					t.Fatal(err)
				}
				for _, s := range []int{1, 3} {
					got, w := runProgram(t, p, pr, s)
					if got.Trace != want.Trace || got.State != want.State || got.Outcome != want.Outcome || got.Ticks != want.Ticks {
						t.Errorf("%s shards=%d: %016x %016x %v %d, native %016x %016x %v %d", spec.Text(pr), s,
							got.Trace, got.State, got.Outcome, got.Ticks, want.Trace, want.State, want.Outcome, want.Ticks)
					}
					native := spec.New(pr)
					_, _ = engine.Run(native, engine.Config{Params: spec.Text(pr), Shards: 1, MaxTicks: -1, MaxMsgs: -1})
					if gf, nf := w.Figures(), native.Figures(); len(gf) != len(nf) || len(gf) > 0 && gf[0] != nf[0] {
						t.Errorf("%s: figures %v, native %v", spec.Text(pr), gf, nf)
					}
				}
			}
		}
	}
}

// prepared links a program and runs its init, without the engine.
func prepared(t testing.TB, path string, pr workloads.Params) *instance {
	p := compileFile(t, path)
	w := p.link(pr)
	if w.err != nil {
		t.Fatal(w.err)
	}
	w.Init(make([]uint64, w.StateWords()))
	return w
}

func TestInterpretedMessageDoesNotAllocate(t *testing.T) {
	// Messages that emit nothing: a bank's transfers, a consumer's data.
	bank := prepared(t, "../workloads/lxm/banking.lxm", workloads.Params{N: 1, Seed: 1, Batch: 1, K: []uint64{4, 8}})
	storm := prepared(t, "../workloads/lxm/storm.lxm", workloads.Params{N: 1, Seed: 1, Batch: 1, K: []uint64{2, 64}})
	transfers := make([]trace.Entry, 4096)
	data := make([]trace.Entry, 4096)
	for i := range transfers {
		transfers[i] = trace.Entry{Dst: uint32(1 + i%4), Kind: trace.KindTransfer, A: uint64(i%8) | uint64((i+1)%8)<<32, B: uint64(i % 1000)}
		data[i] = trace.Entry{Src: 0, Dst: uint32(2 + i%64), Kind: trace.KindData, A: uint64(i) * 0x9E3779B97F4A7C15, B: uint64(i)}
	}
	var out engine.Outbox
	if a := testing.AllocsPerRun(20, func() { bank.Deliver(&out, transfers) }); a != 0 {
		t.Errorf("banking: %v allocations per Deliver of %d transfers", a, len(transfers))
	}
	if a := testing.AllocsPerRun(20, func() { storm.Deliver(&out, data) }); a != 0 {
		t.Errorf("storm: %v allocations per Deliver of %d messages", a, len(data))
	}
	// Whole runs, generators and emitting handlers included: the fixed setup
	// (link, arena, outbox growth) is not per message.
	for _, w := range []string{"banking", "storm", "sync", "conflict"} {
		p := compileFile(t, filepath.Join("../workloads/lxm", w+".lxm"))
		pr := params(p, 200_000, 1)
		var ms0, ms1 runtime.MemStats
		runtime.GC()
		runtime.ReadMemStats(&ms0)
		res, _ := runProgram(t, p, pr, 1)
		runtime.ReadMemStats(&ms1)
		if per := float64(ms1.Mallocs-ms0.Mallocs) / float64(res.Msgs); per > 0.001 {
			t.Errorf("%s: %.4f allocations per message (%d over %d messages)", w, per, ms1.Mallocs-ms0.Mallocs, res.Msgs)
		}
	}
}

func BenchmarkCompile(b *testing.B) {
	files, _ := filepath.Glob("../workloads/lxm/*.lxm")
	for _, f := range files {
		src, err := os.ReadFile(f)
		if err != nil {
			b.Fatal(err)
		}
		b.Run("program="+strings.TrimSuffix(filepath.Base(f), ".lxm"), func(b *testing.B) {
			b.ReportAllocs()
			for b.Loop() {
				if _, err := Compile(f, string(src)); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}

// BenchmarkDeliver is the interpreter alone on a prepared batch.
func BenchmarkDeliver(b *testing.B) {
	bank := prepared(b, "../workloads/lxm/banking.lxm", workloads.Params{N: 1, Seed: 1, Batch: 1, K: []uint64{1, 2}})
	transfers := make([]trace.Entry, 4096)
	for i := range transfers {
		transfers[i] = trace.Entry{Dst: 1, Kind: trace.KindTransfer, A: uint64(i%2) | uint64((i+1)%2)<<32, B: uint64(i % 1000)}
	}
	var out engine.Outbox
	b.Run("handler=Bank.Transfer", func(b *testing.B) {
		for b.Loop() {
			bank.Deliver(&out, transfers)
		}
		b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(b.N*len(transfers)), "ns/msg")
	})
	storm := prepared(b, "../workloads/lxm/storm.lxm", workloads.Params{N: 1, Seed: 1, Batch: 1, K: []uint64{2, 1024}})
	data := make([]trace.Entry, 4096)
	for i := range data {
		data[i] = trace.Entry{Dst: uint32(2 + (i*7919)%1024), Kind: trace.KindData, A: uint64(i) * 0x9E3779B97F4A7C15, B: uint64(i)}
	}
	b.Run("handler=Consumer.Data", func(b *testing.B) {
		for b.Loop() {
			storm.Deliver(&out, data)
		}
		b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(b.N*len(data)), "ns/msg")
	})
}

// BenchmarkGenerator is the banking driver's Tick alone: one vectorized
// loop of batch transfers, into a zero engine.Outbox emptied with Reset
// as the engine empties its own every tick.
func BenchmarkGenerator(b *testing.B) {
	for _, name := range []string{"banking", "storm"} {
		w := prepared(b, "../workloads/lxm/"+name+".lxm", workloads.Params{N: 1 << 62, Seed: 1, Batch: 4096, K: []uint64{1, 2}})
		if name == "storm" {
			w = prepared(b, "../workloads/lxm/storm.lxm", workloads.Params{N: 1 << 62, Seed: 1, Batch: 4096, K: []uint64{1, 1024}})
		}
		tick := []trace.Entry{{Kind: trace.KindTick}}
		b.Run("program="+name, func(b *testing.B) {
			var out engine.Outbox
			for b.Loop() {
				out.Reset()
				w.Deliver(&out, tick)
			}
			b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(b.N*4096), "ns/op-generated")
		})
	}
}
