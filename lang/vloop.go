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
//     id out of range, a zero divisor) or the budget would run out, the
//     chunk is dropped and the scalar code runs from its first iteration,
//     faulting exactly where it always would.

// vloopNone marks a loop that is not vectorizable (opVLoop falls through).
const vloopNone = 1<<32 - 1

const (
	vlanes    = 64 // iterations per chunk
	vslotsMax = 24 // distinct registers of a vectorized body
)

// vectorizable reports whether body (the code of a loop body) is
// straight-line code over allowed ops, writing only registers allocated in
// the body (>= mark), so no register carries a value between iterations.
func vectorizable(body []uint64, mark int) bool {
	for _, ins := range body {
		switch op := opcode(ins); {
		case op == opEmit:
		case op == opMov, op >= opAdd && op <= opSarI, op == opDivC, op == opModC,
			op >= opMinU && op <= opLeS, op == opLdF, op == opRng, op == opID, op == opIDMod,
			op >= opFLAdd && op <= opFLXor:
			if int(decA(ins)) < mark {
				return false
			}
		default:
			return false
		}
	}
	return len(body) > 0
}

// reads reports whether a vectorizable instruction reads register reg.
func reads(ins uint64, reg int) bool {
	a, b, c := int(decA(ins)), int(decB(ins)), int(decC(ins))
	switch op := opcode(ins); {
	case op == opRng || op == opLdF:
		return false
	case op == opEmit:
		return a == reg || b == reg || c == reg
	case op >= opFLAdd && op <= opFLXor:
		return c == reg
	case op == opMov || op >= opAddI && op <= opSarI || op == opNeg || op == opBNot || op == opNot ||
		op == opDivC || op == opModC || op == opIDMod:
		return b == reg
	}
	return b == reg || c == reg
}

type vins struct {
	op      opcode
	a, b, c uint8 // column slots (c: divisor slot for divc, modc, idmod)
	imm     uint64
}

type vbcast struct{ slot, reg uint8 }

// vprog is a vectorizable body translated to column slots.
type vprog struct {
	code    []vins
	bcast   []vbcast // read-only registers, broadcast into their columns
	iSlot   uint8
	iReg    int
	endReg  int
	exit    int   // pc after the loop
	cost    int64 // budget charge per iteration (the scalar loop's)
	nRng    uint64
	rngOff  uint64
	emits   []vins // the emit instructions, in order
	fields  []vins // loop-invariant field reads (opLdF), filled once per loop
	useI    bool   // the body reads the loop variable
	divs    []uint8
	hasRng  bool
	hasIDs  bool
	hasEmit bool
}

// buildVprog translates a loop body of the linked code, or returns nil if
// it cannot run vectorized (too many registers, reads of the rng field).
func (w *instance) buildVprog(d vloopDesc) *vprog {
	v := &vprog{iReg: d.iReg, endReg: d.endReg, exit: d.loop + 1, cost: int64(d.loop + 1 - d.head)}
	slots := map[int]uint8{}
	written := map[int]bool{}
	for _, ins := range w.code[d.head:d.loop] {
		if opcode(ins) != opEmit {
			written[int(decA(ins))] = true
		}
	}
	slot := func(reg int) uint8 {
		if s, ok := slots[reg]; ok {
			return s
		}
		s := uint8(len(slots))
		slots[reg] = s
		switch {
		case reg == d.iReg:
			v.iSlot = s
		case reg >= 0 && !written[reg]:
			v.bcast = append(v.bcast, vbcast{s, uint8(reg)})
		}
		return s
	}
	slot(d.iReg)
	writes := map[int]int{} // writes per register in the body
	for _, ins := range w.code[d.head:d.loop] {
		if op := opcode(ins); op != opEmit {
			writes[int(decA(ins))]++
		}
		if reads(ins, d.iReg) {
			v.useI = true
		}
	}
	rngOff := -1
	for _, ins := range w.code[d.head:d.loop] {
		op := opcode(ins)
		in := vins{op: op, imm: ins >> 32}
		switch op {
		case opDivC, opModC:
			in.a, in.b, in.c = slot(int(decA(ins))), slot(int(decB(ins))), decC(ins)
			v.divs = append(v.divs, decC(ins))
		case opIDMod:
			in.a, in.b, in.c = slot(int(decA(ins))), slot(int(decB(ins))), decC(ins)
			v.divs = append(v.divs, decC(ins))
			v.hasIDs = true
		case opRng:
			if rngOff >= 0 && uint64(rngOff) != in.imm {
				return nil
			}
			rngOff = int(in.imm)
			in.a = slot(int(decA(ins)))
			v.nRng++
		case opLdF:
			in.a = slot(int(decA(ins)))
			if writes[int(decA(ins))] == 1 { // loop-invariant: filled once per loop
				v.fields = append(v.fields, vins{op: opLdF, a: in.a, imm: in.imm})
				continue
			}
		case opFLAdd, opFLSub, opFLMul, opFLAnd, opFLOr, opFLXor:
			// the field into a column of its own (once per loop), then the register op
			tmp := slot(-1 - len(slots)) // a slot no register names
			v.fields = append(v.fields, vins{op: opLdF, a: tmp, imm: in.imm})
			in = vins{op: opAdd + (op - opFLAdd), a: slot(int(decA(ins))), b: tmp, c: slot(int(decC(ins)))}
		case opMov, opNeg, opBNot, opNot, opAddI, opSubI, opMulI, opAndI, opOrI, opXorI, opShlI, opShrI, opSarI:
			in.a, in.b = slot(int(decA(ins))), slot(int(decB(ins)))
		case opID:
			in.a, in.b, in.c = slot(int(decA(ins))), slot(int(decB(ins))), slot(int(decC(ins)))
			v.hasIDs = true
		default: // three registers, emit included
			in.a, in.b, in.c = slot(int(decA(ins))), slot(int(decB(ins))), slot(int(decC(ins)))
		}
		if op == opEmit {
			v.emits = append(v.emits, in)
			continue
		}
		v.code = append(v.code, in)
	}
	if len(slots) > vslotsMax {
		return nil
	}
	for _, in := range append(v.code, v.fields...) {
		if in.op == opLdF && rngOff >= 0 && in.imm == uint64(rngOff) {
			return nil // the body reads the state it advances
		}
	}
	if rngOff >= 0 {
		v.hasRng, v.rngOff = true, uint64(rngOff)
	}
	return v
}

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
	st, base := w.st, m.base
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
