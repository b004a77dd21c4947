package workloads

import (
	"github.com/lexbench/lexbench/internal/divisor"

	"github.com/lexbench/lexbench/engine"
	"github.com/lexbench/lexbench/trace"
)

// OscillationSpec is SPEC §5.5: two controllers per group set one register
// each to its own target; groups whose controllers disagree never converge.
var OscillationSpec = Spec{
	Name: "oscillation",
	Keys: []Key{
		{Name: "groups", Default: 4096, Min: 1, Max: 1 << 24, Usage: "number of groups G"},
		{Name: "targets", Default: 4, Min: 1, Max: ^uint64(0), Usage: "number of target values T"},
	},
	New: func(p Params) Workload { return newOscillation(p) },
}

// Oscillation layout: driver [remaining, rng]; group g at 2+5g: R
// (domain 1+3g) [x], A (2+3g) [target, seen], B (3+3g) [target, seen].
type Oscillation struct {
	p      Params
	groups uint64
	divG   divisor.Divisor
	divT   divisor.Divisor
	st     []uint64
}

func newOscillation(p Params) *Oscillation {
	return &Oscillation{p: p, groups: p.K[0], divG: divisor.New(p.K[0]), divT: divisor.New(p.K[1])}
}

func (w *Oscillation) Domains() uint32     { return uint32(1 + 3*w.groups) }
func (w *Oscillation) StateWords() int     { return 2 + 5*int(w.groups) }
func (w *Oscillation) Boots(d uint32) bool { return d == 0 }

func (w *Oscillation) Init(words []uint64) {
	w.st = words
	words[0] = w.p.N
	words[1] = seedFor(w.p.Seed, 0)
}

func (w *Oscillation) Span(d uint32) (off, n int) {
	if d == 0 {
		return 0, 2
	}
	g, j := uint64(d-1)/3, uint64(d-1)%3
	switch j {
	case 0:
		return 2 + 5*int(g), 1
	case 1:
		return 3 + 5*int(g), 2
	}
	return 5 + 5*int(g), 2
}

func (w *Oscillation) Weight(d uint32) uint64 {
	if d == 0 {
		return 2 * w.groups
	}
	return 1
}

func (w *Oscillation) Deliver(out *engine.Outbox, msgs []trace.Entry) {
	for i := range msgs {
		m := &msgs[i]
		d := m.Dst
		if d == 0 {
			w.drive(out)
			continue
		}
		g, j := uint64(d-1)/3, uint64(d-1)%3
		base := 2 + 5*int(g)
		if j == 0 { // R
			if m.Kind == trace.KindSet && m.A != w.st[base] {
				w.st[base] = m.A
				out.Emit(d, d+1, trace.KindChanged, m.A, 0)
				out.Emit(d, d+2, trace.KindChanged, m.A, 0)
			}
			continue
		}
		s := w.st[base+1+2*int(j-1) : base+3+2*int(j-1)]
		r := d - uint32(j)
		switch m.Kind {
		case trace.KindSetGoal:
			s[0] = m.A
			if m.A != s[1] {
				out.Emit(d, r, trace.KindSet, m.A, 0)
			}
		case trace.KindChanged:
			s[1] = m.A
			if m.A != s[0] {
				out.Emit(d, r, trace.KindSet, s[0], 0)
			}
		}
	}
}

func (w *Oscillation) drive(out *engine.Outbox) {
	st := w.st
	remaining := st[0]
	k := min(w.p.Batch, remaining)
	remaining -= k
	more := 0
	if remaining > 0 {
		more = 1
	}
	es := out.Reserve(int(k) + more)
	tick := out.Tick()
	rng := st[1]
	divG, divT := w.divG, w.divT // locals: kept in registers across the stores
	for i := range es[:k] {
		r1 := next(&rng)
		r2 := next(&rng)
		q, g := divG.DivMod(r1)
		c := q & 1
		e := &es[i]
		e.Tick, e.Src, e.Dst, e.Kind, e.Flags = tick, 0, uint32(2+3*g+c), trace.KindSetGoal, 0
		e.A, e.B = divT.Mod(r2), 0
	}
	if more == 1 {
		es[k] = trace.Entry{Tick: tick, Src: 0, Dst: 0, Kind: trace.KindTick}
	}
	st[0] = remaining
	st[1] = rng
}

func (w *Oscillation) Goals() error {
	for g := 0; g < int(w.groups); g++ {
		s := w.st[2+5*g : 7+5*g]
		if s[1] == s[3] && s[0] != s[1] {
			return goalErr("oscillation.agreed", "group %d: A and B want %d, but R (domain %d) holds %d", g, s[1], 1+3*g, s[0])
		}
	}
	return nil
}

func (w *Oscillation) Figures() []Figure { return nil }
