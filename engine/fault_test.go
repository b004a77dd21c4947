package engine_test

import (
	"fmt"
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
