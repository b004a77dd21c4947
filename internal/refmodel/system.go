package refmodel

// System is a workload given to the reference model as plain functions, so
// that tests can check the engine on systems built for the purpose (random
// ones included) against the same naive run loop, trace hashing and
// oscillation detection (§5.6, §5.7) as the five workloads.
type System struct {
	Domains int
	Boots   []uint32 // booting domains, ascending
	// Deliver runs dst's transition for one message; emit sends a message
	// from dst, due delay ticks after the next one (0: the next tick; more:
	// a late message, SPEC §1); the run fills in tick, src and seq.
	Deliver func(src, dst uint32, kind uint16, a, b uint64, emit func(dst uint32, kind uint16, a, b, delay uint64))
	// EndTick, if set, runs domain d's end-of-tick work at the end of
	// every tick, in id order after the tick's deliveries (the engine's
	// TickEnder); emit as for Deliver. Tick 0 then always runs.
	EndTick func(d uint32, emit func(dst uint32, kind uint16, a, b, delay uint64))
	State   func() []uint64 // every domain's canonical state, in id order
	Size    func(d uint32) int
	Cell    func(d uint32) int         // cells for --detect local: contiguous, numbered in id order
	Kept    func(d uint32, i int) bool // nil: detection compares every word; else only word i of d if true
	Goals   func() bool
}

// Options are a System run's controls: params text (the chain's first
// link), budgets (-1: none), --on-oscillation damp, --detect local.
type Options struct {
	Params            string
	MaxTicks, MaxMsgs int64
	Damp, Local       bool
	// Drop, Dup, Delay (ppm), MaxDelay and FaultSeed are §7's fault
	// layer; off when the rates are 0.
	Drop, Dup, Delay    uint64
	MaxDelay, FaultSeed uint64
}

// RunSystem runs s sequentially. Its Figures are only `dropped:`, when the
// spec prints it.
func RunSystem(s System, o Options) Result {
	return run(system{s}, layout{cell: s.Cell, size: s.Size, kept: s.Kept},
		options{params: o.Params, maxTicks: o.MaxTicks, maxMsgs: o.MaxMsgs, damp: o.Damp, local: o.Local,
			fault: Params{Drop: o.Drop, Dup: o.Dup, Delay: o.Delay, MaxDelay: o.MaxDelay, FaultSeed: o.FaultSeed, FaultSeedSet: true}})
}

// system adapts a System to the run loop.
type system struct{ s System }

func (w system) domains() int        { return w.s.Domains }
func (w system) boots() []uint32     { return w.s.Boots }
func (w system) canonical() []uint64 { return w.s.State() }
func (w system) goals() bool         { return w.s.Goals() }
func (w system) figures() []string   { return nil }
func (w system) deliver(m message, emit emitFunc) {
	w.s.Deliver(m.src, m.dst, m.kind, m.a, m.b, func(dst uint32, kind uint16, a, b, delay uint64) {
		if delay != 0 {
			panic("refmodel: a late message through emitFunc")
		}
		emit(dst, kind, a, b)
	})
}

func (w system) deliverAt(m message, emit emitAtFunc) {
	w.s.Deliver(m.src, m.dst, m.kind, m.a, m.b, emit)
}
func (w system) ends() bool                        { return w.s.EndTick != nil }
func (w system) endTick(d uint32, emit emitAtFunc) { w.s.EndTick(d, emit) }

// emitAtFunc sends a message due delay ticks after the next one.
type emitAtFunc = func(dst uint32, kind uint16, a, b, delay uint64)

// lateWorld is a world whose transitions may send late messages (SPEC §1)
// and which may have end-of-tick work (ends).
type lateWorld interface {
	deliverAt(m message, emit emitAtFunc)
	ends() bool
	endTick(d uint32, emit emitAtFunc)
}
