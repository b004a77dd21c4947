package engine_test

import (
	"reflect"
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

// TestStopUnderLocalDetection: a stop request under local detection ends
// the run at that boundary with a snapshot holding the local detector
// (mid-search, a silent damped cell, a woken one), from which the run
// resumes to the uninterrupted result; at a boundary where a cell
// oscillates under halt, the oscillation is the run's outcome, not the
// stop (the boundary's checks come first).
func TestStopUnderLocalDetection(t *testing.T) {
	def := pingPong(80, 50, true, false)
	want := runSys(t, def, localCfg(1, true)).res
	for _, stopAt := range []uint64{1, 2, 3, 4, 50, 51, 52, 53, 54, 70} {
		for _, shards := range []int{1, 3} {
			var stop atomic.Bool
			var snap *engine.Checkpoint
			c := localCfg(shards, true)
			c.Stop = &stop
			c.Progress = func(tick, msgs uint64) {
				if tick == stopAt {
					stop.Store(true)
				}
			}
			c.SnapshotEvery = 1000 // never due by itself
			c.Snapshot = func(cp *engine.Checkpoint) error {
				snap = cp.Clone()
				return nil
			}
			res := runSys(t, def, c).res
			if res.Outcome != engine.Stopped || res.Ticks != stopAt || snap == nil || snap.Tick != stopAt || !snap.Local {
				t.Fatalf("stop at %d, shards %d: outcome %v at tick %d, snapshot %v; want stopped there with a local snapshot", stopAt, shards, res.Outcome, res.Ticks, snap != nil)
			}
			rc := localCfg(3, true)
			rc.Resume = snap
			got := runSys(t, def, rc).res
			if got.Trace != want.Trace || got.State != want.State || got.Outcome != want.Outcome || got.Ticks != want.Ticks ||
				got.Msgs != want.Msgs || got.Dropped != want.Dropped || !reflect.DeepEqual(got.Oscillation, want.Oscillation) {
				t.Fatalf("resumed after a stop at %d (shards %d): %+v, want %+v", stopAt, shards, got, want)
			}
		}
	}
	// halt: cell 1 oscillates at boundary 3 (see
	// TestPingPongCellNextToACellWithInputsIsCaughtAtTheSpecTick)
	var stop atomic.Bool
	c := localCfg(2, false)
	c.Stop = &stop
	c.Progress = func(tick, msgs uint64) { stop.Store(tick == 3) }
	if res := runSys(t, pingPong(1000, 0, true, false), c).res; res.Outcome != engine.Oscillating || res.Ticks != 3 {
		t.Fatalf("stop requested at the oscillating boundary 3: %v at tick %d, want oscillating at 3", res.Outcome, res.Ticks)
	}
}
