package lang

import "fmt"

// Consistency checks of compiled and linked code. Compile and link run
// them when the package is built with `-tags invariants` (they cost a pass
// over the code); tests run them always.

// checkCode checks a compiled program's code: valid ops, jumps that land
// on an instruction of their own body, two-word instructions followed by
// their second word, exactly the field immediates listed for patching,
// static code of static ops only, vectorized loops that are loops.
func (p *Program) checkCode() error {
	patched := map[int]bool{}
	for _, at := range p.patch {
		patched[at] = true
	}
	for k, rg := range p.regions {
		end := len(p.code)
		if k+1 < len(p.regions) {
			end = p.regions[k+1].start
		}
		word2 := false
		for pc := rg.start; pc < end; pc++ {
			ins := p.code[pc]
			op := opcode(ins)
			if op >= opCount {
				return fmt.Errorf("%s %04d: bad opcode %d", rg.name, pc, op)
			}
			if word2 != (op == opWord2) {
				return fmt.Errorf("%s %04d: %s where the second word of a two-word instruction is due, or the reverse", rg.name, pc, opNames[op])
			}
			word2 = ops[op].flags&fWord2 != 0
			if fieldImm(op) || op == opWord2 && pc > rg.start && opcode(p.code[pc-1]) >= opBxEq && opcode(p.code[pc-1]) <= opBxGeS {
				if !patched[pc] {
					return fmt.Errorf("%s %04d: %s has a field immediate not listed for patching", rg.name, pc, opNames[op])
				}
				if id := decImm(ins); int(id) >= len(p.fields) {
					return fmt.Errorf("%s %04d: field %d of %d", rg.name, pc, id, len(p.fields))
				}
				delete(patched, pc)
			}
			if ops[op].flags&fJump != 0 {
				t := int(decImm(ins))
				if t < rg.start || t >= end || opcode(p.code[t]) == opWord2 {
					return fmt.Errorf("%s %04d: %s to %04d, outside the body [%04d, %04d) or into a second word", rg.name, pc, opNames[op], t, rg.start, end)
				}
			}
		}
		if word2 {
			return fmt.Errorf("%s: ends inside a two-word instruction", rg.name)
		}
	}
	if len(patched) > 0 {
		return fmt.Errorf("%d instructions listed for patching have no field immediate", len(patched))
	}
	for pc, ins := range p.static {
		if op := opcode(ins); op >= opCount || ops[op].flags&fStatic == 0 {
			return fmt.Errorf("static %04d: op %d is not allowed in static code", pc, op)
		}
	}
	for i, v := range p.vloops {
		if v.head <= 0 || v.loop >= len(p.code) || v.head > v.loop || opcode(p.code[v.loop]) != opLoop ||
			int(decImm(p.code[v.loop])) != v.head || opcode(p.code[v.head-1]) != opVLoop || decImm(p.code[v.head-1]) != uint32(i) {
			return fmt.Errorf("vloop%d: [%d, %d] is not a marked loop", i, v.head, v.loop)
		}
	}
	return nil
}
