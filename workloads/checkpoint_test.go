package workloads_test

import (
	"reflect"
	"slices"
	"testing"

	"github.com/lexbench/lexbench/engine"
)

func checkpoints(t *testing.T, c runCase, shards int, every uint64) (engine.Result, []*engine.Checkpoint) {
	t.Helper()
	var cps []*engine.Checkpoint
	cfg := c.config(shards)
	cfg.SnapshotEvery = every
	cfg.Snapshot = func(cp *engine.Checkpoint) error {
		cps = append(cps, cp.Clone())
		return nil
	}
	res, err := engine.Run(c.spec.New(c.p), cfg)
	if err != nil {
		t.Fatalf("%s --shards %d: %v", c, shards, err)
	}
	return res, cps
}

func sameResult(a, b engine.Result) bool {
	a.Words, b.Words = nil, nil
	return reflect.DeepEqual(a, b)
}

// TestResumeFromEveryCheckpointEqualsTheUninterruptedRun takes a checkpoint
// at every tick of every case, with 1 and 3 shards, checks that the
// checkpoints do not depend on the shard count, and resumes from each (with
// another shard count) to the uninterrupted run's exact result.
func TestResumeFromEveryCheckpointEqualsTheUninterruptedRun(t *testing.T) {
	for _, c := range cases() {
		want := runEngine(t, c, 1)
		res1, cps := checkpoints(t, c, 1, 1)
		res3, cps3 := checkpoints(t, c, 3, 1)
		if !sameResult(res1, want) || !sameResult(res3, want) {
			t.Fatalf("%s: taking checkpoints changed the result", c)
		}
		if !reflect.DeepEqual(cps, cps3) {
			t.Fatalf("%s: checkpoints differ between 1 and 3 shards", c)
		}
		if want.Ticks > 2 && len(cps) == 0 {
			t.Fatalf("%s: no checkpoints in %d ticks", c, want.Ticks)
		}
		step := max(1, len(cps)/40)
		for i := 0; i < len(cps); i += step {
			cp := cps[i]
			for _, s := range []int{1, 2} {
				cfg := c.config(s)
				cfg.Resume = cp
				got, err := engine.Run(c.spec.New(c.p), cfg)
				if err != nil {
					t.Fatalf("%s: resume at tick %d, shards %d: %v", c, cp.Tick, s, err)
				}
				if !sameResult(got, want) || !slices.Equal(got.Words, want.Words) {
					t.Fatalf("%s: resume at tick %d, shards %d:\n got %+v\nwant %+v", c, cp.Tick, s, got, want)
				}
			}
		}
	}
}

// TestCheckRestoreRejectsInconsistentCheckpoints: damaged fields are errors.
func TestCheckRestoreRejectsInconsistentCheckpoints(t *testing.T) {
	c := cases()[3] // banking n=100000
	_, cps := checkpoints(t, c, 1, 5)
	if len(cps) == 0 {
		t.Fatal("no checkpoints")
	}
	good := cps[0]
	w := c.spec.New(c.p)
	if err := engine.CheckRestore(w, good); err != nil {
		t.Fatalf("good checkpoint rejected: %v", err)
	}
	bad := []func(cp *engine.Checkpoint){
		func(cp *engine.Checkpoint) { cp.Words = cp.Words[1:] },
		func(cp *engine.Checkpoint) { cp.Tick = 0 },
		func(cp *engine.Checkpoint) { cp.Pending[0].Dst = 1 << 30 },
		func(cp *engine.Checkpoint) { cp.Pending[0].Tick++ },
		func(cp *engine.Checkpoint) { cp.Touched = nil },
		func(cp *engine.Checkpoint) { cp.SavedWords = append(cp.SavedWords, 1) },
		func(cp *engine.Checkpoint) { cp.NextCheck = cp.Tick - 1 },
		func(cp *engine.Checkpoint) { cp.LastCount = 0 },
	}
	for i, f := range bad {
		cp := good.Clone()
		f(cp)
		if err := engine.CheckRestore(w, cp); err == nil {
			t.Errorf("damage %d accepted", i)
		}
		if _, err := engine.Run(c.spec.New(c.p), engine.Config{Params: c.spec.Text(c.p), Shards: 2, MaxTicks: -1, MaxMsgs: -1, Resume: cp}); err == nil {
			t.Errorf("damage %d: resumed run did not fail", i)
		}
	}
}
