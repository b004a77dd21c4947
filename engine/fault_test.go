package engine_test

import (
	"errors"
	"fmt"
	"strings"
	"testing"

	"github.com/lexbench/lexbench/engine"
	"github.com/lexbench/lexbench/trace"
)

// fanout: domain 0 boots and at tick 1 sends one message to each of the
// other domains in the order given by perm; a domain faults on receipt if
// it is in bad. Every bad domain faults in the same tick.
type fanout struct {
	d    uint32
	perm []uint32
	bad  map[uint32]bool
	st   []uint64
}

func (w *fanout) Domains() uint32          { return w.d }
func (w *fanout) StateWords() int          { return int(w.d) }
func (w *fanout) Init(words []uint64)      { w.st = words }
func (w *fanout) Span(d uint32) (int, int) { return int(d), 1 }
func (w *fanout) Boots(d uint32) bool      { return d == 0 }
func (w *fanout) Weight(uint32) uint64     { return 1 }
func (w *fanout) Goals() error             { return nil }
func (w *fanout) Deliver(out *engine.Outbox, msgs []trace.Entry) {
	for i, m := range msgs {
		if m.Dst == 0 {
			for _, d := range w.perm {
				out.Emit(0, d, trace.KindData, uint64(d), 0)
			}
			continue
		}
		if w.bad[m.Dst] {
			out.Fault(i, fmt.Errorf("domain %d faulted", m.Dst))
			return
		}
		w.st[m.Dst]++
	}
}

func TestFaultIsTheFirstInDeliveryOrderForEveryShardCount(t *testing.T) {
	// Domain 0 sends to 9, 3, 7, 1, 5: faults at 7, 3 and 5 arrive in the
	// order 3, 7, 5 in ≺ order (seq order of the sends after 9), so the
	// reported one is 3's, whichever shards hold 3, 5 and 7.
	w := func() *fanout {
		return &fanout{d: 10, perm: []uint32{9, 3, 7, 1, 5}, bad: map[uint32]bool{7: true, 3: true, 5: true}}
	}
	for _, s := range []int{1, 2, 3, 4, 7, 10} {
		_, err := engine.Run(w(), cfg(s))
		if err == nil || err.Error() != "domain 3 faulted" {
			t.Fatalf("shards %d: err %v, want domain 3 faulted", s, err)
		}
	}
	ok := &fanout{d: 10, perm: []uint32{9, 3, 7, 1, 5}}
	res, err := engine.Run(ok, cfg(2))
	if err != nil || res.Outcome != engine.Converged {
		t.Fatalf("without faults: %v %v", res.Outcome, err)
	}
}

// stray emits to a nonexistent domain from several domains in one tick.
type stray struct{ counter }

func (w *stray) Boots(d uint32) bool { return true }
func (w *stray) Deliver(out *engine.Outbox, msgs []trace.Entry) {
	for _, m := range msgs {
		if m.Dst%3 == 2 {
			out.Emit(m.Dst, w.d+m.Dst, trace.KindData, 0, 0)
		}
	}
}

func TestEmissionToNonexistentDomainIsReportedForTheLeastSrc(t *testing.T) {
	want := "engine: tick 0: domain 2 emitted to nonexistent domain 14 (domains: 12)"
	for _, s := range []int{1, 2, 3, 5, 12} {
		_, err := engine.Run(&stray{counter{d: 12}}, cfg(s))
		if err == nil || err.Error() != want {
			t.Fatalf("shards %d: err %v, want %q", s, err, want)
		}
	}
}

// strayUnsorted: every domain boots; in one Deliver, domains are handled
// from the highest id down, so the outbox is out of src order, and every
// third domain also emits to a nonexistent domain (issue 15 #10: with one
// shard this emptied the outbox and then sorted it, index out of range).
type strayUnsorted struct{ counter }

func (w *strayUnsorted) Boots(uint32) bool { return true }
func (w *strayUnsorted) Deliver(out *engine.Outbox, msgs []trace.Entry) {
	for i := len(msgs) - 1; i >= 0; i-- {
		d := msgs[i].Dst
		out.Emit(d, (d+1)%w.d, trace.KindData, 0, 0)
		if d%3 == 1 {
			out.Emit(d, w.d+d, trace.KindData, 0, 0)
		}
	}
}

// doubler: domain 0 boots; every message makes two more, to the next two
// domains: Q doubles every tick.
type doubler struct{ counter }

func (w *doubler) Deliver(out *engine.Outbox, msgs []trace.Entry) {
	for _, m := range msgs {
		out.Emit(m.Dst, (m.Dst+1)%w.d, trace.KindData, 0, 0)
		out.Emit(m.Dst, (m.Dst+2)%w.d, trace.KindData, 0, 0)
	}
}

// TestEngineErrorPathsAtEveryShardCount: every error the engine reports
// for a tick is the same error at every shard count (SPEC §1: a sharded
// run is indistinguishable from the sequential one).
func TestEngineErrorPathsAtEveryShardCount(t *testing.T) {
	for _, tc := range []struct {
		name   string
		w      func() engine.Workload
		limit  int64
		want   string
		target error
	}{
		{"nonexistent dst, unsorted outbox", func() engine.Workload { return &strayUnsorted{counter{d: 12}} }, 0,
			"engine: tick 0: domain 1 emitted to nonexistent domain 13 (domains: 12)", nil},
		{"nonexistent dst", func() engine.Workload { return &stray{counter{d: 12}} }, 0,
			"engine: tick 0: domain 2 emitted to nonexistent domain 14 (domains: 12)", nil},
		{"transition fault", func() engine.Workload {
			return &fanout{d: 10, perm: []uint32{9, 3, 7, 1, 5}, bad: map[uint32]bool{7: true, 3: true, 5: true}}
		}, 0, "domain 3 faulted", nil},
		{"EmitAt before the next tick", func() engine.Workload {
			return &emitAtBad{stray: stray{counter{d: 12}}, tick: func(next uint64) uint64 { return next - 1 }}
		}, 0, "engine: tick 0: domain 2 scheduled a message for tick 0, before the next tick 1", nil},
		{"EmitAt after the last tick", func() engine.Workload {
			return &emitAtBad{stray: stray{counter{d: 12}}, tick: func(uint64) uint64 { return 1 << 40 }}
		}, 0, "engine: tick 0: domain 2 scheduled a message for tick 1099511627776: " + engine.ErrTickRange.Error(), engine.ErrTickRange},
		{"in flight", func() engine.Workload { return &doubler{counter{d: 20}} }, 100,
			"engine: tick 7: " + engine.ErrInFlight.Error() + ": more than 100 messages pending", engine.ErrInFlight},
		{"in flight, one outbox", func() engine.Workload { return &doubler{counter{d: 20}} }, 1,
			"engine: tick 1: " + engine.ErrInFlight.Error() + ": more than 1 messages pending", engine.ErrInFlight},
	} {
		for s := 1; s <= 7; s++ {
			c := cfg(s)
			c.MaxInFlight = tc.limit
			_, err := engine.Run(tc.w(), c)
			if err == nil || err.Error() != tc.want || tc.target != nil && !errors.Is(err, tc.target) {
				t.Fatalf("%s, shards %d: err %v, want %q", tc.name, s, err, tc.want)
			}
		}
	}
}

// TestTicksDoNotWrap: a run that reaches tick 2^32 with messages pending
// ends with ErrTickRange (ticks are u32 in the journal), at every shard
// count; a --max-ticks budget of 2^32 ends it there instead. The run starts
// from a checkpoint moved to tick 2^32-2.
func TestTicksDoNotWrap(t *testing.T) {
	var cp *engine.Checkpoint
	c := cfg(1)
	c.NoDetect, c.MaxTicks, c.SnapshotEvery = true, 3, 1
	c.Snapshot = func(k *engine.Checkpoint) error { cp = k.Clone(); return nil }
	if _, err := engine.Run(&counter{d: 2}, c); err != nil || cp == nil {
		t.Fatal(err)
	}
	cp.Tick = engine.MaxTick - 1
	for i := range cp.Pending {
		cp.Pending[i].Tick = uint32(cp.Tick)
	}
	for s := 1; s <= 3; s++ {
		c := cfg(s)
		c.NoDetect, c.Resume = true, cp
		_, err := engine.Run(&counter{d: 2}, c)
		if !errors.Is(err, engine.ErrTickRange) || err.Error() != "engine: tick 4294967296: 1 messages pending: "+engine.ErrTickRange.Error() {
			t.Fatalf("shards %d: err %v, want ErrTickRange at tick 2^32", s, err)
		}
		c.MaxTicks = 1 << 32
		res, err := engine.Run(&counter{d: 2}, c)
		if err != nil || res.Outcome != engine.Budget || res.Ticks != 1<<32 || res.Msgs != cp.Msgs+2 {
			t.Fatalf("shards %d, max-ticks 2^32: %v %+v", s, err, res)
		}
	}
}

// foreignSrc: every domain boots and counts to 3 like counter; at tick 0
// domain 1 also emits a message with src d-1, a domain of the last shard.
type foreignSrc struct{ counter }

func (w *foreignSrc) Boots(uint32) bool { return true }
func (w *foreignSrc) Deliver(out *engine.Outbox, msgs []trace.Entry) {
	w.counter.Deliver(out, msgs)
	for _, m := range msgs {
		if m.Dst == 1 && out.Tick() == 1 {
			out.Emit(w.d-1, 0, trace.KindData, 0, 0)
		}
	}
}

// TestAForeignSrcIsReportedByItself: an emission whose src is outside the
// emitting shard's domains is reported with that src, not with the least
// src of the shard's outbox (before: "… with src 0, not its own id"). With
// one shard the check cannot see it: the shard holds every domain.
func TestAForeignSrcIsReportedByItself(t *testing.T) {
	for _, s := range []int{2, 3, 5} {
		_, err := engine.Run(&foreignSrc{counter{d: 12, stop: 3}}, cfg(s))
		if err == nil || !strings.Contains(err.Error(), "emitted a message with src 11, not its own id") {
			t.Fatalf("shards %d: err %v, want src 11 named", s, err)
		}
	}
}
