// Package sim is deterministic simulation testing on the engine: many
// seeds of one workload, each a whole run whose workload seed and fault
// seed (SPEC §7) are the seed, with fixed fault rates or a fault profile
// drawn from the seed (Swarm); every failing seed is reproduced by one
// command, and a violated goal is shrunk to a small run (Shrink).
//
// The runs are independent, so they are spread over workers; each run is
// in-process and, by default, on one shard (a small run is faster on one
// shard than on several, and the workers already use every core). What a
// simulation reports — outcomes, failing seeds and their order — is a
// function of its inputs only: the seeds are listed in the order given,
// whatever worker ran them and when. Only elapsed time is not.
package sim

import (
	"fmt"
	"runtime"
	"sync"
	"sync/atomic"

	"github.com/lexbench/lexbench/engine"
	"github.com/lexbench/lexbench/workloads"
)

// DefaultBudget is the tick budget of every run unless the target sets
// one: a run that has not quiesced by then is counted as `budget` (a
// livelock, or a run too long for a simulation), not as a violation.
const DefaultBudget = 100_000

// Target is what a simulation runs: a workload (a native one, or a
// program's Spec) with every input but the seed.
type Target struct {
	Spec *workloads.Spec
	// Params holds n, batch and the workload's keys; the seed and the
	// fault seed are each run's seed.
	Params workloads.Params
	// Faults holds the rates and the max delay of every run (its Seed is
	// ignored), unless Swarm draws them per seed.
	Faults engine.FaultParams
	Swarm  bool
	// MaxTicks is each run's tick budget (≥ 0; --max-ticks), MaxMsgs its
	// message budget (< 0: none).
	MaxTicks, MaxMsgs int64
	// Shards per run (≥ 1) and the in-flight bound per run (0: the
	// engine's).
	Shards      int
	MaxInFlight int64
}

// Inputs is the seed's run: its params and the fault parameters in them.
func (t *Target) Inputs(seed uint64) workloads.Params {
	p := t.Params
	p.Seed = seed
	if t.Swarm {
		p.Faults = Swarm(seed)
	} else if t.Faults.On() {
		p.Faults = t.Faults
		p.Faults.Seed = seed
	} else {
		p.Faults = engine.FaultParams{}
	}
	return p
}

// Result is one run's end.
type Result struct {
	Seed    uint64
	Params  workloads.Params // the run's exact inputs (n, seed, faults, …)
	Outcome engine.Outcome   // meaningless when Err is set
	// Err is an error that ended the run: a program's runtime fault, a
	// run with more messages in flight than allowed, ….
	Err       error
	Violation error
	Goal      string // GoalOf(Violation)
	Trace     uint64
	State     uint64
	Ticks     uint64
	Msgs      uint64
	Faults    engine.FaultCounts
	MaxTicks  int64 // the run's tick budget
}

// Failed reports whether the run is a failure a simulation lists: a
// violated goal, a budget (livelock) or an error.
func (r *Result) Failed() bool {
	return r.Err != nil || r.Outcome == engine.Violated || r.Outcome == engine.Budget
}

// run runs p with the tick budget maxTicks on the buffers buf (nil: its
// own); onFault, if set, receives every fault decision
// (engine.Config.OnFault).
func (t *Target) run(p workloads.Params, maxTicks int64, buf *engine.Buffers, onFault func(*engine.FaultEvent)) Result {
	w := t.Spec.New(p)
	shards := max(t.Shards, 1)
	res, err := engine.Run(w, engine.Config{
		Params:      t.Spec.Text(p),
		Shards:      shards,
		MaxTicks:    maxTicks,
		MaxMsgs:     t.MaxMsgs,
		Faults:      p.Faults,
		MaxInFlight: t.MaxInFlight,
		OnFault:     onFault,
		Buffers:     buf,
	})
	r := Result{Seed: p.Seed, Params: p, Err: err, MaxTicks: maxTicks}
	if err == nil {
		r.Outcome, r.Violation, r.Goal = res.Outcome, res.Violation, GoalOf(res.Violation)
		r.Trace, r.State, r.Ticks, r.Msgs, r.Faults = res.Trace, res.State, res.Ticks, res.Msgs, res.Faults
	}
	return r
}

// Run runs one seed as the simulation does; buf (may be nil) lends it
// the buffers of the worker's earlier runs (engine.Buffers).
func (t *Target) Run(seed uint64, buf *engine.Buffers) Result {
	return t.run(t.Inputs(seed), t.MaxTicks, buf, nil)
}

// Options are how a simulation runs and what it keeps.
type Options struct {
	Seeds Seeds
	Jobs  int // workers (≤ 0: the number of CPUs)
	List  int // failing seeds kept per kind, the first in seed order (≤ 0: 10)
	// OnSeed, if set, is called for every seed, in seed order, from one
	// goroutine (it may print).
	OnSeed func(r *Result)
	// Progress, if set, is updated as seeds finish (read it atomically).
	Progress *Progress
}

// Progress counts finished seeds while a simulation runs.
type Progress struct {
	Done, Violated, Budget, Errors atomic.Uint64
}

// Report is a simulation's result: counts and the first failing seeds,
// independent of the number of workers and of timing.
type Report struct {
	Seeds    uint64
	Outcomes map[engine.Outcome]uint64 // runs that ended without an error, by outcome
	Errors   uint64
	// Violated, Budget and Errored are the first List failing seeds of
	// each kind, in seed order.
	Violated, Budget, Errored []Result
}

// Simulate runs every seed of o.Seeds on t.
func Simulate(t *Target, o Options) *Report {
	n := o.Seeds.Len()
	jobs := o.Jobs
	if jobs <= 0 {
		jobs = runtime.NumCPU()
	}
	jobs = int(min(uint64(jobs), n))
	keep := o.List
	if keep <= 0 {
		keep = 10
	}
	type done struct {
		i uint64
		r Result
	}
	results := make(chan done, 4*jobs)
	var next atomic.Uint64
	var wg sync.WaitGroup
	for range jobs {
		wg.Add(1)
		go func() {
			defer wg.Done()
			var buf engine.Buffers
			for {
				i := next.Add(1) - 1
				if i >= n {
					return
				}
				r := t.Run(o.Seeds.At(i), &buf)
				if p := o.Progress; p != nil {
					switch {
					case r.Err != nil:
						p.Errors.Add(1)
					case r.Outcome == engine.Violated:
						p.Violated.Add(1)
					case r.Outcome == engine.Budget:
						p.Budget.Add(1)
					}
					p.Done.Add(1)
				}
				results <- done{i, r}
			}
		}()
	}
	go func() {
		wg.Wait()
		close(results)
	}()

	rep := &Report{Seeds: n, Outcomes: map[engine.Outcome]uint64{}}
	// the first `keep` failures of each kind, by position in the list
	type kept struct {
		i []uint64
		r []Result
	}
	var viol, budget, errs kept
	add := func(k *kept, i uint64, r Result) {
		if len(k.i) == keep && i > k.i[keep-1] {
			return
		}
		at := len(k.i)
		for at > 0 && k.i[at-1] > i {
			at--
		}
		k.i = append(k.i[:at], append([]uint64{i}, k.i[at:]...)...)
		k.r = append(k.r[:at], append([]Result{r}, k.r[at:]...)...)
		if len(k.i) > keep {
			k.i, k.r = k.i[:keep], k.r[:keep]
		}
	}
	pending := map[uint64]Result{} // OnSeed: finished ahead of their turn
	var turn uint64
	for d := range results {
		switch r := d.r; {
		case r.Err != nil:
			rep.Errors++
			add(&errs, d.i, r)
		default:
			rep.Outcomes[r.Outcome]++
			switch r.Outcome {
			case engine.Violated:
				add(&viol, d.i, r)
			case engine.Budget:
				add(&budget, d.i, r)
			}
		}
		if o.OnSeed != nil {
			pending[d.i] = d.r
			for {
				r, ok := pending[turn]
				if !ok {
					break
				}
				delete(pending, turn)
				o.OnSeed(&r)
				turn++
			}
		}
	}
	rep.Violated, rep.Budget, rep.Errored = viol.r, budget.r, errs.r
	return rep
}

// Shrunk is a violated seed made small: the smallest n found that still
// violates the same goal, the earliest tick budget under which it does,
// the run, and the fault decisions that run made.
type Shrunk struct {
	Params   workloads.Params
	MaxTicks int64
	Result   Result
	Faults   []engine.FaultEvent
	Runs     int // runs the search took
}

// ScanMax is how far Shrink tries every n: up to it the n found is the
// smallest that fails.
const ScanMax = 64

// Shrink makes the violation r (a violated seed of t) small, keeping its
// seed, fault parameters and goal (GoalOf):
//
//  1. n: every n from 0 to ScanMax (and below r's n) is tried in order;
//     the first that violates the same goal is the smallest. If none
//     does, bisection between ScanMax (passes) and r's n (fails) finds an
//     n that fails while n−1 passes: the smallest when the goal fails for
//     every n from some point on, and never larger than r's.
//  2. the tick budget: goals are evaluated when the run quiesces (SPEC
//     §1), and a budget ends a run before it does, so the earliest
//     --max-ticks that still fails the same goal is the tick T at which
//     the shrunk run ends: with T it fails, with T−1 it ends by its
//     budget. Shrink checks both, so the budget printed is proven
//     earliest; it bounds the run, and tells the reader how long it is.
//
// ok is false if r does not violate a goal, or the run at the n found
// does not fail as r did.
func (t *Target) Shrink(r Result) (s Shrunk, ok bool) {
	if r.Err != nil || r.Outcome != engine.Violated {
		return Shrunk{}, false
	}
	p := r.Params
	var buf engine.Buffers
	fails := func(n uint64) bool {
		q := p
		q.N = n
		s.Runs++
		x := t.run(q, t.MaxTicks, &buf, nil)
		return x.Err == nil && x.Outcome == engine.Violated && x.Goal == r.Goal
	}
	hi, lo := p.N, uint64(0)
	for n := uint64(0); n <= min(ScanMax, p.N); n++ {
		if n == p.N || fails(n) {
			hi = n
			break
		}
		lo = n // passes
	}
	for hi-lo > 1 {
		mid := lo + (hi-lo)/2
		if fails(mid) {
			hi = mid
		} else {
			lo = mid
		}
	}
	p.N = hi
	s.Params = p
	x := t.run(p, t.MaxTicks, &buf, nil)
	s.Runs++
	if x.Err != nil || x.Outcome != engine.Violated || x.Goal != r.Goal {
		return Shrunk{}, false
	}
	end := int64(x.Ticks)
	var events []engine.FaultEvent
	s.Runs += 2
	y := t.run(p, end, &buf, func(e *engine.FaultEvent) { events = append(events, *e) })
	if y.Err != nil || y.Outcome != engine.Violated || y.Goal != r.Goal || y.Trace != x.Trace {
		return Shrunk{}, false
	}
	if end > 0 {
		if z := t.run(p, end-1, &buf, nil); z.Err != nil || z.Outcome != engine.Budget {
			return Shrunk{}, false
		}
	}
	s.MaxTicks, s.Result, s.Faults = end, y, events
	return s, true
}

// String names a result's outcome as a simulation counts it.
func (r *Result) String() string {
	if r.Err != nil {
		return "error"
	}
	return r.Outcome.String()
}

// Message is the violation or error of a failed run, its first line.
func (r *Result) Message() string {
	var s string
	switch {
	case r.Err != nil:
		s = r.Err.Error()
	case r.Violation != nil:
		s = r.Violation.Error()
	case r.Outcome == engine.Budget:
		s = fmt.Sprintf("no quiescence within %d ticks", r.MaxTicks)
	}
	for i := 0; i < len(s); i++ {
		if s[i] == '\n' {
			return s[:i]
		}
	}
	return s
}
