package lang

import (
	"fmt"
	"path/filepath"
	"strings"
	"testing"

	"github.com/lexbench/lexbench/engine"
	"github.com/lexbench/lexbench/workloads"
)

// The goal-directed programs that ship (workloads/lxm/paper, the paper's
// experiments; workloads/lxm/control, control planes) end as they say, with
// the same trace and state at shards 1, 2, 3 and 7; each broken variant is
// reported violated by the invariant its bug breaks.

func shipped(t *testing.T, file string, n, batch uint64, keys map[string]uint64) (*Program, workloads.Params) {
	t.Helper()
	p := compileFile(t, filepath.Join("../workloads/lxm", file))
	pr := p.Spec().Defaults()
	pr.N, pr.Batch = n, batch
	for i, k := range p.Keys {
		if v, ok := keys[k.Name]; ok {
			pr.K[i] = v
		}
	}
	return p, pr
}

func TestShippedProgramsConvergeAtEveryShardCount(t *testing.T) {
	for _, c := range []struct {
		file     string
		n, batch uint64
		keys     map[string]uint64
		figures  map[string]uint64 // figures that must have these values
		same     [2]string         // figures that must be equal
	}{
		{"paper/banking.lxm", 5000, 1, nil, map[string]uint64{"applied": 5000, "rejected": 0, "suppressed": 0}, [2]string{}},
		{"paper/banking_batched.lxm", 5000, 64, nil, map[string]uint64{"applied": 5000, "rejected": 0, "suppressed": 0}, [2]string{}},
		{"paper/storm.lxm", 20000, 100, map[string]uint64{"producers": 3, "consumers": 50}, map[string]uint64{"delivered": 20000}, [2]string{}},
		{"paper/sync.lxm", 50, 1, map[string]uint64{"groups": 5}, map[string]uint64{"suppressed": 0}, [2]string{}},
		{"paper/conflict.lxm", 1, 1, map[string]uint64{"pools": 40}, nil, [2]string{"suppressed", "disagree"}},
		{"control/replicaset.lxm", 20, 1, map[string]uint64{"pods": 6}, nil, [2]string{}},
		{"control/fight.lxm", 10, 1, map[string]uint64{"apps": 9}, nil, [2]string{"suppressed", "flapping_avoided"}},
		{"control/twophase.lxm", 200, 1, map[string]uint64{"parts": 4}, nil, [2]string{}},
		{"control/ratelimit.lxm", 30, 1, map[string]uint64{"clients": 6}, nil, [2]string{}},
	} {
		p, pr := shipped(t, c.file, c.n, c.batch, c.keys)
		res, w, err := runAt(t, p, pr, runCfg(), 1, 2, 3, 7)
		if err != nil || res.Outcome != engine.Converged {
			t.Errorf("%s: %v %v %v", c.file, err, res.Outcome, res.Violation)
			continue
		}
		for name, v := range c.figures {
			if got := figure(t, w, name); got != v {
				t.Errorf("%s: %s = %d, want %d", c.file, name, got, v)
			}
		}
		if c.same[0] != "" {
			if a, b := figure(t, w, c.same[0]), figure(t, w, c.same[1]); a != b || a == 0 {
				t.Errorf("%s: %s = %d, %s = %d: want equal and nonzero", c.file, c.same[0], a, c.same[1], b)
			}
		}
	}
}

// The literal and the batched banking make the same transfers in the same
// order: the same final state, whatever the batch.
func TestBankingLiteralAndBatchedEndInTheSameState(t *testing.T) {
	p, pr := shipped(t, "paper/banking.lxm", 3000, 1, nil)
	lit, _, err := runAt(t, p, pr, runCfg(), 1, 2)
	if err != nil {
		t.Fatal(err)
	}
	for _, batch := range []uint64{1, 7, 4096} {
		p, pr := shipped(t, "paper/banking_batched.lxm", 3000, batch, nil)
		bat, _, err := runAt(t, p, pr, runCfg(), 1, 2)
		if err != nil || bat.State != lit.State || lit.Msgs != 3001 || bat.Msgs != 1+(3000+batch-1)/batch {
			t.Errorf("batch %d: %v state %016x (literal %016x), msgs %d (literal %d)", batch, err, bat.State, lit.State, bat.Msgs, lit.Msgs)
		}
	}
}

// The paper's oscillation: detected under halt, damped under damp (the
// fighting groups dropped, the agreeing ones converged: the goal holds).
func TestPaperOscillationIsDetectedAndDamped(t *testing.T) {
	p, pr := shipped(t, "paper/oscillation.lxm", 1, 1, map[string]uint64{"groups": 16})
	res, _, err := runAt(t, p, pr, runCfg(), 1, 2, 3, 7)
	if err != nil || res.Outcome != engine.Oscillating || res.Oscillation == nil || res.Oscillation.Period == 0 {
		t.Fatalf("halt: %v %v %+v", err, res.Outcome, res.Oscillation)
	}
	cfg := runCfg()
	cfg.Damp = true
	res, w, err := runAt(t, p, pr, cfg, 1, 2, 3, 7)
	if err != nil || res.Outcome != engine.Damped || res.Dropped == 0 {
		t.Fatalf("damp: %v %v dropped %d", err, res.Outcome, res.Dropped)
	}
	if err := w.Goals(); err != nil {
		t.Fatalf("damp: the agreeing groups do not hold their value: %v", err)
	}
}

// Each broken variant is reported violated, by the invariant its bug
// breaks, at the same tick and message at every shard count.
func TestBrokenVariantsAreViolated(t *testing.T) {
	for _, c := range []struct {
		file string
		n    uint64
		keys map[string]uint64
		want string // the violation, without the file:line:col and after
	}{
		{"control/replicaset_broken.lxm", 50, nil,
			"invariant Pod.StartedOnce: tick 4, message (src 1, dst 2, kind Start, a 0, b 0) to domain 2 (pod[0]): starts <= stops + 1 is false: starts = 2, stops + 1 = 1, stops = 0"},
		{"control/fight_broken.lxm", 20, map[string]uint64{"apps": 64},
			"invariant Deployment.SaneRecommendation: tick 1, message (src 25, dst 24, kind Recommend, a 23, b 0) to domain 24 (app[8].deploy): hpa <= MAX is false: hpa = 23, MAX = 20"},
		{"control/twophase_broken.lxm", 1000, nil,
			"invariant Coordinator.Atomic: tick 40, message (src 0, dst 0, kind Timeout, a 5, b 0) to domain 0 (coordinator): decision != COMMIT || yes == parts is false: decision != COMMIT = false, decision = 1, COMMIT = 1, yes == parts = false, yes = 2, parts = 3"},
		{"control/ratelimit_broken.lxm", 200, map[string]uint64{"clients": 32},
			"invariant Limiter.BucketSize: tick 10582, message (src 0, dst 0, kind Refill, a 0, b 0) to domain 0 (limiter): tokens <= capacity is false: tokens = 11, capacity = 10"},
	} {
		p, pr := shipped(t, c.file, c.n, 4096, c.keys)
		// runAt checks that trace, state, ticks, messages and figures are
		// the same at every shard count
		res, _, err := runAt(t, p, pr, runCfg(), 1, 2, 3, 7)
		if err != nil || res.Outcome != engine.Violated || !IsViolation(res.Violation) {
			t.Errorf("%s: %v %v %v, want violated by an invariant", c.file, err, res.Outcome, res.Violation)
			continue
		}
		if v := res.Violation.(*Violation); uint64(v.Tick)+1 != res.Ticks {
			t.Errorf("%s: violated at tick %d, the run ends at %d, want the next boundary", c.file, v.Tick, res.Ticks)
		}
		// drop the position, which the test need not pin
		got := res.Violation.Error()
		if i := strings.Index(got, p.File+":"); i >= 0 {
			j := strings.Index(got[i:], ": ")
			if k := strings.Index(got[i+j+2:], ": "); k >= 0 { // FILE:L:C: text: values
				got = got[:i] + got[i+j+2:]
			}
		}
		if got != c.want {
			t.Errorf("%s:\n%s\nwant\n%s", c.file, got, c.want)
		}
	}
}

// Resuming a goal-directed program with pending timers from a checkpoint
// (what `lexbench resume` does after a kill -9, from its last snapshot)
// gives the uninterrupted run's result: the checkpoint holds the state and
// every pending message, late ones included; reconciliation needs nothing
// else (it is a function of the state and of the tick's messages).
func TestResumeOfGoalProgramsWithTimersEqualsTheUninterruptedRun(t *testing.T) {
	for _, c := range []struct {
		file string
		n    uint64
		keys map[string]uint64
	}{
		{"control/replicaset.lxm", 6, map[string]uint64{"pods": 5}},
		{"control/twophase.lxm", 40, nil},
		{"control/ratelimit.lxm", 8, map[string]uint64{"clients": 4}},
		{"paper/banking.lxm", 300, nil},
	} {
		p, pr := shipped(t, c.file, c.n, 4096, c.keys)
		cfg := engine.Config{Params: p.Spec().Text(pr), Shards: 1, MaxTicks: -1, MaxMsgs: -1}
		ww := p.Spec().New(pr)
		want, err := engine.Run(ww, cfg)
		if err != nil {
			t.Fatal(err)
		}
		var cps []*engine.Checkpoint
		late := 0
		cfg.SnapshotEvery = 1
		cfg.Snapshot = func(cp *engine.Checkpoint) error {
			for _, e := range cp.Pending {
				if uint64(e.Tick) > cp.Tick {
					late++
					cps = append(cps, cp.Clone()) // one with a timer pending
					return nil
				}
			}
			if cp.Tick%17 == 0 {
				cps = append(cps, cp.Clone())
			}
			return nil
		}
		if _, err := engine.Run(p.Spec().New(pr), cfg); err != nil {
			t.Fatal(err)
		}
		if len(cps) == 0 || late == 0 && c.file != "paper/banking.lxm" {
			t.Fatalf("%s: %d checkpoints, %d with a timer pending", c.file, len(cps), late)
		}
		step := max(1, len(cps)/15)
		for i := 0; i < len(cps); i += step {
			for _, s := range []int{1, 2, 3} {
				w := p.Spec().New(pr)
				got, err := engine.Run(w, engine.Config{Params: cfg.Params, Shards: s, MaxTicks: -1, MaxMsgs: -1, Resume: cps[i]})
				if err != nil || got.Trace != want.Trace || got.State != want.State || got.Ticks != want.Ticks ||
					got.Msgs != want.Msgs || got.Outcome != want.Outcome {
					t.Fatalf("%s: resume at tick %d, shards %d: %v %016x %016x ticks %d msgs %d, want %016x %016x %d %d", c.file,
						cps[i].Tick, s, err, got.Trace, got.State, got.Ticks, got.Msgs, want.Trace, want.State, want.Ticks, want.Msgs)
				}
				if fmt.Sprint(w.Figures()) != fmt.Sprint(ww.Figures()) {
					t.Fatalf("%s: resume at tick %d: figures %v, want %v", c.file, cps[i].Tick, w.Figures(), ww.Figures())
				}
			}
		}
	}
}

// Under network faults (SPEC §7) a goal-directed control plane stays
// deterministic at every shard count, and its goals tell what the faults
// did: here a Grant lost in the network is a token granted and never used.
func TestGoalProgramsUnderFaults(t *testing.T) {
	p, pr := shipped(t, "control/ratelimit.lxm", 30, 4096, map[string]uint64{"clients": 6})
	pr.Faults = engine.FaultParams{Drop: 20000, Delay: 50000, MaxDelay: 8, Seed: 1}
	cfg := runCfg()
	cfg.Faults = pr.Faults
	res, _, err := runAt(t, p, pr, cfg, 1, 2, 3, 7)
	if err != nil || res.Outcome != engine.Violated || res.Faults.Dropped == 0 ||
		!strings.Contains(res.Violation.Error(), "assert limiter().granted == granted failed: limiter().granted = ") {
		t.Fatalf("%v %v %+v %v", err, res.Outcome, res.Faults, res.Violation)
	}
}
