package lang

import (
	"fmt"
	"sort"

	"github.com/lexbench/lexbench/trace"
)

// Code generation: the second pass. It walks the resolved syntax tree and
// emits bytecode (ops.go), one body (handler, init, goal, figure) at a
// time into a buffer whose jumps still name labels; the peephole pass
// (peephole.go) rewrites the buffer, assemble resolves its labels and
// appends it to the program, and the vectorizer (vectorize.go) marks the
// loops that run column by column. Static expressions (keys, n, seed,
// batch, numbers) go to a separate code array evaluated once per run at
// link. Instruction selection happens here, where the tree shows it:
// immediate forms, a field as an operand or destination (fladd, sfadd),
// array compare-and-branch (bx*), division by a static divisor (divc),
// id functions of x % count (idmod).
//
// Code generation trusts the resolver: it reports only resource limits
// (registers, globals, divisors).

// operand is where an expression's value is: a register, its type, and for
// a literal its value (for immediate forms).
type operand struct {
	reg int
	t   vtype
	lit bool
	val uint64
}

type fixup struct{ at, label int }

// loopCand is a for loop of a handler that may run vectorized: its opVLoop
// placeholder, its body [head, loop) and registers (indexes in a body
// buffer, then in the program's code).
type loopCand struct {
	vat, head, loop int
	iReg, endReg    int
	mark            int // registers >= mark are allocated in the body
}

// bodyBuf is the code of one body before assembly: jumps hold labels.
type bodyBuf struct {
	code   []uint64
	pos    []Pos
	labels []int   // label → index in code (-1: not bound yet)
	fixups []fixup // instructions whose imm is a label
	patch  []int   // instructions whose imm is a field id
	loops  []loopCand
}

type scoped struct {
	l   *localVar
	reg int
}

// codegen generates the code of a resolved program.
type codegen struct {
	p       *Program
	r       *resolver
	errs    *ErrorList
	globals map[string]int // keys, n, seed, batch → register
	// static expressions: equal ones share a global (statics), and a node
	// is compiled once (staticNode)
	statics    map[string]operand
	staticNode map[*Expr]operand
	consts     map[uint64]int
	divSlots   map[int]uint8
	zero       int
	one        int

	// the body being generated
	ctx      ctxKind
	typ      *dtype
	scope    []scoped
	nextReg  int
	maxReg   int
	inStatic bool
	b        bodyBuf
	cands    []loopCand // loops of all bodies, in program code indexes
	frames   []frame    // the functions being inlined, innermost last
	// explaining: the expression being generated is an explanation, whose
	// sub-expressions are noted (opNote) at their index in notes
	explaining bool
	notes      map[*Expr]int
}

// frame is a function call being inlined: its result register and the
// label after its body.
type frame struct {
	ret, end int
}

func newCodegen(r *resolver) *codegen {
	return &codegen{
		p:          r.p,
		r:          r,
		errs:       r.errs,
		globals:    map[string]int{},
		statics:    map[string]operand{},
		staticNode: map[*Expr]operand{},
		consts:     map[uint64]int{},
		divSlots:   map[int]uint8{},
		nextReg:    regGlob0,
	}
}

// declare lays out the globals: the keys (255 down), n, seed, batch, the constants 0
// and 1, then the static expressions of the declarations (budget, array
// lengths, counts, weights), in declaration order.
func (c *codegen) declare() {
	p, f := c.p, c.r.f
	for _, k := range p.Keys { // the first globals: link sets them
		c.globals[k.Name] = c.newGlobal()
	}
	for _, n := range []string{"n", "seed", "batch"} {
		c.globals[n] = c.newGlobal()
	}
	c.zero, c.one = c.constReg(0), c.constReg(1)
	p.budget = -1
	if f.Budget != nil {
		p.budget = c.static(f.Budget).reg
	}
	for _, t := range p.types {
		for _, fl := range t.fields {
			if fl.lenExpr != nil {
				fl.lenReg = c.static(fl.lenExpr).reg
			}
		}
	}
	for _, e := range p.entries {
		if e.group && e.countExpr != nil {
			e.countReg = c.static(e.countExpr).reg
		}
		for _, m := range e.members {
			switch {
			case e.group && m.countExpr != nil:
				m.countReg = c.static(m.countExpr).reg
			case !e.group && e.countExpr != nil: // name: Type[count]
				e.countReg = c.static(e.countExpr).reg
			}
			if m.weightExpr != nil {
				m.weightReg = c.static(m.weightExpr).reg
			}
		}
	}
}

// bodies generates every handler, init, goal and figure, then marks the
// vectorizable loops.
func (c *codegen) bodies() {
	p := c.p
	for i, td := range c.r.f.Types {
		t := p.types[i]
		c.model(t)
		if td.Init != nil {
			t.init = c.body(ctxInit, t, td.Name+".init", td.Init.Pos, nil, td.Init.Body)
		}
		for _, h := range td.Handlers {
			name := td.Name + ".on " + h.Kind
			if h.Transition {
				name = td.Name + "." + h.Kind
			}
			pc := c.body(ctxHandler, t, name, h.Pos, h.Params, h.Body)
			t.handlers = append(t.handlers, [2]int{int(c.r.kinds[h.Kind]), pc})
			t.hname = append(t.hname, h.Kind)
		}
		c.strategies(t)
		sortHandlers(t)
		for _, g := range t.goals {
			for _, h := range t.handlers {
				if h[0] == int(g.kind) && len(g.strategy) > 0 {
					g.pc = h[1]
				}
			}
		}
	}
	for _, b := range c.r.f.Goals {
		p.goals = append(p.goals, block{b.Name, c.body(ctxGoal, nil, "goal "+b.Name, b.Pos, nil, b.Body)})
	}
	for _, b := range c.r.f.Figures {
		p.figures = append(p.figures, block{b.Name, c.body(ctxFigure, nil, "figure "+b.Name, b.Pos, nil, b.Body)})
	}
	p.temps = c.maxReg - regGlob0
	if c.maxReg >= regsMax-c.p.nGlobals {
		c.errs.add(Pos{1, 1}, "program needs %d registers, more than %d", c.maxReg+c.p.nGlobals-regGlob0, regsMax-regGlob0)
	}
	vectorize(p, c.cands)
	for _, t := range p.types {
		for _, g := range t.goals {
			g.local = len(g.strategy) > 0 && p.localOnly(g.pc)
		}
	}
}

// sortHandlers orders a type's handlers by ascending kind, for the
// dispatch table.
func sortHandlers(t *dtype) {
	idx := make([]int, len(t.handlers))
	for k := range idx {
		idx[k] = k
	}
	sort.SliceStable(idx, func(a, b int) bool { return t.handlers[idx[a]][0] < t.handlers[idx[b]][0] })
	hs, hn := make([][2]int, len(idx)), make([]string, len(idx))
	for k, j := range idx {
		hs[k], hn[k] = t.handlers[j], t.hname[j]
	}
	t.handlers, t.hname = hs, hn
}

func (c *codegen) newGlobal() int {
	if c.p.nGlobals >= regsMax-regGlob0-8 {
		if c.p.nGlobals == regsMax-regGlob0-8 {
			c.errs.add(Pos{1, 1}, "too many constants and static expressions")
			c.p.nGlobals++
		}
		return regsMax - 1
	}
	r := regsMax - 1 - c.p.nGlobals
	c.p.nGlobals++
	return r
}

func (c *codegen) constReg(v uint64) int {
	if r, ok := c.consts[v]; ok {
		return r
	}
	r := c.newGlobal()
	c.consts[v] = r
	c.p.consts = append(c.p.consts, constInit{r, v})
	return r
}

func (c *codegen) alloc() int {
	r := c.nextReg
	c.nextReg++
	if c.nextReg > c.maxReg {
		c.maxReg = c.nextReg
	}
	if r > 255 {
		return 255
	}
	return r
}

// emit appends an instruction to the code being generated and returns its
// index (in the body buffer, or in the static code).
func (c *codegen) emit(op opcode, a, b, cc int, imm uint32, pos Pos) int {
	ins := enc(op, uint8(a), uint8(b), uint8(cc), imm)
	if c.inStatic {
		c.p.static = append(c.p.static, ins)
		c.p.spos = append(c.p.spos, pos)
		return len(c.p.static) - 1
	}
	c.b.code = append(c.b.code, ins)
	c.b.pos = append(c.b.pos, pos)
	if fieldImm(op) {
		c.b.patch = append(c.b.patch, len(c.b.code)-1)
	}
	return len(c.b.code) - 1
}

// last is the index of the last instruction of the body buffer.
func (c *codegen) last() int { return len(c.b.code) - 1 }

func (c *codegen) newLabel() int {
	c.b.labels = append(c.b.labels, -1)
	return len(c.b.labels) - 1
}

func (c *codegen) bind(l int) { c.b.labels[l] = len(c.b.code) }

func (c *codegen) jump(op opcode, a, b, cc, label int, pos Pos) {
	at := c.emit(op, a, b, cc, 0, pos)
	c.b.fixups = append(c.b.fixups, fixup{at, label})
}

// body generates one handler, init, goal or figure and returns its pc.
func (c *codegen) body(ctx ctxKind, t *dtype, name string, pos Pos, params []string, body []*Stmt) int {
	return c.region(ctx, t, name, func() {
		if ctx == ctxHandler && len(t.goals) > 0 {
			c.emit(opMark, 0, 0, 0, 0, pos) // reconcile the domain at the tick's end
		}
		c.stmts(body)
		switch {
		case ctx == ctxFigure:
			c.emit(opRetV, c.zero, 0, 0, 0, pos) // a figure that does not return is 0
		case ctx == ctxHandler && t.inv >= 0:
			c.emit(opInv, 0, 0, 0, uint32(t.inv), pos) // check the invariants, then ret
		default:
			c.emit(opRet, 0, 0, 0, 0, pos)
		}
	})
}

// region generates one region of code (a body, or code the model needs)
// with gen, and returns its pc.
func (c *codegen) region(ctx ctxKind, t *dtype, name string, gen func()) int {
	c.ctx, c.typ, c.scope, c.nextReg = ctx, t, nil, regGlob0
	c.b = bodyBuf{code: c.b.code[:0], pos: c.b.pos[:0], labels: c.b.labels[:0], fixups: c.b.fixups[:0], patch: c.b.patch[:0], loops: c.b.loops[:0]}
	gen()
	peephole(&c.b)
	pc := c.assemble(name, ctx, t)
	// a goal type's transitions keep a plain ret at every end: a trial run
	// continues from there to the targets (trialCode)
	threadJumps(c.p.code[pc:], pc)
	retForms(c.p.code[pc:], pc, ctx, t == nil || len(t.goals) == 0)
	return pc
}

// assemble appends the body buffer to the program as the region name and
// returns its first pc: labels become pcs, field patches and loop
// candidates move to program indexes.
func (c *codegen) assemble(name string, ctx ctxKind, t *dtype) int {
	p, b := c.p, &c.b
	pc := len(p.code)
	p.regions = append(p.regions, region{pc, name, ctx, t})
	for _, f := range b.fixups {
		ins := b.code[f.at]
		b.code[f.at] = ins&0xFFFFFFFF | uint64(uint32(pc+b.labels[f.label]))<<32
	}
	p.code = append(p.code, b.code...)
	p.pos = append(p.pos, b.pos...)
	for _, at := range b.patch {
		p.patch = append(p.patch, pc+at)
	}
	for _, l := range b.loops {
		l.vat, l.head, l.loop = pc+l.vat, pc+l.head, pc+l.loop
		c.cands = append(c.cands, l)
	}
	return pc
}

// stmts generates a block.
func (c *codegen) stmts(ss []*Stmt) {
	scope, next := len(c.scope), c.nextReg
	for _, s := range ss {
		c.stmt(s)
	}
	c.scope, c.nextReg = c.scope[:scope], next
}

// fixedValue is the register of e if e is a value that cannot change while
// it is in scope (a parameter, a loop variable, self, index, member, src,
// or a conversion of one), else -1.
func (c *codegen) fixedValue(e *Expr) (int, vtype) {
	switch {
	case e.Kind == eName && e.Local != nil:
		if l := e.Local; l.ro != "" {
			return c.regOf(l), l.t
		}
	case e.Kind == eCall && (e.Name == "i64" || e.Name == "u64") && len(e.Args) == 1:
		if r, t := c.fixedValue(e.Args[0]); r >= 0 && t != tBool {
			if e.Name == "i64" {
				return r, tI64
			}
			return r, tU64
		}
	}
	return -1, 0
}

// regOf is the register of a local in scope.
func (c *codegen) regOf(l *localVar) int {
	if l.param >= 0 {
		return regA + l.param
	}
	for i := len(c.scope) - 1; i >= 0; i-- {
		if c.scope[i].l == l {
			return c.scope[i].reg
		}
	}
	c.errs.add(Pos{1, 1}, "internal error: variable %s has no register", l.name)
	return c.zero
}

func (c *codegen) declareLocal(l *localVar, reg int) {
	c.scope = append(c.scope, scoped{l, reg})
}

func (c *codegen) stmt(s *Stmt) {
	mark := c.nextReg
	switch s.Kind {
	case sLet:
		if r, t := c.fixedValue(s.X); r >= 0 && t == s.Local.t && !s.Local.assigned {
			c.declareLocal(s.Local, r) // an alias: no copy
			return
		}
		reg := c.alloc()
		c.expr(s.X, reg)
		c.nextReg = reg + 1
		c.declareLocal(s.Local, reg)
		return
	case sAssign:
		c.assign(s)
	case sIf:
		lelse := c.newLabel()
		c.cond(s.X, lelse, false)
		c.stmts(s.Body)
		if s.Else != nil {
			lend := c.newLabel()
			c.jump(opJmp, 0, 0, 0, lend, s.Pos)
			c.bind(lelse)
			c.stmts(s.Else)
			c.bind(lend)
		} else {
			c.bind(lelse)
		}
	case sFor, sForall:
		i := c.alloc()
		end := c.alloc()
		if s.Kind == sFor {
			c.expr(s.X, i)
			c.expr(s.Y, end)
		} else {
			c.emit(opMov, i, c.zero, 0, 0, s.Pos)
			cnt := c.one
			if e := s.Ent; e != nil && e.countReg >= 0 {
				cnt = e.countReg
			}
			c.emit(opMov, end, cnt, 0, 0, s.Pos)
		}
		lexit := c.newLabel()
		c.jump(opBgeU, 0, i, end, lexit, s.Pos)
		vat := -1
		if c.ctx == ctxHandler && s.Kind == sFor {
			vat = c.emit(opVLoop, i, end, 0, vloopNone, s.Pos)
		}
		lhead := c.newLabel()
		c.bind(lhead)
		head := len(c.b.code)
		mark := c.nextReg
		scope := len(c.scope)
		c.declareLocal(s.Local, i)
		c.stmts(s.Body)
		c.scope = c.scope[:scope]
		c.jump(opLoop, i, end, 0, lhead, s.Pos)
		loop := c.last()
		c.bind(lexit)
		if vat >= 0 {
			c.b.loops = append(c.b.loops, loopCand{vat: vat, head: head, loop: loop, iReg: i, endReg: end, mark: mark})
		}
	case sWhile: // a bound the resolver saw (boundedWhile)
		lhead, lexit := c.newLabel(), c.newLabel()
		c.bind(lhead)
		c.cond(s.X, lexit, false)
		c.stmts(s.Body)
		c.jump(opJmpB, 0, 0, 0, lhead, s.Pos)
		c.bind(lexit)
	case sAssert:
		lfail, lok := c.newLabel(), c.newLabel()
		c.cond(s.X, lfail, false)
		c.jump(opJmp, 0, 0, 0, lok, s.Pos)
		c.bind(lfail)
		ai := assertInfo{pos: s.Pos, text: s.Text}
		for _, v := range c.scope {
			ai.vars = append(ai.vars, namedReg{v.l.name, uint8(v.reg), v.l.t})
		}
		c.emit(opFail, 0, 0, 0, uint32(len(c.p.asserts)), s.Pos)
		ai.subs = c.explain(s.X)
		c.p.asserts = append(c.p.asserts, ai)
		c.bind(lok)
	case sReturn:
		if n := len(c.frames); n > 0 { // a function's: the result, then its end
			f := c.frames[n-1]
			c.expr(s.X, f.ret)
			c.jump(opJmp, 0, 0, 0, f.end, s.Pos)
			break
		}
		x := c.expr(s.X, -1)
		c.emit(opRetV, x.reg, 0, 0, 0, s.Pos)
	case sExpr:
		switch s.X.Name {
		case "emit", "emit_after":
			c.emitCall(s.X)
		case "send", "send_high", "send_after":
			c.sendCall(s.X)
		default:
			c.expr(s.X, -1)
		}
	case sBlock:
		c.stmts(s.Body)
	}
	c.nextReg = mark
}

func (c *codegen) assign(s *Stmt) {
	tg := s.Target
	if l := tg.Local; l != nil {
		reg := c.regOf(l)
		cur := operand{reg: reg, t: l.t}
		if s.Op == "=" {
			c.expr(s.X, reg)
			return
		}
		y := c.expr(s.X, -1)
		c.arith(compound[s.Op], reg, cur, y, tg.T, s.Pos)
		return
	}
	f := tg.Field
	ft := fieldType(f)
	if tg.Kind == eName {
		switch s.Op {
		case "=":
			if e := s.X; e.Kind == eBinary && (e.Op == "+" || e.Op == "-" || e.Op == "-%") && fieldOperand(e.X) == f {
				// field = field ± y is field ±= y: one instruction
				y := c.expr(e.Y, -1)
				op := opAddF
				switch {
				case e.Op == "-" && ft == tU64:
					op = opSubFC
				case e.Op != "+":
					op = opSubF
				}
				c.emit(op, y.reg, 0, 0, uint32(f.id), e.Pos)
				return
			}
			if e := s.X; e.Kind == eBinary && c.fusable(e) && !e.Static && fieldOperand(e.X) == nil &&
				!c.isLiteral(e.Y) {
				// field = x OP y in one instruction
				x := c.expr(e.X, -1)
				y := c.expr(e.Y, -1)
				t := c.alloc()
				c.arith(e.Op, t, x, y, e.T, e.Pos)
				if last := c.b.code[c.last()]; opcode(last) >= opAdd && opcode(last) <= opXor && int(decA(last)) == t {
					c.b.code[c.last()] = enc(opSFAdd+(opcode(last)-opAdd), 0, decB(last), decC(last), uint32(f.id))
					c.b.patch = append(c.b.patch, c.last())
				} else { // an immediate form: store the result
					c.emit(opStF, t, 0, 0, uint32(f.id), s.Pos)
				}
				return
			}
			x := c.expr(s.X, -1)
			c.emit(opStF, x.reg, 0, 0, uint32(f.id), s.Pos)
		case "+=", "-=":
			x := c.expr(s.X, -1)
			op := opAddF
			switch {
			case s.Op == "-=" && ft == tU64:
				op = opSubFC
			case s.Op == "-=":
				op = opSubF
			}
			c.emit(op, x.reg, 0, 0, uint32(f.id), s.Pos)
		default:
			t := c.alloc()
			c.emit(opLdF, t, 0, 0, uint32(f.id), s.Pos)
			y := c.expr(s.X, -1)
			r := c.arith(compound[s.Op], t, operand{reg: t, t: ft}, y, arithType(compound[s.Op], ft, s.X.T), s.Pos)
			c.emit(opStF, r.reg, 0, 0, uint32(f.id), s.Pos)
		}
		return
	}
	idx := c.expr(tg.X, -1)
	switch {
	case s.Op == "=":
		x := c.expr(s.X, -1)
		c.emit(opStX, x.reg, idx.reg, f.lenReg, uint32(f.id), s.Pos)
	case s.Op == "+=" || s.Op == "-=" && ft != tU64:
		x := c.expr(s.X, -1)
		op := opAddX
		if s.Op == "-=" {
			op = opSubX
		}
		c.emit(op, x.reg, idx.reg, f.lenReg, uint32(f.id), s.Pos)
	default: // load, operate (a u64 -= checks for wrapping), store
		t := c.alloc()
		c.emit(opLdX, t, idx.reg, f.lenReg, uint32(f.id), s.Pos)
		y := c.expr(s.X, -1)
		r := c.arith(compound[s.Op], t, operand{reg: t, t: ft}, y, arithType(compound[s.Op], ft, s.X.T), s.Pos)
		c.emit(opStX, r.reg, idx.reg, f.lenReg, uint32(f.id), s.Pos)
	}
}

// arithType is the type of x op y for resolved operand types (the
// resolver has reported any mismatch).
func arithType(op string, x, y vtype) vtype {
	switch {
	case op == "<<" || op == ">>":
		return x
	case x == tUntyped:
		return y
	}
	return x
}

// static compiles a static expression into the static code and returns
// the global register holding it.
func (c *codegen) static(e *Expr) operand {
	if op, ok := c.staticNode[e]; ok {
		return op
	}
	var res operand
	switch e.Kind {
	case eInt:
		res = operand{reg: c.constReg(e.Val), t: tUntyped, lit: true, val: e.Val}
	case eName:
		switch k := c.r.consts[e.Name]; {
		case k != nil:
			res = c.static(k.x)
			res.t = k.t
		case e.Name == "true":
			res = operand{reg: c.one, t: tBool, lit: true, val: 1}
		case e.Name == "false":
			res = operand{reg: c.zero, t: tBool, lit: true, val: 0}
		default:
			res = operand{reg: c.globals[e.Name], t: tU64}
		}
	default:
		// the key names the operation and its operands' registers: equal
		// static expressions share one global, in constant time per node
		var args []operand
		switch e.Kind {
		case eUnary:
			args = []operand{c.static(e.X)}
		case eBinary:
			args = []operand{c.static(e.X), c.static(e.Y)}
		case eCall:
			for _, a := range e.Args {
				args = append(args, c.static(a))
			}
		}
		key := e.Op + e.Name
		for _, a := range args {
			key += fmt.Sprintf(",%d:%d", a.reg, a.t)
		}
		if op, ok := c.statics[key]; ok {
			c.staticNode[e] = op
			return op
		}
		defer func() { c.statics[key] = res }()
		prev := c.inStatic
		c.inStatic = true
		switch e.Kind {
		case eUnary:
			res = c.unary(e, args[0], c.newGlobal())
		case eBinary:
			res = c.arith(e.Op, c.newGlobal(), args[0], args[1], e.T, e.Pos)
		case eCall:
			res = c.call2(e, args, c.newGlobal())
		}
		c.inStatic = prev
	}
	c.staticNode[e] = res
	return res
}

// literalGlobalsMax bounds the globals literals take: once the program
// has this many, a literal not already in one is loaded into a temporary
// where it is used, so that however many distinct literals a program has,
// registers remain for its temporaries and its static expressions.
const literalGlobalsMax = (regsMax - regGlob0) / 2

// literal is the operand of e (without a register) if e is a literal: a
// number, true, false, or a constant whose value is one.
func (c *codegen) literal(e *Expr) (operand, bool) {
	switch {
	case e.Kind == eInt:
		return operand{t: tUntyped, lit: true, val: e.Val}, true
	case e.Kind != eName:
	case c.r.consts[e.Name] != nil:
		k := c.r.consts[e.Name]
		op, ok := c.literal(k.x)
		op.t = k.t
		return op, ok
	case e.Name == "true":
		return operand{t: tBool, lit: true, val: 1}, true
	case e.Name == "false":
		return operand{t: tBool, lit: true, val: 0}, true
	}
	return operand{}, false
}

// isLiteral reports whether e is a literal (an operand of an immediate
// form), allocating nothing.
func (c *codegen) isLiteral(e *Expr) bool {
	_, ok := c.literal(e)
	return ok
}

// inGlobal reports whether the static expression e is held by the global
// reg, allocating nothing for a literal.
func (c *codegen) inGlobal(e *Expr, reg int) bool {
	if lit, ok := c.literal(e); ok {
		r, ok := c.consts[lit.val]
		return ok && r == reg
	}
	return c.static(e).reg == reg
}

// loadLiteral loads v into dst (a new temporary if dst < 0) and returns
// the register.
func (c *codegen) loadLiteral(dst int, v uint64, pos Pos) int {
	r := dst
	if r < 0 {
		r = c.alloc()
	}
	if v < 1<<32 {
		c.emit(opAddI, r, c.zero, 0, uint32(v), pos)
		return r
	}
	c.emit(opAddI, r, c.zero, 0, uint32(v>>32), pos)
	c.emit(opShlI, r, r, 0, 32, pos)
	if uint32(v) != 0 {
		c.emit(opOrI, r, r, 0, uint32(v), pos)
	}
	return r
}

// moveTo moves op into dst if dst >= 0 and op is elsewhere.
func (c *codegen) moveTo(dst int, op operand, pos Pos) operand {
	if dst >= 0 && dst != op.reg {
		c.emit(opMov, dst, op.reg, 0, 0, pos)
		op.reg = dst
	}
	return op
}

// expr generates e. With dst >= 0 the value ends in register dst; with -1
// it may stay where it is (a variable, a global) or go to a new temporary.
//
// Temporaries are a stack: an expression's code may use every register
// from c.nextReg up, and when it is generated only its result stays
// allocated (everything above it is free again). An operation computes its
// operands, frees them and puts its result at the lowest free register,
// which may be an operand's: every instruction reads its operands before
// it writes its result. So a body needs as many temporaries as its
// deepest expression, however many statements it has.
func (c *codegen) expr(e *Expr, dst int) operand {
	mark := c.nextReg
	op := c.expr1(e, dst)
	if c.explaining {
		if k, ok := c.notes[e]; ok {
			c.emit(opNote, k, op.reg, 0, 0, e.Pos)
		}
	}
	c.release(mark, op.reg)
	return op
}

// release frees the temporaries allocated since mark, except reg if it is
// one of them.
func (c *codegen) release(mark, reg int) {
	if reg >= mark && reg < c.nextReg {
		c.nextReg = reg + 1
	} else {
		c.nextReg = mark
	}
}

func (c *codegen) expr1(e *Expr, dst int) operand {
	if e.Static {
		if lit, ok := c.literal(e); ok && !c.inStatic && c.p.nGlobals >= literalGlobalsMax {
			if r, ok := c.consts[lit.val]; ok {
				lit.reg = r
			} else { // in a temporary: the globals are kept for what only they can hold
				lit.reg = c.loadLiteral(dst, lit.val, e.Pos)
			}
			return c.moveTo(dst, lit, e.Pos)
		}
		op := c.static(e)
		if dst >= 0 && dst != op.reg {
			c.emit(opMov, dst, op.reg, 0, 0, e.Pos)
			op.reg = dst
		}
		return op
	}
	mark := c.nextReg
	target := func() int {
		if dst >= 0 {
			return dst
		}
		return c.alloc()
	}
	// result is target once the operands (read by the one instruction
	// that writes the result) are generated: their temporaries are free
	result := func() int {
		c.nextReg = mark
		return target()
	}
	// resultKeeping is result, except that when the first operand xe is
	// a field loaded into the first temporary, the result goes above it:
	// the register still holds the field, and the peephole drops a later
	// load of the field into it (dropReloads: `let m = x % 1000 + 1` then
	// `if x & 1 == 1` loads x once). One register more at most per level
	// of an expression.
	resultKeeping := func(xe *Expr, x operand) int {
		if dst < 0 && x.reg == mark && fieldOperand(xe) != nil {
			c.nextReg = mark + 1
			return c.alloc()
		}
		return result()
	}
	move := func(op operand) operand {
		if dst >= 0 && op.reg != dst {
			c.emit(opMov, dst, op.reg, 0, 0, e.Pos)
			op.reg = dst
		}
		return op
	}
	switch e.Kind {
	case eName:
		if l := e.Local; l != nil {
			return move(operand{reg: c.regOf(l), t: l.t})
		}
		if f := e.Field; f != nil {
			r := target()
			c.emit(opLdF, r, 0, 0, uint32(f.id), e.Pos)
			return operand{reg: r, t: fieldType(f)}
		}
		switch e.Name {
		case "self", "index", "member":
			return move(operand{reg: map[string]int{"self": regSelf, "index": regIndex, "member": regMember}[e.Name], t: tU64})
		case "src":
			return move(operand{reg: regSrc, t: tU64})
		case "now":
			r := target()
			c.emit(opNow, r, 0, 0, 0, e.Pos)
			return operand{reg: r, t: tU64}
		}
	case eIndex:
		f := e.Field
		idx := c.expr(e.X, -1)
		r := result()
		c.emit(opLdX, r, idx.reg, f.lenReg, uint32(f.id), e.Pos)
		return operand{reg: r, t: fieldType(f)}
	case eField:
		f := e.Field
		dom := c.expr(e.X, -1)
		if f.lenReg >= 0 {
			idx := c.expr(e.Y, -1)
			r := result()
			c.emit(opLdRX, r, dom.reg, idx.reg, uint32(f.id), e.Pos)
			return operand{reg: r, t: fieldType(f)}
		}
		r := result()
		c.emit(opLdR, r, dom.reg, 0, uint32(f.id), e.Pos)
		return operand{reg: r, t: fieldType(f)}
	case eUnary:
		x := c.expr(e.X, -1)
		return c.unary(e, x, resultKeeping(e.X, x))
	case eBinary:
		switch e.Op {
		case "&&", "||":
			return c.boolValue(e, target())
		case "==", "!=", "<", "<=", ">", ">=":
			x := c.expr(e.X, -1)
			y := c.expr(e.Y, -1)
			return c.compareValue(e, x, y, resultKeeping(e.X, x))
		}
		if f := fieldOperand(e.X); f != nil && c.fusable(e) && !c.explaining && !c.isLiteral(e.Y) {
			// field OP y in one instruction: y cannot change the field (only
			// rng() changes state, and the rng field is not fused)
			y := c.expr(e.Y, -1)
			r := result()
			res := c.arith(e.Op, r, operand{reg: c.zero, t: fieldType(f)}, y, e.T, e.Pos)
			if last := c.b.code[c.last()]; opcode(last) >= opAdd && opcode(last) <= opXor && decB(last) == uint8(c.zero) {
				c.b.code[c.last()] = enc(opFLAdd+(opcode(last)-opAdd), uint8(r), 0, uint8(y.reg), uint32(f.id))
				c.b.patch = append(c.b.patch, c.last())
			} else { // cannot happen: a register form is the only one for these operands
				c.errs.add(e.Pos, "internal error: field operand fusion found %s", opNames[opcode(last)])
			}
			return res
		}
		x := c.expr(e.X, -1)
		y := c.expr(e.Y, -1)
		return c.arith(e.Op, resultKeeping(e.X, x), x, y, e.T, e.Pos)
	case eCall:
		switch e.Name {
		case "i64", "u64", "min", "max":
			if e.Name == "i64" || e.Name == "u64" { // a conversion is free: the operand's register
				x := c.expr(e.Args[0], dst)
				return operand{reg: x.reg, t: e.T, lit: x.lit, val: x.val}
			}
			var args []operand
			for _, a := range e.Args {
				args = append(args, c.expr(a, -1))
			}
			return c.call2(e, args, result())
		case "rng":
			r := target()
			c.emit(opRng, r, 0, 0, uint32(c.typ.rng.id), e.Pos)
			return operand{reg: r, t: tU64}
		}
		if m := e.Mem; m != nil {
			return c.idCall(e, m, result)
		}
		if fn := c.r.funcs[e.Name]; fn != nil {
			return c.call(e, fn, target())
		}
	}
	c.errs.add(e.Pos, "internal error: unresolved expression")
	return operand{reg: c.zero, t: tInvalid}
}

// call inlines a call of fn with its result in r: the arguments are
// computed into registers the parameters then name (a parameter cannot be
// assigned, and the body cannot touch the caller's registers, so an
// argument that is already in a register is not copied).
func (c *codegen) call(e *Expr, fn *function, r int) operand {
	args := make([]int, len(e.Args))
	for i, a := range e.Args {
		args[i] = c.expr(a, -1).reg
	}
	if len(c.frames) >= inlineDepthMax || len(c.b.code) > inlineCodeMax {
		c.errs.add(e.Pos, "function %s: too much code once calls are inlined", fn.decl.Name)
		return operand{reg: r, t: fn.result}
	}
	scope := len(c.scope)
	for i, prm := range fn.params {
		c.declareLocal(prm, args[i])
	}
	end := c.newLabel()
	c.frames = append(c.frames, frame{ret: r, end: end})
	explaining := c.explaining
	c.explaining = false // a function's insides are not the explained expression's
	c.stmts(fn.decl.Body)
	c.explaining = explaining
	c.frames = c.frames[:len(c.frames)-1]
	c.bind(end)
	c.scope = c.scope[:scope]
	return operand{reg: r, t: fn.result}
}

// Bounds of inlining (functions cannot recurse, but can nest).
const (
	inlineDepthMax = 64
	inlineCodeMax  = 1 << 20 // instructions of one body
)

// idCall generates an id function's call; result gives its register once
// the arguments are generated.
func (c *codegen) idCall(e *Expr, m *member, result func() int) operand {
	if m.entry.countReg >= 0 && m.countReg < 0 && !c.inStatic && !c.explaining {
		// bank(x % banks): the index is in range by construction, one op
		if a := e.Args[0]; a.Kind == eBinary && a.Op == "%" && a.Y.Static && c.inGlobal(a.Y, m.entry.countReg) {
			x := c.expr(a.X, -1)
			slot := c.divSlot(m.entry.countReg, e.Pos)
			r := result()
			c.emit(opIDMod, r, x.reg, int(slot), uint32(c.idIndex(m)), e.Pos)
			return operand{reg: r, t: tU64}
		}
	}
	g, k := c.zero, c.zero
	i := 0
	if m.entry.countReg >= 0 {
		g = c.expr(e.Args[0], -1).reg
		i++
	}
	if m.countReg >= 0 {
		k = c.expr(e.Args[i], -1).reg
	}
	r := result()
	c.emit(opID, r, g, k, uint32(c.idIndex(m)), e.Pos)
	return operand{reg: r, t: tU64}
}

func (c *codegen) idIndex(m *member) int {
	for j, mm := range c.p.ids {
		if mm == m {
			return j
		}
	}
	return 0
}

// divSlot is the divisor slot of the static value in global register reg.
func (c *codegen) divSlot(reg int, pos Pos) uint8 {
	slot, ok := c.divSlots[reg]
	if !ok {
		if len(c.divSlots) >= 255 {
			c.errs.add(pos, "too many distinct divisors")
		}
		slot = uint8(len(c.divSlots))
		c.divSlots[reg] = slot
		c.p.divs = append(c.p.divs, uint8(reg))
	}
	return slot
}

// call2 generates min, max, i64, u64 on generated arguments.
func (c *codegen) call2(e *Expr, args []operand, r int) operand {
	switch e.Name {
	case "i64", "u64":
		x := args[0]
		if r != x.reg {
			c.emit(opMov, r, x.reg, 0, 0, e.Pos)
		}
		return operand{reg: r, t: e.T, lit: x.lit, val: x.val}
	default: // min, max
		op := map[string]opcode{"min": opMinU, "max": opMaxU}[e.Name]
		if e.T == tI64 {
			op += 2
		}
		c.emit(op, r, args[0].reg, args[1].reg, 0, e.Pos)
		return operand{reg: r, t: e.T}
	}
}

var arithOps = map[string][2]opcode{ // register form, immediate form (0: none)
	"+": {opAdd, opAddI}, "-": {opSub, opSubI}, "-%": {opSub, opSubI}, "*": {opMul, opMulI}, "&": {opAnd, opAndI},
	"|": {opOr, opOrI}, "^": {opXor, opXorI}, "<<": {opShl, opShlI}, ">>": {opShr, opShrI},
}

// arith emits r = x op y for an arithmetic operator; t is the result's
// type (the resolver's).
func (c *codegen) arith(op string, r int, x, y operand, t vtype, pos Pos) operand {
	signed := t == tI64
	switch op {
	case "/", "%":
		if !c.inStatic && !signed && c.isStaticReg(y.reg) {
			slot := c.divSlot(y.reg, pos)
			o := opDivC
			if op == "%" {
				o = opModC
			}
			c.emit(o, r, x.reg, int(slot), 0, pos)
			return operand{reg: r, t: t}
		}
		o := map[string]opcode{"/": opDivU, "%": opModU}[op]
		if signed {
			o += 2
		}
		c.emit(o, r, x.reg, y.reg, 0, pos)
		return operand{reg: r, t: t}
	}
	ops := arithOps[op]
	switch {
	case op == ">>" && signed:
		ops = [2]opcode{opSar, opSarI}
	case op == "-" && t == tU64: // faults instead of wrapping
		ops = [2]opcode{opSubC, opSubIC}
	}
	if x.lit && x.val < 1<<32 && !y.lit && (op == "+" || op == "*" || op == "&" || op == "|" || op == "^") {
		x, y = y, x
	}
	if y.lit && y.val < 1<<32 {
		c.emit(ops[1], r, x.reg, 0, uint32(y.val), pos)
	} else {
		c.emit(ops[0], r, x.reg, y.reg, 0, pos)
	}
	return operand{reg: r, t: t}
}

// isStaticReg reports whether reg is a global (its value is fixed for the run).
func (c *codegen) isStaticReg(reg int) bool { return reg >= regsMax-c.p.nGlobals }

func (c *codegen) unary(e *Expr, x operand, r int) operand {
	switch e.Op {
	case "-":
		c.emit(opNeg, r, x.reg, 0, 0, e.Pos)
	case "^":
		c.emit(opBNot, r, x.reg, 0, 0, e.Pos)
	case "!":
		c.emit(opNot, r, x.reg, 0, 0, e.Pos)
		return operand{reg: r, t: tBool}
	}
	return operand{reg: r, t: x.t}
}

// compareValue materializes the comparison e of x and y as 0/1 in r.
func (c *codegen) compareValue(e *Expr, x, y operand, r int) operand {
	o, swap, _, _ := compareOps(e.Op, e.OT == tI64)
	a, b := x.reg, y.reg
	if swap {
		a, b = b, a
	}
	c.emit(o, r, a, b, 0, e.Pos)
	return operand{reg: r, t: tBool}
}

// boolValue materializes a logical operation (&&, ||) as 0/1 in r.
func (c *codegen) boolValue(e *Expr, r int) operand {
	if c.explaining { // both sides as noted values, short-circuit kept
		lend := c.newLabel()
		c.expr(e.X, r)
		o := opJz
		if e.Op == "||" {
			o = opJnz
		}
		c.jump(o, 0, r, 0, lend, e.Pos)
		c.expr(e.Y, r)
		c.bind(lend)
		return operand{reg: r, t: tBool}
	}
	lf, lend := c.newLabel(), c.newLabel()
	c.cond(e, lf, false)
	c.emit(opMov, r, c.one, 0, 0, e.Pos)
	c.jump(opJmp, 0, 0, 0, lend, e.Pos)
	c.bind(lf)
	c.emit(opMov, r, c.zero, 0, 0, e.Pos)
	c.bind(lend)
	return operand{reg: r, t: tBool}
}

// compareOps gives, for a comparison x OP y, the op computing it as a
// bool, applied to (x, y) or, with vswap, to (y, x); and the branch taken
// when it holds (unsigned: the signed form is +2), applied to (x, y) or,
// with bswap, to (y, x).
func compareOps(op string, signed bool) (value opcode, vswap bool, branch opcode, bswap bool) {
	switch op {
	case "==":
		value, branch = opEq, opBeq
	case "!=":
		value, branch = opNe, opBne
	case "<":
		value, branch = opLtU, opBltU
	case "<=":
		value, branch, bswap = opLeU, opBgeU, true
	case ">":
		value, vswap, branch, bswap = opLtU, true, opBltU, true
	case ">=":
		value, vswap, branch = opLeU, true, opBgeU
	}
	if signed && value >= opLtU {
		value += 2
	}
	return
}

// negBranch is the branch taken when the one given is not.
var negBranch = map[opcode]opcode{opBeq: opBne, opBne: opBeq, opBltU: opBgeU, opBgeU: opBltU}

// cond generates a condition as a jump to label taken when e == jumpIf,
// falling through otherwise. It leaves no temporary allocated.
func (c *codegen) cond(e *Expr, label int, jumpIf bool) {
	defer func(mark int) { c.nextReg = mark }(c.nextReg)
	if e.Kind == eUnary && e.Op == "!" {
		c.cond(e.X, label, !jumpIf)
		return
	}
	if e.Kind == eBinary {
		switch e.Op {
		case "&&", "||":
			and := e.Op == "&&"
			if and != jumpIf { // && jumping on false, || jumping on true: either side decides
				c.cond(e.X, label, jumpIf)
				c.cond(e.Y, label, jumpIf)
				return
			}
			skip := c.newLabel()
			c.cond(e.X, skip, !jumpIf)
			c.cond(e.Y, label, jumpIf)
			c.bind(skip)
			return
		case "==", "!=", "<", "<=", ">", ">=":
			if c.arrayBranch(e, label, jumpIf) {
				return
			}
			x := c.expr(e.X, -1)
			y := c.expr(e.Y, -1)
			_, _, o, swap := compareOps(e.Op, false)
			a, b := x.reg, y.reg
			if swap {
				a, b = b, a
			}
			if !jumpIf {
				o = negBranch[o]
			}
			if e.OT == tI64 && o >= opBltU {
				o += 2
			}
			c.jump(o, 0, a, b, label, e.Pos)
			return
		}
	}
	x := c.expr(e, -1)
	o := opJz
	if jumpIf {
		o = opJnz
	}
	c.jump(o, 0, x.reg, 0, label, e.Pos)
}

func (c *codegen) emitCall(e *Expr) {
	args, k := e.Args, -1
	if e.Name == "emit_after" {
		k = c.expr(args[0], -1).reg
		args = args[1:]
	}
	kind := c.r.kinds[args[1].Name]
	dst := c.expr(args[0], -1)
	a := c.expr(args[2], -1)
	b := c.expr(args[3], -1)
	c.emitMsg(k, dst.reg, a.reg, b.reg, kind, e.Pos)
}

// emitMsg emits a message, due k = r[k] ticks later if k >= 0.
func (c *codegen) emitMsg(k, dst, a, b int, kind trace.Kind, pos Pos) {
	if k < 0 {
		c.emit(opEmit, dst, a, b, uint32(kind), pos)
		return
	}
	c.emit(opEmitAt, dst, a, b, uint32(kind), pos)
	c.b.code = append(c.b.code, enc(opWord2, uint8(k), 0, 0, 0))
	c.b.pos = append(c.b.pos, pos)
}

// sendCall generates send(Domain, Transition) (send_high: the same) and
// send_after(k, Domain, Transition): a message with no payload, or the
// fault the resolver decided (a capability the sender lacks, a transition
// the destination lacks).
func (c *codegen) sendCall(e *Expr) {
	if e.Fault != "" {
		c.emit(opFault, 0, 0, 0, uint32(len(c.p.faults)), e.Pos)
		c.p.faults = append(c.p.faults, e.Fault)
		return
	}
	args, k := e.Args, -1
	if e.Name == "send_after" {
		k = c.expr(args[0], -1).reg
		args = args[1:]
	}
	dst := c.alloc()
	c.emit(opID, dst, c.zero, c.zero, uint32(c.idIndex(e.Mem)), e.Pos)
	c.emitMsg(k, dst, c.zero, c.zero, c.r.kinds[args[1].Name], e.Pos)
}

// arrayBranch generates `f[i] OP y` (f an array field of the domain, OP
// one of == != < >=) as one two-word instruction: bounds check, load,
// compare and branch (opBxEq ..); and `f OP y` for a scalar field f as the
// same instruction with index 0 of length 1 (and `y == f`, `y != f` as
// `f == y`, `f != y`): one dispatch instead of a load and a branch. It
// reports false if e is not of that form.
func (c *codegen) arrayBranch(e *Expr, label int, jumpIf bool) bool {
	if c.inStatic || (e.Op != "==" && e.Op != "!=" && e.Op != "<" && e.Op != ">=") {
		return false
	}
	x, other := e.X, e.Y
	if fieldOperand(x) == nil && x.Kind != eIndex && (e.Op == "==" || e.Op == "!=") && fieldOperand(e.Y) != nil {
		x, other = e.Y, e.X // the comparison is symmetric
	}
	var f *field
	var idx operand
	switch {
	case fieldOperand(x) != nil:
		f = fieldOperand(x)
		idx = operand{reg: c.zero, t: tU64}
	case x.Kind == eIndex && x.Field != nil && x.Field.lenReg >= 0:
		f = x.Field
		idx = c.expr(x.X, -1)
	default:
		return false
	}
	lenReg := f.lenReg
	if lenReg < 0 {
		lenReg = c.one
	}
	y := c.expr(other, -1)
	signed := e.OT == tI64
	o := map[string]opcode{"==": opBeq, "!=": opBne, "<": opBltU, ">=": opBgeU}[e.Op]
	if !jumpIf {
		o = negBranch[o]
	}
	if signed && o >= opBltU {
		o += 2
	}
	c.jump(opBxEq+(o-opBeq), y.reg, idx.reg, lenReg, label, e.Pos)
	c.b.code = append(c.b.code, enc(opWord2, 0, 0, 0, uint32(f.id)))
	c.b.pos = append(c.b.pos, e.Pos)
	c.b.patch = append(c.b.patch, c.last())
	return true
}

// fusable reports whether the binary e has a field form (opFLAdd ..,
// opSFAdd ..): those wrap, so a u64 `-` (which checks) has none.
func (c *codegen) fusable(e *Expr) bool {
	switch e.Op {
	case "+", "-%", "*", "&", "|", "^":
		return true
	case "-":
		return e.T != tU64
	}
	return false
}

// fieldOperand is the field e reads if e is a scalar field of the domain
// (not its rng field, which rng() changes), else nil.
func fieldOperand(e *Expr) *field {
	if e.Kind != eName || e.Local != nil || e.Field == nil {
		return nil
	}
	f := e.Field
	if f.lenReg >= 0 || f == f.typ.rng {
		return nil
	}
	return f
}
