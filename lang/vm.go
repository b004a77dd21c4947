package lang

import (
	"fmt"
	"math/bits"
	"sort"

	"github.com/lexbench/lexbench/engine"
	"github.com/lexbench/lexbench/trace"
)

// runCtx is a one-shot run of the interpreter: an init block (on one
// domain), a goal or a figure.
type runCtx struct {
	pc                  int
	base                uint64
	self, index, member uint64
	ret                 uint64 // figure's value
	fail                int    // failed assert, -1 if none
	err                 error
	regs                [regsMax]uint64 // registers at a failed assert
	block               bool            // a goal or figure: no domain
}

// Deliver runs the handlers of msgs. The register file is a local array:
// each call (each shard) has its own, so shards share nothing mutable but
// their own domains' words in the arena.
func (w *instance) Deliver(out *engine.Outbox, msgs []trace.Entry) {
	if w.err != nil {
		out.Fault(0, w.err)
		return
	}
	w.interp(out, msgs, nil)
}

// interp is the interpreter. With one == nil it delivers msgs; otherwise
// it runs one.pc once (init, goal, figure) with the domain given in one.
func (w *instance) interp(out *engine.Outbox, msgs []trace.Entry, one *runCtx) {
	var r [regsMax]uint64
	copy(r[w.gbase:], w.globals)
	code, st, divs := w.code, w.st, w.divs
	nd := w.d
	lastD := ^uint64(0)
	var base uint64
	var disp []int32
	var pc int
	i := -1
	if one != nil {
		one.fail = -1
		base = one.base
		r[regSelf], r[regIndex], r[regMember] = one.self, one.index, one.member
	}
	var fault string
	var faultArgs []any
next:
	if one == nil {
		for {
			i++
			if i >= len(msgs) {
				return
			}
			m := &msgs[i]
			d := uint64(m.Dst)
			if d != lastD {
				e, g, s := w.locate(d)
				base = e.w0 + g*e.stride + s.off
				disp = s.disp
				r[regSelf], r[regIndex], r[regMember] = d, g, s.m
				lastD = d
			}
			if k := int(m.Kind); k < len(disp) && disp[k] >= 0 {
				pc = int(disp[k])
				r[regA], r[regB], r[regSrc] = m.A, m.B, uint64(m.Src)
				break
			}
		}
	} else {
		pc = one.pc
	}
	budget := w.budget
	for {
		ins := code[pc]
		pc++
		switch opcode(ins) {
		case opRet:
			if one != nil {
				return
			}
			goto next
		case opRetV:
			one.ret = r[decA(ins)]
			return
		case opFail:
			one.fail = int(decImm(ins))
			one.regs = r
			return
		case opMov:
			r[decA(ins)] = r[decB(ins)]
		case opAdd:
			r[decA(ins)] = r[decB(ins)] + r[decC(ins)]
		case opSub:
			r[decA(ins)] = r[decB(ins)] - r[decC(ins)]
		case opMul:
			r[decA(ins)] = r[decB(ins)] * r[decC(ins)]
		case opAnd:
			r[decA(ins)] = r[decB(ins)] & r[decC(ins)]
		case opOr:
			r[decA(ins)] = r[decB(ins)] | r[decC(ins)]
		case opXor:
			r[decA(ins)] = r[decB(ins)] ^ r[decC(ins)]
		case opShl:
			r[decA(ins)] = r[decB(ins)] << r[decC(ins)]
		case opShr:
			r[decA(ins)] = r[decB(ins)] >> r[decC(ins)]
		case opSar:
			r[decA(ins)] = uint64(int64(r[decB(ins)]) >> r[decC(ins)])
		case opAddI:
			r[decA(ins)] = r[decB(ins)] + ins>>32
		case opSubI:
			r[decA(ins)] = r[decB(ins)] - ins>>32
		case opMulI:
			r[decA(ins)] = r[decB(ins)] * (ins >> 32)
		case opAndI:
			r[decA(ins)] = r[decB(ins)] & (ins >> 32)
		case opOrI:
			r[decA(ins)] = r[decB(ins)] | ins>>32
		case opXorI:
			r[decA(ins)] = r[decB(ins)] ^ ins>>32
		case opShlI:
			r[decA(ins)] = r[decB(ins)] << (ins >> 32)
		case opShrI:
			r[decA(ins)] = r[decB(ins)] >> (ins >> 32)
		case opSarI:
			r[decA(ins)] = uint64(int64(r[decB(ins)]) >> (ins >> 32))
		case opDivU, opModU, opDivS, opModS:
			x, y := r[decB(ins)], r[decC(ins)]
			if y == 0 {
				fault = "division by zero"
				goto fault
			}
			r[decA(ins)] = arith(opcode(ins), x, y)
		case opDivC:
			dv := &divs[decC(ins)]
			if dv.d == 0 {
				fault = "division by zero"
				goto fault
			}
			r[decA(ins)] = dv.div(r[decB(ins)])
		case opModC:
			dv := &divs[decC(ins)]
			if dv.d == 0 {
				fault = "division by zero"
				goto fault
			}
			x := r[decB(ins)]
			var q uint64
			if dv.magic == 0 {
				q = x >> dv.shift
			} else {
				q, _ = bits.Mul64(x, dv.magic)
				if dv.add {
					q = (((x - q) >> 1) + q) >> dv.shift
				} else {
					q >>= dv.shift
				}
			}
			r[decA(ins)] = x - q*dv.d
		case opMinU:
			r[decA(ins)] = min(r[decB(ins)], r[decC(ins)])
		case opMaxU:
			r[decA(ins)] = max(r[decB(ins)], r[decC(ins)])
		case opMinS:
			r[decA(ins)] = uint64(min(int64(r[decB(ins)]), int64(r[decC(ins)])))
		case opMaxS:
			r[decA(ins)] = uint64(max(int64(r[decB(ins)]), int64(r[decC(ins)])))
		case opNeg:
			r[decA(ins)] = -r[decB(ins)]
		case opBNot:
			r[decA(ins)] = ^r[decB(ins)]
		case opNot:
			r[decA(ins)] = r[decB(ins)] ^ 1
		case opEq:
			r[decA(ins)] = b2u(r[decB(ins)] == r[decC(ins)])
		case opNe:
			r[decA(ins)] = b2u(r[decB(ins)] != r[decC(ins)])
		case opLtU:
			r[decA(ins)] = b2u(r[decB(ins)] < r[decC(ins)])
		case opLeU:
			r[decA(ins)] = b2u(r[decB(ins)] <= r[decC(ins)])
		case opLtS:
			r[decA(ins)] = b2u(int64(r[decB(ins)]) < int64(r[decC(ins)]))
		case opLeS:
			r[decA(ins)] = b2u(int64(r[decB(ins)]) <= int64(r[decC(ins)]))
		case opJmp:
			pc = int(ins >> 32)
		case opJz:
			if r[decB(ins)] == 0 {
				pc = int(ins >> 32)
			}
		case opJnz:
			if r[decB(ins)] != 0 {
				pc = int(ins >> 32)
			}
		case opBeq:
			if r[decB(ins)] == r[decC(ins)] {
				pc = int(ins >> 32)
			}
		case opBne:
			if r[decB(ins)] != r[decC(ins)] {
				pc = int(ins >> 32)
			}
		case opBltU:
			if r[decB(ins)] < r[decC(ins)] {
				pc = int(ins >> 32)
			}
		case opBgeU:
			if r[decB(ins)] >= r[decC(ins)] {
				pc = int(ins >> 32)
			}
		case opBltS:
			if int64(r[decB(ins)]) < int64(r[decC(ins)]) {
				pc = int(ins >> 32)
			}
		case opBgeS:
			if int64(r[decB(ins)]) >= int64(r[decC(ins)]) {
				pc = int(ins >> 32)
			}
		case opLoop:
			a := decA(ins)
			r[a]++
			if r[a] < r[decB(ins)] {
				head := int(ins >> 32)
				budget -= int64(pc - head)
				if budget < 0 {
					fault = "instruction budget exceeded (%d instructions per message)"
					faultArgs = []any{w.budget}
					goto fault
				}
				pc = head
			}
		case opLdF:
			r[decA(ins)] = st[base+ins>>32]
		case opStF:
			st[base+ins>>32] = r[decA(ins)]
		case opAddF:
			st[base+ins>>32] += r[decA(ins)]
		case opSubF:
			st[base+ins>>32] -= r[decA(ins)]
		case opLdX:
			x := r[decB(ins)]
			if n := r[decC(ins)]; x >= n {
				fault, faultArgs = "array index %d out of range [0, %d)", []any{x, n}
				goto fault
			}
			r[decA(ins)] = st[base+ins>>32+x]
		case opStX:
			x := r[decB(ins)]
			if n := r[decC(ins)]; x >= n {
				fault, faultArgs = "array index %d out of range [0, %d)", []any{x, n}
				goto fault
			}
			st[base+ins>>32+x] = r[decA(ins)]
		case opAddX:
			x := r[decB(ins)]
			if n := r[decC(ins)]; x >= n {
				fault, faultArgs = "array index %d out of range [0, %d)", []any{x, n}
				goto fault
			}
			st[base+ins>>32+x] += r[decA(ins)]
		case opSubX:
			x := r[decB(ins)]
			if n := r[decC(ins)]; x >= n {
				fault, faultArgs = "array index %d out of range [0, %d)", []any{x, n}
				goto fault
			}
			st[base+ins>>32+x] -= r[decA(ins)]
		case opRng:
			p := &st[base+ins>>32]
			*p += golden
			z := *p
			z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9
			z = (z ^ (z >> 27)) * 0x94D049BB133111EB
			r[decA(ins)] = z ^ (z >> 31)
		case opEmit:
			dst := r[decA(ins)]
			if dst >= nd {
				fault, faultArgs = "emit to nonexistent domain %d (domains: %d)", []any{dst, nd}
				goto fault
			}
			out.Emit(uint32(r[regSelf]), uint32(dst), trace.Kind(ins>>32), r[decB(ins)], r[decC(ins)])
		case opID:
			id := &w.ids[ins>>32]
			g, k := r[decB(ins)], r[decC(ins)]
			if g >= id.gcount || k >= id.mcount {
				fault, faultArgs = "domain index (%d, %d) out of range", []any{g, k}
				if id.mcount == 1 {
					fault, faultArgs = "domain index %d out of range [0, %d)", []any{g, id.gcount}
				}
				goto fault
			}
			r[decA(ins)] = id.d0 + g*id.per + id.moff + k
		case opLdR, opLdRX:
			f := w.prog.fields[ins>>32]
			d := r[decB(ins)]
			e, g, s := w.locate(d)
			if s.mem.typ != f.typ {
				fault, faultArgs = "domain %d is not a %s", []any{d, f.typ.name}
				goto fault
			}
			off := e.w0 + g*e.stride + s.off + w.fieldOff[f.id]
			if opcode(ins) == opLdRX {
				x, n := r[decC(ins)], w.g(f.lenReg)
				if x >= n {
					fault, faultArgs = "array index %d out of range [0, %d)", []any{x, n}
					goto fault
				}
				off += x
			}
			r[decA(ins)] = st[off]
		default:
			panic(fmt.Sprintf("lang: bad opcode %d at %d", opcode(ins), pc-1))
		}
	}
fault:
	err := w.faultError(pc-1, r[regSelf], one == nil || !one.block, fmt.Sprintf(fault, faultArgs...))
	if one != nil {
		one.err = err
		return
	}
	out.Fault(i, err)
}

func b2u(b bool) uint64 {
	if b {
		return 1
	}
	return 0
}

// faultError is a runtime fault's one-line message: position, domain,
// handler, what happened.
func (w *instance) faultError(pc int, self uint64, withDomain bool, what string) error {
	p := w.prog
	pos := p.pos[pc]
	k := sort.Search(len(p.regions), func(i int) bool { return p.regions[i].start > pc }) - 1
	name := p.regions[k].name
	where := ""
	if withDomain {
		where = " domain " + w.describe(self) + ","
	}
	return fmt.Errorf("%s:%d:%d:%s %s: %s", p.File, pos.Line, pos.Col, where, name, what)
}

// describe names domain d: "3 (bank[2])", "7 (group[1].ctl[0])".
func (w *instance) describe(d uint64) string {
	e, g, s := w.locate(d)
	var b string
	switch {
	case e.e.group && s.mem.countReg >= 0:
		b = fmt.Sprintf("%s[%d].%s[%d]", e.e.name, g, s.mem.name, s.m)
	case e.e.group:
		b = fmt.Sprintf("%s[%d].%s", e.e.name, g, s.mem.name)
	case e.e.countReg >= 0:
		b = fmt.Sprintf("%s[%d]", s.mem.name, g)
	default:
		b = s.mem.name
	}
	return fmt.Sprintf("%d (%s)", d, b)
}
