package lang

// The vectorizer: the last compile pass, and its completion at link. A
// for loop of a handler whose body is straight-line code over a small set
// of ops, writing only registers allocated in the body, is marked to run
// column by column (opVLoop, executed by vloop.go); at link its body is
// translated to column slots (buildVprog), once the field offsets are
// known.

// vectorize marks the candidate loops whose bodies qualify: each gets a
// vloopDesc, and its opVLoop placeholder names it.
func vectorize(p *Program, cands []loopCand) {
	for _, l := range cands {
		if vectorizable(p.code[l.head:l.loop], l.mark) {
			p.code[l.vat] = enc(opVLoop, uint8(l.iReg), uint8(l.endReg), 0, uint32(len(p.vloops)))
			p.vloops = append(p.vloops, vloopDesc{head: l.head, loop: l.loop, iReg: l.iReg, endReg: l.endReg})
		}
	}
}

// vectorizable reports whether body (the code of a loop body) is
// straight-line code over allowed ops, writing only registers allocated in
// the body (>= mark), so no register carries a value between iterations.
func vectorizable(body []uint64, mark int) bool {
	for _, ins := range body {
		switch op := opcode(ins); {
		case op == opEmit:
		case op == opMov, op >= opAdd && op <= opSarI, op == opDivC, op == opModC,
			op >= opMinU && op <= opLeS, op == opLdF, op == opRng, op == opID, op == opIDMod,
			op >= opFLAdd && op <= opFLXor, op == opSubC, op == opSubIC:
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
	case op == opMov || op >= opAddI && op <= opSarI || op == opSubIC || op == opNeg || op == opBNot || op == opNot ||
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
		case opMov, opNeg, opBNot, opNot, opAddI, opSubI, opSubIC, opMulI, opAndI, opOrI, opXorI, opShlI, opShrI, opSarI:
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
