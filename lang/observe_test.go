package lang

import (
	"fmt"
	"slices"
	"strings"
	"testing"

	"github.com/lexbench/lexbench/engine"
)

// hiddenOf compiles a program of one type T (fields f, g, h: u64, c: i64,
// arr: [4]u64, r: rng; body spliced in) and returns T's hidden fields.
func hiddenOf(t *testing.T, body string) []string {
	t.Helper()
	src := `workload w
kind Go = 12
fn id(x: u64) -> u64 { return x }
fn plus(x: u64, y: u64) -> u64 { return x + y }
fn pick(x: u64, y: u64) -> u64 {
    if x < y { return x }
    return y
}
fn halve(x: u64) -> u64 { return x / 2 }
fn scale(x: u64, y: u64) -> u64 { return x / max(y, 1) }
fn back(x: u64, y: u64) -> u64 { return x + y - y }
type T {
    f: u64
    g: u64
    h: u64
    c: i64
    arr: [4]u64
    r: rng
` + body + `
}
domains { t: T[2] boots }
goal ends { forall k in t { assert t(k).f + t(k).g + t(k).h + t(k).arr[0] + u64(t(k).c) + t(k).r >= 0 } }
figure sum { return t(0).f + t(0).g }
`
	p := compileSrc(t, src)
	for _, l := range p.HiddenFields() {
		if name, fields, ok := strings.Cut(l, ": "); ok && name == "T" {
			return strings.Split(fields, ", ")
		}
	}
	return nil
}

// Each rule of the analysis (observe.go), one field at a time: f is the
// field under test; g is read wherever f's value must go somewhere
// harmless. r (rng) is hidden unless rng() is used.
func TestObservabilityRules(t *testing.T) {
	all := []string{"f", "g", "h", "c", "arr", "r"}
	minus := func(xs ...string) []string {
		var out []string
		for _, a := range all {
			if !slices.Contains(xs, a) {
				out = append(out, a)
			}
		}
		return out
	}
	for _, c := range []struct {
		what, body string
		hidden     []string
	}{
		{"nothing reads anything", `on Go(a, b) { }`, all},
		{"a counter", `on Go(a, b) { f += 1  f = f + 1  f = f * 3 + a  f += g }`, minus("g")},
		{"updated from a message and a constant", `on Go(a, b) { f = a + b + 7 + now + src + self }`, all},
		{"wrapping subtraction is no fault", `on Go(a, b) { f -%= 1  f = f -% a }`, all},
		{"if condition", `on Go(a, b) { if f > 3 { g = 1 } }`, minus("f")},
		{"control dependence on the field itself", `on Go(a, b) { if f < 10 { f += 1 } }`, minus("f")},
		{"else-if condition", `on Go(a, b) { if a > 3 { } else if f == 2 { } }`, minus("f")},
		{"while condition", `on Go(a, b) { let i = 0
			while i < f { i += 1 } }`, minus("f")},
		{"&& operand stored", `on Go(a, b) { let x = a > 1 && f > 1 }`, minus("f")},
		{"|| operand stored", `on Go(a, b) { let x = f > 1 || a > 1 }`, minus("f")},
		{"value comparison stored in itself", `on Go(a, b) { f = u64(f > 1) }`, all},
		{"for bound", `on Go(a, b) { for i in 0..f { } }`, minus("f")},
		{"for start", `on Go(a, b) { for i in f..10 { } }`, minus("f")},
		{"emit payload a", `on Go(a, b) { emit(self, Go, f, 0) }`, minus("f")},
		{"emit payload b", `on Go(a, b) { emit(self, Go, 0, f) }`, minus("f")},
		{"emit destination", `on Go(a, b) { emit(f % 2, Go, 0, 0) }`, minus("f")},
		{"id function argument", `on Go(a, b) { emit(t(f % 2), Go, 0, 0) }`, minus("f")},
		{"id function argument not emitted", `on Go(a, b) { let x = t(f) }`, minus("f")},
		{"timer delay", `on Go(a, b) { emit_after(1 + f % 2, self, Go, 0, 0) }`, minus("f")},
		{"u64 subtraction, left", `on Go(a, b) { g = g + f - f }`, minus("f", "g")},
		{"u64 subtraction of itself", `on Go(a, b) { f = f + 3 - 3 }`, minus("f")},
		{"u64 -= of itself", `on Go(a, b) { f -= 0 }`, minus("f")},
		{"u64 -= by a field", `on Go(a, b) { g += f  g -= f }`, minus("f", "g")},
		{"i64 subtraction", `on Go(a, b) { c = c - 1  c -= 5 }`, all},
		{"divisor", `on Go(a, b) { g = g / max(f, 1) }`, minus("f")},
		{"divisor of itself", `on Go(a, b) { f = 100 / (f + 1) }`, minus("f")},
		{"dividend of itself", `on Go(a, b) { f = f / 3  f %= 7  f /= 2 }`, all},
		{"modulo divisor", `on Go(a, b) { f = a % (f | 1) }`, minus("f")},
		{"compound divisor", `on Go(a, b) { g /= f | 1 }`, minus("f")},
		{"another field", `on Go(a, b) { g = f }`, minus("f")},
		{"another field, compound", `on Go(a, b) { g += f }`, minus("f")},
		{"an array element", `on Go(a, b) { arr[a % 4] = f }`, minus("f")},
		{"an array index, write", `on Go(a, b) { arr[f % 4] = 1 }`, minus("f")},
		{"an array index, read", `on Go(a, b) { g = g + arr[f % 4] }`, minus("f", "arr")},
		{"a histogram", `on Go(a, b) { arr[a % 4] += 1  arr[b % 4] = arr[b % 4] * 2 }`, all},
		{"an array read into itself", `on Go(a, b) { arr[0] = arr[1] + arr[2] }`, all},
		{"an array read into a field", `on Go(a, b) { f = arr[a % 4] }`, minus("arr")},
		{"through a local", `on Go(a, b) { let x = f + 1
			let y = x * 2
			g = y }`, minus("f")},
		{"through a local into itself", `on Go(a, b) { let x = f + 1
			f = x }`, all},
		{"a loop-carried local", `on Go(a, b) { let x = 0
			let y = 0
			for i in 0..4 { g = y
				y = x
				x = f } }`, minus("f")},
		{"a loop variable", `on Go(a, b) { for i in 0..a { f += i } }`, all},
		{"through a function result", `on Go(a, b) { g = id(f) }`, minus("f")},
		{"a function result into itself", `on Go(a, b) { f = plus(f, a) }`, all},
		{"a function's condition", `on Go(a, b) { f = pick(f, 10) }`, minus("f")},
		{"a function's divisor", `on Go(a, b) { f = scale(a, f) }`, minus("f")},
		{"a function's dividend", `on Go(a, b) { f = scale(f, a) + halve(f) }`, all},
		{"a function's subtraction", `on Go(a, b) { f = back(f, 1) }`, minus("f")},
		{"a function argument not in the result", `on Go(a, b) { g = pick(a, 3) + id(a)
			f = plus(a, 1) }`, all},
		{"rng into a counter", `on Go(a, b) { f += rng() }`, minus("r")}, // r flows into another field
		{"rng unused", `on Go(a, b) { let x = rng() }`, all},
		{"rng into an emission", `on Go(a, b) { emit(self, Go, rng() % 3, 0) }`, minus("r")},
		{"rng into a field", `on Go(a, b) { g = rng() }`, minus("r")},
		{"goal target", `goal G { target f == 0 || g == 1 } on Go(a, b) { }`, minus("f", "g")},
		{"invariant", `invariant I { f >= 0 } on Go(a, b) { }`, minus("f")},
		{"strategy transition", `goal G { target g == 5 strategy { Up } }
			transition Up { step { g += 1  f += 1 } }`, minus("g")},
		{"init is before tick 0", `init { g = f + rng() } on Go(a, b) { }`, all},
	} {
		got := hiddenOf(t, c.body)
		if !slices.Equal(got, c.hidden) {
			t.Errorf("%s: hidden %v, want %v\n%s", c.what, got, c.hidden, c.body)
		}
	}
}

// A type with no hidden field has no mask (detection compares whole
// spans, as for a native workload); a hidden array leaves out each of its
// words, at the offsets the keys give it.
func TestKeptMasks(t *testing.T) {
	p := compileSrc(t, `workload w
key k = 3 in 1..200 "array length"
type A { x: u64  on Tick() { emit(self, Tick, x, 0) } }
type B {
    x: u64
    hist: [k]u64
    y: u64
    on Tick() { hist[x % k] += 1  emit(self, Tick, y, 0) }
}
domains { a: A boots  b: B[2] boots }
`)
	for _, k := range []uint64{3, 64, 130} {
		pr := p.Spec().Defaults()
		pr.K[0] = k
		w := p.Spec().New(pr).(*instance)
		if m := w.Kept(0); m != nil {
			t.Fatalf("A: mask %x, want nil", m)
		}
		m := w.Kept(2)
		if len(m) != int(k+2+63)/64 {
			t.Fatalf("k=%d: mask of %d words", k, len(m))
		}
		for i := uint64(0); i < k+2; i++ {
			kept := m[i/64]>>(i%64)&1 == 1
			if want := i == 0 || i == k+1; kept != want {
				t.Fatalf("k=%d: word %d kept %v, want %v", k, i, kept, want)
			}
		}
		if q := p.WithoutProjection().Spec().New(pr).(*instance); q.Kept(2) != nil {
			t.Fatalf("WithoutProjection: mask %x", q.Kept(2))
		}
	}
	want := []string{"B: hist"}
	if got := p.HiddenFields(); fmt.Sprint(got) != fmt.Sprint(want) {
		t.Fatalf("HiddenFields %q, want %q", got, want)
	}
}

// A program whose transitions use now (the tick) in a condition, an
// emission or a compared field is not the same at every tick: a repeated
// configuration proves no cycle, and detection does not run (here it
// would report tick 1, and the run ends at 51). now kept only in a hidden
// field changes nothing.
func TestNowTurnsDetectionOff(t *testing.T) {
	for _, c := range []struct {
		body    string
		dep     bool
		outcome engine.Outcome
		ticks   uint64
	}{
		{"if now < 50 { emit(self, Tick, 0, 0) }", true, engine.Converged, 51},
		{"let k = now + 1\n if k < 50 { emit(self, Tick, 0, 0) }", true, engine.Converged, 50},
		{"x = now % 2\n if x < 5 { emit(self, Tick, 0, 0) }", true, engine.Budget, 200},
		{"emit(self, Tick, now % 2, 0)", true, engine.Budget, 200},
		{"last = now\n emit(self, Tick, 0, 0)", false, engine.Oscillating, 1},
		{"last = now + x\n emit(self, Tick, 0, 0)", false, engine.Oscillating, 1},
	} {
		src := "workload w\ntype T {\n x: u64\n last: u64\n on Tick() {\n" + c.body + "\n }\n}\ndomains { t: T boots }\n"
		p := compileSrc(t, src)
		if got := len(p.TickDependent()) > 0; got != c.dep {
			t.Fatalf("%q: tick-dependent %v, want %v", c.body, got, c.dep)
		}
		for _, local := range []bool{false, true} {
			pr := p.Spec().Defaults()
			cfg := engine.Config{Params: p.Spec().Text(pr), Shards: 1, MaxTicks: 200, MaxMsgs: -1}
			if local {
				cfg.Detect = engine.DetectLocal
			}
			res, err := engine.Run(p.Spec().New(pr), cfg)
			if err != nil || res.Outcome != c.outcome || res.Ticks != c.ticks {
				t.Fatalf("%q local %v: %v %v ticks %d, want %v %d", c.body, local, err, res.Outcome, res.Ticks, c.outcome, c.ticks)
			}
		}
	}
}
