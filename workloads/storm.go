package workloads

import (
	"github.com/lexbench/lexbench/internal/divisor"

	"github.com/lexbench/lexbench/engine"
	"github.com/lexbench/lexbench/trace"
)

// StormSpec is SPEC §5.2: P producers flood C consumers.
var StormSpec = Spec{
	Name: "storm",
	Keys: []Key{
		{Name: "producers", Default: 2, Min: 1, Max: 1 << 24, Usage: "number of producers P"},
		{Name: "consumers", Default: 1024, Min: 1, Max: 1 << 26, Usage: "number of consumers C"},
	},
	New: func(p Params) Workload { return newStorm(p) },
}

// Storm layout: producer p (domains 0..P-1) at 3p: [remaining, sent, rng];
// consumer P+c at 3P+2c: [count, acc].
type Storm struct {
	p         Params
	producers uint64
	consumers uint64
	divC      divisor.Divisor
	st        []uint64
}

func newStorm(p Params) *Storm {
	return &Storm{p: p, producers: p.K[0], consumers: p.K[1], divC: divisor.New(p.K[1])}
}

func (w *Storm) Domains() uint32     { return uint32(w.producers + w.consumers) }
func (w *Storm) StateWords() int     { return int(3*w.producers + 2*w.consumers) }
func (w *Storm) Boots(d uint32) bool { return uint64(d) < w.producers }

func (w *Storm) Init(words []uint64) {
	w.st = words
	P := w.producers
	for p := uint64(0); p < P; p++ {
		rem := w.p.N / P
		if p < w.p.N%P {
			rem++
		}
		words[3*p] = rem
		words[3*p+2] = seedFor(w.p.Seed, uint32(p))
	}
}

func (w *Storm) Span(d uint32) (off, n int) {
	if uint64(d) < w.producers {
		return 3 * int(d), 3
	}
	return int(3*w.producers + 2*(uint64(d)-w.producers)), 2
}

// Weight: the producers together weigh as much as the consumers together,
// so two shards split into producing and consuming.
func (w *Storm) Weight(d uint32) uint64 {
	if uint64(d) < w.producers {
		return max(1, w.consumers/w.producers)
	}
	return 1
}

func (w *Storm) Deliver(out *engine.Outbox, msgs []trace.Entry) {
	st := w.st
	P := w.producers
	base := int(3*P) - 2*int(P)
	for i := range msgs {
		m := &msgs[i]
		if uint64(m.Dst) < P {
			w.produce(out, m.Dst)
			continue
		}
		if m.Kind != trace.KindData {
			continue
		}
		c := st[base+2*int(m.Dst) : base+2*int(m.Dst)+2]
		c[0]++
		c[1] = (c[1]^m.A)*0x100000001B3 + m.B
	}
}

func (w *Storm) produce(out *engine.Outbox, p uint32) {
	s := w.st[3*p : 3*p+3]
	remaining := s[0]
	k := min(w.p.Batch, remaining)
	remaining -= k
	more := 0
	if remaining > 0 {
		more = 1
	}
	es := out.Reserve(int(k) + more)
	tick := out.Tick()
	sent, rng := s[1], s[2]
	P, dC := uint32(w.producers), w.divC // locals: kept in registers across the stores
	for i := range es[:k] {
		r := next(&rng)
		e := &es[i]
		e.Tick, e.Src, e.Dst, e.Kind, e.Flags = tick, p, P+uint32(dC.Mod(r)), trace.KindData, 0
		e.A, e.B = r, sent
		sent++
	}
	if more == 1 {
		es[k] = trace.Entry{Tick: tick, Src: p, Dst: p, Kind: trace.KindTick}
	}
	s[0], s[1], s[2] = remaining, sent, rng
}

func (w *Storm) delivered() uint64 {
	var sum uint64
	for c := uint64(0); c < w.consumers; c++ {
		sum += w.st[3*w.producers+2*c]
	}
	return sum
}

func (w *Storm) Goals() error {
	if got := w.delivered(); got != w.p.N {
		return goalErr("storm.delivered", "consumers: counts sum to %d, want n = %d", got, w.p.N)
	}
	return nil
}

func (w *Storm) Figures() []Figure { return []Figure{{"delivered", w.delivered()}} }
