package workloads_test

import (
	"testing"

	"github.com/lexbench/lexbench/engine"
	"github.com/lexbench/lexbench/workloads"
)

// BenchmarkFaultLayer runs storm (n = 1e6, shards 1) without faults and
// with drop+dup+delay = 1000 ppm, and reports ns per delivered message:
// the ratio of the two is the fault layer's cost (docs/faults.md; the
// target is at most 1.5). Interleave with -count and compare with
// benchstat; scripts/faults-bench.sh measures the CLI at n = 1e8.
func BenchmarkFaultLayer(b *testing.B) {
	for _, c := range []struct {
		name string
		f    engine.FaultParams
	}{
		{"off", engine.FaultParams{}},
		{"faults", engine.FaultParams{Drop: 333, Dup: 333, Delay: 334, MaxDelay: 8, Seed: 1}},
	} {
		b.Run(c.name, func(b *testing.B) {
			p := workloads.StormSpec.Defaults()
			p.N, p.Faults = 1_000_000, c.f
			var msgs uint64
			for i := 0; i < b.N; i++ {
				res, err := engine.Run(workloads.StormSpec.New(p), engine.Config{Params: workloads.StormSpec.Text(p), Shards: 1,
					MaxTicks: -1, MaxMsgs: -1, Faults: c.f})
				if err != nil {
					b.Fatal(err)
				}
				msgs += res.Msgs
			}
			b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(msgs), "ns/msg")
		})
	}
}
