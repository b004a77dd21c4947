package main

import (
	"encoding/json"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"testing"

	"github.com/lexbench/lexbench/engine"
	"github.com/lexbench/lexbench/runfile"
)

// cellLine is a stderr line of a cell event (docs/detection.md).
var cellLine = regexp.MustCompile(`^lexbench: cell (\d+) \(domains (\d+)\.\.(\d+)\) oscillates at tick (\d+), period (\d+): (halted|damped); received:(( \S+)+)$`)

// TestLocalDetectionListsEachCell: under --detect local every cell that
// halts or is damped has its stderr line and JSON event, as many as the
// oscillation line's cells=, natively (domains by id) and through the
// program (domains by name).
func TestLocalDetectionListsEachCell(t *testing.T) {
	for _, prog := range []bool{false, true} {
		for _, damp := range []string{"halt", "damp"} {
			args := []string{"oscillation", "-n", "1e5", "--groups", "64", "--detect", "local", "--on-oscillation", damp, "--shards", "2"}
			if prog {
				args = append([]string{"run", filepath.Join(lxmDir, "oscillation.lxm")}, args[1:]...)
			}
			out, errOut, code := runArgs(args...)
			osc := configLines(out)["oscillation"]
			if code != exitOK || osc != "tick=33 period=1 domains=3 cells=45" {
				t.Fatalf("lexbench %s: exit %d, oscillation %q", strings.Join(args, " "), code, osc)
			}
			action := map[string]string{"halt": "halted", "damp": "damped"}[damp]
			var lines int
			for _, l := range strings.Split(strings.TrimSuffix(errOut, "\n"), "\n") {
				m := cellLine.FindStringSubmatch(l)
				if m == nil || m[4] != "33" || m[5] != "1" || m[6] != action {
					t.Fatalf("lexbench %s: stderr line %q is not a cell event at tick 33, period 1, %s", strings.Join(args, " "), l, action)
				}
				var k, first, last int
				fmt.Sscan(m[1]+" "+m[2]+" "+m[3], &k, &first, &last)
				if first != 1+3*(k-1) || last != first+2 {
					t.Fatalf("cell %d: domains %d..%d, want group %d's", k, first, last, k-1)
				}
				want := fmt.Sprintf(" %d %d %d", first, first+1, first+2)
				if prog {
					g := k - 1
					want = fmt.Sprintf(" group[%d].reg group[%d].ctl[0] group[%d].ctl[1]", g, g, g)
				}
				if m[7] != want {
					t.Fatalf("cell %d: received%s, want%s", k, m[7], want)
				}
				lines++
			}
			if lines != 45 {
				t.Fatalf("lexbench %s: %d cell lines, want 45", strings.Join(args, " "), lines)
			}
			// the same events in the JSON object
			out, _, _ = runArgs(append(args, "--json")...)
			var res struct {
				Oscillation struct{ Cells uint64 }
				CellEvents  []cellEvent `json:"cell_events"`
			}
			if err := json.Unmarshal([]byte(out), &res); err != nil {
				t.Fatal(err)
			}
			if res.Oscillation.Cells != 45 || len(res.CellEvents) != 45 || res.CellEvents[0].Action != action ||
				len(res.CellEvents[0].Domains) != 3 || prog != (res.CellEvents[0].Names != nil) {
				t.Fatalf("lexbench %s --json: %+v", strings.Join(args, " "), res)
			}
		}
	}
}

func TestLocalDampPrintsDroppedOnlyWithAnOscillation(t *testing.T) {
	out, _, code := runArgs("oscillation", "-n", "1000", "--groups", "1", "--batch", "1", "--seed", "10",
		"--detect", "local", "--on-oscillation", "damp")
	if m := configLines(out); code != exitOK || m["outcome"] != "converged" || m["dropped"] != "" || m["oscillation"] != "" {
		t.Fatalf("exit %d:\n%s", code, out)
	}
	// the same run under global detection prints dropped: 0 (SPEC §5.5)
	out, _, _ = runArgs("oscillation", "-n", "1000", "--groups", "1", "--batch", "1", "--seed", "10", "--on-oscillation", "damp")
	if m := configLines(out); m["dropped"] != "0" {
		t.Fatalf("global damp: dropped %q, want 0", m["dropped"])
	}
}

func TestDetectFlagIsChecked(t *testing.T) {
	for _, args := range [][]string{
		{"banking", "-n", "10", "--detect", "cells"},
		{"banking", "-n", "10", "--detect", ""},
		{"resume", "--detect", "both", "j"},
	} {
		out, errOut, code := runArgs(args...)
		if code != exitBadInput || out != "" || !strings.HasPrefix(errOut, "lexbench: ") || !strings.Contains(strings.SplitN(errOut, "\n", 2)[0], "--detect") {
			t.Errorf("lexbench %s: exit %d, stdout %q, stderr %q", strings.Join(args, " "), code, out, errOut)
		}
	}
}

// TestLocalDampResumesFromItsSnapshots: a damping run with local detection
// whose journal lost its tail resumes from its newest snapshot (with
// damped cells) to the uninterrupted result, at another shard count,
// taking --detect from the run file; replay agrees, and a --detect that
// differs from the run's is refused. (The engine's tests
// resume from every tick, mid-search included.)
func TestLocalDampResumesFromItsSnapshots(t *testing.T) {
	dir := t.TempDir()
	j := filepath.Join(dir, "j.lxj")
	args := []string{"oscillation", "-n", "20000", "--groups", "500", "--batch", "16", "--detect", "local",
		"--on-oscillation", "damp", "--shards", "2", "--journal", j, "--snapshot-every", "7"}
	out, errOut, wantCode := runArgs(args...)
	want := configLines(out)
	if wantCode != exitViolated || !strings.Contains(want["oscillation"], " cells=") || want["dropped"] == "" {
		t.Fatalf("run: exit %d (damping breaks the goal of the damped groups: want 2)\n%s\n%s", wantCode, out, errOut)
	}
	st, err := os.Stat(j)
	if err != nil {
		t.Fatal(err)
	}
	// a torn last block, as a run killed while writing it leaves (its run
	// file still says running): the newest snapshots stay usable
	if err := markRunning(j); err != nil {
		t.Fatal(err)
	}
	if err := os.Truncate(j, st.Size()-40); err != nil {
		t.Fatal(err)
	}
	out, errOut, code := runArgs("resume", j, "--shards", "3")
	got := configLines(out)
	if code != wantCode || !strings.HasPrefix(got["resume"], "from tick ") {
		t.Fatalf("resume: exit %d\n%s\n%s", code, out, errOut)
	}
	for _, k := range []string{"trace", "state", "outcome", "ticks", "msgs", "dropped", "oscillation"} {
		if got[k] != want[k] {
			t.Errorf("resume: %s = %q, want %q", k, got[k], want[k])
		}
	}
	out, _, code = runArgs("replay", j, "--shards", "1")
	if code != exitOK || configLines(out)["trace"] != want["trace"] || !strings.Contains(out, "replay: identical") {
		// replay reports the comparison, not the run's outcome
		t.Fatalf("replay: exit %d\n%s", code, out)
	}
	if _, errOut, code = runArgs("resume", j, "--detect", "global"); code != exitBadInput || !strings.Contains(errOut, "--detect") {
		t.Fatalf("resume with another --detect: exit %d, stderr %q", code, errOut)
	}
	// Without its run file the journal resumes from tick 0 with the flags
	// given: the run's --detect local re-creates it, global detection
	// diverges from it.
	if err := os.Remove(runfile.Path(j)); err != nil {
		t.Fatal(err)
	}
	if _, errOut, code = runArgs("resume", j, "--on-oscillation", "damp"); code != exitBadInput || !strings.Contains(errOut, "diverged") {
		t.Errorf("resume without run file, global detection: exit %d\n%s", code, errOut)
	}
	// that resume, which diverged, left no run file (which the next
	// resume would hold to)
	if _, err := os.Stat(runfile.Path(j)); err == nil {
		t.Fatal("a resume that diverged wrote a run file")
	}
	out, errOut, code = runArgs("resume", j, "--on-oscillation", "damp", "--detect", "local")
	got = configLines(out)
	if code != wantCode || got["resume"] != "from the start (no usable snapshot)" || got["trace"] != want["trace"] || got["oscillation"] != want["oscillation"] {
		t.Errorf("resume without run file, --detect local: exit %d\n%s\n%s", code, out, errOut)
	}
}

// TestDetectProgramsAndLogPassThroughTheSupervisor: the supervisor hands
// its arguments to the child unchanged, so --detect local, a program run
// and lexbench log give through it what they give in one process (stdout,
// the cell lines on stderr, the exit code).
func TestDetectProgramsAndLogPassThroughTheSupervisor(t *testing.T) {
	j := filepath.Join(t.TempDir(), "j.lxj")
	for _, args := range [][]string{
		{"oscillation", "-n", "1e4", "--groups", "20", "--detect", "local", "--shards", "2"},
		{"run", filepath.Join(protoDir, "sync.lxm"), "--shards", "2", "--journal", j, "--force"}, // --force: run twice
		{"log", j, "--tick", "2..3", "--domain", "NodeB"},
	} {
		want, wantErr, wantCode := runArgs(args...)
		cmd := exec.Command(os.Args[0], args...)
		cmd.Env = append(os.Environ(), "LEXBENCH_AS_MAIN=supervised")
		var stderr strings.Builder
		cmd.Stderr = &stderr
		out, _ := cmd.Output()
		if args[0] != "log" { // a run: the same results (timings differ)
			w, g := configLines(want), configLines(string(out))
			for _, k := range []string{"params", "trace", "state", "outcome", "ticks", "msgs", "oscillation", "suppressed"} {
				if g[k] != w[k] {
					t.Errorf("%v: %s: %q through the supervisor, %q in one process", args, k, g[k], w[k])
				}
			}
		} else if string(out) != want || !strings.Contains(want, "(NodeB)") {
			t.Errorf("%v: through the supervisor\n%s\nin one process\n%s", args, out, want)
		}
		if code := cmd.ProcessState.ExitCode(); code != wantCode || stderr.String() != wantErr {
			t.Errorf("%v: exit %d, stderr %q through the supervisor; exit %d, stderr %q in one process", args, code, stderr.String(), wantCode, wantErr)
		}
		if args[0] == "oscillation" && !strings.Contains(wantErr, "lexbench: cell ") {
			t.Errorf("%v: no cell lines on stderr: %q", args, wantErr)
		}
	}
}

// TestResumeReportsTheCellEventsOfTheTicksItRuns: under --detect local a
// resume reports, on stderr and in --json, exactly the cell events the
// uninterrupted run reported for the ticks after the snapshot it continues
// from (those before it were the interrupted run's to report); from the
// start, all of them.
func TestResumeReportsTheCellEventsOfTheTicksItRuns(t *testing.T) {
	dir := t.TempDir()
	j := filepath.Join(dir, "j.lxj")
	args := []string{"oscillation", "-n", "20000", "--groups", "500", "--batch", "16", "--detect", "local",
		"--on-oscillation", "damp", "--shards", "2", "--journal", j, "--snapshot-every", "7"}
	out, all, code := runArgs(args...)
	if code != exitViolated {
		t.Fatalf("run: exit %d\n%s\n%s", code, out, all)
	}
	tickOf := func(l string) uint64 {
		m := cellLine.FindStringSubmatch(l)
		if m == nil {
			t.Fatalf("not a cell line: %q", l)
		}
		var tick uint64
		fmt.Sscan(m[4], &tick)
		return tick
	}
	cellLines := func(s string) []string {
		var ls []string
		for _, l := range strings.Split(s, "\n") {
			if strings.HasPrefix(l, "lexbench: cell ") {
				ls = append(ls, l)
			}
		}
		return ls
	}
	events := cellLines(all)
	saved := map[string][]byte{}
	for _, p := range []string{j, runfile.Path(j)} {
		saved[p], _ = os.ReadFile(p)
	}
	snaps, _ := filepath.Glob(filepath.Join(j+".snapshots", "*"))
	for _, p := range snaps {
		saved[p], _ = os.ReadFile(p)
	}
	// crash: the journal loses its last 40 bytes, the run file says running
	crash := func(withSnapshots bool) {
		t.Helper()
		for p, b := range saved {
			if err := os.WriteFile(p, b, 0o644); err != nil {
				t.Fatal(err)
			}
		}
		if !withSnapshots {
			for _, p := range snaps {
				os.Remove(p)
			}
		}
		if err := markRunning(j); err != nil {
			t.Fatal(err)
		}
		if err := os.Truncate(j, int64(len(saved[j]))-40); err != nil {
			t.Fatal(err)
		}
	}
	for _, withSnapshots := range []bool{true, false} {
		crash(withSnapshots)
		out, errOut, code := runArgs("resume", j, "--shards", "3")
		var from uint64
		_, err := fmt.Sscanf(configLines(out)["resume"], "from tick %d", &from)
		if code != exitViolated || withSnapshots != (err == nil) {
			t.Fatalf("resume (snapshots %v): exit %d\n%s\n%s", withSnapshots, code, out, errOut)
		}
		var want []string
		for _, l := range events {
			if tickOf(l) > from {
				want = append(want, l)
			}
		}
		if len(want) == 0 || withSnapshots && len(want) == len(events) {
			t.Fatalf("from tick %d: %d of %d events after it: the test needs some on both sides", from, len(want), len(events))
		}
		got := cellLines(errOut)
		if strings.Join(got, "\n") != strings.Join(want, "\n") {
			t.Fatalf("resume from tick %d: %d cell lines, want the run's %d after tick %d; first %q, want %q",
				from, len(got), len(want), from, first(got), first(want))
		}
		// the same events in --json
		crash(withSnapshots)
		out, _, _ = runArgs("resume", j, "--shards", "1", "--json")
		var res struct {
			CellEvents []cellEvent `json:"cell_events"`
		}
		if err := json.Unmarshal([]byte(out), &res); err != nil {
			t.Fatalf("resume --json: %v\n%s", err, out)
		}
		got = got[:0]
		for _, e := range res.CellEvents {
			ev := engine.CellEvent{Cell: e.Cell, First: e.First, End: e.End, Tick: e.Tick, Period: e.Period, Domains: e.Domains, Damped: e.Action == "damped"}
			got = append(got, strings.TrimSuffix(string(appendCellLine(nil, &ev, nil)), "\n"))
		}
		if strings.Join(got, "\n") != strings.Join(want, "\n") {
			t.Fatalf("resume --json from tick %d: %d cell events, want the run's %d; first %q, want %q", from, len(got), len(want), first(got), first(want))
		}
	}
}

func first(s []string) string {
	if len(s) == 0 {
		return ""
	}
	return s[0]
}
