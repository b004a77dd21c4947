package lang

import (
	"fmt"
	"io"
	"sort"
)

// Disasm prints the program's bytecode: the static code (evaluated once
// per run), then every handler, init, goal and figure, one instruction per
// line with its source line. Registers: a, b, src, self, index, member are
// r0..r5; g<i> are the globals (keys, n, seed, batch, constants, static
// expressions); the rest are locals and temporaries.
func (p *Program) Disasm(w io.Writer) {
	fmt.Fprintf(w, "; %s: workload %s, %d instructions, %d static, %d globals\n", p.File, p.Name, len(p.code), len(p.static), p.nGlobals)
	for _, l := range p.CellsText() {
		fmt.Fprintf(w, "; cells: %s\n", l)
	}
	for _, l := range p.HiddenFields() {
		fmt.Fprintf(w, "; detection leaves out %s\n", l)
	}
	names := map[int]string{}
	for i, k := range p.Keys {
		names[regsMax-1-i] = k.Name
	}
	nk := len(p.Keys)
	names[regsMax-1-nk], names[regsMax-2-nk], names[regsMax-3-nk] = "n", "seed", "batch"
	for _, c := range p.consts {
		names[c.reg] = fmt.Sprintf("#%d", c.val)
	}
	fmt.Fprintf(w, "static:\n")
	for pc, ins := range p.static {
		fmt.Fprintf(w, "  %04d  %-40s ; line %d\n", pc, p.insString(ins, names), p.spos[pc].Line)
	}
	fmt.Fprintf(w, "divisors:")
	for i, r := range p.divs {
		fmt.Fprintf(w, " d%d=%s", i, regName(int(r), names))
	}
	fmt.Fprintln(w)
	for k, rg := range p.regions {
		end := len(p.code)
		if k+1 < len(p.regions) {
			end = p.regions[k+1].start
		}
		fmt.Fprintf(w, "%s:\n", rg.name)
		for pc := rg.start; pc < end; pc++ {
			ins := p.code[pc]
			text, at := p.insString(ins, names), pc
			if opcode(ins) >= opBxEq && opcode(ins) <= opBxGeS && pc+1 < end { // two words
				w2 := p.code[pc+1]
				pc++
				f := "?"
				if id := decImm(w2); int(id) < len(p.fields) {
					f = p.fields[id].typ.name + "." + p.fields[id].name
				}
				text = fmt.Sprintf("%s %s[%s] (len %s), %s, %04d", opNames[opcode(ins)], f,
					regName(int(decB(ins)), names), regName(int(decC(ins)), names), regName(int(decA(ins)), names), decImm(ins))
			}
			fmt.Fprintf(w, "  %04d  %-40s ; line %d\n", at, text, p.pos[at].Line)
		}
	}
}

func regName(r int, names map[int]string) string {
	if n, ok := names[r]; ok {
		return n
	}
	switch r {
	case regA:
		return "a"
	case regB:
		return "b"
	case regSrc:
		return "src"
	case regSelf:
		return "self"
	case regIndex:
		return "index"
	case regMember:
		return "member"
	}
	return fmt.Sprintf("r%d", r)
}

func (p *Program) insString(ins uint64, names map[int]string) string {
	op := opcode(ins)
	if op >= opCount {
		return fmt.Sprintf("?%d", op)
	}
	if op >= opAddFR && op < opAddFR+opcode(len(retFusable)) {
		return p.insString(ins&^0xFF|uint64(retFusable[op-opAddFR]), names) + "; ret"
	}
	a, b, c := regName(int(decA(ins)), names), regName(int(decB(ins)), names), regName(int(decC(ins)), names)
	imm := decImm(ins)
	fld := func() string {
		if int(imm) < len(p.fields) {
			f := p.fields[imm]
			return f.typ.name + "." + f.name
		}
		return fmt.Sprint(imm)
	}
	s := opNames[op] + " "
	switch op {
	case opRet:
		return "ret"
	case opEndX:
		return "endx"
	case opNote:
		return fmt.Sprintf("note #%d, %s", decA(ins), b)
	case opRetV:
		return s + a
	case opFail:
		return fmt.Sprintf("fail assert%d", imm)
	case opMov, opNeg, opBNot, opNot:
		return s + a + ", " + b
	case opAddI, opSubI, opSubIC, opMulI, opAndI, opOrI, opXorI, opShlI, opShrI, opSarI:
		return fmt.Sprintf("%s%s, %s, %d", s, a, b, imm)
	case opDivC, opModC:
		return fmt.Sprintf("%s%s, %s, d%d", s, a, b, decC(ins))
	case opJmp, opJmpB:
		return fmt.Sprintf("%s%04d", s, imm)
	case opJz, opJnz:
		return fmt.Sprintf("%s%s, %04d", s, b, imm)
	case opBeq, opBne, opBltU, opBgeU, opBltS, opBgeS:
		return fmt.Sprintf("%s%s, %s, %04d", s, b, c, imm)
	case opVLoop:
		if imm == vloopNone {
			return "nop (loop not vectorizable)"
		}
		return fmt.Sprintf("vloop %s < %s, vloop%d", a, b, imm)
	case opLoop:
		return fmt.Sprintf("%s%s < %s, %04d", s, a, b, imm)
	case opLdF:
		return s + a + ", " + fld()
	case opStF, opAddF, opSubF, opSubFC:
		return s + fld() + ", " + a
	case opLdX:
		return fmt.Sprintf("%s%s, %s[%s] (len %s)", s, a, fld(), b, c)
	case opStX, opAddX, opSubX:
		return fmt.Sprintf("%s%s[%s] (len %s), %s", s, fld(), b, c, a)
	case opRng:
		return s + a + ", " + fld()
	case opEmit:
		kind := fmt.Sprint(imm)
		k := sort.Search(len(p.Kinds), func(i int) bool { return uint32(p.Kinds[i].Num) >= imm })
		if k < len(p.Kinds) && uint32(p.Kinds[k].Num) == imm {
			kind = p.Kinds[k].Name
		}
		return fmt.Sprintf("%s%s, %s, %s, %s", s, a, kind, b, c)
	case opID:
		name := "?"
		if int(imm) < len(p.ids) {
			name = p.ids[imm].name
		}
		return fmt.Sprintf("%s%s, %s(%s, %s)", s, a, name, b, c)
	case opFLAdd, opFLSub, opFLMul, opFLAnd, opFLOr, opFLXor:
		return fmt.Sprintf("%s%s, %s, %s", s, a, fld(), c)
	case opSFAdd, opSFSub, opSFMul, opSFAnd, opSFOr, opSFXor:
		return fmt.Sprintf("%s%s, %s, %s", s, fld(), b, c)
	case opSplit:
		return fmt.Sprintf("split %s, %s = %s", a, c, b)
	case opIDMod:
		name := "?"
		if int(imm) < len(p.ids) {
			name = p.ids[imm].name
		}
		return fmt.Sprintf("%s%s, %s(%s %% d%d)", s, a, name, b, decC(ins))
	case opLdR:
		return fmt.Sprintf("%s%s, [%s].%s", s, a, b, fld())
	case opLdRX:
		return fmt.Sprintf("%s%s, [%s].%s[%s]", s, a, b, fld(), c)
	}
	return s + a + ", " + b + ", " + c
}
