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
	err                 error
	block               bool // a goal or figure: no domain
}

// Deliver runs the handlers of msgs. The register file is a local array:
// each call (each shard) has its own, so shards share nothing mutable but
// their own domains' words in the arena.
func (w *instance) Deliver(out *engine.Outbox, msgs []trace.Entry) {
	if w.err != nil {
		out.Fault(0, w.err)
		return
	}
	w.interp(out, msgs)
}

// machine is the interpreter's state for one Deliver call or one-shot
// run. It lives on the caller's stack: each shard has its own.
type machine struct {
	r      [regsMax]uint64
	w      *instance
	out    *engine.Outbox
	base   uint64
	budget int64
	// delivering: the messages, the current one, the last domain's lookup
	msgs  []trace.Entry
	i     int
	lastD uint64
	disp  []int32
	ent   *entInst // the entry of lastD
	// a fault: its kind and values (faultText says what)
	fk     faultKind
	fx, fy uint64
	// an explanation being run: the noted values, bit k of noted set when
	// notes[k] was
	notes *[notesMax]uint64
	noted uint64
	// the model: the shard's scratch (nil in one-shot runs), the code to
	// run (w.code, or w.trialCode for a trial), the tick a one-shot run
	// sees as now
	sc   *shardScratch
	code []uint64
	st   []uint64 // the arena (w.st), or a trial's copy of a domain's state
	now  uint64
}

// Status of exec.
const (
	execRet     = iota // ret
	execRetV           // retv: the value is in r[regRet]
	execFail           // an assert failed: its index is in r[regRet]
	execFault          // m.fk says what (faultText)
	execEndX           // an explanation ended
	execInvFail        // an invariant is false: its index (Program.invs) is in r[regRet]
	// from run to exec only:
	execSlow // the instruction at the pc returned needs a call: slow does it
	execNext // the message is done, the next is another domain's: nextMsg
)

// regRet carries retv's value or fail's assert index back from exec
// (register 2, src, is unused in goals and figures).
const regRet = regSrc

// start prepares m for a one-shot run (init, goal, figure) with the
// domain given in one.
func (w *instance) start(m *machine, one runCtx) {
	m.w, m.code, m.st = w, w.code, w.st
	copy(m.r[w.gbase:], w.globals)
	m.base = one.base
	m.r[regSelf], m.r[regIndex], m.r[regMember] = one.self, one.index, one.member
	m.budget = w.budget
}

// runOnce runs one.pc once (an init or a figure) and records its value
// or fault in one.
func (w *instance) runOnce(one *runCtx) {
	var m machine
	w.start(&m, *one)
	pc, st := w.exec(&m, one.pc)
	switch st {
	case execRetV:
		one.ret = m.r[regRet]
	case execFault:
		self := int64(m.r[regSelf])
		if one.block {
			self = -1
		}
		one.err = w.faultError(pc-1, self, -1, w.faultText(&m))
	}
}

// interp is the interpreter delivering msgs. Its machine is on the
// stack (zeroed per call, which a batch of messages amortizes), or for a
// program with goals, whose ticks often carry one message, the shard's
// (goals.go): its globals are loaded once, and the code never reads a
// register it has not written.
func (w *instance) interp(out *engine.Outbox, msgs []trace.Entry) {
	if w.prog.hasGoals {
		sc := w.scratch(out)
		m := sc.dm // its entity and dispatch table stay valid across calls
		if len(msgs) != 1 || sc.memoD == 0 || !w.deliverMemo(m, sc, msgs) {
			sc.fresh = 0
			w.deliver(m, msgs)
		}
		m.msgs = nil
		return
	}
	var m machine
	m.w, m.out, m.code, m.st = w, out, w.code, w.st
	copy(m.r[w.gbase:], w.globals)
	w.deliver(&m, msgs)
}

// deliver runs the handlers of msgs on m, and reports a fault or a broken
// invariant.
func (w *instance) deliver(m *machine, msgs []trace.Entry) {
	m.msgs, m.i, m.lastD = msgs, -1, ^uint64(0)
	pc := w.nextMsg(m)
	if pc < 0 {
		return
	}
	pc, st := w.exec(m, pc)
	w.delivered(m, pc, st)
}

// delivered reports how the delivery of m.msgs ended (exec stopped at pc
// with status st): a fault or a broken invariant of m.msgs[m.i].
func (w *instance) delivered(m *machine, pc, st int) {
	switch st {
	case execFault:
		m.out.Fault(m.i, w.faultError(pc-1, int64(m.r[regSelf]), int64(m.msgs[m.i].Tick), w.faultText(m)))
	case execInvFail:
		w.violate(m.out, m, pc)
	}
}

// nextMsg prepares the next message of m.msgs that has a handler and
// returns its handler's pc, or -1 when there is none left.
func (w *instance) nextMsg(m *machine) int {
	for {
		m.i++
		if m.i >= len(m.msgs) {
			return -1
		}
		msg := &m.msgs[m.i]
		d := uint64(msg.Dst)
		if d != m.lastD {
			if e := m.ent; e != nil && d-e.d0 < e.d1-e.d0 && e.per == 1 {
				// another domain of the last plain run (consumers, banks): no search
				g := d - e.d0
				m.base = e.w0 + g*e.stride
				m.r[regSelf], m.r[regIndex] = d, g
			} else {
				e, g, s := w.locate(d)
				m.base = e.w0 + g*e.stride + s.off
				m.disp = s.disp
				m.r[regSelf], m.r[regIndex], m.r[regMember] = d, g, s.m
				m.ent = e
			}
			m.lastD = d
		}
		if k := int(msg.Kind); k < len(m.disp) && m.disp[k] >= 0 {
			m.r[regA], m.r[regB], m.r[regSrc] = msg.A, msg.B, uint64(msg.Src)
			m.budget = w.budget
			return int(m.disp[k])
		}
	}
}

// exec runs code from pc to a ret (or a fault) and returns where it
// stopped.
func (w *instance) exec(m *machine, pc int) (int, int) {
	for {
		var st int
		switch pc, st = w.run(m, pc); st {
		case execSlow:
			if pc, st = w.slow(m, pc); st != execSlow {
				return pc, st
			}
		case execNext:
			if pc = w.nextMsg(m); pc < 0 {
				return pc, execRet
			}
		default:
			return pc, st
		}
	}
}

// run is exec's loop. It makes no call, so that the code, the arena, the
// registers, the domain's base and the budget stay in machine registers
// instead of being saved around calls at every instruction: what needs a
// call (an emission into a full outbox, a vectorized loop, a timer, a
// read of another domain, a mark into a full list, the next message of
// another domain) returns to exec (execSlow, execNext), which does it and
// comes back. Faults record their kind and values (faultText formats
// them later).
func (w *instance) run(m *machine, pc int) (int, int) {
	code, st, divs := m.code, m.st, w.divs
	r := &m.r
	base := m.base
	for {
		ins := code[pc]
		pc++
		switch opcode(ins) {
		case opRet:
			goto ret
		case opRetV:
			r[regRet] = r[decA(ins)]
			return pc, execRetV
		case opFail:
			r[regRet] = ins >> 32
			return pc, execFail
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
				m.fk = fkDivZero
				return pc, execFault
			}
			switch opcode(ins) { // arith, without a call
			case opDivU:
				r[decA(ins)] = x / y
			case opModU:
				r[decA(ins)] = x % y
			case opDivS:
				r[decA(ins)] = uint64(int64(x) / int64(y))
			default:
				r[decA(ins)] = uint64(int64(x) % int64(y))
			}
		case opDivC:
			dv := &divs[decC(ins)]
			if dv.D == 0 {
				m.fk = fkDivZero
				return pc, execFault
			}
			r[decA(ins)] = dv.Div(r[decB(ins)])
		case opModC:
			dv := &divs[decC(ins)]
			if dv.D == 0 {
				m.fk = fkDivZero
				return pc, execFault
			}
			x := r[decB(ins)]
			var q uint64
			if dv.Magic == 0 {
				q = x >> dv.Shift
			} else {
				q, _ = bits.Mul64(x, dv.Magic)
				if dv.Add {
					q = (((x - q) >> 1) + q) >> dv.Shift
				} else {
					q >>= dv.Shift
				}
			}
			r[decA(ins)] = x - q*dv.D
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
				if m.spend(pc - head) {
					m.fk = fkBudget
					return pc, execFault
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
				m.fk, m.fx, m.fy = fkIndex, x, n
				return pc, execFault
			}
			r[decA(ins)] = st[base+ins>>32+x]
		case opStX:
			x := r[decB(ins)]
			if n := r[decC(ins)]; x >= n {
				m.fk, m.fx, m.fy = fkIndex, x, n
				return pc, execFault
			}
			st[base+ins>>32+x] = r[decA(ins)]
		case opAddX:
			x := r[decB(ins)]
			if n := r[decC(ins)]; x >= n {
				m.fk, m.fx, m.fy = fkIndex, x, n
				return pc, execFault
			}
			st[base+ins>>32+x] += r[decA(ins)]
		case opSubX:
			x := r[decB(ins)]
			if n := r[decC(ins)]; x >= n {
				m.fk, m.fx, m.fy = fkIndex, x, n
				return pc, execFault
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
			if dst >= w.d {
				m.fk, m.fx, m.fy = fkEmitDst, dst, w.d
				return pc, execFault
			}
			if !m.out.TryEmit(uint32(r[regSelf]), uint32(dst), trace.Kind(ins>>32), r[decB(ins)], r[decC(ins)]) {
				return pc - 1, execSlow // the outbox grows
			}
		case opID:
			id := &w.ids[ins>>32]
			g, k := r[decB(ins)], r[decC(ins)]
			if g >= id.gcount || k >= id.mcount {
				m.fk, m.fx, m.fy = fkID2, g, k
				if id.mcount == 1 {
					m.fk, m.fx, m.fy = fkID1, g, id.gcount
				}
				return pc, execFault
			}
			r[decA(ins)] = id.d0 + g*id.per + id.moff + k
		case opVLoop:
			if k := ins >> 32; k != vloopNone && w.vprogs[k] != nil {
				return pc - 1, execSlow // the vectorized loop
			}
		case opBxEq:
			x := r[decB(ins)]
			if n := r[decC(ins)]; x >= n {
				m.fk, m.fx, m.fy = fkIndex, x, n
				return pc, execFault
			}
			if v, y := st[base+code[pc]>>32+x], r[decA(ins)]; v == y {
				pc = int(ins >> 32)
			} else {
				pc++
			}
		case opBxNe:
			x := r[decB(ins)]
			if n := r[decC(ins)]; x >= n {
				m.fk, m.fx, m.fy = fkIndex, x, n
				return pc, execFault
			}
			if v, y := st[base+code[pc]>>32+x], r[decA(ins)]; v != y {
				pc = int(ins >> 32)
			} else {
				pc++
			}
		case opBxLtU:
			x := r[decB(ins)]
			if n := r[decC(ins)]; x >= n {
				m.fk, m.fx, m.fy = fkIndex, x, n
				return pc, execFault
			}
			if v, y := st[base+code[pc]>>32+x], r[decA(ins)]; v < y {
				pc = int(ins >> 32)
			} else {
				pc++
			}
		case opBxGeU:
			x := r[decB(ins)]
			if n := r[decC(ins)]; x >= n {
				m.fk, m.fx, m.fy = fkIndex, x, n
				return pc, execFault
			}
			if v, y := st[base+code[pc]>>32+x], r[decA(ins)]; v >= y {
				pc = int(ins >> 32)
			} else {
				pc++
			}
		case opBxLtS:
			x := r[decB(ins)]
			if n := r[decC(ins)]; x >= n {
				m.fk, m.fx, m.fy = fkIndex, x, n
				return pc, execFault
			}
			if v, y := st[base+code[pc]>>32+x], r[decA(ins)]; int64(v) < int64(y) {
				pc = int(ins >> 32)
			} else {
				pc++
			}
		case opBxGeS:
			x := r[decB(ins)]
			if n := r[decC(ins)]; x >= n {
				m.fk, m.fx, m.fy = fkIndex, x, n
				return pc, execFault
			}
			if v, y := st[base+code[pc]>>32+x], r[decA(ins)]; int64(v) >= int64(y) {
				pc = int(ins >> 32)
			} else {
				pc++
			}
		case opFLAdd:
			r[decA(ins)] = st[base+ins>>32] + r[decC(ins)]
		case opFLSub:
			r[decA(ins)] = st[base+ins>>32] - r[decC(ins)]
		case opFLMul:
			r[decA(ins)] = st[base+ins>>32] * r[decC(ins)]
		case opFLAnd:
			r[decA(ins)] = st[base+ins>>32] & r[decC(ins)]
		case opFLOr:
			r[decA(ins)] = st[base+ins>>32] | r[decC(ins)]
		case opFLXor:
			r[decA(ins)] = st[base+ins>>32] ^ r[decC(ins)]
		case opSFAdd:
			st[base+ins>>32] = r[decB(ins)] + r[decC(ins)]
		case opSFSub:
			st[base+ins>>32] = r[decB(ins)] - r[decC(ins)]
		case opSFMul:
			st[base+ins>>32] = r[decB(ins)] * r[decC(ins)]
		case opSFAnd:
			st[base+ins>>32] = r[decB(ins)] & r[decC(ins)]
		case opSFOr:
			st[base+ins>>32] = r[decB(ins)] | r[decC(ins)]
		case opSFXor:
			st[base+ins>>32] = r[decB(ins)] ^ r[decC(ins)]
		case opAddFR:
			st[base+ins>>32] += r[decA(ins)]
			goto ret
		case opSubFR:
			st[base+ins>>32] -= r[decA(ins)]
			goto ret
		case opStFR:
			st[base+ins>>32] = r[decA(ins)]
			goto ret
		case opAddXR:
			x := r[decB(ins)]
			if n := r[decC(ins)]; x >= n {
				m.fk, m.fx, m.fy = fkIndex, x, n
				return pc, execFault
			}
			st[base+ins>>32+x] += r[decA(ins)]
			goto ret
		case opSubXR:
			x := r[decB(ins)]
			if n := r[decC(ins)]; x >= n {
				m.fk, m.fx, m.fy = fkIndex, x, n
				return pc, execFault
			}
			st[base+ins>>32+x] -= r[decA(ins)]
			goto ret
		case opStXR:
			x := r[decB(ins)]
			if n := r[decC(ins)]; x >= n {
				m.fk, m.fx, m.fy = fkIndex, x, n
				return pc, execFault
			}
			st[base+ins>>32+x] = r[decA(ins)]
			goto ret
		case opEmitR:
			dst := r[decA(ins)]
			if dst >= w.d {
				m.fk, m.fx, m.fy = fkEmitDst, dst, w.d
				return pc, execFault
			}
			if !m.out.TryEmit(uint32(r[regSelf]), uint32(dst), trace.Kind(ins>>32), r[decB(ins)], r[decC(ins)]) {
				return pc - 1, execSlow // the outbox grows; the ret after it follows
			}
			goto ret
		case opSFAddR:
			st[base+ins>>32] = r[decB(ins)] + r[decC(ins)]
			goto ret
		case opSFSubR:
			st[base+ins>>32] = r[decB(ins)] - r[decC(ins)]
			goto ret
		case opSFMulR:
			st[base+ins>>32] = r[decB(ins)] * r[decC(ins)]
			goto ret
		case opSFAndR:
			st[base+ins>>32] = r[decB(ins)] & r[decC(ins)]
			goto ret
		case opSFOrR:
			st[base+ins>>32] = r[decB(ins)] | r[decC(ins)]
			goto ret
		case opSFXorR:
			st[base+ins>>32] = r[decB(ins)] ^ r[decC(ins)]
			goto ret
		case opSubC:
			x, y := r[decB(ins)], r[decC(ins)]
			if y > x {
				m.fk, m.fx, m.fy = fkWrap, x, y
				return pc, execFault
			}
			r[decA(ins)] = x - y
		case opSubIC:
			x, y := r[decB(ins)], ins>>32
			if y > x {
				m.fk, m.fx, m.fy = fkWrap, x, y
				return pc, execFault
			}
			r[decA(ins)] = x - y
		case opSubFC:
			p, y := &st[base+ins>>32], r[decA(ins)]
			if y > *p {
				m.fk, m.fx, m.fy = fkWrap, *p, y
				return pc, execFault
			}
			*p -= y
		case opNote:
			if k := decA(ins); m.notes != nil && k < notesMax {
				m.notes[k] = r[decB(ins)]
				m.noted |= 1 << k
			}
		case opEndX:
			return pc, execEndX
		case opMark:
			if sc := m.sc; sc != nil {
				if d := r[regSelf]; w.stamp[d] != sc.stamp {
					n := len(sc.recv)
					if n == cap(sc.recv) {
						return pc - 1, execSlow // the list grows
					}
					w.stamp[d] = sc.stamp
					sc.recv = sc.recv[:n+1]
					sc.recv[n] = uint32(d)
				}
			}
		case opInv:
			pc = int(ins >> 32)
		case opInvFail:
			r[regRet] = ins >> 32
			return pc, execInvFail
		case opNow:
			if m.msgs != nil {
				r[decA(ins)] = uint64(m.msgs[m.i].Tick)
			} else {
				r[decA(ins)] = m.now
			}
		case opEmitAt, opLdR, opLdRX:
			return pc - 1, execSlow
		case opFault:
			m.fk, m.fx = fkProgram, ins>>32
			return pc, execFault
		case opRetVInv:
			r[regRet] = r[decA(ins)]
			pc = int(ins >> 32)
		case opTrialBad:
			return pc, execInvFail
		case opJmpB:
			head := int(ins >> 32)
			if m.spend(pc - head) {
				m.fk = fkBudget
				return pc, execFault
			}
			pc = head
		case opSplit:
			x := r[decB(ins)]
			r[decA(ins)], r[decC(ins)] = x&0xFFFFFFFF, x>>32
		case opIDMod:
			id := &w.ids[ins>>32]
			dv := &divs[decC(ins)]
			x := r[decB(ins)]
			r[decA(ins)] = id.d0 + (x-dv.Div(x)*dv.D)*id.per + id.moff
		default:
			return pc - 1, execSlow // a bad opcode: slow panics
		}
		continue
	ret:
		if m.msgs == nil {
			return pc, execRet
		}
		// the next message, without leaving the loop; the next of a run to
		// one domain is prepared here, anything else by nextMsg
		if i := m.i + 1; i < len(m.msgs) {
			msg := &m.msgs[i]
			d, k := uint64(msg.Dst), int(msg.Kind)
			if e := m.ent; e != nil && d-e.d0 < e.d1-e.d0 && e.per == 1 && k < len(m.disp) && m.disp[k] >= 0 {
				if d != m.lastD { // another domain of the same plain run (banks, consumers)
					g := d - e.d0
					base = e.w0 + g*e.stride
					m.base, m.lastD = base, d
					r[regSelf], r[regIndex] = d, g
				}
				m.i = i
				r[regA], r[regB], r[regSrc] = msg.A, msg.B, uint64(msg.Src)
				m.budget = w.budget
				pc = int(m.disp[k])
				continue
			}
		}
		return pc, execNext
	}
}

// slow does the instruction at pc that run left to it and returns the pc
// to go on at (status execSlow) or where it stopped and why.
func (w *instance) slow(m *machine, pc int) (int, int) {
	code, r := m.code, &m.r
	ins := code[pc]
	pc++
	switch opcode(ins) {
	case opEmit, opEmitR: // the outbox is full: Emit grows it
		dst := r[decA(ins)]
		if dst >= w.d {
			m.fk, m.fx, m.fy = fkEmitDst, dst, w.d
			return pc, execFault
		}
		m.out.Emit(uint32(r[regSelf]), uint32(dst), trace.Kind(ins>>32), r[decB(ins)], r[decC(ins)])
		// an emit+ret is followed by the ret it stands for (retForms)
		if invariants && opcode(ins) == opEmitR && opcode(code[pc]) != opRet {
			panic(fmt.Sprintf("lang: invariant violated: emit+ret at %d is not followed by a ret", pc-1))
		}
	case opMark:
		d := r[regSelf]
		w.stamp[d] = m.sc.stamp
		m.sc.recv = append(m.sc.recv, uint32(d))
	case opVLoop:
		pc = w.vloop(m, w.vprogs[ins>>32], pc)
	case opEmitAt:
		dst, k := r[decA(ins)], r[decA(code[pc])]
		pc++
		due := uint64(m.out.Tick()) - 1 + k
		switch {
		case dst >= w.d:
			m.fk, m.fx, m.fy = fkEmitDst, dst, w.d
			return pc, execFault
		case k == 0:
			m.fk = fkDue0
			return pc, execFault
		case k > engine.MaxTick || due > engine.MaxTick:
			m.fk, m.fx = fkDueLate, k
			return pc, execFault
		}
		m.out.EmitAt(uint32(r[regSelf]), uint32(dst), trace.Kind(ins>>32), r[decB(ins)], r[decC(ins)], due)
	case opLdR, opLdRX:
		f := w.prog.fields[ins>>32]
		d := r[decB(ins)]
		e, g, s := w.locate(d)
		if s.mem.typ != f.typ {
			m.fk, m.fx, m.fy = fkNotType, d, uint64(ins>>32)
			return pc, execFault
		}
		off := e.w0 + g*e.stride + s.off + w.fieldOff[f.id]
		if opcode(ins) == opLdRX {
			x, n := r[decC(ins)], w.g(f.lenReg)
			if x >= n {
				m.fk, m.fx, m.fy = fkIndex, x, n
				return pc, execFault
			}
			off += x
		}
		r[decA(ins)] = m.st[off]
	default:
		panic(fmt.Sprintf("lang: bad opcode %d at %d", opcode(ins), pc-1))
	}
	return pc, execSlow
}

// faultKind is a fault's kind; faultText formats it with m.fx and m.fy.
type faultKind uint8

const (
	fkDivZero faultKind = iota
	fkIndex             // x, n
	fkEmitDst           // dst, domains
	fkID2               // g, k
	fkID1               // g, count
	fkWrap              // x, y
	fkDue0
	fkDueLate // k
	fkProgram // index in Program.faults
	fkBudget
	fkNotType // d, field id
)

// faultText is what the fault m stopped at says.
func (w *instance) faultText(m *machine) string {
	x, y := m.fx, m.fy
	switch m.fk {
	case fkDivZero:
		return "division by zero"
	case fkIndex:
		return fmt.Sprintf("array index %d out of range [0, %d)", x, y)
	case fkEmitDst:
		return fmt.Sprintf("emit to nonexistent domain %d (domains: %d)", x, y)
	case fkID2:
		return fmt.Sprintf("domain index (%d, %d) out of range", x, y)
	case fkID1:
		return fmt.Sprintf("domain index %d out of range [0, %d)", x, y)
	case fkWrap:
		return fmt.Sprintf(wrapFault, x, y)
	case fkDue0:
		return "a message due 0 ticks later (k = 1 is the next tick, as emit)"
	case fkDueLate:
		return fmt.Sprintf("a message due %d ticks later is beyond the last tick (2^32-1)", x)
	case fkProgram:
		return w.prog.faults[x]
	case fkBudget:
		return fmt.Sprintf("instruction budget exceeded (%d instructions per message)", w.budget)
	case fkNotType:
		return fmt.Sprintf("domain %d is not a %s", x, w.prog.fields[y].typ.name)
	}
	return fmt.Sprintf("fault %d", m.fk)
}

// spend charges n instructions to the message's budget and reports
// whether it ran out.
func (m *machine) spend(n int) bool {
	m.budget -= int64(n)
	return m.budget < 0
}

// wrapFault is the fault of a u64 subtraction that would wrap.
const wrapFault = "u64 subtraction %d - %d would wrap below 0 (compute in i64, or write -%% to wrap on purpose)"

func b2u(b bool) uint64 {
	if b {
		return 1
	}
	return 0
}

// faultError is a runtime fault's one-line message: position, tick (if
// tick >= 0), domain (if self >= 0), region, what happened.
func (w *instance) faultError(pc int, self, tick int64, what string) error {
	p := w.prog
	pos := p.pos[pc]
	where := ""
	if tick >= 0 {
		where += fmt.Sprintf(" tick %d,", tick)
	}
	if self >= 0 {
		where += " domain " + w.describe(uint64(self)) + ","
	}
	return fmt.Errorf("%s:%d:%d:%s %s: %s", p.File, pos.Line, pos.Col, where, p.regionOf(pc), what)
}

// regionOf is the name of the region holding pc.
func (p *Program) regionOf(pc int) string {
	k := sort.Search(len(p.regions), func(i int) bool { return p.regions[i].start > pc }) - 1
	return p.regions[k].name
}

// describe names domain d: "3 (bank[2])", "7 (group[1].ctl[0])".
func (w *instance) describe(d uint64) string {
	return fmt.Sprintf("%d (%s)", d, w.DomainName(uint32(d)))
}

// DomainName names domain d as the program's domains are declared:
// "Pool", "bank[2]", "group[1].ctl[0]"; "" for an id out of range.
func (w *instance) DomainName(d uint32) string {
	if w.ents == nil || uint64(d) >= w.d {
		return ""
	}
	e, g, s := w.locate(uint64(d))
	switch {
	case e.e.group && s.mem.countReg >= 0:
		return fmt.Sprintf("%s[%d].%s[%d]", e.e.name, g, s.mem.name, s.m)
	case e.e.group:
		return fmt.Sprintf("%s[%d].%s", e.e.name, g, s.mem.name)
	case e.e.countReg >= 0:
		return fmt.Sprintf("%s[%d]", s.mem.name, g)
	}
	return s.mem.name
}
