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
