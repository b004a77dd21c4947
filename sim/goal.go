package sim

import (
	"errors"
	"regexp"
	"strings"
)

// GoalOf is the identity of a violated goal: what two failing runs must
// share to fail "the same goal" (shrinking keeps it). It leaves out the
// values a message shows, which differ between runs that break one goal
// in the same way. In order:
//
//   - an error with a GoalName() string method (a native workload's
//     *workloads.GoalError: "storm.delivered"): that name;
//   - a program's violation, whose first line is "goal NAME: … FILE:L:C: …"
//     or "invariant NAME: … FILE:L:C: …" (docs/language.md): "goal NAME at
//     FILE:L:C" — the goal or invariant and the position of the assert or
//     invariant that failed;
//   - anything else: the first line with every run of digits replaced by #.
func GoalOf(err error) string {
	if err == nil {
		return ""
	}
	var g interface{ GoalName() string }
	if errors.As(err, &g) {
		return g.GoalName()
	}
	line, _, _ := strings.Cut(err.Error(), "\n")
	if m := programGoal.FindStringSubmatch(line); m != nil {
		return m[1] + " " + m[2] + " at " + m[3]
	}
	return digits.ReplaceAllString(line, "#")
}

var (
	programGoal = regexp.MustCompile(`^(goal|invariant) (\S+): (?:.*? )??(\S+:\d+:\d+): `)
	digits      = regexp.MustCompile(`[0-9]+`)
)
