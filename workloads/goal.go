package workloads

import "fmt"

// GoalError is a violated goal of a workload (SPEC §5). Goal names the
// goal — the same for every run that breaks it, whatever the values, so
// that two failing runs can be compared (lexbench sim's shrinking does) —
// and the message says how it is broken, with the values.
type GoalError struct {
	Goal string // workload.goal, e.g. "storm.delivered"
	Msg  string
}

func (e *GoalError) Error() string { return e.Msg }

// GoalName is the goal's name (the interface lexbench sim looks for).
func (e *GoalError) GoalName() string { return e.Goal }

func goalErr(goal, format string, a ...any) error {
	return &GoalError{Goal: goal, Msg: fmt.Sprintf(format, a...)}
}
