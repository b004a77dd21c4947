package lang

import (
	"fmt"
	"strings"
)

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
	// u64 subtraction that faults when it would wrap below 0 (the `-` of
	// u64; `-%` and i64's `-` are opSub, opSubI, opSubF: they wrap)
	opSubC  // a = b - c
	opSubIC // a = b - imm
	opSubFC // field[imm] -= a
	// explanations of a failed assert or invariant (run only after it failed)
	opNote // note[a] = b: the value of a sub-expression
	opEndX // end of an explanation
	// the model (goals.go)
	opMark    // a domain of a goal type received a message: reconcile it at the tick's end
	opInv     // the transition is done: check the invariants at pc imm (a trial run: ret)
	opInvFail // invariant imm (of Program.invs) is false
	opNow     // a = the current tick
	opEmitAt  // two words: emit(dst r[a], kind imm, r[b], r[c]) due k = r[w2.a] ticks later
	opFault   // fault with message imm (of Program.faults): a send the prototype refuses
	opJmpB    // a while loop's back edge: charge the body to the budget, pc = imm
	// trial code only (link.go, trialCode): the targets' end goes on to
	// the invariants, whose failure ends the trial
	opRetVInv  // r[regRet] = r[a]; pc = imm (the type's invariants)
	opTrialBad // an invariant is false: end, r[regRet] kept
	opWord2    // the second word of a two-word instruction: never executed
	opCount
)

// opFlags are properties of an op that the passes and the linker rely on.
type opFlags uint8

const (
	fField  opFlags = 1 << iota // imm is a field id, replaced by the field's offset at link
	fJump                       // imm is a pc
	fWord2                      // the instruction has a second word (opWord2)
	fStatic                     // allowed in static code (evaluated once per run at link)
	// fOutside: the op reaches beyond the running domain's own state and
	// the registers (an emission, a read of another domain, a vectorized
	// loop, which may emit). A strategy without such ops leaves exactly
	// the state its trial left (goals.go, the trial's memo).
	fOutside
)

type opInfo struct {
	name  string
	flags opFlags
}

// ops describes every opcode. The table is checked at init (checkOps):
// every op has a distinct name, and the families the code generator
// computes by offset (signed = unsigned + 2, field and X-then-ret forms
// in the order of their base ops) line up.
var ops = [opCount]opInfo{
	opRet: {"ret", 0}, opRetV: {"retv", 0}, opFail: {"fail", 0}, opMov: {"mov", fStatic},
	opAdd: {"add", fStatic}, opSub: {"sub", fStatic}, opMul: {"mul", fStatic}, opAnd: {"and", fStatic},
	opOr: {"or", fStatic}, opXor: {"xor", fStatic}, opShl: {"shl", fStatic}, opShr: {"shr", fStatic},
	opSar:  {"sar", fStatic},
	opAddI: {"addi", fStatic}, opSubI: {"subi", fStatic}, opMulI: {"muli", fStatic}, opAndI: {"andi", fStatic},
	opOrI: {"ori", fStatic}, opXorI: {"xori", fStatic}, opShlI: {"shli", fStatic}, opShrI: {"shri", fStatic},
	opSarI: {"sari", fStatic},
	opDivU: {"divu", fStatic}, opModU: {"modu", fStatic}, opDivS: {"divs", fStatic}, opModS: {"mods", fStatic},
	opDivC: {"divc", 0}, opModC: {"modc", 0},
	opMinU: {"minu", fStatic}, opMaxU: {"maxu", fStatic}, opMinS: {"mins", fStatic}, opMaxS: {"maxs", fStatic},
	opNeg: {"neg", fStatic}, opBNot: {"bnot", fStatic}, opNot: {"not", 0},
	opEq: {"eq", 0}, opNe: {"ne", 0}, opLtU: {"ltu", 0}, opLeU: {"leu", 0}, opLtS: {"lts", 0}, opLeS: {"les", 0},
	opJmp: {"jmp", fJump}, opJz: {"jz", fJump}, opJnz: {"jnz", fJump},
	opBeq: {"beq", fJump}, opBne: {"bne", fJump}, opBltU: {"bltu", fJump}, opBgeU: {"bgeu", fJump},
	opBltS: {"blts", fJump}, opBgeS: {"bges", fJump}, opLoop: {"loop", fJump},
	opLdF: {"ldf", fField}, opStF: {"stf", fField}, opAddF: {"addf", fField}, opSubF: {"subf", fField},
	opLdX: {"ldx", fField}, opStX: {"stx", fField}, opAddX: {"addx", fField}, opSubX: {"subx", fField},
	opRng: {"rng", fField}, opEmit: {"emit", fOutside}, opID: {"id", 0}, opLdR: {"ldr", fOutside}, opLdRX: {"ldrx", fOutside},
	opIDMod: {"idmod", 0}, opVLoop: {"vloop", fOutside}, opSplit: {"split", 0},
	opBxEq: {"bxeq", fJump | fWord2}, opBxNe: {"bxne", fJump | fWord2}, opBxLtU: {"bxltu", fJump | fWord2},
	opBxGeU: {"bxgeu", fJump | fWord2}, opBxLtS: {"bxlts", fJump | fWord2}, opBxGeS: {"bxges", fJump | fWord2},
	opFLAdd: {"fladd", fField}, opFLSub: {"flsub", fField}, opFLMul: {"flmul", fField},
	opFLAnd: {"fland", fField}, opFLOr: {"flor", fField}, opFLXor: {"flxor", fField},
	opSFAdd: {"sfadd", fField}, opSFSub: {"sfsub", fField}, opSFMul: {"sfmul", fField},
	opSFAnd: {"sfand", fField}, opSFOr: {"sfor", fField}, opSFXor: {"sfxor", fField},
	opAddFR: {"addf+ret", fField}, opSubFR: {"subf+ret", fField}, opStFR: {"stf+ret", fField},
	opAddXR: {"addx+ret", fField}, opSubXR: {"subx+ret", fField}, opStXR: {"stx+ret", fField},
	opEmitR: {"emit+ret", fOutside}, opSFAddR: {"sfadd+ret", fField}, opSFSubR: {"sfsub+ret", fField},
	opSFMulR: {"sfmul+ret", fField}, opSFAndR: {"sfand+ret", fField}, opSFOrR: {"sfor+ret", fField},
	opSFXorR: {"sfxor+ret", fField},
	opSubC:   {"subc", fStatic}, opSubIC: {"subic", fStatic}, opSubFC: {"subfc", fField},
	opNote: {"note", 0}, opEndX: {"endx", 0},
	opMark: {"mark", 0}, opInv: {"inv", 0}, opInvFail: {"invfail", 0}, opNow: {"now", 0},
	opEmitAt: {"emitat", fWord2 | fOutside}, opFault: {"fault", 0}, opJmpB: {"jmpb", fJump},
	opRetVInv: {"retv+inv", 0}, opTrialBad: {"trialbad", 0},
	opWord2: {"word2", 0},
}

// opNames are the ops' names, for the disassembler and messages.
var opNames = func() (n [opCount]string) {
	for i, o := range ops {
		n[i] = o.name
	}
	return
}()

func init() {
	if err := checkOps(&ops); err != nil {
		panic("lang: " + err.Error())
	}
}

// checkOps checks an op table and the families the code generator
// computes by offset.
func checkOps(ops *[opCount]opInfo) error {
	seen := map[string]opcode{}
	name := func(op opcode) string { return ops[op].name }
	for i, o := range ops {
		if o.name == "" {
			return fmt.Errorf("op %d has no name", i)
		}
		if j, dup := seen[o.name]; dup {
			return fmt.Errorf("ops %d and %d are both %q", j, i, o.name)
		}
		seen[o.name] = opcode(i)
	}
	same := func(a, b opcode, what string) error {
		if a != b {
			return fmt.Errorf("%s: %s is not %s", what, name(a), name(b))
		}
		return nil
	}
	arith := []opcode{opAdd, opSub, opMul, opAnd, opOr, opXor}
	for k, op := range arith {
		for _, err := range []error{
			same(op-opAdd+opAddI, seen[name(op)+"i"], "immediate form"),
			same(opFLAdd+opcode(k), seen["fl"+name(op)], "field-operand form"),
			same(opSFAdd+opcode(k), seen["sf"+name(op)], "field-destination form"),
		} {
			if err != nil {
				return err
			}
		}
	}
	for _, op := range []opcode{opDivU, opModU, opMinU, opMaxU, opLtU, opLeU, opBltU, opBgeU} {
		if err := same(op+2, seen[strings.TrimSuffix(name(op), "u")+"s"], "signed form"); err != nil {
			return err
		}
	}
	for k, b := range []opcode{opBeq, opBne, opBltU, opBgeU, opBltS, opBgeS} {
		if err := same(opBxEq+opcode(k), seen["bx"+name(b)[1:]], "array branch"); err != nil {
			return err
		}
	}
	for k, op := range retFusable {
		if err := same(opAddFR+opcode(k), seen[name(op)+"+ret"], "X-then-ret form"); err != nil {
			return err
		}
		if ops[op].flags&fField != ops[opAddFR+opcode(k)].flags&fField {
			return fmt.Errorf("%s and its X-then-ret form differ in field patching", name(op))
		}
	}
	return nil
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
func fieldImm(op opcode) bool { return ops[op].flags&fField != 0 }

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
