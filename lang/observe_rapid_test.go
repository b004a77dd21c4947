package lang

import (
	"fmt"
	"reflect"
	"slices"
	"strings"
	"testing"

	"pgregory.net/rapid"

	"github.com/lexbench/lexbench/engine"
	"github.com/lexbench/lexbench/trace"
)

// Random small programs for the observability analysis (observe.go):
// groups of P nodes pass tokens (Ping messages) around; each node's
// handler is a random list of statements, each from a template whose
// use of the fields is known, so the generator computes on its own which
// fields are observable — the independent reference the compiler's
// analysis must equal. A driver gives each group a token at tick 0 and
// again on its later rounds; payloads and most fields stay below a small
// modulus, so runs often cycle, while counters (f += 1, f = f·3 + 1, …)
// make every full configuration new.

type randProg struct {
	src    string
	fields []string // the Node type's fields, in declaration order
	hidden []string // the reference classification
	// tickDep: the tick (now) reaches an observable field, so detection
	// must not run
	tickDep bool
	groups  int
	per     int // nodes per group
}

// randUse is the bookkeeping of the reference: which fields are used as
// a sink (condition, bound, emission, faulting operand, invariant) and
// which flow into which other field.
type randUse struct {
	sink map[string]bool
	flow map[[2]string]bool
}

func (u *randUse) into(dst string, srcs ...string) {
	for _, s := range srcs {
		if s != dst {
			u.flow[[2]string{s, dst}] = true
		}
	}
}

func (u *randUse) uses(srcs ...string) {
	for _, s := range srcs {
		u.sink[s] = true
	}
}

func genProg(t *rapid.T) *randProg {
	nf := rapid.IntRange(1, 4).Draw(t, "fields")
	hasArr := rapid.Bool().Draw(t, "arr")
	hasRng := rapid.Bool().Draw(t, "rng")
	M := rapid.IntRange(2, 4).Draw(t, "M")
	P := rapid.IntRange(1, 3).Draw(t, "per")
	G := rapid.IntRange(1, 3).Draw(t, "groups")
	rounds := rapid.IntRange(1, 3).Draw(t, "rounds")
	gap := rapid.IntRange(1, 9).Draw(t, "gap")
	var fields []string
	for i := range nf {
		fields = append(fields, fmt.Sprintf("f%d", i))
	}
	scalars := slices.Clone(fields)
	field := func(label string) string { return rapid.SampledFrom(scalars).Draw(t, label) }
	u := &randUse{sink: map[string]bool{}, flow: map[[2]string]bool{}}
	var body []string
	locals := 0
	peer := fmt.Sprintf("node(index, (member + 1) %% %d)", P)
	nst := rapid.IntRange(0, 8).Draw(t, "statements")
	for i := range nst {
		X, Y := field(fmt.Sprintf("X%d", i)), field(fmt.Sprintf("Y%d", i))
		C := rapid.IntRange(0, 3).Draw(t, fmt.Sprintf("C%d", i))
		var s string
		switch k := rapid.IntRange(0, 23).Draw(t, fmt.Sprintf("template%d", i)); k {
		case 0:
			s = fmt.Sprintf("%s = (%s + a) %% %d", X, Y, M)
			u.into(X, Y)
		case 1, 2: // counters, twice as likely
			s = fmt.Sprintf("%s += 1", X)
		case 3:
			s = fmt.Sprintf("%s += a", X)
		case 4:
			s = fmt.Sprintf("%s = %s * 3 + 1", X, X)
		case 5:
			s = fmt.Sprintf("%s += %s", X, Y)
			u.into(X, Y)
		case 6:
			s = fmt.Sprintf("if %s %% 2 == %d { %s += 1 }", Y, C%2, X)
			u.uses(Y)
		case 7:
			locals++
			s = fmt.Sprintf("let t%d = %s + a\n        %s = t%d %% %d", locals, Y, X, locals, M)
			u.into(X, Y)
		case 8:
			locals++
			s = fmt.Sprintf("let t%d = %s * 2\n        if t%d > %d { %s = (%s + 1) %% %d }", locals, Y, locals, C, X, X, M)
			u.uses(Y)
		case 9:
			s = fmt.Sprintf("%s = mixf(%s, a)", X, Y)
			u.into(X, Y)
		case 10:
			s = fmt.Sprintf("%s = pick(%s, %d)", X, Y, C)
			u.uses(Y)
			u.into(X, Y)
		case 11:
			s = fmt.Sprintf("%s = %s -%% %s", X, X, Y)
			u.into(X, Y)
		case 12: // a u64 subtraction that cannot wrap: still a faulting operand
			s = fmt.Sprintf("%s = (%s | 8) - 8", X, Y)
			u.uses(Y)
			u.into(X, Y)
		case 13:
			s = fmt.Sprintf("%s = %s / max(%s, 1)", X, X, Y)
			u.uses(Y)
			u.into(X, Y)
		case 14:
			s = fmt.Sprintf("for i in 0..%s %% 3 { %s += 1 }", Y, X)
			u.uses(Y)
		case 15:
			s = fmt.Sprintf("if a > %d { %s = %s %% %d }", C, X, Y, M)
			u.into(X, Y)
		case 16:
			s = fmt.Sprintf("%s = %s / 3", X, Y) // a static divisor
			u.into(X, Y)
		case 17, 18, 19:
			if !hasArr {
				s = fmt.Sprintf("%s += 2", X)
				break
			}
			switch k {
			case 17:
				if C < 2 {
					s = "arr[a % 4] += 1"
				} else {
					s = fmt.Sprintf("arr[%s %% 4] += 1", Y)
					u.uses(Y)
				}
			case 18:
				s = fmt.Sprintf("%s = arr[a %% 4] %% %d", X, M)
				u.into(X, "arr")
			case 19:
				s = fmt.Sprintf("arr[a %% 4] = %s", Y)
				u.into("arr", Y)
			}
		case 22: // the tick: harmless in a hidden field only
			s = fmt.Sprintf("%s += now", X)
			u.into(X, "now")
		case 23:
			s = fmt.Sprintf("%s = now %% %d", X, M)
			u.into(X, "now")
		case 20, 21:
			if !hasRng {
				s = fmt.Sprintf("%s = %s | 1", X, X)
				break
			}
			if k == 20 {
				s = fmt.Sprintf("%s = rng() %% %d", X, M)
			} else {
				s = fmt.Sprintf("%s += rng()", X)
			}
			u.into(X, "r")
		}
		body = append(body, s)
	}
	Y := field("Ypass")
	var pass string
	switch rapid.IntRange(0, 4).Draw(t, "pass") {
	case 0:
		pass = fmt.Sprintf("emit(%s, Ping, (%s + a) %% %d, 0)", peer, Y, M)
		u.uses(Y)
	case 1: // the token may die
		pass = fmt.Sprintf("if %s %% %d != 0 { emit(%s, Ping, a %% %d, 0) }", Y, M, peer, M)
		u.uses(Y)
	case 2:
		pass = fmt.Sprintf("emit_after(1 + %s %% 2, %s, Ping, a, 0)", Y, peer)
		u.uses(Y)
	case 3:
		pass = fmt.Sprintf("emit(node(index, %s %% %d), Ping, a %% %d, 0)", Y, P, M)
		u.uses(Y)
	case 4:
		pass = fmt.Sprintf("emit(%s, Ping, a, 0)", peer)
	}
	body = append(body, pass)
	var decl []string
	for _, f := range fields {
		decl = append(decl, f+": u64")
	}
	if hasArr {
		decl = append(decl, "arr: [4]u64")
		fields = append(fields, "arr")
	}
	if hasRng {
		decl = append(decl, "r: rng")
		fields = append(fields, "r")
	}
	if rapid.Bool().Draw(t, "invariant") {
		Y := field("Yinv")
		decl = append(decl, fmt.Sprintf("invariant Same { %s == %s }", Y, Y))
		u.uses(Y)
	}
	var hidden []string
	for _, f := range fields {
		h := !u.sink[f]
		for e := range u.flow {
			h = h && e[0] != f
		}
		if h {
			hidden = append(hidden, f)
		}
	}
	tickDep := false
	for e := range u.flow {
		tickDep = tickDep || e[0] == "now" && !slices.Contains(hidden, e[1])
	}
	src := fmt.Sprintf(`workload rnd
kind Ping = 12
fn mixf(x: u64, y: u64) -> u64 { return (x * 7 + y) %% 5 }
fn pick(x: u64, y: u64) -> u64 {
    if x < y { return x }
    return y
}
type Driver {
    left: u64
    init { left = %d }
    on Tick() {
        for g in 0..%d { emit(node(g, 0), Ping, g %% %d, 0) }
        left -= 1
        if left > 0 { emit_after(%d, self, Tick, 0, 0) }
    }
}
type Node {
    %s
    on Ping(a, b) {
        %s
    }
}
domains {
    driver: Driver boots
    grp[%d] { node: Node[%d] }
}
`, rounds, G, M, gap, strings.Join(decl, "\n    "), strings.Join(body, "\n        "), G, P)
	return &randProg{src: src, fields: fields, hidden: hidden, tickDep: tickDep, groups: G, per: P}
}

func (rp *randProg) compile(t *rapid.T) *Program {
	p, err := Compile("rnd.lxm", rp.src)
	if err != nil {
		t.Fatalf("%v\n%s", err, rp.src)
	}
	return p
}

// The compiler's classification equals the generator's reference.
func TestObservabilityMatchesTheReference(t *testing.T) {
	rapid.Check(t, func(t *rapid.T) {
		rp := genProg(t)
		p := rp.compile(t)
		var got []string
		for _, l := range p.HiddenFields() {
			if name, fs, ok := strings.Cut(l, ": "); ok && name == "Node" {
				got = strings.Split(fs, ", ")
			} else {
				t.Fatalf("hidden %q outside Node\n%s", l, rp.src)
			}
		}
		if !slices.Equal(got, rp.hidden) {
			t.Fatalf("hidden %v, reference %v\n%s", got, rp.hidden, rp.src)
		}
		if dep := len(p.TickDependent()) > 0; dep != rp.tickDep {
			t.Fatalf("tick-dependent %v, reference %v\n%s", dep, rp.tickDep, rp.src)
		}
	})
}

// recorder runs a program without detection and keeps, per tick, what was
// delivered and the state at the tick's start.
type recorder struct {
	*instance
	words []uint64
	ticks []uint64                 // ticks with a delivery, ascending
	snaps [][]uint64               // the state at the start of each
	msgs  map[uint64][]trace.Entry // delivered at each tick, in ≺ order
}

func (r *recorder) Init(words []uint64) { r.words = words; r.instance.Init(words) }

func (r *recorder) Deliver(out *engine.Outbox, msgs []trace.Entry) {
	if len(msgs) == 0 {
		return
	}
	t := uint64(msgs[0].Tick) // the tick being delivered (out.Tick() is the next one's)
	if len(r.ticks) == 0 || r.ticks[len(r.ticks)-1] != t {
		r.ticks = append(r.ticks, t)
		r.snaps = append(r.snaps, slices.Clone(r.words))
	}
	r.msgs[t] = append(r.msgs[t], msgs...)
	r.instance.Deliver(out, msgs)
}

// state is the state at the start of tick t: the one before the first
// delivery at or after t (nothing changes the state between deliveries:
// these programs have no goals), or the final one.
func (r *recorder) state(t uint64, final []uint64) []uint64 {
	i, _ := slices.BinarySearch(r.ticks, t)
	if i == len(r.ticks) {
		return final
	}
	return r.snaps[i]
}

// proj is domain d's words that detection compares.
func proj(w *instance, d uint32, words []uint64) []uint64 {
	off, n := w.Span(d)
	m := w.Kept(d)
	var out []uint64
	for i := range n {
		if m == nil || i/64 >= len(m) || m[i/64]>>(i%64)&1 == 1 {
			out = append(out, words[off+i])
		}
	}
	return out
}

func sameEntry(a, b trace.Entry) bool {
	return a.Src == b.Src && a.Dst == b.Dst && a.Kind == b.Kind && a.A == b.A && a.B == b.B
}

// cyclesFrom checks, on a run without detection that goes on to `end`,
// that from tick h on the domains [lo, hi) repeat their projected states
// and the messages delivered to them with period p, up to tick `until`.
func cyclesFrom(t *rapid.T, rp *randProg, rec *recorder, final []uint64, lo, hi uint32, h, p, until uint64) {
	for tk := h; tk < until; tk++ {
		a, b := rec.state(tk, final), rec.state(tk-p, final)
		for d := lo; d < hi; d++ {
			if !slices.Equal(proj(rec.instance, d, a), proj(rec.instance, d, b)) {
				t.Fatalf("tick %d: domain %d's projected state %v differs from tick %d's %v (cycle at %d, period %d)\n%s",
					tk, d, proj(rec.instance, d, a), tk-p, proj(rec.instance, d, b), h, p, rp.src)
			}
		}
		var ma, mb []trace.Entry
		for _, e := range rec.msgs[tk] {
			if e.Dst >= lo && e.Dst < hi {
				ma = append(ma, e)
			}
		}
		for _, e := range rec.msgs[tk-p] {
			if e.Dst >= lo && e.Dst < hi {
				mb = append(mb, e)
			}
		}
		if !slices.EqualFunc(ma, mb, sameEntry) {
			t.Fatalf("tick %d: delivered %v, tick %d: %v (cycle at %d, period %d)\n%s", tk, ma, tk-p, mb, h, p, rp.src)
		}
	}
}

// fullRun runs the program with detection off up to tick end.
func fullRun(t *rapid.T, p *Program, end uint64) (engine.Result, *recorder) {
	pr := p.Spec().Defaults()
	rec := &recorder{instance: p.Spec().New(pr).(*instance), msgs: map[uint64][]trace.Entry{}}
	res, err := engine.Run(rec, engine.Config{Params: p.Spec().Text(pr), Shards: 1, MaxTicks: int64(end), MaxMsgs: -1, NoDetect: true})
	if err != nil {
		t.Fatal(err)
	}
	return res, rec
}

const randTicks = 400

func detectRun(t *rapid.T, p *Program, local bool, shards int) (engine.Result, []engine.CellEvent) {
	pr := p.Spec().Defaults()
	var events []engine.CellEvent
	c := engine.Config{Params: p.Spec().Text(pr), Shards: shards, MaxTicks: randTicks, MaxMsgs: -1}
	if local {
		c.Detect = engine.DetectLocal
		c.OnCell = func(ev *engine.CellEvent) {
			e := *ev
			e.Domains = slices.Clone(ev.Domains)
			events = append(events, e)
		}
	}
	res, err := engine.Run(p.Spec().New(pr), c)
	if err != nil {
		t.Fatal(err)
	}
	return res, events
}

// Leaving the hidden fields out never makes detection wrong, and finds
// every cycle the full comparison finds, no later:
//   - a cycle found with the projection (global or in a cell) is real:
//     the run without detection, continued, repeats the projected states
//     and the messages with that period (a cell's until its next input),
//     and never quiesces;
//   - if the full comparison finds a cycle at h, the projected one finds
//     one at h or before (an equal configuration is equal projected);
//   - a run in which the projection finds nothing is the same run
//     without it (the projection changes detection only);
//   - the results are the same at every shard count.
func TestProjectedDetectionIsSound(t *testing.T) {
	rapid.Check(t, func(t *rapid.T) {
		rp := genProg(t)
		p := rp.compile(t)
		shards := rapid.IntRange(2, 7).Draw(t, "shards")
		for _, local := range []bool{false, true} {
			res, events := detectRun(t, p, local, 1)
			other, otherEv := detectRun(t, p, local, shards)
			res.Words, other.Words = nil, nil
			if !reflect.DeepEqual(res, other) || !reflect.DeepEqual(events, otherEv) {
				t.Fatalf("local %v: shards 1 %+v %+v, shards %d %+v %+v\n%s", local, res, events, shards, other, otherEv, rp.src)
			}
			full, _ := detectRun(t, p.WithoutProjection(), local, 1)
			switch {
			case full.Oscillation != nil && (res.Oscillation == nil || res.Oscillation.Tick > full.Oscillation.Tick):
				t.Fatalf("local %v: the full comparison finds %+v, the projected %+v\n%s", local, full.Oscillation, res.Oscillation, rp.src)
			case res.Oscillation == nil && (full.Trace != res.Trace || full.Outcome != res.Outcome || full.Ticks != res.Ticks):
				t.Fatalf("local %v: without a cycle found the runs differ: %v %d, full %v %d\n%s", local, res.Outcome, res.Ticks, full.Outcome, full.Ticks, rp.src)
			}
			if res.Oscillation == nil {
				continue
			}
			h, per := res.Oscillation.Tick, res.Oscillation.Period
			end := h + 4*per + 40
			fr, rec := fullRun(t, p, end)
			if !local {
				if fr.Outcome != engine.Budget {
					t.Fatalf("global cycle at %d, period %d, but the run %v at %d\n%s", h, per, fr.Outcome, fr.Ticks, rp.src)
				}
				cyclesFrom(t, rp, rec, fr.Words, 0, rec.Domains(), h, per, end)
				continue
			}
			for _, ev := range events {
				until := end // the cell's next input, if it comes before
				for tk := ev.Tick; tk < end && until == end; tk++ {
					for _, e := range rec.msgs[tk] {
						if e.Dst >= ev.First && e.Dst < ev.End && (e.Src < ev.First || e.Src >= ev.End) {
							until = tk
						}
					}
				}
				if until == ev.Tick {
					t.Fatalf("cell %d found at %d, which is an input tick\n%s", ev.Cell, ev.Tick, rp.src)
				}
				cyclesFrom(t, rp, rec, fr.Words, ev.First, ev.End, ev.Tick, ev.Period, min(until, fr.Ticks))
			}
		}
	})
}
