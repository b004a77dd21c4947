package engine_test

import (
	"testing"

	"github.com/lexbench/lexbench/engine"
	"github.com/lexbench/lexbench/trace"
)

// local is D domains that all boot and each send Ticks to themselves: no
// message ever crosses shards.
type local struct{ counter }

func (w *local) Boots(uint32) bool { return true }
func (w *local) Deliver(out *engine.Outbox, msgs []trace.Entry) {
	for _, m := range msgs {
		if w.st[m.Dst]++; w.st[m.Dst] < 2000 {
			out.Emit(m.Dst, m.Dst, trace.KindTick, 0, 0)
		}
	}
}

// hub is one domain 0 that sends every message to the others and they
// answer: half the messages cross shards whatever the cut.
type hub struct{ counter }

func (w *hub) Deliver(out *engine.Outbox, msgs []trace.Entry) {
	for _, m := range msgs {
		if m.Dst == 0 {
			if w.st[0]++; w.st[0] < 2000 {
				for d := uint32(1); d < w.d; d++ {
					out.Emit(0, d, trace.KindData, 0, 0)
				}
			}
		} else if m.Kind == trace.KindData {
			out.Emit(m.Dst, 0, trace.KindTick, 0, 0)
		}
	}
}

func TestPredictShards(t *testing.T) {
	newLocal := func() engine.Workload { return &local{counter{d: 4096}} }
	newHub := func() engine.Workload { return &hub{counter{d: 300}} }
	for _, c := range []struct {
		name   string
		new    func() engine.Workload
		cpus   int
		budget uint64
		lo, hi int
	}{
		{"local, 1 CPU", newLocal, 1, 1 << 20, 1, 1},
		{"local, a small run", newLocal, 8, 1000, 1, 1},
		{"local, 4 CPUs", newLocal, 4, 1 << 20, 2, 4},
		{"hub, 4 CPUs", newHub, 4, 1 << 20, 1, 1},
	} {
		p, err := engine.PredictShards(c.new, "test", c.cpus, c.budget)
		if err != nil {
			t.Fatal(err)
		}
		if p.Shards < c.lo || p.Shards > c.hi || p.Why == "" {
			t.Errorf("%s: %d shards (%s), want %d..%d", c.name, p.Shards, p.Why, c.lo, c.hi)
		}
		again, _ := engine.PredictShards(c.new, "test", c.cpus, c.budget)
		if again != p {
			t.Errorf("%s: two predictions differ: %+v %+v", c.name, p, again)
		}
	}
}
