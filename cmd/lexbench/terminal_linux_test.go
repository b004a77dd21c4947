package main

import (
	"bytes"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"golang.org/x/sys/unix"

	"github.com/lexbench/lexbench/sim"
	"github.com/lexbench/lexbench/workloads"
)

// openPTY opens a pseudo-terminal and returns its master and slave ends.
func openPTY(t *testing.T) (master, slave *os.File) {
	t.Helper()
	m, err := os.OpenFile("/dev/ptmx", os.O_RDWR|syscall.O_NOCTTY, 0)
	if err != nil {
		t.Fatalf("no pseudo-terminal: %v", err)
	}
	t.Cleanup(func() { m.Close() })
	n, err := unix.IoctlGetUint32(int(m.Fd()), unix.TIOCGPTN)
	if err != nil {
		t.Fatal(err)
	}
	if err := unix.IoctlSetPointerInt(int(m.Fd()), unix.TIOCSPTLCK, 0); err != nil {
		t.Fatal(err)
	}
	s, err := os.OpenFile(fmt.Sprintf("/dev/pts/%d", n), os.O_RDWR|syscall.O_NOCTTY, 0)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { s.Close() })
	return m, s
}

// Only a terminal is a terminal: /dev/null is a character device, but
// progress written there is lost and would flush the cell events at every
// update. Every progress line of the CLI (a run's, sim's) asks the same.
func TestProgressOnlyOnATerminalNotOnDevNull(t *testing.T) {
	null, err := os.OpenFile(os.DevNull, os.O_WRONLY, 0)
	if err != nil {
		t.Fatal(err)
	}
	defer null.Close()
	pr, pw, err := os.Pipe()
	if err != nil {
		t.Fatal(err)
	}
	defer pr.Close()
	defer pw.Close()
	file, err := os.Create(filepath.Join(t.TempDir(), "stderr"))
	if err != nil {
		t.Fatal(err)
	}
	defer file.Close()
	master, slave := openPTY(t)
	wl := workloads.Lookup("banking").New(workloads.Lookup("banking").Defaults())
	for _, c := range []struct {
		name string
		w    io.Writer
		want bool
	}{
		{"/dev/null", null, false},
		{"a pipe", pw, false},
		{"a file", file, false},
		{"a buffer", &bytes.Buffer{}, false},
		{"a pseudo-terminal", slave, true},
	} {
		if got := newProgress(c.w, wl, 1) != nil; got != c.want {
			t.Errorf("%s: a run shows progress: %v, want %v", c.name, got, c.want)
		}
	}
	// sim's progress line reaches the terminal
	stop := startSimProgress(slave, &sim.Progress{}, 10)
	time.Sleep(600 * time.Millisecond)
	stop()
	_ = master.SetReadDeadline(time.Now().Add(5 * time.Second))
	buf := make([]byte, 4096)
	k, err := master.Read(buf)
	if err != nil || !strings.Contains(string(buf[:k]), "seeds 0/10") {
		t.Errorf("sim's progress on a terminal: %q, %v", buf[:k], err)
	}
}
