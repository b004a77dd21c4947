package lang

import (
	"strings"
	"testing"
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
