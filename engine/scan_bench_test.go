package engine

import (
	"fmt"
	"testing"

	"github.com/lexbench/lexbench/trace"
)

// BenchmarkScan measures finishOutput's pass over an outbox per message,
// under global and local detection, for a storm-like tick (one producer
// emitting 4096 messages to 1024 consumers, its own cell each) and a
// banking-like one (4096 messages to one bank, then the driver's Tick);
// local-shared is the scan of a run with several shards (atomic input
// marks).
func BenchmarkScan(b *testing.B) {
	const d = 1 + 1024
	storm := make([]trace.Entry, 4097)
	rng := uint64(1)
	for i := range storm[:4096] {
		rng = rng*6364136223846793005 + 1442695040888963407
		storm[i] = trace.Entry{Tick: 1, Src: 0, Dst: 1 + uint32(rng>>33)%1024, Kind: trace.KindData, A: rng}
	}
	storm[4096] = trace.Entry{Tick: 1, Src: 0, Dst: 0}
	banking := make([]trace.Entry, 4097)
	for i := range banking[:4096] {
		banking[i] = trace.Entry{Tick: 1, Src: 0, Dst: 1, Kind: trace.KindTransfer, A: uint64(i)}
	}
	banking[4096] = trace.Entry{Tick: 1, Src: 0, Dst: 0}
	for _, c := range []struct {
		name string
		es   []trace.Entry
	}{{"storm", storm}, {"banking", banking}} {
		for _, detect := range []string{"global", "local", "local-shared"} {
			b.Run(fmt.Sprintf("tick=%s/detect=%s", c.name, detect), func(b *testing.B) {
				sh := &shard{}
				r := &run{d: d, shards: []*shard{sh}}
				r.det.on, r.det.stamp, r.det.epoch = detect == "global", make([]uint32, d), 1
				L := &r.loc
				L.on = detect != "global"
				shared := detect == "local-shared"
				L.cellLayout = &cellLayout{of: make([]uint32, d)}
				for i := range L.of {
					L.of[i] = uint32(i)
				}
				L.lastInput, L.act, L.recv = make([]uint32, d), make([]uint64, d), make([]uint32, d)
				b.ReportAllocs()
				b.ResetTimer()
				for i := 0; i < b.N; i++ {
					sh.out.tick = uint32(i)
					if L.on {
						L.scan(sh, c.es, d, shared)
					} else {
						r.scanOutput(sh, c.es, false)
					}
				}
				b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(b.N*len(c.es)), "ns/msg")
			})
		}
	}
}
