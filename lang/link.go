package lang

import (
	"errors"
	"fmt"
	"github.com/lexbench/lexbench/internal/divisor"
	"strings"

	"github.com/lexbench/lexbench/workloads"
)

// golden is SplitMix64's increment (SPEC §2).
const golden = 0x9E3779B97F4A7C15

// Bounds of a linked program (checked at link, reported as a fault).
const (
	domainsMax      = 1 << 31
	wordsMax        = 1 << 31
	groupMembersMax = 1 << 16 // domains per group: the member table is this long
)

// Spec is the program as a workload of the CLI: its name, keys, and a
// constructor that links it with parameters.
func (p *Program) Spec() *workloads.Spec {
	return &workloads.Spec{Name: p.Name, Keys: p.Keys, New: func(pr workloads.Params) workloads.Workload {
		w := p.link(pr)
		if p.hasGoals {
			return goalInstance{w} // reconciles at the end of each tick
		}
		return w
	}}
}

// slotInst is one domain position of a group.
type slotInst struct {
	mem  *member
	m    uint64 // index within the member's run
	off  uint64 // word offset within the group
	size uint64 // words of the member's type
	disp []int32
	kept []uint64 // the words oscillation detection compares (observe.go), nil: all
}

type entInst struct {
	e      *entry
	d0, d1 uint64
	per    uint64
	perDiv divisor.Divisor
	count  uint64
	w0     uint64
	stride uint64
	slots  []slotInst
}

type idInst struct {
	d0, per, moff, gcount, mcount uint64
}

// instance is a Program linked with parameters: an engine workload.
type instance struct {
	prog     *Program
	p        workloads.Params
	code     []uint64
	globals  []uint64 // registers gbase..255
	gbase    int
	divs     []divisor.Divisor
	fieldOff []uint64
	typeSize map[*dtype]uint64
	disp     map[*dtype][]int32
	ents     []entInst
	ids      []idInst
	d        uint64
	words    uint64
	budget   int64
	vprogs   []*vprog // per vloopDesc; nil: run the loop as scalar code
	st       []uint64
	err      error // a link or init fault, reported at the first delivery
	// the model (goals.go): per domain, the out.Tick() of the last tick it
	// was marked in; the code trial runs execute
	stamp     []uint32
	trialCode []uint64
	checkOnly bool // CheckLink: stop once the layout is known (allocate nothing per domain)
}

// defaultBudget is the per-message instruction budget when the program
// declares none: room for a generator of 256 instructions per operation.
func defaultBudget(batch uint64) uint64 {
	if batch > 1<<50 {
		return 1 << 62
	}
	return 1<<24 + 256*batch
}

func (p *Program) link(pr workloads.Params) *instance {
	w := &instance{prog: p, p: pr, typeSize: map[*dtype]uint64{}, disp: map[*dtype][]int32{}}
	if err := w.linkErr(); err != nil {
		w.err, w.d, w.words, w.ents = err, 1, 0, nil
	}
	return w
}

// CheckLink reports the error linking p with the parameters pr would
// give (what a run with them reports before its first message): a fault
// in a static expression (FILE:LINE:COL: …), a type or a group too large,
// too many domains or too much state, no domains. It builds no per-domain
// table, so it is cheap for any parameters. `lexbench check` calls it
// with the default parameters.
func (p *Program) CheckLink(pr workloads.Params) error {
	w := &instance{prog: p, p: pr, typeSize: map[*dtype]uint64{}, disp: map[*dtype][]int32{}, checkOnly: true}
	return w.linkErr()
}

func (w *instance) g(reg int) uint64 { return w.globals[reg-w.gbase] }

func (w *instance) linkErr() error {
	p := w.prog
	w.gbase = regsMax - p.nGlobals
	w.globals = make([]uint64, p.nGlobals)
	set := func(reg int, v uint64) { w.globals[reg-w.gbase] = v }
	nk := len(p.Keys)
	for i := range nk {
		set(regsMax-1-i, w.p.K[i])
	}
	set(regsMax-1-nk, w.p.N)
	set(regsMax-2-nk, w.p.Seed)
	set(regsMax-3-nk, w.p.Batch)
	for _, c := range p.consts {
		set(c.reg, c.val)
	}
	if err := w.runStatic(); err != nil {
		return err
	}
	w.budget = int64(min(defaultBudget(w.p.Batch), 1<<62))
	if p.budget >= 0 {
		w.budget = int64(min(w.g(p.budget), 1<<62))
	}
	for _, reg := range p.divs {
		w.divs = append(w.divs, divisor.New(w.g(int(reg))))
	}
	// fields and types
	w.fieldOff = make([]uint64, len(p.fields))
	for _, t := range p.types {
		var off uint64
		for _, f := range t.fields {
			w.fieldOff[f.id] = off
			n := uint64(1)
			if f.lenReg >= 0 {
				n = w.g(f.lenReg)
			}
			if n > wordsMax || off+n > wordsMax {
				return fmt.Errorf("%s: type %s is too large (field %s)", p.File, t.name, f.name)
			}
			off += n
		}
		w.typeSize[t] = off
		var hi int
		for _, h := range t.handlers {
			hi = max(hi, h[0]+1)
		}
		stub := int32(-1)
		if t.stub >= 0 && len(t.goals) > 0 { // every kind makes a goal domain reconcile
			stub = int32(t.stub)
			for _, k := range p.Kinds {
				hi = max(hi, int(k.Num)+1)
			}
		}
		disp := make([]int32, hi)
		for i := range disp {
			disp[i] = stub
		}
		for _, h := range t.handlers {
			disp[h[0]] = int32(h[1])
		}
		w.disp[t] = disp
	}
	kept := w.keptMasks()
	// layout
	var d, words uint64
	idOf := map[*member]idInst{}
	for _, e := range p.entries {
		ei := entInst{e: e, d0: d, count: 1, w0: words}
		if e.countReg >= 0 {
			ei.count = w.g(e.countReg)
		}
		for _, m := range e.members {
			mc := uint64(1)
			if m.countReg >= 0 {
				mc = w.g(m.countReg)
			}
			if ei.per+mc > groupMembersMax {
				return fmt.Errorf("%s: group %s has more than %d domains per group", p.File, e.name, groupMembersMax)
			}
			idOf[m] = idInst{moff: ei.per, mcount: mc}
			size := w.typeSize[m.typ]
			for k := uint64(0); k < mc; k++ {
				ei.slots = append(ei.slots, slotInst{mem: m, m: k, off: ei.stride, size: size, disp: w.disp[m.typ], kept: kept[m.typ]})
				ei.stride += size
				if ei.stride > wordsMax {
					return fmt.Errorf("%s: %s: too much state", p.File, e.name)
				}
			}
			ei.per += mc
		}
		if ei.count > domainsMax || ei.per > 0 && ei.count > domainsMax/ei.per || ei.stride > 0 && ei.count > wordsMax/ei.stride {
			return fmt.Errorf("%s: %s: too many domains or too much state", p.File, e.name)
		}
		d += ei.count * ei.per
		words += ei.count * ei.stride
		if d > domainsMax || words > wordsMax {
			return fmt.Errorf("%s: too many domains or too much state", p.File)
		}
		ei.d1 = d
		if ei.per > 0 {
			ei.perDiv = divisor.New(ei.per)
		}
		for _, m := range e.members {
			id := idOf[m]
			id.d0, id.per, id.gcount = ei.d0, ei.per, ei.count
			idOf[m] = id
		}
		if ei.count*ei.per > 0 {
			w.ents = append(w.ents, ei)
		}
	}
	if d == 0 {
		return fmt.Errorf("%s: no domains with these parameters", p.File)
	}
	w.d, w.words = d, words
	if w.checkOnly {
		return nil
	}
	for _, m := range p.ids {
		w.ids = append(w.ids, idOf[m])
	}
	w.code = append([]uint64(nil), p.code...)
	for _, at := range p.patch {
		ins := w.code[at]
		w.code[at] = ins&0xFFFFFFFF | w.fieldOff[decImm(ins)]<<32
	}
	for _, v := range p.vloops {
		w.vprogs = append(w.vprogs, w.buildVprog(v))
	}
	if p.hasGoals {
		w.stamp = make([]uint32, d)
		w.trialCode = p.trialCode(w.code)
	}
	return nil
}

// trialCode is a copy of the linked code for trial runs (goals.go):
// emissions, marks and the checks at a transition's end do nothing and
// loops run as scalar code, so a trial changes only the state it runs
// on; and the end of every transition of a goal type goes on to the
// type's targets, so one run of a strategy returns the targets after it
// (retv). For a type with invariants the targets' end then goes on to
// the invariants (retv+inv, the targets kept in r[regRet]), which end the
// trial with ret if they hold and trialbad if one is false: what the
// strategy's delivery would find (goals.go, the memo).
func (p *Program) trialCode(code []uint64) []uint64 {
	tc := append([]uint64(nil), code...)
	k := 0 // the region of pc
	for pc := 0; pc < len(tc); pc++ {
		for k+1 < len(p.regions) && p.regions[k+1].start <= pc {
			k++
		}
		rg := p.regions[k]
		end := enc(opRet, 0, 0, 0, 0)
		if t := rg.typ; rg.ctx == ctxHandler && t != nil && len(t.goals) > 0 {
			end = enc(opJmp, 0, 0, 0, uint32(t.targets))
		}
		ins := tc[pc]
		t := rg.typ
		checked := t != nil && len(t.goals) > 0 && t.inv >= 0
		switch op := opcode(ins); op {
		case opRetV:
			if checked && rg.start == t.targets {
				tc[pc] = enc(opRetVInv, decA(ins), 0, 0, uint32(t.inv))
			}
		case opInvFail:
			if checked && rg.start == t.inv {
				tc[pc] = enc(opTrialBad, 0, 0, 0, 0)
			}
		case opEmit, opMark:
			tc[pc] = enc(opMov, 0, 0, 0, 0) // r[a] = r[a]: nothing
		case opEmitR, opInv, opRet:
			if op != opRet || rg.ctx == ctxHandler {
				tc[pc] = end
			}
		case opEmitAt:
			tc[pc] = enc(opJmp, 0, 0, 0, uint32(pc+2)) // over its second word
		case opVLoop:
			tc[pc] = ins&0xFFFFFFFF | uint64(vloopNone)<<32
		}
		if ops[opcode(ins)].flags&fWord2 != 0 {
			pc++
		}
	}
	return tc
}

// locate finds domain d: its entry, group index and slot.
func (w *instance) locate(d uint64) (*entInst, uint64, *slotInst) {
	e := &w.ents[0]
	for i := range w.ents {
		if d < w.ents[i].d1 {
			e = &w.ents[i]
			break
		}
	}
	r := d - e.d0
	if e.per == 1 {
		return e, r, &e.slots[0]
	}
	g := e.perDiv.Div(r)
	return e, g, &e.slots[r-g*e.per]
}

func (w *instance) Domains() uint32 { return uint32(w.d) }
func (w *instance) StateWords() int { return int(w.words) }

func (w *instance) Span(d uint32) (off, n int) {
	if w.ents == nil {
		return 0, 0
	}
	e, g, s := w.locate(uint64(d))
	return int(e.w0 + g*e.stride + s.off), int(w.typeSize[s.mem.typ])
}

func (w *instance) Boots(d uint32) bool {
	if w.err != nil {
		return d == 0 // a link or init fault: one domain boots, its delivery reports the fault
	}
	_, _, s := w.locate(uint64(d))
	return s.mem.boots
}

func (w *instance) Weight(d uint32) uint64 {
	if w.ents == nil {
		return 1
	}
	_, _, s := w.locate(uint64(d))
	if s.mem.weightReg < 0 {
		return 1
	}
	return w.g(s.mem.weightReg)
}

// Init seeds every rng field (SPEC §2: seed + (d+1)·golden) and runs the
// types' init blocks, in domain-id order.
func (w *instance) Init(words []uint64) {
	w.st = words
	if w.err != nil {
		return
	}
	for i := range w.ents {
		e := &w.ents[i]
		for g := uint64(0); g < e.count; g++ {
			for k := range e.slots {
				s := &e.slots[k]
				t := s.mem.typ
				if t.rng == nil && t.init < 0 {
					continue
				}
				d := e.d0 + g*e.per + uint64(k)
				base := e.w0 + g*e.stride + s.off
				if t.rng != nil {
					words[base+w.fieldOff[t.rng.id]] = w.p.Seed + (d+1)*golden
				}
				if t.init >= 0 {
					rc := runCtx{pc: t.init, base: base, self: d, index: g, member: s.m}
					w.runOnce(&rc)
					if rc.err != nil {
						w.err = rc.err
						return
					}
				}
			}
		}
	}
}

func (w *instance) Figures() []workloads.Figure {
	var figs []workloads.Figure
	for _, f := range w.prog.figures {
		rc := runCtx{pc: f.pc, block: true}
		if w.err == nil {
			w.runOnce(&rc)
		}
		figs = append(figs, workloads.Figure{Name: f.name, Value: rc.ret})
	}
	if w.prog.hasGoals { // the goals the final state passes over (goals.go)
		figs = append(figs, workloads.Figure{Name: "suppressed", Value: w.suppressedCount()})
	}
	return figs
}

// failuresMax bounds the failures a violation reports.
const failuresMax = 10

// Goals runs the goal blocks in order at quiescence. A failed assert does
// not stop its goal: the run goes on to report up to failuresMax failures
// in all, each with the value of every sub-expression of its condition.
// The error's first line is the first failure (the violation).
func (w *instance) Goals() error {
	if w.err != nil {
		return w.err
	}
	lines := w.unmet() // domain goals without strategy that do not hold
	more := false
	for _, gl := range w.prog.goals {
		var m machine
		w.start(&m, runCtx{pc: gl.pc, block: true})
		pc, st := w.exec(&m, gl.pc)
		for st == execFail {
			if len(lines) == failuresMax {
				more = true
				break
			}
			a := &w.prog.asserts[m.r[regRet]]
			var notes [notesMax]uint64
			m.notes, m.noted = &notes, 0
			next, xst := w.exec(&m, pc) // the explanation, up to its endx
			m.notes = nil
			what := explanation(a.subs, &notes, m.noted, a.vars, &m.r)
			if xst != execEndX {
				what = "(its explanation faulted)"
			}
			lines = append(lines, fmt.Sprintf("goal %s: %s:%d:%d: assert %s failed: %s", gl.name, w.prog.File, a.pos.Line, a.pos.Col, a.text, what))
			if xst != execEndX {
				break
			}
			pc, st = w.exec(&m, next)
		}
		if st == execFault && len(lines) == 0 {
			return w.faultError(pc-1, -1, -1, w.faultText(&m))
		}
		if st == execFault {
			lines = append(lines, "(evaluation stopped there: "+w.faultText(&m)+")")
			break
		}
		if more {
			break
		}
	}
	if len(lines) == 0 {
		return nil
	}
	if more {
		lines = append(lines, fmt.Sprintf("(more failures: the first %d are shown)", failuresMax))
	}
	return errors.New(strings.Join(lines, "\n"))
}

// runStatic evaluates the static expressions into the globals.
func (w *instance) runStatic() error {
	p := w.prog
	var r [regsMax]uint64
	copy(r[w.gbase:], w.globals)
	for pc, ins := range p.static {
		a, b, c := decA(ins), decB(ins), decC(ins)
		x, y := r[b], r[c]
		var v uint64
		switch decOp(ins) {
		case opMov:
			v = x
		case opDivU, opModU, opDivS, opModS:
			if y == 0 {
				pos := p.spos[pc]
				return fmt.Errorf("%s:%d:%d: division by zero in a static expression", p.File, pos.Line, pos.Col)
			}
			v = arith(decOp(ins), x, y)
		case opSubC, opSubIC:
			if decOp(ins) == opSubIC {
				y = uint64(decImm(ins))
			}
			if y > x {
				pos := p.spos[pc]
				return fmt.Errorf("%s:%d:%d: static expression: "+wrapFault, p.File, pos.Line, pos.Col, x, y)
			}
			v = x - y
		case opAddI, opSubI, opMulI, opAndI, opOrI, opXorI, opShlI, opShrI, opSarI:
			v = arith(decOp(ins)-(opAddI-opAdd), x, uint64(decImm(ins)))
		default:
			v = arith(decOp(ins), x, y)
		}
		r[a] = v
	}
	copy(w.globals, r[w.gbase:])
	return nil
}

// arith is the value of a register-form arithmetic op (static code only).
func arith(op opcode, x, y uint64) uint64 {
	switch op {
	case opAdd:
		return x + y
	case opSub:
		return x - y
	case opMul:
		return x * y
	case opAnd:
		return x & y
	case opOr:
		return x | y
	case opXor:
		return x ^ y
	case opShl:
		return x << y
	case opShr:
		return x >> y
	case opSar:
		return uint64(int64(x) >> y)
	case opDivU:
		return x / y
	case opModU:
		return x % y
	case opDivS:
		return uint64(int64(x) / int64(y))
	case opModS:
		return uint64(int64(x) % int64(y))
	case opMinU:
		return min(x, y)
	case opMaxU:
		return max(x, y)
	case opMinS:
		return uint64(min(int64(x), int64(y)))
	case opMaxS:
		return uint64(max(int64(x), int64(y)))
	case opNeg:
		return -x
	case opBNot:
		return ^x
	}
	panic(fmt.Sprintf("lang: op %s in static code", opNames[op]))
}
