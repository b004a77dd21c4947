package lang

import (
	"fmt"
	"os"
	"reflect"
	"slices"
	"strings"
	"testing"

	"github.com/lexbench/lexbench/engine"
	"github.com/lexbench/lexbench/workloads"
)

// The autoscaler-vs-GitOps example (workloads/lxm/control/gitops.lxm) and
// its twin with a Deployment generation (gitops_gen.lxm): under local
// detection and damp the fights are damped while CI still commits, every
// other app converges and meets its goals, and the generation counter
// hides nothing because the compiler leaves it out of the configurations.

type cellRun struct {
	res    engine.Result
	w      workloads.Workload
	events []engine.CellEvent
}

func runCells(t *testing.T, p *Program, pr workloads.Params, c engine.Config) cellRun {
	t.Helper()
	r := cellRun{w: p.Spec().New(pr)}
	c.Params = p.Spec().Text(pr)
	c.OnCell = func(ev *engine.CellEvent) {
		e := *ev
		e.Domains = slices.Clone(ev.Domains)
		r.events = append(r.events, e)
	}
	var err error
	if r.res, err = engine.Run(r.w, c); err != nil {
		t.Fatal(err)
	}
	return r
}

func gitops(t *testing.T, file string, n uint64, fights uint64) (*Program, workloads.Params) {
	return shipped(t, "control/"+file, n, 4096, map[string]uint64{"apps": 16, "fights": fights})
}

// The fighting apps are 0, 5 and 10 (cells 2, 7, 12: CI is cell 0, the
// rollout cell 1); each fight repeats from tick 5 on (C(5) = C(3)), but
// app 0 is woken by each new image the rollout gives it first.
func TestGitopsFightsAreDampedWhileCIRuns(t *testing.T) {
	var first cellRun
	for i, file := range []string{"gitops.lxm", "gitops_gen.lxm"} {
		p, pr := gitops(t, file, 20, 3)
		for s := 1; s <= 7; s++ {
			c := runCfg()
			c.Shards, c.Detect, c.Damp = s, engine.DetectLocal, true
			r := runCells(t, p, pr, c)
			if err := r.w.Goals(); r.res.Outcome != engine.Damped || err != nil {
				t.Fatalf("%s shards %d: %v %v, want damped with every goal met", file, s, r.res.Outcome, err)
			}
			if i == 0 && s == 1 {
				first = r
				cells := map[uint32]bool{}
				for _, ev := range r.events {
					cells[ev.Cell] = true
					if !ev.Damped || ev.End-ev.First != 3 || len(ev.Domains) != 3 {
						t.Fatalf("event %+v: want a damped app of three domains, all fighting", ev)
					}
				}
				if len(cells) != 3 || !cells[2] || !cells[7] || !cells[12] {
					t.Fatalf("damped cells %v, want 2, 7, 12 (apps 0, 5, 10)", cells)
				}
				// CI commits at ticks 0, 5, …, 95: the first fights are
				// damped long before it is done
				if r.events[0].Tick != 5 || r.res.Ticks < 100 {
					t.Fatalf("first damp at %d, run ends at %d", r.events[0].Tick, r.res.Ticks)
				}
				inst := r.w.(goalInstance)
				if got := inst.DomainName(r.events[0].Domains[0]); got != "app[5].deploy" {
					t.Fatalf("first damped domain %q, want app[5].deploy", got)
				}
				continue
			}
			// the same detection at every shard count, and with the
			// generation counter as without it
			if !reflect.DeepEqual(r.events, first.events) || r.res.Ticks != first.res.Ticks || r.res.Msgs != first.res.Msgs ||
				r.res.Dropped != first.res.Dropped || *r.res.Oscillation != *first.res.Oscillation {
				t.Fatalf("%s shards %d: ticks %d msgs %d dropped %d %+v events %+v\nwant ticks %d msgs %d dropped %d %+v events %+v", file, s,
					r.res.Ticks, r.res.Msgs, r.res.Dropped, r.res.Oscillation, r.events,
					first.res.Ticks, first.res.Msgs, first.res.Dropped, first.res.Oscillation, first.events)
			}
			if i == 1 && figure(t, r.w, "changes") == 0 {
				t.Fatalf("gitops_gen: no changes counted")
			}
		}
	}
}

// Damping the fights leaves the rest untouched: CI, the rollout and every
// app without a pinned manifest end exactly as in the system without any
// fight (fights = 0).
func TestGitopsDampLeavesTheOtherAppsUntouched(t *testing.T) {
	p, pr := gitops(t, "gitops_gen.lxm", 20, 3)
	c := runCfg()
	c.Shards, c.Detect, c.Damp = 2, engine.DetectLocal, true
	fight := runCells(t, p, pr, c)
	p0, pr0 := gitops(t, "gitops_gen.lxm", 20, 0)
	calm := runCells(t, p0, pr0, c)
	if calm.res.Outcome != engine.Converged || len(calm.events) != 0 {
		t.Fatalf("without fights: %v, events %v", calm.res.Outcome, calm.events)
	}
	w := fight.w.(goalInstance)
	for d := uint32(0); d < w.Domains(); d++ {
		name := w.DomainName(d)
		fighting := strings.HasPrefix(name, "app[0].") || strings.HasPrefix(name, "app[5].") || strings.HasPrefix(name, "app[10].")
		off, n := w.Span(d)
		if !fighting && !slices.Equal(fight.res.Words[off:off+n], calm.res.Words[off:off+n]) {
			t.Fatalf("%s ends in %v with the fights, %v without", name, fight.res.Words[off:off+n], calm.res.Words[off:off+n])
		}
	}
}

// The generation counter hides every fight from detection that compares
// it: without the projection neither detector finds anything and only the
// budget ends the run. With it, both find the fights at the ticks they
// find them without the counter.
func TestGitopsGenerationHidesTheFightWithoutProjection(t *testing.T) {
	for _, local := range []bool{false, true} {
		var ticks []uint64
		for _, file := range []string{"gitops.lxm", "gitops_gen.lxm"} {
			p, pr := gitops(t, file, 20, 3)
			c := runCfg()
			c.Shards, c.MaxTicks = 2, 3000
			if local {
				c.Detect = engine.DetectLocal
			}
			r := runCells(t, p, pr, c)
			if r.res.Outcome != engine.Oscillating {
				t.Fatalf("%s local %v: %v, want oscillating", file, local, r.res.Outcome)
			}
			ticks = append(ticks, r.res.Oscillation.Tick)
			u := runCells(t, p.WithoutProjection(), pr, c)
			switch {
			case file == "gitops_gen.lxm" && (u.res.Outcome != engine.Budget || u.res.Oscillation != nil):
				t.Fatalf("%s local %v without projection: %v %+v, want budget", file, local, u.res.Outcome, u.res.Oscillation)
			case file == "gitops.lxm" && u.res.Oscillation.Tick != r.res.Oscillation.Tick: // only an rng used at init is left out
				t.Fatalf("%s local %v without projection: %+v, want %+v", file, local, u.res.Oscillation, r.res.Oscillation)
			}
		}
		if ticks[0] != ticks[1] || local && ticks[0] != 5 || !local && ticks[0] < 100 {
			t.Fatalf("local %v: found at ticks %v", local, ticks)
		}
	}
}

// A run with cells and a projection resumed from a checkpoint taken in
// the middle of a search (a fighting app watched, another damped and
// silent) ends exactly as the uninterrupted run, with the same events
// after the checkpoint.
func TestGitopsResumeMidSearchGivesTheUninterruptedResult(t *testing.T) {
	p, pr := gitops(t, "gitops_gen.lxm", 20, 3)
	c := runCfg()
	c.Shards, c.Detect, c.Damp = 2, engine.DetectLocal, true
	want := runCells(t, p, pr, c)
	var cps []*engine.Checkpoint
	c.SnapshotEvery = 1
	c.Snapshot = func(cp *engine.Checkpoint) error {
		watched, damped := false, false
		for _, w := range cp.Watched {
			watched = watched || w.Cell == 2 || w.Cell == 7 || w.Cell == 12
		}
		damped = len(cp.Damped) > 0
		if watched && (damped || cp.Tick < 5) {
			cps = append(cps, cp.Clone())
		}
		return nil
	}
	runCells(t, p, pr, c)
	if len(cps) < 5 {
		t.Fatalf("%d checkpoints in the middle of a fight's search", len(cps))
	}
	for i, cp := range cps {
		if i%3 != 0 && i != len(cps)-1 {
			continue
		}
		for _, s := range []int{1, 2, 3} {
			rc := runCfg()
			rc.Shards, rc.Detect, rc.Damp, rc.Resume = s, engine.DetectLocal, true, cp
			got := runCells(t, p, pr, rc)
			var tail []engine.CellEvent
			for _, ev := range want.events {
				if ev.Tick > cp.Tick { // a checkpoint is taken after its boundary's detection
					tail = append(tail, ev)
				}
			}
			g, w := got.res, want.res
			g.Words, w.Words = nil, nil
			if !reflect.DeepEqual(g, w) || !reflect.DeepEqual(got.events, tail) ||
				fmt.Sprint(got.w.Figures()) != fmt.Sprint(want.w.Figures()) {
				t.Fatalf("resume at %d shards %d: %+v events %+v\nwant %+v events %+v", cp.Tick, s, g, got.events, w, tail)
			}
		}
	}
}

// A counter that is read is kept: gitops_gen with its Deployment comparing
// the generation (a condition that never holds, but the compiler cannot
// know) compares it in every configuration, and the fights are never
// found; only the budget ends the run.
func TestGitopsGenerationComparedIsKept(t *testing.T) {
	src, err := os.ReadFile("../workloads/lxm/control/gitops_gen.lxm")
	if err != nil {
		t.Fatal(err)
	}
	read := strings.Replace(string(src), "            replicas = r\n            generation += 1\n",
		"            replicas = r\n            generation += 1\n            if generation == 0 { replicas = MIN }\n", 1)
	if read == string(src) {
		t.Fatal("gitops_gen.lxm changed: no generation bump to read")
	}
	p, err := Compile("gitops_read.lxm", read)
	if err != nil {
		t.Fatal(err)
	}
	for _, l := range p.HiddenFields() {
		if strings.HasPrefix(l, "Deployment:") {
			t.Fatalf("hidden %q: the generation is read", l)
		}
	}
	pr := p.Spec().Defaults()
	pr.N = 20
	for _, local := range []bool{false, true} {
		c := runCfg()
		c.Shards, c.MaxTicks = 2, 3000
		if local {
			c.Detect = engine.DetectLocal
		}
		if r := runCells(t, p, pr, c); r.res.Outcome != engine.Budget || r.res.Oscillation != nil {
			t.Fatalf("local %v: %v %+v, want budget", local, r.res.Outcome, r.res.Oscillation)
		}
	}
}
