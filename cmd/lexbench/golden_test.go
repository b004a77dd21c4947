package main

import (
	"bytes"
	"fmt"
	"strings"
	"testing"

	"github.com/lexbench/lexbench/internal/golden"
)

// goldenRow is one row of testdata/golden.tsv (the public golden table,
// computed by an independent implementation).
type goldenRow = golden.Row

func readGolden(t *testing.T) []goldenRow { return golden.Read(t) }

// runArgs runs the CLI in-process and returns stdout, stderr and exit code.
func runArgs(args ...string) (string, string, int) {
	var out, errb bytes.Buffer
	code := run(args, &out, &errb)
	return out.String(), errb.String(), code
}

// configLines maps "key" to value for every `key: value` line.
func configLines(out string) map[string]string {
	m := map[string]string{}
	for _, line := range strings.Split(out, "\n") {
		if k, v, ok := strings.Cut(line, ": "); ok && !strings.HasPrefix(line, "#") && !strings.HasPrefix(line, "Benchmark") {
			m[k] = v
		}
	}
	return m
}

// checkArgs runs args and compares the configuration lines with row r.
func checkArgs(t *testing.T, r goldenRow, args []string) {
	t.Helper()
	out, errs, code := runArgs(args...)
	cmd := "lexbench " + strings.Join(args, " ")
	wantRow(t, fmt.Sprintf("%s (exit %d, stderr %q)", cmd, code, errs), out, r)
	if !strings.Contains(out, "\nBenchmark") {
		t.Errorf("%s: no Benchmark line in\n%s", cmd, out)
	}
}

// wantRow checks the configuration lines of a run's output (who ran it)
// against row r: params, trace, state, outcome and the extra lines.
func wantRow(t *testing.T, who string, out string, r goldenRow) {
	t.Helper()
	m := configLines(out)
	want := r.ExtraMap()
	want["params"], want["trace"], want["state"], want["outcome"] = r.Params, r.Trace, r.State, r.Outcome
	for k, v := range want {
		if m[k] != v {
			t.Errorf("%s (row %s): %s = %q, want %q", who, r.Name, k, m[k], v)
		}
	}
}

// checkGoldenRows checks every golden row at shards 1 and 2, running the
// command args gives for it (rows above 1e6 in parallel, and not in -short).
func checkGoldenRows(t *testing.T, args func(r goldenRow) []string) {
	for _, r := range readGolden(t) {
		n := r.N()
		if testing.Short() && n > 1_000_000 {
			continue
		}
		t.Run(r.Name, func(t *testing.T) {
			if n > 1_000_000 {
				t.Parallel()
			}
			for _, s := range []int{1, 2} {
				checkArgs(t, r, append(args(r), "--shards", fmt.Sprint(s)))
			}
		})
	}
}

func TestGoldenRows(t *testing.T) {
	checkGoldenRows(t, func(r goldenRow) []string { return strings.Fields(r.Args) })
}

func TestGoldenRowsAcrossShardCounts(t *testing.T) {
	checkGoldenRowsAcrossShardCounts(t, func(r goldenRow) []string { return strings.Fields(r.Args) })
}

// checkGoldenRowsAcrossShardCounts checks the rows up to n = 1e5 at shards
// 3, 4 and 7, running the command args gives for it.
func checkGoldenRowsAcrossShardCounts(t *testing.T, args func(r goldenRow) []string) {
	for _, r := range readGolden(t) {
		if r.N() > 100_000 {
			continue
		}
		for _, s := range []int{3, 4, 7} {
			checkArgs(t, r, append(args(r), "--shards", fmt.Sprint(s)))
		}
	}
}
