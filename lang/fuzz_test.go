package lang

import (
	"io"
	"os"
	"path/filepath"
	"testing"

	"github.com/lexbench/lexbench/engine"
	"github.com/lexbench/lexbench/workloads"
)

// FuzzCompile: the lexer, parser, checker and compiler never panic; a
// program that compiles also disassembles, and linked with small
// parameters it runs a few ticks without panicking (faults are errors).
func FuzzCompile(f *testing.F) {
	files, _ := filepath.Glob("../workloads/lxm/*.lxm")
	more, _ := filepath.Glob("testdata/*.lxm")
	proto, _ := filepath.Glob("testdata/prototype/*.lxm")
	shipped, _ := filepath.Glob("../workloads/lxm/*/*.lxm")
	more = append(append(more, proto...), shipped...)
	for _, p := range append(files, more...) {
		src, err := os.ReadFile(p)
		if err != nil {
			f.Fatal(err)
		}
		f.Add(string(src))
	}
	f.Add("workload w key a = 1 in 1..2 key b = 1 in 1..max type T { x: u64 on Tick() { while x < 1 { x += 1 } } } domains { t: T boots }")
	f.Add("type T { on X(a, b, c) { emit(1, 2) let y: i64 = a + -1 } }")
	f.Add("workload w const K = 3 const B: bool = true fn f(x: u64, y: bool) -> u64 { if y { return x -% K } else { return x - 1 } } " +
		"type T { x: u64 ok: bool on Tick() { ok = !ok && B  x = f(x, ok) } } domains { t: T boots } goal g { assert t().x < 5 || t().ok }")
	f.Fuzz(func(t *testing.T, src string) {
		p, err := Compile("fuzz.lxm", src)
		if err != nil {
			if _, ok := err.(*ErrorList); !ok {
				t.Fatalf("error of type %T", err)
			}
			return
		}
		p.Disasm(io.Discard)
		runSmall(p)
	})
}

// runSmall links p with small parameters and runs it for a few ticks.
func runSmall(p *Program) {
	pr := workloads.Params{N: 3, Seed: 1, Batch: 2, K: make([]uint64, len(p.Keys))}
	for i, k := range p.Keys {
		pr.K[i] = max(k.Min, min(k.Default, k.Max, 4))
	}
	w := p.link(pr)
	if w.err == nil && (w.d > 1<<12 || w.words > 1<<16) {
		return // too big for a fuzz iteration
	}
	w.budget = min(w.budget, 1<<14)
	var wl engine.Workload = w
	if p.hasGoals {
		wl = goalInstance{w}
	}
	_, _ = engine.Run(wl, engine.Config{Params: "fuzz", Shards: 1, MaxTicks: 6, MaxMsgs: 1 << 12})
	w.Figures()
	_ = w.Goals()
}
