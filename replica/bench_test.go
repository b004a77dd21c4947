package replica

import (
	"context"
	"fmt"
	"os"
	"strconv"
	"testing"

	"github.com/lexbench/lexbench/engine"
	"github.com/lexbench/lexbench/snapshot"
	"github.com/lexbench/lexbench/workloads"
)

// benchN is the n of the benchmarks: $LEXBENCH_BENCH_N, default 1e7
// (banking, SPEC §5.1; issue 19 measures at 1e7 on loopback).
func benchN(b testing.TB) uint64 {
	if s := os.Getenv("LEXBENCH_BENCH_N"); s != "" {
		n, err := strconv.ParseFloat(s, 64)
		if err != nil {
			b.Fatal(err)
		}
		return uint64(n)
	}
	return 10_000_000
}

func benchRun(b testing.TB, seed uint64) *Run {
	return &Run{Spec: &workloads.BankingSpec, P: workloads.Params{N: benchN(b), Seed: seed, Batch: 4096, K: []uint64{1, 2}}, Opts: snapshot.DefaultOptions()}
}

// BenchmarkStreamPublish measures publishing banking's input to the
// embedded server on loopback: each iteration publishes a whole run into
// a new stream (ops/s: input operations per second).
func BenchmarkStreamPublish(b *testing.B) {
	c := connect(b)
	ctx := context.Background()
	var ops, bytes uint64
	for i := 0; i < b.N; i++ {
		run := benchRun(b, uint64(1000+i))
		rep, err := Publish(ctx, c, run, PublishOptions{})
		if err != nil {
			b.Fatal(err)
		}
		ops, bytes = ops+rep.Ops, bytes+rep.Bytes
		b.StopTimer()
		_ = c.js.DeleteStream(ctx, run.StreamName())
		_ = c.js.DeleteKeyValue(ctx, run.BucketName())
		b.StartTimer()
	}
	b.ReportMetric(float64(ops)/b.Elapsed().Seconds(), "ops/s")
	b.ReportMetric(float64(bytes)/float64(ops), "B/input-op")
}

// BenchmarkReplicaApply measures a replica reading a complete stream
// (published once, before the timer) and executing the run, against
// BenchmarkSingleNode, the same run without a stream.
func BenchmarkReplicaApply(b *testing.B) {
	c := connect(b)
	ctx := context.Background()
	run := benchRun(b, 1)
	if _, err := Publish(ctx, c, run, PublishOptions{}); err != nil {
		b.Fatal(err)
	}
	var msgs uint64
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		rep, err := RunReplica(ctx, c, run, ReplicaOptions{Name: fmt.Sprintf("bench%d", i), Shards: 1})
		if err != nil {
			b.Fatal(err)
		}
		msgs += rep.Result.Msgs
	}
	b.ReportMetric(float64(run.P.N*uint64(b.N))/b.Elapsed().Seconds(), "ops/s")
	b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(msgs), "ns/msg")
}

// BenchmarkSingleNode is the single-node run of BenchmarkReplicaApply's
// run (with a scratch journal region, as the replica's hash tap has).
func BenchmarkSingleNode(b *testing.B) {
	run := benchRun(b, 1)
	var msgs uint64
	for i := 0; i < b.N; i++ {
		cfg := run.Config(1)
		cfg.Journal = &hashTap{add: func(uint64, uint64) error { return nil }}
		res, err := engine.Run(run.New(), cfg)
		if err != nil {
			b.Fatal(err)
		}
		msgs += res.Msgs
	}
	b.ReportMetric(float64(run.P.N*uint64(b.N))/b.Elapsed().Seconds(), "ops/s")
	b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(msgs), "ns/msg")
}
