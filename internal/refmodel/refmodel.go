// Package refmodel is a deliberately naive, single-threaded reference
// implementation of SPEC.md, used by tests as an oracle.
//
// It trades every bit of speed for clarity: the pending messages of the next
// tick are a plain slice that is sorted by (src, seq) before each tick, every
// message is delivered one at a time to a per-workload transition on plain Go
// structs, the journal is hashed tick by tick in blocks of at most 4096
// entries, and oscillation detection (§5.6) saves full copies of the
// configuration at Brent's checkpoints and compares them element by element.
// Nothing here is shared with the engine or the workloads package except the
// canonical trace encoding (package trace).
package refmodel

import (
	"cmp"
	"encoding/binary"
	"fmt"
	"slices"

	"github.com/cespare/xxhash/v2"

	"github.com/lexbench/lexbench/trace"
)

// Params are the inputs of a run: the canonical inputs of SPEC §3 plus the
// run controls that change where a run ends (§1, §5.6), and the fault
// injection of §7.
type Params struct {
	Workload          string // banking|storm|sync|conflict|oscillation
	N, Seed, Batch    uint64
	K1, K2            uint64 // the workload's two keys, in SPEC §5 order
	MaxTicks, MaxMsgs int64  // -1 = no limit
	Damp              bool   // --on-oscillation=damp
	Local             bool   // --detect local (§5.7)

	Drop, Dup, Delay uint64 // §7 rates in parts per million
	MaxDelay         uint64 // §7 --max-delay (default 8)
	FaultSeed        uint64 // §7 --fault-seed, used if FaultSeedSet
	FaultSeedSet     bool   // else the fault seed is Seed
}

// faultsOn reports whether §7 fault injection is on.
func (p Params) faultsOn() bool { return p.Drop+p.Dup+p.Delay > 0 }

func (p Params) fseed() uint64 {
	if p.FaultSeedSet {
		return p.FaultSeed
	}
	return p.Seed
}

// keys are the names and defaults of each workload's two keys (SPEC §5).
var keys = map[string]struct {
	k1, k2 string
	v1, v2 uint64
}{
	"banking":     {"banks", "accounts", 1, 2},
	"storm":       {"producers", "consumers", 2, 1024},
	"sync":        {"groups", "registers", 1, 16},
	"conflict":    {"groups", "controllers", 1024, 2},
	"oscillation": {"groups", "targets", 4096, 4},
}

// Defaults returns the spec defaults of workload: n = 1e8, seed 1,
// batch 4096, the workload's default keys, no budgets, halt on oscillation.
func Defaults(workload string) Params {
	k, ok := keys[workload]
	if !ok {
		panic("refmodel: unknown workload " + workload)
	}
	return Params{
		Workload: workload,
		N:        100_000_000,
		Seed:     1,
		Batch:    4096,
		K1:       k.v1,
		K2:       k.v2,
		MaxTicks: -1,
		MaxMsgs:  -1,
		MaxDelay: 8,
	}
}

// Text is the canonical params text of SPEC §3.
func (p Params) Text() string {
	k, ok := keys[p.Workload]
	if !ok {
		panic("refmodel: unknown workload " + p.Workload)
	}
	s := fmt.Sprintf("lexbench/1 workload=%s n=%d seed=%d batch=%d %s=%d %s=%d",
		p.Workload, p.N, p.Seed, p.Batch, k.k1, p.K1, k.k2, p.K2)
	if p.faultsOn() {
		s += fmt.Sprintf(" drop=%d dup=%d delay=%d maxdelay=%d fseed=%d", p.Drop, p.Dup, p.Delay, p.MaxDelay, p.fseed())
	}
	return s
}

// validate panics on the values §6 calls bad input.
func (p Params) validate() {
	bad := func(what string) { panic("refmodel: invalid params: " + what) }
	if p.Batch < 1 {
		bad("batch < 1")
	}
	if p.Drop+p.Dup+p.Delay > 1_000_000 || p.faultsOn() && (p.MaxDelay < 1 || p.MaxDelay > 1024) {
		bad("fault rates above 10^6 ppm or max-delay not in 1..1024")
	}
	switch p.Workload {
	case "banking":
		if p.K1 < 1 || p.K2 < 2 {
			bad("banks < 1 or accounts < 2")
		}
	case "storm":
		if p.K1 < 1 || p.K2 < 1 {
			bad("producers or consumers < 1")
		}
	case "sync":
		if p.K1 < 1 || p.K2 < 1 || p.K2 > 65536 {
			bad("groups < 1 or registers not in 1..65536")
		}
	case "conflict":
		if p.K1 < 1 || p.K2 < 2 || p.K2 > 5 {
			bad("groups < 1 or controllers not in 2..5")
		}
	case "oscillation":
		if p.K1 < 1 || p.K2 < 1 {
			bad("groups or targets < 1")
		}
	default:
		bad("unknown workload " + p.Workload)
	}
}

// Result is what a run reports (SPEC §6).
type Result struct {
	Trace, State uint64
	Outcome      string // converged|violated|budget|oscillating|damped
	Ticks        uint64 // index of the boundary where the run ended
	Msgs         uint64 // messages delivered (dropped ones not)
	Figures      []string
	Oscillation  string // "tick=7 period=4 domains=3" or ""
	Blocks       uint64 // number of journal blocks
	// Faults is §7's "dropped=x duplicated=y delayed=z", "" with faults off.
	Faults string
	// FaultLog lists every §7 decision that faulted a message, in the
	// order the run made them (emission tick, then the order of the
	// deliveries and end-of-tick work that emitted them).
	FaultLog []Fault
}

// Fault is one §7 decision that faulted a message: emitted during tick
// Emitted as src's Index-th message of that tick, due at Tick without the
// fault; Fault is "drop", "dup" or "delay", and At the tick of the late
// message (the delayed one, or the duplicate's copy), 0 for a drop.
type Fault struct {
	Emitted, Tick uint64
	Src, Dst      uint32
	Kind          uint16
	A, B          uint64
	Index         uint64
	Fault         string
	At            uint64
}

// Message is one message in flight (SPEC §1): due at tick, with the §3
// flags (§7: 1 delayed, 2 the late copy of a duplicate).
type message struct {
	tick     uint64
	src, dst uint32
	seq      uint64
	kind     uint16
	flags    uint16
	a, b     uint64
}

// emitFunc sends a message from the domain being delivered to; the run loop
// fills in tick, src and seq.
type emitFunc func(dst uint32, kind uint16, a, b uint64)

// world is one workload's domains as plain Go structs.
type world interface {
	// domains is D.
	domains() int
	// boots lists the booting domains in id order.
	boots() []uint32
	// deliver runs the transition of m's destination.
	deliver(m message, emit emitFunc)
	// canonical is every domain's canonical fields (§4), in domain-id order.
	canonical() []uint64
	// goals reports whether every goal holds at quiescence.
	goals() bool
	// figures lists the workload's figure lines (§5).
	figures() []string
}

func newWorld(p Params) world {
	switch p.Workload {
	case "banking":
		return newBanking(p)
	case "storm":
		return newStorm(p)
	case "sync":
		return newSync(p)
	case "conflict":
		return newConflict(p)
	case "oscillation":
		return newOscillation(p)
	}
	panic("refmodel: unknown workload " + p.Workload)
}

// isCheckpoint reports whether t = 2^k − 1 for some k ≥ 0.
func isCheckpoint(t uint64) bool { return (t+1)&t == 0 }

// configuration is C(t) of §5.6 flattened: the canonical state (the words
// detection compares) followed by (tick − t, src, dst, kind, a, b) of every pending
// message in ≺ order. The state part has a fixed length per run and every
// message adds exactly six words, so two configurations are equal exactly
// when their flattenings are.
func configuration(w world, lay layout, pending []message, t uint64) []uint64 {
	var c []uint64
	state := w.canonical()
	for d := 0; d < w.domains(); d++ {
		sz := lay.size(uint32(d))
		c = lay.appendKept(c, uint32(d), state[:sz])
		state = state[sz:]
	}
	for _, m := range pending {
		c = append(c, m.tick-t, uint64(m.src), uint64(m.dst), uint64(m.kind), m.a, m.b)
	}
	return c
}

// mix64 is the SplitMix64 finalizer of §7.
func mix64(x uint64) uint64 {
	x = (x ^ (x >> 30)) * 0xBF58476D1CE4E5B9
	x = (x ^ (x >> 27)) * 0x94D049BB133111EB
	return x ^ (x >> 31)
}

// faultOf is §7's decision, written out: for the i-th emission of src
// during tick t-1 it returns "drop", "dup", "delay" or "", and the delay.
func faultOf(p Params, t uint64, src uint32, i uint64) (string, uint64) {
	u := mix64(mix64(mix64(p.fseed()+golden*(t+1))^(golden*(uint64(src)+1))) ^ (golden * (i + 1)))
	r := u % 1_000_000
	d := 1 + (u/1_000_000)%p.MaxDelay
	switch {
	case r < p.Drop:
		return "drop", d
	case r < p.Drop+p.Dup:
		return "dup", d
	case r < p.Drop+p.Dup+p.Delay:
		return "delay", d
	}
	return "", 0
}

// stateHash is xxhash64 of the canonical state words as u64 LE (§4).
func stateHash(w world) uint64 {
	var buf []byte
	for _, v := range w.canonical() {
		buf = binary.LittleEndian.AppendUint64(buf, v)
	}
	return xxhash.Sum64(buf)
}

// Run executes p sequentially and returns its result.
func Run(p Params) Result {
	p.validate()
	lay := layout{
		cell: func(d uint32) int { return cellOf(p, d) },
		size: func(d uint32) int { return stateSize(p, d) },
	}
	return run(newWorld(p), lay, options{params: p.Text(), maxTicks: p.MaxTicks, maxMsgs: p.MaxMsgs,
		damp: p.Damp, local: p.Local, droppedFigure: p.Workload == "oscillation", fault: p})
}

// options are a run's controls (§1, §5.6, §5.7).
type options struct {
	params            string
	maxTicks, maxMsgs int64
	damp, local       bool
	// droppedFigure: under global damp, `dropped:` is printed even
	// without an oscillation (the oscillation workload, §5.5)
	droppedFigure bool
	fault         Params // the run's fault parameters (§7; zero: off)
}

// layout is how detection sees the domains: the cell of each (§5.7), the
// size of its canonical state, and which words detection compares (all if
// kept is nil).
type layout struct {
	cell func(d uint32) int
	size func(d uint32) int
	kept func(d uint32, i int) bool
}

func (l layout) appendKept(c []uint64, d uint32, words []uint64) []uint64 {
	for i, v := range words {
		if l.kept == nil || l.kept(d, i) {
			c = append(c, v)
		}
	}
	return c
}

func run(w world, lay layout, p options) Result {
	lw, _ := w.(lateWorld)

	seqs := make([]uint64, w.domains()) // next seq per src
	var pending []message
	for _, d := range w.boots() {
		pending = append(pending, message{tick: 0, src: d, dst: d, seq: seqs[d], kind: trace.KindTick})
		seqs[d]++
	}

	// Journal chain.
	params := p.params
	lastHash := trace.ParamsHash(params)
	var blocks uint64
	var scratch []byte

	// Oscillation detection (§5.6).
	var (
		saved      []uint64 // C(c) of the latest checkpoint c
		savedTick  uint64
		receivers  = map[uint32]bool{} // domains receiving in ticks savedTick..t-1
		detected   bool
		oscDomains map[uint32]bool
		oscLine    string
	)

	// Local detection (§5.7): one search per cell.
	var searches []cellSearch
	damped := map[int]bool{} // distinct cells damped
	if p.local {
		searches = make([]cellSearch, lay.cell(uint32(w.domains()-1))+1)
	}

	var msgs, dropped uint64
	var nDropped, nDuplicated, nDelayed uint64 // §7 decisions
	var faultLog []Fault
	var outcome string
	var t uint64
loop:
	for ; ; t++ {
		// Tick boundary t: quiescence, budgets, oscillation, in that order.
		// With end-of-tick work, tick 0 always runs.
		if len(pending) == 0 && (t > 0 || lw == nil || !lw.ends()) {
			switch {
			case p.local && !w.goals():
				outcome = "violated"
			case p.local && len(damped) > 0:
				outcome = "damped"
			case detected && !p.local:
				outcome = "damped"
			case w.goals():
				outcome = "converged"
			default:
				outcome = "violated"
			}
			break loop
		}
		if p.maxTicks >= 0 && t >= uint64(p.maxTicks) {
			outcome = "budget"
			break loop
		}
		if p.maxMsgs >= 0 && msgs >= uint64(p.maxMsgs) {
			outcome = "budget"
			break loop
		}
		// ≺ is (tick, src, seq); Q holds late messages too (§1).
		slices.SortStableFunc(pending, func(x, y message) int {
			return cmp.Or(cmp.Compare(x.tick, y.tick), cmp.Compare(x.src, y.src), cmp.Compare(x.seq, y.seq))
		})
		if p.local && !p.fault.faultsOn() { // §5.7: no detection with faults on
			confs, input, hasMsgs := localConfs(lay, w, pending, t)
			var hits []int
			for k := range searches {
				s := &searches[k]
				if input[k] {
					*s = cellSearch{r: t, saved: confs[k], savedTick: t, receivers: map[uint32]bool{}}
					continue
				}
				if s.silent {
					continue
				}
				if t > s.r && hasMsgs[k] && slices.Equal(confs[k], s.saved) {
					hits = append(hits, k)
				} else if isCheckpoint(t - s.r) {
					s.saved, s.savedTick, s.receivers = confs[k], t, map[uint32]bool{}
				}
			}
			if len(hits) > 0 {
				if !detected {
					detected = true
					s := &searches[hits[0]]
					oscLine = fmt.Sprintf("tick=%d period=%d domains=%d", t, t-s.savedTick, len(s.receivers))
				}
				if !p.damp {
					oscLine += fmt.Sprintf(" cells=%d", len(hits))
					outcome = "oscillating"
					break loop
				}
				hit := map[int]bool{}
				for _, k := range hits {
					hit[k], damped[k], searches[k].silent = true, true, true
				}
				kept := pending[:0]
				for _, m := range pending {
					if k := lay.cell(m.src); hit[k] && lay.cell(m.dst) == k {
						dropped++
						continue
					}
					kept = append(kept, m)
				}
				pending = kept
			}
		} else if !detected && !p.local && !p.fault.faultsOn() {
			c := configuration(w, lay, pending, t)
			if t > 0 && slices.Equal(c, saved) {
				detected = true
				oscDomains = receivers
				oscLine = fmt.Sprintf("tick=%d period=%d domains=%d", t, t-savedTick, len(oscDomains))
				if !p.damp {
					outcome = "oscillating"
					break loop
				}
			} else if isCheckpoint(t) {
				saved, savedTick = c, t
				receivers = map[uint32]bool{}
			}
		}

		// Deliver tick t in ≺ order; late messages stay in Q.
		var next []message
		var entries []trace.Entry
		emitted := map[uint32]uint64{} // per src: its emissions during tick t (the §7 index)
		// emit sends e (due at e.tick > t) from e.src: it takes src's next
		// seq and, if it crosses the network, its §7 decision, made with
		// t+1 and src's emission index; a delay or a copy counts from the
		// tick e is due at.
		emit := func(e message) {
			src := e.src
			e.seq = seqs[src]
			seqs[src]++
			i := emitted[src]
			emitted[src]++
			if p.fault.faultsOn() && src != e.dst {
				f, d := faultOf(p.fault, t+1, src, i)
				if f != "" {
					ev := Fault{Emitted: t, Tick: e.tick, Src: src, Dst: e.dst, Kind: e.kind, A: e.a, B: e.b, Index: i, Fault: f}
					if f != "drop" {
						ev.At = e.tick + d
					}
					faultLog = append(faultLog, ev)
				}
				switch f {
				case "drop":
					nDropped++
					return
				case "dup":
					nDuplicated++
					c := e
					c.tick, c.flags = e.tick+d, 2
					next = append(next, c)
				case "delay":
					nDelayed++
					e.tick, e.flags = e.tick+d, 1
				}
			}
			next = append(next, e)
		}
		emitFrom := func(src uint32) func(dst uint32, kind uint16, a, b, delay uint64) {
			return func(dst uint32, kind uint16, a, b, delay uint64) {
				emit(message{tick: t + 1 + delay, src: src, dst: dst, kind: kind, a: a, b: b})
			}
		}
		for _, m := range pending {
			if m.tick < t {
				panic(fmt.Sprintf("refmodel: message for tick %d pending at tick %d", m.tick, t))
			}
			if m.tick > t {
				next = append(next, m)
				continue
			}
			if detected && !p.local && oscDomains[m.dst] {
				dropped++
				continue
			}
			msgs++
			if p.local {
				searches[lay.cell(m.dst)].receivers[m.dst] = true
			} else if !detected {
				receivers[m.dst] = true
			}
			entries = append(entries, trace.Entry{
				Tick: uint32(m.tick), Src: m.src, Dst: m.dst, Kind: m.kind, Flags: m.flags, A: m.a, B: m.b,
			})
			if lw != nil {
				lw.deliverAt(m, emitFrom(m.dst))
				continue
			}
			src := m.dst
			w.deliver(m, func(dst uint32, kind uint16, a, b uint64) {
				emit(message{tick: t + 1, src: src, dst: dst, kind: kind, a: a, b: b})
			})
		}
		if lw != nil && lw.ends() {
			for d := 0; d < w.domains(); d++ {
				lw.endTick(uint32(d), emitFrom(uint32(d)))
			}
		}

		// Journal tick t: blocks of at most 4096 entries, chained.
		for len(entries) > 0 {
			n := min(len(entries), trace.BlockEntriesMax)
			content := trace.ContentHash(entries[:n], &scratch)
			lastHash = trace.BlockHash(uint32(n), blocks, lastHash, content)
			blocks++
			entries = entries[n:]
		}
		pending = next
	}

	figures := w.figures()
	if p.local && p.damp && len(damped) > 0 {
		// §5.7: `dropped:` is printed whenever the oscillation line is
		oscLine += fmt.Sprintf(" cells=%d", len(damped))
		figures = append(figures, fmt.Sprintf("dropped: %d", dropped))
	} else if !p.local && p.damp && p.droppedFigure && !p.fault.faultsOn() {
		figures = append(figures, fmt.Sprintf("dropped: %d", dropped))
	}
	faults := ""
	if p.fault.faultsOn() {
		faults = fmt.Sprintf("dropped=%d duplicated=%d delayed=%d", nDropped, nDuplicated, nDelayed)
	}
	return Result{
		Trace:       lastHash,
		State:       stateHash(w),
		Outcome:     outcome,
		Ticks:       t,
		Msgs:        msgs,
		Figures:     figures,
		Oscillation: oscLine,
		Blocks:      blocks,
		Faults:      faults,
		FaultLog:    faultLog,
	}
}
