package engine_test

import (
	"sync/atomic"
	"testing"

	"github.com/lexbench/lexbench/engine"
)

// TestStopEndsAtTheNextBoundaryWithASnapshot: Config.Stop set during tick
// k ends the run at boundary k+1 with Outcome Stopped, after a snapshot
// there (snapshots on), and a run resumed from that snapshot ends exactly
// like an uninterrupted one, at every shard count.
func TestStopEndsAtTheNextBoundaryWithASnapshot(t *testing.T) {
	const stopAt = 37
	for shards := 1; shards <= 3; shards++ {
		ref, err := engine.Run(&counter{d: 5, stop: 200}, cfg(shards))
		if err != nil {
			t.Fatal(err)
		}
		var stop atomic.Bool
		var snap *engine.Checkpoint
		c := cfg(shards)
		c.Stop = &stop
		c.Progress = func(tick, msgs uint64) {
			if tick == stopAt {
				stop.Store(true)
			}
		}
		c.SnapshotEvery = 1000 // never due by itself
		c.Snapshot = func(cp *engine.Checkpoint) error {
			cc := *cp
			cc.Words = append([]uint64(nil), cp.Words...)
			cc.Pending = append(cc.Pending[:0:0], cp.Pending...)
			cc.Touched = append([]uint32(nil), cp.Touched...)
			cc.SavedWords = append([]uint64(nil), cp.SavedWords...)
			cc.SavedMsgs = append(cc.SavedMsgs[:0:0], cp.SavedMsgs...)
			snap = &cc
			return nil
		}
		res, err := engine.Run(&counter{d: 5, stop: 200}, c)
		if err != nil {
			t.Fatal(err)
		}
		if res.Outcome != engine.Stopped || res.Ticks != stopAt || snap == nil || snap.Tick != stopAt {
			t.Fatalf("shards %d: outcome %v at tick %d, snapshot %v; want stopped at %d with a snapshot", shards, res.Outcome, res.Ticks, snap != nil, stopAt)
		}
		c = cfg(shards)
		c.Resume = snap
		got, err := engine.Run(&counter{d: 5, stop: 200}, c)
		if err != nil {
			t.Fatal(err)
		}
		if got.Trace != ref.Trace || got.State != ref.State || got.Ticks != ref.Ticks || got.Outcome != ref.Outcome {
			t.Fatalf("shards %d: resumed after the stop: %+v, want %+v", shards, got, ref)
		}
	}
}
