package main

import (
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

const lxmDir = "../../workloads/lxm"

// lxmArgs turns a golden row's native arguments (`banking -n 1000 …`) into
// the interpreted program's (`run …/banking.lxm -n 1000 …`).
func lxmArgs(args string) []string {
	f := strings.Fields(args)
	return append([]string{"run", filepath.Join(lxmDir, f[0]+".lxm")}, f[1:]...)
}

// TestProgramsMatchGoldenRows: every golden row, run by the interpreted
// program of its workload, at shards 1 and 2, prints the row's params,
// trace, state, outcome and extra lines.
func TestProgramsMatchGoldenRows(t *testing.T) {
	checkGoldenRows(t, func(r goldenRow) []string { return lxmArgs(r.Args) })
}

// TestProgramsMatchGoldenRowsAcrossShardCounts: the small rows (fault rows
// and --detect local rows among them) through the programs at 3, 4 and 7
// shards too.
func TestProgramsMatchGoldenRowsAcrossShardCounts(t *testing.T) {
	checkGoldenRowsAcrossShardCounts(t, func(r goldenRow) []string { return lxmArgs(r.Args) })
}

func TestProgramsCheckAndDisasm(t *testing.T) {
	files, _ := filepath.Glob(filepath.Join(lxmDir, "*.lxm"))
	if len(files) < 6 {
		t.Fatalf("want the five SPEC programs and an example in %s, found %v", lxmDir, files)
	}
	for _, f := range files {
		if out, errs, code := runArgs("check", f); code != 0 || out != "" || errs != "" {
			t.Errorf("check %s: exit %d, stdout %q, stderr %q", f, code, out, errs)
		}
		out, errs, code := runArgs("disasm", f)
		if code != 0 || !strings.Contains(out, ".on Tick:") || errs != "" {
			t.Errorf("disasm %s: exit %d, stderr %q, stdout %.200q", f, code, errs, out)
		}
	}
}

func TestRunUsageErrors(t *testing.T) {
	for _, args := range [][]string{
		{"run"},
		{"run", "--shards", "1"},
		{"run", "/nonexistent/x.lxm"},
		{"check"},
		{"check", "a.lxm", "b.lxm"},
		{"disasm"},
		{"run", filepath.Join(lxmDir, "banking.lxm"), "--banks", "0"},
		{"run", filepath.Join(lxmDir, "banking.lxm"), "--bogus", "1"},
	} {
		out, errs, code := runArgs(args...)
		if code != exitBadInput || !strings.HasPrefix(errs, "lexbench: ") || strings.Contains(out, "trace:") {
			t.Errorf("lexbench %s: exit %d, stderr %q, stdout %q; want exit 1 and a one-line error", strings.Join(args, " "), code, errs, out)
		}
	}
	_ = os.Remove
}

// errorProgram is a small valid program; BODY is replaced by a bank's
// Transfer handler body and GOAL by a goal body. The driver sends transfer
// i (a = i) to bank i % banks.
const errorProgram = `workload t
key banks = 2 in 1..10 "number of banks"
key accounts = 2 in 2..10 "accounts per bank"

type Driver {
    remaining: u64
    init { remaining = n }
    on Tick() {
        let k = min(batch, remaining)
        remaining -= k
        for i in 0..k {
            emit(bank(i % banks), Transfer, i, 1)
        }
        if remaining > 0 {
            emit(self, Tick, 0, 0)
        }
    }
}

type Bank {
    balance: [accounts]i64
    on Transfer(a, b) {
        BODY
    }
}

domains {
    driver: Driver boots
    bank: Bank[banks]
}

goal positive {
    forall k in bank {
        GOAL
    }
}
`

const (
	bodyLine = 23 // the line of BODY in errorProgram
	goalLine = 34 // the line of GOAL
)

func writeProgram(t *testing.T, body, goal string) string {
	t.Helper()
	if body == "" {
		body = "balance[0] += 1"
	}
	if goal == "" {
		goal = "assert bank(k).balance[0] >= 0"
	}
	src := strings.Replace(strings.Replace(errorProgram, "BODY", body, 1), "GOAL", goal, 1)
	if l := strings.Split(src, "\n"); !strings.Contains(l[bodyLine-1], body) || !strings.Contains(l[goalLine-1], goal) {
		t.Fatalf("errorProgram: BODY is not on line %d or GOAL on %d", bodyLine, goalLine)
	}
	path := filepath.Join(t.TempDir(), "t.lxm")
	if err := os.WriteFile(path, []byte(src), 0o644); err != nil {
		t.Fatal(err)
	}
	return path
}

func TestErrorProgramIsValid(t *testing.T) {
	path := writeProgram(t, "", "")
	if out, errs, code := runArgs("check", path); code != 0 || out != "" || errs != "" {
		t.Fatalf("check: exit %d %q %q", code, out, errs)
	}
	out, errs, code := runArgs("run", path, "-n", "100", "--shards", "2")
	if code != 0 || configLines(out)["outcome"] != "converged" {
		t.Fatalf("run: exit %d %q %q", code, out, errs)
	}
}

// TestCheckReportsEachErrorWithItsPosition: each compile-time error of
// the acceptance list gives FILE:LINE:COL: message on stderr and exit 1.
func TestCheckReportsEachErrorWithItsPosition(t *testing.T) {
	for _, c := range []struct {
		name, body, goal string
		line, col        int
		msg              string
	}{
		{"unknown field", "balanse[0] += 1", "", bodyLine, 9, "unknown field balanse in type Bank"},
		{"unknown field of another domain", "", "assert bank(k).balanse[0] >= 0", goalLine, 23, "unknown field balanse: type Bank has no field balanse"},
		{"wrong arity of emit", "emit(self, Tick, 0)", "", bodyLine, 9, "wrong number of arguments to emit: got 3, want 4 (dst, Kind, a, b)"},
		{"wrong arity of an id", "emit(bank(), Tick, 0, 0)", "", bodyLine, 14, "wrong number of arguments to bank: got 0, want 1"},
		{"type mismatch", "balance[0] += b", "", bodyLine, 9, "type mismatch: cannot assign u64 to balance[…] i64"},
		{"type mismatch in a condition", "if a { balance[0] += 1 }", "", bodyLine, 12, "type mismatch: condition must be bool, got u64"},
		{"unbounded loop", "while a > 0 { balance[0] += 1 }", "", bodyLine, 9, "unbounded loop: while has no bound; use for x in lo..hi (the bound is evaluated once)"},
		{"emit outside a handler", "", "emit(0, Tick, 0, 0)", goalLine, 9, "emit is allowed only in handlers"},
		{"syntax", "balance[0] += ", "", bodyLine + 1, 5, `expected an expression, found "}"`},
	} {
		path := writeProgram(t, c.body, c.goal)
		out, errs, code := runArgs("check", path)
		want := fmt.Sprintf("%s:%d:%d: %s\n", path, c.line, c.col, c.msg)
		if code != exitBadInput || out != "" || errs != want {
			t.Errorf("%s: check: exit %d, stdout %q, stderr\n%s\nwant exit 1 and\n%s", c.name, code, out, errs, want)
		}
		out, errs, code = runArgs("run", path, "-n", "10")
		if code != exitBadInput || out != "" || errs != want {
			t.Errorf("%s: run: exit %d, stdout %q, stderr\n%s\nwant exit 1 and\n%s", c.name, code, out, errs, want)
		}
	}
}

func TestCheckReportsEveryError(t *testing.T) {
	path := writeProgram(t, "balanse[0] += 1; balance[0] += b; emit(self, Tick); while a > 0 { }", "assert bank(k).x == 1")
	_, errs, code := runArgs("check", path)
	lines := strings.Split(strings.TrimSuffix(errs, "\n"), "\n")
	if code != exitBadInput || len(lines) != 5 {
		t.Fatalf("exit %d, %d lines, want 5:\n%s", code, len(lines), errs)
	}
	for i, l := range lines {
		wantLine := bodyLine
		if i == 4 {
			wantLine = goalLine
		}
		if !strings.HasPrefix(l, fmt.Sprintf("%s:%d:", path, wantLine)) {
			t.Errorf("line %d: %q", i, l)
		}
	}
}

// TestRunReportsEachFaultWithDomainHandlerAndLine: each run-time fault of
// the acceptance list ends the run with exit 1 and one line naming the
// position, the domain and the handler, at every shard count.
func TestRunReportsEachFaultWithDomainHandlerAndLine(t *testing.T) {
	for _, c := range []struct {
		name, body string
		col        int
		msg        string
	}{
		{"emit to a nonexistent domain", "emit(self + 1000, Tick, 0, 0)", 9, "tick 1, domain 1 (bank[0]), Bank.on Transfer: emit to nonexistent domain 1001 (domains: 3)"},
		{"array index out of range", "balance[a] += 1", 9, "tick 1, domain 1 (bank[0]), Bank.on Transfer: array index 2 out of range [0, 2)"},
		{"array index out of range in a condition", "if balance[a] >= 0 { balance[0] += 1 }", 23, "tick 1, domain 1 (bank[0]), Bank.on Transfer: array index 2 out of range [0, 2)"},
		{"instruction budget", "for j in 0..1 << 40 { balance[0] += 1 }", 9, "tick 1, domain 1 (bank[0]), Bank.on Transfer: instruction budget exceeded (16778240 instructions per message)"},
		{"division by zero", "balance[0] += i64(b / (a - a))", 29, "tick 1, domain 1 (bank[0]), Bank.on Transfer: division by zero"},
		{"domain index out of range", "emit(bank(a), Tick, 0, 0)", 14, "tick 1, domain 1 (bank[0]), Bank.on Transfer: domain index 2 out of range [0, 2)"},
	} {
		path := writeProgram(t, c.body, "")
		want := fmt.Sprintf("lexbench: %s:%d:%d: %s\n", path, bodyLine, c.col, c.msg)
		for _, s := range []string{"1", "2", "3"} {
			out, errs, code := runArgs("run", path, "-n", "10", "--batch", "4", "--shards", s)
			if code != exitBadInput || out != "" || errs != want {
				t.Errorf("%s: shards %s: exit %d, stdout %q, stderr\n%s\nwant exit 1 and\n%s", c.name, s, code, out, errs, want)
			}
		}
	}
}

// keyDependentDivision divides by zero in a static expression with its
// default keys (b = 1), not with b > 1.
const keyDependentDivision = `workload t
key a = 2 in 1..9
key b = 1 in 1..9
type T {
    x: [a / (b - 1)]u64
}
domains {
    t: T boots
}`

func TestInitAndLinkFaultsAreReportedAsFaults(t *testing.T) {
	dir := t.TempDir()
	for _, c := range []struct{ name, src, want string }{
		{"init index out of range", `workload t
key a = 2 in 1..9
key b = 1 in 1..9
type T {
    x: [a]u64
    init { x[b + 1] = 1 }
}
domains {
    t: T[2]
}`, "t.lxm:6:12: domain 0 (t[0]), T.init: array index 2 out of range [0, 2)"},
		{"static division by zero", keyDependentDivision, "t.lxm:5:11: division by zero in a static expression"},
	} {
		path := filepath.Join(dir, "t.lxm")
		if err := os.WriteFile(path, []byte(c.src), 0o644); err != nil {
			t.Fatal(err)
		}
		out, errs, code := runArgs("run", path, "-n", "5")
		if code != exitBadInput || out != "" || errs != "lexbench: "+filepath.Join(dir, c.want)+"\n" {
			t.Errorf("%s: exit %d, stdout %q, stderr %q; want exit 1 and %q", c.name, code, out, errs, c.want)
		}
	}
}

// TestCheckReportsWhatRunReportsBeforeItsFirstMessage: a fault in a
// static expression that holds with any parameters is a compile error
// (check and run report it at its position); one that holds with the
// default parameters, and any other link error with them, check reports
// naming those parameters, as run without flags would fail.
func TestCheckReportsWhatRunReportsBeforeItsFirstMessage(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, "t.lxm")
	for _, c := range []struct{ name, src, check string }{
		{"static division by zero", `workload s
key x = 5 in 1..10 "x"
const C = 1 / 0
type T { a: [C]u64 }
domains { t: T boots }
`, "t.lxm:3:13: division by zero in a static expression"},
		{"static division by zero with the default keys", keyDependentDivision, "t.lxm:5:11: division by zero in a static expression (with the default parameters: --a 2 --b 1 -n 100000000 --seed 1 --batch 4096)"},
		{"no domains with the default keys", `workload t
key k = 0 in 0..9
type T { x: u64 }
domains {
    t: T[k] boots
}`, "t.lxm: no domains with these parameters (with the default parameters: --k 0 -n 100000000 --seed 1 --batch 4096)"},
	} {
		if err := os.WriteFile(path, []byte(c.src), 0o644); err != nil {
			t.Fatal(err)
		}
		out, errs, code := runArgs("check", path)
		if want := filepath.Join(dir, c.check) + "\n"; code != exitBadInput || out != "" || errs != want {
			t.Errorf("%s: check: exit %d, stdout %q, stderr %q; want exit 1 and %q", c.name, code, out, errs, want)
		}
		_, errs, code = runArgs("run", path, "-n", "5")
		if code != exitBadInput || !strings.Contains(errs, strings.Split(c.check, " (with")[0]) {
			t.Errorf("%s: run: exit %d, stderr %q", c.name, code, errs)
		}
	}
}
