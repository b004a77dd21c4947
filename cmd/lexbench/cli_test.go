package main

import (
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/lexbench/lexbench/engine"
	"github.com/lexbench/lexbench/workloads"
)

func TestBadInputIsOneLineErrorNamingTheFlag(t *testing.T) {
	dir := t.TempDir()
	jpath := filepath.Join(dir, "j.lxj")
	for _, c := range []struct {
		args []string
		want string // the error line must contain this
	}{
		{[]string{"nosuch"}, `"nosuch"`},
		{[]string{"banking", "-n", "-5"}, "-n"},
		{[]string{"banking", "-n", "abc"}, "-n"},
		{[]string{"banking", "-n", "1.5"}, "-n"},
		{[]string{"banking", "--shards", "0"}, "--shards"},
		{[]string{"banking", "--accounts", "1"}, "--accounts"},
		{[]string{"banking", "--banks", "0"}, "--banks"},
		{[]string{"banking", "--batch", "0"}, "--batch"},
		{[]string{"banking", "--producers", "3"}, "--producers"},
		{[]string{"storm", "--consumers", "0"}, "--consumers"},
		{[]string{"sync", "--registers", "70000"}, "--registers"},
		{[]string{"conflict", "--controllers", "6"}, "--controllers"},
		{[]string{"conflict", "--controllers", "1"}, "--controllers"},
		{[]string{"oscillation", "--targets", "0"}, "--targets"},
		{[]string{"oscillation", "--groups", "0"}, "--groups"},
		{[]string{"banking", "--on-oscillation", "stop"}, "--on-oscillation"},
		{[]string{"banking", "--profile", "gpu"}, "--profile"},
		{[]string{"banking", "--count", "0"}, "--count"},
		{[]string{"banking", "--sync", "later", "--journal", jpath}, "--sync"},
		{[]string{"banking", "--seed", "x1"}, "--seed"},
		{[]string{"banking", "-n", "1000", "extra"}, "extra"},
		{[]string{"banking", "-n", "1000", "--journal", filepath.Join(dir, "no", "such", "dir", "j")}, "--journal"},
	} {
		out, errs, code := runArgs(c.args...)
		if code != exitBadInput {
			t.Errorf("lexbench %s: exit %d, want 1", strings.Join(c.args, " "), code)
		}
		if out != "" {
			t.Errorf("lexbench %s: stdout %q, want nothing", strings.Join(c.args, " "), out)
		}
		first, _, _ := strings.Cut(errs, "\n")
		if !strings.HasPrefix(first, "lexbench: ") || !strings.Contains(first, c.want) {
			t.Errorf("lexbench %s: first stderr line %q, want a lexbench: error naming %s", strings.Join(c.args, " "), first, c.want)
		}
	}
	if _, err := os.Stat(jpath); !os.IsNotExist(err) {
		t.Errorf("a journal file was left behind after bad input: %v", err)
	}
	if ents, _ := os.ReadDir(dir); len(ents) != 0 {
		t.Errorf("files left behind after bad input: %v", ents)
	}
}

func TestUnwritableJournalLeavesNoFile(t *testing.T) {
	dir := t.TempDir()
	if err := os.Chmod(dir, 0o500); err != nil {
		t.Fatal(err)
	}
	defer os.Chmod(dir, 0o700)
	if os.Geteuid() == 0 {
		t.Log("running as root: a read-only directory is still writable; checking a path under a file instead")
		dir = filepath.Join(t.TempDir(), "file")
		if err := os.WriteFile(dir, nil, 0o600); err != nil {
			t.Fatal(err)
		}
	}
	j := filepath.Join(dir, "j.lxj")
	_, errs, code := runArgs("banking", "-n", "1000", "--journal", j)
	if code != exitBadInput || !strings.Contains(errs, "--journal") || strings.Count(errs, "\n") != 1 {
		t.Fatalf("exit %d stderr %q; want exit 1 and one line naming --journal", code, errs)
	}
	if _, err := os.Stat(j); err == nil {
		t.Fatalf("journal file %s exists after a failed create", j)
	}
}

func TestOutputIsBenchmarkFormat(t *testing.T) {
	out, _, code := runArgs("banking", "-n", "1e5", "--shards", "2", "--count", "3")
	if code != 0 {
		t.Fatalf("exit %d", code)
	}
	lines := strings.Split(strings.TrimSpace(out), "\n")
	var bench []string
	for _, l := range lines {
		switch {
		case strings.HasPrefix(l, "Benchmark"):
			bench = append(bench, l)
		case strings.HasPrefix(l, "# "):
		default:
			k, v, ok := strings.Cut(l, ": ")
			if l == "Unit msgs/s better=higher" {
				continue
			}
			if blank, isKey := strings.CutSuffix(l, ":"); isKey && !strings.ContainsAny(blank, " \t:") {
				continue // a key that does not apply to this run, cleared
			}
			if !ok || strings.ContainsAny(k, " \t") || v == "" {
				t.Errorf("line %q is neither a configuration line nor a Benchmark line", l)
			}
		}
	}
	if len(bench) != 3 {
		t.Fatalf("%d Benchmark lines for --count 3:\n%s", len(bench), out)
	}
	for _, b := range bench {
		f := strings.Split(b, "\t")
		if len(f) != 6 || strings.TrimSpace(f[0]) != "BenchmarkBanking/n=1e5/shards=2" || strings.TrimSpace(f[1]) != "1" ||
			!strings.HasSuffix(f[2], " ns/op ") || !strings.HasSuffix(f[3], " msgs/s ") || !strings.HasSuffix(f[4], " ns/msg ") || !strings.HasSuffix(f[5], " allocs/msg") {
			t.Errorf("malformed Benchmark line %q", b)
		}
	}
	m := configLines(out)
	for _, k := range []string{"goos", "goarch", "cpu", "workload", "params", "shards", "trace", "state", "outcome", "ticks", "msgs", "applied", "rejected"} {
		if m[k] == "" {
			t.Errorf("no %s: line", k)
		}
	}
}

func TestExitCodes(t *testing.T) {
	for _, c := range []struct {
		args []string
		code int
	}{
		{[]string{"banking", "-n", "1000"}, exitOK},
		{[]string{"storm", "-n", "1e5", "--max-msgs", "10"}, exitBudget},
		{[]string{"banking", "-n", "1e5", "--max-ticks", "0"}, exitBudget},
		{[]string{"oscillation", "-n", "1000"}, exitOK},
		{[]string{"oscillation", "-n", "1000", "--on-oscillation", "damp"}, exitOK},
	} {
		if _, errs, code := runArgs(c.args...); code != c.code {
			t.Errorf("lexbench %s: exit %d, want %d (%s)", strings.Join(c.args, " "), code, c.code, errs)
		}
	}
}

func TestJournalVerifiesWithTheRunsTraceAndLocatesDamage(t *testing.T) {
	dir := t.TempDir()
	j := filepath.Join(dir, "banking.lxj")
	out, errs, code := runArgs("banking", "-n", "1e5", "--shards", "2", "--journal", j)
	if code != 0 {
		t.Fatalf("exit %d: %s", code, errs)
	}
	trace := configLines(out)["trace"]
	vout, _, code := runArgs("verify", j)
	if code != 0 || configLines(vout)["trace"] != trace || configLines(vout)["entries"] != configLines(out)["msgs"] {
		t.Fatalf("verify: exit %d\n%s\nwant trace %s", code, vout, trace)
	}
	orig, err := os.ReadFile(j)
	if err != nil {
		t.Fatal(err)
	}
	// the journal's blocks: 1 boot block, then per tick one full and one
	// 1-entry block (4096 transfers + the driver's Tick) …
	const prologue = 64 + 80 // header + params padded to 8
	blockOff := []int{prologue}
	for off := prologue; off < len(orig); {
		count := int(orig[off+4]) | int(orig[off+5])<<8
		off += 32 + 32*count
		blockOff = append(blockOff, off)
	}
	bad := filepath.Join(dir, "bad.lxj")
	for _, pos := range []int{prologue + 3, prologue + 40, blockOff[1] + 8, blockOff[2] + 17, blockOff[5] + 100, blockOff[7] + 31, len(orig) - 1} {
		b := append([]byte(nil), orig...)
		b[pos] ^= 1
		os.WriteFile(bad, b, 0o644)
		want := 0
		for i := range blockOff {
			if pos >= blockOff[i] {
				want = i
			}
		}
		_, errs, code := runArgs("verify", bad)
		if code != 1 || !strings.Contains(errs, fmt.Sprintf("block %d ", want)) {
			t.Errorf("flip at %d: exit %d, stderr %q; want exit 1 naming block %d", pos, code, errs, want)
		}
	}
	for _, cut := range []int{blockOff[3] + 5, blockOff[4] + 40, len(orig) - 7} {
		os.WriteFile(bad, orig[:cut], 0o644)
		want := 0
		for i := range blockOff {
			if cut >= blockOff[i] {
				want = i
			}
		}
		_, errs, code := runArgs("verify", bad)
		if code != 1 || !strings.Contains(errs, fmt.Sprintf("block %d ", want)) || !strings.Contains(errs, "truncated") {
			t.Errorf("cut at %d: exit %d, stderr %q; want exit 1, truncated block %d", cut, code, errs, want)
		}
	}
}

func TestExitCodeOfEachOutcome(t *testing.T) {
	banking, osc := workloads.Lookup("banking"), workloads.Lookup("oscillation")
	for _, c := range []struct {
		spec *workloads.Spec
		o    engine.Outcome
		want int
	}{
		{banking, engine.Converged, 0}, {banking, engine.Violated, 2}, {banking, engine.Budget, 4},
		{banking, engine.Oscillating, 3}, {banking, engine.Damped, 3},
		{osc, engine.Oscillating, 0}, {osc, engine.Damped, 0}, {osc, engine.Budget, 4}, {osc, engine.Violated, 2},
	} {
		if got := exitCode(c.spec, engine.Result{Outcome: c.o}); got != c.want {
			t.Errorf("%s %v: exit %d, want %d", c.spec.Name, c.o, got, c.want)
		}
	}
}
