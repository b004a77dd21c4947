package lang

// Bytecode. An instruction is one uint64:
//
//	bits  0..7   opcode
//	bits  8..15  a   register (usually the destination)
//	bits 16..23  b   register
//	bits 24..31  c   register (or divisor slot)
//	bits 32..63  imm (jump target, field offset, kind, small constant)
//
// Registers are 8-bit indexes into a 256-word register file, so the
// interpreter indexes a [256]uint64 with no bounds check.
type opcode uint8

const (
	opRet  opcode = iota // end of handler / init / goal
	opRetV               // figure: return r[a]
	opFail               // goal: assert imm failed
	opMov                // a = b
	opAdd                // a = b + c
	opSub
	opMul
	opAnd
	opOr
	opXor
	opShl
	opShr
	opSar
	opAddI // a = b + imm
	opSubI
	opMulI
	opAndI
	opOrI
	opXorI
	opShlI
	opShrI
	opSarI
	opDivU // a = b / c, fault if c = 0
	opModU
	opDivS
	opModS
	opDivC // a = b / divisor[c] (multiply-shift)
	opModC
	opMinU
	opMaxU
	opMinS
	opMaxS
	opNeg  // a = -b
	opBNot // a = ^b
	opNot  // a = b ^ 1 (bool)
	opEq   // a = b == c
	opNe
	opLtU
	opLeU
	opLtS
	opLeS
	opJmp // pc = imm
	opJz  // if b == 0: pc = imm
	opJnz
	opBeq // if b == c: pc = imm
	opBne
	opBltU
	opBgeU
	opBltS
	opBgeS
	opLoop // a++; if a < b { charge the body; pc = imm }
	opLdF  // a = field[imm]
	opStF  // field[imm] = a
	opAddF // field[imm] += a
	opSubF
	opLdX // a = field[imm][b], len r[c]
	opStX // field[imm][b] = a
	opAddX
	opSubX
	opRng   // a = next(field[imm])
	opEmit  // emit(dst r[a], kind imm, r[b], r[c])
	opID    // a = domain id of member imm, group r[b], index r[c]
	opLdR   // a = field imm (id) of domain r[b]
	opLdRX  // a = field imm (id) [r[c]] of domain r[b]
	opIDMod // a = domain id of member imm, group r[b] % divisor[c]
	opVLoop // the loop at pc+1 .. runs vectorized (vloop imm), or falls through
	opSplit // a = b & 0xFFFFFFFF; c = b >> 32
	// two words: if field[w2.imm][r[b]] (len r[c]) OP r[a]: pc = imm (the
	// second word holds the field; the order is that of opBeq .. opBgeS)
	opBxEq
	opBxNe
	opBxLtU
	opBxGeU
	opBxLtS
	opBxGeS
	// arithmetic with a field of the domain (imm) as left operand or as
	// destination, in the order of opAdd .. opXor
	opFLAdd // a = field + c
	opFLSub
	opFLMul
	opFLAnd
	opFLOr
	opFLXor
	opSFAdd // field = b + c
	opSFSub
	opSFMul
	opSFAnd
	opSFOr
	opSFXor
	// X then ret, for the instructions that end handlers (X: the op of
	// the same name without R), in the order of retFusable
	opAddFR
	opSubFR
	opStFR
	opAddXR
	opSubXR
	opStXR
	opEmitR
	opSFAddR
	opSFSubR
	opSFMulR
	opSFAndR
	opSFOrR
	opSFXorR
	opWord2 // the second word of a two-word instruction: never executed
	opCount
)

var opNames = [opCount]string{
	"ret", "retv", "fail", "mov", "add", "sub", "mul", "and", "or", "xor", "shl", "shr", "sar",
	"addi", "subi", "muli", "andi", "ori", "xori", "shli", "shri", "sari",
	"divu", "modu", "divs", "mods", "divc", "modc", "minu", "maxu", "mins", "maxs",
	"neg", "bnot", "not", "eq", "ne", "ltu", "leu", "lts", "les",
	"jmp", "jz", "jnz", "beq", "bne", "bltu", "bgeu", "blts", "bges", "loop",
	"ldf", "stf", "addf", "subf", "ldx", "stx", "addx", "subx", "rng", "emit", "id", "ldr", "ldrx", "idmod", "vloop", "split", "bxeq", "bxne", "bxltu", "bxgeu", "bxlts", "bxges",
	"fladd", "flsub", "flmul", "fland", "flor", "flxor", "sfadd", "sfsub", "sfmul", "sfand", "sfor", "sfxor",
	"addf+ret", "subf+ret", "stf+ret", "addx+ret", "subx+ret", "stx+ret", "emit+ret", "sfadd+ret", "sfsub+ret", "sfmul+ret", "sfand+ret", "sfor+ret", "sfxor+ret", "word2",
}

func enc(op opcode, a, b, c uint8, imm uint32) uint64 {
	return uint64(op) | uint64(a)<<8 | uint64(b)<<16 | uint64(c)<<24 | uint64(imm)<<32
}

func decOp(ins uint64) opcode { return opcode(ins) }
func decA(ins uint64) uint8   { return uint8(ins >> 8) }
func decB(ins uint64) uint8   { return uint8(ins >> 16) }
func decC(ins uint64) uint8   { return uint8(ins >> 24) }
func decImm(ins uint64) uint32 {
	return uint32(ins >> 32)
}

// fieldImm reports whether op's imm is a field id replaced by the field's
// offset at link.
func fieldImm(op opcode) bool {
	switch op {
	case opLdF, opStF, opAddF, opSubF, opLdX, opStX, opAddX, opSubX, opRng:
		return true
	}
	if op >= opFLAdd && op <= opSFXor || op >= opAddFR && op <= opStXR || op >= opSFAddR && op <= opSFXorR {
		return true
	}
	return false
}

// retFusable are the ops fused with a following ret into op..R (opAddFR ..).
var retFusable = []opcode{opAddF, opSubF, opStF, opAddX, opSubX, opStX, opEmit, opSFAdd, opSFSub, opSFMul, opSFAnd, opSFOr, opSFXor}

// retFused is the X-then-ret form of op, or 0.
func retFused(op opcode) opcode {
	for i, o := range retFusable {
		if o == op {
			return opAddFR + opcode(i)
		}
	}
	return 0
}
