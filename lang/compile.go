package lang

import (
	"fmt"

	"github.com/lexbench/lexbench/trace"
)

type ctxKind uint8

const (
	ctxHandler ctxKind = iota
	ctxInit
	ctxGoal
	ctxFigure
)

type vtype uint8

const (
	tInvalid vtype = iota // after an error: compatible with anything, reported once
	tUntyped              // a number literal, or arithmetic on literals only
	tU64
	tI64
	tBool
	tNone // emit
)

var typeNames = [...]string{"invalid", "untyped number", "u64", "i64", "bool", "no value"}

func (t vtype) String() string { return typeNames[t] }

// operand is where an expression's value is: a register, its type, and for
// a literal its value (for immediate forms).
type operand struct {
	reg int
	t   vtype
	lit bool
	val uint64
}

type local struct {
	name string
	reg  int
	t    vtype
	ro   string // why it cannot be assigned ("" if it can)
}

type fixup struct{ at, label int }

// compiler checks and compiles in one pass over each body: every
// expression is typed as it is compiled.
type compiler struct {
	p       *Program
	f       *File
	errs    *ErrorList
	kinds   map[string]trace.Kind
	globals map[string]int // keys, n, seed, batch → register
	types   map[string]*dtype
	members map[string]*member
	statics map[string]operand
	// per node memos: static analysis is otherwise quadratic in an expression's size
	staticMemo map[*Expr]bool
	staticNode map[*Expr]operand
	consts     map[uint64]int
	divSlots   map[int]uint8
	zero       int
	one        int

	// the body being compiled
	ctx      ctxKind
	typ      *dtype
	scope    []local
	nextReg  int
	maxReg   int
	inStatic bool
	labels   []int
	fixups   []fixup
	rest     []*Stmt // the statements after the current one in its block
	boundAt  int     // the last jump target: no fusion across it
}

func (c *compiler) newGlobal() int {
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

func (c *compiler) constReg(v uint64) int {
	if r, ok := c.consts[v]; ok {
		return r
	}
	r := c.newGlobal()
	c.consts[v] = r
	c.p.consts = append(c.p.consts, constInit{r, v})
	return r
}

func (c *compiler) alloc() int {
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

// emit appends an instruction to the code being compiled and returns its index.
func (c *compiler) emit(op opcode, a, b, cc int, imm uint32, pos Pos) int {
	ins := enc(op, uint8(a), uint8(b), uint8(cc), imm)
	if c.inStatic {
		c.p.static = append(c.p.static, ins)
		c.p.spos = append(c.p.spos, pos)
		return len(c.p.static) - 1
	}
	if n := len(c.p.code); n > c.boundAt && n > 0 {
		// fuse with the previous instruction (never across a jump target)
		prev := c.p.code[n-1]
		if op == opShrI && imm == 32 && opcode(prev) == opAndI && decImm(prev) == 0xFFFFFFFF &&
			decB(prev) == uint8(b) && decA(prev) != uint8(b) {
			c.p.code[n-1] = enc(opSplit, decA(prev), uint8(b), uint8(a), 0)
			return n - 1
		}
	}
	c.p.code = append(c.p.code, ins)
	c.p.pos = append(c.p.pos, pos)
	if fieldImm(op) {
		c.p.patch = append(c.p.patch, len(c.p.code)-1)
	}
	return len(c.p.code) - 1
}

func (c *compiler) newLabel() int {
	c.labels = append(c.labels, -1)
	return len(c.labels) - 1
}

func (c *compiler) bind(l int) {
	c.labels[l] = len(c.p.code)
	c.boundAt = len(c.p.code)
}

func (c *compiler) jump(op opcode, b, cc, label int, pos Pos) {
	at := c.emit(op, 0, b, cc, 0, pos)
	c.fixups = append(c.fixups, fixup{at, label})
}

// body compiles one handler, init, goal or figure and returns its pc.
func (c *compiler) body(ctx ctxKind, t *dtype, name string, pos Pos, params []string, body []*Stmt) int {
	c.ctx, c.typ, c.scope, c.nextReg = ctx, t, nil, regGlob0
	c.labels, c.fixups = c.labels[:0], c.fixups[:0]
	pc := len(c.p.code)
	c.boundAt = pc
	c.p.regions = append(c.p.regions, region{pc, name})
	for i, prm := range params {
		if i < 2 {
			c.scope = append(c.scope, local{name: prm, reg: regA + i, t: tU64, ro: "a message parameter"})
		}
	}
	c.stmts(body)
	switch ctx {
	case ctxFigure:
		c.emit(opRetV, c.zero, 0, 0, 0, pos) // a figure that does not return is 0
	default:
		c.emit(opRet, 0, 0, 0, 0, pos)
	}
	for _, f := range c.fixups {
		ins := c.p.code[f.at]
		c.p.code[f.at] = ins&0xFFFFFFFF | uint64(uint32(c.labels[f.label]))<<32
	}
	for k := pc; k < len(c.p.code); k++ { // a jump to a ret is a ret
		if ins := c.p.code[k]; opcode(ins) == opJmp && opcode(c.p.code[decImm(ins)]) == opRet {
			c.p.code[k] = enc(opRet, 0, 0, 0, 0)
		}
	}
	if ctx == ctxHandler || ctx == ctxInit {
		// X; ret is one instruction (the ret stays for jumps to it)
		for k := pc + 1; k < len(c.p.code); k++ {
			prev := c.p.code[k-1]
			if f := retFused(opcode(prev)); opcode(c.p.code[k]) == opRet && f != 0 {
				c.p.code[k-1] = prev&^0xFF | uint64(f)
			}
		}
	}
	return pc
}

func (c *compiler) stmts(ss []*Stmt) {
	scope, next, rest := len(c.scope), c.nextReg, c.rest
	for i, s := range ss {
		c.rest = ss[i+1:]
		c.stmt(s)
	}
	c.scope, c.nextReg, c.rest = c.scope[:scope], next, rest
}

// assigned reports whether a statement of ss assigns to the variable name.
func assigned(name string, ss []*Stmt) bool {
	for _, s := range ss {
		if s.Kind == sAssign && s.Target.Kind == eName && s.Target.Name == name ||
			assigned(name, s.Body) || assigned(name, s.Else) {
			return true
		}
	}
	return false
}

// fixedValue is the register of e if e is a value that cannot change while
// it is in scope (a parameter, a loop variable, self, index, member, src,
// or a conversion of one), else -1.
func (c *compiler) fixedValue(e *Expr) (int, vtype) {
	switch {
	case e.Kind == eName:
		if l := c.lookup(e.Name); l != nil && l.ro != "" {
			return l.reg, l.t
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

func (c *compiler) lookup(name string) *local {
	for i := len(c.scope) - 1; i >= 0; i-- {
		if c.scope[i].name == name {
			return &c.scope[i]
		}
	}
	return nil
}

func (c *compiler) ownField(name string) *field {
	if c.typ == nil || (c.ctx != ctxHandler && c.ctx != ctxInit) {
		return nil
	}
	for _, f := range c.typ.fields {
		if f.name == name {
			return f
		}
	}
	return nil
}

func fieldType(f *field) vtype {
	if f.signed {
		return tI64
	}
	return tU64
}

func (c *compiler) declareLocal(pos Pos, name string, reg int, t vtype, ro string) {
	if c.globals[name] != 0 || reservedNames[name] || c.members[name] != nil || c.ownField(name) != nil {
		c.errs.add(pos, "%s shadows a key, builtin, field or domain name", name)
	}
	c.scope = append(c.scope, local{name: name, reg: reg, t: t, ro: ro})
}

func (c *compiler) stmt(s *Stmt) {
	mark := c.nextReg
	switch s.Kind {
	case sLet:
		if r, t := c.fixedValue(s.X); r >= 0 && (s.Type == "" || s.Type == t.String()) && !assigned(s.Name, c.rest) {
			c.declareLocal(s.Pos, s.Name, r, t, "") // an alias: no copy
			return
		}
		reg := c.alloc()
		var want vtype
		switch s.Type {
		case "":
		case "u64":
			want = tU64
		case "i64":
			want = tI64
		default:
			c.errs.add(s.Pos, "unknown type %s (want u64 or i64)", s.Type)
			want = tInvalid
		}
		x := c.expr(s.X, reg)
		t := x.t
		switch {
		case t == tNone:
			c.errs.add(s.X.Pos, "%s has no value", s.X.Name)
			t = tInvalid
		case want != 0 && t != tUntyped && t != tInvalid && want != tInvalid && t != want:
			c.errs.add(s.Pos, "type mismatch: cannot initialize %s %s with a %s value", want, s.Name, t)
		case want != 0:
			t = want
		case t == tUntyped:
			t = tU64
		}
		c.nextReg = reg + 1
		c.declareLocal(s.Pos, s.Name, reg, t, "")
		return
	case sAssign:
		c.assign(s)
	case sIf:
		lelse := c.newLabel()
		c.cond(s.X, lelse, false)
		c.stmts(s.Body)
		if s.Else != nil {
			lend := c.newLabel()
			c.jump(opJmp, 0, 0, lend, s.Pos)
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
			c.want(c.expr(s.X, i), tU64, s.X.Pos, "loop start")
			c.want(c.expr(s.Y, end), tU64, s.Y.Pos, "loop end")
		} else {
			m := c.members[s.Entry]
			var e *entry
			for _, en := range c.p.entries {
				if en.name == s.Entry {
					e = en
				}
			}
			if e == nil && m != nil && !m.entry.group {
				e = m.entry
			}
			switch {
			case e == nil && m != nil:
				c.errs.add(s.Pos, "forall: %s is a member of group %s; iterate the group", s.Entry, m.entry.name)
			case e == nil:
				c.errs.add(s.Pos, "forall: unknown domain entry %s", s.Entry)
			}
			c.emit(opMov, i, c.zero, 0, 0, s.Pos)
			cnt := c.one
			if e != nil && e.countReg >= 0 {
				cnt = e.countReg
			}
			c.emit(opMov, end, cnt, 0, 0, s.Pos)
		}
		lexit := c.newLabel()
		c.jump(opBgeU, i, end, lexit, s.Pos)
		vat := -1
		if c.ctx == ctxHandler && s.Kind == sFor {
			vat = c.emit(opVLoop, i, end, 0, vloopNone, s.Pos)
		}
		head := len(c.p.code)
		c.boundAt = head
		mark := c.nextReg
		scope := len(c.scope)
		c.declareLocal(s.Pos, s.Name, i, tU64, "a loop variable")
		c.stmts(s.Body)
		c.scope = c.scope[:scope]
		loop := c.emit(opLoop, i, end, 0, uint32(head), s.Pos)
		c.bind(lexit)
		if vat >= 0 && vectorizable(c.p.code[head:loop], mark) {
			c.p.code[vat] = enc(opVLoop, uint8(i), uint8(end), 0, uint32(len(c.p.vloops)))
			c.p.vloops = append(c.p.vloops, vloopDesc{head: head, loop: loop, iReg: i, endReg: end})
		}
	case sWhile:
		c.errs.add(s.Pos, "unbounded loop: while has no bound; use for x in lo..hi (the bound is evaluated once)")
		c.cond(s.X, c.newLabel(), false)
		c.stmts(s.Body)
	case sAssert:
		if c.ctx != ctxGoal {
			c.errs.add(s.Pos, "assert is allowed only in goals")
		}
		lfail, lok := c.newLabel(), c.newLabel()
		c.cond(s.X, lfail, false)
		c.jump(opJmp, 0, 0, lok, s.Pos)
		c.bind(lfail)
		ai := assertInfo{pos: s.Pos, text: s.Text}
		for _, l := range c.scope {
			ai.vars = append(ai.vars, namedReg{l.name, uint8(l.reg)})
		}
		c.emit(opFail, 0, 0, 0, uint32(len(c.p.asserts)), s.Pos)
		c.p.asserts = append(c.p.asserts, ai)
		c.bind(lok)
	case sReturn:
		if c.ctx != ctxFigure {
			c.errs.add(s.Pos, "return is allowed only in figures")
		}
		x := c.expr(s.X, -1)
		c.want(x, tU64, s.X.Pos, "a figure")
		c.emit(opRetV, x.reg, 0, 0, 0, s.Pos)
	case sExpr:
		if s.X.Name == "emit" {
			c.emitCall(s.X)
		} else {
			c.expr(s.X, -1)
		}
	}
	c.nextReg = mark
}

// want checks that x has type t (an untyped number fits u64 and i64).
func (c *compiler) want(x operand, t vtype, pos Pos, what string) {
	if x.t == tInvalid || x.t == t || x.t == tUntyped && t != tBool {
		return
	}
	c.errs.add(pos, "type mismatch: %s must be %s, got %s", what, t, x.t)
}

var compound = map[string]string{"+=": "+", "-=": "-", "*=": "*", "/=": "/", "%=": "%", "&=": "&", "|=": "|", "^=": "^", "<<=": "<<", ">>=": ">>"}

func (c *compiler) assign(s *Stmt) {
	tg := s.Target
	if tg.Kind == eName {
		if l := c.lookup(tg.Name); l != nil {
			if l.ro != "" {
				c.errs.add(tg.Pos, "cannot assign to %s, %s", tg.Name, l.ro)
				return
			}
			cur := operand{reg: l.reg, t: l.t}
			if s.Op == "=" {
				x := c.expr(s.X, l.reg)
				c.wantAssign(x, l.t, s.Pos, tg.Name)
				return
			}
			y := c.expr(s.X, -1)
			c.arith(compound[s.Op], l.reg, cur, y, s.Pos)
			return
		}
	}
	if tg.Kind != eName && tg.Kind != eIndex {
		c.errs.add(tg.Pos, "cannot assign to this expression")
		return
	}
	f := c.ownField(tg.Name)
	if f == nil {
		switch {
		case c.globals[tg.Name] != 0:
			c.errs.add(tg.Pos, "cannot assign to key %s", tg.Name)
		case reservedNames[tg.Name]:
			c.errs.add(tg.Pos, "cannot assign to builtin %s", tg.Name)
		case c.ctx == ctxGoal || c.ctx == ctxFigure:
			c.errs.add(tg.Pos, "unknown variable %s (goals and figures cannot assign to fields)", tg.Name)
		case tg.Kind == eIndex:
			c.errs.add(tg.Pos, "unknown field %s in type %s", tg.Name, c.typ.name)
		default:
			c.errs.add(tg.Pos, "unknown field or variable %s in type %s", tg.Name, c.typ.name)
		}
		c.expr(s.X, -1)
		return
	}
	ft := fieldType(f)
	if tg.Kind == eName {
		if f.lenReg >= 0 {
			c.errs.add(tg.Pos, "field %s is an array: assign to an element, %s[i]", f.name, f.name)
			return
		}
		switch s.Op {
		case "=":
			if e := s.X; e.Kind == eBinary && fusable[e.Op] && !c.isStatic(e) && c.fieldOperand(e.X) == nil &&
				!(c.isStatic(e.Y) && c.static(e.Y).lit) {
				// field = x OP y in one instruction
				x := c.expr(e.X, -1)
				y := c.expr(e.Y, -1)
				t := c.alloc()
				res := c.arith(e.Op, t, x, y, e.Pos)
				c.wantAssign(res, ft, s.Pos, f.name)
				if last := c.p.code[len(c.p.code)-1]; opcode(last) >= opAdd && opcode(last) <= opXor && int(decA(last)) == t {
					c.p.code[len(c.p.code)-1] = enc(opSFAdd+(opcode(last)-opAdd), 0, decB(last), decC(last), uint32(f.id))
					c.p.patch = append(c.p.patch, len(c.p.code)-1)
				} else { // an immediate form: store the result
					c.emit(opStF, t, 0, 0, uint32(f.id), s.Pos)
				}
				return
			}
			x := c.expr(s.X, -1)
			c.wantAssign(x, ft, s.Pos, f.name)
			c.emit(opStF, x.reg, 0, 0, uint32(f.id), s.Pos)
		case "+=", "-=":
			x := c.expr(s.X, -1)
			c.wantAssign(x, ft, s.Pos, f.name)
			op := opAddF
			if s.Op == "-=" {
				op = opSubF
			}
			c.emit(op, x.reg, 0, 0, uint32(f.id), s.Pos)
		default:
			t := c.alloc()
			c.emit(opLdF, t, 0, 0, uint32(f.id), s.Pos)
			y := c.expr(s.X, -1)
			r := c.arith(compound[s.Op], t, operand{reg: t, t: ft}, y, s.Pos)
			c.emit(opStF, r.reg, 0, 0, uint32(f.id), s.Pos)
		}
		return
	}
	if f.lenReg < 0 {
		c.errs.add(tg.Pos, "field %s is not an array", f.name)
		return
	}
	idx := c.expr(tg.X, -1)
	c.want(idx, tU64, tg.X.Pos, "an index")
	switch s.Op {
	case "=":
		x := c.expr(s.X, -1)
		c.wantAssign(x, ft, s.Pos, f.name+"[…]")
		c.emit(opStX, x.reg, idx.reg, f.lenReg, uint32(f.id), s.Pos)
	case "+=", "-=":
		x := c.expr(s.X, -1)
		c.wantAssign(x, ft, s.Pos, f.name+"[…]")
		op := opAddX
		if s.Op == "-=" {
			op = opSubX
		}
		c.emit(op, x.reg, idx.reg, f.lenReg, uint32(f.id), s.Pos)
	default:
		t := c.alloc()
		c.emit(opLdX, t, idx.reg, f.lenReg, uint32(f.id), s.Pos)
		y := c.expr(s.X, -1)
		r := c.arith(compound[s.Op], t, operand{reg: t, t: ft}, y, s.Pos)
		c.emit(opStX, r.reg, idx.reg, f.lenReg, uint32(f.id), s.Pos)
	}
}

func (c *compiler) wantAssign(x operand, t vtype, pos Pos, name string) {
	if x.t == tNone {
		c.errs.add(pos, "emit has no value")
		return
	}
	if x.t == tInvalid || t == tInvalid || x.t == t || x.t == tUntyped && t != tBool {
		return
	}
	c.errs.add(pos, "type mismatch: cannot assign %s to %s %s", x.t, name, t)
}

// isStatic reports whether e depends only on numbers, keys, n, seed and
// batch: it is then computed once per run into a global register.
func (c *compiler) isStatic(e *Expr) bool {
	if v, ok := c.staticMemo[e]; ok {
		return v
	}
	v := c.isStatic1(e)
	c.staticMemo[e] = v
	return v
}

func (c *compiler) isStatic1(e *Expr) bool {
	switch e.Kind {
	case eInt:
		return true
	case eName:
		return c.globals[e.Name] != 0 && c.lookup(e.Name) == nil && c.ownField(e.Name) == nil
	case eUnary:
		return e.Op != "!" && c.isStatic(e.X)
	case eBinary:
		return prec(e.Op) >= 4 && c.isStatic(e.X) && c.isStatic(e.Y)
	case eCall:
		switch e.Name {
		case "min", "max":
			return len(e.Args) == 2 && c.isStatic(e.Args[0]) && c.isStatic(e.Args[1])
		case "i64", "u64":
			return len(e.Args) == 1 && c.isStatic(e.Args[0])
		}
	}
	return false
}

// static compiles a static expression into the static code and returns
// the global register holding it.
func (c *compiler) static(e *Expr) operand {
	if op, ok := c.staticNode[e]; ok {
		return op
	}
	var res operand
	switch e.Kind {
	case eInt:
		res = operand{reg: c.constReg(e.Val), t: tUntyped, lit: true, val: e.Val}
	case eName:
		res = operand{reg: c.globals[e.Name], t: tU64}
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
			res = c.arith(e.Op, c.newGlobal(), args[0], args[1], e.Pos)
		case eCall:
			res = c.call2(e, args, c.newGlobal())
		}
		c.inStatic = prev
	}
	c.staticNode[e] = res
	return res
}

// expr compiles e. With dst >= 0 the value ends in register dst; with -1
// it may stay where it is (a variable, a global) or go to a new temporary.
func (c *compiler) expr(e *Expr, dst int) operand {
	if c.isStatic(e) {
		op := c.static(e)
		if dst >= 0 && dst != op.reg {
			c.emit(opMov, dst, op.reg, 0, 0, e.Pos)
			op.reg = dst
		}
		return op
	}
	target := func() int {
		if dst >= 0 {
			return dst
		}
		return c.alloc()
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
		if l := c.lookup(e.Name); l != nil {
			return move(operand{reg: l.reg, t: l.t})
		}
		if f := c.ownField(e.Name); f != nil {
			if f.lenReg >= 0 {
				c.errs.add(e.Pos, "field %s is an array: index it, %s[i]", f.name, f.name)
				return operand{reg: c.zero, t: tInvalid}
			}
			r := target()
			c.emit(opLdF, r, 0, 0, uint32(f.id), e.Pos)
			return operand{reg: r, t: fieldType(f)}
		}
		switch e.Name {
		case "self", "index", "member":
			if c.ctx == ctxHandler || c.ctx == ctxInit {
				return move(operand{reg: map[string]int{"self": regSelf, "index": regIndex, "member": regMember}[e.Name], t: tU64})
			}
			c.errs.add(e.Pos, "%s is defined only in handlers and init", e.Name)
			return operand{reg: c.zero, t: tInvalid}
		case "src":
			if c.ctx == ctxHandler {
				return move(operand{reg: regSrc, t: tU64})
			}
			c.errs.add(e.Pos, "src is defined only in handlers")
			return operand{reg: c.zero, t: tInvalid}
		}
		if _, ok := c.kinds[e.Name]; ok {
			c.errs.add(e.Pos, "%s is a message kind, not a value", e.Name)
		} else if c.members[e.Name] != nil {
			c.errs.add(e.Pos, "%s is a domain name: call it for an id, %s(…)", e.Name, e.Name)
		} else if c.typ != nil && (c.ctx == ctxHandler || c.ctx == ctxInit) {
			c.errs.add(e.Pos, "unknown field or variable %s in type %s", e.Name, c.typ.name)
		} else {
			c.errs.add(e.Pos, "unknown variable %s", e.Name)
		}
		return operand{reg: c.zero, t: tInvalid}
	case eIndex:
		f := c.ownField(e.Name)
		if f == nil {
			if c.typ != nil && (c.ctx == ctxHandler || c.ctx == ctxInit) {
				c.errs.add(e.Pos, "unknown field %s in type %s", e.Name, c.typ.name)
			} else {
				c.errs.add(e.Pos, "unknown array %s (in goals and figures, read fields as entry(i).field)", e.Name)
			}
			c.expr(e.X, -1)
			return operand{reg: c.zero, t: tInvalid}
		}
		if f.lenReg < 0 {
			c.errs.add(e.Pos, "field %s is not an array", f.name)
			return operand{reg: c.zero, t: tInvalid}
		}
		idx := c.expr(e.X, -1)
		c.want(idx, tU64, e.X.Pos, "an index")
		r := target()
		c.emit(opLdX, r, idx.reg, f.lenReg, uint32(f.id), e.Pos)
		return operand{reg: r, t: fieldType(f)}
	case eField:
		if c.ctx != ctxGoal && c.ctx != ctxFigure {
			c.errs.add(e.Pos, "fields of other domains can be read only in goals and figures")
			return operand{reg: c.zero, t: tInvalid}
		}
		if e.X.Kind != eCall || c.members[e.X.Name] == nil {
			c.errs.add(e.Pos, "a field is read from a domain id call, e.g. bank(k).%s", e.Name)
			return operand{reg: c.zero, t: tInvalid}
		}
		m := c.members[e.X.Name]
		var f *field
		for _, fl := range m.typ.fields {
			if fl.name == e.Name {
				f = fl
			}
		}
		if f == nil {
			c.errs.add(e.Pos, "unknown field %s: type %s has no field %s", e.Name, m.typ.name, e.Name)
			return operand{reg: c.zero, t: tInvalid}
		}
		dom := c.expr(e.X, -1)
		r := target()
		if f.lenReg >= 0 {
			if e.Y == nil {
				c.errs.add(e.Pos, "field %s is an array: index it", f.name)
				return operand{reg: c.zero, t: tInvalid}
			}
			idx := c.expr(e.Y, -1)
			c.want(idx, tU64, e.Y.Pos, "an index")
			c.emit(opLdRX, r, dom.reg, idx.reg, uint32(f.id), e.Pos)
		} else {
			if e.Y != nil {
				c.errs.add(e.Pos, "field %s is not an array", f.name)
			}
			c.emit(opLdR, r, dom.reg, 0, uint32(f.id), e.Pos)
		}
		return operand{reg: r, t: fieldType(f)}
	case eUnary:
		x := c.expr(e.X, -1)
		return c.unary(e, x, target())
	case eBinary:
		switch e.Op {
		case "&&", "||", "==", "!=", "<", "<=", ">", ">=":
			return c.boolValue(e, target())
		}
		if f := c.fieldOperand(e.X); f != nil && fusable[e.Op] && !(c.isStatic(e.Y) && c.static(e.Y).lit) {
			// field OP y in one instruction: y cannot change the field (only
			// rng() changes state, and the rng field is not fused)
			y := c.expr(e.Y, -1)
			r := target()
			res := c.arith(e.Op, r, operand{reg: c.zero, t: fieldType(f)}, y, e.Pos)
			if last := c.p.code[len(c.p.code)-1]; opcode(last) >= opAdd && opcode(last) <= opXor && decB(last) == uint8(c.zero) {
				c.p.code[len(c.p.code)-1] = enc(opFLAdd+(opcode(last)-opAdd), uint8(r), 0, uint8(y.reg), uint32(f.id))
				c.p.patch = append(c.p.patch, len(c.p.code)-1)
			} else { // cannot happen: a register form is the only one for these operands
				c.errs.add(e.Pos, "internal error: field operand fusion found %s", opNames[opcode(last)])
			}
			return res
		}
		x := c.expr(e.X, -1)
		y := c.expr(e.Y, -1)
		return c.arith(e.Op, target(), x, y, e.Pos)
	case eCall:
		switch e.Name {
		case "emit":
			c.errs.add(e.Pos, "emit has no value; call it as a statement")
			return operand{reg: c.zero, t: tInvalid}
		case "i64", "u64", "min", "max":
			var args []operand
			for _, a := range e.Args {
				args = append(args, c.expr(a, -1))
			}
			if e.Name == "i64" || e.Name == "u64" {
				if len(args) == 1 && dst < 0 {
					return c.call2(e, args, args[0].reg) // a conversion is free: same register
				}
			}
			return c.call2(e, args, target())
		case "rng":
			if len(e.Args) != 0 {
				c.errs.add(e.Pos, "wrong number of arguments to rng: got %d, want 0", len(e.Args))
			}
			if c.ctx != ctxHandler && c.ctx != ctxInit {
				c.errs.add(e.Pos, "rng() is defined only in handlers and init")
				return operand{reg: c.zero, t: tInvalid}
			}
			if c.typ.rng == nil {
				c.errs.add(e.Pos, "rng(): type %s has no rng field", c.typ.name)
				return operand{reg: c.zero, t: tInvalid}
			}
			r := target()
			c.emit(opRng, r, 0, 0, uint32(c.typ.rng.id), e.Pos)
			return operand{reg: r, t: tU64}
		}
		if m := c.members[e.Name]; m != nil {
			return c.idCall(e, m, target())
		}
		c.errs.add(e.Pos, "unknown function %s", e.Name)
		for _, a := range e.Args {
			c.expr(a, -1)
		}
		return operand{reg: c.zero, t: tInvalid}
	}
	c.errs.add(e.Pos, "invalid expression")
	return operand{reg: c.zero, t: tInvalid}
}

func (c *compiler) idCall(e *Expr, m *member, r int) operand {
	want := 0
	if m.entry.countReg >= 0 {
		want++
	}
	if m.countReg >= 0 {
		want++
	}
	if len(e.Args) != want {
		c.errs.add(e.Pos, "wrong number of arguments to %s: got %d, want %d", m.name, len(e.Args), want)
		return operand{reg: c.zero, t: tInvalid}
	}
	if want == 1 && m.countReg < 0 && !c.inStatic {
		// bank(x % banks): the index is in range by construction, one op
		if a := e.Args[0]; a.Kind == eBinary && a.Op == "%" && c.isStatic(a.Y) && c.static(a.Y).reg == m.entry.countReg {
			x := c.expr(a.X, -1)
			c.want(x, tU64, a.X.Pos, "a domain index")
			slot := c.divSlot(m.entry.countReg, e.Pos)
			c.emit(opIDMod, r, x.reg, int(slot), uint32(c.idIndex(m)), e.Pos)
			return operand{reg: r, t: tU64}
		}
	}
	g, k := c.zero, c.zero
	i := 0
	if m.entry.countReg >= 0 {
		x := c.expr(e.Args[0], -1)
		c.want(x, tU64, e.Args[0].Pos, "a domain index")
		g = x.reg
		i++
	}
	if m.countReg >= 0 {
		x := c.expr(e.Args[i], -1)
		c.want(x, tU64, e.Args[i].Pos, "a member index")
		k = x.reg
	}
	c.emit(opID, r, g, k, uint32(c.idIndex(m)), e.Pos)
	return operand{reg: r, t: tU64}
}

func (c *compiler) idIndex(m *member) int {
	for j, mm := range c.p.ids {
		if mm == m {
			return j
		}
	}
	return 0
}

// divSlot is the divisor slot of the static value in global register reg.
func (c *compiler) divSlot(reg int, pos Pos) uint8 {
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

// call2 compiles min, max, i64, u64 on compiled arguments.
func (c *compiler) call2(e *Expr, args []operand, r int) operand {
	switch e.Name {
	case "i64", "u64":
		if len(args) != 1 {
			c.errs.add(e.Pos, "wrong number of arguments to %s: got %d, want 1", e.Name, len(args))
			return operand{reg: c.zero, t: tInvalid}
		}
		x := args[0]
		if x.t == tBool || x.t == tNone {
			c.errs.add(e.Pos, "cannot convert %s to %s", x.t, e.Name)
		}
		if r != x.reg {
			c.emit(opMov, r, x.reg, 0, 0, e.Pos)
		}
		t := tU64
		if e.Name == "i64" {
			t = tI64
		}
		return operand{reg: r, t: t, lit: x.lit, val: x.val}
	default: // min, max
		if len(args) != 2 {
			c.errs.add(e.Pos, "wrong number of arguments to %s: got %d, want 2", e.Name, len(args))
			return operand{reg: c.zero, t: tInvalid}
		}
		t := c.unify(e.Name, args[0], args[1], e.Pos)
		op := map[string]opcode{"min": opMinU, "max": opMaxU}[e.Name]
		if t == tI64 {
			op += 2
		}
		c.emit(op, r, args[0].reg, args[1].reg, 0, e.Pos)
		return operand{reg: r, t: t}
	}
}

// unify is the type of a binary operation on x and y.
func (c *compiler) unify(op string, x, y operand, pos Pos) vtype {
	switch {
	case x.t == tInvalid || y.t == tInvalid:
		return tInvalid
	case x.t == tBool || y.t == tBool || x.t == tNone || y.t == tNone:
		c.errs.add(pos, "type mismatch: operator %s is not defined on %s and %s", op, x.t, y.t)
		return tInvalid
	case x.t == tUntyped:
		return y.t
	case y.t == tUntyped || x.t == y.t:
		return x.t
	}
	c.errs.add(pos, "type mismatch: %s %s %s (convert with u64() or i64())", x.t, op, y.t)
	return tInvalid
}

var arithOps = map[string][2]opcode{ // register form, immediate form (0: none)
	"+": {opAdd, opAddI}, "-": {opSub, opSubI}, "*": {opMul, opMulI}, "&": {opAnd, opAndI},
	"|": {opOr, opOrI}, "^": {opXor, opXorI}, "<<": {opShl, opShlI}, ">>": {opShr, opShrI},
}

// arith emits r = x op y for an arithmetic operator.
func (c *compiler) arith(op string, r int, x, y operand, pos Pos) operand {
	var t vtype
	if op == "<<" || op == ">>" {
		t = x.t
		if y.t == tBool || y.t == tNone || x.t == tBool || x.t == tNone {
			c.errs.add(pos, "type mismatch: operator %s is not defined on %s and %s", op, x.t, y.t)
			t = tInvalid
		}
	} else {
		t = c.unify(op, x, y, pos)
	}
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
	ops, ok := arithOps[op]
	if !ok {
		c.errs.add(pos, "operator %s is not arithmetic", op)
		return operand{reg: r, t: tInvalid}
	}
	if op == ">>" && signed {
		ops = [2]opcode{opSar, opSarI}
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
func (c *compiler) isStaticReg(reg int) bool { return reg >= regsMax-c.p.nGlobals }

func (c *compiler) unary(e *Expr, x operand, r int) operand {
	switch e.Op {
	case "-":
		if x.t == tBool || x.t == tNone {
			c.errs.add(e.Pos, "type mismatch: operator - is not defined on %s", x.t)
		}
		c.emit(opNeg, r, x.reg, 0, 0, e.Pos)
	case "^":
		if x.t == tBool || x.t == tNone {
			c.errs.add(e.Pos, "type mismatch: operator ^ is not defined on %s", x.t)
		}
		c.emit(opBNot, r, x.reg, 0, 0, e.Pos)
	case "!":
		if x.t != tBool && x.t != tInvalid {
			c.errs.add(e.Pos, "type mismatch: operator ! wants bool, got %s", x.t)
		}
		c.emit(opNot, r, x.reg, 0, 0, e.Pos)
		return operand{reg: r, t: tBool}
	}
	return operand{reg: r, t: x.t}
}

// boolValue materializes a comparison or logical operation as 0/1.
func (c *compiler) boolValue(e *Expr, r int) operand {
	if e.Op != "&&" && e.Op != "||" {
		x := c.expr(e.X, -1)
		y := c.expr(e.Y, -1)
		signed := c.compareType(e, x, y) == tI64
		o, a, b := opEq, x.reg, y.reg
		switch e.Op {
		case "!=":
			o = opNe
		case "<":
			o = opLtU
		case "<=":
			o = opLeU
		case ">":
			o, a, b = opLtU, b, a
		case ">=":
			o, a, b = opLeU, b, a
		}
		if signed && o >= opLtU {
			o += 2
		}
		c.emit(o, r, a, b, 0, e.Pos)
		return operand{reg: r, t: tBool}
	}
	lf, lend := c.newLabel(), c.newLabel()
	c.cond(e, lf, false)
	c.emit(opMov, r, c.one, 0, 0, e.Pos)
	c.jump(opJmp, 0, 0, lend, e.Pos)
	c.bind(lf)
	c.emit(opMov, r, c.zero, 0, 0, e.Pos)
	c.bind(lend)
	return operand{reg: r, t: tBool}
}

func (c *compiler) compareType(e *Expr, x, y operand) vtype {
	if x.t == tBool && y.t == tBool {
		if e.Op != "==" && e.Op != "!=" {
			c.errs.add(e.Pos, "type mismatch: operator %s is not defined on bool", e.Op)
		}
		return tBool
	}
	return c.unify(e.Op, x, y, e.Pos)
}

// cond compiles a condition as a jump to label taken when e == jumpIf,
// falling through otherwise.
func (c *compiler) cond(e *Expr, label int, jumpIf bool) {
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
			signed := c.compareType(e, x, y) == tI64
			// the branch for "jump if e is true"
			o, a, b := opBeq, x.reg, y.reg
			switch e.Op {
			case "!=":
				o = opBne
			case "<":
				o = opBltU
			case ">=":
				o = opBgeU
			case ">":
				o, a, b = opBltU, b, a
			case "<=":
				o, a, b = opBgeU, b, a
			}
			if !jumpIf { // negate
				switch o {
				case opBeq:
					o = opBne
				case opBne:
					o = opBeq
				case opBltU:
					o = opBgeU
				case opBgeU:
					o = opBltU
				}
			}
			if signed && o >= opBltU {
				o += 2
			}
			c.jump(o, a, b, label, e.Pos)
			return
		}
	}
	x := c.expr(e, -1)
	if x.t != tBool && x.t != tInvalid {
		c.errs.add(e.Pos, "type mismatch: condition must be bool, got %s", x.t)
	}
	o := opJz
	if jumpIf {
		o = opJnz
	}
	c.jump(o, x.reg, 0, label, e.Pos)
}

func (c *compiler) emitCall(e *Expr) {
	if len(e.Args) != 4 {
		c.errs.add(e.Pos, "wrong number of arguments to emit: got %d, want 4 (dst, Kind, a, b)", len(e.Args))
		for _, a := range e.Args {
			if a.Kind != eName {
				c.expr(a, -1)
			}
		}
		return
	}
	if c.ctx != ctxHandler {
		c.errs.add(e.Pos, "emit is allowed only in handlers")
	}
	k := e.Args[1]
	var kind trace.Kind
	if k.Kind != eName {
		c.errs.add(k.Pos, "emit: the second argument must be a message kind")
	} else if v, ok := c.kinds[k.Name]; !ok {
		c.errs.add(k.Pos, "emit: unknown message kind %s", k.Name)
	} else {
		kind = v
	}
	dst := c.expr(e.Args[0], -1)
	c.want(dst, tU64, e.Args[0].Pos, "emit's destination")
	a := c.expr(e.Args[2], -1)
	c.want(a, tU64, e.Args[2].Pos, "emit's a")
	b := c.expr(e.Args[3], -1)
	c.want(b, tU64, e.Args[3].Pos, "emit's b")
	c.emit(opEmit, dst.reg, a.reg, b.reg, uint32(kind), e.Pos)
}

// arrayBranch compiles `f[i] OP y` (f an array field of the domain, OP one
// of == != < >=) as one two-word instruction: bounds check, load, compare
// and branch (opBxEq ..). It reports false if e is not of that form.
func (c *compiler) arrayBranch(e *Expr, label int, jumpIf bool) bool {
	if c.inStatic || e.X.Kind != eIndex || (e.Op != "==" && e.Op != "!=" && e.Op != "<" && e.Op != ">=") {
		return false
	}
	f := c.ownField(e.X.Name)
	if f == nil || f.lenReg < 0 {
		return false
	}
	idx := c.expr(e.X.X, -1)
	c.want(idx, tU64, e.X.X.Pos, "an index")
	y := c.expr(e.Y, -1)
	signed := c.compareType(e, operand{reg: c.zero, t: fieldType(f)}, y) == tI64
	o := map[string]opcode{"==": opBeq, "!=": opBne, "<": opBltU, ">=": opBgeU}[e.Op]
	if !jumpIf {
		o = map[opcode]opcode{opBeq: opBne, opBne: opBeq, opBltU: opBgeU, opBgeU: opBltU}[o]
	}
	if signed && o >= opBltU {
		o += 2
	}
	at := c.emit(opBxEq+(o-opBeq), y.reg, idx.reg, f.lenReg, 0, e.Pos)
	c.fixups = append(c.fixups, fixup{at, label})
	c.p.code = append(c.p.code, enc(opWord2, 0, 0, 0, uint32(f.id)))
	c.p.pos = append(c.p.pos, e.Pos)
	c.p.patch = append(c.p.patch, len(c.p.code)-1)
	c.boundAt = len(c.p.code) // the second word is not an instruction: nothing fuses with it
	return true
}

// fusable are the operators with a field form (opFLAdd .., opSFAdd ..).
var fusable = map[string]bool{"+": true, "-": true, "*": true, "&": true, "|": true, "^": true}

// fieldOperand is the field e reads if e is a scalar field of the domain
// (not its rng field, which rng() changes), else nil.
func (c *compiler) fieldOperand(e *Expr) *field {
	if e.Kind != eName || c.inStatic || c.lookup(e.Name) != nil {
		return nil
	}
	f := c.ownField(e.Name)
	if f == nil || f.lenReg >= 0 || f == c.typ.rng {
		return nil
	}
	return f
}
