package lang

import (
	"fmt"
	"testing"

	"github.com/lexbench/lexbench/engine"
	"github.com/lexbench/lexbench/trace"
	"github.com/lexbench/lexbench/workloads"
)

// memoCounter wraps a goal program and counts the deliveries made from
// the memo of a trial (the scratch's memo consumed during Deliver).
type memoCounter struct {
	goalInstance
	hits int
}

func (c *memoCounter) Deliver(out *engine.Outbox, msgs []trace.Entry) {
	sc, _ := out.Local.(*shardScratch)
	before := sc != nil && sc.memoD != 0
	c.goalInstance.Deliver(out, msgs)
	if before && out.Local.(*shardScratch).memoD == 0 {
		c.hits++
	}
}

// The paper's banking written literally delivers its Transfers from the
// memo of their trials, and the memo changes nothing: the same trace,
// state and figures as with every transition run, with the local
// strategies' memo off.
func TestLocalStrategiesAreDeliveredFromTheirTrials(t *testing.T) {
	for _, c := range []struct {
		file     string
		n, batch uint64
		memoed   int // at least this many deliveries from the memo
	}{
		{literalBanking, 2000, 1, 1998},
		{"../workloads/lxm/paper/banking_batched.lxm", 2000, 64, 30},
		{"../workloads/lxm/paper/sync.lxm", 20, 1, 0},
		{"../workloads/lxm/paper/conflict.lxm", 1, 1, 0},
	} {
		run := func(memo bool) (engine.Result, *memoCounter) {
			p := compileFile(t, c.file)
			if !memo {
				for _, ty := range p.types {
					for _, g := range ty.goals {
						g.local = false
					}
				}
			}
			pr := p.Spec().Defaults()
			pr.N, pr.Batch = c.n, c.batch
			w := &memoCounter{goalInstance: p.Spec().New(pr).(goalInstance)}
			res, err := engine.Run(w, engine.Config{Params: p.Spec().Text(pr), Shards: 1, MaxTicks: 1 << 20, MaxMsgs: -1})
			if err != nil {
				t.Fatal(err)
			}
			return res, w
		}
		with, w := run(true)
		without, wo := run(false)
		if w.hits < c.memoed || wo.hits != 0 {
			t.Errorf("%s: %d deliveries from the memo (want at least %d), %d with it off", c.file, w.hits, c.memoed, wo.hits)
		}
		if with.Trace != without.Trace || with.State != without.State || with.Outcome != without.Outcome ||
			fmtFigures(w.Figures()) != fmtFigures(wo.Figures()) {
			t.Errorf("%s: with the memo %016x %016x %v %v, without %016x %016x %v %v", c.file, with.Trace, with.State, with.Outcome,
				w.Figures(), without.Trace, without.State, without.Outcome, wo.Figures())
		}
	}
}

func fmtFigures(fs []workloads.Figure) string { return fmt.Sprint(fs) }

// A local strategy whose trial finds an invariant false is delivered from
// the memo and its delivery reports the violation, exactly as without the
// memo: the same tick, message, values, trace and state.
func TestMemoizedStrategyReportsItsViolation(t *testing.T) {
	src := `domain Counter {
  state { x: int  ok: bool }
  goal Ready { priority 200 target ok strategy { Start } }
  goal Count { priority 100 target x == 10 strategy { Step } }
  invariant Small { x < 7 }
  transition Start { step { ok = true } }
  transition Step { step { x = x + 1 } }
}
`
	var first string
	for _, memo := range []bool{true, false} {
		p := compileSrc(t, src)
		for _, ty := range p.types {
			for _, g := range ty.goals {
				g.local = g.local && memo
			}
		}
		w := &memoCounter{goalInstance: p.Spec().New(p.Spec().Defaults()).(goalInstance)}
		res, err := engine.Run(w, engine.Config{Params: p.Spec().Text(p.Spec().Defaults()), Shards: 1, MaxTicks: 1 << 10, MaxMsgs: -1})
		want := "invariant Counter.Small: tick 8, message (src 0, dst 0, kind Step, a 0, b 0) to domain 0 (Counter): t.lxm:5:3: x < 7 is false: x = 7"
		if err != nil || res.Outcome != engine.Violated || res.Violation.Error() != want || memo != (w.hits > 4) {
			t.Fatalf("memo %v: %v %v %v (%d from the memo), want violated: %s", memo, err, res.Outcome, res.Violation, w.hits, want)
		}
		got := fmt.Sprintf("%016x %016x %d %d", res.Trace, res.State, res.Ticks, res.Msgs)
		if first == "" {
			first = got
		} else if got != first {
			t.Fatalf("without the memo %s, with it %s", got, first)
		}
	}
}
