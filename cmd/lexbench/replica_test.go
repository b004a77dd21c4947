package main

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

	"github.com/lexbench/lexbench/engine"
	"github.com/lexbench/lexbench/internal/natsembed"
	"github.com/lexbench/lexbench/replica"
	"github.com/lexbench/lexbench/workloads"
)

func goldenRowNamed(t *testing.T, name string) goldenRow {
	t.Helper()
	for _, r := range readGolden(t) {
		if r.Name == name {
			return r
		}
	}
	t.Fatalf("no golden row %s", name)
	return goldenRow{}
}

// TestClusterCommand: `lexbench cluster` starts an embedded server, a
// publisher and replicas, and prints the golden row's result and the
// agreement.
func TestClusterCommand(t *testing.T) {
	r := goldenRowNamed(t, "banking-100k")
	out, errs, code := runArgs(append(append([]string{"cluster"}, strings.Fields(r.Args)...), "--replicas", "2", "--shards", "2")...)
	if code != 0 {
		t.Fatalf("exit %d: %s\n%s", code, errs, out)
	}
	wantRow(t, "cluster", out, r)
	if !strings.Contains(out, "\nagree: 2 replicas and the single-node run agree on ") ||
		!strings.Contains(out, "\nBenchmarkPublish/banking/n=1e5 \t") || !strings.Contains(out, "\nBenchmarkReplica/banking/n=1e5/shards=2/r2 \t") {
		t.Errorf("cluster output:\n%s", out)
	}
	lx := goldenRowNamed(t, "storm-p3c7")
	out, errs, code = runArgs(append([]string{"cluster", filepath.Join(lxmDir, "storm.lxm")}, strings.Fields(lx.Args)[1:]...)...)
	if code != 0 {
		t.Fatalf("cluster of a program: exit %d: %s\n%s", code, errs, out)
	}
	wantRow(t, "cluster storm.lxm", out, lx)
	// faults (SPEC §7) and local detection (§5.7) replicate too: the
	// faults line, the oscillation line with cells=, dropped:
	for _, name := range []string{"faults-storm-dup", "faults-sync-delay", "local-osc-g64-damp", "local-osc-b64-halt"} {
		r := goldenRowNamed(t, name)
		out, errs, code := runArgs(append(append([]string{"cluster"}, strings.Fields(r.Args)...), "--replicas", "2")...)
		if code != exitCode(workloads.Lookup(strings.Fields(r.Args)[0]), engineOutcome(t, r.Outcome)) {
			t.Errorf("cluster %s: exit %d: %s\n%s", r.Args, code, errs, out)
		}
		wantRow(t, "cluster "+r.Args, out, r)
	}
}

// engineOutcome is the engine's outcome named s.
func engineOutcome(t *testing.T, s string) engine.Result {
	for o := engine.Converged; o <= engine.Damped; o++ {
		if o.String() == s {
			return engine.Result{Outcome: o}
		}
	}
	t.Fatalf("no outcome %q", s)
	return engine.Result{}
}

// TestReplicatedCommandsRefuseBadInput: one-line errors, exit 1, nothing
// written.
func TestReplicatedCommandsRefuseBadInput(t *testing.T) {
	dir := t.TempDir()
	other := filepath.Join(dir, "other.lxj")
	if _, errs, code := runArgs("storm", "-n", "100", "--journal", other); code != 0 {
		t.Fatal(errs)
	}
	before, _ := os.ReadFile(other)
	srv, err := natsembed.Start("", "")
	if err != nil {
		t.Fatal(err)
	}
	defer srv.Shutdown()
	url := srv.URL()
	if out, errs, code := runArgs("publish", "banking", "-n", "1000", "--nats", url); code != 0 {
		t.Fatalf("publish: %d %s %s", code, errs, out)
	}
	for _, args := range [][]string{
		{"cluster"},
		{"cluster", "nosuch"},
		{"cluster", "banking", "--replicas", "0"},
		{"cluster", "banking", "--chunk-bytes", "1"},
		{"publish", "banking", "--stream-replicas", "9"},
		{"publish", "banking", "--on-oscillation", "maybe"},
		{"publish", "banking", "-n", "1000", "--max-ticks", "3", "--nats", url}, // other run controls than the stream's
		{"publish", "banking", "--nats", "nats://127.0.0.1:1"},
		{"replica", "banking", "--snapshot-every", "5"},
		{"replica", "banking", "--shards", "0"},
		{"replica", "banking", "--name", "a.b"},
		{"replica", "banking", "-n", "1000", "--nats", url, "--journal", other}, // another run's journal
		{"replica", "banking", "--sync", "snapshot", "--journal", filepath.Join(dir, "x")},
		{"agree", "banking", "--nats", url, "-n", "999"}, // no such stream
		{"agree", filepath.Join(dir, "missing.lxm")},
		{"nats", "--listen", "10.0.0.1:4222"},
		{"nats", "extra"},
	} {
		out, errs, code := runArgs(args...)
		if code != exitBadInput || !strings.HasPrefix(errs, "lexbench: ") || strings.Contains(out, "trace:") {
			t.Errorf("lexbench %s: exit %d, stderr %q, stdout %q; want exit 1 and a one-line error", strings.Join(args, " "), code, errs, out)
		}
	}
	if after, _ := os.ReadFile(other); !bytes.Equal(before, after) {
		t.Error("a replica changed another run's journal")
	}
	if _, err := os.Stat(filepath.Join(dir, "x")); err == nil {
		t.Error("a refused replica left a journal")
	}
	// agree before any replica: incomplete, exit 4
	out, _, code := runArgs("agree", "banking", "-n", "1000", "--nats", url, "--replicas", "1")
	if code != exitIncomplete || !strings.Contains(out, "agree: incomplete: ") {
		t.Errorf("agree with no replica: exit %d\n%s", code, out)
	}
}

// proc is a lexbench child process (the test binary acting as lexbench).
type proc struct {
	args []string
	cmd  *exec.Cmd
	out  bytes.Buffer
	errb bytes.Buffer
	done chan error
}

func start(t *testing.T, args ...string) *proc {
	t.Helper()
	p := &proc{args: args, done: make(chan error, 1)}
	p.cmd = exec.Command(os.Args[0], args...)
	p.cmd.Env = append(os.Environ(), "LEXBENCH_AS_MAIN=1")
	p.cmd.Stdout, p.cmd.Stderr = &p.out, &p.errb
	if err := p.cmd.Start(); err != nil {
		t.Fatal(err)
	}
	go func() { p.done <- p.cmd.Wait() }()
	t.Cleanup(func() { _ = p.cmd.Process.Kill() })
	return p
}

// wait waits for the process and fails the test unless it exits 0.
func (p *proc) wait(t *testing.T, limit time.Duration) string {
	t.Helper()
	select {
	case err := <-p.done:
		if err != nil {
			t.Fatalf("lexbench %s: %v\n%s\n%s", strings.Join(p.args, " "), err, p.errb.String(), p.out.String())
		}
	case <-time.After(limit):
		_ = p.cmd.Process.Kill()
		t.Fatalf("lexbench %s: still running after %v\n%s", strings.Join(p.args, " "), limit, p.errb.String())
	}
	return p.out.String()
}

func (p *proc) kill(t *testing.T) {
	t.Helper()
	_ = p.cmd.Process.Signal(syscall.SIGKILL)
	<-p.done
}

// waitFor polls until cond holds (or fails the test after limit).
func waitFor(t *testing.T, limit time.Duration, what string, cond func() bool) {
	t.Helper()
	for start := time.Now(); !cond(); time.Sleep(10 * time.Millisecond) {
		if time.Since(start) > limit {
			t.Fatalf("waited %v for %s", limit, what)
		}
	}
}

func hasSnapshot(journal string) bool {
	names, _ := filepath.Glob(journal + ".snapshots/tick-*.lxs")
	return len(names) > 0
}

// TestReplicaProcessesSurviveSIGKILL runs, on the embedded server, a
// publisher (paced so the run lasts about two seconds) and three replica
// processes with journals and snapshots; it kills one replica with SIGKILL
// after its first snapshot (and, for banking, the publisher too), restarts
// them, and checks that every replica prints the golden row and that the
// replicas and the single-node run agree. The program case's input
// domain is banking.lxm's booting driver.
func TestReplicaProcessesSurviveSIGKILL(t *testing.T) {
	cases := []struct {
		row     string
		program bool
		every   string
		rate    string
		killPub bool
	}{
		{"banking-1M-seed3", false, "20", "500k", true},
		{"storm-seed42", false, "3", "50k", false},
		{"banking-batch7", true, "100", "5k", false},
	}
	srv, err := natsembed.Start("", "")
	if err != nil {
		t.Fatal(err)
	}
	defer srv.Shutdown()
	url := srv.URL()
	for _, c := range cases {
		if testing.Short() && c.row != "banking-1M-seed3" {
			continue
		}
		t.Run(c.row, func(t *testing.T) {
			r := goldenRowNamed(t, c.row)
			f := strings.Fields(r.Args)
			target := f[:1]
			if c.program {
				target = []string{filepath.Join(lxmDir, f[0]+".lxm")}
			}
			work := append(target, f[1:]...)
			dir := t.TempDir()
			pubArgs := append(append([]string{"publish"}, work...), "--nats", url, "--rate", c.rate, "--chunk-bytes", "16k")
			pub := start(t, pubArgs...)
			reps := make([]*proc, 3)
			repArgs := make([][]string, 3)
			for i := range reps {
				j := filepath.Join(dir, fmt.Sprintf("r%d.lxj", i+1))
				repArgs[i] = append(append([]string{"replica"}, work...), "--nats", url, "--journal", j,
					"--snapshot-every", c.every, "--sync", "none", "--shards", fmt.Sprint(i+1))
				reps[i] = start(t, repArgs[i]...)
			}
			j2 := filepath.Join(dir, "r2.lxj")
			waitFor(t, time.Minute, "a snapshot of r2", func() bool { return hasSnapshot(j2) })
			reps[1].kill(t)
			if c.killPub {
				pub.kill(t)
				pub = start(t, pubArgs...)
			}
			time.Sleep(100 * time.Millisecond)
			reps[1] = start(t, repArgs[1]...)
			pubOut := pub.wait(t, 2*time.Minute)
			if c.killPub && !strings.Contains(pubOut, "publish: continued after the ") {
				t.Errorf("the restarted publisher did not continue the stream:\n%s", pubOut)
			}
			for i, p := range reps {
				out := p.wait(t, 2*time.Minute)
				wantRow(t, fmt.Sprintf("replica r%d", i+1), out, r)
				if i == 1 && (!strings.Contains(out, "resume: from tick ") || strings.Contains(out, "resume: from tick 0,")) {
					t.Errorf("r2 did not continue its journal:\n%s", out)
				}
				if vout, verr, code := runArgs("verify", filepath.Join(dir, fmt.Sprintf("r%d.lxj", i+1))); code != 0 || configLines(vout)["trace"] != r.Trace {
					t.Errorf("verify r%d: %d %s %s", i+1, code, vout, verr)
				}
			}
			out, errs, code := runArgs(append(append([]string{"agree"}, work...), "--nats", url, "--replicas", "3")...)
			if code != 0 || !strings.Contains(out, "agree: 3 replicas and the single-node run agree on ") {
				t.Errorf("agree: exit %d %s\n%s", code, errs, out)
			}
			t.Logf("%s", strings.TrimSpace(strings.Split(out, "agree: ")[1]))
		})
	}
}

// TestAgreeVerdicts: agree's verdict lines and exit codes.
func TestAgreeVerdicts(t *testing.T) {
	run := &replica.Run{Spec: &workloads.BankingSpec, P: workloads.BankingSpec.Defaults()}
	ok := &replica.Reported{Name: "r1", Hashes: []uint64{1, 2}, End: &replica.EndRecord{Blocks: 2}}
	for _, c := range []struct {
		ag   replica.AgreeReport
		code int
		line string
	}{
		{replica.AgreeReport{Replicas: []*replica.Reported{ok}, Compared: 2}, exitOK, "agree: 1 replicas agree on 2 blocks\n"},
		{replica.AgreeReport{Replicas: []*replica.Reported{ok}, Divergence: &replica.Divergence{Block: 1,
			Groups: []replica.Group{{Hash: 2, Names: []string{"r1"}}, {Hash: 3, Names: []string{"r2"}}}}}, exitBadInput,
			"agree: diverged: first divergent block 1: r1 has 0000000000000002; r2 has 0000000000000003\n"},
		{replica.AgreeReport{Replicas: []*replica.Reported{ok}, Mismatch: []string{"r2 has state 1, r1 has 2"}}, exitBadInput,
			"agree: diverged: r2 has state 1, r1 has 2\n"},
		{replica.AgreeReport{Replicas: []*replica.Reported{ok}, Incomplete: []string{"r2: running (5 blocks reported)"}}, exitIncomplete,
			"agree: incomplete: r2: running (5 blocks reported)\n"},
	} {
		c.ag.Run = run
		var out bytes.Buffer
		code, err := printAgree(&out, &c.ag, false, true)
		if code != c.code || (code == exitOK) != (err == nil) || !strings.HasSuffix(out.String(), c.line) {
			t.Errorf("exit %d (%v), output\n%s\nwant exit %d ending %q", code, err, out.String(), c.code, c.line)
		}
	}
}

func TestReplicatedCommandsHelp(t *testing.T) {
	for _, args := range [][]string{{"cluster", "banking", "--help"}, {"publish", "storm", "-h"}, {"replica", "banking", "--help"},
		{"agree", filepath.Join(lxmDir, "banking.lxm"), "--help"}, {"nats", "--help"}} {
		out, errs, code := runArgs(args...)
		if code != exitOK || errs != "" || !strings.HasPrefix(out, "usage: lexbench "+args[0]) || !strings.Contains(out, "--nats") && args[0] != "nats" {
			t.Errorf("lexbench %s: exit %d, stderr %q, stdout %q", strings.Join(args, " "), code, errs, out)
		}
	}
}
