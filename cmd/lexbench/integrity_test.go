package main

// Tests of issue 15's numbered defects, end to end through the CLI. Each
// reproduces the example (smaller) and fails on the code before
// the fix (5a39daf); they use only the CLI, so they run against it as is.

import (
	"bytes"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"
)

func readFile(t *testing.T, path string) []byte {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

func mustRun(t *testing.T, args ...string) map[string]string {
	t.Helper()
	out, errs, code := runArgs(args...)
	if code != exitOK {
		t.Fatalf("lexbench %s: exit %d\n%s%s", strings.Join(args, " "), code, out, errs)
	}
	return configLines(out)
}

// startChild starts the test binary as lexbench (one process) in the
// background.
func startChild(t *testing.T, args ...string) *exec.Cmd {
	t.Helper()
	cmd := exec.Command(os.Args[0], args...)
	cmd.Env = append(os.Environ(), "LEXBENCH_AS_MAIN=1")
	var errb bytes.Buffer
	cmd.Stderr = &errb
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	return cmd
}

// waitWritten waits until the journal at path has data at offset n (a
// journal's file is preallocated: its size says nothing).
func waitWritten(t *testing.T, path string, n int64) {
	t.Helper()
	t0 := time.Now()
	var b [8]byte
	for {
		if f, err := os.Open(path); err == nil {
			_, err = f.ReadAt(b[:], n)
			f.Close()
			if err == nil && b != [8]byte{} {
				return
			}
		}
		if time.Since(t0) > 60*time.Second {
			t.Fatalf("%s has no data at offset %d", path, n)
		}
		time.Sleep(2 * time.Millisecond)
	}
}

// Issue 15 #1: resume trusted the journal before its snapshot. A flipped
// byte, or a zeroed 4 KiB page, before the newest snapshot: resume must
// not print a result (exit 0 with the uninterrupted trace) while verify
// fails; it must fail and leave the journal as it is. After a clean
// resume, verify prints the trace resume printed.
func TestResumeNeverReportsAResultForAJournalThatDoesNotVerify(t *testing.T) {
	dir := t.TempDir()
	j := filepath.Join(dir, "J")
	mustRun(t, "banking", "-n", "4e5", "--shards", "1", "--journal", j, "--snapshot-every", "20")
	orig := readFile(t, j)
	for _, damage := range []struct {
		name string
		do   func(b []byte)
	}{
		{"flipped byte at 1000000", func(b []byte) { b[1_000_000] ^= 0x40 }},
		{"zeroed page at 1 MiB", func(b []byte) { clear(b[1<<20 : 1<<20+4096]) }},
	} {
		b := bytes.Clone(orig)
		damage.do(b)
		if err := os.WriteFile(j, b, 0o644); err != nil { // in place: the same file
			t.Fatal(err)
		}
		out, errs, code := runArgs("resume", j, "--shards", "2")
		if code == exitOK || strings.Contains(out, "trace:") {
			t.Errorf("%s: resume exit %d with a result:\n%s%s", damage.name, code, out, errs)
		}
		if !bytes.Equal(readFile(t, j), b) {
			t.Errorf("%s: resume changed the damaged journal", damage.name)
		}
		if _, _, code := runArgs("verify", j); code == exitOK {
			t.Errorf("%s: verify passes a damaged journal", damage.name)
		}
	}
	// undamaged, but cut (a crash): resume's trace is what verify prints
	os.WriteFile(j, orig[:len(orig)*2/3], 0o644)
	writeRunning(t, j)
	res := mustRun(t, "resume", j)
	if v := mustRun(t, "verify", j); v["trace"] != res["trace"] || res["trace"] == "" {
		t.Fatalf("resume printed trace %s, verify %s", res["trace"], v["trace"])
	}
}

// writeRunning makes the run file beside j say the run is still running,
// as a run killed mid-way leaves it (a no-op without a run file).
func writeRunning(t *testing.T, j string) {
	t.Helper()
	b, err := os.ReadFile(j + ".run")
	if err != nil {
		return
	}
	_ = b
	if err := markRunning(j); err != nil {
		t.Fatal(err)
	}
}

// Issue 15 #2: a run that fails at set-up destroyed the journal that was
// there. Every set-up failure leaves every existing byte as it was: a
// plain file where the snapshots go, a directory where the run file goes,
// an existing journal without --force.
func TestFailedSetupLeavesTheJournal(t *testing.T) {
	dir := t.TempDir()
	y := filepath.Join(dir, "y")
	mustRun(t, "banking", "-n", "1e5", "--journal", y)
	orig := readFile(t, y)
	stOrig, _ := os.Stat(y)
	if err := os.WriteFile(y+".snapshots", []byte("not a directory"), 0o644); err != nil {
		t.Fatal(err)
	}
	for _, args := range [][]string{
		{"banking", "-n", "1e6", "--journal", y, "--snapshot-every", "10"},
		{"banking", "-n", "1e6", "--journal", y, "--snapshot-every", "10", "--force"},
		{"storm", "-n", "1e6", "--journal", y, "--force", "--snapshot-every", "5", "--sync", "snapshot"},
	} {
		out, errs, code := runArgs(args...)
		if code != exitBadInput || strings.Count(errs, "\n") != 1 {
			t.Errorf("lexbench %s: exit %d, stderr %q, want 1 and one line", strings.Join(args, " "), code, errs)
		}
		if strings.Contains(out, "trace:") {
			t.Errorf("lexbench %s printed a result", strings.Join(args, " "))
		}
		st, err := os.Stat(y)
		if err != nil || !bytes.Equal(readFile(t, y), orig) || !os.SameFile(st, stOrig) {
			t.Fatalf("lexbench %s: the journal at y was changed or replaced (%v)", strings.Join(args, " "), err)
		}
		if b := readFile(t, y+".snapshots"); string(b) != "not a directory" {
			t.Fatal("the file at y.snapshots changed")
		}
	}
}

// Issue 15 #3: an existing journal was overwritten silently. Without
// --force a run refuses, naming --force; when the journal was not closed,
// the error says `lexbench resume J` would continue it.
func TestExistingJournalIsNotOverwritten(t *testing.T) {
	dir := t.TempDir()
	j := filepath.Join(dir, "j")
	mustRun(t, "banking", "-n", "1e5", "--journal", j)
	orig := readFile(t, j)
	_, errs, code := runArgs("banking", "-n", "2e5", "--journal", j)
	if code != exitBadInput || !strings.Contains(errs, "--force") || strings.Contains(errs, "resume") {
		t.Errorf("second run on a closed journal: exit %d, stderr %q", code, errs)
	}
	if !bytes.Equal(readFile(t, j), orig) {
		t.Fatal("the closed journal was overwritten")
	}
	// an unclosed journal: a writer killed mid-run (SIGKILL)
	u := filepath.Join(dir, "u")
	cmd := startChild(t, "banking", "-n", "1e9", "--shards", "1", "--journal", u)
	waitWritten(t, u, 8<<20)
	cmd.Process.Signal(syscall.SIGKILL)
	cmd.Wait()
	before := readFile(t, u)
	_, errs, code = runArgs("banking", "-n", "1e5", "--journal", u)
	if code != exitBadInput || !strings.Contains(errs, "lexbench resume "+u) || !strings.Contains(errs, "--force") || strings.Count(errs, "\n") != 1 {
		t.Errorf("run on an unclosed journal: exit %d, stderr %q; want the resume command and --force", code, errs)
	}
	if !bytes.Equal(readFile(t, u), before) {
		t.Fatal("the unclosed journal was overwritten")
	}
	// with --force it is replaced
	if out := mustRun(t, "banking", "-n", "1e5", "--journal", u, "--force"); out["trace"] != mustRun(t, "verify", u)["trace"] {
		t.Fatal("--force: the new journal does not verify")
	}
}

// Issue 15 #4: another run's snapshots and options were reused. Run A
// with snapshots and a budget, then run B at the same path with neither:
// a killed B resumes to B's own result (not A's budget), and a finished B
// replays without a false divergence.
func TestANewRunAtAJournalIgnoresTheOldRunsFiles(t *testing.T) {
	dir := t.TempDir()
	j := filepath.Join(dir, "J")
	aOut, _, code := runArgs("banking", "-n", "1e7", "--shards", "1", "--journal", j, "--snapshot-every", "500", "--max-ticks", "2000")
	if a := configLines(aOut); code != exitBudget || a["outcome"] != "budget" {
		t.Fatalf("run A: exit %d %v", code, a)
	}
	aSize := int64(len(readFile(t, j)))
	// run B at the same path; A's journal is removed first (so no --force
	// is needed), its snapshots and run files stay
	os.Remove(j)
	b := mustRun(t, "banking", "-n", "1e7", "--shards", "1", "--journal", j)
	if b["outcome"] != "converged" {
		t.Fatalf("run B: %v", b)
	}
	out, errs, code := runArgs("replay", j)
	if code != exitOK || configLines(out)["trace"] != b["trace"] {
		t.Fatalf("replay of B: exit %d\n%s%s", code, out, errs)
	}
	// B killed past the point where A's snapshots were taken
	os.Remove(j)
	cmd := startChild(t, "banking", "-n", "1e7", "--shards", "1", "--journal", j)
	waitWritten(t, j, aSize+1<<20)
	cmd.Process.Signal(syscall.SIGKILL)
	cmd.Wait()
	out, errs, code = runArgs("resume", j)
	got := configLines(out)
	if code != exitOK || got["outcome"] != "converged" || got["trace"] != b["trace"] || got["ticks"] != b["ticks"] {
		t.Fatalf("resume of a killed B: exit %d, %s/%s at tick %s; want B's converged %s at %s\n%s%s",
			code, got["outcome"], got["trace"], got["ticks"], b["trace"], b["ticks"], out, errs)
	}
}

// copyProgram writes the banking program under another workload name and
// returns its path.
func copyProgram(t *testing.T, dir, name string) string {
	t.Helper()
	src := strings.Replace(string(readFile(t, filepath.Join(lxmDir, "banking.lxm"))), "workload banking", "workload "+name, 1)
	path := filepath.Join(dir, name+".lxm")
	if err := os.WriteFile(path, []byte(src), 0o644); err != nil {
		t.Fatal(err)
	}
	return path
}

// Issue 15 #5: program journals resumed and replayed as the native
// workload named in the params (a program with its own name could not be
// resumed at all). Resume, replay and verify of a `lexbench run FILE.lxm`
// journal work with no flags, run the program that wrote it even after
// the file is edited or gone, and refuse a different program.
func TestProgramJournalsResumeAndReplayTheirProgram(t *testing.T) {
	dir := t.TempDir()
	prog := copyProgram(t, dir, "mybank")
	j := filepath.Join(dir, "J")
	want := mustRun(t, "run", prog, "-n", "3e5", "--batch", "1000", "--journal", j, "--snapshot-every", "40")
	if out := mustRun(t, "replay", j); out["trace"] != want["trace"] {
		t.Fatalf("replay: %v, want trace %s", out, want["trace"])
	}
	// edit the program (a different transition) and move it away
	edited := strings.Replace(string(readFile(t, prog)), "workload mybank", "workload mybank\n// edited", 1)
	edited = strings.Replace(edited, "1", "2", 3)
	os.WriteFile(prog, []byte(edited), 0o644)
	b := readFile(t, j)
	os.WriteFile(j, b[:len(b)/2], 0o644)
	writeRunning(t, j)
	got := mustRun(t, "resume", j)
	if got["trace"] != want["trace"] || got["state"] != want["state"] || got["impl"] != "interpreted" {
		t.Fatalf("resume of a program journal: %v, want %v", got, want)
	}
	if v := mustRun(t, "verify", j); v["trace"] != want["trace"] {
		t.Fatalf("verify: %v", v)
	}
	// the edited program is not the one that ran
	out, errs, code := runArgs("replay", j, "--program", prog)
	if code != exitBadInput || !strings.Contains(errs, "differs") || strings.Contains(out, "identical") {
		t.Fatalf("replay with a different program: exit %d\n%s%s", code, out, errs)
	}
	// an edited banking.lxm, keeping its name: resume runs the recorded
	// program, not native banking
	bank := copyProgram(t, dir, "banking")
	j2 := filepath.Join(dir, "J2")
	want2 := mustRun(t, "run", bank, "-n", "3e5", "--journal", j2)
	native := mustRun(t, "banking", "-n", "3e5")
	if want2["trace"] != native["trace"] {
		t.Fatalf("the banking program and native banking differ: %s %s", want2["trace"], native["trace"])
	}
	os.WriteFile(bank, []byte(strings.Replace(string(readFile(t, bank)), "workload banking", "workload banking\n// edited", 1)), 0o644)
	if out := mustRun(t, "replay", j2); out["trace"] != want2["trace"] {
		t.Fatalf("replay after the file was edited: %v", out)
	}
}

// Issue 15 #6: two writers on one journal. While a run writes J, a second
// run at J (even with --force) and a resume of J fail at once with a
// one-line error, and the first run goes on undisturbed (here until a
// Ctrl-C stops it at a tick boundary with its journal closed).
func TestASecondWriterIsRefused(t *testing.T) {
	dir := t.TempDir()
	j := filepath.Join(dir, "J")
	cmd := exec.Command(os.Args[0], "banking", "-n", "1e9", "--shards", "1", "--journal", j)
	cmd.Env = append(os.Environ(), "LEXBENCH_AS_MAIN=1")
	var out, errb bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &errb
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	waitWritten(t, j, 4<<20)
	for _, args := range [][]string{
		{"banking", "-n", "1e5", "--journal", j, "--force"},
		{"resume", j},
	} {
		o, errs, code := runArgs(args...)
		if code != exitBadInput || strings.Count(errs, "\n") != 1 || strings.Contains(o, "trace:") {
			t.Errorf("lexbench %s while J is written: exit %d, stderr %q", strings.Join(args, " "), code, errs)
		}
	}
	cmd.Process.Signal(syscall.SIGINT)
	cmd.Wait()
	if code := cmd.ProcessState.ExitCode(); code != 130 || !strings.Contains(errb.String(), "lexbench resume "+j) {
		t.Fatalf("the first run after Ctrl-C: exit %d, stderr %q; want 130 and the resume command", code, errb.String())
	}
	if _, errs, code := runArgs("verify", j); code != exitOK {
		t.Fatalf("the first run's journal: %s", errs)
	}
}

// Issue 15 #7: a zeroed page in the middle of a closed journal was called
// a torn tail ("the journal was not closed") and resume cut the valid
// blocks after it and exited 0. It is damage: verify says so, resume fails
// and leaves the file as it is.
func TestDamageInTheMiddleIsNotATornTail(t *testing.T) {
	dir := t.TempDir()
	j := filepath.Join(dir, "J")
	mustRun(t, "banking", "-n", "5e5", "--shards", "1", "--journal", j)
	b := readFile(t, j)
	clear(b[len(b)/2/4096*4096 : len(b)/2/4096*4096+4096])
	os.WriteFile(j, b, 0o644)
	out, errs, code := runArgs("verify", j)
	if code != exitBadInput || strings.Contains(errs, "not closed") || strings.Contains(errs, "unwritten tail") {
		t.Errorf("verify: exit %d, stderr %q; want damage, not a torn tail", code, errs)
	}
	out, errs, code = runArgs("resume", j)
	if code == exitOK || strings.Contains(out, "trace:") {
		t.Errorf("resume: exit %d\n%s%s", code, out, errs)
	}
	if !bytes.Equal(readFile(t, j), b) {
		t.Fatal("resume changed a journal damaged in the middle")
	}
}

// Issue 15 #8: a crash exited 2, the code for "goal violated". A journal
// truncated under a running lexbench (SIGBUS on its mapping) must end
// with lexbench's crash code, never 2.
func TestAMemoryFaultIsACrashNotAResult(t *testing.T) {
	bin := buildLexbench(t)
	dir := t.TempDir()
	j := filepath.Join(dir, "J")
	cmd := exec.Command(bin, "banking", "-n", "1e9", "--shards", "1", "--journal", j)
	var errb bytes.Buffer
	cmd.Stderr = &errb
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	waitWritten(t, j, 1<<20)
	if err := os.Truncate(j, 0); err != nil { // another program truncates the journal
		t.Fatal(err)
	}
	done := make(chan error, 1)
	go func() { done <- cmd.Wait() }()
	select {
	case <-done:
	case <-time.After(60 * time.Second):
		cmd.Process.Kill()
		t.Fatal("lexbench did not stop after its journal was truncated")
	}
	code := cmd.ProcessState.ExitCode()
	if code == 2 || code != 70 {
		t.Fatalf("exit %d after a memory fault on the journal, want 70 (a crash, not a result)\n%s", code, lastLines(errb.String(), 3))
	}
	if !strings.Contains(errb.String(), "lexbench: crashed") || !strings.Contains(errb.String(), "SIGBUS") {
		t.Fatalf("stderr does not say it crashed on a memory fault:\n%s", lastLines(errb.String(), 3))
	}
}

func lastLines(s string, n int) string {
	l := strings.Split(strings.TrimSpace(s), "\n")
	return strings.Join(l[max(0, len(l)-n):], "\n")
}

// Issue 15 #11: a program's figure could take a result key's name (msgs,
// ticks, outcome, trace, …) and replace the run's own value in --json and
// benchstat. check refuses every such name.
func TestFigureNamesCannotBeResultKeys(t *testing.T) {
	dir := t.TempDir()
	src := string(readFile(t, filepath.Join(lxmDir, "banking.lxm")))
	for _, name := range []string{"msgs", "ticks", "outcome", "trace", "state", "params", "shards",
		"faults", "oscillation", "dropped", "suppressed", "impl", "violation", "blocks", "ns_per_msg", "goos", "cpu"} {
		path := filepath.Join(dir, name+".lxm")
		os.WriteFile(path, []byte(strings.Replace(src, "figure applied", "figure "+name, 1)), 0o644)
		_, errs, code := runArgs("check", path)
		if code != exitBadInput || !strings.Contains(errs, "figure name "+name) {
			t.Errorf("figure %s: check exit %d, stderr %q", name, code, errs)
		}
	}
	_ = fmt.Sprint
}
