package lang

import (
	"strings"
	"testing"

	"github.com/lexbench/lexbench/workloads"
)

// wantCompileErrors checks that src fails to compile with exactly the
// errors want (each "LINE:COL: message"), in this order.
func wantCompileErrors(t *testing.T, name, src string, want ...string) {
	t.Helper()
	_, err := Compile("t.lxm", src)
	var got []string
	if err != nil {
		got = strings.Split(err.Error(), "\n")
	}
	for i := range got {
		got[i] = strings.TrimPrefix(got[i], "t.lxm:")
	}
	if strings.Join(got, "\n") != strings.Join(want, "\n") {
		t.Errorf("%s: got\n%s\nwant\n%s", name, strings.Join(got, "\n"), strings.Join(want, "\n"))
	}
}

// TestDeclarationErrorsDoNotHideBodyErrors: errors in declarations (a
// goal's priority and strategy, a name declared twice, a reserved figure
// name) are reported with every error in the bodies, in source order,
// and a declaration in error causes no error of its own in the bodies.
func TestDeclarationErrorsDoNotHideBodyErrors(t *testing.T) {
	wantCompileErrors(t, "the review's program", `workload bad
key k = 3 in 1..10 "k"
kind Go = 12
type T {
    a: u64
    b: i64
    c: bool
    on Go(x) {
        a = b             // type mismatch
        c = a + 1         // bool = u64
        let z = nosuch    // unknown name
        emit(self, Nope, 0, 0)   // unknown kind
        if a { a = 1 }    // non-bool cond
        while a < 10 { b += 1 }  // unbounded
        d = 3             // unknown field
        a = min(a)        // wrong arity
    }
    goal G { priority 300 target a == 1 strategy { Go } }
    invariant I { a + 1 }
}
domains {
    t: T[k] boots
    t: T
}
goal g {
    assert t(0).zz == 1
}
figure msgs { return 1 }
`,
		"9:9: type mismatch: cannot assign i64 to a u64",
		"10:9: type mismatch: cannot assign u64 to c bool",
		"11:17: unknown field or variable nosuch in type T",
		"12:20: emit: unknown message kind Nope",
		"13:12: type mismatch: condition must be bool, got u64",
		"14:9: unbounded loop: while has no bound; use for x in lo..hi (the bound is evaluated once)",
		"15:9: unknown field or variable d in type T",
		"16:13: wrong number of arguments to min: got 1, want 2",
		"18:23: goal G: priority 300 is above 255",
		"18:52: goal G: strategy Go takes parameters; a strategy message carries none",
		"19:21: type mismatch: condition must be bool, got u64",
		"23:5: domains: name t declared twice",
		"26:16: unknown field zz: type T has no field zz",
		"28:1: figure name msgs is reserved: lexbench prints it for every run",
	)

	// kinds, constants, types and domains in error: still declared, and
	// their uses are checked without errors that follow from them
	wantCompileErrors(t, "declarations in error", `workload a
kind A = 12
kind B = 12
const C = self
type T {
    x: u64
    on Tick() { x = true }
}
type T {
    y: u64
    on Tick() { y = C + 1  y = true }
    on B() { emit(self, B, 0, 0) }
}
domains {
    t: T boots
    u: U
}
goal g { assert u().z == 1 && t().q == 1 }
`,
		"3:1: kind number 12 is already A",
		"4:11: constant C must be computed from keys, n, seed, batch, numbers and earlier constants",
		"7:17: type mismatch: cannot assign bool to x u64",
		"9:1: type T declared twice",
		"11:28: type mismatch: cannot assign bool to y u64",
		"16:5: domains: unknown type U",
		"18:34: unknown field q: type T has no field q",
	)

	// the prototype's shape: its domains are declared despite errors in
	// capabilities and goals, so send names them
	wantCompileErrors(t, "the prototype's shape", `domain Heater {
  capability { messaging, send_to:Sensor, flying }
  state { temp: int }
  goal Warm { priority 300 target temp >= 20 strategy { Heat } }
  transition Heat { step { temp = temp + true  send("Sensor", "Read") } }
}
domain Sensor {
  state { seen: int }
  transition Read { step { seen = seen + 1 } }
}
`,
		"2:43: unknown capability flying (want messaging, send_to:DOMAIN or root)",
		"4:24: goal Warm: priority 300 is above 255",
		"5:40: type mismatch: operator + is not defined on i64 and bool",
	)
}

// TestStaticFaultsAreCompileErrors: a static expression that does not
// depend on the run's parameters is computed at compile time, and the
// faults linking would find in it with any parameters are compile errors
// at its position, all of them; so is a division by a constant zero
// that is not static. Faults that depend on the keys are left to link.
func TestStaticFaultsAreCompileErrors(t *testing.T) {
	wantCompileErrors(t, "static faults", `workload f
key k = 2 in 1..9
const A: u64 = 3
const B = A - 3
const C = 1 / B
const D = k % (A - A)
const E = C + 1
const W: u64 = u64(2) - A
type T { x: [k]u64 on Tick() { x[0] = x[1] / (5 - 5) + (u64(4) - 5)  x[1] %= B } }
domains { t: T boots }
`,
		"5:13: division by zero in a static expression",
		"6:13: division by zero in a static expression",
		"8:23: static expression: u64 subtraction 2 - 3 would wrap below 0 (compute in i64, or write -% to wrap on purpose)",
		"9:44: division by zero",
		"9:64: static expression: u64 subtraction 4 - 5 would wrap below 0 (compute in i64, or write -% to wrap on purpose)",
		"9:70: division by zero",
	)
	// what links with some parameters compiles; untyped and i64
	// arithmetic, -% and u64 subtraction that does not wrap are no faults
	p := compileSrc(t, `workload f
key k = 2 in 1..9
const U = 2 - 3
const S: i64 = i64(2) - 3
const V = 2 -% 3
const Q = 7 - 7
type T { x: [k / (k - 1)]u64 }
domains { t: T[1 + U + u64(S + 1) + V % 2 + Q] boots }
goal g { assert t(0).x[0] == 0 }
`)
	if err := p.CheckLink(workloads.Params{N: 1, Seed: 1, Batch: 1, K: []uint64{1}}); err == nil ||
		err.Error() != "t.lxm:7:16: division by zero in a static expression" {
		t.Errorf("k = 1: link error %v", err)
	}
	// with k = 2 it links; 1 + U wraps to 0, S + 1 is 0, V % 2 is 1: one domain
	w := p.link(workloads.Params{N: 1, Seed: 1, Batch: 1, K: []uint64{2}})
	if w.err != nil || w.Domains() != 1 {
		t.Errorf("k = 2: link error %v, %d domains, want 1", w.err, w.Domains())
	}
}

// TestSyntaxErrorsComeWithoutFollowOns: a keyword naming a field is
// reported as such and the field parsed, so nothing after it is
// misparsed; a declaration a failed parse may have skipped is not
// reported missing; a file that is not text gets one error.
func TestSyntaxErrorsComeWithoutFollowOns(t *testing.T) {
	wantCompileErrors(t, "a keyword naming a field", `// prototype shape: a heater and a sensor
domain Heater {
  capability { messaging, send_to:Sensor }
  state { temp: int  on: bool  readings: int }
  goal Warm { priority 100 target temp >= 20 strategy { Heat } }
  goal Cheap { priority 10 target temp <= 18 strategy { Cool } }
  invariant Sane { temp >= 0 && temp <= 40 }
  transition Heat { step { temp = temp + 2  send("Sensor", "Read") } }
  transition Cool { step { temp = temp - 1  readings = true } }
}
domain Sensor {
  state { seen: int }
  goal Observed { priority 5 target seen >= 3 strategy { Read } }
  transition Read { step { seen = seen + 1 } }
}
`,
		"4:22: `on` is a keyword; it cannot name a field",
		"9:45: type mismatch: cannot assign bool to readings i64",
	)
	wantCompileErrors(t, "a keyword naming a field of a type", `workload w
type T { for: u64  x: u64 on Tick() { x = 1 } }
domains { t: T boots }
`,
		"2:10: `for` is a keyword; it cannot name a field",
	)
	wantCompileErrors(t, "a goal and an invariant whose parse fails", `workload w
type T {
    x: u64
    on Tick() { x = 1 }
    goal G { target x = 3 strategy { Tick } }
    invariant I { x 3 }
}
domains { t: T boots }
`,
		`5:23: expected priority, target or strategy in goal G, found "="`,
		`6:21: expected "}", found number 3`,
	)
	wantCompileErrors(t, "a function whose return fails to parse", `workload w
fn f(a: u64) -> u64 { return a + }
type T { x: u64 on Tick() { x = f(1) } }
domains { t: T boots }
`,
		`2:34: expected an expression, found "}"`,
	)
	wantCompileErrors(t, "a keyword naming the workload", `workload on
type T { x: u64 }
domains { t: T boots }
`,
		`1:10: expected workload name, found "on", a keyword (a keyword cannot be a name)`,
	)
	wantCompileErrors(t, "binary data", "\xff\xfe\x00garbage \"unterminated\n",
		"1:1: not a Lexum program: binary data at byte 0")
	wantCompileErrors(t, "a NUL byte", "workload w\n// \x00\n",
		"2:4: not a Lexum program: binary data at byte 14")
	wantCompileErrors(t, "invalid UTF-8", "workload w\ntype T { x: u64 } // caf\xe9\n",
		"2:25: not a Lexum program: binary data at byte 35")
	// UTF-8 text is text
	compileSrc(t, "workload w // café ≺\ntype T { x: u64 }\ndomains { t: T boots }\n")
}
