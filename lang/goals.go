package lang

import (
	"errors"
	"fmt"
	"slices"
	"strings"

	"github.com/lexbench/lexbench/engine"
	"github.com/lexbench/lexbench/trace"
)

// The model at run time (docs/language.md, "Goals"): reconciliation of
// goal-directed domains at the end of each tick, admissibility by a trial
// run, suppression, invariants checked after every transition.
//
// Reconciliation. A domain of a type with goals that received a message
// during tick t (its handlers and the stub of the kinds it does not handle
// begin with opMark), and at tick 0 every such domain (its boot),
// reconciles at the end of t (EndTick, per shard, in domain-id order):
// its goals' targets are computed at once as a bit mask (the type's
// targets code); walking the goals in walk order (priority descending,
// then declaration order), the first false goal with a strategy that is
// admissible is pursued: the domain emits its strategy message to itself,
// delivered at t+1 after everything it emitted during t. A false goal's
// strategy is admissible unless a trial run of it, on a copy of the
// domain's state, makes false a goal earlier in the walk that is true
// now; a false goal passed over so is suppressed. The trial runs a copy
// of the code in which emissions, marks, vectorized loops and invariant
// checks are inert (trialCode), so it changes nothing but the copy. A
// trial that faults counts as admissible: the strategy is sent and its
// delivery reports the fault where it happens. A goal without a strategy
// is never pursued; it constrains the strategies of later goals like any
// other goal, and at quiescence a false one is a violation.
//
// Suppression is a property of a state: the goals a walk over it passes
// over. At quiescence each domain's last reconciliation emitted nothing,
// so its false goals are exactly its suppressed ones and the unmet goals
// without strategy; `suppressed:` counts them over all domains, computed
// from the final state (so resume and replay give the same count).

// shardScratch is a shard's scratch for the model, kept in its
// engine.Outbox.Local.
type shardScratch struct {
	stamp uint32   // out.Tick() of the tick being delivered
	recv  []uint32 // goal-typed domains that received a message this tick, first receipt order
	m     *machine // for targets and trials: allocated once, its globals loaded
	dm    *machine // for deliveries (interp): its code, arena, outbox and scratch set once
	words []uint64 // a domain's state, copied for a trial
	// the last pursued strategy's trial: its domain (+1; 0 none), the
	// state it left and the targets there. A domain that then receives
	// only its strategy has that state at its next reconciliation, and
	// targets are a function of the state: they need not be run again.
	cacheD     uint32
	cacheWords []uint64
	cacheMask  uint64
	// the memo of that trial, when its strategy is local (goalInfo.local):
	// memoD is cacheD while it stands; the strategy's kind, the tick it
	// was to run at, where the domain's state is and its size
	// (deliverMemo); with -tags invariants the state it started from.
	memoD      uint32
	memoKind   trace.Kind
	memoNow    uint64
	memoIn     []uint64
	memoBase   uint64
	memoSize   uint64
	memoIndex  uint64
	memoMember uint64
	memoTyp    *dtype
	memoInv    int // the invariants' pc, to run at the delivery; -1: none, or they hold
	// fresh is memoD of the memo delivered this tick (0 none) while no
	// other delivery in the shard followed it: that domain's state is
	// cacheWords.
	fresh uint32
}

// scratch is the shard's scratch of out, reset at a new tick.
func (w *instance) scratch(out *engine.Outbox) *shardScratch {
	sc, _ := out.Local.(*shardScratch)
	if sc == nil {
		sc = w.newScratch()
		sc.dm = &machine{w: w, out: out, code: w.code, st: w.st, sc: sc}
		copy(sc.dm.r[w.gbase:], w.globals)
		out.Local = sc
	}
	if sc.stamp != out.Tick() {
		sc.stamp = out.Tick()
		sc.recv = sc.recv[:0]
	}
	return sc
}

func (w *instance) newScratch() *shardScratch {
	sc := &shardScratch{m: &machine{w: w}}
	copy(sc.m.r[w.gbase:], w.globals)
	return sc
}

// goalInstance is a program with goals: the engine calls its EndTick.
// Programs without goals are plain instances, so they pay nothing for it.
type goalInstance struct{ *instance }

// EndTick reconciles the goal-directed domains of out's shard that
// received a message this tick, or all of them at tick 0 (their boot), in
// domain-id order.
func (g goalInstance) EndTick(out *engine.Outbox) {
	w := g.instance
	if w.err != nil {
		return
	}
	sc := w.scratch(out)
	if out.Tick() == 1 { // the end of tick 0: every goal domain boots
		sc.recv = sc.recv[:0]
		for d := out.Lo(); d < out.Hi(); d++ {
			if _, _, s := w.locate(uint64(d)); len(s.mem.typ.goals) > 0 {
				sc.recv = append(sc.recv, d)
			}
		}
	} else if len(sc.recv) > 1 {
		slices.Sort(sc.recv)
	}
	for _, d := range sc.recv {
		pursue, _, err := w.walk(sc, d, uint64(out.Tick()))
		if err != nil {
			out.Fault(int(d), err)
			break
		}
		if pursue != nil {
			out.Emit(d, d, pursue.kind, 0, 0)
		}
	}
	sc.recv, sc.fresh = sc.recv[:0], 0
}

// walk evaluates domain d's goals and returns the goal to pursue (nil if
// none) and the mask of the goals it passes over (suppressed, in walk
// order). now is the tick a strategy would run at.
func (w *instance) walk(sc *shardScratch, d uint32, now uint64) (*goalInfo, uint64, error) {
	pursue, passed, _, err := w.walk1(sc, d, now, false)
	return pursue, passed, err
}

// walk1 is walk; with why, it also returns for each passed goal (by walk
// index) the mask of the earlier goals its strategy would make false.
func (w *instance) walk1(sc *shardScratch, d uint32, now uint64, why bool) (*goalInfo, uint64, map[int]uint64, error) {
	var broken map[int]uint64
	var t *dtype
	var base, size, g, member uint64
	if sc.fresh == d+1 { // d's strategy was delivered from the memo: d's place is the memo's
		t, base, size, g, member = sc.memoTyp, sc.memoBase, sc.memoSize, sc.memoIndex, sc.memoMember
	} else {
		e, eg, s := w.locate(uint64(d))
		t, base, size, g, member = s.mem.typ, e.w0+eg*e.stride+s.off, s.size, eg, s.m
	}
	m := sc.m
	m.r[regSelf], m.r[regIndex], m.r[regMember] = uint64(d), g, member
	m.now = now
	var mask uint64
	// the cache holds d's state: d's strategy was just delivered from the
	// memo (fresh), or the states are equal
	hit := sc.cacheD == d+1 && (sc.fresh == d+1 || slices.Equal(w.st[base:base+size], sc.cacheWords))
	if hit {
		mask = sc.cacheMask
	} else {
		var err error
		if mask, err = w.targetMask(m, t, w.st, base); err != nil {
			return nil, 0, nil, err
		}
	}
	sc.cacheD, sc.memoD, sc.fresh = 0, 0, 0
	inCache := hit // the first trial may run on cacheWords, d's state
	var passed uint64
	for i, gl := range t.goals {
		if mask>>i&1 != 0 || len(gl.strategy) == 0 {
			continue
		}
		earlier := mask & (1<<i - 1)
		if earlier == 0 {
			return gl, passed, broken, nil
		}
		// the trial: the strategy on a copy of the state
		words, onCache := sc.cacheWords, inCache
		if !onCache {
			sc.words = append(sc.words[:0], w.st[base:base+size]...)
			words = sc.words
		}
		inCache = false
		after, ran, invOK, err := w.trial(m, t, gl, words, w.code[gl.pc])
		if err != nil {
			return nil, 0, nil, err
		}
		if after&earlier == earlier {
			if ran {
				sc.cacheD, sc.cacheMask = d+1, after
				if !onCache {
					sc.cacheWords, sc.words = sc.words, sc.cacheWords
				}
				if gl.local {
					sc.memoD, sc.memoKind, sc.memoNow = d+1, gl.kind, now
					sc.memoBase, sc.memoSize, sc.memoIndex, sc.memoMember, sc.memoTyp, sc.memoInv = base, size, g, member, t, t.inv
					if invOK {
						sc.memoInv = -1 // nothing to check at the delivery
					}
					if invariants {
						sc.memoIn = append(sc.memoIn[:0], w.st[base:base+size]...)
					}
				}
			}
			return gl, passed, broken, nil
		}
		passed |= 1 << i
		if why {
			if broken == nil {
				broken = map[int]uint64{}
			}
			broken[i] = earlier &^ after
		}
	}
	return nil, passed, broken, nil
}

// deliverMemo delivers msgs, one message, from the memo of the last
// trial, if that message is the strategy the trial ran, to its domain d,
// at the tick it was to run at, and d has received nothing before it at
// this tick. Then d's state is the one the trial started from: the trial
// ran at the end of the last tick, and since then only a transition of d
// could have written d's state (reconciliation writes none: targets read
// it, trials work on a copy; handlers touch only their own domain), and
// every transition of a goal type marks its domain first (opMark, the
// stamp of this tick). The transition, which acts only on that state
// (goalInfo.local), then computes exactly the state the trial left, so
// that state is copied in instead of running the transition again. The
// rest is the transition's: the mark and the invariants, run on the new
// state. It reports whether it delivered.
func (w *instance) deliverMemo(m *machine, sc *shardScratch, msgs []trace.Entry) bool {
	msg := &msgs[0]
	d := msg.Dst
	if sc.memoD != d+1 || msg.Src != d || msg.Kind != sc.memoKind || msg.A|msg.B != 0 || uint64(msg.Tick) != sc.memoNow ||
		w.stamp[d] == sc.stamp {
		return false
	}
	st := w.st[sc.memoBase : sc.memoBase+sc.memoSize]
	sc.memoD = 0
	invMemo(w, msgs, sc, st)
	copy(st, sc.cacheWords)
	sc.fresh = d + 1
	w.stamp[d] = sc.stamp // opMark
	sc.recv = append(sc.recv, d)
	if sc.memoInv < 0 {
		return true
	}
	m.msgs, m.i, m.lastD = msgs, 0, uint64(d)
	m.base, m.budget = sc.memoBase, w.budget
	m.r[regSelf], m.r[regIndex], m.r[regMember] = uint64(d), sc.memoIndex, sc.memoMember
	m.r[regA], m.r[regB], m.r[regSrc] = 0, 0, uint64(d)
	pc, status := w.exec(m, sc.memoInv)
	w.delivered(m, pc, status)
	return true
}

// targetMask runs t's targets code on the domain whose state is at
// st[base:]: bit i is goal i's target.
func (w *instance) targetMask(m *machine, t *dtype, st []uint64, base uint64) (uint64, error) {
	m.code, m.st, m.base, m.budget = w.code, st, base, w.budget
	m.msgs, m.sc, m.notes = nil, nil, nil
	pc, status := w.exec(m, t.targets)
	if status != execRetV {
		return 0, w.faultError(pc-1, int64(m.r[regSelf]), int64(m.now)-1, "reconciling: "+w.faultText(m))
	}
	return m.r[regRet], nil
}

// trial runs goal gl's strategy on words (a copy of the domain's state)
// and returns the targets after it (in the trial code, the strategy's end
// goes on to the targets code), whether it ran to its end and, if it did,
// whether the type's invariants hold after it (the trial code checks them
// after the targets; a fault there leaves that unknown: false). A
// strategy that faults is admissible (its delivery reports it): all ones.
// A target that faults on the copy is a fault of the run. first is the
// strategy's first instruction.
func (w *instance) trial(m *machine, t *dtype, gl *goalInfo, words []uint64, first uint64) (after uint64, ran, invOK bool, err error) {
	m.code, m.st, m.base, m.budget = w.trialCode, words, 0, w.budget
	m.msgs, m.sc, m.notes = nil, nil, nil
	m.r[regA], m.r[regB], m.r[regSrc] = 0, 0, m.r[regSelf]
	pc := gl.pc
	if opcode(first) == opMark {
		pc++ // a trial marks nothing
	}
	pc, status := w.exec(m, pc)
	inTargets := pc-1 >= t.targets && w.prog.regionOf(pc-1) == w.prog.regionOf(t.targets)
	switch {
	case status == execRetV: // a type without invariants
		return m.r[regRet], true, true, nil
	case status == execRet: // the invariants hold
		return m.r[regRet], true, true, nil
	case status == execInvFail: // trialbad
		return m.r[regRet], true, false, nil
	case status == execFault && inTargets:
		return 0, false, false, w.faultError(pc-1, int64(m.r[regSelf]), int64(m.now)-1, "reconciling: "+w.faultText(m))
	case status == execFault && t.inv >= 0 && pc-1 >= t.inv && w.prog.regionOf(pc-1) == w.prog.regionOf(t.inv):
		return m.r[regRet], true, false, nil // the targets are known; the delivery will fault
	}
	return ^uint64(0), false, false, nil
}

// SuppressedGoal is a goal a domain passes over in the final state: its
// target is false and its strategy would make an earlier goal false.
type SuppressedGoal struct {
	Domain uint32
	Name   string // "Pool.WantThree"
	Text   string // "domain 0 (Pool): goal WantThree (priority 50) suppressed: target workers == 3 is false: workers = 5"
}

// Suppressed lists the suppressed goals of the final state, in domain-id
// then walk order. It is meaningful after the run (Figures counts them).
func (w *instance) Suppressed() []SuppressedGoal {
	if w.err != nil || !w.prog.hasGoals {
		return nil
	}
	var out []SuppressedGoal
	sc := w.newScratch()
	for d := uint32(0); d < uint32(w.d); d++ {
		_, _, s := w.locate(uint64(d))
		t := s.mem.typ
		if len(t.goals) == 0 {
			continue
		}
		_, passed, broken, err := w.walk1(sc, d, 0, true)
		if err != nil {
			continue // the run reported it
		}
		for i, gl := range t.goals {
			if passed>>i&1 == 0 {
				continue
			}
			var names []string
			for j, g := range t.goals {
				if broken[i]>>j&1 != 0 {
					names = append(names, g.name)
				}
			}
			out = append(out, SuppressedGoal{Domain: d, Name: t.name + "." + gl.name,
				Text: fmt.Sprintf("domain %s: goal %s (priority %d) suppressed: %s; its strategy %s would make %s false",
					w.describe(uint64(d)), gl.name, gl.priority, w.explainTarget(sc, d, gl),
					strings.Join(gl.strategy, ", "), strings.Join(names, ", "))})
		}
	}
	return out
}

// unmet lists, at quiescence, the false goals without a strategy: each is
// a violation.
func (w *instance) unmet() []string {
	var lines []string
	sc := w.newScratch()
	for d := uint32(0); d < uint32(w.d) && len(lines) < failuresMax; d++ {
		e, g, s := w.locate(uint64(d))
		t := s.mem.typ
		if len(t.goals) == 0 {
			continue
		}
		m := sc.m
		m.r[regSelf], m.r[regIndex], m.r[regMember] = uint64(d), g, s.m
		mask, err := w.targetMask(m, t, w.st, e.w0+g*e.stride+s.off)
		if err != nil {
			return []string{err.Error()}
		}
		for i, gl := range t.goals {
			if mask>>i&1 == 0 && len(gl.strategy) == 0 && len(lines) < failuresMax {
				lines = append(lines, fmt.Sprintf("goal %s.%s: domain %s: %s:%d:%d: %s", t.name, gl.name, w.describe(uint64(d)),
					w.prog.File, gl.pos.Line, gl.pos.Col, w.explainTarget(sc, d, gl)))
			}
		}
	}
	return lines
}

// explainTarget is "target TEXT is false: sub = v, …" for goal gl of
// domain d, from its explanation code.
func (w *instance) explainTarget(sc *shardScratch, d uint32, gl *goalInfo) string {
	e, g, s := w.locate(uint64(d))
	m := sc.m
	m.code, m.st, m.base, m.budget = w.code, w.st, e.w0+g*e.stride+s.off, w.budget
	m.msgs, m.sc = nil, nil
	m.r[regSelf], m.r[regIndex], m.r[regMember] = uint64(d), g, s.m
	var notes [notesMax]uint64
	m.notes, m.noted = &notes, 0
	_, status := w.exec(m, gl.explain)
	m.notes = nil
	what := explanation(gl.subs, &notes, m.noted, nil, &m.r)
	if status != execEndX {
		what = "(its explanation faulted)"
	}
	if what == "" {
		return fmt.Sprintf("target %s is false", gl.text)
	}
	return fmt.Sprintf("target %s is false: %s", gl.text, what)
}

// Violation is an invariant made false by a transition: the run ends at
// the end of that tick, outcome violated.
type Violation struct {
	Tick    uint32
	Msg     trace.Entry
	Domain  uint32
	Name    string // "Accounts.Conserved"
	message string
}

func (v *Violation) Error() string { return v.message }

// violate reports the invariant the transition of m.msgs[m.i] broke; pc
// is where its explanation starts.
func (w *instance) violate(out *engine.Outbox, m *machine, pc int) {
	inv := w.prog.invs[m.r[regRet]]
	var notes [notesMax]uint64
	m.notes, m.noted = &notes, 0
	_, status := w.exec(m, pc)
	m.notes = nil
	what := explanation(inv.subs, &notes, m.noted, nil, &m.r)
	if status != execEndX {
		what = "(its explanation faulted)"
	}
	msg := m.msgs[m.i]
	v := &Violation{Tick: msg.Tick, Msg: msg, Domain: msg.Dst, Name: inv.typ.name + "." + inv.name}
	v.message = fmt.Sprintf("invariant %s: tick %d, message (src %d, dst %d, kind %s, a %d, b %d) to domain %s: %s:%d:%d: %s is false",
		v.Name, msg.Tick, msg.Src, msg.Dst, w.prog.kindName(msg.Kind), msg.A, msg.B, w.describe(uint64(msg.Dst)),
		w.prog.File, inv.pos.Line, inv.pos.Col, inv.text)
	if what != "" {
		v.message += ": " + what
	}
	reportViolation(out, m.i, v)
}

// reportViolation ends the run at the end of the tick as violated
// (engine.Outbox.Violate: the first violation of the tick in ≺ order wins,
// unless a fault comes before it).
func reportViolation(out *engine.Outbox, i int, v *Violation) {
	out.Violate(i, v)
}

// IsViolation reports whether err is an invariant violation.
func IsViolation(err error) bool {
	var v *Violation
	return errors.As(err, &v)
}

// kindName is the name of kind k, or its number.
func (p *Program) kindName(k trace.Kind) string {
	for _, ki := range p.Kinds {
		if ki.Num == k {
			return ki.Name
		}
	}
	return fmt.Sprint(uint16(k))
}

// KindNames maps the program's message kinds to their names.
func (p *Program) KindNames() map[trace.Kind]string {
	names := map[trace.Kind]string{}
	for _, k := range p.Kinds {
		names[k.Num] = k.Name
	}
	return names
}

// suppressedFigure is the `suppressed:` figure of a program with goals.
func (w *instance) suppressedCount() uint64 { return uint64(len(w.Suppressed())) }

// Namer links p with the params text of one of its runs (a journal's) and
// returns the names of its message kinds and a function naming its
// domains ("Pool", "bank[2]"; "" for an id out of range), for reading the
// run's journal.
func (p *Program) Namer(params string) (map[trace.Kind]string, func(uint32) string, error) {
	pr, err := p.Spec().Parse(params)
	if err != nil {
		return nil, nil, err
	}
	w := p.link(pr)
	if w.err != nil {
		return nil, nil, w.err
	}
	return p.KindNames(), w.DomainName, nil
}
