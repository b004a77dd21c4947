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

// checkArgs runs args and compares the configuration lines with row r.
func checkArgs(t *testing.T, r goldenRow, args []string) {
	t.Helper()
	out, errs, code := runArgs(args...)
	cmd := "lexbench " + strings.Join(args, " ")
	m := configLines(out)
	want := map[string]string{"params": r.params, "trace": r.trace, "state": r.state, "outcome": r.outcome}
	for _, e := range r.extra {
		k, v, _ := strings.Cut(e, ": ")
		want[k] = v
	}
	for k, v := range want {
		if m[k] != v {
			t.Errorf("%s (row %s): %s = %q, want %q (exit %d, stderr %q)", cmd, r.name, k, m[k], v, code, errs)
		}
	}
	if !strings.Contains(out, "\nBenchmark") {
		t.Errorf("%s: no Benchmark line in\n%s", cmd, out)
	}
}

// TestProgramsMatchGoldenRows: every golden row, run by the interpreted
// program of its workload, at shards 1 and 2, prints the row's params,
// trace, state, outcome and extra lines.
func TestProgramsMatchGoldenRows(t *testing.T) {
	for _, r := range readGolden(t) {
		n := rowN(t, r.args)
		if testing.Short() && n > 1_000_000 {
			continue
		}
		t.Run(r.name, func(t *testing.T) {
			if n > 1_000_000 {
				t.Parallel()
			}
			for _, s := range []int{1, 2} {
				checkArgs(t, r, append(lxmArgs(r.args), "--shards", fmt.Sprint(s)))
			}
		})
	}
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
