package lang

import (
	"runtime"
	"testing"

	"github.com/lexbench/lexbench/engine"
	"github.com/lexbench/lexbench/trace"
	"github.com/lexbench/lexbench/workloads"
)

// The per-tick cost of goal-directed programs (docs/language.md,
// Performance). The paper's banking written literally is one transfer
// per strategy message: 10^8 ticks of one message each. These benchmarks
// split a tick's cost between the engine and the language:
//
//	go test ./lang -run '^$' -bench 'Tick' -benchtime 2000000x -count 5
//
// BenchmarkTickFloor is the engine alone: a native workload whose one
// domain sends itself one message per tick (no goals, no interpreter).
// BenchmarkTickLiteralBanking is the program: the same ticks, each with
// its transfer, invariant, reconciliation (targets, a trial run).

// selfPing is a native workload of one domain that sends itself a message
// per tick until it has received n.
type selfPing struct {
	n  uint64
	st []uint64
}

func (w *selfPing) Domains() uint32             { return 1 }
func (w *selfPing) StateWords() int             { return 1 }
func (w *selfPing) Init(words []uint64)         { w.st = words }
func (w *selfPing) Span(uint32) (int, int)      { return 0, 1 }
func (w *selfPing) Boots(uint32) bool           { return true }
func (w *selfPing) Weight(uint32) uint64        { return 1 }
func (w *selfPing) Goals() error                { return nil }
func (w *selfPing) Figures() []workloads.Figure { return nil }
func (w *selfPing) Deliver(out *engine.Outbox, msgs []trace.Entry) {
	for range msgs {
		if w.st[0]++; w.st[0] < w.n {
			out.Emit(0, 0, trace.KindTick, 0, 0)
		}
	}
}

func BenchmarkTickFloor(b *testing.B) {
	w := &selfPing{n: uint64(b.N)}
	stop := startTick(b)
	res, err := engine.Run(w, engine.Config{Params: "floor", Shards: 1, MaxTicks: -1, MaxMsgs: -1})
	if err != nil || res.Msgs != uint64(b.N) {
		b.Fatal(err, res.Msgs)
	}
	stop(res.Ticks)
}

// literalBanking is the paper's banking written literally:
// workloads/lxm/paper/banking.lxm.
const literalBanking = "../workloads/lxm/paper/banking.lxm"

func BenchmarkTickLiteralBanking(b *testing.B) {
	p := compileFile(b, literalBanking)
	pr := p.Spec().Defaults()
	pr.N = uint64(b.N)
	w := p.Spec().New(pr)
	stop := startTick(b)
	res, err := engine.Run(w, engine.Config{Params: p.Spec().Text(pr), Shards: 1, MaxTicks: -1, MaxMsgs: -1})
	if err != nil || res.Outcome != engine.Converged || res.Msgs != uint64(b.N)+1 {
		b.Fatal(err, res.Outcome, res.Msgs)
	}
	stop(res.Ticks)
}

// selfPingEnder is selfPing with an EndTick that does nothing: the
// engine's cost of a TickEnder.
type selfPingEnder struct{ selfPing }

func (w *selfPingEnder) EndTick(*engine.Outbox) {}

func BenchmarkTickFloorEnder(b *testing.B) {
	w := &selfPingEnder{selfPing{n: uint64(b.N)}}
	stop := startTick(b)
	res, err := engine.Run(w, engine.Config{Params: "floor", Shards: 1, MaxTicks: -1, MaxMsgs: -1})
	if err != nil || res.Msgs != uint64(b.N) {
		b.Fatal(err, res.Msgs)
	}
	stop(res.Ticks)
}

// startTick starts timing a run on this goroutine's thread; the returned
// func reports ns/tick and, where the OS says, cpu-ns/tick (the thread's
// CPU time per tick: on a loaded machine it leaves out the time other
// processes had the core, so it is the steadier figure for comparisons).
func startTick(b *testing.B) func(ticks uint64) {
	runtime.LockOSThread()
	b.ResetTimer()
	c0, ok := threadCPU()
	return func(ticks uint64) {
		c1, _ := threadCPU()
		b.StopTimer()
		runtime.UnlockOSThread()
		b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(ticks), "ns/tick")
		if ok {
			b.ReportMetric(float64(c1-c0)/float64(ticks), "cpu-ns/tick")
		}
	}
}
