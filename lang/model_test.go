package lang

import (
	"fmt"
	"os"
	"strings"
	"testing"

	"github.com/lexbench/lexbench/engine"
	"github.com/lexbench/lexbench/workloads"
)

// runAt runs p linked with pr at each shard count; every count must give
// the same trace, state, outcome, ticks, messages, figures and error. It
// returns the first result, workload and error.
func runAt(t *testing.T, p *Program, pr workloads.Params, cfg engine.Config, shards ...int) (engine.Result, workloads.Workload, error) {
	t.Helper()
	var first engine.Result
	var firstW workloads.Workload
	var firstErr error
	for i, s := range shards {
		w := p.Spec().New(pr)
		c := cfg
		c.Params, c.Shards = p.Spec().Text(pr), s
		res, err := engine.Run(w, c)
		if i == 0 {
			first, firstW, firstErr = res, w, err
			continue
		}
		// after an error (a fault) the state is what each shard left: only
		// the error must be the same
		if fmt.Sprint(err) != fmt.Sprint(firstErr) || err == nil && (res.Trace != first.Trace || res.State != first.State ||
			res.Outcome != first.Outcome || res.Ticks != first.Ticks || res.Msgs != first.Msgs ||
			fmt.Sprint(w.Figures()) != fmt.Sprint(firstW.Figures())) {
			t.Fatalf("%s: shards=%d: %v %016x %016x %v ticks %d msgs %d %v; shards=%d: %v %016x %016x %v ticks %d msgs %d %v", p.File,
				s, err, res.Trace, res.State, res.Outcome, res.Ticks, res.Msgs, w.Figures(),
				shards[0], firstErr, first.Trace, first.State, first.Outcome, first.Ticks, first.Msgs, firstW.Figures())
		}
	}
	return first, firstW, firstErr
}

// runCfg has a budget so that a test whose run would not end fails.
func runCfg() engine.Config { return engine.Config{MaxTicks: 1 << 20, MaxMsgs: -1} }

// The five programs of the prototype's shape (background: prototype-
// programs.md) end exactly as documented, at every shard count.
func TestPrototypeProgramsEndAsDocumented(t *testing.T) {
	for _, c := range []struct {
		file        string
		outcome     engine.Outcome
		state       uint64
		msgs, ticks uint64
		suppressed  uint64
		osc         *engine.Oscillation
	}{
		{"conflict", engine.Converged, 0x89be0b2dd5c2593d, 5, 6, 1, nil},
		{"oscillation", engine.Oscillating, 0x34c96acdcadb1bbb, 2, 3, 0, &engine.Oscillation{Tick: 3, Period: 2, Domains: 1}},
		{"sync", engine.Converged, 0x1d50f5eb5a06fa14, 21, 6, 0, nil},
		{"banking", engine.Converged, 0xe433769fff947c99, 1001, 1002, 0, nil},
		{"storm", engine.Converged, 0xbd4df6fe73c6f392, 3000, 1002, 0, nil},
	} {
		p := compileFile(t, "testdata/prototype/"+c.file+".lxm")
		pr := p.Spec().Defaults()
		if got, want := p.Spec().Text(pr), "lexbench/1 workload="+c.file+" n=100000000 seed=1 batch=4096"; got != want {
			t.Errorf("%s: params %q, want %q", c.file, got, want)
		}
		res, w, err := runAt(t, p, pr, runCfg(), 1, 2, 3, 7)
		if err != nil {
			t.Fatalf("%s: %v", c.file, err)
		}
		if res.Outcome != c.outcome || res.State != c.state || res.Msgs != c.msgs || res.Ticks != c.ticks ||
			figure(t, w, "suppressed") != c.suppressed || fmt.Sprint(res.Oscillation) != fmt.Sprint(c.osc) {
			t.Errorf("%s: %v state %016x msgs %d ticks %d suppressed %d oscillation %v; want %v %016x %d %d %d %v", c.file,
				res.Outcome, res.State, res.Msgs, res.Ticks, figure(t, w, "suppressed"), res.Oscillation,
				c.outcome, c.state, c.msgs, c.ticks, c.suppressed, c.osc)
		}
	}
}

// Without send_to:ConsumerB, the producer's Blast faults at tick 1 naming
// Producer, ConsumerB and Blast, at every shard count.
func TestPrototypeCapabilityIsEnforced(t *testing.T) {
	src, err := os.ReadFile("testdata/prototype/storm.lxm")
	if err != nil {
		t.Fatal(err)
	}
	p := compileSrc(t, strings.Replace(string(src), ", send_to:ConsumerB", "", 1))
	_, _, err = runAt(t, p, p.Spec().Defaults(), runCfg(), 1, 2, 3, 7)
	want := "t.lxm:5:85: tick 1, domain 0 (Producer), Producer.Blast: Producer may not send to ConsumerB: its capabilities (messaging, send_to:ConsumerA) do not name send_to:ConsumerB or root"
	if err == nil || err.Error() != want {
		t.Fatalf("%v, want %s", err, want)
	}
	// a transition's own capability grants it too; root grants everything
	for _, c := range []string{
		strings.Replace(string(src), "transition Blast { step {", "transition Blast { capability { send_to:ConsumerB } step {", 1),
		strings.Replace(string(src), "capability { messaging, send_to:ConsumerA, send_to:ConsumerB }", "capability { root }", 1),
	} {
		p := compileSrc(t, c)
		if res, _, err := runAt(t, p, p.Spec().Defaults(), runCfg(), 1, 2); err != nil || res.Msgs != 3000 {
			t.Errorf("%v %d msgs:\n%s", err, res.Msgs, c)
		}
	}
}

const pool = `domain Pool {
  state { workers: int }
  goal DesireFive { priority 100 target workers == 5 strategy { Grow } }
  goal DesireThree { priority 50 target workers == 3 strategy { Shrink } }
  transition Grow { step { workers = workers + 1 } }
  transition Shrink { step { workers = workers - 1 } }
}
`

// The workers conflict (paper experiment 4): 0→1→…→5, then
// DesireThree's −1 would break DesireFive: it is suppressed, and the run
// converges at 5. Swapping the priorities converges at 3 instead.
func TestWorkersConflictConvergesAtFiveWithDesireThreeSuppressed(t *testing.T) {
	p := compileSrc(t, pool)
	res, w, err := runAt(t, p, p.Spec().Defaults(), runCfg(), 1, 2, 3, 7)
	if err != nil || res.Outcome != engine.Converged {
		t.Fatalf("%v %v", err, res.Outcome)
	}
	if res.Words[0] != 5 || res.Msgs != 5 || res.Ticks != 6 {
		t.Fatalf("workers %d msgs %d ticks %d, want 5, 5, 6", res.Words[0], res.Msgs, res.Ticks)
	}
	sup := w.(goalInstance).Suppressed()
	want := "domain 0 (Pool): goal DesireThree (priority 50) suppressed: target workers == 3 is false: workers = 5; its strategy Shrink would make DesireFive false"
	if len(sup) != 1 || sup[0].Name != "Pool.DesireThree" || sup[0].Text != want || figure(t, w, "suppressed") != 1 {
		t.Fatalf("suppressed %+v, want one: %s", sup, want)
	}
	// priorities swapped, from 8 (the lexbench shape, with transitions):
	// DesireThree wins at 3 (8 → 7 → … → 3; DesireFive's +1 would break it)
	p = compileSrc(t, `workload pool
type Pool {
    workers: i64
    goal DesireFive { priority 50 target workers == 5 strategy { Grow } }
    goal DesireThree { priority 100 target workers == 3 strategy { Shrink } }
    init { workers = 8 }
    transition Grow { step { workers += 1 } }
    transition Shrink { step { workers -= 1 } }
}
domains { pool: Pool }
`)
	res, w, err = runAt(t, p, p.Spec().Defaults(), runCfg(), 1, 3)
	if err != nil || res.Outcome != engine.Converged || res.Words[0] != 3 || res.Msgs != 5 ||
		w.(goalInstance).Suppressed()[0].Name != "Pool.DesireFive" {
		t.Fatalf("swapped: %v %v workers %d msgs %d", err, res.Outcome, res.Words[0], res.Msgs)
	}
	// equal priorities: declaration order decides (DesireFive first)
	p = compileSrc(t, strings.Replace(pool, "priority 50", "priority 100", 1))
	res, _, err = runAt(t, p, p.Spec().Defaults(), runCfg(), 1, 3)
	if err != nil || res.Outcome != engine.Converged || res.Words[0] != 5 {
		t.Fatalf("equal priorities: %v %v workers %d", err, res.Outcome, res.Words[0])
	}
}

// The flag flip (paper experiment 5): `flag == 2` never holds; C(1) = C(3)
// (SPEC §5.6), so it oscillates at tick 3 with period 2. Damp drops tick
// 3's message and quiesces at 4.
func TestFlagFlipOscillatesWithPeriodTwoAtTickThree(t *testing.T) {
	p := compileFile(t, "testdata/prototype/oscillation.lxm")
	res, _, err := runAt(t, p, p.Spec().Defaults(), runCfg(), 1, 2, 3, 7)
	if err != nil || res.Outcome != engine.Oscillating || *res.Oscillation != (engine.Oscillation{Tick: 3, Period: 2, Domains: 1}) ||
		res.Ticks != 3 || res.Msgs != 2 || res.Words[0] != 0 {
		t.Fatalf("%v %v %+v ticks %d msgs %d flag %d", err, res.Outcome, res.Oscillation, res.Ticks, res.Msgs, res.Words[0])
	}
	cfg := runCfg()
	cfg.Damp = true
	res, _, err = runAt(t, p, p.Spec().Defaults(), cfg, 1, 2, 3, 7)
	if err != nil || res.Outcome != engine.Damped || res.Ticks != 4 || res.Dropped != 1 || res.Msgs != 2 {
		t.Fatalf("damp: %v %v ticks %d dropped %d msgs %d", err, res.Outcome, res.Ticks, res.Dropped, res.Msgs)
	}
}

// A strategy of two transitions is one message of kind "A+B" a tick,
// running A's step then B's; a goal without a strategy constrains the
// strategies after it and is a violation when false at quiescence.
func TestStrategiesOfTwoTransitionsAndGoalsWithout(t *testing.T) {
	src := `domain Counter {
  state { x: int  steps: int }
  goal Bounded { priority 200 target x <= 6 }
  goal Big { priority 100 target x >= 10 strategy { Add, Count } }
  transition Add { step { x = x + 2 } }
  transition Count { step { steps = steps + 1 } }
}
`
	p := compileSrc(t, src)
	if k, ok := p.KindNames()[12]; !ok || k != "Add" || p.KindNames()[14] != "Add+Count" {
		t.Fatalf("kinds %v", p.KindNames())
	}
	// 0 → 2 → 4 → 6: then +2 would break Bounded: Big is suppressed
	res, w, err := runAt(t, p, p.Spec().Defaults(), runCfg(), 1, 2)
	if err != nil || res.Outcome != engine.Converged || res.Words[0] != 6 || res.Words[1] != 3 || res.Msgs != 3 ||
		figure(t, w, "suppressed") != 1 {
		t.Fatalf("%v %v x %d steps %d msgs %d figures %v", err, res.Outcome, res.Words[0], res.Words[1], res.Msgs, w.Figures())
	}
	// a strategy-less goal false at quiescence: violated, with its values
	p = compileSrc(t, strings.Replace(src, "target x <= 6 }", "target x <= 6 }\n  goal Odd { priority 50 target x % 2 == 1 }", 1))
	res, _, _ = runAt(t, p, p.Spec().Defaults(), runCfg(), 1, 2)
	want := "goal Counter.Odd: domain 0 (Counter): t.lxm:4:3: target x % 2 == 1 is false: x % 2 = 0, x = 6"
	if res.Outcome != engine.Violated || res.Violation.Error() != want {
		t.Fatalf("%v %v, want violated: %s", res.Outcome, res.Violation, want)
	}
}

// A trial run emits nothing and changes only its copy; a strategy whose
// trial faults is sent, and its delivery reports the fault.
func TestTrialRunsAreInert(t *testing.T) {
	src := `domain A {
  capability { send_to:B }
  state { x: int }
  goal Keep { priority 200 target x < 3 }
  goal Up { priority 100 target x >= 5 strategy { Inc } }
  transition Inc { step { x = x + 1  send("B", "Hit") } }
}
domain B {
  state { hits: int }
  transition Hit { step { hits = hits + 1 } }
}
`
	p := compileSrc(t, src)
	// x: 0 → 1 → 2; the trial at 2 (x = 3 breaks Keep) sends nothing
	res, _, err := runAt(t, p, p.Spec().Defaults(), runCfg(), 1, 2, 3)
	if err != nil || res.Words[0] != 2 || res.Words[1] != 2 || res.Msgs != 4 {
		t.Fatalf("%v x %d hits %d msgs %d, want 2 2 4", err, res.Words[0], res.Words[1], res.Msgs)
	}
	p = compileSrc(t, strings.Replace(src, "x = x + 1 ", "x = x + 1 + 0 / (2 - x)", 1))
	_, _, err = runAt(t, p, p.Spec().Defaults(), runCfg(), 1, 2, 3)
	if want := "t.lxm:6:41: tick 3, domain 0 (A), A.Inc: division by zero"; err == nil || err.Error() != want {
		t.Fatalf("%v, want %s", err, want)
	}
}

// An invariant made false ends the run naming the tick, the message, the
// domain, the invariant and every sub-expression's value — the same at
// every shard count.
func TestInvariantFailureNamesTickAndMessage(t *testing.T) {
	src := `workload inv
key nodes = 6 in 1..100 "nodes"
kind Spend = 12
type Node {
    limit: i64
    spent: i64
    invariant Within { spent <= limit }
    init { limit = 10 }
    on Spend(amount) { spent += i64(amount) }
}
type Driver {
    on Tick() {
        for i in 0..nodes {
            emit(node(i), Spend, 3 + i, 0)
            emit_after(2, node(i), Spend, 4 + i, 0)
        }
    }
}
domains {
    driver: Driver boots
    node: Node[nodes]
}
`
	p := compileSrc(t, src)
	// runAt checks that trace, state, ticks, messages and figures are the
	// same at every shard count
	res, w, err := runAt(t, p, p.Spec().Defaults(), runCfg(), 1, 2, 3, 7)
	// node i spends 3+i at tick 1, 4+i at tick 2 (a timer): node 2 (domain
	// 3) is the first over 10 in ≺ order; nodes 3..5 break it too at tick
	// 2, on shards of their own at shards 7, but later in ≺ order
	want := "invariant Node.Within: tick 2, message (src 0, dst 3, kind Spend, a 6, b 0) to domain 3 (node[2]): t.lxm:7:5: spent <= limit is false: spent = 11, limit = 10"
	if err != nil || res.Outcome != engine.Violated || !IsViolation(res.Violation) || res.Violation.Error() != want {
		t.Fatalf("%v %v %v, want violated: %s", err, res.Outcome, res.Violation, want)
	}
	// the run ends at the boundary after the tick, which was delivered in
	// full: every node got both its Spends (1 + 6 + 6 messages), and each
	// node's spent is 3+i + 4+i
	if res.Ticks != 3 || res.Msgs != 13 {
		t.Fatalf("ticks %d msgs %d, want 3 13", res.Ticks, res.Msgs)
	}
	st := res.Words
	for i := range 6 {
		if off, n := w.Span(uint32(1 + i)); n != 2 || st[off+1] != uint64(7+2*i) {
			t.Fatalf("node %d: state %v, want spent %d", i, st[off:off+n], 7+2*i)
		}
	}
}

// Timers: a message due k ticks later arrives at t+k, and at its tick it
// comes before what its src emitted later (it keeps its seq) and after
// what lower srcs emitted (SPEC §1).
func TestTimersDeliverAtTPlusKInOrder(t *testing.T) {
	src := `workload timers
kind Ping = 12
type Early {
    on Tick() { emit_after(3, log(), Ping, 1, now) }
}
type Late {
    on Tick() {
        emit_after(3, log(), Ping, 2, now)
        emit_after(2, self, Ping, 0, 0)
    }
    on Ping() {
        emit(log(), Ping, 3, now)
        emit_after(1, log(), Ping, 4, now)
    }
}
type Log {
    seen: u64
    when: u64
    on Ping(code, at) {
        seen = seen * 10 + code
        when = when * 10 + now - at
    }
}
domains {
    early: Early boots
    late: Late boots
    log: Log
}
`
	p := compileSrc(t, src)
	res, _, err := runAt(t, p, p.Spec().Defaults(), runCfg(), 1, 2, 3, 7)
	if err != nil {
		t.Fatal(err)
	}
	// at tick 3: early's 1 (src 0), then late's 2 (seq 0) before its 3 and
	// 4 (emitted at tick 2, later seqs): 1234; each came 3, 3, 1, 1 ticks
	// after its emission
	if res.Words[0] != 1234 || res.Words[1] != 3311 || res.Ticks != 4 {
		t.Fatalf("seen %d when %d ticks %d, want 1234 3311 4", res.Words[0], res.Words[1], res.Ticks)
	}
	// k = 0 is a fault
	p = compileSrc(t, strings.Replace(src, "emit_after(3, log(), Ping, 1, now)", "emit_after(0, log(), Ping, 1, now)", 1))
	_, _, err = runAt(t, p, p.Spec().Defaults(), runCfg(), 1, 2)
	if want := "t.lxm:4:17: tick 0, domain 0 (early), Early.on Tick: a message due 0 ticks later (k = 1 is the next tick, as emit)"; err == nil || err.Error() != want {
		t.Fatalf("%v, want %s", err, want)
	}
}
