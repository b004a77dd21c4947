package lang

import (
	"os"
	"strings"
	"testing"

	"github.com/lexbench/lexbench/workloads"
)

// TestFiguresMayNotTakeResultKeys pins issue 15 #11: a figure named like a
// key lexbench prints for every run (msgs, ticks, outcome, trace, …) would
// replace the run's own value in --json and in benchstat's configuration;
// the checker refuses every one of workloads.ResultKeys, at the figure's
// position, and still accepts the SPEC figures.
func TestFiguresMayNotTakeResultKeys(t *testing.T) {
	src, err := os.ReadFile("../workloads/lxm/banking.lxm")
	if err != nil {
		t.Fatal(err)
	}
	for _, k := range workloads.ResultKeys {
		prog := strings.Replace(string(src), "figure applied", "figure "+k, 1)
		_, err := Compile("b.lxm", prog)
		if err == nil || !strings.Contains(err.Error(), "figure name "+k+" is reserved") {
			if k == "workload" && err != nil { // a keyword: the parser refuses it first
				continue
			}
			t.Errorf("figure %s: %v", k, err)
		}
	}
	if _, err := Compile("b.lxm", string(src)); err != nil {
		t.Fatalf("banking.lxm (figures applied, rejected): %v", err)
	}
}

// TestFigureNamesAreBenchmarkKeys: a figure is printed as `name: value`,
// a configuration line of the Go benchmark format, whose keys start with
// a lowercase letter and hold no uppercase letter or space
// (golang.org/x/perf/benchfmt skips any other line, so benchstat would
// lose the figure and carry the previous run's value forward). The checker
// refuses every other name at the figure, FILE:LINE:COL, and accepts the
// rest.
func TestFigureNamesAreBenchmarkKeys(t *testing.T) {
	src := oneDomainSrc("", "", "out = 1")
	for _, name := range []string{"Applied", "appliedTotal", "p99Latency", "_applied", "_", "aB", "x_Y"} {
		prog := strings.Replace(src, "figure out", "figure "+name, 1)
		wantCompileError(t, name, prog, 13, 1,
			"figure name "+name+" is not a benchmark-format key (it is printed as `"+name+": value`): it must start with a lowercase letter and hold no uppercase letter")
	}
	for _, name := range []string{"applied", "p99", "a_b", "x9_y_", "out"} {
		prog := strings.Replace(src, "figure out", "figure "+name, 1)
		if _, err := Compile("t.lxm", prog); err != nil {
			t.Errorf("figure %s: %v", name, err)
		}
	}
	for k, want := range map[string]bool{"applied": true, "p99": true, "a_b": true, "é": true, "a-b.c/d": true,
		"Applied": false, "aB": false, "_a": false, "": false, "a b": false, "a:b": false, "aÉ": false, "9a": false} {
		if got := workloads.IsBenchmarkKey(k); got != want {
			t.Errorf("IsBenchmarkKey(%q) = %v, want %v", k, got, want)
		}
	}
}
