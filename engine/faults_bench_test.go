package engine

import (
	"testing"

	"github.com/lexbench/lexbench/trace"
)

// BenchmarkFaultDecisions: the fault layer's walk over one tick of storm's
// shape (two srcs of 4097 messages each, 1000 ppm in all), per message.
func BenchmarkFaultDecisions(b *testing.B) {
	r := &run{flt: newFaultLayer(FaultParams{Drop: 333, Dup: 333, Delay: 334, MaxDelay: 8, Seed: 1}), bits: 11}
	sh := &shard{}
	es := make([]trace.Entry, 2*4097)
	for i := range es {
		es[i] = trace.Entry{Tick: 5, Src: uint32(i / 4097), Dst: 2 + uint32(i%1024), A: uint64(i)}
	}
	b.ResetTimer()
	for k := 0; k < b.N; k++ {
		r.flt.seed = uint64(k) // other decisions each time
		sh.gone = r.sortOut(sh, es, 5, sh.gone[:0])
		if sh.late.n > 1000 {
			sh.late.clear()
		}
	}
	b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(b.N)/float64(len(es)), "ns/msg")
}
