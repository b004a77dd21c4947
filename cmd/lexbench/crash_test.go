package main

import (
	"fmt"
	"math/rand/v2"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"
)

// TestMain lets the test binary act as lexbench in a child process: with
// LEXBENCH_AS_MAIN=1 it runs main's run (one process), with
// LEXBENCH_AS_MAIN=supervised it runs main (the supervisor and its child).
// LEXBENCH_TEST_CRASH=panic makes the supervised child panic in a
// goroutine, as a crash inside the engine would.
func TestMain(m *testing.M) {
	switch os.Getenv("LEXBENCH_AS_MAIN") {
	case "1":
		os.Exit(run(os.Args[1:], os.Stdout, os.Stderr))
	case "supervised":
		if os.Getenv("LEXBENCH_TEST_CRASH") == "panic" {
			childHook = func() {
				done := make(chan bool)
				go func() {
					defer close(done)
					var s []int
					_ = s[len(os.Args)] // index out of range, as issue 15 #10's engine panic
				}()
				<-done
			}
		}
		os.Exit(supervise(os.Args[1:]))
	}
	os.Exit(m.Run())
}

// crashCases are runs of about a second with a journal, one per workload.
var crashCases = [][]string{
	{"banking", "-n", "4e6", "--batch", "512", "--snapshot-every", "700"},
	{"storm", "-n", "3e6", "--batch", "300", "--snapshot-every", "300"},
	{"sync", "-n", "1e6", "--batch", "256", "--snapshot-every", "400"},
	{"conflict", "-n", "1e6", "--batch", "256", "--snapshot-every", "400"},
	{"oscillation", "-n", "3e5", "--groups", "500", "--batch", "200", "--on-oscillation", "damp", "--snapshot-every", "300"},
}

// TestResumeAfterSIGKILL runs each workload with journal and snapshots in
// a child process, kills it with SIGKILL at a random moment, resumes, and
// compares trace, state, outcome, ticks and msgs with an uninterrupted run
// (a smaller scripts/crashtest.sh).
func TestResumeAfterSIGKILL(t *testing.T) {
	dir := t.TempDir()
	rng := rand.New(rand.NewPCG(uint64(time.Now().UnixNano()), 1)) // kill moments only; results must not depend on them
	keys := []string{"trace", "state", "outcome", "ticks", "msgs"}
	for _, c := range crashCases {
		c := c
		ref := filepath.Join(dir, c[0]+"-ref.lxj")
		start := time.Now()
		out, errOut, code := runArgs(append(c, "--shards", "1", "--journal", ref)...)
		took := time.Since(start)
		if code != 0 {
			t.Fatalf("%s: exit %d: %s", c[0], code, errOut)
		}
		want := configLines(out)
		for k := 0; k < 2; k++ {
			path := filepath.Join(dir, fmt.Sprintf("%s-%d.lxj", c[0], k))
			cmd := exec.Command(os.Args[0], append(c, "--shards", fmt.Sprint(1+k), "--journal", path)...)
			cmd.Env = append(os.Environ(), "LEXBENCH_AS_MAIN=1")
			if err := cmd.Start(); err != nil {
				t.Fatal(err)
			}
			// kill at a random moment after the journal exists (before it,
			// there is nothing to resume)
			t0 := time.Now()
			for _, err := os.Stat(path); err != nil && time.Since(t0) < 10*time.Second; _, err = os.Stat(path) {
				time.Sleep(time.Millisecond)
			}
			delay := time.Duration(rng.Int64N(int64(took)))
			time.Sleep(delay)
			_ = cmd.Process.Signal(syscall.SIGKILL)
			_ = cmd.Wait()
			out, errOut, code := runArgs("resume", path, "--shards", fmt.Sprint(2-k))
			if code != 0 {
				t.Fatalf("%s: resume after kill at %v: exit %d: %s\n%s", c[0], delay, code, errOut, out)
			}
			got := configLines(out)
			for _, key := range keys {
				if got[key] != want[key] {
					t.Fatalf("%s: resume after kill at %v: %s %q, want %q\n%s", c[0], delay, key, got[key], want[key], out)
				}
			}
			if vout, verr, vcode := runArgs("verify", path); vcode != 0 || configLines(vout)["trace"] != want["trace"] {
				t.Fatalf("%s: journal after resume: %s %s", c[0], vout, verr)
			}
			t.Logf("%s: killed at %v of %v; %s", c[0], delay.Round(time.Millisecond), took.Round(time.Millisecond),
				strings.TrimSpace(strings.SplitN(out, "\n", 2)[0]))
		}
	}
}

func TestResumeAndReplayCommands(t *testing.T) {
	dir := t.TempDir()
	j := filepath.Join(dir, "j.lxj")
	args := []string{"storm", "-n", "20000", "--batch", "100", "--shards", "2", "--journal", j, "--snapshot-every", "5"}
	out, errOut, code := runArgs(args...)
	if code != 0 {
		t.Fatalf("run: %d %s", code, errOut)
	}
	want := configLines(out)
	if !strings.Contains(out, " snapshots \t") || !strings.Contains(out, " snapshot-B \t") {
		t.Fatalf("no snapshot cost on the benchmark line:\n%s", out)
	}
	out, _, code = runArgs("replay", j, "--shards", "1")
	if code != 0 || configLines(out)["trace"] != want["trace"] || !strings.Contains(out, "replay: identical") {
		t.Fatalf("replay of an intact journal: %d\n%s", code, out)
	}
	// resume of a finished run re-checks from its last snapshot and agrees
	out, _, code = runArgs("resume", j, "--shards", "3")
	if code != 0 || configLines(out)["trace"] != want["trace"] || configLines(out)["state"] != want["state"] {
		t.Fatalf("resume of a finished run: %d\n%s", code, out)
	}
	// a flipped byte in an entry: replay names block and entry, exit 1
	b, _ := os.ReadFile(j)
	b[len(b)-40] ^= 1
	os.WriteFile(j, b, 0o644)
	out, errOut, code = runArgs("replay", j)
	if code != exitBadInput || !strings.Contains(out, "divergence: block ") || !strings.Contains(out, "journal: tick=") ||
		!strings.Contains(out, "replay:  tick=") || strings.Count(errOut, "\n") != 1 {
		t.Fatalf("replay of a damaged journal: %d\n%s\n%s", code, out, errOut)
	}
	for _, c := range [][]string{
		{"resume"}, {"replay"}, {"resume", j, "extra"}, {"resume", filepath.Join(dir, "missing")},
		{"replay", "--shards", "0", j}, {"resume", "--on-oscillation", "maybe", j}, {"replay", filepath.Join(dir, "j.lxj.snapshots", "options")},
	} {
		_, errOut, code := runArgs(c...)
		if code != exitBadInput || !strings.HasPrefix(errOut, "lexbench: ") {
			t.Errorf("%v: exit %d, stderr %q", c, code, errOut)
		}
	}
	// bad snapshot flags
	for _, c := range [][]string{
		{"banking", "-n", "10", "--snapshot-every", "5"},
		{"banking", "-n", "10", "--journal", filepath.Join(dir, "x"), "--snapshot-every", "0"},
		{"banking", "-n", "10", "--journal", filepath.Join(dir, "x"), "--sync", "snapshot"},
		{"banking", "-n", "10", "--journal", filepath.Join(dir, "x"), "--sync", "sometimes"},
	} {
		_, errOut, code := runArgs(c...)
		if code != exitBadInput || strings.Count(errOut, "\n") < 1 || !strings.Contains(strings.SplitN(errOut, "\n", 2)[0], "--s") {
			t.Errorf("%v: exit %d, stderr %q", c, code, errOut)
		}
		if _, err := os.Stat(filepath.Join(dir, "x")); err == nil {
			t.Errorf("%v left a journal", c)
		}
	}
}
