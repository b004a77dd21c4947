package main

import (
	"bytes"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/cespare/xxhash/v2"
	"github.com/lexbench/lexbench/internal/golden"
	"github.com/lexbench/lexbench/internal/natsembed"
	"github.com/lexbench/lexbench/workloads"
)

var (
	binOnce sync.Once
	binPath string
	binErr  error
)

// lexbenchBinary builds cmd/lexbench once per test process (the partition
// tests run it as separate processes, in network namespaces too).
func lexbenchBinary(t *testing.T) string {
	t.Helper()
	binOnce.Do(func() {
		dir, err := os.MkdirTemp("", "lexbench-bin-")
		if err != nil {
			binErr = err
			return
		}
		binPath = filepath.Join(dir, "lexbench")
		out, err := exec.Command("go", "build", "-o", binPath, ".").CombinedOutput()
		if err != nil {
			binErr = fmt.Errorf("go build: %v\n%s", err, out)
		}
	})
	if binErr != nil {
		t.Fatal(binErr)
	}
	return binPath
}

// binProc is a process of the built binary, possibly under a prefix
// command (ip netns exec NS).
type binProc struct {
	args []string
	cmd  *exec.Cmd
	out  bytes.Buffer
	errb syncBuffer
	done chan error
}

// syncBuffer is a bytes.Buffer safe to read while the process writes it.
type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *syncBuffer) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}

func startBin(t *testing.T, prefix []string, args ...string) *binProc {
	t.Helper()
	p := &binProc{args: args, done: make(chan error, 1)}
	all := append(append(append([]string(nil), prefix...), lexbenchBinary(t)), args...)
	p.cmd = exec.Command(all[0], all[1:]...)
	p.cmd.Stdout, p.cmd.Stderr = &p.out, &p.errb
	if err := p.cmd.Start(); err != nil {
		t.Fatal(err)
	}
	go func() { p.done <- p.cmd.Wait() }()
	t.Cleanup(func() { _ = p.cmd.Process.Kill() })
	return p
}

// wait waits for the process and returns its stdout; its exit code must be want.
func (p *binProc) wait(t *testing.T, limit time.Duration, want int) string {
	t.Helper()
	select {
	case err := <-p.done:
		code := 0
		if ee, ok := err.(*exec.ExitError); ok {
			code = ee.ExitCode()
		} else if err != nil {
			t.Fatalf("lexbench %s: %v", strings.Join(p.args, " "), err)
		}
		if code != want {
			t.Fatalf("lexbench %s: exit %d, want %d\n%s\n%s", strings.Join(p.args, " "), code, want, p.errb.String(), p.out.String())
		}
	case <-time.After(limit):
		_ = p.cmd.Process.Kill()
		t.Fatalf("lexbench %s: still running after %v\n%s", strings.Join(p.args, " "), limit, p.errb.String())
	}
	return p.out.String()
}

func (p *binProc) kill() {
	_ = p.cmd.Process.Signal(syscall.SIGKILL)
	<-p.done
}

// rowExit is the exit code of row r's run (SPEC §6).
func rowExit(t *testing.T, r golden.Row) int {
	w := strings.Fields(r.Args)[0]
	spec := mustSpec(t, w)
	return exitCode(spec, engineOutcome(t, r.Outcome))

}

// partitionArgs are the args of partition k of P running row r.
func partitionArgs(r golden.Row, P, k int, url string, extra ...string) []string {
	a := append([]string{"partition"}, strings.Fields(r.Args)...)
	a = append(a, "--partitions", fmt.Sprint(P), "--index", fmt.Sprint(k), "--nats", url)
	return append(a, extra...)
}

// runRowAsProcesses runs row r as P partition processes against the server
// at url and checks every partition's output against the row.
func runRowAsProcesses(t *testing.T, r golden.Row, P int, url string) {
	t.Helper()
	procs := make([]*binProc, P)
	for k := range P {
		procs[k] = startBin(t, nil, partitionArgs(r, P, k, url, "--shards", fmt.Sprint(1+k%2))...)
	}
	for k, p := range procs {
		out := p.wait(t, 3*time.Minute, rowExit(t, r))
		wantRow(t, fmt.Sprintf("P=%d partition %d", P, k), out, r)
		if !strings.Contains(out, fmt.Sprintf("\npartitions: %d\npartition: %d\n", P, k)) {
			t.Errorf("P=%d partition %d: no partition lines in\n%s", P, k, out)
		}
	}
}

// TestPartitionedGoldenRowsAsProcesses: golden rows (v1, faults, --detect
// local with halt and damp) as 2 and 3 partition processes exchanging
// their rounds through an embedded NATS server: every process prints the
// row's result. -short runs two rows, the default one of each kind;
// LEXBENCH_PARTITION_ALL=1 runs every row with n ≤ 1e6 (the CI's
// separate step).
func TestPartitionedGoldenRowsAsProcesses(t *testing.T) {
	srv, err := natsembed.Start("", "")
	if err != nil {
		t.Fatal(err)
	}
	defer srv.Shutdown()
	some := map[string]bool{"banking-100k": true, "storm-p3c7": true, "sync-g7r3": true, "conflict-c3": true, "oscillation-1k": true,
		"oscillation-damp1k": true, "faults-storm-dup": true, "faults-conflict-mix": true, "local-osc-g64-halt": true,
		"local-osc-g64-damp": true, "local-storm-seed42-damp": true, "storm-maxmsgs": true}
	all := os.Getenv("LEXBENCH_PARTITION_ALL") == "1"
	for _, r := range golden.Read(t) {
		switch {
		case r.N() > 1_000_000:
			continue
		case testing.Short() && r.Name != "banking-100k" && r.Name != "local-osc-g64-damp":
			continue
		case !all && !some[r.Name]:
			continue
		}
		t.Run(r.Name, func(t *testing.T) {
			for _, P := range []int{2, 3} {
				runRowAsProcesses(t, r, P, srv.URL())
			}
		})
	}
}

func partitionSnapshots(journal string) int {
	names, _ := filepath.Glob(journal + ".snapshots/part-*.lxp")
	return len(names)
}

// TestPartitionProcessSurvivesSIGKILL: three partition processes with
// journals and snapshots; one is killed with SIGKILL after its first
// snapshot and started again on its journal: it continues from its
// snapshot and the stream, and every partition prints the golden row. The
// set of partition journals verifies (`lexbench verify`) and merges into
// the single-process run's journal, byte for byte.
func TestPartitionProcessSurvivesSIGKILL(t *testing.T) {
	srv, err := natsembed.Start("", "")
	if err != nil {
		t.Fatal(err)
	}
	defer srv.Shutdown()
	r := goldenRowNamed(t, "local-osc-b64-damp")
	const P = 3
	dir := t.TempDir()
	js := make([]string, P)
	args := make([][]string, P)
	procs := make([]*binProc, P)
	for k := range P {
		js[k] = filepath.Join(dir, fmt.Sprintf("run.p%d", k))
		args[k] = partitionArgs(r, P, k, srv.URL(), "--journal", js[k], "--snapshot-every", "50", "--sync", "none")
		procs[k] = startBin(t, nil, args[k]...)
	}
	waitFor(t, time.Minute, "a snapshot of partition 1", func() bool { return partitionSnapshots(js[1]) > 0 })
	procs[1].kill()
	before, _ := os.Stat(js[1])
	// The supervisor died at once; its child (the process that holds the
	// journal's lock) dies by Pdeathsig a moment later. The others wait
	// for it meanwhile.
	waitFor(t, 10*time.Second, "partition 1's journal lock to be released", func() bool { return unlocked(js[1]) })
	procs[1] = startBin(t, nil, args[1]...)
	for k, p := range procs {
		out := p.wait(t, 3*time.Minute, rowExit(t, r))
		wantRow(t, fmt.Sprintf("partition %d", k), out, r)
		if k == 1 && !strings.Contains(out, "# resumed partition 1 from its snapshot at tick ") {
			t.Errorf("partition 1 did not continue from its snapshot (journal was %d bytes):\n%s", before.Size(), out)
		}
	}
	out, errs, code := runArgs(append([]string{"verify"}, js...)...)
	if code != 0 || configLines(out)["trace"] != r.Trace || configLines(out)["state"] != r.State {
		t.Errorf("verify of the partition journals: exit %d %s\n%s", code, errs, out)
	}
	merged, single := filepath.Join(dir, "merged.lxj"), filepath.Join(dir, "single.lxj")
	if _, errs, code := runArgs(append([]string{"merge", merged}, js...)...); code != 0 {
		t.Fatalf("merge: %s", errs)
	}
	if _, errs, code := runArgs(append(strings.Fields(r.Args), "--journal", single)...); code != rowExit(t, r) {
		t.Fatalf("single-process run: exit %d %s", code, errs)
	}
	a, _ := os.ReadFile(merged)
	b, _ := os.ReadFile(single)
	if !bytes.Equal(a, b) {
		t.Errorf("the merged journal (%d bytes) is not the single-process run's (%d bytes)", len(a), len(b))
	}
	if out, errs, code := runArgs("replay", merged, "--shards", "2"); code != 0 && code != rowExit(t, r) || !strings.Contains(out, r.Trace) {
		t.Errorf("replay of the merged journal: exit %d %s\n%s", code, errs, out)
	}
}

// unlocked reports whether no process holds path's flock.
func unlocked(path string) bool {
	f, err := os.Open(path)
	if err != nil {
		return false
	}
	defer f.Close()
	if syscall.Flock(int(f.Fd()), syscall.LOCK_EX|syscall.LOCK_NB) != nil {
		return false
	}
	_ = syscall.Flock(int(f.Fd()), syscall.LOCK_UN)
	return true
}

// TestPartitionCommandsRefuseBadInput: one-line errors, exit 1, nothing
// written, another run's journal untouched.
func TestPartitionCommandsRefuseBadInput(t *testing.T) {
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
	for _, args := range [][]string{
		{"partition", "banking", "--index", "0"},
		{"partition", "banking", "--partitions", "2"},
		{"partition", "banking", "--partitions", "2", "--index", "2"},
		{"partition", "banking", "--partitions", "0", "--index", "0"},
		{"partition", "banking", "--partitions", "300", "--index", "0"},
		{"partition", "banking", "--partitions", "2", "--index", "0", "--shards", "0"},
		{"partition", "banking", "--partitions", "2", "--index", "0", "--snapshot-every", "5"},
		{"partition", "banking", "--partitions", "2", "--index", "0", "--detect", "both"},
		{"partition", "banking", "--partitions", "2", "--index", "0", "--drop", "2M"},
		{"partition", "banking", "-n", "100", "--partitions", "2", "--index", "0", "--nats", url, "--journal", other},
		{"partition", "banking", "--partitions", "2", "--index", "0", "--nats", "nats://127.0.0.1:1"},
		{"cluster", "banking", "--partitions", "0"},
		{"cluster", "banking", "--partitions", "2", "--replicas", "2"},
		{"merge", filepath.Join(dir, "m.lxj")},
		{"merge", other, filepath.Join(dir, "x.p0")},
		{"merge", filepath.Join(dir, "m.lxj"), other},
		{"verify", other, other},
	} {
		out, errs, code := runArgs(args...)
		if code != exitBadInput || !strings.HasPrefix(errs, "lexbench: ") || strings.Count(errs, "\nlexbench: ") > 0 || strings.Contains(out, "trace:") {
			t.Errorf("lexbench %s: exit %d, stderr %q, stdout %q; want exit 1 and a one-line error", strings.Join(args, " "), code, errs, out)
		}
	}
	if after, _ := os.ReadFile(other); !bytes.Equal(before, after) {
		t.Error("a partition changed another run's journal")
	}
	if _, err := os.Stat(filepath.Join(dir, "m.lxj")); err == nil {
		t.Error("a refused merge left a file")
	}
}

// TestClusterPartitions: `lexbench cluster W --partitions P` runs every
// partition on an embedded server and prints the row's result with the
// verified journals.
func TestClusterPartitions(t *testing.T) {
	for _, name := range []string{"storm-seed42", "faults-sync-delay", "local-osc-g64-halt"} {
		r := goldenRowNamed(t, name)
		out, errs, code := runArgs(append(append([]string{"cluster"}, strings.Fields(r.Args)...), "--partitions", "3", "--shards", "2")...)
		if code != rowExit(t, r) {
			t.Fatalf("cluster %s: exit %d %s\n%s", r.Args, code, errs, out)
		}
		wantRow(t, "cluster "+r.Args, out, r)
		if !strings.Contains(out, "\nverify: 3 partition journals verify as one trace (") || !strings.Contains(out, "\nBenchmarkPartitioned/") {
			t.Errorf("cluster %s:\n%s", r.Args, out)
		}
	}
}

func mustSpec(t *testing.T, name string) *workloads.Spec {
	t.Helper()
	s := workloads.Lookup(name)
	if s == nil {
		t.Fatalf("no workload %q", name)
	}
	return s
}

// TestMergeChecksTheProgram: partition journals record the program's
// hash, so merge takes a program's journals only with --program naming
// that very text (an edited copy is refused), and a native run's
// journals never with --program (as replay and resume of a program
// journal refuse a program that differs, issue 15 #5).
func TestMergeChecksTheProgram(t *testing.T) {
	dir := t.TempDir()
	text, err := os.ReadFile("../../workloads/lxm/banking.lxm")
	if err != nil {
		t.Fatal(err)
	}
	// a program whose xxhash64 is even (the recorded id sets the low bit;
	// comparing with the bare hash refused every even one)
	for xxhash.Sum64(text)&1 != 0 {
		text = append(text, '\n')
	}
	prog := filepath.Join(dir, "even.lxm")
	if err := os.WriteFile(prog, text, 0o644); err != nil {
		t.Fatal(err)
	}
	edited := filepath.Join(dir, "banking.lxm")
	if err := os.WriteFile(edited, append(text, "\n// edited\n"...), 0o644); err != nil {
		t.Fatal(err)
	}
	pd, nd := filepath.Join(dir, "prog"), filepath.Join(dir, "native")
	out, errs, code := runArgs("cluster", prog, "-n", "1e4", "--partitions", "2", "--dir", pd)
	if code != exitOK {
		t.Fatalf("cluster %s: exit %d %s\n%s", prog, code, errs, out)
	}
	want := configLines(out)["trace"]
	if out, errs, code := runArgs("cluster", "banking", "-n", "1e4", "--partitions", "2", "--dir", nd); code != exitOK {
		t.Fatalf("cluster banking: exit %d %s\n%s", code, errs, out)
	}
	set := func(d string) []string { return []string{filepath.Join(d, "p0.lxj"), filepath.Join(d, "p1.lxj")} }
	for i, c := range []struct {
		args []string
		err  string
	}{
		{set(pd), "give its --program"},
		{append(set(pd), "--program", edited), "differs from it"},
		{append(set(nd), "--program", prog), "not of a program"},
	} {
		o := filepath.Join(dir, fmt.Sprintf("bad%d.lxj", i))
		out, errs, code := runArgs(append([]string{"merge", o}, c.args...)...)
		if code != exitBadInput || !strings.Contains(errs, c.err) {
			t.Errorf("merge %v: exit %d, stderr %q, want an error with %q\n%s", c.args, code, errs, c.err, out)
		}
		if _, err := os.Stat(o); err == nil {
			t.Errorf("merge %v: refused, yet wrote %s", c.args, o)
		}
	}
	o := filepath.Join(dir, "merged.lxj")
	out, errs, code = runArgs(append([]string{"merge", o}, append(set(pd), "--program", prog)...)...)
	if code != exitOK || configLines(out)["trace"] != want {
		t.Fatalf("merge with its program: exit %d %s, trace %q want %q\n%s", code, errs, configLines(out)["trace"], want, out)
	}
	if out, errs, code := runArgs("replay", o); code != exitOK || configLines(out)["trace"] != want {
		t.Fatalf("replay of the merged journal: exit %d %s\n%s", code, errs, out)
	}
}
