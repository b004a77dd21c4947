package main

import (
	"bytes"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
)

// progressArgs is a run long enough to print progress (about 1.5 s here:
// progress looks at the clock every 256 ticks and prints at most every
// 500 ms, and --batch 1024 gives banking ~117 000 ticks). The piped run is
// the same, so it too runs long enough that progress would show.
var progressArgs = []string{"banking", "-n", "1.2e8", "--batch", "1024", "--shards", "1"}

// buildLexbench builds this command into a temp dir: the test needs the
// real binary's stderr, a terminal or a pipe.
func buildLexbench(t *testing.T) string {
	t.Helper()
	bin := filepath.Join(t.TempDir(), "lexbench")
	cmd := exec.Command("go", "build", "-buildvcs=auto", "-o", bin, ".")
	cmd.Env = append(os.Environ(), "GOFLAGS=") // record the commit where the go command can
	out, err := cmd.CombinedOutput()
	if err != nil {
		t.Fatalf("go build: %v\n%s", err, out)
	}
	return bin
}

// TestProgressOnlyOnTerminal: under a pseudo-terminal (script -qc) a long
// run shows a progress line with msgs/s and an ETA on stderr; piped, stderr
// stays empty and stdout is only the result.
func TestProgressOnlyOnTerminal(t *testing.T) {
	script, err := exec.LookPath("script")
	if err != nil {
		t.Skip("script (util-linux) is not installed: no pseudo-terminal to run under")
	}
	bin := buildLexbench(t)

	// script -q: no start/done lines; -e: its exit code is lexbench's; -c:
	// the command. The pty carries stdout and stderr; script copies it to
	// its stdout.
	cmdline := bin + " " + strings.Join(progressArgs, " ")
	pty := exec.Command(script, "-qec", cmdline, "/dev/null")
	out, err := pty.Output()
	if err != nil {
		t.Fatalf("script -qec %q: %v\n%s", cmdline, err, out)
	}
	text := string(out)
	// A progress line starts with \r and the erase-line sequence.
	i := strings.Index(text, "\r\x1b[Ktick ")
	if i < 0 {
		t.Fatalf("no progress line under a terminal; output:\n%q", text)
	}
	line, _, _ := strings.Cut(text[i+len("\r\x1b[K"):], "\r")
	for _, want := range []string{"msgs/s", "ops ", "ETA "} {
		if !strings.Contains(line, want) {
			t.Errorf("progress line %q lacks %q", line, want)
		}
	}
	if !strings.Contains(text, "BenchmarkBanking/n=120000000/shards=1") {
		t.Errorf("no benchmark line under a terminal; output:\n%q", text)
	}

	var stdout, stderr bytes.Buffer
	piped := exec.Command(bin, progressArgs...)
	piped.Stdout, piped.Stderr = &stdout, &stderr
	if err := piped.Run(); err != nil {
		t.Fatalf("lexbench %s: %v\nstderr: %s", strings.Join(progressArgs, " "), err, stderr.String())
	}
	if stderr.Len() != 0 {
		t.Errorf("piped stderr is not empty: %q", stderr.String())
	}
	if strings.ContainsAny(stdout.String(), "\r\x1b") || strings.Contains(stdout.String(), "ETA") {
		t.Errorf("piped stdout has progress in it: %q", stdout.String())
	}
	if !strings.Contains(stdout.String(), "BenchmarkBanking/n=120000000/shards=1") {
		t.Errorf("piped stdout lacks the benchmark line: %q", stdout.String())
	}
}
