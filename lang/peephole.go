package lang

import "slices"

// The peephole pass: rewrites of one body's code that look only at
// neighbouring instructions, after code generation.
//
//   - a jump to the next instruction is dropped (the return at the end
//     of an inlined function's body, an empty else);
//   - `andi x, y, 0xFFFFFFFF; shri z, y, 32` is `split x, z = y` (one
//     instruction for the two halves of a packed word), unless the second
//     is a jump target (peephole, on the body buffer, before assembly);
//   - in a body without loops, a field load into a register that holds
//     that field already (loaded since the last jump target, the
//     register and every field unwritten since) is dropped (dropReloads),
//     and a jump to an instruction followed by the body's end (inv or
//     ret) is that instruction and the end (tails);
//   - a jump to a jump goes to its target (threadJumps);
//   - a jump to a ret is a ret, and in handlers and inits an instruction
//     followed by a ret becomes its X-then-ret form (addf+ret …), the ret
//     staying for the jumps to it (retForms, after assembly).

// peephole rewrites the body buffer b; its jumps still name labels.
func peephole(b *bodyBuf) {
	for k := 0; k < len(b.fixups); {
		if f := b.fixups[k]; opcode(b.code[f.at]) == opJmp && b.labels[f.label] == f.at+1 {
			b.fixups = append(b.fixups[:k], b.fixups[k+1:]...)
			b.remove(f.at)
			continue
		}
		k++
	}
	if len(b.loops) == 0 { // the vectorizer sees loops' bodies as generated
		tails(b)
		dropReloads(b)
	}
	target := make(map[int]bool, len(b.labels))
	for _, at := range b.labels {
		target[at] = true
	}
	for i := 0; i+1 < len(b.code); i++ {
		prev, ins := b.code[i], b.code[i+1]
		if opcode(ins) == opShrI && decImm(ins) == 32 && opcode(prev) == opAndI && decImm(prev) == 0xFFFFFFFF &&
			decB(prev) == decB(ins) && decA(prev) != decB(ins) && !target[i+1] {
			b.code[i] = enc(opSplit, decA(prev), decB(ins), decA(ins), 0)
			b.remove(i + 1)
		}
	}
}

// tails replaces a jump to an instruction X followed by an end of the
// body (inv or ret) by X and that end: one dispatch less on that path,
// and the same effect. X is a plain instruction (no jump, no second
// word, no loop).
func tails(b *bodyBuf) {
	for k := 0; k < len(b.fixups); k++ {
		f := b.fixups[k]
		if opcode(b.code[f.at]) != opJmp {
			continue
		}
		t := b.labels[f.label]
		for hops := 0; hops < 8 && t >= 0 && t < len(b.code) && opcode(b.code[t]) == opJmp; hops++ {
			t = b.jumpTarget(t) // through jumps to jumps
		}
		if t < 0 || t+1 >= len(b.code) || t == f.at {
			continue
		}
		x, end := b.code[t], b.code[t+1]
		if ops[opcode(x)].flags&(fJump|fWord2) != 0 || opcode(x) == opVLoop || opcode(x) == opInv || opcode(x) == opRet ||
			opcode(end) != opInv && opcode(end) != opRet {
			continue
		}
		at := f.at
		b.fixups = append(b.fixups[:k], b.fixups[k+1:]...)
		k--
		b.code[at], b.pos[at] = x, b.pos[t]
		if ops[opcode(x)].flags&fField != 0 {
			b.patch = append(b.patch, at)
		}
		b.insert(at+1, end, b.pos[t+1])
	}
}

// jumpTarget is the index the jump at index at goes to, -1 if unknown.
func (b *bodyBuf) jumpTarget(at int) int {
	for _, f := range b.fixups {
		if f.at == at {
			return b.labels[f.label]
		}
	}
	return -1
}

// dropReloads drops a field load (ldf) into a register that holds that
// field already: loaded by an earlier ldf since the last jump target,
// with neither that register nor any field written since. Registers are
// tracked only through ops whose one effect is writing r[a] (readsOnly,
// writesA); any other op forgets everything.
func dropReloads(b *bodyBuf) {
	target := make(map[int]bool, len(b.labels))
	for _, at := range b.labels {
		target[at] = true
	}
	holds := map[uint8]uint32{} // register → field id + 1
	for i := 0; i < len(b.code); i++ {
		if target[i] {
			clear(holds)
		}
		ins := b.code[i]
		switch op := opcode(ins); {
		case op == opLdF:
			a, f := decA(ins), decImm(ins)+1
			if holds[a] == f {
				b.remove(i)
				for at := range target { // indexes above i moved down
					if at > i {
						delete(target, at)
						target[at-1] = true
					}
				}
				i--
				continue
			}
			holds[a] = f
		case readsOnly(op):
		case writesA(op):
			delete(holds, decA(ins))
		default:
			clear(holds)
		}
		if ops[opcode(ins)].flags&fWord2 != 0 {
			i++ // the second word is data
		}
	}
}

// readsOnly: ops that write no register and no field.
func readsOnly(op opcode) bool {
	switch op {
	case opJmp, opJz, opJnz, opBeq, opBne, opBltU, opBgeU, opBltS, opBgeS,
		opBxEq, opBxNe, opBxLtU, opBxGeU, opBxLtS, opBxGeS, opNote, opMark:
		return true
	}
	return false
}

// writesA: ops whose only effect is writing r[a] (their other operands
// are read).
func writesA(op opcode) bool {
	switch op {
	case opMov, opAdd, opSub, opMul, opAnd, opOr, opXor, opShl, opShr, opSar,
		opAddI, opSubI, opMulI, opAndI, opOrI, opXorI, opShlI, opShrI, opSarI,
		opDivU, opModU, opDivS, opModS, opDivC, opModC, opMinU, opMaxU, opMinS, opMaxS,
		opNeg, opBNot, opNot, opEq, opNe, opLtU, opLeU, opLtS, opLeS,
		opLdX, opFLAdd, opFLSub, opFLMul, opFLAnd, opFLOr, opFLXor,
		opID, opIDMod, opLdR, opLdRX, opNow, opSubC, opSubIC:
		return true
	}
	return false
}

// insert puts ins at index k of the buffer: every index at or above k
// moves up by one, so labels and jumps keep naming the instructions they
// named.
func (b *bodyBuf) insert(k int, ins uint64, pos Pos) {
	b.code = append(b.code[:k], append([]uint64{ins}, b.code[k:]...)...)
	b.pos = append(b.pos[:k], append([]Pos{pos}, b.pos[k:]...)...)
	b.moveIndexes(k, 1)
}

// remove deletes instruction k of the buffer: every index above k moves
// down by one, and k's field patch, if any, goes with it.
func (b *bodyBuf) remove(k int) {
	b.code = append(b.code[:k], b.code[k+1:]...)
	b.pos = append(b.pos[:k], b.pos[k+1:]...)
	b.patch = slices.DeleteFunc(b.patch, func(at int) bool { return at == k })
	b.moveIndexes(k+1, -1)
}

// moveIndexes adds delta to every instruction index of the buffer's
// labels, jumps, field patches and loops that is at least from.
func (b *bodyBuf) moveIndexes(from, delta int) {
	move := func(i *int) {
		if *i >= from {
			*i += delta
		}
	}
	for i := range b.labels {
		move(&b.labels[i])
	}
	for i := range b.fixups {
		move(&b.fixups[i].at)
	}
	for i := range b.patch {
		move(&b.patch[i])
	}
	for i := range b.loops {
		l := &b.loops[i]
		move(&l.vat)
		move(&l.head)
		move(&l.loop)
	}
}

// threadJumps makes a jump to an unconditional jump go to that jump's
// target (after assembly: pcs are absolute), following chains.
func threadJumps(code []uint64, pc int) {
	for k, ins := range code {
		if ops[opcode(ins)].flags&fJump == 0 || opcode(ins) == opLoop || opcode(ins) == opJmpB {
			continue
		}
		t := int(decImm(ins))
		for hops := 0; hops < 8 && opcode(code[t-pc]) == opJmp && int(decImm(code[t-pc])) != t; hops++ {
			t = int(decImm(code[t-pc]))
		}
		code[k] = ins&0xFFFFFFFF | uint64(uint32(t))<<32
	}
}

// retForms rewrites the assembled code of one body, which starts at pc;
// fuse: the X-then-ret forms are wanted.
func retForms(code []uint64, pc int, ctx ctxKind, fuse bool) {
	for k, ins := range code { // a jump to a ret is a ret
		if opcode(ins) == opJmp && opcode(code[int(decImm(ins))-pc]) == opRet {
			code[k] = enc(opRet, 0, 0, 0, 0)
		}
	}
	if fuse && (ctx == ctxHandler || ctx == ctxInit) {
		// X; ret is one instruction (the ret stays for jumps to it)
		for k := 1; k < len(code); k++ {
			prev := code[k-1]
			if f := retFused(opcode(prev)); opcode(code[k]) == opRet && f != 0 {
				code[k-1] = prev&^0xFF | uint64(f)
			}
		}
	}
}
