package main

import (
	"fmt"
	"io"

	"github.com/lexbench/lexbench/lang"
	"github.com/lexbench/lexbench/workloads"
)

// suppressedOf lists the goals a program's final state passes over
// (docs/language.md, Suppression): nil for a workload without goals.
func suppressedOf(w workloads.Workload) []lang.SuppressedGoal {
	if s, ok := w.(interface{ Suppressed() []lang.SuppressedGoal }); ok {
		return s.Suppressed()
	}
	return nil
}

// suppressedLinesMax bounds the suppressed goals named on stderr.
const suppressedLinesMax = 10

// printSuppressed names the suppressed goals on stderr, one per line, the
// first suppressedLinesMax of them (stdout's `suppressed:` line has their
// count, --json lists them all).
func printSuppressed(stderr io.Writer, goals []lang.SuppressedGoal) {
	for i, g := range goals {
		if i == suppressedLinesMax {
			fmt.Fprintf(stderr, "lexbench: suppressed: … and %d more (--json lists every one)\n", len(goals)-i)
			break
		}
		fmt.Fprintf(stderr, "lexbench: suppressed: %s\n", g.Text)
	}
}

// suppressedJSON is the --json form: one object per suppressed goal.
func suppressedJSON(goals []lang.SuppressedGoal) []map[string]any {
	out := []map[string]any{}
	for _, g := range goals {
		out = append(out, map[string]any{"domain": g.Domain, "goal": g.Name, "why": g.Text})
	}
	return out
}
