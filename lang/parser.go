package lang

import "fmt"

// parser is a recursive-descent parser. On an error it records it and
// skips to a likely statement or declaration start, so one run reports
// every error.
type parser struct {
	toks    []token
	i       int
	src     string
	errs    *ErrorList
	depth   int
	lastEnd int32 // end offset of the last token consumed
}

// nestingMax bounds the depth of nested expressions and blocks, so a
// hostile input cannot exhaust the stack.
const nestingMax = 200

func parse(src string, errs *ErrorList) *File {
	p := &parser{toks: lex(src, errs), src: src, errs: errs}
	return p.file()
}

func (p *parser) peek() token { return p.toks[p.i] }
func (p *parser) next() token {
	t := p.toks[p.i]
	if t.kind != tEOF {
		p.i++
		p.lastEnd = t.end
	}
	return t
}

func (p *parser) is(text string) bool {
	t := p.peek()
	return (t.kind == tPunct || t.kind == tIdent) && t.text == text
}

func (p *parser) accept(text string) bool {
	if p.is(text) {
		p.next()
		return true
	}
	return false
}

// bail is raised (as a panic) after an error, to unwind to the nearest
// recovery point.
type bail struct{}

func (p *parser) fail(pos Pos, format string, a ...any) {
	p.errs.add(pos, format, a...)
	panic(bail{})
}

func describe(t token) string {
	switch t.kind {
	case tEOF:
		return "end of file"
	case tInt:
		return "number " + t.text
	case tString:
		return fmt.Sprintf("string %q", t.text)
	}
	return fmt.Sprintf("%q", t.text)
}

func (p *parser) expect(text string) token {
	t := p.peek()
	if !p.is(text) {
		p.fail(t.pos, "expected %q, found %s", text, describe(t))
	}
	return p.next()
}

func (p *parser) ident(what string) token {
	t := p.peek()
	switch {
	case t.kind == tIdent && keywords[t.text]:
		p.fail(t.pos, "expected %s, found %s, a keyword (a keyword cannot be a name)", what, describe(t))
	case t.kind != tIdent:
		p.fail(t.pos, "expected %s, found %s", what, describe(t))
	}
	return p.next()
}

// atKeywordField reports whether a field named by a keyword starts here
// (`on: bool`): field parses it, reporting the name, so that what follows
// parses as it was meant.
func (p *parser) atKeywordField() bool {
	return p.peek().kind == tIdent && keywords[p.peek().text] && p.at(1).text == ":"
}

func (p *parser) integer() token {
	t := p.peek()
	if t.kind != tInt {
		p.fail(t.pos, "expected a number, found %s", describe(t))
	}
	return p.next()
}

var keywords = map[string]bool{
	"workload": true, "key": true, "kind": true, "type": true, "domains": true, "goal": true,
	"figure": true, "budget": true, "on": true, "init": true, "let": true, "if": true, "else": true,
	"for": true, "forall": true, "in": true, "while": true, "assert": true, "return": true,
	"boots": true, "weight": true, "const": true, "fn": true,
}

// guard runs f; after a bail it skips tokens (at least one) until stop
// reports a resumption point.
func (p *parser) guard(f func(), stop func() bool) {
	start := p.i
	defer func() {
		if r := recover(); r != nil {
			if _, ok := r.(bail); !ok {
				panic(r)
			}
			if p.i == start { // always make progress
				p.next()
			}
			for p.peek().kind != tEOF && !stop() {
				p.next()
			}
		}
	}()
	f()
}

func (p *parser) atTopDecl() bool {
	t := p.peek()
	if t.kind != tIdent {
		return false
	}
	switch t.text {
	case "workload", "key", "kind", "type", "domains", "goal", "figure", "budget", "const", "fn":
		return true
	case "domain", "cell": // contextual keywords: `domain NAME {`, `cell NAME {`
		return p.at(1).kind == tIdent && p.at(2).text == "{"
	}
	return false
}

// at is the token k ahead (the end-of-file token past the end).
func (p *parser) at(k int) token {
	if p.i+k < len(p.toks) {
		return p.toks[p.i+k]
	}
	return p.toks[len(p.toks)-1]
}

// atItem reports whether a contextual item keyword starts here: `word {`
// or, with named, `word NAME {`.
func (p *parser) atItem(word string, named bool) bool {
	if t := p.peek(); t.kind != tIdent || t.text != word {
		return false
	}
	if named {
		return p.at(1).kind == tIdent && p.at(2).text == "{"
	}
	return p.at(1).text == "{"
}

func (p *parser) file() *File {
	f := &File{}
	for p.peek().kind != tEOF {
		start := p.i
		p.guard(func() { p.topDecl(f) }, p.atTopDecl)
		if p.i == start { // no progress: skip a token
			p.next()
		}
	}
	return f
}

func (p *parser) topDecl(f *File) {
	t := p.peek()
	if t.kind != tIdent {
		p.fail(t.pos, "expected a declaration (%s), found %s", declNames, describe(t))
	}
	switch t.text {
	case "workload":
		p.next()
		n := p.ident("workload name")
		if f.Name != "" {
			p.errs.add(t.pos, "workload declared twice")
		}
		f.Name, f.NamePos = n.text, n.pos
	case "key":
		p.next()
		k := &KeyDecl{Pos: t.pos}
		k.Name = p.ident("key name").text
		p.expect("=")
		k.Default = p.integer().val
		p.expect("in")
		k.Min = p.integer().val
		p.expect("..")
		if p.accept("max") {
			k.Max = ^uint64(0)
		} else {
			k.Max = p.integer().val
		}
		if p.peek().kind == tString {
			k.Usage = p.next().text
		}
		f.Keys = append(f.Keys, k)
	case "kind":
		p.next()
		k := &KindDecl{Pos: t.pos}
		k.Name = p.ident("kind name").text
		p.expect("=")
		k.Num = p.integer().val
		f.Kinds = append(f.Kinds, k)
	case "budget":
		p.next()
		if f.Budget != nil {
			p.errs.add(t.pos, "budget declared twice")
		}
		f.Budget = p.expr()
	case "type":
		p.next()
		f.Types = append(f.Types, p.typeDecl(t.pos))
	case "domain":
		p.next()
		td := p.typeDecl(t.pos)
		td.Domain = true
		f.Types = append(f.Types, td)
	case "cell":
		p.next()
		f.Cells = append(f.Cells, p.cellDecl(t.pos))
	case "domains":
		p.next()
		if f.HasDomains {
			p.errs.add(t.pos, "domains declared twice")
		}
		f.HasDomains, f.DomainsPos = true, t.pos
		p.expect("{")
		for !p.is("}") && p.peek().kind != tEOF {
			p.guard(func() { f.Entries = append(f.Entries, p.entry()) }, func() bool {
				return p.is("}") || p.peek().kind == tIdent && p.toks[p.i+1].text == ":" || p.atTopDecl()
			})
			p.accept(";")
			if p.atTopDecl() {
				p.fail(p.peek().pos, "expected \"}\" to close domains")
			}
		}
		p.expect("}")
	case "goal", "figure":
		p.next()
		b := &Block{Pos: t.pos}
		b.Name = p.ident(t.text + " name").text
		b.Body = p.block()
		if t.text == "goal" {
			f.Goals = append(f.Goals, b)
		} else {
			f.Figures = append(f.Figures, b)
		}
	case "const":
		p.next()
		d := &ConstDecl{Pos: t.pos}
		d.Name = p.ident("constant name").text
		if p.accept(":") {
			d.Type = p.ident("type (u64, i64, bool)").text
		}
		p.expect("=")
		d.X = p.expr()
		f.Consts = append(f.Consts, d)
	case "fn":
		p.next()
		d := &FuncDecl{Pos: t.pos}
		d.Name = p.ident("function name").text
		p.expect("(")
		for !p.is(")") {
			n := p.ident("parameter name")
			p.expect(":")
			d.Params = append(d.Params, Param{Pos: n.pos, Name: n.text, Type: p.ident("parameter type (u64, i64, bool)").text})
			if !p.accept(",") {
				break
			}
		}
		p.expect(")")
		p.expect("->")
		d.Result = p.ident("result type (u64, i64, bool)").text
		before := len(p.errs.List)
		d.Body = p.block()
		d.Broken = len(p.errs.List) > before
		f.Funcs = append(f.Funcs, d)
	default:
		p.fail(t.pos, "expected a declaration (%s), found %s", declNames, describe(t))
	}
}

// declNames are the declarations, for messages.
const declNames = "workload, key, const, fn, kind, budget, type, domain, domains, cell, goal, figure"

// cellDecl: cell NAME { a, b, … } (the names separated by commas or
// newlines).
func (p *parser) cellDecl(pos Pos) *CellDecl {
	d := &CellDecl{Pos: pos}
	d.Name = p.ident("cell name").text
	p.expect("{")
	for !p.is("}") && p.peek().kind != tEOF {
		n := p.ident("domain entry name")
		d.Names = append(d.Names, Ident{Pos: n.pos, Name: n.text})
		if !p.accept(",") {
			p.accept(";")
		}
	}
	p.expect("}")
	return d
}

func (p *parser) typeDecl(pos Pos) *TypeDecl {
	td := &TypeDecl{Pos: pos}
	td.Name = p.ident("type name").text
	p.expect("{")
	for !p.is("}") && p.peek().kind != tEOF {
		if p.atTopDecl() && !p.atItem("goal", true) { // a goal inside a type is the type's
			p.fail(p.peek().pos, "expected \"}\" to close type %s", td.Name)
		}
		p.guard(func() { p.typeItem(td) }, func() bool {
			return p.is("}") || p.is("on") || p.is("init") || p.atTopDecl() ||
				p.peek().kind == tIdent && p.toks[p.i+1].text == ":" ||
				p.atItem("state", false) || p.atItem("capability", false) || p.atItem("scope", false) ||
				p.atItem("goal", true) || p.atItem("invariant", true) || p.atItem("transition", true)
		})
		p.accept(";")
	}
	p.expect("}")
	return td
}

func (p *parser) typeItem(td *TypeDecl) {
	t := p.peek()
	switch {
	case p.atKeywordField():
		td.Fields = append(td.Fields, p.field())
	case p.is("init"):
		p.next()
		h := &Handler{Pos: t.pos, Body: p.block()}
		if td.Init != nil {
			p.errs.add(t.pos, "type %s: init declared twice", td.Name)
		}
		td.Init = h
	case p.is("on"):
		p.next()
		h := &Handler{Pos: t.pos}
		h.Kind = p.ident("message kind").text
		p.expect("(")
		for !p.is(")") {
			h.Params = append(h.Params, p.ident("parameter name").text)
			if !p.accept(",") {
				break
			}
		}
		p.expect(")")
		h.Body = p.block()
		td.Handlers = append(td.Handlers, h)
	case p.atItem("state", false):
		p.next()
		p.expect("{")
		for !p.is("}") && p.peek().kind != tEOF {
			td.Fields = append(td.Fields, p.field())
			p.accept(";")
			p.accept(",")
		}
		p.expect("}")
	case p.atItem("capability", false):
		p.next()
		if td.Caps != nil {
			p.errs.add(t.pos, "type %s: capability declared twice", td.Name)
		}
		td.Caps = p.caps(t.pos)
	case p.atItem("scope", false):
		p.scope()
	case p.atItem("goal", true):
		p.next()
		if g := p.goal(t.pos); g.Target != nil {
			td.Goals = append(td.Goals, g)
		}
	case p.atItem("invariant", true):
		p.next()
		d := &InvDecl{Pos: t.pos, Name: p.ident("invariant name").text}
		p.expect("{")
		ok := p.inBlock(func() {
			d.X = p.expr()
			p.accept(";")
		})
		if ok && d.X != nil { // a condition whose parse failed is not checked: its errors would follow from that
			td.Invariants = append(td.Invariants, d)
		}
	case p.atItem("transition", true):
		p.next()
		h := &Handler{Pos: t.pos, Transition: true}
		h.Kind = p.ident("transition name").text
		p.expect("{")
		for !p.is("}") && p.peek().kind != tEOF {
			switch s := p.peek(); {
			case p.atItem("capability", false):
				p.next()
				if h.Caps != nil {
					p.errs.add(s.pos, "transition %s: capability declared twice", h.Kind)
				}
				h.Caps = p.caps(s.pos)
			case p.atItem("scope", false):
				p.scope()
			case p.is("slice") || p.is("step"):
				p.accept("slice")
				p.expect("step")
				if h.Body != nil {
					p.errs.add(s.pos, "transition %s: step declared twice", h.Kind)
				}
				h.Body = p.block()
				if h.Body == nil {
					h.Body = []*Stmt{}
				}
			default:
				p.fail(s.pos, "expected capability, scope or step in transition %s, found %s", h.Kind, describe(s))
			}
		}
		p.expect("}")
		if h.Body == nil {
			p.errs.add(t.pos, "transition %s has no step { … }", h.Kind)
		}
		td.Handlers = append(td.Handlers, h)
	default:
		td.Fields = append(td.Fields, p.field())
	}
}

// scope: the prototype's `scope { domain }`, accepted with no effect.
func (p *parser) scope() {
	p.next()
	p.expect("{")
	for !p.is("}") && p.peek().kind != tEOF {
		p.ident("scope (root, domain, goal, transition)")
		p.accept(",")
	}
	p.expect("}")
}

// field: name: [len]type
func (p *parser) field() *FieldDecl {
	fd := &FieldDecl{Pos: p.peek().pos}
	if p.atKeywordField() {
		fd.Name = p.next().text
		p.errs.add(fd.Pos, "`%s` is a keyword; it cannot name a field", fd.Name)
	} else {
		fd.Name = p.ident("field, init, on, state, goal, invariant or transition").text
	}
	p.expect(":")
	if p.accept("[") {
		fd.Len = p.expr()
		p.expect("]")
	}
	fd.Type = p.ident("field type (u64, i64, int, bool, rng)").text
	return fd
}

// caps: { messaging, send_to:X, root }
func (p *parser) caps(pos Pos) *CapDecl {
	d := &CapDecl{Pos: pos}
	p.expect("{")
	for !p.is("}") && p.peek().kind != tEOF {
		t := p.ident("capability (messaging, send_to:DOMAIN, root)")
		it := CapItem{Pos: t.pos, Kind: t.text}
		if p.accept(":") {
			n := p.peek()
			if n.kind != tIdent && n.kind != tString {
				p.fail(n.pos, "expected a domain name after %s:, found %s", t.text, describe(n))
			}
			p.next()
			it.Target = n.text
		}
		d.Items = append(d.Items, it)
		if !p.accept(",") {
			p.accept(";")
		}
	}
	p.expect("}")
	return d
}

// goal: NAME { priority P target EXPR strategy { T1, T2 } }, the parts in
// any order, `predicate` for `target`.
func (p *parser) goal(pos Pos) *GoalDecl {
	g := &GoalDecl{Pos: pos, Priority: 1}
	g.Name = p.ident("goal name").text
	p.expect("{")
	seen := map[string]bool{}
	if !p.inBlock(func() { p.goalParts(g, seen) }) {
		g.Target = nil // a goal whose parse failed is not checked: its errors would follow from that
		return g
	}
	if g.Target == nil {
		p.errs.add(pos, "goal %s has no target", g.Name)
	}
	return g
}

// inBlock parses the inside of a braced block whose "{" was read, with f,
// then its "}". After an error in f it skips to the block's own "}"
// (counting nested braces), so the items after it parse as they should,
// and reports false.
func (p *parser) inBlock(f func()) (ok bool) {
	depth := 0
	defer func() {
		if r := recover(); r != nil {
			if _, isBail := r.(bail); !isBail {
				panic(r)
			}
			for t := p.peek(); t.kind != tEOF; t = p.peek() {
				switch {
				case t.kind == tPunct && t.text == "{":
					depth++
				case t.kind == tPunct && t.text == "}":
					if depth == 0 {
						p.next()
						return
					}
					depth--
				}
				p.next()
			}
		}
	}()
	f()
	p.expect("}")
	return true
}

func (p *parser) goalParts(g *GoalDecl, seen map[string]bool) {
	for !p.is("}") && p.peek().kind != tEOF {
		t := p.peek()
		part := t.text
		if part == "predicate" {
			part = "target"
		}
		if t.kind == tIdent && seen[part] {
			p.errs.add(t.pos, "goal %s: %s given twice", g.Name, part)
		}
		seen[part] = true
		switch {
		case p.accept("priority"):
			n := p.integer()
			g.Priority, g.PrioPos = n.val, n.pos
		case p.accept("target") || p.accept("predicate"):
			g.Target = p.expr()
		case p.accept("strategy"):
			p.expect("{")
			for !p.is("}") && p.peek().kind != tEOF {
				n := p.peek()
				if n.kind != tIdent && n.kind != tString {
					p.fail(n.pos, "expected a transition name, found %s", describe(n))
				}
				p.next()
				g.Strategy = append(g.Strategy, Ident{n.pos, n.text})
				if !p.accept(",") {
					break
				}
			}
			p.expect("}")
		default:
			p.fail(t.pos, "expected priority, target or strategy in goal %s, found %s", g.Name, describe(t))
		}
		p.accept(";")
	}
}

// entry: name: Type[count] boots weight w  |  name[count] { members }
func (p *parser) entry() *Entry {
	n := p.ident("domain entry name")
	e := &Entry{Pos: n.pos, Name: n.text}
	if p.accept("[") {
		e.Group = true
		e.Count = p.expr()
		p.expect("]")
		p.expect("{")
		for !p.is("}") && p.peek().kind != tEOF {
			m := p.ident("member name")
			e.Members = append(e.Members, p.member(m))
			p.accept(";")
		}
		p.expect("}")
		return e
	}
	e.Members = []*Member{p.member(n)}
	return e
}

func (p *parser) member(n token) *Member {
	m := &Member{Pos: n.pos, Name: n.text}
	p.expect(":")
	m.Type = p.ident("domain type").text
	if p.accept("[") {
		m.Count = p.expr()
		p.expect("]")
	}
	for {
		switch {
		case p.accept("boots"):
			m.Boots = true
			continue
		case p.accept("weight"):
			m.Weight = p.expr()
			continue
		}
		return m
	}
}

func (p *parser) block() []*Stmt {
	p.expect("{")
	p.depth++
	defer func() { p.depth-- }()
	if p.depth > nestingMax {
		p.fail(p.peek().pos, "blocks nested too deeply")
	}
	var body []*Stmt
	for !p.is("}") && p.peek().kind != tEOF {
		if p.atTopDecl() {
			p.fail(p.peek().pos, "expected \"}\"")
		}
		start := p.i
		p.guard(func() {
			if s := p.stmt(); s != nil {
				body = append(body, s)
			}
		}, p.atStmtStart)
		if p.i == start {
			p.next()
		}
		p.accept(";")
	}
	p.expect("}")
	return body
}

func (p *parser) atStmtStart() bool {
	if p.is("}") || p.atTopDecl() {
		return true
	}
	t := p.peek()
	switch t.text {
	case "let", "if", "for", "forall", "while", "assert", "return", "on", "init":
		return t.kind == tIdent
	}
	return false
}

func (p *parser) stmt() *Stmt {
	t := p.peek()
	s := &Stmt{Pos: t.pos}
	switch {
	case p.accept("let"):
		s.Kind = sLet
		s.Name = p.ident("variable name").text
		if p.accept(":") {
			s.Type = p.ident("type (u64, i64, bool)").text
		}
		p.expect("=")
		s.X = p.expr()
	case p.accept("if"):
		s.Kind = sIf
		s.X = p.expr()
		s.Body = p.block()
		if p.accept("else") {
			if p.is("if") {
				s.Else = []*Stmt{p.stmt()}
			} else {
				s.Else = p.block()
			}
		}
	case p.accept("for"):
		s.Kind = sFor
		s.Name = p.ident("loop variable").text
		p.expect("in")
		s.X = p.expr()
		p.expect("..")
		s.Y = p.expr()
		s.Body = p.block()
	case p.accept("forall"):
		s.Kind = sForall
		s.Name = p.ident("loop variable").text
		p.expect("in")
		s.Entry = p.ident("domain entry").text
		s.Body = p.block()
	case p.accept("while"):
		s.Kind = sWhile
		s.X = p.expr()
		s.Body = p.block()
	case p.accept("assert"):
		s.Kind = sAssert
		s.X = p.expr()
		s.Text = p.text(s.X)
	case p.accept("return"):
		s.Kind = sReturn
		s.X = p.expr()
	default:
		x := p.expr()
		if t := p.peek(); t.kind == tPunct {
			switch t.text {
			case "=", "+=", "-=", "-%=", "*=", "/=", "%=", "&=", "|=", "^=", "<<=", ">>=":
				p.next()
				s.Kind, s.Target, s.Op = sAssign, x, t.text
				s.X = p.expr()
				return s
			}
		}
		if x.Kind != eCall {
			p.fail(x.Pos, "expression is not a statement (want an assignment or a call)")
		}
		s.Kind, s.X = sExpr, x
	}
	return s
}

// text is the source text of e, as written.
func (p *parser) text(e *Expr) string { return p.src[e.Start:e.End] }

// Binary operator precedence (Go's).
func prec(op string) int {
	switch op {
	case "||":
		return 1
	case "&&":
		return 2
	case "==", "!=", "<", "<=", ">", ">=":
		return 3
	case "+", "-", "-%", "|", "^":
		return 4
	case "*", "/", "%", "<<", ">>", "&":
		return 5
	}
	return 0
}

func (p *parser) expr() *Expr { return p.binary(1) }

func (p *parser) binary(min int) *Expr {
	p.depth++
	defer func() { p.depth-- }()
	if p.depth > nestingMax {
		p.fail(p.peek().pos, "expression nested too deeply")
	}
	start := p.peek().off
	x := p.unary()
	for {
		t := p.peek()
		if t.kind != tPunct {
			return x
		}
		pr := prec(t.text)
		if pr < min || pr == 0 {
			return x
		}
		p.next()
		y := p.binary(pr + 1)
		x = &Expr{Kind: eBinary, Pos: t.pos, Op: t.text, X: x, Y: y, Start: start, End: p.lastEnd}
	}
}

func (p *parser) unary() *Expr {
	t := p.peek()
	if t.kind == tPunct && (t.text == "-" || t.text == "!" || t.text == "^") {
		p.next()
		p.depth++
		defer func() { p.depth-- }()
		if p.depth > nestingMax {
			p.fail(t.pos, "expression nested too deeply")
		}
		x := p.unary()
		return &Expr{Kind: eUnary, Pos: t.pos, Op: t.text, X: x, Start: t.off, End: p.lastEnd}
	}
	start := p.peek().off
	return p.postfix(p.primary(), start)
}

func (p *parser) primary() *Expr {
	t := p.peek()
	paren := p.is("(") // (x): x's own text
	e := p.primary1()
	if !paren {
		e.Start, e.End = t.off, p.lastEnd
	}
	return e
}

func (p *parser) primary1() *Expr {
	t := p.peek()
	switch {
	case t.kind == tInt:
		p.next()
		return &Expr{Kind: eInt, Pos: t.pos, Val: t.val}
	case t.kind == tString:
		p.next()
		return &Expr{Kind: eString, Pos: t.pos, Name: t.text}
	case t.kind == tIdent && !keywords[t.text]:
		p.next()
		if p.accept("(") {
			e := &Expr{Kind: eCall, Pos: t.pos, Name: t.text}
			for !p.is(")") {
				e.Args = append(e.Args, p.expr())
				if !p.accept(",") {
					break
				}
			}
			p.expect(")")
			return e
		}
		if p.accept("[") {
			e := &Expr{Kind: eIndex, Pos: t.pos, Name: t.text, X: p.expr()}
			p.expect("]")
			return e
		}
		return &Expr{Kind: eName, Pos: t.pos, Name: t.text}
	case p.accept("("):
		e := p.expr()
		p.expect(")")
		return e
	}
	p.fail(t.pos, "expected an expression, found %s", describe(t))
	return nil
}

func (p *parser) postfix(x *Expr, start int32) *Expr {
	for p.is(".") {
		t := p.next()
		n := p.ident("field name")
		e := &Expr{Kind: eField, Pos: t.pos, Name: n.text, X: x, Start: start}
		if p.accept("[") {
			e.Y = p.expr()
			p.expect("]")
		}
		e.End = p.lastEnd
		x = e
	}
	return x
}
