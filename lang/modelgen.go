package lang

import (
	"sort"
	"strings"

	"github.com/lexbench/lexbench/trace"
)

// Code generation for the model (resolved in model.go, run by goals.go).

// model generates, for type t, the code its goals and invariants need,
// before its handlers (which end by checking the invariants):
//
//   - T.invariants: each invariant in order; the first false one runs
//     opInvFail and its explanation; all true: ret;
//   - T.targets: every goal's target as bit i of a mask (i in walk
//     order; the first goal's bool value is the mask's start), returned
//     by retv;
//   - T.goal G: the explanation of G's target (for reports);
//   - T.(unhandled): a goal type's handler of the kinds it does not
//     handle: the message still makes the domain reconcile.
func (c *codegen) model(t *dtype) {
	p := c.p
	if len(t.invs) > 0 {
		t.inv = c.region(ctxTarget, t, t.name+".invariants", func() {
			for _, inv := range t.invs {
				inv.typ = t
				ok := c.newLabel()
				c.cond(inv.x, ok, true)
				c.emit(opInvFail, 0, 0, 0, uint32(len(p.invs)), inv.pos)
				inv.subs = c.explain(inv.x)
				p.invs = append(p.invs, inv)
				c.bind(ok)
			}
			c.emit(opRet, 0, 0, 0, 0, t.decl.Pos)
		})
	}
	if len(t.goals) == 0 {
		return
	}
	p.hasGoals = true
	t.targets = c.region(ctxTarget, t, t.name+".targets", func() {
		acc := c.alloc()
		for i, g := range t.goals {
			if i == 0 {
				c.expr(g.target, acc) // a bool, 0 or 1: bit 0
				continue
			}
			skip := c.newLabel()
			c.cond(g.target, skip, false)
			if i < 32 {
				c.emit(opOrI, acc, acc, 0, 1<<i, g.pos)
			} else {
				c.emit(opOr, acc, acc, c.constReg(1<<i), 0, g.pos)
			}
			c.bind(skip)
		}
		c.emit(opRetV, acc, 0, 0, 0, t.decl.Pos)
	})
	for _, g := range t.goals {
		g.explain = c.region(ctxTarget, t, t.name+".goal "+g.name, func() {
			g.subs = c.explain(g.target)
			c.emit(opRet, 0, 0, 0, 0, g.pos)
		})
	}
	t.stub = c.region(ctxHandler, t, t.name+".(messages it has no transition for)", func() {
		c.emit(opMark, 0, 0, 0, 0, t.decl.Pos)
		c.emit(opRet, 0, 0, 0, 0, t.decl.Pos)
	})
}

// strategies generates, for type t, the handlers of its strategies of
// more than one transition: the kind "A+B" runs A's step then B's, as
// one transition (its invariants are checked after both).
func (c *codegen) strategies(t *dtype) {
	done := map[trace.Kind]bool{}
	for _, g := range t.goals {
		if len(g.strategy) < 2 || done[g.kind] {
			continue
		}
		done[g.kind] = true
		var body []*Stmt
		for _, name := range g.strategy {
			for _, h := range t.decl.Handlers {
				if h.Kind == name {
					body = append(body, &Stmt{Kind: sBlock, Pos: h.Pos, Body: h.Body})
				}
			}
		}
		name := strings.Join(g.strategy, "+")
		pc := c.body(ctxHandler, t, t.name+"."+name, g.pos, nil, body)
		t.handlers = append(t.handlers, [2]int{int(g.kind), pc})
		t.hname = append(t.hname, name)
	}
}

// localOnly reports whether the handler at pc acts only on the running
// domain's own state and the registers: none of its ops is fOutside but
// a vloop that vectorizes nothing (its jumps stay in its region,
// checkCode). Then a delivery of it computes
// exactly what its trial computed from the same state, message and tick.
func (p *Program) localOnly(pc int) bool {
	k := sort.Search(len(p.regions), func(i int) bool { return p.regions[i].start > pc }) - 1
	end := len(p.code)
	if k+1 < len(p.regions) {
		end = p.regions[k+1].start
	}
	for ; pc < end; pc++ {
		ins := p.code[pc]
		if opcode(ins) == opVLoop && decImm(ins) == vloopNone {
			continue // not vectorized: the scalar loop after it runs
		}
		if ops[opcode(ins)].flags&fOutside != 0 {
			return false
		}
	}
	return true
}
