package lang

import (
	"fmt"
	"strings"
	"testing"

	"github.com/lexbench/lexbench/engine"
)

// A program's registers are bounded by how deep its expressions nest, not
// by how many statements, branches, operands, calls, invariants, goals or
// literals it has: each construct below, repeated n times, compiles for
// n = 8, 60 and 200 with as many temporaries (one more once literals no
// longer take globals: a literal then takes a temporary where it is used)
// and computes what the Go code beside it computes.
func TestRegistersDoNotGrowWithProgramLength(t *testing.T) {
	const x, v = 7, 5 // the domain's fields x and v, set in its init
	repeat := func(n int, f func(k int) string, sep string) string {
		parts := make([]string, n)
		for k := range parts {
			parts[k] = f(k)
		}
		return strings.Join(parts, sep)
	}
	cases := []struct {
		name   string
		decls  string // program-level declarations
		items  string // items of type T
		body   string // T's Tick handler
		extra  string // program-level goals
		out    func(n int) uint64
		status engine.Outcome
		most   int // n's largest value, if not 200 (a type has at most 64 goals)
	}{
		{
			name: "else-if chain",
			body: "{{ifs}} else { out = 1 }",
			out: func(n int) uint64 {
				if k := x*16 + v; k < n {
					return uint64(1000 + k)
				}
				return 1
			},
		},
		{
			name: "else-if chain over 64-bit literals",
			body: "{{bigifs}} else { out = 1 }",
			out: func(n int) uint64 {
				if k := x*16 + v; k < n {
					return 1<<40 + uint64(k)
				}
				return 1
			},
		},
		{
			name: "else-if chain in a loop",
			body: "for i in 0..4 { {{loopifs}} }",
			out: func(n int) uint64 {
				var out uint64
				for i := 0; i < 4; i++ {
					if k := i*16 + v; k < n {
						out += uint64(k)
					}
				}
				return out
			},
		},
		{
			name: "&& chain",
			body: "if {{ands}} { out = 2 } else { out = 3 }\nif {{ands}} && x == 0 { out += 10 }",
			out:  func(n int) uint64 { return 2 },
		},
		{
			name: "|| chain",
			body: "if {{ors}} { out = 2 } else { out = 3 }",
			out:  func(n int) uint64 { return 3 },
		},
		{
			name:  "&& and || chains as values",
			items: "b: bool\nc: bool",
			body: "b = {{ands}}\nc = {{ors}}\nlet d = {{ands}} || {{ors}}\n" +
				"if b { out += 1 }\nif c { out += 2 }\nif d { out += 4 }",
			out: func(n int) uint64 { return 1 + 4 },
		},
		{
			name: "long sum",
			body: "out = {{sum}}",
			out: func(n int) uint64 {
				var s uint64
				for k := 0; k < n; k++ {
					s += uint64(x*(k+1) + k)
				}
				return s
			},
		},
		{
			name:  "function calls",
			decls: "fn f(a: u64) -> u64 { let t = a * 3\nif t > 40 { return t - 40 }\nreturn t + 1 }",
			body:  "{{calls}}\nout += {{callsum}}",
			out: func(n int) uint64 {
				f := func(a uint64) uint64 {
					if t := a * 3; t > 40 {
						return t - 40
					} else {
						return t + 1
					}
				}
				var s uint64
				for k := 0; k < n; k++ {
					s += 2 * f(uint64(x+k))
				}
				return s
			},
		},
		{
			name:  "invariants",
			items: "{{invs}}",
			body:  "out = x + v",
			out:   func(n int) uint64 { return x + v },
		},
		{
			name:  "goals",
			items: "{{goals}}",
			body:  "out = x * v",
			out:   func(n int) uint64 { return x * v },
			most:  64,
		},
		{
			name:   "asserts",
			body:   "out = x - v",
			extra:  "goal g {\n{{asserts}}\n}",
			out:    func(n int) uint64 { return x - v },
			status: engine.Violated, // the last assert fails, with its explanation
		},
	}
	source := func(n int, decls, items, body, extra string) string {
		r := strings.NewReplacer(
			"{{ifs}}", repeat(n, func(k int) string { return fmt.Sprintf("if x * 16 + v == %d { out = %d }", k, 1000+k) }, " else "),
			"{{bigifs}}", repeat(n, func(k int) string {
				return fmt.Sprintf("if x * 16 + v + 0x%x == 0x%x { out = 0x%x }", uint64(1)<<40, uint64(1)<<40+uint64(k), uint64(1)<<40+uint64(k))
			}, " else "),
			"{{loopifs}}", repeat(n, func(k int) string { return fmt.Sprintf("if i * 16 + v == %d { out += %d }", k, k) }, " else "),
			"{{ands}}", "("+repeat(n, func(k int) string { return fmt.Sprintf("x * 3 + %d != v * 2 + %d", k+1000, k) }, " && ")+")",
			"{{ors}}", "("+repeat(n, func(k int) string { return fmt.Sprintf("x * 3 + %d == v * 2 + %d", k+1000, k) }, " || ")+")",
			"{{sum}}", repeat(n, func(k int) string { return fmt.Sprintf("x * %d + %d", k+1, k) }, " + "),
			"{{calls}}", repeat(n, func(k int) string { return fmt.Sprintf("out += f(x + %d)", k) }, "\n"),
			"{{callsum}}", repeat(n, func(k int) string { return fmt.Sprintf("f(x + %d)", k) }, " + "),
			"{{invs}}", repeat(n, func(k int) string { return fmt.Sprintf("invariant I%d { x * 2 + %d >= v + %d }", k, k+1000, k) }, "\n"),
			"{{goals}}", repeat(n, func(k int) string { return fmt.Sprintf("goal G%d { target x * 2 + %d >= v + %d }", k, k+1000, k) }, "\n"),
			"{{asserts}}", repeat(n, func(k int) string {
				if k == n-1 {
					return fmt.Sprintf("assert t().x * 2 + %d < t().v + %d", k, k)
				}
				return fmt.Sprintf("assert t().x * 2 + %d >= t().v + %d", k, k)
			}, "\n"),
		)
		return r.Replace(fmt.Sprintf(`workload t
%s
type T {
    out: u64
    x: u64
    v: u64
    %s
    init { x = %d
v = %d }
    on Tick() {
        %s
    }
}
domains { t: T boots }
figure out { return t().out }
%s
`, decls, items, x, v, body, extra))
	}
	for _, c := range cases {
		most := 200
		if c.most > 0 {
			most = c.most
		}
		temps := map[int]int{}
		for _, n := range []int{8, 60, most} {
			src := source(n, c.decls, c.items, c.body, c.extra)
			p, err := Compile("t.lxm", src)
			if err != nil {
				t.Errorf("%s, n=%d: %v", c.name, n, err)
				continue
			}
			temps[n] = p.temps
			res, w, err := runSrc(t, src, 1, 1, 2)
			if err != nil {
				t.Errorf("%s, n=%d: %v", c.name, n, err)
				continue
			}
			want := c.status
			if want == 0 {
				want = engine.Converged
			}
			if res.Outcome != want {
				t.Errorf("%s, n=%d: outcome %v (%v), want %v", c.name, n, res.Outcome, res.Violation, want)
			}
			if got := figure(t, w, "out"); got != c.out(n) {
				t.Errorf("%s, n=%d: out = %d, want %d", c.name, n, got, c.out(n))
			}
			if c.status == engine.Violated {
				k := n - 1
				want := fmt.Sprintf("assert t().x * 2 + %d < t().v + %d failed: t().x * 2 + %d = %d, t().x * 2 = 14, t().x = 7, t() = 0, t().v + %d = %d, t().v = 5",
					k, k, k, 14+k, k, 5+k)
				if res.Violation == nil || !strings.Contains(res.Violation.Error(), want) {
					t.Errorf("%s, n=%d: violation %v, want %s", c.name, n, res.Violation, want)
				}
			}
		}
		for n, k := range temps {
			if k > temps[8]+1 {
				t.Errorf("%s: %d temporaries for n=8, %d for n=%d", c.name, temps[8], k, n)
			}
		}
	}
}
