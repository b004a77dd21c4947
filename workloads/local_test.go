package workloads_test

import (
	"fmt"
	"testing"

	"pgregory.net/rapid"

	"github.com/lexbench/lexbench/engine"
	"github.com/lexbench/lexbench/internal/refmodel"
	"github.com/lexbench/lexbench/workloads"
)

// TestLocalDetectionOnRandomParamsMatchesTheReferenceModel: every native
// workload with random small parameters, --detect local, halt or damp,
// sometimes a budget, at a random shard count, prints what the reference
// model computes (SPEC §5.7 over full cell configurations): hashes,
// outcome, ticks, messages, figures and the oscillation line.
func TestLocalDetectionOnRandomParamsMatchesTheReferenceModel(t *testing.T) {
	rapid.Check(t, func(t *rapid.T) {
		spec := workloads.All[rapid.IntRange(0, len(workloads.All)-1).Draw(t, "workload")]
		p := workloads.Params{
			N:     rapid.Uint64Range(0, 3000).Draw(t, "n"),
			Seed:  rapid.Uint64Range(0, 20).Draw(t, "seed"),
			Batch: rapid.Uint64Range(1, 600).Draw(t, "batch"),
			K:     make([]uint64, len(spec.Keys)),
		}
		for i, k := range spec.Keys {
			p.K[i] = rapid.Uint64Range(k.Min, min(k.Max, k.Min+40)).Draw(t, k.Name)
		}
		c := runCase{spec: spec, p: p, maxMsgs: -1, local: true, damp: rapid.Bool().Draw(t, "damp")}
		if rapid.IntRange(0, 3).Draw(t, "budget") == 0 {
			c.maxMsgs = int64(rapid.Uint64Range(0, 5000).Draw(t, "max-msgs"))
		}
		shards := rapid.IntRange(1, 7).Draw(t, "shards")
		w := spec.New(p)
		got, err := engine.Run(w, c.config(shards))
		if err != nil {
			t.Fatalf("lexbench %s --shards %d: %v", c, shards, err)
		}
		ref := refmodel.Run(refmodel.Params{Workload: spec.Name, N: p.N, Seed: p.Seed, Batch: p.Batch,
			K1: p.K[0], K2: p.K[1], MaxTicks: -1, MaxMsgs: c.maxMsgs, Damp: c.damp, Local: true})
		osc := ""
		if o := got.Oscillation; o != nil {
			osc = fmt.Sprintf("tick=%d period=%d domains=%d cells=%d", o.Tick, o.Period, o.Domains, o.Cells)
		}
		var figs []string
		for _, f := range w.Figures() {
			figs = append(figs, fmt.Sprintf("%s: %d", f.Name, f.Value))
		}
		if c.damp && got.Oscillation != nil {
			figs = append(figs, fmt.Sprintf("dropped: %d", got.Dropped))
		}
		e := fmt.Sprintf("%016x %016x %v ticks %d msgs %d osc %q figs %v", got.Trace, got.State, got.Outcome, got.Ticks, got.Msgs, osc, figs)
		r := fmt.Sprintf("%016x %016x %s ticks %d msgs %d osc %q figs %v", ref.Trace, ref.State, ref.Outcome, ref.Ticks, ref.Msgs, ref.Oscillation, ref.Figures)
		if e != r {
			t.Fatalf("lexbench %s --shards %d:\nengine    %s\nreference %s", c, shards, e, r)
		}
	})
}
