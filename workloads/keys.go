package workloads

import "unicode"

// ResultKeys are the keys lexbench prints for every run besides the
// workload's figures: its configuration lines (SPEC §6) and its --json
// fields, including those of features that apply to some runs only (they
// are printed blank when they do not apply, because benchstat carries a
// key forward until it is set again). A workload's figures may not take
// these names: a program's figure `msgs` would replace the run's own count
// in --json and in benchstat's configuration (issue 15 #11). The list is
// the one place both the CLI and the language's checker read.
var ResultKeys = []string{
	// benchmark-format header lines
	"goos", "goarch", "cpu", "pkg",
	// what ran
	"workload", "params", "shards", "impl", "program", "faults", "detect",
	// the result
	"trace", "state", "outcome", "violation", "ticks", "msgs", "dropped", "suppressed",
	"oscillation", "cells",
	// --json only
	"blocks", "ns", "msgs_per_s", "ns_per_msg", "allocs_per_msg",
	"snapshots", "snapshot_bytes", "snapshot_ns", "shards_chosen",
	"cell_events", "suppressed_goals",
}

// FigureKeys are the figures of the native workloads of SPEC §5 (and
// `dropped` under damping): a run of another workload prints them blank.
var FigureKeys = []string{"applied", "rejected", "delivered"}

// IsResultKey reports whether name is one of ResultKeys.
func IsResultKey(name string) bool {
	for _, k := range ResultKeys {
		if k == name {
			return true
		}
	}
	return false
}

// IsBenchmarkKey reports whether name can be the key of a configuration
// line of the Go benchmark format (golang.org/design/14313, as
// golang.org/x/perf/benchfmt reads it): it starts with a lowercase letter
// and holds no uppercase letter, space or colon. benchstat skips any other
// `name: value` line, so a figure named otherwise would be lost. The
// language's checker refuses such figure names.
func IsBenchmarkKey(name string) bool {
	for i, r := range name {
		if i == 0 && !unicode.IsLower(r) || unicode.IsUpper(r) || unicode.IsSpace(r) || r == ':' {
			return false
		}
	}
	return name != ""
}
