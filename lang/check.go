package lang

import (
	"fmt"
	"sort"

	"github.com/lexbench/lexbench/trace"
	"github.com/lexbench/lexbench/workloads"
)

// Compile parses, checks and compiles the program src read from file. The
// error, if any, is an *ErrorList with every error found, in source order.
func Compile(file, src string) (*Program, error) {
	errs := &ErrorList{File: file}
	f := parse(src, errs)
	c := newCompiler(file, f, errs)
	c.declare()
	if len(errs.List) == 0 { // bodies refer to declarations: compile them once those are sound
		c.bodies()
	}
	if err := errs.err(); err != nil {
		return nil, err
	}
	return c.p, nil
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
	"min": true, "max": true, "i64": true, "u64": true,
}

// flagNames are the CLI's own flags: a key (which becomes a flag) may not
// take them.
var flagNames = map[string]bool{
	"shards": true, "journal": true, "sync": true, "count": true, "profile": true,
	"profile-dir": true, "json": true, "help": true,
}

func newCompiler(file string, f *File, errs *ErrorList) *compiler {
	c := &compiler{
		p:          &Program{File: file, Name: f.Name, budget: -1},
		f:          f,
		errs:       errs,
		kinds:      map[string]trace.Kind{},
		globals:    map[string]int{},
		types:      map[string]*dtype{},
		members:    map[string]*member{},
		statics:    map[string]operand{},
		staticMemo: map[*Expr]bool{},
		staticNode: map[*Expr]operand{},
		consts:     map[uint64]int{},
		divSlots:   map[int]uint8{},
		nextReg:    regGlob0,
	}
	return c
}

func (c *compiler) declare() {
	f, p := c.f, c.p
	if f.Name == "" {
		c.errs.add(Pos{1, 1}, "missing `workload NAME` declaration")
	}
	// keys, then n, seed, batch: the first globals
	if len(f.Keys) != 2 {
		pos := Pos{1, 1}
		if len(f.Keys) > 2 {
			pos = f.Keys[2].Pos
		}
		c.errs.add(pos, "a workload has exactly two keys, found %d", len(f.Keys))
	}
	for i, k := range f.Keys {
		switch {
		case reservedNames[k.Name] || flagNames[k.Name]:
			c.errs.add(k.Pos, "key name %s is reserved", k.Name)
		case c.globals[k.Name] != 0:
			c.errs.add(k.Pos, "key %s declared twice", k.Name)
		case k.Min > k.Max:
			c.errs.add(k.Pos, "key %s: bounds %d..%d are empty", k.Name, k.Min, k.Max)
		case k.Default < k.Min || k.Default > k.Max:
			c.errs.add(k.Pos, "key %s: default %d is outside %d..%d", k.Name, k.Default, k.Min, k.Max)
		}
		if i < 2 {
			c.globals[k.Name] = c.newGlobal()
			usage := k.Usage
			if usage == "" {
				usage = k.Name
			}
			p.Keys[i] = workloads.Key{Name: k.Name, Default: k.Default, Min: k.Min, Max: k.Max, Usage: usage}
		}
	}
	for len(c.globals) < 2 { // placeholders so the layout of globals is fixed
		c.globals[fmt.Sprintf("$key%d", len(c.globals))] = c.newGlobal()
	}
	for _, n := range []string{"n", "seed", "batch"} {
		c.globals[n] = c.newGlobal()
	}
	c.zero, c.one = c.constReg(0), c.constReg(1)

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
		case c.kinds[k.Name] != 0 || k.Name == "Tick":
			if c.kinds[k.Name] != trace.Kind(k.Num) {
				c.errs.add(k.Pos, "kind %s is already %d", k.Name, c.kinds[k.Name])
			}
		case used[trace.Kind(k.Num)] != "":
			c.errs.add(k.Pos, "kind number %d is already %s", k.Num, used[trace.Kind(k.Num)])
		default:
			c.kinds[k.Name] = trace.Kind(k.Num)
			used[trace.Kind(k.Num)] = k.Name
		}
	}
	for name, num := range c.kinds {
		p.Kinds = append(p.Kinds, kindInfo{name, num})
	}
	sort.Slice(p.Kinds, func(i, j int) bool { return p.Kinds[i].Num < p.Kinds[j].Num })

	if f.Budget != nil {
		op := c.staticOf(f.Budget, "budget")
		p.budget = op.reg
	}

	// types and fields
	for _, td := range f.Types {
		if c.types[td.Name] != nil {
			c.errs.add(td.Pos, "type %s declared twice", td.Name)
			continue
		}
		t := &dtype{name: td.Name, init: -1}
		c.types[td.Name] = t
		p.types = append(p.types, t)
		seen := map[string]bool{}
		for _, fd := range td.Fields {
			if seen[fd.Name] {
				c.errs.add(fd.Pos, "type %s: field %s declared twice", td.Name, fd.Name)
				continue
			}
			seen[fd.Name] = true
			fl := &field{id: len(p.fields), typ: t, name: fd.Name, lenReg: -1}
			switch fd.Type {
			case "u64":
			case "i64":
				fl.signed = true
			case "rng":
				if fd.Len != nil {
					c.errs.add(fd.Pos, "type %s: field %s: an rng field cannot be an array", td.Name, fd.Name)
				}
				if t.rng != nil {
					c.errs.add(fd.Pos, "type %s: a type has at most one rng field", td.Name)
				}
				t.rng = fl
			default:
				c.errs.add(fd.Pos, "type %s: field %s: unknown type %s (want u64, i64, rng)", td.Name, fd.Name, fd.Type)
			}
			if fd.Len != nil {
				fl.lenReg = c.staticOf(fd.Len, "array length").reg
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

	// domains
	if !f.HasDomains {
		c.errs.add(Pos{1, 1}, "missing `domains { … }` declaration")
	} else if len(f.Entries) == 0 {
		c.errs.add(f.DomainsPos, "domains: no domains declared")
	}
	names := map[string]bool{}
	claim := func(pos Pos, name string) {
		switch {
		case reservedNames[name] || c.globals[name] != 0:
			c.errs.add(pos, "domains: name %s is reserved or a key", name)
		case names[name]:
			c.errs.add(pos, "domains: name %s declared twice", name)
		}
		names[name] = true
	}
	for _, en := range f.Entries {
		e := &entry{name: en.Name, countReg: -1, group: en.Group}
		claim(en.Pos, en.Name)
		if en.Group {
			e.countReg = c.staticOf(en.Count, "group count").reg
		}
		for _, mm := range en.Members {
			if en.Group || len(en.Members) > 1 {
				claim(mm.Pos, mm.Name)
			}
			m := &member{name: mm.Name, entry: e, idx: len(e.members), countReg: -1, boots: mm.Boots, weightReg: -1}
			m.typ = c.types[mm.Type]
			if m.typ == nil {
				c.errs.add(mm.Pos, "domains: unknown type %s", mm.Type)
				m.typ = &dtype{name: mm.Type, init: -1}
			}
			if mm.Count != nil {
				if en.Group {
					m.countReg = c.staticOf(mm.Count, "member count").reg
				} else {
					e.countReg = c.staticOf(mm.Count, "domain count").reg
				}
			}
			if mm.Weight != nil {
				m.weightReg = c.staticOf(mm.Weight, "weight").reg
			}
			e.members = append(e.members, m)
			c.members[m.name] = m
			p.ids = append(p.ids, m)
		}
		p.entries = append(p.entries, e)
	}
	gseen := map[string]bool{}
	for _, b := range append(append([]*Block{}, f.Goals...), f.Figures...) {
		if gseen[b.Name] {
			c.errs.add(b.Pos, "goal or figure %s declared twice", b.Name)
		}
		gseen[b.Name] = true
	}
	for _, b := range f.Figures {
		// a figure is printed as `name: value` beside the run's own keys
		if workloads.IsResultKey(b.Name) {
			c.errs.add(b.Pos, "figure name %s is reserved: lexbench prints it for every run", b.Name)
		}
	}
}

// staticOf compiles e as a static u64 expression (keys, n, seed, batch,
// literals): it is evaluated once per run, before the domains start.
func (c *compiler) staticOf(e *Expr, what string) operand {
	if !c.isStatic(e) {
		c.errs.add(e.Pos, "%s must be computed from keys, n, seed, batch and numbers only", what)
		return operand{reg: c.zero, t: tU64}
	}
	op := c.static(e)
	if op.t == tI64 {
		c.errs.add(e.Pos, "%s must be u64, got i64", what)
	}
	return op
}

func (c *compiler) bodies() {
	p := c.p
	for i, td := range c.f.Types {
		t := p.types[i]
		if td.Init != nil {
			t.init = c.body(ctxInit, t, td.Name+".init", td.Init.Pos, nil, td.Init.Body)
		}
		for _, h := range td.Handlers {
			pc := c.body(ctxHandler, t, td.Name+".on "+h.Kind, h.Pos, h.Params, h.Body)
			t.handlers = append(t.handlers, [2]int{int(c.kinds[h.Kind]), pc})
			t.hname = append(t.hname, h.Kind)
		}
		// ascending kind, for the dispatch table
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
	for _, b := range c.f.Goals {
		p.goals = append(p.goals, block{b.Name, c.body(ctxGoal, nil, "goal "+b.Name, b.Pos, nil, b.Body)})
	}
	for _, b := range c.f.Figures {
		p.figures = append(p.figures, block{b.Name, c.body(ctxFigure, nil, "figure "+b.Name, b.Pos, nil, b.Body)})
	}
	if c.maxReg >= regsMax-c.p.nGlobals {
		c.errs.add(Pos{1, 1}, "program needs %d registers, more than %d", c.maxReg+c.p.nGlobals-regGlob0, regsMax-regGlob0)
	}
}
