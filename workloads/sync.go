package workloads

import (
	"github.com/lexbench/lexbench/internal/divisor"

	"github.com/lexbench/lexbench/engine"
	"github.com/lexbench/lexbench/trace"
)

// SyncSpec is SPEC §5.3: groups of three replicas converge by
// Lamport-versioned last-writer-wins registers.
var SyncSpec = Spec{
	Name: "sync",
	Keys: []Key{
		{Name: "groups", Default: 1, Min: 1, Max: 1 << 24, Usage: "number of replica groups G"},
		{Name: "registers", Default: 16, Min: 1, Max: 65536, Usage: "registers per replica R (≤ 65536)"},
	},
	New: func(p Params) Workload { return newSync(p) },
}

// Sync layout: driver [remaining, rng]; replica d (1..3G) at
// 2+(d-1)·(1+2R): [L, then per register value, ver].
type Sync struct {
	p         Params
	groups    uint64
	registers uint64
	stride    int
	divG      divisor.Divisor
	divR      divisor.Divisor
	st        []uint64
}

func newSync(p Params) *Sync {
	return &Sync{p: p, groups: p.K[0], registers: p.K[1], stride: 1 + 2*int(p.K[1]),
		divG: divisor.New(p.K[0]), divR: divisor.New(p.K[1])}
}

func (w *Sync) Domains() uint32     { return uint32(1 + 3*w.groups) }
func (w *Sync) StateWords() int     { return 2 + 3*int(w.groups)*w.stride }
func (w *Sync) Boots(d uint32) bool { return d == 0 }

func (w *Sync) Init(words []uint64) {
	w.st = words
	words[0] = w.p.N
	words[1] = seedFor(w.p.Seed, 0)
}

func (w *Sync) Span(d uint32) (off, n int) {
	if d == 0 {
		return 0, 2
	}
	return 2 + int(d-1)*w.stride, w.stride
}

// Weight: generating a write costs about as much as the three replica
// transitions it causes, spread over the 3G replicas.
func (w *Sync) Weight(d uint32) uint64 {
	if d == 0 {
		return 2 * w.groups
	}
	return 1
}

func (w *Sync) Deliver(out *engine.Outbox, msgs []trace.Entry) {
	for i := range msgs {
		m := &msgs[i]
		d := m.Dst
		if d == 0 {
			w.drive(out)
			continue
		}
		s := w.st[2+int(d-1)*w.stride : 2+int(d)*w.stride]
		switch m.Kind {
		case trace.KindWrite:
			reg := m.A
			if reg >= w.registers {
				continue
			}
			rep := uint64(d-1) % 3
			s[0]++
			ver := s[0]<<2 | rep
			s[1+2*reg], s[2+2*reg] = m.B, ver
			first := d - uint32(rep) // replica 0 of the group
			for j := uint32(0); j < 3; j++ {
				if first+j != d {
					out.Emit(d, first+j, trace.KindSync, ver<<16|reg, m.B)
				}
			}
		case trace.KindSync:
			ver, reg := m.A>>16, m.A&0xFFFF
			if reg >= w.registers {
				continue
			}
			s[0] = max(s[0], ver>>2)
			if ver > s[2+2*reg] {
				s[1+2*reg], s[2+2*reg] = m.B, ver
			}
		}
	}
}

func (w *Sync) drive(out *engine.Outbox) {
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
	divG, divR := w.divG, w.divR // locals: kept in registers across the stores
	for i := range es[:k] {
		r1 := next(&rng)
		r2 := next(&rng)
		q, g := divG.DivMod(r1)
		rep := q % 3
		reg := divR.Mod(q / 3)
		e := &es[i]
		e.Tick, e.Src, e.Dst, e.Kind, e.Flags = tick, 0, uint32(1+3*g+rep), trace.KindWrite, 0
		e.A, e.B = reg, r2
	}
	if more == 1 {
		es[k] = trace.Entry{Tick: tick, Src: 0, Dst: 0, Kind: trace.KindTick}
	}
	st[0] = remaining
	st[1] = rng
}

func (w *Sync) Goals() error {
	for g := 0; g < int(w.groups); g++ {
		base := 2 + 3*g*w.stride
		r0 := w.st[base : base+w.stride]
		for j := 1; j < 3; j++ {
			rj := w.st[base+j*w.stride : base+(j+1)*w.stride]
			for reg := 0; reg < int(w.registers); reg++ {
				if r0[1+2*reg] != rj[1+2*reg] || r0[2+2*reg] != rj[2+2*reg] {
					return goalErr("sync.agree", "group %d register %d: replica 0 (domain %d) holds (%d, ver %d), replica %d (domain %d) holds (%d, ver %d)",
						g, reg, 1+3*g, r0[1+2*reg], r0[2+2*reg], j, 1+3*g+j, rj[1+2*reg], rj[2+2*reg])
				}
			}
		}
	}
	return nil
}

func (w *Sync) Figures() []Figure { return nil }
