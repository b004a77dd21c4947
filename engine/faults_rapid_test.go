package engine_test

import (
	"bytes"
	"cmp"
	"fmt"
	"reflect"
	"slices"
	"strings"
	"testing"

	"pgregory.net/rapid"

	"github.com/lexbench/lexbench/engine"
	"github.com/lexbench/lexbench/internal/refmodel"
	"github.com/lexbench/lexbench/lang"
	"github.com/lexbench/lexbench/trace"
)

// netSys is a random small network for the fault layer (SPEC §7): every
// domain is its own cell and may send to any domain, itself included.
// A message's payload a is hops<<4 | v. A booting domain's Tick sends
// seeds (hops ≥ 1); a message with hops > 0 moves its receiver's state x
// (0..m-1) by a table on (x, v) and sends up to two messages with one hop
// less, some of them late (timers, up to 3 ticks). So without end-of-tick
// work every run is finite whatever the faults do (a copy carries the
// hops of its original); with it (ender), a domain in some states acts at
// the end of every tick — moves and sends a message with few hops — so a
// run may go on forever and end by its budget.
type netSys struct {
	n, m   int
	boots  []uint32
	seeds  [][]netSend // per booting domain: what its Tick sends
	table  [][]netStep // per domain, indexed by x*16 + v
	ends   [][]netStep // per domain, indexed by x: end-of-tick work if ender
	ender  bool
	faults engine.FaultParams
}

type netSend struct {
	dst   uint32
	a     uint64
	delay uint64
}

type netStep struct {
	act  bool // end-of-tick work: whether the domain acts in this state
	next uint64
	out  []netSend // hops of a are set when sent
}

func genNetSys(t *rapid.T) *netSys {
	s := &netSys{n: rapid.IntRange(1, 9).Draw(t, "domains"), m: rapid.IntRange(1, 4).Draw(t, "m")}
	send := func(hops uint64) netSend {
		return netSend{dst: uint32(rapid.IntRange(0, s.n-1).Draw(t, "dst")), a: hops<<4 | rapid.Uint64Range(0, 15).Draw(t, "v"),
			delay: rapid.SampledFrom([]uint64{0, 0, 0, 1, 2, 3}).Draw(t, "delay")}
	}
	sends := func(max int) []netSend {
		var out []netSend
		for range rapid.IntRange(0, max).Draw(t, "sends") {
			out = append(out, send(0))
		}
		return out
	}
	for d := range s.n {
		if d == 0 || rapid.Bool().Draw(t, "boots") {
			s.boots = append(s.boots, uint32(d))
			var seeds []netSend
			for range rapid.IntRange(1, 3).Draw(t, "seeds") {
				seeds = append(seeds, send(rapid.Uint64Range(1, 6).Draw(t, "hops")))
			}
			s.seeds = append(s.seeds, seeds)
		}
		tab := make([]netStep, s.m*16)
		for i := range tab {
			tab[i] = netStep{next: rapid.Uint64Range(0, uint64(s.m-1)).Draw(t, "next"), out: sends(2)}
		}
		s.table = append(s.table, tab)
	}
	s.ender = rapid.Bool().Draw(t, "ender")
	if s.ender {
		for range s.n {
			e := make([]netStep, s.m)
			for x := range e {
				e[x] = netStep{act: rapid.IntRange(0, 3).Draw(t, "act") == 0, next: rapid.Uint64Range(0, uint64(s.m-1)).Draw(t, "next"), out: sends(1)}
				for i := range e[x].out {
					e[x].out[i].a |= rapid.Uint64Range(0, 2).Draw(t, "hops") << 4
				}
			}
			s.ends = append(s.ends, e)
		}
	}
	rate := func(name string) uint32 {
		return uint32(rapid.SampledFrom([]uint64{0, 0, 10_000, 100_000, 300_000, 1_000_000}).Draw(t, name))
	}
	f := engine.FaultParams{Drop: rate("drop"), Dup: rate("dup"), Delay: rate("delay"),
		MaxDelay: uint32(rapid.SampledFrom([]uint64{1, 2, 8, 1024}).Draw(t, "maxdelay")), Seed: rapid.Uint64().Draw(t, "fseed")}
	for uint64(f.Drop)+uint64(f.Dup)+uint64(f.Delay) > engine.FaultRateMax {
		f.Drop, f.Dup, f.Delay = f.Drop/2, f.Dup/2, f.Delay/2
	}
	if !f.On() {
		f.Delay = 200_000
	}
	s.faults = f
	return s
}

func (s *netSys) def() *sysDef {
	sizes := make([]int, s.n)
	for i := range sizes {
		sizes[i] = 1
	}
	def := &sysDef{sizes: sizes, words: 2, boots: s.boots}
	def.step = func(d uint32, st []uint64, src uint32, kind trace.Kind, a uint64, emit func(uint32, uint64, uint64)) {
		st[1]++ // receipts
		if kind == trace.KindTick {
			for _, e := range s.seeds[slices.Index(s.boots, d)] {
				emit(e.dst, e.a, e.delay)
			}
			return
		}
		hops, v := a>>4, a&15
		if hops == 0 {
			st[0] = (st[0] + v) % uint64(s.m)
			return
		}
		e := s.table[d][st[0]*16+v]
		st[0] = e.next
		for _, o := range e.out {
			emit(o.dst, (hops-1)<<4|o.a&15, o.delay)
		}
	}
	if s.ender {
		def.end = func(d uint32, st []uint64, emit func(uint32, uint64, uint64)) {
			e := s.ends[d][st[0]]
			if !e.act {
				return
			}
			st[0] = e.next
			for _, o := range e.out {
				emit(o.dst, o.a, o.delay)
			}
		}
	}
	return def
}

// memJournal is an in-memory engine.Journal.
type memJournal struct{ b []byte }

func (j *memJournal) Reserve(n int) ([]byte, error) {
	j.b = slices.Grow(j.b, n)
	j.b = j.b[:len(j.b)+n]
	return j.b[len(j.b)-n:], nil
}

// faultRun is a run of a netSys with everything the properties compare.
type faultRun struct {
	res     engine.Result
	events  []engine.FaultEvent
	journal []byte
}

const netBudget = 150

func runNet(t *rapid.T, s *netSys, def *sysDef, shards int, mod func(c *engine.Config)) faultRun {
	return runFaulty(t, newSysWL(def).workload(), s.faults, shards, mod)
}

// runFaulty runs w with the faults f and an in-memory journal, keeping
// the fault decisions; mod may change the configuration.
func runFaulty(t *rapid.T, w engine.Workload, f engine.FaultParams, shards int, mod func(c *engine.Config)) faultRun {
	var fr faultRun
	j := &memJournal{}
	c := cfg(shards)
	c.Params, c.MaxTicks, c.Faults, c.Journal = "netsys", netBudget, f, j
	c.OnFault = func(ev *engine.FaultEvent) { fr.events = append(fr.events, *ev) }
	if mod != nil {
		mod(&c)
	}
	var err error
	if fr.res, err = engine.Run(w, c); err != nil {
		t.Fatal(err)
	}
	fr.res.Words, fr.journal = nil, j.b
	return fr
}

// TestFaultsOnRandomNetworks: random networks with timers, end-of-tick
// work and fault profiles give at every shard count (1..7) the reference
// model's result (trace, state, outcome, ticks, messages, fault counts)
// and its fault decisions, reported by Config.OnFault in the same order,
// the same journal bytes, and journal flags that match the decisions.
func TestFaultsOnRandomNetworks(t *testing.T) {
	rapid.Check(t, func(t *rapid.T) {
		s := genNetSys(t)
		def := s.def()
		want := runNet(t, s, def, 1, nil)
		f := s.faults
		ref := def.ref(refmodel.Options{Params: "netsys", MaxTicks: netBudget, MaxMsgs: -1,
			Drop: uint64(f.Drop), Dup: uint64(f.Dup), Delay: uint64(f.Delay), MaxDelay: uint64(f.MaxDelay), FaultSeed: f.Seed})
		got := fmt.Sprintf("trace %016x state %016x %v ticks %d msgs %d blocks %d faults dropped=%d duplicated=%d delayed=%d",
			want.res.Trace, want.res.State, want.res.Outcome, want.res.Ticks, want.res.Msgs, want.res.Blocks,
			want.res.Faults.Dropped, want.res.Faults.Duplicated, want.res.Faults.Delayed)
		exp := fmt.Sprintf("trace %016x state %016x %s ticks %d msgs %d blocks %d faults %s",
			ref.Trace, ref.State, ref.Outcome, ref.Ticks, ref.Msgs, ref.Blocks, ref.Faults)
		if got != exp {
			t.Fatalf("engine    %s\nreference %s", got, exp)
		}
		// The reference logs decisions as it makes them; the engine
		// reports them by emission tick, src and emission index.
		refLog := slices.Clone(ref.FaultLog)
		slices.SortStableFunc(refLog, func(x, y refmodel.Fault) int {
			return cmp.Or(cmp.Compare(x.Emitted, y.Emitted), cmp.Compare(x.Src, y.Src), cmp.Compare(x.Index, y.Index))
		})
		if len(refLog) != len(want.events) {
			t.Fatalf("%d fault events, reference %d", len(want.events), len(refLog))
		}
		names := map[string]engine.FaultKind{"drop": engine.FaultDropped, "dup": engine.FaultDuplicated, "delay": engine.FaultDelayed}
		var n engine.FaultCounts
		for i, e := range want.events {
			r := refLog[i]
			if e.Tick != r.Tick || e.Src != r.Src || e.Dst != r.Dst || uint16(e.Kind) != r.Kind || e.A != r.A || e.B != r.B ||
				e.Index != r.Index || e.Fault != names[r.Fault] || e.At != r.At {
				t.Fatalf("fault event %d: %+v, reference %+v", i, e, r)
			}
			switch e.Fault {
			case engine.FaultDropped:
				n.Dropped++
			case engine.FaultDuplicated:
				n.Duplicated++
			case engine.FaultDelayed:
				n.Delayed++
			}
		}
		if n != want.res.Faults {
			t.Fatalf("events count %+v, the run %+v", n, want.res.Faults)
		}
		checkFlags(t, want)
		for _, shards := range []int{2, rapid.IntRange(3, 7).Draw(t, "shards")} {
			other := runNet(t, s, def, shards, nil)
			if !reflect.DeepEqual(other.res, want.res) || !reflect.DeepEqual(other.events, want.events) || !bytes.Equal(other.journal, want.journal) {
				t.Fatalf("shards %d: %+v (%d events, %d journal bytes), shards 1: %+v (%d events, %d journal bytes)",
					shards, other.res, len(other.events), len(other.journal), want.res, len(want.events), len(want.journal))
			}
		}
	})
}

// checkFlags checks that every delayed message and duplicate copy that
// the run delivered is a journal entry with the flags SPEC §7 gives, at
// the tick its event names, and that no other entry has flags.
func checkFlags(t *rapid.T, r faultRun) {
	type key struct {
		tick     uint64
		src, dst uint32
		a        uint64
		flags    uint16
	}
	late := map[key]int{}
	for _, e := range r.events {
		if e.Fault != engine.FaultDropped && e.At < r.res.Ticks {
			fl := trace.FlagDelayed
			if e.Fault == engine.FaultDuplicated {
				fl = trace.FlagCopy
			}
			late[key{e.At, e.Src, e.Dst, e.A, fl}]++
		}
	}
	b := r.journal
	for len(b) > 0 {
		h, ok := trace.DecodeBlockHeader(b)
		if !ok {
			t.Fatalf("bad block header")
		}
		b = b[trace.BlockHeaderSize:]
		for range h.Count {
			e := trace.DecodeEntry(b)
			b = b[trace.EntrySize:]
			if e.Flags == 0 {
				continue
			}
			k := key{uint64(e.Tick), e.Src, e.Dst, e.A, e.Flags}
			if late[k] == 0 {
				t.Fatalf("journal entry %+v with flags and no fault event", e)
			}
			late[k]--
		}
	}
	for k, c := range late {
		if c != 0 {
			t.Fatalf("fault event %+v: %d late messages not in the journal", k, c)
		}
	}
}

// TestFaultyRunsResumeFromEveryCheckpoint: a random network with faults
// checkpointed at every tick resumes from any checkpoint, at any shard
// count, to the uninterrupted run's result, journal and fault counts, and
// reports exactly the fault events after the checkpoint.
func TestFaultyRunsResumeFromEveryCheckpoint(t *testing.T) {
	rapid.Check(t, func(t *rapid.T) {
		s := genNetSys(t)
		def := s.def()
		var cps []*engine.Checkpoint
		var sizes []int // journal size at each checkpoint
		var j *memJournal
		want := runNet(t, s, def, rapid.IntRange(1, 4).Draw(t, "shards"), func(c *engine.Config) {
			j = c.Journal.(*memJournal)
			c.SnapshotEvery = 1
			c.Snapshot = func(cp *engine.Checkpoint) error {
				cps = append(cps, cp.Clone())
				sizes = append(sizes, len(j.b))
				return nil
			}
		})
		if len(cps) == 0 {
			return
		}
		k := rapid.IntRange(0, len(cps)-1).Draw(t, "checkpoint")
		cp := cps[k]
		var before []engine.FaultEvent // events reported up to the checkpoint's boundary
		count := engine.FaultCounts{}
		for _, e := range want.events {
			if count == cp.Faults {
				break
			}
			before = append(before, e)
			switch e.Fault {
			case engine.FaultDropped:
				count.Dropped++
			case engine.FaultDuplicated:
				count.Duplicated++
			case engine.FaultDelayed:
				count.Delayed++
			}
		}
		got := runNet(t, s, def, rapid.IntRange(1, 7).Draw(t, "resume shards"), func(c *engine.Config) {
			c.Resume = cp
			c.Journal.(*memJournal).b = slices.Clone(want.journal[:sizes[k]])
		})
		if !reflect.DeepEqual(got.res, want.res) {
			t.Fatalf("resume at tick %d: %+v, want %+v", cp.Tick, got.res, want.res)
		}
		if !bytes.Equal(got.journal, want.journal) {
			t.Fatalf("resume at tick %d: journal differs", cp.Tick)
		}
		if !reflect.DeepEqual(append(before, got.events...), want.events) {
			t.Fatalf("resume at tick %d: %d events after the checkpoint, want %d", cp.Tick, len(got.events), len(want.events)-len(before))
		}
	})
}

// TestBuffersDoNotChangeResults: a run given the buffers of earlier runs
// (other systems, other shard counts, runs ended by a budget with
// messages pending, with faults or with oscillation detection) ends
// exactly as a run given none.
func TestBuffersDoNotChangeResults(t *testing.T) {
	var buf engine.Buffers
	rapid.Check(t, func(t *rapid.T) {
		s := genNetSys(t)
		if !rapid.Bool().Draw(t, "faults") {
			s.faults = engine.FaultParams{} // detection runs
		}
		def := s.def()
		shards := rapid.IntRange(1, 7).Draw(t, "shards")
		want := runNet(t, s, def, shards, nil)
		for range 2 {
			got := runNet(t, s, def, shards, func(c *engine.Config) { c.Buffers = &buf })
			if !reflect.DeepEqual(got, want) {
				t.Fatalf("shards %d with kept buffers: %+v (%d events), without: %+v (%d events)", shards, got.res, len(got.events), want.res, len(want.events))
			}
		}
	})
}

// TestBuffersDoNotChangeDetection: random systems that often cycle
// (closed cells, timers, end-of-tick work), under global oscillation
// detection, halt and damp, end exactly the same with the buffers of
// earlier runs as without.
func TestBuffersDoNotChangeDetection(t *testing.T) {
	var buf engine.Buffers
	oscillated := 0
	rapid.Check(t, func(t *rapid.T) {
		def := genRandSys(t, 12, rapid.Bool().Draw(t, "late")).def()
		c := cfg(rapid.IntRange(1, 7).Draw(t, "shards"))
		c.MaxTicks, c.Damp = 300, rapid.Bool().Draw(t, "damp")
		want := runSys(t, def, c).res
		c.Buffers = &buf
		for range 2 {
			got := runSys(t, def, c).res
			if !reflect.DeepEqual(got, want) {
				t.Fatalf("with kept buffers: %+v %+v, without: %+v %+v", got, got.Oscillation, want, want.Oscillation)
			}
		}
		if want.Oscillation != nil {
			oscillated++
		}
	})
	if oscillated == 0 {
		t.Fatal("no system oscillated: the property says nothing about detection")
	}
}

// program writes s (without end-of-tick work) as a Lexum program
// (docs/language.md): one type per domain, the same state words (x, then
// receipts), kinds, payloads and timers as def, so that both runs must
// give the same trace and state.
func (s *netSys) program() string {
	var b strings.Builder
	b.WriteString("workload netsys\n")
	emit := func(indent string, o netSend, a string) {
		if o.delay == 0 {
			fmt.Fprintf(&b, "%semit(%d, Data, %s, 0)\n", indent, o.dst, a)
		} else {
			fmt.Fprintf(&b, "%semit_after(%d, %d, Data, %s, 0)\n", indent, o.delay+1, o.dst, a)
		}
	}
	for d := range s.n {
		fmt.Fprintf(&b, "type T%d {\n    x: u64\n    r: u64\n", d)
		if k := slices.Index(s.boots, uint32(d)); k >= 0 {
			b.WriteString("    on Tick() {\n        r += 1\n")
			for _, e := range s.seeds[k] {
				emit("        ", e, fmt.Sprint(e.a))
			}
			b.WriteString("    }\n")
		}
		fmt.Fprintf(&b, "    on Data(a) {\n        r += 1\n        let hops = a >> 4\n        let v = a & 15\n        let k = x * 16 + v\n")
		fmt.Fprintf(&b, "        if hops == 0 {\n            x = (x + v) %% %d\n        }", s.m)
		for key, e := range s.table[d] {
			fmt.Fprintf(&b, " else if k == %d {\n            x = %d\n", key, e.next)
			for _, o := range e.out {
				emit("            ", o, fmt.Sprintf("(hops - 1) << 4 | %d", o.a&15))
			}
			b.WriteString("        }")
		}
		b.WriteString("\n    }\n}\n")
	}
	b.WriteString("domains {\n")
	for d := range s.n {
		boots := ""
		if slices.Contains(s.boots, uint32(d)) {
			boots = " boots"
		}
		fmt.Fprintf(&b, "    d%d: T%d%s\n", d, d, boots)
	}
	b.WriteString("}\n")
	return b.String()
}

// TestRandomProgramsWithFaults: random programs in the Lexum language —
// networks with timers — under random fault profiles give, at any shard
// count, exactly the trace, state, fault decisions and journal of the
// same network written in Go (which TestFaultsOnRandomNetworks holds to
// the reference model), and resume from any checkpoint to the
// uninterrupted run.
func TestRandomProgramsWithFaults(t *testing.T) {
	rapid.Check(t, func(t *rapid.T) {
		s := genNetSys(t)
		s.ender, s.ends = false, nil
		want := runNet(t, s, s.def(), 1, nil)
		src := s.program()
		prog, err := lang.Compile("netsys.lxm", src)
		if err != nil {
			t.Fatalf("%v\n%s", err, src)
		}
		spec := prog.Spec()
		p := spec.Defaults()
		var cps []*engine.Checkpoint
		runProg := func(shards int, mod func(c *engine.Config)) faultRun {
			return runFaulty(t, spec.New(p), s.faults, shards, mod)
		}
		got := runProg(rapid.IntRange(1, 7).Draw(t, "shards"), func(c *engine.Config) {
			c.SnapshotEvery = 1
			c.Snapshot = func(cp *engine.Checkpoint) error {
				cps = append(cps, cp.Clone())
				return nil
			}
		})
		if !reflect.DeepEqual(got, want) {
			t.Fatalf("program: %+v (%d events)\nGo:      %+v (%d events)\n%s", got.res, len(got.events), want.res, len(want.events), src)
		}
		if len(cps) == 0 {
			return
		}
		cp := cps[rapid.IntRange(0, len(cps)-1).Draw(t, "checkpoint")]
		res := runProg(rapid.IntRange(1, 7).Draw(t, "resume shards"), func(c *engine.Config) { c.Resume = cp }).res
		if !reflect.DeepEqual(res, want.res) {
			t.Fatalf("program resumed at tick %d: %+v, want %+v\n%s", cp.Tick, res, want.res, src)
		}
	})
}
