package main

// Tests of issue 15's newcomer items: help, version, verify's output,
// profiles, Ctrl-C, benchstat keys, impl, the default shard count and
// crash exit codes.

import (
	"bytes"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/lexbench/lexbench/runfile"
	"github.com/lexbench/lexbench/workloads"
)

// Every command answers --help (and -h) on stdout with exit 0 and nothing
// on stderr; `run FILE.lxm --help` shows that program's flags.
func TestEveryCommandAnswersHelp(t *testing.T) {
	prog := filepath.Join(lxmDir, "storm.lxm")
	cases := [][]string{{"help"}, {"--help"}, {"-h"}, {"run", prog}, {"run"}, {"check"}, {"disasm"},
		{"verify"}, {"resume"}, {"replay"}, {"log"}, {"version"}, {"sim"}, {"sim", "storm"},
		{"cluster"}, {"partition"}, {"replica"}, {"publish"}, {"agree"}, {"merge"}, {"nats"},
		{"cluster", "banking"}, {"partition", "storm"}, {"replica", prog}, {"publish", "banking"}, {"agree", "banking"}}
	for _, s := range workloads.All {
		cases = append(cases, []string{s.Name})
	}
	for _, c := range cases {
		for _, h := range []string{"--help", "-h"} {
			args := append(slices.Clone(c), h)
			if c[0] == "help" || c[0] == "--help" || c[0] == "-h" {
				args = c
			}
			out, errs, code := runArgs(args...)
			if code != exitOK || errs != "" || !strings.HasPrefix(out, "usage: lexbench") && c[0] != "version" {
				t.Errorf("lexbench %s: exit %d, stderr %q, stdout %.80q", strings.Join(args, " "), code, errs, out)
			}
			if c[0] != "version" && c[0] != "check" && c[0] != "disasm" && !strings.Contains(out, "130") {
				t.Errorf("lexbench %s: the help does not list the exit codes", strings.Join(args, " "))
			}
		}
	}
	out, _, _ := runArgs("run", prog, "--help")
	if !strings.Contains(out, "lexbench run "+prog) || !strings.Contains(out, "--producers") || !strings.Contains(out, "--consumers") {
		t.Errorf("run FILE.lxm --help does not show the program's flags:\n%s", out)
	}
	// a program has any number of keys, each a flag with its range
	three := filepath.Join(t.TempDir(), "three.lxm")
	src := strings.Replace(string(readFile(t, prog)), "\nkey consumers", "\nkey extra = 3 in 1..9 \"a third key\"\nkey consumers", 1)
	if err := os.WriteFile(three, []byte(src), 0o644); err != nil {
		t.Fatal(err)
	}
	out, _, _ = runArgs("run", three, "--help")
	for _, want := range []string{"--producers", "--extra", "a third key, 1..9", "--consumers"} {
		if !strings.Contains(out, want) {
			t.Errorf("run FILE.lxm --help of a program with three keys does not show %q:\n%s", want, out)
		}
	}
	if out, _, code := runArgs("run", filepath.Join(protoDir, "sync.lxm"), "--help"); code != exitOK || !strings.Contains(out, "--seed") || !strings.Contains(out, "--detect") {
		t.Errorf("run FILE.lxm --help of a program without keys: exit %d\n%s", code, out)
	}
	out, _, _ = runArgs("banking", "--help")
	for _, want := range []string{"1..16777216", "2..1048576", "1..1024", "1..2^32", "--force"} {
		if !strings.Contains(out, want) {
			t.Errorf("banking --help does not show %q:\n%s", want, out)
		}
	}
}

// The unknown-command message lists every command.
func TestUnknownCommandListsEveryCommand(t *testing.T) {
	_, errs, code := runArgs("bankng")
	first, _, _ := strings.Cut(errs, "\n")
	if code != exitBadInput {
		t.Fatalf("exit %d", code)
	}
	for _, c := range append(strings.Split(workloads.Names(), "|"), "verify", "resume", "replay", "run", "check", "disasm", "log", "version", "help") {
		if !strings.Contains(first, c) {
			t.Errorf("%q does not list %s", first, c)
		}
	}
}

// lexbench version names the module, the commit and the Go version.
func TestVersion(t *testing.T) {
	out, _, code := runArgs("version")
	if code != exitOK || !strings.HasPrefix(out, "lexbench ") || !strings.Contains(out, "commit ") || !strings.Contains(out, "go1.") {
		t.Fatalf("version: exit %d\n%s", code, out)
	}
	// a built binary prints the commit go build recorded in it (none where
	// the go command cannot read the repository: then it says so)
	bin := buildLexbench(t)
	b, err := exec.Command(bin, "version").Output()
	if err != nil {
		t.Fatal(err)
	}
	info, err := exec.Command("go", "version", "-m", bin).Output()
	if err != nil {
		t.Fatal(err)
	}
	_, rev, ok := strings.Cut(string(info), "vcs.revision=")
	rev, _, _ = strings.Cut(rev, "\n")
	if ok && !strings.Contains(string(b), "commit "+rev) || !ok && !strings.Contains(string(b), "commit unknown") {
		t.Errorf("version of a binary built with vcs.revision %q:\n%s", rev, b)
	}
}

// verify of a missing file, a directory, an empty file and a file that is
// not a journal: a verify: failed line on stdout, one error line on
// stderr, exit 1.
func TestVerifyOfWhatIsNotAJournal(t *testing.T) {
	dir := t.TempDir()
	empty, text := filepath.Join(dir, "empty"), filepath.Join(dir, "notes.txt")
	os.WriteFile(empty, nil, 0o644)
	os.WriteFile(text, []byte("hello, this is not a journal at all, but long enough to have a header................."), 0o644)
	for _, p := range []string{filepath.Join(dir, "missing"), dir, empty, text} {
		out, errs, code := runArgs("verify", p)
		if code != exitBadInput || !strings.Contains(out, "verify: failed") || strings.Count(errs, "\n") != 1 {
			t.Errorf("verify %s: exit %d, stdout %q, stderr %q", p, code, out, errs)
		}
	}
}

// --profile-dir that does not exist is created, and the profile's path is
// printed on stderr.
func TestProfileDirIsCreatedAndTheProfileNamed(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "a", "b")
	out, errs, code := runArgs("banking", "-n", "1e5", "--profile", "cpu", "--profile-dir", dir)
	want := filepath.Join(dir, "cpu.pprof")
	if code != exitOK || !strings.Contains(errs, want) || !strings.Contains(out, "trace:") {
		t.Fatalf("exit %d, stderr %q", code, errs)
	}
	if st, err := os.Stat(want); err != nil || st.Size() == 0 {
		t.Fatalf("profile %s: %v", want, err)
	}
}

// Ctrl-C during a journaled run: it stops at a tick boundary with the
// journal closed there and a snapshot, prints where and the resume
// command, exits 130; the journal verifies, and resume ends exactly as an
// uninterrupted run.
func TestCtrlCStopsAtATickBoundaryAndResumes(t *testing.T) {
	dir := t.TempDir()
	j := filepath.Join(dir, "J")
	args := []string{"storm", "-n", "3e7", "--shards", "1", "--journal", j, "--snapshot-every", "100000000"}
	cmd := exec.Command(os.Args[0], args...)
	cmd.Env = append(os.Environ(), "LEXBENCH_AS_MAIN=1")
	var out, errb bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &errb
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	waitWritten(t, j, 16<<20)
	cmd.Process.Signal(syscall.SIGINT)
	cmd.Wait()
	if code := cmd.ProcessState.ExitCode(); code != 130 || out.Len() != 0 || !strings.Contains(errb.String(), "continue with: lexbench resume "+j) ||
		!strings.Contains(errb.String(), "with a snapshot at tick") {
		t.Fatalf("exit %d, stdout %q, stderr %q", code, out.String(), errb.String())
	}
	rf, err := runfile.Read(runfile.Path(j))
	if err != nil || rf.State != runfile.Interrupted {
		t.Fatalf("run file after Ctrl-C: %+v %v", rf, err)
	}
	if _, errs, code := runArgs("verify", j); code != exitOK {
		t.Fatalf("verify after Ctrl-C: %s", errs)
	}
	res := mustRun(t, "resume", j)
	if !strings.Contains(res["params"], "n=30000000") || res["outcome"] != "converged" || !strings.HasPrefix(res["resume"], "from tick ") {
		t.Fatalf("resume after Ctrl-C: %v", res)
	}
	want := mustRun(t, args[:5]...)
	for _, k := range []string{"trace", "state", "ticks", "msgs", "delivered"} {
		if res[k] != want[k] {
			t.Errorf("resume after Ctrl-C: %s %s, uninterrupted %s", k, res[k], want[k])
		}
	}
}

// benchstat carries a configuration key forward until it is set again:
// runs of different workloads, native and interpreted, print the same
// keys, blank where they do not apply, so a file of several runs gives no
// run another's figures; impl tells native and interpreted apart.
func TestEveryRunPrintsEveryConfigurationKey(t *testing.T) {
	keys := func(out string) (ks []string) {
		for _, l := range strings.Split(out, "\n") {
			if k, _, ok := strings.Cut(l, ":"); ok && !strings.HasPrefix(l, "#") && !strings.HasPrefix(l, "Benchmark") {
				ks = append(ks, k)
			}
		}
		return ks
	}
	var first []string
	for _, args := range [][]string{
		{"banking", "-n", "1e4"}, {"storm", "-n", "1e4"}, {"oscillation", "-n", "1e4", "--on-oscillation", "damp"},
		{"sync", "-n", "1e4"}, {"run", filepath.Join(lxmDir, "storm.lxm"), "-n", "1e4"},
		{"banking", "-n", "1e4", "--delay", "1k"}, {"run", filepath.Join(lxmDir, "storm.lxm"), "-n", "1e4", "--delay", "1k"},
		{"oscillation", "-n", "1e4", "--detect", "local"}, {"run", filepath.Join(protoDir, "conflict.lxm")},
	} {
		out, errs, code := runArgs(args...)
		if code != exitOK {
			t.Fatalf("%v: %d %s", args, code, errs)
		}
		ks := keys(out)
		if first == nil {
			first = ks
		} else if !slices.Equal(ks, first) {
			t.Errorf("%v prints keys %v, the first run %v", args, ks, first)
		}
		c := configLines(out)
		if impl := c["impl"]; (args[0] == "run") != (impl == "interpreted") || impl == "" {
			t.Errorf("%v: impl %q", args, impl)
		}
		// a program with domain goals counts the goals it passes over;
		// local detection counts cells on the oscillation line
		goals, local := strings.HasSuffix(args[1], "conflict.lxm"), slices.Contains(args, "local")
		if (c["suppressed"] != "") != goals {
			t.Errorf("%v: suppressed: %q", args, c["suppressed"])
		}
		if osc := c["oscillation"]; strings.Contains(osc, " cells=") != local || local && !strings.HasPrefix(osc, "tick=") {
			t.Errorf("%v: oscillation: %q", args, osc)
		}
	}
	for _, k := range []string{"delivered", "applied", "dropped", "suppressed", "oscillation", "violation", "faults"} {
		if !slices.Contains(first, k) {
			t.Errorf("key %s is not printed by every run", k)
		}
	}
}

// Without --shards, the count is the engine's prediction, named in a `# `
// comment (not a configuration line, which would split benchstat's
// tables); with --shards, no comment.
func TestDefaultShardsArePredictedAndNamed(t *testing.T) {
	out, _, _ := runArgs("banking", "-n", "1e7")
	if !strings.Contains(out, "\n# shards: ") || configLines(out)["shards"] == "" {
		t.Fatalf("no # shards: comment:\n%s", out)
	}
	out, _, _ = runArgs("banking", "-n", "1e5", "--shards", "2")
	if strings.Contains(out, "# shards:") || configLines(out)["shards"] != "2" {
		t.Fatalf("--shards 2:\n%s", out)
	}
}

// A panic anywhere in lexbench (here a goroutine's, as issue 15 #10's
// engine panic was) exits 70 with a one-line summary, never 2.
func TestAPanicIsACrashNotAResult(t *testing.T) {
	cmd := exec.Command(os.Args[0], "banking", "-n", "1e4")
	cmd.Env = append(os.Environ(), "LEXBENCH_AS_MAIN=supervised", "LEXBENCH_TEST_CRASH=panic")
	var errb bytes.Buffer
	cmd.Stderr = &errb
	done := make(chan error, 1)
	go func() { done <- cmd.Run() }()
	select {
	case <-done:
	case <-time.After(60 * time.Second):
		t.Fatal("no exit")
	}
	if code := cmd.ProcessState.ExitCode(); code != exitCrash || !strings.Contains(errb.String(), "lexbench: crashed (panic: runtime error: index out of range") {
		t.Fatalf("exit %d, stderr:\n%s", code, lastLines(errb.String(), 3))
	}
	// a result exit code passes through the supervisor unchanged
	cmd = exec.Command(os.Args[0], "storm", "-n", "1e5", "--max-msgs", "10")
	cmd.Env = append(os.Environ(), "LEXBENCH_AS_MAIN=supervised")
	if out, _ := cmd.Output(); cmd.ProcessState.ExitCode() != exitBudget || !strings.Contains(string(out), "outcome: budget") {
		t.Fatalf("budget through the supervisor: exit %d\n%s", cmd.ProcessState.ExitCode(), out)
	}
}

// kill -9 of lexbench's pid (the supervisor) ends the run too: its child
// dies with it and the journal's lock is free for a resume.
func TestKillingTheSupervisorEndsTheRun(t *testing.T) {
	j := filepath.Join(t.TempDir(), "J")
	cmd := exec.Command(os.Args[0], "banking", "-n", "1e9", "--shards", "1", "--journal", j)
	cmd.Env = append(os.Environ(), "LEXBENCH_AS_MAIN=supervised")
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	waitWritten(t, j, 1<<20)
	cmd.Process.Signal(syscall.SIGKILL)
	cmd.Wait()
	t0 := time.Now()
	for {
		_, errs, code := runArgs("banking", "-n", "1e5", "--journal", j, "--force")
		if code == exitOK {
			return
		}
		if time.Since(t0) > 10*time.Second {
			t.Fatalf("the journal is still locked 10 s after the supervisor was killed: %s", errs)
		}
		time.Sleep(20 * time.Millisecond)
	}
}
