package lang

import (
	"fmt"
	"path/filepath"
	"sort"
	"strings"

	"github.com/lexbench/lexbench/trace"
)

// The model in the resolver: transitions as message kinds, domains
// declared one at a time (`domain NAME { … }`, the prototype's shape),
// goals with priorities and strategies, invariants, capabilities, and the
// send statements. (goals.go runs them.)

// goalsMax bounds a type's goals (their targets are one bit mask).
const goalsMax = 64

// priorityMax is the largest goal priority.
const priorityMax = 255

// workloadName is the workload name of a program without a `workload`
// declaration: its file's base name without extension, letters, digits,
// '_' and '-' kept and anything else made '_' (the params text and the
// Benchmark line have no spaces).
func workloadName(file string) string {
	base := strings.TrimSuffix(filepath.Base(file), filepath.Ext(file))
	b := []byte(base)
	for i, ch := range b {
		if !(isLetter(ch) || isDigit(ch) || ch == '-') {
			b[i] = '_'
		}
	}
	if len(b) == 0 {
		return "program"
	}
	return string(b)
}

// declareTransitionKinds makes every transition name a message kind: the
// names not already kinds get the smallest free numbers from 12 (after
// SPEC §5's), in order of first declaration.
func (c *resolver) declareTransitionKinds() {
	for _, td := range c.f.Types {
		for _, h := range td.Handlers {
			if h.Transition {
				c.newKind(h.Kind)
			}
		}
	}
}

// newKind declares kind name with the smallest free number from 12, if it
// is not a kind already.
func (c *resolver) newKind(name string) {
	if _, ok := c.kinds[name]; ok {
		return
	}
	n := trace.Kind(len(specKinds))
	for c.used[n] != "" {
		n++
	}
	c.kinds[name] = n
	c.used[n] = name
}

// declareDomainDecls gives each `domain NAME { … }` its domain: an entry
// of one domain, named as its type, in declaration order.
func (c *resolver) declareDomainDecls() {
	for _, td := range c.f.Types {
		if !td.Domain {
			continue
		}
		t := c.types[td.Name]
		if t.decl != td {
			continue // a type declared twice: reported
		}
		if reservedNames[td.Name] || c.globals[td.Name] || c.consts[td.Name] != nil || c.funcs[td.Name] != nil {
			c.errs.add(td.Pos, "domain %s: the name is reserved or a key, constant or function", td.Name)
			continue
		}
		e := &entry{name: td.Name, countReg: -1}
		m := &member{name: td.Name, typ: t, entry: e, countReg: -1, weightReg: -1}
		e.members = []*member{m}
		c.members[m.name], c.entries[e.name] = m, e
		c.p.ids = append(c.p.ids, m)
		c.p.entries = append(c.p.entries, e)
	}
}

// declareModel checks each type's goals, invariants and capabilities,
// orders the goals for the walk, and declares the kinds of the strategies
// of more than one transition ("A+B").
func (c *resolver) declareModel() {
	for i, td := range c.f.Types {
		t := c.dtypes[i]
		t.targets, t.inv, t.stub = -1, -1, -1
		handles := map[string]*Handler{}
		for _, h := range td.Handlers {
			handles[h.Kind] = h
		}
		seen := map[string]bool{}
		if len(td.Goals) > goalsMax {
			c.errs.add(td.Goals[goalsMax].Pos, "type %s: more than %d goals", td.Name, goalsMax)
		}
		for _, g := range td.Goals {
			if seen[g.Name] {
				c.errs.add(g.Pos, "type %s: goal %s declared twice", td.Name, g.Name)
			}
			seen[g.Name] = true
			if g.Priority > priorityMax {
				c.errs.add(g.PrioPos, "goal %s: priority %d is above %d", g.Name, g.Priority, priorityMax)
			}
			gi := &goalInfo{name: g.Name, priority: g.Priority, pos: g.Pos, target: g.Target}
			for _, s := range g.Strategy {
				h := handles[s.Name]
				switch {
				case h == nil:
					c.errs.add(s.Pos, "goal %s: strategy %s is not a transition of %s", g.Name, s.Name, td.Name)
				case len(h.Params) > 0:
					c.errs.add(s.Pos, "goal %s: strategy %s takes parameters; a strategy message carries none", g.Name, s.Name)
				}
				gi.strategy = append(gi.strategy, s.Name)
			}
			if len(gi.strategy) > 1 {
				c.newKind(strings.Join(gi.strategy, "+"))
			}
			if len(gi.strategy) > 0 {
				gi.kind = c.kinds[strings.Join(gi.strategy, "+")]
			}
			t.goals = append(t.goals, gi)
		}
		sort.SliceStable(t.goals, func(a, b int) bool { return t.goals[a].priority > t.goals[b].priority })
		for _, inv := range td.Invariants {
			if seen[inv.Name] {
				c.errs.add(inv.Pos, "type %s: goal or invariant %s declared twice", td.Name, inv.Name)
			}
			seen[inv.Name] = true
			t.invs = append(t.invs, &invInfo{name: inv.Name, pos: inv.Pos, x: inv.X})
		}
		t.sendTo = map[string]bool{}
		if td.Caps != nil {
			c.caps(td.Caps, t.sendTo, &t.sendRoot)
		}
		for _, h := range td.Handlers {
			if h.Caps != nil {
				c.caps(h.Caps, map[string]bool{}, new(bool)) // checked here, used by sendCall
			}
		}
	}
	if len(c.kinds) > 1<<16 {
		c.errs.add(Pos{1, 1}, "more than 65536 message kinds")
	}
}

// caps checks a capability list and adds what it grants to sendTo and
// root.
func (c *resolver) caps(d *CapDecl, sendTo map[string]bool, root *bool) {
	for _, it := range d.Items {
		switch it.Kind {
		case "messaging":
			if it.Target != "" {
				c.errs.add(it.Pos, "capability messaging takes no domain")
			}
		case "root":
			*root = true
		case "send_to":
			if m := c.members[it.Target]; m == nil || m.entry.countExpr != nil || m.countExpr != nil {
				c.errs.add(it.Pos, "capability send_to:%s: no domain %s (send_to names a domain declared on its own)", it.Target, it.Target)
			}
			sendTo[it.Target] = true
		default:
			c.errs.add(it.Pos, "unknown capability %s (want messaging, send_to:DOMAIN or root)", it.Kind)
		}
	}
}

// resolveModel resolves every goal target and invariant: bool expressions
// over the domain's own fields.
func (c *resolver) resolveModel() {
	for _, t := range c.dtypes {
		for _, g := range t.goals {
			c.ctx, c.typ, c.scope = ctxTarget, t, nil
			c.cond(g.target)
			g.text = c.text(g.target)
		}
		for _, inv := range t.invs {
			c.ctx, c.typ, c.scope = ctxTarget, t, nil
			c.cond(inv.x)
			inv.text = c.text(inv.x)
		}
	}
}

// sendCall resolves send(Domain, Transition), send_high (the same: there
// are no priority lanes in a total order) and send_after(k, Domain,
// Transition). The domain and transition are names, written bare or as
// strings. What the prototype checks when the message is sent — the
// sender's capabilities, the transition at the destination — is decided
// here and compiled as a fault at the send (e.Fault) when it fails.
func (c *resolver) sendCall(e *Expr) {
	e.T = tNone
	args, want, shape := e.Args, 2, "Domain, Transition"
	if e.Name == "send_after" {
		want, shape = 3, "k, Domain, Transition"
	}
	if len(args) != want {
		c.errs.add(e.Pos, "wrong number of arguments to %s: got %d, want %d (%s)", e.Name, len(args), want, shape)
		return
	}
	if c.ctx != ctxHandler {
		c.errs.add(e.Pos, "%s is allowed only in handlers and transitions", e.Name)
		return
	}
	if want == 3 {
		c.want(c.expr(args[0]), tU64, args[0].Pos, "send_after's k")
		args = args[1:]
	}
	dst, tr := args[0], args[1]
	if (dst.Kind != eName && dst.Kind != eString) || (tr.Kind != eName && tr.Kind != eString) {
		c.errs.add(e.Pos, "%s: the domain and the transition are names, e.g. %s(\"Other\", \"Notice\")", e.Name, e.Name)
		return
	}
	m := c.members[dst.Name]
	if m == nil || m.entry.countExpr != nil || m.countExpr != nil {
		c.errs.add(dst.Pos, "%s: no domain %s (send names a domain declared on its own)", e.Name, dst.Name)
		return
	}
	if _, ok := c.kinds[tr.Name]; !ok {
		c.errs.add(tr.Pos, "%s: no transition %s in the program", e.Name, tr.Name)
		return
	}
	e.Mem = m
	if m.typ.unknown {
		return // its type is reported
	}
	to, root := c.sendCaps()
	if !c.typ.sendRoot && !c.typ.sendTo[dst.Name] && !to[dst.Name] && !root {
		e.Fault = fmt.Sprintf("%s may not send to %s: its capabilities (%s) do not name send_to:%s or root",
			c.typ.name, dst.Name, c.capsText(), dst.Name)
		return
	}
	handled := false
	for _, h := range m.typ.decl.Handlers {
		handled = handled || h.Kind == tr.Name
	}
	if !handled {
		e.Fault = fmt.Sprintf("send to %s: %s has no transition %s", dst.Name, dst.Name, tr.Name)
	}
}

// sendCaps is what the capabilities of the transition being resolved
// grant (its domain's are in c.typ): the domains it may send to, and
// whether it may send anywhere (root).
func (c *resolver) sendCaps() (map[string]bool, bool) {
	to, root := map[string]bool{}, false
	if h := c.handler; h != nil && h.Caps != nil {
		for _, it := range h.Caps.Items {
			switch it.Kind {
			case "send_to":
				to[it.Target] = true
			case "root":
				root = true
			}
		}
	}
	return to, root
}

// capsText lists the capabilities in force in the transition being
// resolved, for a fault message.
func (c *resolver) capsText() string {
	var items []string
	for _, d := range []*CapDecl{c.typ.decl.Caps, c.handlerCaps()} {
		if d == nil {
			continue
		}
		for _, it := range d.Items {
			if it.Target != "" {
				items = append(items, it.Kind+":"+it.Target)
			} else {
				items = append(items, it.Kind)
			}
		}
	}
	if len(items) == 0 {
		return "none"
	}
	return strings.Join(items, ", ")
}

func (c *resolver) handlerCaps() *CapDecl {
	if c.handler == nil {
		return nil
	}
	return c.handler.Caps
}
