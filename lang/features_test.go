package lang

import (
	"fmt"
	"strings"
	"testing"

	"github.com/lexbench/lexbench/engine"
	"github.com/lexbench/lexbench/workloads"
)

// compileSrc compiles a program given as text.
func compileSrc(t *testing.T, src string) *Program {
	t.Helper()
	p, err := Compile("t.lxm", src)
	if err != nil {
		t.Fatalf("compile: %v\n%s", err, src)
	}
	return p
}

// runSrc compiles src and runs it with n and the default keys on the
// given shard counts; every shard count must give the same result, which
// it returns with the workload of the first run.
func runSrc(t *testing.T, src string, n uint64, shards ...int) (engine.Result, workloads.Workload, error) {
	t.Helper()
	p := compileSrc(t, src)
	pr := p.Spec().Defaults()
	pr.N, pr.Batch = n, 4
	var first engine.Result
	var firstW workloads.Workload
	var firstErr error
	if len(shards) == 0 {
		shards = []int{1}
	}
	for i, s := range shards {
		w := p.Spec().New(pr)
		res, err := engine.Run(w, engine.Config{Params: p.Spec().Text(pr), Shards: s, MaxTicks: -1, MaxMsgs: -1})
		if i == 0 {
			first, firstW, firstErr = res, w, err
			continue
		}
		if fmt.Sprint(err) != fmt.Sprint(firstErr) || res.Trace != first.Trace || res.State != first.State || res.Outcome != first.Outcome {
			t.Fatalf("shards=%d: %v %016x %016x %v, shards=%d: %v %016x %016x %v", s, err, res.Trace, res.State, res.Outcome,
				shards[0], firstErr, first.Trace, first.State, first.Outcome)
		}
	}
	return first, firstW, firstErr
}

// wantCompileError checks that src fails to compile with exactly the
// error at line:col.
func wantCompileError(t *testing.T, name, src string, line, col int, msg string) {
	t.Helper()
	_, err := Compile("t.lxm", src)
	want := fmt.Sprintf("t.lxm:%d:%d: %s", line, col, msg)
	if err == nil || err.Error() != want {
		t.Errorf("%s: got\n%v\nwant\n%s", name, err, want)
	}
}

// figure is the value of the named figure of w.
func figure(t *testing.T, w workloads.Workload, name string) uint64 {
	t.Helper()
	for _, f := range w.Figures() {
		if f.Name == name {
			return f.Value
		}
	}
	t.Fatalf("no figure %s in %v", name, w.Figures())
	return 0
}

// oneDomain is a program of one booting domain whose Tick handler is BODY,
// with fields FIELDS and declarations DECLS; its figure `out` is the
// field out.
const oneDomain = `workload t
DECLS
type T {
    out: u64
    FIELDS
    on Tick() {
        BODY
    }
}
domains {
    t: T boots
}
figure out { return t().out }
`

func oneDomainSrc(decls, fields, body string) string {
	r := strings.NewReplacer("DECLS", decls, "FIELDS", fields, "BODY", body)
	return r.Replace(oneDomain)
}

func TestAnyNumberOfKeys(t *testing.T) {
	// three keys: params in declaration order, each a global
	src := `workload three
key a = 1 in 0..9 "first"
key b = 2 in 0..9 "second"
key c = 3 in 0..9 "third"
type T {
    out: u64
    on Tick() { out = a * 100 + b * 10 + c }
}
domains { t: T boots }
figure out { return t().out }
`
	p := compileSrc(t, src)
	pr := p.Spec().Defaults()
	pr.N = 1
	pr.K = []uint64{4, 5, 6}
	if got, want := p.Spec().Text(pr), "lexbench/1 workload=three n=1 seed=1 batch=4096 a=4 b=5 c=6"; got != want {
		t.Fatalf("params %q, want %q", got, want)
	}
	w := p.Spec().New(pr)
	if _, err := engine.Run(w, engine.Config{Params: p.Spec().Text(pr), Shards: 1, MaxTicks: -1, MaxMsgs: -1}); err != nil {
		t.Fatal(err)
	}
	if v := figure(t, w, "out"); v != 456 {
		t.Fatalf("out = %d, want 456", v)
	}
	// no keys at all
	src = strings.NewReplacer("key a = 1 in 0..9 \"first\"\n", "", "key b = 2 in 0..9 \"second\"\n", "", "key c = 3 in 0..9 \"third\"\n", "",
		"a * 100 + b * 10 + c", "n + seed").Replace(src)
	p = compileSrc(t, src)
	pr = p.Spec().Defaults()
	pr.N, pr.Seed = 40, 2
	if got, want := p.Spec().Text(pr), "lexbench/1 workload=three n=40 seed=2 batch=4096"; got != want {
		t.Fatalf("params %q, want %q", got, want)
	}
	w = p.Spec().New(pr)
	if _, err := engine.Run(w, engine.Config{Params: p.Spec().Text(pr), Shards: 1, MaxTicks: -1, MaxMsgs: -1}); err != nil {
		t.Fatal(err)
	}
	if v := figure(t, w, "out"); v != 42 {
		t.Fatalf("out = %d, want 42", v)
	}
}

func TestConstants(t *testing.T) {
	src := oneDomainSrc(`key k = 7 in 1..9
const LIMIT = 100
const NEG: i64 = -5
const SCALED = k * LIMIT
const ON = true`, "s: i64", `
        s = NEG * 2
        if ON && s < 0 {
            out = SCALED + LIMIT + u64(-s)
        }`)
	_, w, err := runSrc(t, src, 1)
	if err != nil {
		t.Fatal(err)
	}
	if v := figure(t, w, "out"); v != 7*100+100+10 {
		t.Fatalf("out = %d", v)
	}
	for _, c := range []struct {
		name, decls string
		line, col   int
		msg         string
	}{
		{"not static", "const X = out", 2, 11, "constant X must be computed from keys, n, seed, batch, numbers and earlier constants"},
		{"later constant", "const X = Y\nconst Y = 1", 2, 11, "constant X must be computed from keys, n, seed, batch, numbers and earlier constants"},
		{"type mismatch", "const X: bool = 1", 2, 1, "type mismatch: cannot initialize constant X bool with a untyped number value"},
		{"twice", "const X = 1\nconst X = 2", 3, 1, "constant X declared twice"},
		{"reserved", "const n = 1", 2, 1, "constant n: the name is reserved or a key"},
	} {
		wantCompileError(t, c.name, oneDomainSrc(c.decls, "", ""), c.line, c.col, c.msg)
	}
	wantCompileError(t, "assign to a constant", oneDomainSrc("const X = 1", "", "X = 2"), 7, 9, "unknown field or variable X in type T")
}

func TestFunctions(t *testing.T) {
	src := oneDomainSrc(`fn clamp(x: i64, lo: i64, hi: i64) -> i64 {
    if x < lo {
        return lo
    } else if x > hi {
        return hi
    }
    return x
}
fn even(x: u64) -> bool { return x % 2 == 0 }
fn sq(x: u64) -> u64 { return x * x }
fn sumsq(a: u64, b: u64) -> u64 {
    let s = 0
    for i in a..b { s += sq(i) }
    return s
}`, "", `
        let c = clamp(-7, -3, 3) + clamp(9, -3, 3) * 10 + clamp(2, -3, 3) * 100
        if even(4) && !even(3) {
            out = u64(c) + 1000 * sumsq(1, 4)
        }`)
	_, w, err := runSrc(t, src, 1)
	if err != nil {
		t.Fatal(err)
	}
	if v, want := figure(t, w, "out"), uint64(-3+3*10+2*100+1000*(1+4+9)); v != want {
		t.Fatalf("out = %d, want %d", v, want)
	}
	for _, c := range []struct {
		name, decls, body string
		line, col         int
		msg               string
	}{
		{"recursion", "fn f(x: u64) -> u64 { return g(x) }\nfn g(x: u64) -> u64 { return f(x) }", "", 2, 1,
			"function f calls itself (f → g → f): functions are inlined, so they cannot recurse"},
		{"missing return", "fn f(x: u64) -> u64 { if x > 1 { return 1 } }", "", 2, 1,
			"function f: missing return at the end (every path must return a value)"},
		{"argument type", "fn f(x: i64) -> u64 { return 1 }", "out = f(out)", 7, 17, "type mismatch: argument x of f must be i64, got u64"},
		{"arity", "fn f(x: i64) -> u64 { return 1 }", "out = f()", 7, 15, "wrong number of arguments to f: got 0, want 1"},
		{"result type", "fn f(x: u64) -> bool { return x }", "", 2, 31, "type mismatch: the result of f must be bool, got u64"},
		{"impure: a field", "fn f(x: u64) -> u64 { return out }", "", 2, 30, "unknown variable out"},
		{"impure: emit", "fn f(x: u64) -> u64 { emit(0, Tick, 0, 0) return 1 }", "", 2, 23, "emit is allowed only in handlers"},
		{"parameter assigned", "fn f(x: u64) -> u64 { x = 1 return x }", "", 2, 23, "cannot assign to x, a function parameter"},
		{"impure: a field assigned", "fn f(x: u64) -> u64 { out = 1 return x }", "", 2, 23, "unknown variable out (functions have no fields)"},
		{"impure: an array assigned", "fn f(x: u64) -> u64 { a[0] = 1 return x }", "", 2, 23, "unknown variable a (functions have no fields)"},
	} {
		wantCompileError(t, c.name, oneDomainSrc(c.decls, "", c.body), c.line, c.col, c.msg)
	}
}

// A function whose body is straight-line code keeps its caller's loop
// vectorizable, and the vectorized loop computes what the scalar one does.
func TestFunctionsInVectorizedLoops(t *testing.T) {
	src := `workload v
key sinks = 10 in 1..100 "sinks"
fn pick(r: u64) -> u64 { return r % sinks }
type Src {
    remaining: u64
    rng: rng
    init { remaining = n }
    on Tick() {
        let k = min(batch, remaining)
        remaining -= k
        for i in 0..k {
            let r = rng()
            emit(sink(pick(r)), Data, r, i)
        }
        if remaining > 0 { emit(self, Tick, 0, 0) }
    }
}
type Sink {
    acc: u64
    on Data(a, b) { acc = acc * 31 + a + b }
}
domains {
    source: Src boots
    sink: Sink[sinks]
}
`
	p := compileSrc(t, src)
	if len(p.vloops) != 1 {
		t.Fatalf("%d vectorized loops, want 1", len(p.vloops))
	}
	pr := p.Spec().Defaults()
	pr.N, pr.Batch = 1000, 100
	vec, sc, verr, serr := runBoth(t, p, pr, 2)
	if verr != nil || serr != nil || vec.Trace != sc.Trace || vec.State != sc.State {
		t.Fatalf("vectorized %016x %016x %v, scalar %016x %016x %v", vec.Trace, vec.State, verr, sc.Trace, sc.State, serr)
	}
}

func TestBools(t *testing.T) {
	src := oneDomainSrc("", "ready: bool\nflags: [3]bool", `
        ready = out == 0
        flags[1] = true
        let b: bool = ready && flags[1] && !flags[2]
        if b == true {
            out = 10 + u64(ready) + u64(flags[2])
        }`)
	_, w, err := runSrc(t, src, 1)
	if err != nil {
		t.Fatal(err)
	}
	if v := figure(t, w, "out"); v != 11 {
		t.Fatalf("out = %d, want 11", v)
	}
	for _, c := range []struct {
		name, fields, body string
		line, col          int
		msg                string
	}{
		{"number as a condition", "", "if out { out = 1 }", 7, 12, "type mismatch: condition must be bool, got u64"},
		{"arithmetic on bool", "ready: bool", "out = u64(ready + 1)", 7, 25, "type mismatch: operator + is not defined on bool and untyped number"},
		{"number to bool", "ready: bool", "ready = 1", 7, 9, "type mismatch: cannot assign untyped number to ready bool"},
		{"ordering bools", "ready: bool", "if ready < true { out = 1 }", 7, 18, "type mismatch: operator < is not defined on bool"},
	} {
		wantCompileError(t, c.name, oneDomainSrc("", c.fields, c.body), c.line, c.col, c.msg)
	}
}

// u64 subtraction that would wrap faults with the values; -% wraps on
// purpose; i64 subtraction wraps as documented.
func TestU64SubtractionThatWouldWrap(t *testing.T) {
	for _, c := range []struct {
		name, fields, body string
		want               string // a fault, or "" and then out's value in val
		val                uint64
	}{
		{"register", "", "let x = 3\nlet y = 5\nout = x - y", "t.lxm:9:9: tick 0, domain 0 (t), T.on Tick: u64 subtraction 3 - 5 would wrap below 0 (compute in i64, or write -% to wrap on purpose)", 0},
		{"immediate", "", "out = out - 1", "t.lxm:7:19: tick 0, domain 0 (t), T.on Tick: u64 subtraction 0 - 1 would wrap below 0 (compute in i64, or write -% to wrap on purpose)", 0},
		{"field -=", "", "out -= 2", "t.lxm:7:9: tick 0, domain 0 (t), T.on Tick: u64 subtraction 0 - 2 would wrap below 0 (compute in i64, or write -% to wrap on purpose)", 0},
		{"array element -=", "xs: [2]u64", "xs[1] -= 2", "t.lxm:7:9: tick 0, domain 0 (t), T.on Tick: u64 subtraction 0 - 2 would wrap below 0 (compute in i64, or write -% to wrap on purpose)", 0},
		{"field = x - y", "z: u64", "z = out - out - 1", "t.lxm:7:23: tick 0, domain 0 (t), T.on Tick: u64 subtraction 0 - 1 would wrap below 0 (compute in i64, or write -% to wrap on purpose)", 0},
		{"no wrap", "", "out = 7\nout -= 2\nout = out - 1", "", 4},
		{"-% wraps", "", "out = out -% 1", "", ^uint64(0)},
		{"-%= wraps", "", "out -%= 2", "", ^uint64(1)},
		{"i64 wraps", "s: i64", "s = -9223372036854775807 - 2\nout = u64(s)", "", 1<<63 - 1},
	} {
		src := oneDomainSrc("", c.fields, c.body)
		_, w, err := runSrc(t, src, 1, 1, 2)
		switch {
		case c.want != "" && (err == nil || err.Error() != c.want):
			t.Errorf("%s: %v, want %s", c.name, err, c.want)
		case c.want == "" && err != nil:
			t.Errorf("%s: %v", c.name, err)
		case c.want == "":
			if v := figure(t, w, "out"); v != c.val {
				t.Errorf("%s: out = %d, want %d", c.name, v, c.val)
			}
		}
	}
	// a static expression that wraps is an error at link, naming it
	p := compileSrc(t, "workload t\nkey k = 0 in 0..9\ntype T { xs: [k - 1]u64 }\ndomains { t: T boots }\n")
	w := p.link(p.Spec().Defaults())
	if w.err == nil || w.err.Error() != "t.lxm:3:17: static expression: u64 subtraction 0 - 1 would wrap below 0 (compute in i64, or write -% to wrap on purpose)" {
		t.Errorf("static: %v", w.err)
	}
}

// An assert's failure shows every sub-expression's value, source text as
// written; the right of a decided && is shown as not evaluated.
func TestAssertExplanation(t *testing.T) {
	src := oneDomainSrc("", "s: i64\nready: bool", "out = 5\ns = -2") + `
goal g {
    for k in 0..1 {
        let limit = 3
        assert t().out   <   limit   ||  (t().s >= 0 && t().ready)
        assert t().ready && t().out == 5
    }
}
`
	res, _, _ := runSrc(t, src, 1, 1, 3)
	if res.Outcome != engine.Violated {
		t.Fatalf("outcome %v", res.Outcome)
	}
	want := "goal g: t.lxm:20:9: assert t().out   <   limit   ||  (t().s >= 0 && t().ready) failed: " +
		"t().out   <   limit = false, t().out = 5, t() = 0, limit = 3, t().s >= 0 && t().ready = false, t().s >= 0 = false, t().s = -2, t().ready not evaluated (k = 0)\n" +
		"goal g: t.lxm:21:9: assert t().ready && t().out == 5 failed: t().ready = false, t() = 0, t().out == 5 not evaluated, t().out not evaluated (k = 0, limit = 3)"
	if got := res.Violation.Error(); got != want {
		t.Fatalf("violation\n%s\nwant\n%s", got, want)
	}
}

// while loops with a bound the checker can see (the prototype's) run; the
// others are rejected; each iteration is charged to the budget.
func TestBoundedWhile(t *testing.T) {
	for _, c := range []struct {
		body string
		out  uint64
	}{
		{"let i = 0\nwhile i < 10 { out += i\ni += 1 }", 45},
		{"let i = 10\nwhile 2 <= i { out += i\ni = i - 2 }", 30},
		{"out = 3\nwhile out != 9 { out = out + 1 }", 9},
		{"let k: i64 = -5\nwhile k < 5 { k += 3\nout += 1 }", 4},
	} {
		_, w, err := runSrc(t, oneDomainSrc("", "", c.body), 1)
		if err != nil || figure(t, w, "out") != c.out {
			t.Errorf("%q: %v out %d, want %d", c.body, err, figure(t, w, "out"), c.out)
		}
	}
	for _, body := range []string{
		"let i = 0\nwhile i < 10 { out += 1 }",                 // no step
		"let i = 0\nwhile i < 10 { i -= 1 }",                   // away from the bound
		"let i = 0\nwhile i < 10 { if out > 0 { i += 1 } }",    // a step not at the top level
		"let i = 0\nlet e = 9\nwhile i < e { i += 1\ne += 1 }", // the bound moves
		"let i = 0\nwhile i != 10 { i += 2 }",                  // != with a step of 2
		"let i = 0\nwhile i < 10 { i += 1\ni += 1 }",           // two steps
		"let i = 0\nwhile out < 10 { i += 1 }",                 // steps something else
	} {
		src := oneDomainSrc("", "", body)
		_, err := Compile("t.lxm", src)
		if err == nil || !strings.Contains(err.Error(), "unbounded loop: while has no bound") {
			t.Errorf("%q: %v, want an unbounded loop error", body, err)
		}
	}
	// the budget still bounds a visible but huge loop
	src := "workload t\nbudget 1000\n" + strings.TrimPrefix(oneDomainSrc("", "", "let i = 0\nwhile i < 1 << 40 { i += 1 }"), "workload t\n")
	_, _, err := runSrc(t, src, 1)
	if err == nil || !strings.Contains(err.Error(), "instruction budget exceeded (1000 instructions per message)") {
		t.Fatalf("%v", err)
	}
}
