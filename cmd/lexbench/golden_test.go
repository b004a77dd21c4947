package main

import (
	"bufio"
	"bytes"
	"fmt"
	"os"
	"strings"
	"testing"
)

// goldenRow is one row of testdata/golden.tsv (copied from
// ../shared/golden-public.tsv, computed by an independent implementation).
type goldenRow struct {
	name, args, params, trace, state, outcome string
	extra                                     []string
}

func readGolden(t *testing.T) []goldenRow {
	t.Helper()
	f, err := os.Open("../../testdata/golden.tsv")
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	var rows []goldenRow
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		line := sc.Text()
		if line == "" || strings.HasPrefix(line, "#") || strings.HasPrefix(line, "name\t") {
			continue
		}
		c := strings.Split(line, "\t")
		if len(c) < 6 {
			t.Fatalf("golden: malformed row %q", line)
		}
		r := goldenRow{name: c[0], args: c[1], params: c[2], trace: c[3], state: c[4], outcome: c[5]}
		if len(c) > 6 && c[6] != "" {
			for _, e := range strings.Split(c[6], "; ") {
				r.extra = append(r.extra, strings.TrimSpace(e))
			}
		}
		rows = append(rows, r)
	}
	if len(rows) == 0 {
		t.Fatal("golden: no rows")
	}
	return rows
}

// rowN is the row's -n value.
func rowN(t *testing.T, args string) uint64 {
	f := strings.Fields(args)
	for i := range f {
		if f[i] == "-n" && i+1 < len(f) {
			v, err := parseNumber(f[i+1])
			if err != nil {
				t.Fatal(err)
			}
			return v
		}
	}
	return 100_000_000
}

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

func checkRow(t *testing.T, r goldenRow, shards int) {
	t.Helper()
	checkArgs(t, r, append(strings.Fields(r.args), "--shards", fmt.Sprint(shards)))
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
	want := map[string]string{"params": r.params, "trace": r.trace, "state": r.state, "outcome": r.outcome}
	for _, e := range r.extra {
		k, v, _ := strings.Cut(e, ": ")
		want[k] = v
	}
	for k, v := range want {
		if m[k] != v {
			t.Errorf("%s (row %s): %s = %q, want %q", who, r.name, k, m[k], v)
		}
	}
}

// checkGoldenRows checks every golden row at shards 1 and 2, running the
// command args gives for it (rows above 1e6 in parallel, and not in -short).
func checkGoldenRows(t *testing.T, args func(r goldenRow) []string) {
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
				checkArgs(t, r, append(args(r), "--shards", fmt.Sprint(s)))
			}
		})
	}
}

func TestGoldenRows(t *testing.T) {
	checkGoldenRows(t, func(r goldenRow) []string { return strings.Fields(r.args) })
}

func TestGoldenRowsAcrossShardCounts(t *testing.T) {
	for _, r := range readGolden(t) {
		if rowN(t, r.args) > 100_000 {
			continue
		}
		for _, s := range []int{3, 4, 7} {
			checkRow(t, r, s)
		}
	}
}
