package sim_test

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/lexbench/lexbench/engine"
	"github.com/lexbench/lexbench/lang"
	"github.com/lexbench/lexbench/sim"
)

// program is a target running workloads/lxm/sim/NAME with -n 20 and the
// program's default keys, under --swarm.
func program(t *testing.T, name string) *sim.Target {
	t.Helper()
	path := filepath.Join("..", "workloads", "lxm", "sim", name)
	src, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	prog, err := lang.Compile(path, string(src))
	if err != nil {
		t.Fatal(err)
	}
	spec := prog.Spec()
	p := spec.Defaults()
	p.N = 20
	return &sim.Target{Spec: spec, Params: p, Swarm: true, MaxTicks: sim.DefaultBudget, MaxMsgs: -1, Shards: 1}
}

func seeds(t *testing.T, lo, hi uint64) sim.Seeds {
	s, err := sim.NewSeeds([]sim.Range{{lo, hi}})
	if err != nil {
		t.Fatal(err)
	}
	return s
}

// TestFaultTolerantProgramsSurviveTheSwarm: the replicated register and
// two-phase commit with retries end every swarm seed converged — no
// violated goal, no run past the tick budget, no fault. (The whole
// 1..10000 is run by hand; docs/simulation.md has the numbers.)
func TestFaultTolerantProgramsSurviveTheSwarm(t *testing.T) {
	n := uint64(2000)
	if testing.Short() {
		n = 300
	}
	for _, name := range []string{"register.lxm", "twophase.lxm"} {
		rep := sim.Simulate(program(t, name), sim.Options{Seeds: seeds(t, 1, n), Jobs: 2})
		if rep.Outcomes[engine.Converged] != n {
			t.Errorf("%s: %v, %d errors; first violated %v, first budget %v, first error %v", name, rep.Outcomes, rep.Errors,
				first(rep.Violated), first(rep.Budget), first(rep.Errored))
		}
	}
}

func first(rs []sim.Result) string {
	if len(rs) == 0 {
		return "none"
	}
	return rs[0].Message()
}

// TestPlantedBugsNeedFaults: without faults every program, planted bug
// or not, converges and retransmits nothing: only the network exposes
// the bugs.
func TestPlantedBugsNeedFaults(t *testing.T) {
	for _, name := range []string{"register.lxm", "register_bug.lxm", "twophase.lxm", "twophase_bug.lxm"} {
		tg := program(t, name)
		tg.Swarm = false
		for seed := uint64(1); seed <= 5; seed++ {
			w := tg.Spec.New(tg.Inputs(seed))
			res, err := engine.Run(w, engine.Config{Params: tg.Spec.Text(tg.Inputs(seed)), Shards: 1, MaxTicks: -1, MaxMsgs: -1})
			if err != nil || res.Outcome != engine.Converged {
				t.Fatalf("%s seed %d without faults: %v %v", name, seed, res.Outcome, err)
			}
			for _, f := range w.Figures() {
				if f.Name == "resent" && f.Value != 0 {
					t.Fatalf("%s seed %d without faults: %d messages retransmitted", name, seed, f.Value)
				}
			}
		}
	}
}

// TestPlantedBugsAreFoundAndShrunk: the _bug variant of each program
// (one line changed) is violated within the first 1000 swarm seeds, by
// the goal that names the bug, and the listed seeds shrink to a run of a
// few dozen ticks.
func TestPlantedBugsAreFoundAndShrunk(t *testing.T) {
	hi := uint64(1000)
	if testing.Short() {
		hi = 300
	}
	for _, c := range []struct {
		name, goal string // the assert the bug breaks
	}{
		{"register_bug.lxm", "assert replica(r).applied == n"},
		{"twophase_bug.lxm", "assert part(p).commits == coordinator().commits"},
	} {
		tg := program(t, c.name)
		rep := sim.Simulate(tg, sim.Options{Seeds: seeds(t, 1, hi), Jobs: 2})
		if len(rep.Violated) == 0 {
			t.Fatalf("%s: no violation in seeds 1..%d: %v", c.name, hi, rep.Outcomes)
		}
		best := uint64(1 << 62)
		for _, r := range rep.Violated {
			s, ok := tg.Shrink(r)
			if !ok {
				t.Fatalf("%s seed %d: not shrunk", c.name, r.Seed)
			}
			if s.Result.Goal != r.Goal || s.Params.N > r.Params.N || uint64(s.MaxTicks) != s.Result.Ticks {
				t.Fatalf("%s seed %d: shrunk to %+v", c.name, r.Seed, s)
			}
			if strings.Contains(s.Result.Violation.Error(), c.goal) {
				best = min(best, s.Result.Ticks)
			}
		}
		if best > 48 {
			t.Errorf("%s: the shortest shrunk run that breaks %q takes %d ticks, want a few dozen at most", c.name, c.goal, best)
		}
	}
}
