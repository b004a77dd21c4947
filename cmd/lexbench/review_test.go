package main

// Tests of the defects a fresh-user review found (review of main at
// 4704263), end to end through the CLI; each fails on the code before
// its fix.

import (
	"bytes"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/spf13/pflag"

	"github.com/lexbench/lexbench/workloads"
)

// afterBlocks is the offset after the first n blocks of journal b, a
// banking journal (its params take 80 bytes): the 64-byte header, then
// blocks of a 32-byte header and 32-byte entries (count at header byte 4).
func afterBlocks(b []byte, n int) int {
	off := 64 + 80
	for i := 0; i < n; i++ {
		off += 32 + 32*(int(b[off+4])|int(b[off+5])<<8)
	}
	return off
}

// A run file that is there but cannot be used (damaged, empty, a
// directory, another journal's) is an error naming it for every command
// that reads it: verify must not skip it and then pass a journal cut
// after its run closed it, which the run file alone can tell.
func TestADamagedRunFileFailsEveryCommandAlike(t *testing.T) {
	dir := t.TempDir()
	j, other := filepath.Join(dir, "J"), filepath.Join(dir, "other")
	mustRun(t, "banking", "-n", "1e5", "--shards", "1", "--journal", j)
	mustRun(t, "banking", "-n", "1e5", "--shards", "1", "--journal", other)
	orig := readFile(t, j)
	// cut the journal at a block boundary: a valid, shorter journal that
	// only the run file shows changed
	off := afterBlocks(orig, 5)
	if err := os.WriteFile(j, orig[:off], 0o644); err != nil {
		t.Fatal(err)
	}
	if out, _, code := runArgs("verify", j); code != exitBadInput || strings.Contains(out, "verify: ok") {
		t.Fatalf("verify of a cut journal with its run file: exit %d\n%s", code, out)
	}
	rf := j + ".run"
	good := readFile(t, rf)
	damage := map[string]func() error{
		"appended": func() error { return os.WriteFile(rf, append(append([]byte(nil), good...), "x\n"...), 0o644) },
		"empty":    func() error { return os.WriteFile(rf, nil, 0o644) },
		"directory": func() error {
			if err := os.Remove(rf); err != nil {
				return err
			}
			return os.Mkdir(rf, 0o755)
		},
		"another journal's": func() error { return os.WriteFile(rf, readFile(t, other+".run"), 0o644) },
	}
	for name, do := range damage {
		os.RemoveAll(rf)
		os.WriteFile(rf, good, 0o644)
		if err := do(); err != nil {
			t.Fatal(err)
		}
		for _, cmd := range []string{"verify", "resume", "replay", "log"} {
			out, errs, code := runArgs(cmd, j)
			if code != exitBadInput || strings.Contains(out, "verify: ok") || strings.Count(errs, "\n") != 1 || !strings.Contains(errs, rf) {
				t.Errorf("%s with a %s run file: exit %d, stdout %q, stderr %q; want exit 1 and one line naming %s", cmd, name, code, lastLines(out, 3), errs, rf)
			}
		}
		if !bytes.Equal(readFile(t, j), orig[:off]) {
			t.Fatalf("%s run file: the journal changed", name)
		}
	}
}

// replay --json prints one JSON object either way: on success with the
// verdict and the blocks compared, on a divergence with where it is and
// what differed (exit 1), never the text report.
func TestReplayJSONHasTheVerdict(t *testing.T) {
	dir := t.TempDir()
	j := filepath.Join(dir, "J")
	want := mustRun(t, "banking", "-n", "1e5", "--shards", "1", "--journal", j)
	out, errs, code := runArgs("replay", j, "--json")
	var ok struct {
		Trace          string
		Replay         string
		BlocksCompared *uint64 `json:"blocks_compared"`
		Blocks         uint64
	}
	if err := json.Unmarshal([]byte(out), &ok); err != nil || code != exitOK || ok.Replay != "identical" ||
		ok.BlocksCompared == nil || *ok.BlocksCompared != ok.Blocks || ok.Blocks == 0 || ok.Trace != want["trace"] {
		t.Fatalf("replay --json of an intact journal: exit %d, %v\n%s%s", code, err, out, errs)
	}
	b := readFile(t, j)
	b[len(b)-40] ^= 1
	os.WriteFile(j, b, 0o644)
	out, errs, code = runArgs("replay", j, "--json")
	var bad struct {
		Replay     string
		Divergence *struct {
			Block, Tick, Offset *uint64
			Entry               *int
			What                string
			Journal, Replay     *struct {
				Tick     uint32
				Kind     string
				Src, Dst uint32
				A, B     uint64
			}
		}
	}
	if err := json.Unmarshal([]byte(out), &bad); err != nil || code != exitBadInput || bad.Replay != "diverged" || bad.Divergence == nil ||
		bad.Divergence.Block == nil || bad.Divergence.Entry == nil || bad.Divergence.What != "entries differ" ||
		bad.Divergence.Journal == nil || bad.Divergence.Replay == nil || *bad.Divergence.Journal == *bad.Divergence.Replay ||
		strings.Count(errs, "\n") != 1 {
		t.Fatalf("replay --json of a changed journal: exit %d, %v\nstdout %q\nstderr %q", code, err, out, errs)
	}
}

// sim's help says what sim does: no --fault-seed (refused), every exit
// code sim returns, each default once; and no command's help prints a
// default twice.
func TestSimHelpMatchesSim(t *testing.T) {
	out, _, code := runArgs("sim", "storm", "--help")
	if code != exitOK || strings.Contains(out, "--fault-seed") || !strings.Contains(out, "else 3 if one oscillated") {
		t.Errorf("sim storm --help: exit %d\n%s", code, out)
	}
	if _, errs, code := runArgs("sim", "storm", "--fault-seed", "3"); code != exitBadInput || !strings.Contains(errs, "--fault-seed") {
		t.Errorf("sim storm --fault-seed 3: exit %d, %q", code, errs)
	}
	helps := [][]string{{"sim", "storm", "--help"}, {"sim", "--help"}, {"resume", "--help"}, {"replay", "--help"}, {"log", "--help"}}
	for _, w := range strings.Split(commandNames(), "|")[0:5] {
		helps = append(helps, []string{w, "--help"})
	}
	for _, h := range helps {
		out, _, _ := runArgs(h...)
		for _, l := range strings.Split(out, "\n") {
			if strings.Count(l, "default") > 1 {
				t.Errorf("lexbench %s: a default twice: %q", strings.Join(h, " "), l)
			}
		}
	}
}

// sim -v prints the sim: header before the per-seed lines; --keep creates
// its directory only when there is a journal to keep, and refuses one
// whose parent does not exist.
func TestSimVerboseHeaderAndKeepDir(t *testing.T) {
	dir := t.TempDir()
	keep := filepath.Join(dir, "kept")
	out, errs, code := runArgs("sim", "storm", "-n", "2e3", "--seeds", "1..3", "-v", "-j", "1", "--keep", keep)
	if code != exitOK || !strings.HasPrefix(out, "sim: ") || strings.Count(out, "\nseed ") < 3 {
		t.Fatalf("sim -v: exit %d\n%s%s", code, out, errs)
	}
	if _, err := os.Stat(keep); err == nil {
		t.Errorf("--keep %s was created with no failing seed", keep)
	}
	missing := filepath.Join(dir, "no", "such", "kept")
	_, errs, code = runArgs("sim", "storm", "-n", "2e3", "--seeds", "1..3", "--drop", "100", "--keep", missing)
	if first, _, _ := strings.Cut(errs, "\n"); code != exitBadInput || !strings.Contains(first, "--keep") || !strings.Contains(first, filepath.Join(dir, "no", "such")) {
		t.Errorf("--keep in a missing directory: exit %d, %q", code, errs)
	}
	if _, err := os.Stat(filepath.Join(dir, "no")); err == nil {
		t.Errorf("--keep created the missing parent directories")
	}
}

// Every string flag of every command given an empty value (--journal "",
// an unset shell variable) is a one-line error naming it, exit 1, never
// the flag left out.
func TestAnEmptyStringFlagIsAnError(t *testing.T) {
	dir := t.TempDir()
	j := filepath.Join(dir, "J")
	type cmd struct {
		args []string
		fs   *pflag.FlagSet
	}
	var rf runFlags
	var lf logFlags
	var sf simFlags
	var rsf, rpf recoverFlags
	cmds := []cmd{
		{[]string{"banking", "-n", "10"}, newRunFlagSet(&workloads.BankingSpec, &rf)},
		{[]string{"resume", j}, newRecoverFlagSet("resume", &rsf)},
		{[]string{"replay", j}, newRecoverFlagSet("replay", &rpf)},
		{[]string{"log", j}, newLogFlagSet(&lf)},
		{[]string{"sim", "storm", "-n", "10", "--seeds", "1"}, newSimFlagSet(&workloads.StormSpec, &sf)},
	}
	n := 0
	for _, c := range cmds {
		c.fs.VisitAll(func(f *pflag.Flag) {
			if f.Value.Type() != "string" {
				return
			}
			for _, form := range [][]string{{"--" + f.Name, ""}, {"--" + f.Name + "="}} {
				n++
				args := append(append([]string(nil), c.args...), form...)
				out, errs, code := runArgs(args...)
				first, _, _ := strings.Cut(errs, "\n")
				if code != exitBadInput || out != "" || !strings.HasPrefix(first, "lexbench: ") || !strings.Contains(first, "--"+f.Name) {
					t.Errorf("lexbench %q: exit %d, stdout %q, first stderr line %q; want exit 1 naming --%s", args, code, out, first, f.Name)
				}
			}
		})
	}
	if n < 20 {
		t.Fatalf("only %d string flags found", n/2)
	}
	// the replicated and partitioned commands, and the server
	for _, c := range [][]string{
		{"cluster", "banking", "--dir"}, {"cluster", "banking", "--nats"}, {"cluster", "banking", "--detect"},
		{"partition", "banking", "--journal"}, {"partition", "banking", "--nats"},
		{"replica", "banking", "--journal"}, {"replica", "banking", "--nats"},
		{"publish", "banking", "--nats"}, {"agree", "banking", "--nats"},
		{"nats", "--store"}, {"nats", "--listen"},
	} {
		name := c[len(c)-1]
		for _, args := range [][]string{append(slices.Clone(c), ""), append(slices.Clone(c[:len(c)-1]), name+"=")} {
			out, errs, code := runArgs(args...)
			first, _, _ := strings.Cut(errs, "\n")
			if code != exitBadInput || out != "" || !strings.Contains(first, name) {
				t.Errorf("lexbench %q: exit %d, stdout %q, first stderr line %q; want exit 1 naming %s", args, code, out, first, name)
			}
		}
	}
	if ents, _ := os.ReadDir(dir); len(ents) != 0 {
		t.Errorf("files left behind: %v", ents)
	}
}

// A journal whose run was killed (its valid blocks, then the unwritten
// tail; its run file says running, or there is none): verify says resume
// continues it, and replay says so in one line, exit 1, rather than
// calling the end of the journal a divergence.
func TestAJournalThatWasNotClosedIsNotADivergence(t *testing.T) {
	dir := t.TempDir()
	j := filepath.Join(dir, "J")
	mustRun(t, "banking", "-n", "1e5", "--shards", "1", "--journal", j)
	orig := readFile(t, j)
	off := afterBlocks(orig, 7)
	killed := append(append([]byte(nil), orig[:off]...), make([]byte, 1<<16)...) // the preallocated tail
	for _, runFile := range []bool{true, false} {
		if err := os.WriteFile(j, killed, 0o644); err != nil {
			t.Fatal(err)
		}
		if runFile {
			if err := markRunning(j); err != nil {
				t.Fatal(err)
			}
		} else {
			os.Remove(j + ".run")
		}
		resume := "`lexbench resume " + j + "` continues it"
		out, errs, code := runArgs("verify", j)
		if code != exitBadInput || !strings.Contains(out, "not closed") || !strings.Contains(out, resume) || !strings.Contains(errs, resume) {
			t.Errorf("verify (run file %v): exit %d\n%s%s", runFile, code, out, errs)
		}
		for _, json := range []bool{false, true} {
			args := []string{"replay", j}
			if json {
				args = append(args, "--json")
			}
			out, errs, code = runArgs(args...)
			errLines := 0
			for _, l := range strings.Split(strings.TrimSuffix(errs, "\n"), "\n") {
				if !strings.HasPrefix(l, "lexbench: note: ") {
					errLines++
				}
			}
			if code != exitBadInput || strings.Contains(out, "divergence") || errLines != 1 ||
				!strings.Contains(errs, "was not closed") || !strings.Contains(errs, resume) {
				t.Errorf("lexbench %q (run file %v): exit %d\nstdout %q\nstderr %q", args, runFile, code, out, errs)
			}
		}
	}
}

// An error names the problem there is: an unknown flag is an unknown flag
// (not a wrong count of arguments); help COMMAND is COMMAND --help; a file
// that cannot be a journal gets the same words from every command that
// reads journals; a fraction is not a whole number, a suffix after an
// exponent is no number.
func TestErrorsNameTheRealProblem(t *testing.T) {
	dir := t.TempDir()
	prog := filepath.Join(lxmDir, "storm.lxm")
	for _, c := range []struct {
		args []string
		want string
	}{
		{[]string{"verify", filepath.Join(dir, "J"), "--json"}, "unknown flag: --json"},
		{[]string{"check", "-x", prog}, "unknown shorthand flag: 'x'"},
		{[]string{"check", prog, "--json"}, "unknown flag: --json"},
		{[]string{"disasm", "--json", prog}, "unknown flag: --json"},
		{[]string{"version", "--json"}, "unknown flag: --json"},
		{[]string{"verify"}, "want exactly one JOURNAL argument"},
		{[]string{"check", prog, prog}, "want exactly one FILE.lxm argument"},
		{[]string{"banking", "-n", "1e-3"}, `"1e-3" is not a whole number`},
		{[]string{"banking", "-n", "1e3k"}, `"1e3k" is not a number`},
		{[]string{"sim", "storm", "-n", "2.5k5"}, `"2.5k5" is not a number`},
	} {
		out, errs, code := runArgs(c.args...)
		first, _, _ := strings.Cut(errs, "\n")
		if code != exitBadInput || out != "" || !strings.Contains(first, c.want) {
			t.Errorf("lexbench %q: exit %d, stdout %q, first stderr line %q; want %q", c.args, code, out, first, c.want)
		}
	}
	if out, _, code := runArgs("check", "-v", prog); code != exitOK || !strings.Contains(out, "cells") {
		t.Errorf("check -v: exit %d\n%s", code, out)
	}

	helps := []string{"verify", "resume", "replay", "run", "check", "disasm", "log", "sim", "version"}
	for _, s := range workloads.All {
		helps = append(helps, s.Name)
	}
	for _, c := range helps {
		want, _, _ := runArgs(c, "--help")
		out, errs, code := runArgs("help", c)
		if code != exitOK || errs != "" || out != want || !strings.HasPrefix(out, "usage: lexbench "+c) {
			t.Errorf("lexbench help %s: exit %d, stderr %q, stdout %.60q; want %s --help's", c, code, errs, out, c)
		}
	}

	empty, text, sub := filepath.Join(dir, "empty"), filepath.Join(dir, "text"), filepath.Join(dir, "sub")
	os.WriteFile(empty, nil, 0o644)
	os.WriteFile(text, []byte("hello, this is not a journal at all, but long enough to have a header.................\n"), 0o644)
	os.Mkdir(sub, 0o755)
	for _, p := range []string{empty, text, sub, filepath.Join(dir, "missing")} {
		said := map[string]string{}
		for _, cmd := range []string{"verify", "resume", "replay", "log"} {
			_, errs, code := runArgs(cmd, p)
			msg := strings.TrimPrefix(strings.TrimPrefix(strings.TrimSuffix(errs, "\n"), "lexbench: "), cmd+": ")
			if code != exitBadInput || strings.Contains(msg, "\n") || !strings.Contains(msg, p) {
				t.Errorf("%s %s: exit %d, stderr %q", cmd, p, code, errs)
			}
			said[msg] = cmd
		}
		if len(said) != 1 {
			t.Errorf("%s: the commands say different things: %q", filepath.Base(p), said)
		}
	}
}

// Each command's help lists its own exit codes: a command that reports no
// run has no "violated" or "budget" code. JSON lists are [] when empty,
// never null. resume --json says what resume's text lines say.
func TestHelpExitCodesAndJSONCompleteness(t *testing.T) {
	prog := filepath.Join(lxmDir, "storm.lxm")
	for _, c := range [][]string{{"verify"}, {"replay"}, {"log"}, {"check"}, {"disasm"}} {
		out, _, code := runArgs(append(c, "--help")...)
		_, codes, _ := strings.Cut(out, "exit codes:\n")
		if code != exitOK || !strings.Contains(codes, "  0    ") || !strings.Contains(codes, "  1    ") ||
			strings.Contains(codes, "violated") || strings.Contains(codes, "budget") || strings.Contains(codes, "converged") {
			t.Errorf("%s --help: exit %d, exit codes:\n%s", c[0], code, codes)
		}
	}
	if out, _, _ := runArgs("resume", "--help"); !strings.Contains(out, "a goal was violated") {
		t.Errorf("resume --help lacks the run's exit codes:\n%s", out)
	}

	for _, args := range [][]string{
		{"storm", "-n", "2e3", "--shards", "1", "--detect", "local", "--json"},
		{"run", prog, "-n", "2e3", "--shards", "1", "--detect", "local", "--json"},
		{"sim", "storm", "-n", "2e3", "--seeds", "1..2", "--json", "-v"},
	} {
		out, _, _ := runArgs(args...)
		if !strings.HasPrefix(out, "{") || strings.Contains(out, "null") {
			t.Errorf("lexbench %q: a null in\n%s", args, out)
		}
	}

	dir := t.TempDir()
	j := filepath.Join(dir, "J")
	mustRun(t, "storm", "-n", "1e5", "--batch", "100", "--shards", "1", "--journal", j, "--snapshot-every", "20")
	text, errs, code := runArgs("resume", j)
	if code != exitOK {
		t.Fatalf("resume: exit %d %s", code, errs)
	}
	out, errs, code := runArgs("resume", j, "--json")
	var got struct {
		Resume *struct {
			FromTick        *uint64  `json:"from_tick"`
			Snapshot        *string  `json:"snapshot"`
			Rejected        []string `json:"rejected_snapshots"`
			VerifiedBlocks  *uint64  `json:"verified_blocks"`
			KeptBlocks      *uint64  `json:"kept_blocks"`
			CutBytes        *int64   `json:"cut_bytes"`
			CheckedBytes    *int64   `json:"checked_bytes"`
			ReexecutedTicks *uint64  `json:"reexecuted_ticks"`
		}
	}
	if err := json.Unmarshal([]byte(out), &got); err != nil || code != exitOK || got.Resume == nil {
		t.Fatalf("resume --json: exit %d, %v\n%s%s", code, err, out, errs)
	}
	r := got.Resume
	if r.FromTick == nil || r.Snapshot == nil || r.Rejected == nil || r.VerifiedBlocks == nil || r.KeptBlocks == nil || r.CutBytes == nil || r.CheckedBytes == nil || r.ReexecutedTicks == nil {
		t.Fatalf("resume --json lacks a field: %s", out)
	}
	want := fmt.Sprintf("resume: from tick %d (%s)\nresume-journal: verified %d blocks from the start, kept %d, cut %d bytes, re-checked %d bytes, re-executed %d ticks\n",
		*r.FromTick, *r.Snapshot, *r.VerifiedBlocks, *r.KeptBlocks, *r.CutBytes, *r.CheckedBytes, *r.ReexecutedTicks)
	if *r.FromTick == 0 || !strings.HasPrefix(text, want) {
		t.Errorf("resume --json's resume %s does not say what the text says:\n%s", out, text)
	}
}
