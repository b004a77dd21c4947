package sim_test

import (
	"testing"

	"github.com/lexbench/lexbench/engine"
	"github.com/lexbench/lexbench/sim"
	"github.com/lexbench/lexbench/workloads"
)

// BenchmarkSeedStorm is one seed of `lexbench sim storm -n 1e4 --drop 100`
// on one worker: the cost of a seed (setup included).
func BenchmarkSeedStorm(b *testing.B) {
	p := workloads.StormSpec.Defaults()
	p.N = 10_000
	t := &sim.Target{Spec: &workloads.StormSpec, Params: p, Faults: engine.FaultParams{Drop: 100, MaxDelay: 8},
		MaxTicks: sim.DefaultBudget, MaxMsgs: -1, Shards: 1}
	var buf engine.Buffers
	b.ReportAllocs()
	for i := 0; b.Loop(); i++ {
		t.Run(uint64(i), &buf)
	}
}

// BenchmarkSeedStormNoFaults is one seed of `lexbench sim storm -n 1e4`
// (faults off: oscillation detection runs).
func BenchmarkSeedStormNoFaults(b *testing.B) {
	p := workloads.StormSpec.Defaults()
	p.N = 10_000
	t := &sim.Target{Spec: &workloads.StormSpec, Params: p, MaxTicks: sim.DefaultBudget, MaxMsgs: -1, Shards: 1}
	var buf engine.Buffers
	b.ReportAllocs()
	for i := 0; b.Loop(); i++ {
		t.Run(uint64(i), &buf)
	}
}
