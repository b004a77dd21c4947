package lang

import (
	"fmt"
	"sort"
	"strings"

	"github.com/lexbench/lexbench/trace"
	"github.com/lexbench/lexbench/workloads"
)

// The resolver: the first pass after parsing. It declares every name of
// the program (keys, kinds, types and their fields, domain entries, goals
// and figures), then walks every body: it binds each name to what it
// denotes (a local, a field, a key, an id function), computes each
// expression's type and whether it is static, and reports every error as
// FILE:LINE:COL. Its output is the annotated syntax tree and the
// declarations in a Program; code generation trusts both and reports
// nothing but resource limits.

type ctxKind uint8

const (
	ctxHandler ctxKind = iota
	ctxInit
	ctxGoal
	ctxFigure
	ctxFunc   // a function's body
	ctxTarget // a domain goal's target or an invariant: the domain's fields, read only
)

// inDomain reports whether the body being resolved runs on one domain of
// its type (its fields are in scope).
func (c *resolver) inDomain() bool {
	return c.ctx == ctxHandler || c.ctx == ctxInit || c.ctx == ctxTarget
}

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

// localVar is a variable of a body: a let, a loop variable, a message
// parameter.
type localVar struct {
	name     string
	t        vtype
	ro       string // why it cannot be assigned ("" if it can)
	assigned bool   // some statement assigns to it
	param    int    // a message parameter: 0 (a) or 1 (b); -1 otherwise
}

// constant is a named constant: a static expression.
type constant struct {
	name string
	x    *Expr
	t    vtype // the declared type, else x's (untyped for literals)
}

// function is a pure function. Calls are inlined (codegen.go), so the
// call graph must have no cycle.
type function struct {
	decl   *FuncDecl
	params []*localVar
	result vtype
	calls  []*function // functions its body calls
}

// typeOf is the value type named by a declaration's type name, or
// tInvalid.
func typeOf(name string) vtype {
	switch name {
	case "u64":
		return tU64
	case "i64":
		return tI64
	case "bool":
		return tBool
	}
	return tInvalid
}

// specKinds are the message kinds SPEC §5 names, predeclared.
var specKinds = []kindInfo{
	{"Tick", trace.KindTick}, {"Transfer", trace.KindTransfer}, {"Data", trace.KindData},
	{"Write", trace.KindWrite}, {"Sync", trace.KindSync}, {"SetGoal", trace.KindSetGoal},
	{"Claim", trace.KindClaim}, {"Granted", trace.KindGranted}, {"Denied", trace.KindDenied},
	{"Preempted", trace.KindPreempted}, {"Set", trace.KindSet}, {"Changed", trace.KindChanged},
}

// reservedNames are the language's builtins: no key, entry, member or
// variable may take them.
var reservedNames = map[string]bool{
	"n": true, "seed": true, "batch": true,
	"self": true, "index": true, "member": true, "src": true, "emit": true, "rng": true,
	"min": true, "max": true, "i64": true, "u64": true, "true": true, "false": true,
	"now": true, "send": true, "send_high": true, "send_after": true, "emit_after": true,
}

// flagNames are the CLI's own flags: a key (which becomes a flag) may not
// take them.
var flagNames = map[string]bool{
	"shards": true, "journal": true, "sync": true, "count": true, "profile": true,
	"profile-dir": true, "json": true, "help": true,
}

// keysMax bounds the number of keys (each is a global register).
const keysMax = 64

// resolver declares and checks a program.
type resolver struct {
	p       *Program
	f       *File
	src     string
	errs    *ErrorList
	kinds   map[string]trace.Kind
	globals map[string]bool // keys, n, seed, batch
	types   map[string]*dtype
	dtypes  []*dtype // per f.Types, in order: a type declared twice gets its own, not in types
	members map[string]*member
	entries map[string]*entry
	consts  map[string]*constant
	funcs   map[string]*function
	used    map[trace.Kind]string // kind numbers taken
	// protoShape: the domains are declared with `domain NAME { … }`
	protoShape bool
	// parseFailed: the parser reported errors, so a declaration it
	// skipped may be missing: its absence is not reported
	parseFailed bool

	// the body being resolved
	ctx     ctxKind
	typ     *dtype
	fn      *function // ctxFunc: the function
	handler *Handler  // ctxHandler: the handler or transition
	scope   []*localVar
}

// text is the source text of e, as written.
func (c *resolver) text(e *Expr) string {
	if e.Start < 0 || e.End > int32(len(c.src)) || e.Start > e.End {
		return "?"
	}
	return c.src[e.Start:e.End]
}

func newResolver(file string, f *File, errs *ErrorList) *resolver {
	return &resolver{
		p:       &Program{File: file, Name: f.Name},
		f:       f,
		errs:    errs,
		kinds:   map[string]trace.Kind{},
		globals: map[string]bool{},
		types:   map[string]*dtype{},
		members: map[string]*member{},
		entries: map[string]*entry{},
		consts:  map[string]*constant{},
		funcs:   map[string]*function{},
	}
}

// declare records every declaration and checks them.
func (c *resolver) declare() {
	f, p := c.f, c.p
	for _, td := range f.Types {
		c.protoShape = c.protoShape || td.Domain
	}
	if f.Name == "" && c.protoShape {
		p.Name = workloadName(p.File)
	} else if f.Name == "" && !c.parseFailed {
		c.errs.add(Pos{1, 1}, "missing `workload NAME` declaration")
	}
	if len(f.Keys) > keysMax {
		c.errs.add(f.Keys[keysMax].Pos, "too many keys: at most %d", keysMax)
	}
	for _, k := range f.Keys {
		switch {
		case reservedNames[k.Name] || flagNames[k.Name]:
			c.errs.add(k.Pos, "key name %s is reserved", k.Name)
		case c.globals[k.Name]:
			c.errs.add(k.Pos, "key %s declared twice", k.Name)
		case k.Min > k.Max:
			c.errs.add(k.Pos, "key %s: bounds %d..%d are empty", k.Name, k.Min, k.Max)
		case k.Default < k.Min || k.Default > k.Max:
			c.errs.add(k.Pos, "key %s: default %d is outside %d..%d", k.Name, k.Default, k.Min, k.Max)
		}
		c.globals[k.Name] = true
		usage := k.Usage
		if usage == "" {
			usage = k.Name
		}
		p.Keys = append(p.Keys, workloads.Key{Name: k.Name, Default: k.Default, Min: k.Min, Max: k.Max, Usage: usage})
	}
	for _, n := range []string{"n", "seed", "batch"} {
		c.globals[n] = true
	}

	// kinds
	used := map[trace.Kind]string{}
	for _, k := range specKinds {
		c.kinds[k.Name] = k.Num
		used[k.Num] = k.Name
	}
	for _, k := range f.Kinds {
		switch {
		case k.Num > 0xFFFF:
			c.errs.add(k.Pos, "kind %s: number %d is above 65535", k.Name, k.Num)
			c.kinds[k.Name] = trace.Kind(k.Num) // declared, so its uses are checked (the program does not compile)
		case c.kinds[k.Name] != 0 || k.Name == "Tick":
			if c.kinds[k.Name] != trace.Kind(k.Num) {
				c.errs.add(k.Pos, "kind %s is already %d", k.Name, c.kinds[k.Name])
			}
		case used[trace.Kind(k.Num)] != "":
			c.errs.add(k.Pos, "kind number %d is already %s", k.Num, used[trace.Kind(k.Num)])
			c.kinds[k.Name] = trace.Kind(k.Num) // as above
		default:
			c.kinds[k.Name] = trace.Kind(k.Num)
			used[trace.Kind(k.Num)] = k.Name
		}
	}
	c.used = used
	c.declareTransitionKinds()

	c.declareConsts()
	c.declareFuncs()

	if f.Budget != nil {
		c.staticOf(f.Budget, "budget")
	}

	// types and fields
	for _, td := range f.Types {
		t := &dtype{name: td.Name, init: -1, decl: td}
		c.dtypes = append(c.dtypes, t)
		if c.types[td.Name] != nil {
			// reported; its fields and bodies are still checked (on
			// their own type), so one run reports every error
			c.errs.add(td.Pos, "type %s declared twice", td.Name)
		} else {
			c.types[td.Name] = t
			p.types = append(p.types, t)
		}
		seen := map[string]bool{}
		for _, fd := range td.Fields {
			if seen[fd.Name] {
				c.errs.add(fd.Pos, "type %s: field %s declared twice", td.Name, fd.Name)
				continue
			}
			seen[fd.Name] = true
			fl := &field{id: len(p.fields), typ: t, name: fd.Name, lenReg: -1, t: tU64}
			switch fd.Type {
			case "u64":
			case "i64", "int": // int: the prototype's name
				fl.t = tI64
			case "bool":
				fl.t = tBool
			case "string":
				c.errs.add(fd.Pos, "type %s: field %s: string fields are not supported (a domain's state is fixed-size 64-bit words)", td.Name, fd.Name)
			case "rng":
				if fd.Len != nil {
					c.errs.add(fd.Pos, "type %s: field %s: an rng field cannot be an array", td.Name, fd.Name)
				}
				if t.rng != nil {
					c.errs.add(fd.Pos, "type %s: a type has at most one rng field", td.Name)
				}
				t.rng = fl
			default:
				c.errs.add(fd.Pos, "type %s: field %s: unknown type %s (want u64, i64, bool, rng)", td.Name, fd.Name, fd.Type)
			}
			if fd.Len != nil {
				c.staticOf(fd.Len, "array length")
				fl.lenExpr = fd.Len
			}
			p.fields = append(p.fields, fl)
			t.fields = append(t.fields, fl)
		}
		kseen := map[string]bool{}
		for _, h := range td.Handlers {
			if _, ok := c.kinds[h.Kind]; !ok {
				c.errs.add(h.Pos, "type %s: unknown message kind %s", td.Name, h.Kind)
			} else if kseen[h.Kind] {
				c.errs.add(h.Pos, "type %s: handler for %s declared twice", td.Name, h.Kind)
			}
			kseen[h.Kind] = true
			if len(h.Params) > 2 {
				c.errs.add(h.Pos, "type %s: handler %s has %d parameters, at most 2 (the message's a, b)", td.Name, h.Kind, len(h.Params))
			}
		}
	}
	c.declareDomainDecls()

	// domains
	switch {
	case c.protoShape && f.HasDomains:
		c.errs.add(f.DomainsPos, "a program declares its domains with `domains { … }` or with `domain NAME { … }`, not both")
	case c.protoShape:
	case !f.HasDomains && !c.parseFailed:
		c.errs.add(Pos{1, 1}, "missing `domains { … }` declaration")
	case len(f.Entries) == 0:
		c.errs.add(f.DomainsPos, "domains: no domains declared")
	}
	names := map[string]bool{}
	claim := func(pos Pos, name string) {
		switch {
		case reservedNames[name] || c.globals[name] || c.consts[name] != nil || c.funcs[name] != nil:
			c.errs.add(pos, "domains: name %s is reserved or a key, constant or function", name)
		case names[name]:
			c.errs.add(pos, "domains: name %s declared twice", name)
		}
		names[name] = true
	}
	for _, en := range f.Entries {
		e := &entry{name: en.Name, countReg: -1, group: en.Group}
		claim(en.Pos, en.Name)
		if en.Group {
			c.staticOf(en.Count, "group count")
			e.countExpr = en.Count
		}
		for _, mm := range en.Members {
			if en.Group || len(en.Members) > 1 {
				claim(mm.Pos, mm.Name)
			}
			m := &member{name: mm.Name, entry: e, idx: len(e.members), countReg: -1, boots: mm.Boots, weightReg: -1}
			m.typ = c.types[mm.Type]
			if m.typ == nil {
				c.errs.add(mm.Pos, "domains: unknown type %s", mm.Type)
				m.typ = &dtype{name: mm.Type, init: -1, unknown: true}
			}
			if mm.Count != nil {
				if en.Group {
					c.staticOf(mm.Count, "member count")
					m.countExpr = mm.Count
				} else {
					c.staticOf(mm.Count, "domain count")
					e.countExpr = mm.Count
				}
			}
			if mm.Weight != nil {
				c.staticOf(mm.Weight, "weight")
				m.weightExpr = mm.Weight
			}
			e.members = append(e.members, m)
			if c.members[m.name] == nil { // a name declared twice (reported) means its first declaration
				c.members[m.name] = m
			}
			p.ids = append(p.ids, m)
		}
		if c.entries[e.name] == nil {
			c.entries[e.name] = e
		}
		p.entries = append(p.entries, e)
	}
	c.declareCells()
	gseen := map[string]bool{}
	for _, b := range append(append([]*Block{}, f.Goals...), f.Figures...) {
		if gseen[b.Name] {
			c.errs.add(b.Pos, "goal or figure %s declared twice", b.Name)
		}
		gseen[b.Name] = true
	}
	for _, b := range f.Figures {
		// a figure is printed as `name: value` beside the run's own keys
		switch {
		case workloads.IsResultKey(b.Name):
			c.errs.add(b.Pos, "figure name %s is reserved: lexbench prints it for every run", b.Name)
		case !workloads.IsBenchmarkKey(b.Name):
			c.errs.add(b.Pos, "figure name %s is not a benchmark-format key (it is printed as `%s: value`): it must start with a lowercase letter and hold no uppercase letter", b.Name, b.Name)
		}
	}
	c.declareModel()
	for name, num := range c.kinds {
		p.Kinds = append(p.Kinds, kindInfo{name, num})
	}
	sort.Slice(p.Kinds, func(i, j int) bool { return p.Kinds[i].Num < p.Kinds[j].Num })
}

// staticOf checks e as a static u64 expression (keys, n, seed, batch,
// literals): it is evaluated once per run, before the domains start.
func (c *resolver) staticOf(e *Expr, what string) {
	c.ctx, c.typ, c.scope = ctxGoal, nil, nil // no fields, no locals
	if !c.isStatic(e) {
		c.errs.add(e.Pos, "%s must be computed from keys, n, seed, batch and numbers only", what)
		return
	}
	if c.expr(e); e.T == tI64 || e.T == tBool {
		c.errs.add(e.Pos, "%s must be u64, got %s", what, e.T)
	}
}

// declareConsts resolves the constants, in declaration order: each may
// use the keys, n, seed, batch and the constants declared before it.
func (c *resolver) declareConsts() {
	for _, d := range c.f.Consts {
		switch {
		case reservedNames[d.Name] || c.globals[d.Name]:
			c.errs.add(d.Pos, "constant %s: the name is reserved or a key", d.Name)
			continue
		case c.consts[d.Name] != nil:
			c.errs.add(d.Pos, "constant %s declared twice", d.Name)
			continue
		}
		k := &constant{name: d.Name, x: d.X, t: tInvalid}
		c.ctx, c.typ, c.scope = ctxGoal, nil, nil
		if !c.isStatic(d.X) {
			c.errs.add(d.X.Pos, "constant %s must be computed from keys, n, seed, batch, numbers and earlier constants", d.Name)
		} else {
			k.t = c.expr(d.X)
			if d.Type != "" {
				want := typeOf(d.Type)
				switch {
				case want == tInvalid:
					c.errs.add(d.Pos, "constant %s: unknown type %s (want u64, i64 or bool)", d.Name, d.Type)
				case k.t != tInvalid && k.t != want && !(k.t == tUntyped && want != tBool):
					c.errs.add(d.Pos, "type mismatch: cannot initialize constant %s %s with a %s value", d.Name, want, k.t)
				}
				k.t = want
			}
		}
		c.consts[d.Name] = k
	}
}

// declareFuncs declares the functions, resolves their bodies, and rejects
// recursion (a function is inlined at each call).
func (c *resolver) declareFuncs() {
	var fns []*function
	for _, d := range c.f.Funcs {
		switch {
		case reservedNames[d.Name] || c.globals[d.Name] || c.consts[d.Name] != nil:
			c.errs.add(d.Pos, "function %s: the name is reserved or a key or constant", d.Name)
			continue
		case c.funcs[d.Name] != nil:
			c.errs.add(d.Pos, "function %s declared twice", d.Name)
			continue
		}
		fn := &function{decl: d, result: typeOf(d.Result)}
		if fn.result == tInvalid {
			c.errs.add(d.Pos, "function %s: unknown result type %s (want u64, i64 or bool)", d.Name, d.Result)
		}
		for _, prm := range d.Params {
			t := typeOf(prm.Type)
			if t == tInvalid {
				c.errs.add(prm.Pos, "function %s: parameter %s: unknown type %s (want u64, i64 or bool)", d.Name, prm.Name, prm.Type)
			}
			fn.params = append(fn.params, &localVar{name: prm.Name, t: t, ro: "a function parameter", param: -1})
		}
		c.funcs[d.Name] = fn
		fns = append(fns, fn)
	}
	for _, fn := range fns {
		c.ctx, c.typ, c.fn, c.scope = ctxFunc, nil, fn, nil
		seen := map[string]bool{}
		for i, prm := range fn.decl.Params {
			if seen[prm.Name] {
				c.errs.add(prm.Pos, "function %s: parameter %s declared twice", fn.decl.Name, prm.Name)
			}
			seen[prm.Name] = true
			c.declareLocalVar(prm.Pos, fn.params[i])
		}
		c.stmts(fn.decl.Body)
		if !terminates(fn.decl.Body) && !fn.decl.Broken { // a skipped statement may have been its return
			c.errs.add(fn.decl.Pos, "function %s: missing return at the end (every path must return a value)", fn.decl.Name)
		}
		c.fn = nil
	}
	reported := map[*function]bool{}
	for _, fn := range fns {
		if path := fn.cycle(); path != nil && !reported[fn] {
			c.errs.add(fn.decl.Pos, "function %s calls itself (%s): functions are inlined, so they cannot recurse",
				fn.decl.Name, strings.Join(append(names(path), fn.decl.Name), " → "))
			for _, g := range path {
				reported[g] = true
			}
		}
	}
}

// cycle is a call path from fn back to itself, or nil if there is none.
func (fn *function) cycle() []*function {
	var path []*function
	done := map[*function]bool{}
	var walk func(g *function) bool
	walk = func(g *function) bool {
		if done[g] {
			return false
		}
		path = append(path, g)
		for _, h := range g.calls {
			if h == fn || walk(h) {
				return true
			}
		}
		path = path[:len(path)-1]
		done[g] = true
		return false
	}
	if !walk(fn) {
		return nil
	}
	return path
}

func names(fns []*function) []string {
	var s []string
	for _, f := range fns {
		s = append(s, f.decl.Name)
	}
	return s
}

// terminates reports whether a block always ends in a return: its last
// statement is a return, or an if with an else whose branches both
// terminate.
func terminates(ss []*Stmt) bool {
	if len(ss) == 0 {
		return false
	}
	s := ss[len(ss)-1]
	switch s.Kind {
	case sReturn:
		return true
	case sIf:
		return s.Else != nil && terminates(s.Body) && terminates(s.Else)
	}
	return false
}

// bodies resolves every handler, init, goal and figure.
func (c *resolver) bodies() {
	for i, td := range c.f.Types {
		t := c.dtypes[i]
		if td.Init != nil {
			c.body(ctxInit, t, nil, td.Init.Body)
		}
		for _, h := range td.Handlers {
			c.handler = h
			c.body(ctxHandler, t, h.Params, h.Body)
			c.handler = nil
		}
	}
	c.resolveModel()
	for _, b := range c.f.Goals {
		c.body(ctxGoal, nil, nil, b.Body)
	}
	for _, b := range c.f.Figures {
		c.body(ctxFigure, nil, nil, b.Body)
	}
}

func (c *resolver) body(ctx ctxKind, t *dtype, params []string, body []*Stmt) {
	c.ctx, c.typ, c.scope = ctx, t, nil
	for i, prm := range params {
		if i < 2 {
			c.scope = append(c.scope, &localVar{name: prm, t: tU64, ro: "a message parameter", param: i})
		}
	}
	c.stmts(body)
}

func (c *resolver) stmts(ss []*Stmt) {
	scope := len(c.scope)
	for _, s := range ss {
		c.stmt(s)
	}
	c.scope = c.scope[:scope]
}

func (c *resolver) lookup(name string) *localVar {
	for i := len(c.scope) - 1; i >= 0; i-- {
		if c.scope[i].name == name {
			return c.scope[i]
		}
	}
	return nil
}

// ownField is the field name of the domain whose handler or init is being
// resolved, or nil.
func (c *resolver) ownField(name string) *field {
	if c.typ == nil || !c.inDomain() {
		return nil
	}
	for _, f := range c.typ.fields {
		if f.name == name {
			return f
		}
	}
	return nil
}

func fieldType(f *field) vtype { return f.t }

func (c *resolver) declareLocal(pos Pos, name string, t vtype, ro string) *localVar {
	l := &localVar{name: name, t: t, ro: ro, param: -1}
	c.declareLocalVar(pos, l)
	return l
}

func (c *resolver) declareLocalVar(pos Pos, l *localVar) {
	name := l.name
	if c.globals[name] || reservedNames[name] || c.members[name] != nil || c.ownField(name) != nil ||
		c.consts[name] != nil || c.funcs[name] != nil {
		c.errs.add(pos, "%s shadows a key, constant, function, builtin, field or domain name", name)
	}
	c.scope = append(c.scope, l)
}

func (c *resolver) stmt(s *Stmt) {
	switch s.Kind {
	case sLet:
		var want vtype
		if s.Type != "" {
			if want = typeOf(s.Type); want == tInvalid {
				c.errs.add(s.Pos, "unknown type %s (want u64, i64 or bool)", s.Type)
			}
		}
		t := c.expr(s.X)
		switch {
		case t == tNone:
			c.errs.add(s.X.Pos, "%s has no value", s.X.Name)
			t = tInvalid
		case want != 0 && t != tInvalid && want != tInvalid && t != want && !(t == tUntyped && want != tBool):
			c.errs.add(s.Pos, "type mismatch: cannot initialize %s %s with a %s value", want, s.Name, t)
		case want != 0:
			t = want
		case t == tUntyped:
			t = tU64
		}
		s.Local = c.declareLocal(s.Pos, s.Name, t, "")
	case sAssign:
		c.assign(s)
	case sIf:
		c.cond(s.X)
		c.stmts(s.Body)
		if s.Else != nil {
			c.stmts(s.Else)
		}
	case sFor, sForall:
		if s.Kind == sFor {
			c.want(c.expr(s.X), tU64, s.X.Pos, "loop start")
			c.want(c.expr(s.Y), tU64, s.Y.Pos, "loop end")
		} else {
			m := c.members[s.Entry]
			e := c.entries[s.Entry]
			if e == nil && m != nil && !m.entry.group {
				e = m.entry
			}
			switch {
			case e == nil && m != nil:
				c.errs.add(s.Pos, "forall: %s is a member of group %s; iterate the group", s.Entry, m.entry.name)
			case e == nil:
				c.errs.add(s.Pos, "forall: unknown domain entry %s", s.Entry)
			}
			s.Ent = e
		}
		scope := len(c.scope)
		s.Local = c.declareLocal(s.Pos, s.Name, tU64, "a loop variable")
		c.stmts(s.Body)
		c.scope = c.scope[:scope]
	case sWhile:
		c.cond(s.X)
		c.stmts(s.Body)
		if !boundedWhile(s) {
			c.errs.add(s.Pos, "unbounded loop: while has no bound; use for x in lo..hi (the bound is evaluated once)")
		}
	case sAssert:
		if c.ctx != ctxGoal {
			c.errs.add(s.Pos, "assert is allowed only in goals")
		}
		c.cond(s.X)
	case sReturn:
		switch {
		case c.ctx == ctxFunc:
			c.want(c.expr(s.X), c.fn.result, s.X.Pos, "the result of "+c.fn.decl.Name)
		case c.ctx != ctxFigure:
			c.errs.add(s.Pos, "return is allowed only in figures and functions")
			c.expr(s.X)
		default:
			c.want(c.expr(s.X), tU64, s.X.Pos, "a figure")
		}
	case sExpr:
		switch s.X.Name {
		case "emit", "emit_after":
			c.emitCall(s.X)
		case "send", "send_high", "send_after":
			c.sendCall(s.X)
		default:
			c.expr(s.X)
		}
	case sBlock:
		c.stmts(s.Body)
	}
}

// want checks that a value of type x fits type t (an untyped number fits
// u64 and i64).
func (c *resolver) want(x vtype, t vtype, pos Pos, what string) {
	if x == tInvalid || x == t || x == tUntyped && t != tBool {
		return
	}
	c.errs.add(pos, "type mismatch: %s must be %s, got %s", what, t, x)
}

var compound = map[string]string{"+=": "+", "-=": "-", "-%=": "-%", "*=": "*", "/=": "/", "%=": "%", "&=": "&", "|=": "|", "^=": "^", "<<=": "<<", ">>=": ">>"}

func (c *resolver) assign(s *Stmt) {
	tg := s.Target
	if tg.Kind == eName {
		if l := c.lookup(tg.Name); l != nil {
			tg.Local, tg.T = l, l.t
			l.assigned = true
			if l.ro != "" {
				c.errs.add(tg.Pos, "cannot assign to %s, %s", tg.Name, l.ro)
				return
			}
			if s.Op == "=" {
				c.wantAssign(c.expr(s.X), l.t, s.Pos, tg.Name)
				return
			}
			c.arith(compound[s.Op], l.t, c.expr(s.X), s.Pos)
			c.divByZero(compound[s.Op], s.X, s.Pos)
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
		case c.globals[tg.Name]:
			c.errs.add(tg.Pos, "cannot assign to key %s", tg.Name)
		case reservedNames[tg.Name]:
			c.errs.add(tg.Pos, "cannot assign to builtin %s", tg.Name)
		case c.ctx == ctxGoal || c.ctx == ctxFigure:
			c.errs.add(tg.Pos, "unknown variable %s (goals and figures cannot assign to fields)", tg.Name)
		case c.typ == nil: // a function: no fields
			c.errs.add(tg.Pos, "unknown variable %s (functions have no fields)", tg.Name)
		case tg.Kind == eIndex:
			c.errs.add(tg.Pos, "unknown field %s in type %s", tg.Name, c.typ.name)
		default:
			c.errs.add(tg.Pos, "unknown field or variable %s in type %s", tg.Name, c.typ.name)
		}
		c.expr(s.X)
		return
	}
	ft := fieldType(f)
	tg.Field, tg.T = f, ft
	name := f.name
	if tg.Kind == eName {
		if f.lenExpr != nil {
			c.errs.add(tg.Pos, "field %s is an array: assign to an element, %s[i]", f.name, f.name)
			return
		}
	} else {
		if f.lenExpr == nil {
			c.errs.add(tg.Pos, "field %s is not an array", f.name)
			return
		}
		c.want(c.expr(tg.X), tU64, tg.X.Pos, "an index")
		name += "[…]"
	}
	switch s.Op {
	case "=":
		c.wantAssign(c.expr(s.X), ft, s.Pos, name)
	case "+=", "-=":
		if ft == tBool {
			c.errs.add(s.Pos, "type mismatch: operator %s is not defined on bool", s.Op)
			c.expr(s.X)
			return
		}
		c.wantAssign(c.expr(s.X), ft, s.Pos, name)
	default:
		c.arith(compound[s.Op], ft, c.expr(s.X), s.Pos)
		c.divByZero(compound[s.Op], s.X, s.Pos)
	}
}

func (c *resolver) wantAssign(x vtype, t vtype, pos Pos, name string) {
	if x == tNone {
		c.errs.add(pos, "emit has no value")
		return
	}
	if x == tInvalid || t == tInvalid || x == t || x == tUntyped && t != tBool {
		return
	}
	c.errs.add(pos, "type mismatch: cannot assign %s to %s %s", x, name, t)
}

// isStatic reports whether e, not yet resolved, depends only on numbers,
// keys, n, seed and batch (declarations check this before resolving).
// Resolved expressions carry the answer in e.Static (staticNode).
func (c *resolver) isStatic(e *Expr) bool {
	switch e.Kind {
	case eInt:
		return true
	case eName:
		return (c.globals[e.Name] || c.consts[e.Name] != nil || e.Name == "true" || e.Name == "false") &&
			c.lookup(e.Name) == nil && c.ownField(e.Name) == nil
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

// expr resolves e and returns its type (also left in e.T).
func (c *resolver) expr(e *Expr) vtype {
	e.T = c.expr1(e)
	e.Static = c.staticNode(e)
	if e.Static {
		c.fold(e)
	} else if e.Kind == eBinary {
		c.divByZero(e.Op, e.Y, e.Pos)
	}
	return e.T
}

// staticNode reports whether the resolved e is static: computed once per
// run into a global register. Its operands are resolved, so this is
// constant time per node.
func (c *resolver) staticNode(e *Expr) bool {
	switch e.Kind {
	case eInt:
		return true
	case eName:
		return e.Local == nil && e.Field == nil &&
			(c.globals[e.Name] || c.consts[e.Name] != nil || e.Name == "true" || e.Name == "false")
	case eUnary:
		return e.Op != "!" && e.X.Static
	case eBinary:
		return prec(e.Op) >= 4 && e.X.Static && e.Y.Static
	case eCall:
		switch e.Name {
		case "min", "max":
			return len(e.Args) == 2 && e.Args[0].Static && e.Args[1].Static
		case "i64", "u64":
			return len(e.Args) == 1 && e.Args[0].Static
		}
	}
	return false
}

func (c *resolver) expr1(e *Expr) vtype {
	switch e.Kind {
	case eInt:
		return tUntyped
	case eName:
		if l := c.lookup(e.Name); l != nil {
			e.Local = l
			return l.t
		}
		if f := c.ownField(e.Name); f != nil {
			if f.lenExpr != nil {
				c.errs.add(e.Pos, "field %s is an array: index it, %s[i]", f.name, f.name)
				return tInvalid
			}
			e.Field = f
			return fieldType(f)
		}
		if c.globals[e.Name] {
			return tU64
		}
		if k := c.consts[e.Name]; k != nil {
			return k.t
		}
		switch e.Name {
		case "true", "false":
			return tBool
		case "self", "index", "member":
			if c.inDomain() {
				return tU64
			}
			c.errs.add(e.Pos, "%s is defined only in handlers, init, goals and invariants of a type", e.Name)
			return tInvalid
		case "now":
			if c.ctx == ctxHandler {
				return tU64
			}
			c.errs.add(e.Pos, "now is defined only in handlers")
			return tInvalid
		case "src":
			if c.ctx == ctxHandler {
				return tU64
			}
			c.errs.add(e.Pos, "src is defined only in handlers")
			return tInvalid
		}
		if _, ok := c.kinds[e.Name]; ok {
			c.errs.add(e.Pos, "%s is a message kind, not a value", e.Name)
		} else if c.members[e.Name] != nil {
			c.errs.add(e.Pos, "%s is a domain name: call it for an id, %s(…)", e.Name, e.Name)
		} else if c.typ != nil && c.inDomain() {
			c.errs.add(e.Pos, "unknown field or variable %s in type %s", e.Name, c.typ.name)
		} else {
			c.errs.add(e.Pos, "unknown variable %s", e.Name)
		}
		return tInvalid
	case eIndex:
		f := c.ownField(e.Name)
		if f == nil {
			if c.typ != nil && c.inDomain() {
				c.errs.add(e.Pos, "unknown field %s in type %s", e.Name, c.typ.name)
			} else {
				c.errs.add(e.Pos, "unknown array %s (in goals and figures, read fields as entry(i).field)", e.Name)
			}
			c.expr(e.X)
			return tInvalid
		}
		if f.lenExpr == nil {
			c.errs.add(e.Pos, "field %s is not an array", f.name)
			return tInvalid
		}
		c.want(c.expr(e.X), tU64, e.X.Pos, "an index")
		e.Field = f
		return fieldType(f)
	case eField:
		if c.ctx != ctxGoal && c.ctx != ctxFigure {
			c.errs.add(e.Pos, "fields of other domains can be read only in goals and figures")
			return tInvalid
		}
		if e.X.Kind != eCall || c.members[e.X.Name] == nil {
			c.errs.add(e.Pos, "a field is read from a domain id call, e.g. bank(k).%s", e.Name)
			return tInvalid
		}
		m := c.members[e.X.Name]
		var f *field
		for _, fl := range m.typ.fields {
			if fl.name == e.Name {
				f = fl
			}
		}
		if f == nil {
			if !m.typ.unknown { // else its type is reported
				c.errs.add(e.Pos, "unknown field %s: type %s has no field %s", e.Name, m.typ.name, e.Name)
			}
			c.expr(e.X)
			return tInvalid
		}
		c.expr(e.X)
		if f.lenExpr != nil {
			if e.Y == nil {
				c.errs.add(e.Pos, "field %s is an array: index it", f.name)
				return tInvalid
			}
			c.want(c.expr(e.Y), tU64, e.Y.Pos, "an index")
		} else if e.Y != nil {
			c.errs.add(e.Pos, "field %s is not an array", f.name)
		}
		e.Field, e.Mem = f, m
		return fieldType(f)
	case eString:
		c.errs.add(e.Pos, "a string names a domain or a transition in send(…), and is not a value")
		return tInvalid
	case eUnary:
		return c.unary(e, c.expr(e.X))
	case eBinary:
		switch e.Op {
		case "&&", "||":
			c.cond(e.X)
			c.cond(e.Y)
			return tBool
		case "==", "!=", "<", "<=", ">", ">=":
			e.OT = c.compareType(e, c.expr(e.X), c.expr(e.Y))
			return tBool
		}
		x := c.expr(e.X)
		return c.arith(e.Op, x, c.expr(e.Y), e.Pos)
	case eCall:
		switch e.Name {
		case "emit":
			c.errs.add(e.Pos, "emit has no value; call it as a statement")
			return tInvalid
		case "i64", "u64", "min", "max":
			var args []vtype
			for _, a := range e.Args {
				args = append(args, c.expr(a))
			}
			return c.call2(e, args)
		case "rng":
			if len(e.Args) != 0 {
				c.errs.add(e.Pos, "wrong number of arguments to rng: got %d, want 0", len(e.Args))
			}
			if c.ctx != ctxHandler && c.ctx != ctxInit {
				c.errs.add(e.Pos, "rng() is defined only in handlers and init")
				return tInvalid
			}
			if c.typ.rng == nil {
				c.errs.add(e.Pos, "rng(): type %s has no rng field", c.typ.name)
				return tInvalid
			}
			return tU64
		}
		if m := c.members[e.Name]; m != nil {
			return c.idCall(e, m)
		}
		if fn := c.funcs[e.Name]; fn != nil {
			return c.call(e, fn)
		}
		c.errs.add(e.Pos, "unknown function %s", e.Name)
		for _, a := range e.Args {
			c.expr(a)
		}
		return tInvalid
	}
	c.errs.add(e.Pos, "invalid expression")
	return tInvalid
}

// call resolves a call of a function: its arguments must fit the
// parameters' types.
func (c *resolver) call(e *Expr, fn *function) vtype {
	if len(e.Args) != len(fn.params) {
		c.errs.add(e.Pos, "wrong number of arguments to %s: got %d, want %d", fn.decl.Name, len(e.Args), len(fn.params))
		for _, a := range e.Args {
			c.expr(a)
		}
		return tInvalid
	}
	for i, a := range e.Args {
		c.want(c.expr(a), fn.params[i].t, a.Pos, fmt.Sprintf("argument %s of %s", fn.params[i].name, fn.decl.Name))
	}
	if c.fn != nil {
		c.fn.calls = append(c.fn.calls, fn)
	}
	return fn.result
}

func (c *resolver) idCall(e *Expr, m *member) vtype {
	want := 0
	if m.entry.countExpr != nil {
		want++
	}
	if m.countExpr != nil {
		want++
	}
	if len(e.Args) != want {
		c.errs.add(e.Pos, "wrong number of arguments to %s: got %d, want %d", m.name, len(e.Args), want)
		return tInvalid
	}
	e.Mem = m
	i := 0
	if m.entry.countExpr != nil {
		c.want(c.expr(e.Args[0]), tU64, e.Args[0].Pos, "a domain index")
		i++
	}
	if m.countExpr != nil {
		c.want(c.expr(e.Args[i]), tU64, e.Args[i].Pos, "a member index")
	}
	return tU64
}

// call2 types min, max, i64, u64 on resolved arguments.
func (c *resolver) call2(e *Expr, args []vtype) vtype {
	switch e.Name {
	case "i64", "u64":
		if len(args) != 1 {
			c.errs.add(e.Pos, "wrong number of arguments to %s: got %d, want 1", e.Name, len(args))
			return tInvalid
		}
		if args[0] == tNone {
			c.errs.add(e.Pos, "cannot convert %s to %s", args[0], e.Name)
		}
		if e.Name == "i64" {
			return tI64
		}
		return tU64
	default: // min, max
		if len(args) != 2 {
			c.errs.add(e.Pos, "wrong number of arguments to %s: got %d, want 2", e.Name, len(args))
			return tInvalid
		}
		return c.unify(e.Name, args[0], args[1], e.Pos)
	}
}

// unify is the type of a binary operation on x and y.
func (c *resolver) unify(op string, x, y vtype, pos Pos) vtype {
	switch {
	case x == tInvalid || y == tInvalid:
		return tInvalid
	case x == tBool || y == tBool || x == tNone || y == tNone:
		c.errs.add(pos, "type mismatch: operator %s is not defined on %s and %s", op, x, y)
		return tInvalid
	case x == tUntyped:
		return y
	case y == tUntyped || x == y:
		return x
	}
	c.errs.add(pos, "type mismatch: %s %s %s (convert with u64() or i64())", x, op, y)
	return tInvalid
}

// arith types x op y for an arithmetic operator.
func (c *resolver) arith(op string, x, y vtype, pos Pos) vtype {
	if op == "<<" || op == ">>" {
		if y == tBool || y == tNone || x == tBool || x == tNone {
			c.errs.add(pos, "type mismatch: operator %s is not defined on %s and %s", op, x, y)
			return tInvalid
		}
		return x
	}
	return c.unify(op, x, y, pos)
}

func (c *resolver) unary(e *Expr, x vtype) vtype {
	switch e.Op {
	case "-", "^":
		if x == tBool || x == tNone {
			c.errs.add(e.Pos, "type mismatch: operator %s is not defined on %s", e.Op, x)
		}
	case "!":
		if x != tBool && x != tInvalid {
			c.errs.add(e.Pos, "type mismatch: operator ! wants bool, got %s", x)
		}
		return tBool
	}
	return x
}

func (c *resolver) compareType(e *Expr, x, y vtype) vtype {
	if x == tBool && y == tBool {
		if e.Op != "==" && e.Op != "!=" {
			c.errs.add(e.Pos, "type mismatch: operator %s is not defined on bool", e.Op)
		}
		return tBool
	}
	return c.unify(e.Op, x, y, e.Pos)
}

// cond resolves a condition: it must be bool.
func (c *resolver) cond(e *Expr) {
	if e.Kind == eUnary && e.Op == "!" {
		c.cond(e.X)
		e.T = tBool
		return
	}
	if e.Kind == eBinary {
		switch e.Op {
		case "&&", "||", "==", "!=", "<", "<=", ">", ">=":
			c.expr(e)
			return
		}
	}
	if x := c.expr(e); x != tBool && x != tInvalid {
		c.errs.add(e.Pos, "type mismatch: condition must be bool, got %s", x)
	}
}

// emitCall resolves emit(dst, Kind, a, b) and emit_after(k, dst, Kind, a, b).
func (c *resolver) emitCall(e *Expr) {
	e.T = tNone
	args, want, shape := e.Args, 4, "dst, Kind, a, b"
	if e.Name == "emit_after" {
		want, shape = 5, "k, dst, Kind, a, b"
	}
	if len(args) != want {
		c.errs.add(e.Pos, "wrong number of arguments to %s: got %d, want %d (%s)", e.Name, len(e.Args), want, shape)
		for _, a := range e.Args {
			if a.Kind != eName {
				c.expr(a)
			}
		}
		return
	}
	if c.ctx != ctxHandler {
		c.errs.add(e.Pos, "%s is allowed only in handlers", e.Name)
	}
	if want == 5 {
		c.want(c.expr(args[0]), tU64, args[0].Pos, "emit_after's k")
		args = args[1:]
	}
	k := args[1]
	if k.Kind != eName {
		c.errs.add(k.Pos, "%s: the %s argument must be a message kind", e.Name, map[int]string{4: "second", 5: "third"}[want])
	} else if _, ok := c.kinds[k.Name]; !ok {
		c.errs.add(k.Pos, "%s: unknown message kind %s", e.Name, k.Name)
	}
	c.want(c.expr(args[0]), tU64, args[0].Pos, e.Name+"'s destination")
	c.want(c.expr(args[2]), tU64, args[2].Pos, e.Name+"'s a")
	c.want(c.expr(args[3]), tU64, args[3].Pos, e.Name+"'s b")
}

// boundedWhile reports whether the resolved while loop s has a bound the
// checker can see (the prototype's while loops): its condition compares a
// variable or scalar field v with an expression e that the body does not
// change, and the body's top level steps v toward e by a constant:
//
//	while v < e { … v += c … }    (also <=, and v = v + c; c > 0)
//	while v > e { … v -= c … }    (also >=, and v = v - c)
//	while v != e { … v += 1 … }   (or v -= 1)
//
// v is assigned nowhere else in the body. Each iteration is charged to
// the instruction budget, which bounds the loop in any case.
func boundedWhile(s *Stmt) bool {
	x := s.X
	if x.Kind != eBinary {
		return false
	}
	mirror := map[string]string{"<": ">", "<=": ">=", ">": "<", ">=": "<=", "!=": "!="}
	op, v, e := x.Op, x.X, x.Y
	if _, ok := mirror[op]; !ok {
		return false
	}
	if !isVar(v) {
		op, v, e = mirror[op], x.Y, x.X
		if !isVar(v) {
			return false
		}
	}
	var step int64
	steps := 0
	for _, st := range s.Body {
		if st.Kind == sAssign && sameVar(st.Target, v) {
			step = stepOf(st, v)
			steps++
		}
	}
	assigned := map[any]bool{}
	assignedIn(s.Body, assigned)
	if steps != 1 || step == 0 || countAssigns(s.Body, v) != 1 || usesAny(e, assigned) {
		return false
	}
	switch op {
	case "<", "<=":
		return step > 0
	case ">", ">=":
		return step < 0
	}
	return step == 1 || step == -1 // !=
}

// isVar reports whether e is an assignable local or a scalar integer field.
func isVar(e *Expr) bool {
	switch {
	case e.Kind != eName:
		return false
	case e.Local != nil:
		return e.Local.ro == "" && e.Local.t != tBool
	case e.Field != nil:
		return e.Field.lenExpr == nil && e.Field.t != tBool && e.Field != e.Field.typ.rng
	}
	return false
}

func sameVar(t, v *Expr) bool {
	return t.Kind == eName && (t.Local != nil && t.Local == v.Local || t.Field != nil && t.Field == v.Field)
}

// stepOf is the constant an assignment to v adds to it (v += c, v -= c,
// v = v + c, v = v - c), or 0.
func stepOf(st *Stmt, v *Expr) int64 {
	x := st.X
	switch st.Op {
	case "+=", "-=":
	case "=":
		if x.Kind != eBinary || (x.Op != "+" && x.Op != "-") || !sameVar(x.X, v) {
			return 0
		}
		st = &Stmt{Op: x.Op + "=", X: x.Y}
		x = x.Y
	default:
		return 0
	}
	if x.Kind != eInt || x.Val == 0 || x.Val > 1<<62 {
		return 0
	}
	if st.Op == "-=" {
		return -int64(x.Val)
	}
	return int64(x.Val)
}

// assignedIn adds to set every local and field a statement of ss assigns.
func assignedIn(ss []*Stmt, set map[any]bool) {
	for _, s := range ss {
		if s.Kind == sAssign {
			if s.Target.Local != nil {
				set[s.Target.Local] = true
			}
			if s.Target.Field != nil {
				set[s.Target.Field] = true
			}
		}
		assignedIn(s.Body, set)
		assignedIn(s.Else, set)
	}
}

// countAssigns counts the assignments to v in ss, nested ones included.
func countAssigns(ss []*Stmt, v *Expr) int {
	n := 0
	for _, s := range ss {
		if s.Kind == sAssign && sameVar(s.Target, v) {
			n++
		}
		n += countAssigns(s.Body, v) + countAssigns(s.Else, v)
	}
	return n
}

// usesAny reports whether e reads something in set, or draws from rng().
func usesAny(e *Expr, set map[any]bool) bool {
	if e == nil {
		return false
	}
	if e.Local != nil && set[e.Local] || e.Field != nil && set[e.Field] || e.Kind == eCall && e.Name == "rng" {
		return true
	}
	if usesAny(e.X, set) || usesAny(e.Y, set) {
		return true
	}
	for _, a := range e.Args {
		if usesAny(a, set) {
			return true
		}
	}
	return false
}
