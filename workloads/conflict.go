package workloads

import (
	"github.com/lexbench/lexbench/internal/divisor"

	"github.com/lexbench/lexbench/engine"
	"github.com/lexbench/lexbench/trace"
)

// ConflictSpec is SPEC §5.4: k controllers of different priority claim one
// resource per group; the highest priority wins.
var ConflictSpec = Spec{
	Name: "conflict",
	Keys: []Key{
		{Name: "groups", Default: 1024, Min: 1, Max: 1 << 24, Usage: "number of groups G"},
		{Name: "controllers", Default: 2, Min: 2, Max: 5, Usage: "controllers per group k (2..5)"},
	},
	New: func(p Params) Workload { return newConflict(p) },
}

// Controller status values (SPEC §5.4).
const (
	statusIdle uint64 = iota
	statusPending
	statusSatisfied
	statusSuppressed
)

const hpNone = 255

// Conflict layout: driver [remaining, rng]; group g at 2+g·(3+2k): the
// resource R (domain 1+g(k+1)) [x, hp, holder], then controller c
// (domain 2+g(k+1)+c) [target, status].
type Conflict struct {
	p           Params
	groups      uint64
	controllers uint64
	stride      int // words per group
	divG        divisor.Divisor
	divK        divisor.Divisor
	divK1       divisor.Divisor // k+1: domains per group
	st          []uint64
}

func newConflict(p Params) *Conflict {
	k := p.K[1]
	return &Conflict{p: p, groups: p.K[0], controllers: k, stride: 3 + 2*int(k),
		divG: divisor.New(p.K[0]), divK: divisor.New(k), divK1: divisor.New(k + 1)}
}

func (w *Conflict) Domains() uint32     { return uint32(1 + w.groups*(w.controllers+1)) }
func (w *Conflict) StateWords() int     { return 2 + int(w.groups)*w.stride }
func (w *Conflict) Boots(d uint32) bool { return d == 0 }

func (w *Conflict) Init(words []uint64) {
	w.st = words
	words[0] = w.p.N
	words[1] = seedFor(w.p.Seed, 0)
	for g := 0; g < int(w.groups); g++ {
		words[2+g*w.stride+1] = hpNone
	}
}

func (w *Conflict) Span(d uint32) (off, n int) {
	if d == 0 {
		return 0, 2
	}
	g, j := w.divK1.DivMod(uint64(d - 1))
	base := 2 + int(g)*w.stride
	if j == 0 {
		return base, 3
	}
	return base + 3 + 2*int(j-1), 2
}

// Weight: generating a goal costs about as much as the three transitions
// it causes in its group.
func (w *Conflict) Weight(d uint32) uint64 {
	if d == 0 {
		return 2 * w.groups
	}
	return 1
}

func (w *Conflict) Deliver(out *engine.Outbox, msgs []trace.Entry) {
	for i := range msgs {
		m := &msgs[i]
		d := m.Dst
		if d == 0 {
			w.drive(out)
			continue
		}
		g, j := w.divK1.DivMod(uint64(d - 1))
		base := 2 + int(g)*w.stride
		if j == 0 {
			w.resource(out, d, w.st[base:base+3], m)
			continue
		}
		c := j - 1
		s := w.st[base+3+2*int(c) : base+5+2*int(c)]
		switch m.Kind {
		case trace.KindSetGoal:
			s[0], s[1] = m.A, statusPending
			out.Emit(d, d-uint32(j), trace.KindClaim, c, m.A)
		case trace.KindGranted:
			if s[1] == statusPending && m.A == s[0] {
				s[1] = statusSatisfied
			}
		case trace.KindDenied:
			if s[1] == statusPending && m.B == s[0] {
				s[1] = statusSuppressed
			}
		case trace.KindPreempted:
			if s[1] == statusSatisfied {
				s[1] = statusSuppressed
			}
		}
	}
}

// resource is R's transition: grant a claim of higher or equal priority,
// preempting the previous holder, or deny it.
func (w *Conflict) resource(out *engine.Outbox, d uint32, r []uint64, m *trace.Entry) {
	if m.Kind != trace.KindClaim {
		return
	}
	p, t, s := m.A, m.B, m.Src
	if p <= r[1] {
		prev := r[2]
		r[0], r[1], r[2] = t, p, uint64(s)
		out.Emit(d, s, trace.KindGranted, t, 0)
		if prev != 0 && prev != uint64(s) {
			out.Emit(d, uint32(prev), trace.KindPreempted, p, 0)
		}
		return
	}
	out.Emit(d, s, trace.KindDenied, r[1], t)
}

func (w *Conflict) drive(out *engine.Outbox) {
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
	kk := w.controllers
	divG, divK := w.divG, w.divK // locals: kept in registers across the stores
	for i := range es[:k] {
		r1 := next(&rng)
		r2 := next(&rng)
		q, g := divG.DivMod(r1)
		c := divK.Mod(q)
		dst := 1 + g*(kk+1) + 1 + c
		e := &es[i]
		e.Tick, e.Src, e.Dst, e.Kind, e.Flags = tick, 0, uint32(dst), trace.KindSetGoal, 0
		e.A, e.B = r2%1000, 0
	}
	if more == 1 {
		es[k] = trace.Entry{Tick: tick, Src: 0, Dst: 0, Kind: trace.KindTick}
	}
	st[0] = remaining
	st[1] = rng
}

func (w *Conflict) Goals() error {
	k := int(w.controllers)
	for g := 0; g < int(w.groups); g++ {
		base := 2 + g*w.stride
		r := w.st[base : base+3]
		rid := 1 + g*(k+1)
		star := -1
		for c := 0; c < k; c++ {
			if w.st[base+3+2*c+1] != statusIdle {
				star = c
				break
			}
		}
		if star < 0 {
			if r[1] != hpNone || r[2] != 0 {
				return goalErr("conflict.unclaimed", "group %d: no controller claimed, but R (domain %d) has hp %d holder %d", g, rid, r[1], r[2])
			}
			continue
		}
		cs := w.st[base+3+2*star : base+5+2*star]
		switch {
		case r[1] != uint64(star):
			return goalErr("conflict.priority", "group %d: R (domain %d) hp = %d, want %d", g, rid, r[1], star)
		case r[2] != uint64(rid+1+star):
			return goalErr("conflict.holder", "group %d: R (domain %d) holder = %d, want controller %d (domain %d)", g, rid, r[2], star, rid+1+star)
		case cs[1] != statusSatisfied:
			return goalErr("conflict.satisfied", "group %d: controller %d (domain %d) has status %d, want satisfied", g, star, rid+1+star, cs[1])
		case r[0] != cs[0]:
			return goalErr("conflict.value", "group %d: R (domain %d) x = %d, want target %d of controller %d", g, rid, r[0], cs[0], star)
		}
		for c := 0; c < k; c++ {
			if c == star {
				continue
			}
			if st := w.st[base+3+2*c+1]; st != statusIdle && st != statusSuppressed {
				return goalErr("conflict.suppressed", "group %d: controller %d (domain %d) has status %d, want idle or suppressed", g, c, rid+1+c, st)
			}
		}
	}
	return nil
}

func (w *Conflict) Figures() []Figure { return nil }
