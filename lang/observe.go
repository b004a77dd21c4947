package lang

import "strings"

// Observability: which fields oscillation detection may leave out
// (issue 17: counters must not hide a fight; docs/language.md, "Counters
// and oscillation detection"). A pass of the resolver, run on the
// annotated tree once every body is resolved.
//
// A field f of a type is **observable** if a value computed from it
// (directly, or through locals, loop variables, array elements, rng() and
// the parameters and results of functions) is used, in a handler or
// transition of its type or in one of the type's goal targets or
// invariants, as
//
//  1. a condition: of an if or a while, or an operand of && or ||
//     (control dependence: what a condition decides depends on it);
//  2. a bound of a for loop;
//  3. an argument of emit, emit_after or send_after (destination, payload,
//     delay);
//  4. an operand that can fault: either side of a u64 subtraction (- and
//     -=), a divisor (/, %, /=, %=), an array index, an id function's
//     argument;
//  5. a value assigned to another field (f = f + x is f's own update;
//     g = f + 1 makes f observable);
//  6. any part of a goal target or an invariant of its type.
//
// Inside a function the same rules apply to its parameters: a parameter
// used in a condition, a loop bound or an operand that can fault makes
// the argument passed for it observable at every call, and the result
// carries the parameters it is computed from. init blocks are not
// analysed (they run before tick 0), nor are program goals and figures
// (they run at the end): both may read any field.
//
// Every other field is **hidden**: it is only ever updated from itself
// and from other values, and nothing but program goals and figures reads
// it. The program's link leaves the hidden fields out of the words that
// oscillation detection compares (engine.Projector).
//
// Why a repetition of the rest still proves the run never converges.
// Write a configuration C as (O, H): H the hidden fields of every domain,
// O the rest of the state and the pending messages. Consider one tick.
// Which messages are delivered, to which domains, in which order, is a
// function of O. A handler's path through its code — every branch,
// every loop's number of iterations, so the instructions it charges to
// the budget — depends only on conditions and bounds (1, 2), which read
// no hidden field; every fault it can raise depends only on operands of
// (3, 4), which read none either. The messages it emits (3) and the new
// values of the observable fields (5) are computed from O alone. A
// hidden field's new value may depend on anything, but by 1–6 no value
// computed from it goes anywhere but into itself. End-of-tick
// reconciliation evaluates goal targets (6) and trial runs of
// strategies: a trial follows the same code, so its path, faults and the
// targets after it depend on O alone; invariants (6) too. So the O-part
// of the next configuration is F(O) for a function F that does not look
// at H and, unless the type uses now (below), is the same at every tick
// (the configuration lists pending messages by tick − t). If O(h) = O(c) for c < h, then
// O(h + k(h − c) + i) = O(c + i) for every k, i ≥ 0: the observable
// part repeats forever with period h − c. A repeated configuration of
// the detector holds a pending message (a quiesced run is never
// compared), so the message list in O is never empty again: the run
// never quiesces and never faults, exactly what detection claims. The
// same argument holds for one cell K after its last input (SPEC §5.7),
// with O_K the part of O inside K: without input, O_K(t+1) is a function
// of O_K(t).
//
// `now`, the tick of the message, is a source like a field: kept in a
// hidden field it is harmless, but used anywhere else (a condition, an
// emission, a faulting operand, an observable field) it makes the type's
// transitions differ from tick to tick, and the argument above, which
// needs F to be the same at every tick, fails. Such a program is
// TickDependent and detection does not run for it at all, as with faults.
//
// Conservative choices: an operand of && or || is a condition even where
// its value is only stored; every part of a target, an invariant, an
// emission or a u64 subtraction counts, whatever reaches it; an array is
// one field (any element used so makes the whole array observable).

// srcSet is a set of sources: a type's fields by index in the type, or
// a function's parameters by index.
type srcSet []uint64

func (s srcSet) has(i int) bool { return i>>6 < len(s) && s[i>>6]>>(i&63)&1 != 0 }

func (s *srcSet) add(i int) {
	for len(*s) <= i>>6 {
		*s = append(*s, 0)
	}
	(*s)[i>>6] |= 1 << (i & 63)
}

// or adds every source of t to s and reports whether s grew.
func (s *srcSet) or(t srcSet) bool {
	grew := false
	for i, w := range t {
		for len(*s) <= i {
			*s = append(*s, 0)
		}
		if (*s)[i]|w != (*s)[i] {
			(*s)[i] |= w
			grew = true
		}
	}
	return grew
}

func union(a, b srcSet) srcSet {
	var s srcSet
	s.or(a)
	s.or(b)
	return s
}

// fnSummary is what a function does with its parameters: those its
// result is computed from, and those it uses as a condition, a loop
// bound or an operand that can fault.
type fnSummary struct {
	result, sink srcSet
}

// flow is the data flow of one type's bodies (sources: its fields) or of
// one function's body (sources: its parameters).
type flow struct {
	a      *analysis
	typ    *dtype         // nil in a function
	fields map[*field]int // the type's fields by index (nil in a function)
	fn     *function
	locals map[*localVar]srcSet
	sink   srcSet // sources used as a condition, bound, emission or faulting operand
	into   []srcSet
	result srcSet // a function: the sources of its return values
	grew   bool   // a local's sources grew in this pass
}

// analysis holds the function summaries, computed once each.
type analysis struct {
	funcs map[string]*function
	sums  map[*function]*fnSummary
}

// observe classifies every field of every type (field.hidden).
func (c *resolver) observe() {
	a := &analysis{funcs: c.funcs, sums: map[*function]*fnSummary{}}
	for _, t := range c.p.types {
		if t.decl == nil {
			continue
		}
		a.typ(t)
	}
}

// typ classifies the fields of t.
func (a *analysis) typ(t *dtype) {
	fl := &flow{a: a, typ: t, fields: map[*field]int{}, locals: map[*localVar]srcSet{}}
	for i, f := range t.fields {
		fl.fields[f] = i
	}
	fl.into = make([]srcSet, len(t.fields))
	for _, h := range t.decl.Handlers {
		fl.body(h.Body)
	}
	for _, g := range t.goals {
		fl.sink.or(fl.expr(g.target))
	}
	for _, inv := range t.invs {
		fl.sink.or(fl.expr(inv.x))
	}
	for i, f := range t.fields {
		obs := fl.sink.has(i)
		for j, s := range fl.into {
			obs = obs || j != i && s.has(i)
		}
		f.hidden = !obs
	}
	// now: fine in a hidden field; anywhere else the type's transitions
	// depend on the absolute tick
	now := len(t.fields)
	t.readsNow = fl.sink.has(now)
	for j, s := range fl.into {
		t.readsNow = t.readsNow || !t.fields[j].hidden && s.has(now)
	}
}

// body walks a body until the sources of its locals are stable (a loop
// can carry a value around), recording every use.
func (fl *flow) body(ss []*Stmt) {
	for {
		fl.grew = false
		fl.stmts(ss, nil)
		if !fl.grew {
			return
		}
	}
}

func (fl *flow) setLocal(l *localVar, s srcSet) {
	cur := fl.locals[l]
	if cur.or(s) {
		fl.grew = true
	}
	fl.locals[l] = cur
}

// stmts walks ss; ctl is the sources of the conditions the statements
// run under (already sinks: kept for what the statements assign).
func (fl *flow) stmts(ss []*Stmt, ctl srcSet) {
	for _, s := range ss {
		fl.stmt(s, ctl)
	}
}

func (fl *flow) stmt(s *Stmt, ctl srcSet) {
	switch s.Kind {
	case sLet:
		fl.setLocal(s.Local, union(fl.expr(s.X), ctl))
	case sAssign:
		fl.assign(s, ctl)
	case sIf:
		c := fl.cond(s.X)
		in := union(ctl, c)
		fl.stmts(s.Body, in)
		fl.stmts(s.Else, in)
	case sWhile:
		c := fl.cond(s.X)
		fl.stmts(s.Body, union(ctl, c))
	case sFor, sForall:
		b := union(fl.expr(s.X), fl.expr(s.Y))
		fl.sink.or(b)
		fl.setLocal(s.Local, union(b, ctl))
		fl.stmts(s.Body, union(ctl, b))
	case sReturn:
		fl.result.or(union(fl.expr(s.X), ctl))
	case sAssert:
		fl.sink.or(fl.expr(s.X))
	case sExpr:
		switch s.X.Name {
		case "emit", "emit_after", "send", "send_high", "send_after":
			for _, x := range s.X.Args {
				if x.Kind == eName && x.Local == nil && x.Field == nil || x.Kind == eString {
					continue // a kind, a domain or transition name
				}
				fl.sink.or(fl.expr(x))
			}
		default:
			fl.expr(s.X)
		}
	case sBlock:
		fl.stmts(s.Body, ctl)
	}
}

// cond records a condition's sources as used and returns them.
func (fl *flow) cond(x *Expr) srcSet {
	c := fl.expr(x)
	fl.sink.or(c)
	return c
}

func (fl *flow) assign(s *Stmt, ctl srcSet) {
	tg := s.Target
	rhs := fl.expr(s.X)
	x := rhs
	var self srcSet // the target's own sources, for a compound operator
	if tg.Local != nil {
		self = fl.locals[tg.Local]
	} else if i, ok := fl.fields[tg.Field]; ok {
		self.add(i)
	}
	if tg.Kind == eIndex { // an array element: its index can fault
		ix := fl.expr(tg.X)
		fl.sink.or(ix)
		x = union(x, ix)
	}
	if s.Op != "=" {
		op := compound[s.Op]
		if op == "-" && tg.T != tI64 || op == "/" || op == "%" {
			if op == "-" {
				fl.sink.or(self)
			}
			fl.sink.or(rhs)
		}
		x = union(x, self)
	}
	x = union(x, ctl)
	if tg.Local != nil {
		fl.setLocal(tg.Local, x)
		return
	}
	if i, ok := fl.fields[tg.Field]; ok {
		fl.into[i].or(x)
	}
}

// expr returns the sources of e's value and records the uses inside it
// that are sinks.
func (fl *flow) expr(e *Expr) srcSet {
	if e == nil {
		return nil
	}
	switch e.Kind {
	case eInt, eString:
		return nil
	case eName:
		if e.Local != nil {
			return fl.localSrc(e.Local)
		}
		if e.Field == nil && e.Name == "now" && fl.typ != nil {
			var s srcSet
			s.add(len(fl.typ.fields)) // the tick: a source after the fields
			return s
		}
		return fl.fieldSrc(e.Field)
	case eIndex:
		ix := fl.expr(e.X)
		fl.sink.or(ix)
		return union(fl.fieldSrc(e.Field), ix)
	case eField: // another domain's field: goals and figures only
		fl.expr(e.X)
		fl.expr(e.Y)
		return nil
	case eUnary:
		return fl.expr(e.X)
	case eBinary:
		x, y := fl.expr(e.X), fl.expr(e.Y)
		switch e.Op {
		case "&&", "||":
			fl.sink.or(x)
			fl.sink.or(y)
		case "-":
			if e.T != tI64 {
				fl.sink.or(x)
				fl.sink.or(y)
			}
		case "/", "%":
			fl.sink.or(y)
		}
		return union(x, y)
	case eCall:
		switch {
		case e.Name == "rng": // reads the rng field (and advances it: its own update)
			if fl.typ != nil && fl.typ.rng != nil {
				return fl.fieldSrc(fl.typ.rng)
			}
			return nil
		case e.Mem != nil: // an id function: its arguments are range-checked
			var s srcSet
			for _, x := range e.Args {
				s.or(fl.expr(x))
			}
			fl.sink.or(s)
			return s
		}
		if fn := fl.a.fn(e.Name); fn != nil {
			sum := fl.a.summary(fn)
			var s srcSet
			for i, x := range e.Args {
				xs := fl.expr(x)
				if sum.sink.has(i) {
					fl.sink.or(xs)
				}
				if sum.result.has(i) {
					s.or(xs)
				}
			}
			return s
		}
		var s srcSet // min, max, i64, u64
		for _, x := range e.Args {
			s.or(fl.expr(x))
		}
		return s
	}
	return nil
}

func (fl *flow) localSrc(l *localVar) srcSet {
	if fl.fn != nil {
		for i, p := range fl.fn.params {
			if p == l {
				var s srcSet
				s.add(i)
				return union(s, fl.locals[l])
			}
		}
	}
	return fl.locals[l]
}

func (fl *flow) fieldSrc(f *field) srcSet {
	if i, ok := fl.fields[f]; ok {
		var s srcSet
		s.add(i)
		return s
	}
	return nil
}

// fn is the function a call names, or nil (a builtin).
func (a *analysis) fn(name string) *function {
	switch name {
	case "min", "max", "i64", "u64", "rng":
		return nil
	}
	return a.funcs[name]
}

// summary is fn's summary, computed on first use (functions do not
// recurse: the resolver rejects cycles).
func (a *analysis) summary(fn *function) *fnSummary {
	if s := a.sums[fn]; s != nil {
		return s
	}
	fl := &flow{a: a, fn: fn, locals: map[*localVar]srcSet{}}
	fl.body(fn.decl.Body)
	s := &fnSummary{result: fl.result, sink: fl.sink}
	a.sums[fn] = s
	return s
}

// HiddenFields lists, per type that has any, the fields oscillation
// detection leaves out ("Type: f, g"), in declaration order.
func (p *Program) HiddenFields() []string {
	var lines []string
	for _, t := range p.types {
		var hs []string
		for _, f := range t.fields {
			if f.hidden {
				hs = append(hs, f.name)
			}
		}
		if len(hs) > 0 {
			lines = append(lines, t.name+": "+strings.Join(hs, ", "))
		}
	}
	return lines
}

// TickDependent names the types whose transitions use `now` (the tick
// of the message) other than in hidden fields: in a condition, an
// emission, a faulting operand or a compared field. Their transitions
// are not the same at every tick, so a repeated configuration proves no
// cycle and oscillation detection does not run (engine.TickDependent).
func (p *Program) TickDependent() []string {
	var ts []string
	for _, t := range p.types {
		if t.readsNow {
			ts = append(ts, t.name)
		}
	}
	return ts
}

// TickDependent reports whether detection cannot run for the program
// (engine.TickDependent): some type's transitions depend on now.
func (w *instance) TickDependent() bool { return len(w.prog.TickDependent()) > 0 }

// WithoutProjection is p with oscillation detection comparing every
// field, hidden ones included (as a native workload does): for
// comparisons, e.g. showing that a counter hides a fight.
func (p *Program) WithoutProjection() *Program {
	q := *p
	q.noProject = true
	return &q
}

// keptMasks gives, per type with hidden fields, the mask of its words
// that detection compares (engine.Projector): bit i covers word i of a
// domain's span. Types without hidden fields get none (every word kept).
func (w *instance) keptMasks() map[*dtype][]uint64 {
	masks := map[*dtype][]uint64{}
	if w.prog.noProject {
		return masks
	}
	for _, t := range w.prog.types {
		size := w.typeSize[t]
		var m []uint64
		for _, f := range t.fields {
			if !f.hidden {
				continue
			}
			if m == nil {
				m = make([]uint64, (size+63)/64)
				for i := range m {
					m[i] = ^uint64(0)
				}
			}
			n := uint64(1)
			if f.lenReg >= 0 {
				n = w.g(f.lenReg)
			}
			for i := w.fieldOff[f.id]; i < w.fieldOff[f.id]+n; i++ {
				m[i>>6] &^= 1 << (i & 63)
			}
		}
		if m != nil {
			masks[t] = m
		}
	}
	return masks
}

// Kept is the mask of domain d's words that oscillation detection
// compares (engine.Projector): every word but the hidden fields', nil if
// its type has none.
func (w *instance) Kept(d uint32) []uint64 {
	if w.ents == nil || uint64(d) >= w.d {
		return nil
	}
	_, _, s := w.locate(uint64(d))
	return s.kept
}
