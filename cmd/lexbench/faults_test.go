package main

import (
	"encoding/json"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/lexbench/lexbench/runfile"
)

// TestFaultFlagsAreCheckedAndNamed: SPEC §7 bounds, each error naming its
// flag (exit 1, nothing on stdout, no journal); --max-delay is checked
// even with faults off; budgets that could wrap a u32 tick are refused.
func TestFaultFlagsAreCheckedAndNamed(t *testing.T) {
	dir := t.TempDir()
	j := filepath.Join(dir, "j")
	for _, c := range []struct {
		args []string
		want string
	}{
		{[]string{"banking", "--drop", "1000001"}, "--drop"},
		{[]string{"banking", "--dup", "2M"}, "--dup"},
		{[]string{"banking", "--delay", "-1"}, "--delay"},
		{[]string{"banking", "--delay", "0.5"}, "--delay"},
		{[]string{"banking", "--drop", "600k", "--dup", "300k", "--delay", "100001"}, "--drop + --dup + --delay"},
		{[]string{"banking", "--max-delay", "0"}, "--max-delay"},
		{[]string{"banking", "--max-delay", "1025"}, "--max-delay"},
		{[]string{"banking", "--max-delay", "2000", "--drop", "5"}, "--max-delay"},
		{[]string{"banking", "--fault-seed", "x"}, "--fault-seed"},
		{[]string{"banking", "--max-ticks", "4294967297"}, "--max-ticks"},
		{[]string{"banking", "--max-ticks", "1e18"}, "--max-ticks"},
		{[]string{"banking", "--max-inflight", "0"}, "--max-inflight"},
		{[]string{"banking", "--max-inflight", "3G"}, "--max-inflight"},
		{[]string{"run", filepath.Join(lxmDir, "storm.lxm"), "--drop", "1000001"}, "--drop"},
	} {
		args := append(c.args, "-n", "100", "--journal", j)
		out, errs, code := runArgs(args...)
		first, _, _ := strings.Cut(errs, "\n")
		if code != exitBadInput || out != "" || !strings.HasPrefix(first, "lexbench: ") || !strings.Contains(first, c.want) {
			t.Errorf("lexbench %s: exit %d, stdout %q, first stderr line %q; want exit 1 and an error naming %s",
				strings.Join(args, " "), code, out, first, c.want)
		}
	}
	if ents, _ := os.ReadDir(dir); len(ents) != 0 {
		t.Errorf("files left behind after bad input: %v", ents)
	}
	// Allowed at the edges: 2^32 ticks, all of it faults, the largest delay.
	for _, args := range [][]string{
		{"banking", "-n", "10", "--max-ticks", "4294967296"},
		{"banking", "-n", "10", "--drop", "1M"},
		{"banking", "-n", "10", "--dup", "500k", "--delay", "500k", "--max-delay", "1024"},
		{"banking", "-n", "10", "--max-delay", "1"},
	} {
		if out, errs, code := runArgs(args...); code == exitBadInput || !strings.Contains(out, "trace: ") {
			t.Errorf("lexbench %s: exit %d, stderr %q", strings.Join(args, " "), code, errs)
		}
	}
}

// TestFaultsOffChangeNothing: with every rate 0 (whatever --max-delay and
// --fault-seed say), params and results are v1's and the faults line is
// blank (every run prints every key); with faults on, the params carry
// the fault keys (fseed defaulting to --seed) and the faults line is
// printed, in --json too.
func TestFaultsOffChangeNothing(t *testing.T) {
	plain, _, _ := runArgs("sync", "-n", "3000", "--shards", "2")
	off, _, _ := runArgs("sync", "-n", "3000", "--shards", "2", "--drop", "0", "--max-delay", "100", "--fault-seed", "5")
	pm, om := configLines(plain), configLines(off)
	for _, k := range []string{"params", "trace", "state", "outcome", "ticks", "msgs"} {
		if pm[k] == "" || pm[k] != om[k] {
			t.Errorf("%s: %q without fault flags, %q with rate 0", k, pm[k], om[k])
		}
	}
	if _, ok := om["faults"]; ok || !hasLine(off, "faults:") {
		t.Errorf("faults line not blank with faults off:\n%s", off)
	}
	on, _, _ := runArgs("sync", "-n", "3000", "--seed", "9", "--delay", "10k", "--max-delay", "3")
	m := configLines(on)
	if !strings.HasSuffix(m["params"], " registers=16 drop=0 dup=0 delay=10000 maxdelay=3 fseed=9") || !strings.HasPrefix(m["faults"], "dropped=0 duplicated=0 delayed=") {
		t.Errorf("faults on:\n%s", on)
	}
	js, _, _ := runArgs("sync", "-n", "3000", "--seed", "9", "--delay", "10k", "--max-delay", "3", "--json")
	var v struct {
		Faults map[string]uint64 `json:"faults"`
	}
	if err := json.Unmarshal([]byte(js), &v); err != nil || v.Faults["delayed"] == 0 || len(v.Faults) != 3 {
		t.Errorf("--json with faults: %v %q", err, js)
	}
}

// TestFaultsDisableDetection: SPEC §5.7 — with faults on, detection does
// not run and --on-oscillation is accepted without effect: an oscillating
// run ends only by its budget, with the oscillation and dropped lines blank.
func TestFaultsDisableDetection(t *testing.T) {
	args := []string{"oscillation", "-n", "2000", "--groups", "16", "--dup", "1", "--max-ticks", "300", "--on-oscillation", "damp"}
	out, errs, code := runArgs(args...)
	m := configLines(out)
	if code != exitBudget || m["outcome"] != "budget" || m["ticks"] != "300" || !hasLine(out, "oscillation:") || !hasLine(out, "dropped:") {
		t.Errorf("lexbench %s: exit %d, stderr %q:\n%s", strings.Join(args, " "), code, errs, out)
	}
}

// TestInFlightBoundEndsTheRunWithAnError: more messages in flight than
// --max-inflight is an error naming the flag (exit 1, no result), at every
// shard count.
func TestInFlightBoundEndsTheRunWithAnError(t *testing.T) {
	for _, s := range []string{"1", "2", "3"} {
		out, errs, code := runArgs("storm", "-n", "1e5", "--batch", "20000", "--max-inflight", "30000", "--shards", s)
		if code != exitBadInput || strings.Contains(out, "trace:") || !strings.Contains(errs, "too many messages in flight") || !strings.Contains(errs, "--max-inflight") {
			t.Errorf("shards %s: exit %d stdout %q stderr %q", s, code, out, errs)
		}
	}
	if out, _, code := runArgs("storm", "-n", "1e5", "--batch", "20000", "--max-inflight", "40002", "--shards", "2"); code != 0 || !strings.Contains(out, "outcome: converged") {
		t.Errorf("a bound the run fits in: exit %d\n%s", code, out)
	}
}

// hasLine reports whether out has a line equal to line.
func hasLine(out, line string) bool {
	return slices.Contains(strings.Split(out, "\n"), line)
}

// TestFaultFlagsPassThroughTheSupervisor: a run with faults through the
// supervisor and its child (two processes) prints the params, hashes and
// faults line of the same run in one process, and its exit code (a
// violated goal) passes through unchanged.
func TestFaultFlagsPassThroughTheSupervisor(t *testing.T) {
	args := []string{"storm", "-n", "2e4", "--batch", "64", "--drop", "20k", "--dup", "30k", "--delay", "50k", "--max-delay", "5", "--fault-seed", "7", "--shards", "2"}
	want, _, wantCode := runArgs(args...)
	cmd := exec.Command(os.Args[0], args...)
	cmd.Env = append(os.Environ(), "LEXBENCH_AS_MAIN=supervised")
	out, _ := cmd.Output()
	w, g := configLines(want), configLines(string(out))
	if !strings.Contains(w["params"], " drop=20000 dup=30000 delay=50000 maxdelay=5 fseed=7") || !strings.HasPrefix(w["faults"], "dropped=") {
		t.Fatalf("in one process:\n%s", want)
	}
	for _, k := range []string{"params", "trace", "state", "outcome", "ticks", "msgs", "faults"} {
		if g[k] != w[k] {
			t.Errorf("%s: %q through the supervisor, %q in one process", k, g[k], w[k])
		}
	}
	if code := cmd.ProcessState.ExitCode(); code != wantCode || code != exitViolated {
		t.Errorf("exit %d through the supervisor, %d in one process (want %d)", code, wantCode, exitViolated)
	}
}

// TestResumeAndReplayTakeFaultsAndTheInFlightBoundFromTheRun: the fault
// layer comes from the journal's params and --max-inflight from the run
// file, so resume and replay of a faulty run need no flags; given to
// resume or replay, --max-inflight sets their bound.
func TestResumeAndReplayTakeFaultsAndTheInFlightBoundFromTheRun(t *testing.T) {
	dir := t.TempDir()
	j := filepath.Join(dir, "J")
	run := []string{"storm", "-n", "2e4", "--batch", "64", "--drop", "20k", "--dup", "30k", "--delay", "50k", "--max-delay", "5",
		"--snapshot-every", "7", "--max-inflight", "1M", "--shards", "2", "--journal", j}
	out, errs, code := runArgs(run...)
	want := configLines(out)
	if code != exitViolated || want["faults"] == "" {
		t.Fatalf("run: exit %d %s\n%s", code, errs, out)
	}
	if rf, err := runfile.Read(runfile.Path(j)); err != nil || rf.Opts.MaxInFlight != 1e6 {
		t.Fatalf("run file: %+v %v", rf, err)
	}
	for _, args := range [][]string{{"resume", j, "--shards", "3"}, {"replay", j, "--shards", "1"}} {
		out, errs, code := runArgs(args...)
		got := configLines(out)
		for _, k := range []string{"trace", "state", "outcome", "msgs", "faults"} {
			if args[0] == "replay" && k == "outcome" {
				continue // replay prints it, but only resume exits with it
			}
			if got[k] != want[k] {
				t.Errorf("%v: %s %q, the run's %q (exit %d, %s)", args, k, got[k], want[k], code, errs)
			}
		}
	}
	// A run that overflows its bound: resume and replay meet the same
	// bound (from the run file) unless given another.
	k := filepath.Join(dir, "K")
	if _, errs, code := runArgs("storm", "-n", "1e5", "--batch", "20000", "--max-inflight", "30000", "--shards", "2", "--journal", k); code != exitBadInput || !strings.Contains(errs, "more than 30000") {
		t.Fatalf("run over its bound: exit %d %s", code, errs)
	}
	for _, cmd := range []string{"replay", "resume"} {
		if _, errs, code := runArgs(cmd, k); code != exitBadInput || !strings.Contains(errs, "more than 30000") || !strings.Contains(errs, "--max-inflight") {
			t.Errorf("%s without --max-inflight: exit %d %s", cmd, code, errs)
		}
	}
	if out, errs, code := runArgs("resume", k, "--max-inflight", "40002"); code != exitOK || !strings.Contains(out, "outcome: converged") {
		t.Errorf("resume --max-inflight 40002: exit %d %s\n%s", code, errs, out)
	}
}
