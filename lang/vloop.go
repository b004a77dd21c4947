package lang

import (
	"github.com/lexbench/lexbench/internal/divisor"
	"math/bits"

	"github.com/lexbench/lexbench/trace"
)

// Vectorized loops. A generator's loop body (for i in 0..k { let r = rng()
// … emit(…) }) is straight-line code whose only loop-carried state is the
// loop variable, the rng field and the emissions. Such a body runs column
// by column: each instruction once for a chunk of up to vlanes iterations,
// so dispatch is paid once per chunk, not per iteration. The result is the
// scalar loop's exactly:
//
//   - rng: SplitMix64's state is a counter, so the k-th of R draws of
//     iteration j is mix(s + (j·R + k + 1)·golden), whatever the order in
//     which the draws are computed;
//   - emissions: the chunk reserves lanes × E entries and writes the e-th
//     emission of iteration j at j·E + e, the scalar order;
//   - a chunk has no side effect until it commits (rng state, emissions,
//     budget), so when a lane would fault (emit to a nonexistent domain, an
//     id out of range, a zero divisor, a u64 subtraction that would wrap)
//     or the budget would run out, the
//     chunk is dropped and the scalar code runs from its first iteration,
//     faulting exactly where it always would.

// vloopNone marks a loop that is not vectorizable (opVLoop falls through).
const vloopNone = 1<<32 - 1

const (
	vlanes    = 64 // iterations per chunk
	vslotsMax = 24 // distinct registers of a vectorized body
)

// vloop runs the loop of v from its current iteration and returns the pc
// to continue at: v.exit when done, or pc (the scalar body) to finish it
// one iteration at a time.
func (w *instance) vloop(m *machine, v *vprog, pc int) int {
	var cols [vslotsMax][vlanes + 8]uint64 // padded: columns 4 KiB apart would alias in the store buffer
	r := &m.r
	cur, end := r[v.iReg], r[v.endReg]
	for _, dv := range v.divs {
		if w.divs[dv].D == 0 {
			return pc
		}
	}
	for _, b := range v.bcast {
		col, x := &cols[b.slot], r[b.reg]
		for j := range col {
			col[j] = x
		}
	}
	st, base := m.st, m.base
	for _, f := range v.fields {
		col, x := &cols[f.a], st[base+f.imm]
		for j := range col {
			col[j] = x
		}
	}
	var rngp *uint64
	if v.hasRng {
		rngp = &st[base+v.rngOff]
	}
	tick, self, nd := m.out.Tick(), uint32(r[regSelf]), w.d
	ne := len(v.emits)
chunks:
	for cur < end {
		l := int(min(vlanes, end-cur))
		charge := v.cost * int64(l)
		if m.budget < charge {
			break
		}
		if v.useI {
			iv := cols[v.iSlot][:l]
			for j := range iv {
				iv[j] = cur + uint64(j)
			}
		}
		var s uint64
		if rngp != nil {
			s = *rngp
		}
		var nr uint64
		for k := range v.code {
			in := &v.code[k]
			a := cols[in.a][:l]
			b := cols[in.b][:len(a)] // same lengths: no bounds checks in the loops
			c := cols[in.c][:len(a)]
			switch in.op {
			case opMov:
				copy(a, b)
			case opAdd:
				for j := range a {
					a[j] = b[j] + c[j]
				}
			case opSub:
				for j := range a {
					a[j] = b[j] - c[j]
				}
			case opMul:
				for j := range a {
					a[j] = b[j] * c[j]
				}
			case opAnd:
				for j := range a {
					a[j] = b[j] & c[j]
				}
			case opOr:
				for j := range a {
					a[j] = b[j] | c[j]
				}
			case opXor:
				for j := range a {
					a[j] = b[j] ^ c[j]
				}
			case opShl:
				for j := range a {
					a[j] = b[j] << c[j]
				}
			case opShr:
				for j := range a {
					a[j] = b[j] >> c[j]
				}
			case opSar:
				for j := range a {
					a[j] = uint64(int64(b[j]) >> c[j])
				}
			case opAddI:
				for j := range a {
					a[j] = b[j] + in.imm
				}
			case opSubC: // a lane that would wrap: the scalar code reports it
				for j := range a {
					if c[j] > b[j] {
						break chunks
					}
					a[j] = b[j] - c[j]
				}
			case opSubIC:
				for j := range a {
					if in.imm > b[j] {
						break chunks
					}
					a[j] = b[j] - in.imm
				}
			case opSubI:
				for j := range a {
					a[j] = b[j] - in.imm
				}
			case opMulI:
				for j := range a {
					a[j] = b[j] * in.imm
				}
			case opAndI:
				for j := range a {
					a[j] = b[j] & in.imm
				}
			case opOrI:
				for j := range a {
					a[j] = b[j] | in.imm
				}
			case opXorI:
				for j := range a {
					a[j] = b[j] ^ in.imm
				}
			case opShlI:
				for j := range a {
					a[j] = b[j] << in.imm
				}
			case opShrI:
				for j := range a {
					a[j] = b[j] >> in.imm
				}
			case opSarI:
				for j := range a {
					a[j] = uint64(int64(b[j]) >> in.imm)
				}
			case opDivC, opModC, opIDMod:
				vdiv(in.op, a, b, &w.divs[in.c], &w.ids[min(int(in.imm), len(w.ids)-1)])
			case opMinU:
				for j := range a {
					a[j] = min(b[j], c[j])
				}
			case opMaxU:
				for j := range a {
					a[j] = max(b[j], c[j])
				}
			case opMinS:
				for j := range a {
					a[j] = uint64(min(int64(b[j]), int64(c[j])))
				}
			case opMaxS:
				for j := range a {
					a[j] = uint64(max(int64(b[j]), int64(c[j])))
				}
			case opNeg:
				for j := range a {
					a[j] = -b[j]
				}
			case opBNot:
				for j := range a {
					a[j] = ^b[j]
				}
			case opNot:
				for j := range a {
					a[j] = b[j] ^ 1
				}
			case opEq:
				for j := range a {
					a[j] = b2u(b[j] == c[j])
				}
			case opNe:
				for j := range a {
					a[j] = b2u(b[j] != c[j])
				}
			case opLtU:
				for j := range a {
					a[j] = b2u(b[j] < c[j])
				}
			case opLeU:
				for j := range a {
					a[j] = b2u(b[j] <= c[j])
				}
			case opLtS:
				for j := range a {
					a[j] = b2u(int64(b[j]) < int64(c[j]))
				}
			case opLeS:
				for j := range a {
					a[j] = b2u(int64(b[j]) <= int64(c[j]))
				}
			case opLdF:
				x := st[base+in.imm]
				for j := range a {
					a[j] = x
				}
			case opRng:
				nr++
				step := v.nRng * golden
				z0 := s + nr*golden
				for j := range a {
					z := z0 + uint64(j)*step
					z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9
					z = (z ^ (z >> 27)) * 0x94D049BB133111EB
					a[j] = z ^ (z >> 31)
				}
			case opID:
				id := &w.ids[in.imm]
				for j := range a {
					g, k := b[j], c[j]
					if g >= id.gcount || k >= id.mcount {
						break chunks // the scalar code reports it
					}
					a[j] = id.d0 + g*id.per + id.moff + k
				}
			}
		}
		for e := range v.emits {
			for _, dst := range cols[v.emits[e].a][:l] {
				if dst >= nd {
					break chunks // the scalar code reports it
				}
			}
		}
		// commit the chunk
		if ne > 0 {
			es := m.out.Reserve(l * ne)
			for e := range v.emits {
				em := &v.emits[e]
				dst, ea, eb := cols[em.a][:l], cols[em.b][:l], cols[em.c][:l]
				kind := trace.Kind(em.imm)
				for j := range dst {
					x := &es[j*ne+e]
					x.Tick, x.Src, x.Dst, x.Kind, x.Flags = tick, self, uint32(dst[j]), kind, 0
					x.A, x.B = ea[j], eb[j]
				}
			}
		}
		if rngp != nil {
			*rngp = s + uint64(l)*v.nRng*golden
		}
		m.budget -= charge
		cur += uint64(l)
	}
	r[v.iReg] = cur
	if cur >= end {
		return v.exit
	}
	return pc
}

// vdiv is a[j] = b[j] / d, b[j] % d or the id of member id's domain
// b[j] % d (op divc, modc, idmod), one pass with no branch in the loop.
func vdiv(op opcode, a, b []uint64, dv *divisor.Divisor, id *idInst) {
	b = b[:len(a)]
	d, mg, sh := dv.D, dv.Magic, dv.Shift
	d0, per := id.d0+id.moff, id.per
	switch {
	case mg == 0: // a power of two
		switch op {
		case opDivC:
			for j := range a {
				a[j] = b[j] >> sh
			}
		case opModC:
			for j := range a {
				a[j] = b[j] & (d - 1)
			}
		default:
			for j := range a {
				a[j] = d0 + (b[j]&(d-1))*per
			}
		}
	case !dv.Add:
		switch op {
		case opDivC:
			for j := range a {
				hi, _ := bits.Mul64(b[j], mg)
				a[j] = hi >> sh
			}
		case opModC:
			for j := range a {
				x := b[j]
				hi, _ := bits.Mul64(x, mg)
				a[j] = x - (hi>>sh)*d
			}
		default:
			for j := range a {
				x := b[j]
				hi, _ := bits.Mul64(x, mg)
				a[j] = d0 + (x-(hi>>sh)*d)*per
			}
		}
	default:
		switch op {
		case opDivC:
			for j := range a {
				x := b[j]
				hi, _ := bits.Mul64(x, mg)
				a[j] = (((x - hi) >> 1) + hi) >> sh
			}
		case opModC:
			for j := range a {
				x := b[j]
				hi, _ := bits.Mul64(x, mg)
				a[j] = x - ((((x-hi)>>1)+hi)>>sh)*d
			}
		default:
			for j := range a {
				x := b[j]
				hi, _ := bits.Mul64(x, mg)
				a[j] = d0 + (x-((((x-hi)>>1)+hi)>>sh)*d)*per
			}
		}
	}
}
