package sim_test

import (
	"errors"
	"fmt"
	"reflect"
	"strconv"
	"testing"

	"github.com/lexbench/lexbench/engine"
	"github.com/lexbench/lexbench/sim"
	"github.com/lexbench/lexbench/workloads"
)

func TestParseSeeds(t *testing.T) {
	num := func(s string) (uint64, error) { return strconv.ParseUint(s, 10, 64) }
	for _, c := range []struct {
		text string
		want []uint64 // nil: an error
	}{
		{"1..5", []uint64{1, 2, 3, 4, 5}},
		{"7", []uint64{7}},
		{"3..4,10,1..2", []uint64{3, 4, 10, 1, 2}},
		{"0..0", []uint64{0}},
		{"5..1", nil},
		{"1..5,5", nil},
		{"1..5,2..3", nil},
		{"", nil},
		{"1..", nil},
		{"x", nil},
		{"1,,2", nil},
	} {
		s, err := sim.ParseSeeds(c.text, num)
		if c.want == nil {
			if err == nil {
				t.Errorf("%q: no error, %d seeds", c.text, s.Len())
			}
			continue
		}
		if err != nil {
			t.Errorf("%q: %v", c.text, err)
			continue
		}
		var got []uint64
		for i := range s.Len() {
			got = append(got, s.At(i))
		}
		if !reflect.DeepEqual(got, c.want) {
			t.Errorf("%q: %v, want %v", c.text, got, c.want)
		}
	}
	if _, err := sim.NewSeeds([]sim.Range{{0, 1 << 41}}); err == nil {
		t.Error("2^41 seeds accepted")
	}
	if s, err := sim.NewSeeds([]sim.Range{{0, ^uint64(0)}}); err == nil {
		t.Errorf("every uint64 accepted (%d seeds)", s.Len())
	}
}

// swarmByHand is docs/simulation.md's derivation of a seed's profile,
// written out again.
func swarmByHand(seed uint64) (drop, dup, delay, maxDelay uint64) {
	x := seed ^ 0x5357_4152_4D5F_5631
	next := func() uint64 {
		x += 0x9E3779B97F4A7C15
		z := x
		z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9
		z = (z ^ (z >> 27)) * 0x94D049BB133111EB
		return z ^ (z >> 31)
	}
	on := 1 + next()%7
	left := uint64(1_000_000)
	rates := [3]uint64{}
	for i := range 3 {
		if on&(1<<i) != 0 {
			v := next()
			r := (1 + (v/6)%9) * []uint64{1, 10, 100, 1000, 10_000, 100_000}[v%6]
			rates[i] = min(r, left)
			left -= rates[i]
		}
	}
	e := next() % 11
	return rates[0], rates[1], rates[2], 1 << e
}

func TestSwarmProfiles(t *testing.T) {
	decades := map[int]int{}
	sets := map[int]int{}
	for seed := uint64(0); seed < 20000; seed++ {
		f := sim.Swarm(seed)
		d, u, l, m := swarmByHand(seed)
		if uint64(f.Drop) != d || uint64(f.Dup) != u || uint64(f.Delay) != l || uint64(f.MaxDelay) != m || f.Seed != seed {
			t.Fatalf("seed %d: %+v, the documented derivation gives drop=%d dup=%d delay=%d maxdelay=%d", seed, f, d, u, l, m)
		}
		if err := f.Check(); err != nil || !f.On() {
			t.Fatalf("seed %d: %+v: on %v, %v", seed, f, f.On(), err)
		}
		if f != sim.Swarm(seed) {
			t.Fatalf("seed %d: two profiles", seed)
		}
		set := 0
		for i, r := range []uint32{f.Drop, f.Dup, f.Delay} {
			if r > 0 {
				set |= 1 << i
				decades[len(strconv.Itoa(int(r)))]++
			}
		}
		sets[set]++
	}
	for k := 1; k <= 6; k++ {
		if decades[k] < 1000 {
			t.Errorf("rates with %d digits: %d of 20000 profiles", k, decades[k])
		}
	}
	for s := 1; s < 8; s++ {
		if sets[s] < 1500 {
			t.Errorf("fault set %03b: %d of 20000 profiles", s, sets[s])
		}
	}
}

func TestGoalOf(t *testing.T) {
	for _, c := range []struct {
		err  error
		want string
	}{
		{&workloads.GoalError{Goal: "storm.delivered", Msg: "consumers: counts sum to 9, want n = 10"}, "storm.delivered"},
		{fmt.Errorf("wrapped: %w", &workloads.GoalError{Goal: "sync.agree", Msg: "x"}), "sync.agree"},
		{errors.New("goal Replicated: reg.lxm:40:5: assert acked == n failed: acked = 3, n = 4\ngoal …"), "goal Replicated at reg.lxm:40:5"},
		{errors.New("goal Replica.Applied: domain replica[2]: reg.lxm:12:9: target applied == 4 is false: applied = 3"), "goal Replica.Applied at reg.lxm:12:9"},
		{errors.New("invariant Acct.Conserved: tick 5, message (src 1, dst 2, kind Move, a 3, b 4) to domain acct[1]: b.lxm:7:3: sum == 10 is false: sum = 9"),
			"invariant Acct.Conserved at b.lxm:7:3"},
		{errors.New("group 12: something 345 is off"), "group #: something # is off"},
		{nil, ""},
	} {
		if got := sim.GoalOf(c.err); got != c.want {
			t.Errorf("GoalOf(%v) = %q, want %q", c.err, got, c.want)
		}
	}
}

func stormTarget(n uint64, f engine.FaultParams) *sim.Target {
	p := workloads.StormSpec.Defaults()
	p.N = n
	return &sim.Target{Spec: &workloads.StormSpec, Params: p, Faults: f, MaxTicks: sim.DefaultBudget, MaxMsgs: -1, Shards: 1}
}

// TestReportDoesNotDependOnJobs: the report (counts and the failing
// seeds listed, in seed order) is the same for any number of workers,
// and every seed listed is what a run of its own gives.
func TestReportDoesNotDependOnJobs(t *testing.T) {
	seeds, err := sim.NewSeeds([]sim.Range{{40, 99}, {1, 20}})
	if err != nil {
		t.Fatal(err)
	}
	for _, tg := range []*sim.Target{
		stormTarget(3000, engine.FaultParams{Drop: 300, MaxDelay: 8}),
		func() *sim.Target { x := stormTarget(300, engine.FaultParams{}); x.Swarm = true; return x }(),
	} {
		var want *sim.Report
		var order []uint64
		for _, jobs := range []int{1, 2, 5} {
			var seen []uint64
			rep := sim.Simulate(tg, sim.Options{Seeds: seeds, Jobs: jobs, List: 4, OnSeed: func(r *sim.Result) { seen = append(seen, r.Seed) }})
			if want == nil {
				want, order = rep, seen
				continue
			}
			if !reflect.DeepEqual(rep, want) || !reflect.DeepEqual(seen, order) {
				t.Fatalf("swarm %v: -j %d: %+v, -j 1: %+v", tg.Swarm, jobs, rep, want)
			}
		}
		for i := range seeds.Len() {
			if order[i] != seeds.At(i) {
				t.Fatalf("OnSeed order %v", order)
			}
		}
		if want.Outcomes[engine.Violated] == 0 || len(want.Violated) != 4 {
			t.Fatalf("swarm %v: %d violated, %d listed; want some, 4 listed", tg.Swarm, want.Outcomes[engine.Violated], len(want.Violated))
		}
		var total uint64
		for _, c := range want.Outcomes {
			total += c
		}
		if total+want.Errors != seeds.Len() {
			t.Fatalf("outcomes %v and %d errors for %d seeds", want.Outcomes, want.Errors, seeds.Len())
		}
		prev := -1
		for _, r := range want.Violated {
			pos := -1
			for i := range seeds.Len() {
				if seeds.At(i) == r.Seed {
					pos = int(i)
				}
			}
			if pos <= prev {
				t.Fatalf("violated seeds not in list order: %d after position %d", r.Seed, prev)
			}
			prev = pos
			alone := tg.Run(r.Seed, nil)
			if !reflect.DeepEqual(alone, r) {
				t.Fatalf("seed %d alone: %+v, in the simulation %+v", r.Seed, alone, r)
			}
		}
	}
}

// TestShrinkStorm: a violated storm seed shrinks to an n that fails the
// same goal while n−1 does not, with the earliest failing budget, and the
// fault list holds the drop that broke it.
func TestShrinkStorm(t *testing.T) {
	tg := stormTarget(10_000, engine.FaultParams{Drop: 100, MaxDelay: 8})
	shrunk := 0
	for seed := uint64(1); shrunk < 3; seed++ {
		r := tg.Run(seed, nil)
		if r.Outcome != engine.Violated {
			continue
		}
		s, ok := tg.Shrink(r)
		if !ok {
			t.Fatalf("seed %d: not shrunk", seed)
		}
		shrunk++
		if s.Params.N > r.Params.N || s.Params.Seed != seed || s.Params.Faults != r.Params.Faults {
			t.Fatalf("seed %d: shrunk to %+v from %+v", seed, s.Params, r.Params)
		}
		at := func(n uint64, maxTicks int64) sim.Result {
			x := *tg
			x.Params.N, x.MaxTicks = n, maxTicks
			return x.Run(seed, nil)
		}
		if y := at(s.Params.N, s.MaxTicks); y.Outcome != engine.Violated || y.Goal != r.Goal || y.Trace != s.Result.Trace {
			t.Fatalf("seed %d: the shrunk run gives %v %q", seed, y.Outcome, y.Goal)
		}
		if y := at(s.Params.N-1, sim.DefaultBudget); y.Outcome == engine.Violated {
			t.Fatalf("seed %d: n-1 = %d still violates %q", seed, s.Params.N-1, y.Goal)
		}
		if y := at(s.Params.N, s.MaxTicks-1); y.Outcome != engine.Budget {
			t.Fatalf("seed %d: --max-ticks %d gives %v, want budget", seed, s.MaxTicks-1, y.Outcome)
		}
		drops := 0
		for _, e := range s.Faults {
			if e.Fault == engine.FaultDropped {
				drops++
			}
		}
		if drops == 0 || uint64(len(s.Faults)) != s.Result.Faults.Dropped {
			t.Fatalf("seed %d: %d drops listed, %d counted", seed, drops, s.Result.Faults.Dropped)
		}
	}
}
