package lang

// The peephole pass: rewrites of one body's code that look only at
// neighbouring instructions, after code generation.
//
//   - a jump to the next instruction is dropped (the return at the end
//     of an inlined function's body, an empty else);
//   - `andi x, y, 0xFFFFFFFF; shri z, y, 32` is `split x, z = y` (one
//     instruction for the two halves of a packed word), unless the second
//     is a jump target (peephole, on the body buffer, before assembly);
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

// remove deletes instruction k of the buffer: every index above k moves
// down by one.
func (b *bodyBuf) remove(k int) {
	b.code = append(b.code[:k], b.code[k+1:]...)
	b.pos = append(b.pos[:k], b.pos[k+1:]...)
	down := func(i *int) {
		if *i > k {
			*i--
		}
	}
	for i := range b.labels {
		down(&b.labels[i])
	}
	for i := range b.fixups {
		down(&b.fixups[i].at)
	}
	for i := range b.patch {
		down(&b.patch[i])
	}
	for i := range b.loops {
		l := &b.loops[i]
		down(&l.vat)
		down(&l.head)
		down(&l.loop)
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
