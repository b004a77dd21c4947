package main

import (
	"bytes"
	"fmt"
	"io"
	"os"
	"os/exec"
	"os/signal"
	"runtime"
	"runtime/debug"
	"strings"
	"syscall"
)

// lexbench runs as two processes: a small supervisor, and the child that
// does the work (the same binary, with childEnv set). A Go program that
// panics or hits a runtime fatal error (a memory fault on a mapped
// journal, out of memory, a concurrent map write) exits with status 2,
// which SPEC §6 gives to "goal violated"; no code in the crashing process
// can change that. So the supervisor tells them apart: the child sends its
// runtime crash report to an extra pipe as well as to stderr
// (runtime/debug.SetCrashOutput, the monitor-process pattern of its
// documentation, with the roles turned so that the supervisor owns the
// exit code), and the supervisor turns an exit with a crash report into
// exitCrash and a death by signal N into 128+N, the shell's convention.
// Everything else passes through unchanged. The child inherits stdin,
// stdout and stderr; signals sent to the supervisor alone are forwarded.
// LEXBENCH_SUPERVISOR=off runs in one process (results are the same;
// a crash then exits 2).
const childEnv = "LEXBENCH_CHILD"

// crashReportMax bounds what the supervisor keeps of a crash report (it
// needs the first lines; stderr has all of it).
const crashReportMax = 64 << 10

// childHook, if set, runs in the child after its crash output is set up
// (a test hook: the test binary makes it crash).
var childHook func()

func supervise(args []string) int {
	if os.Getenv(childEnv) == "1" {
		if f := os.NewFile(3, "crash-report"); f != nil {
			if err := debug.SetCrashOutput(f, debug.CrashOptions{}); err != nil {
				fmt.Fprintf(os.Stderr, "lexbench: %v\n", err)
			}
			f.Close() // SetCrashOutput keeps its own descriptor
		}
		if childHook != nil {
			childHook()
		}
		return run(args, os.Stdout, os.Stderr)
	}
	if os.Getenv("LEXBENCH_SUPERVISOR") == "off" {
		return run(args, os.Stdout, os.Stderr)
	}
	exe, err := os.Executable()
	if err != nil {
		return run(args, os.Stdout, os.Stderr)
	}
	pr, pw, err := os.Pipe()
	if err != nil {
		return run(args, os.Stdout, os.Stderr)
	}
	cmd := exec.Command(exe, args...)
	cmd.Stdin, cmd.Stdout, cmd.Stderr = os.Stdin, os.Stdout, os.Stderr
	cmd.ExtraFiles = []*os.File{pw}
	cmd.Env = append(os.Environ(), childEnv+"=1")
	// The child dies with the supervisor (kill -9 of lexbench's pid must
	// stop the run, and release the journal's lock). The kernel sends
	// Pdeathsig when the thread that started the child exits, so that
	// thread is kept: this goroutine stays locked to it until exit.
	cmd.SysProcAttr = &syscall.SysProcAttr{Pdeathsig: syscall.SIGKILL}
	runtime.LockOSThread()
	sigs := make(chan os.Signal, 8)
	signal.Notify(sigs, syscall.SIGINT, syscall.SIGTERM, syscall.SIGHUP, syscall.SIGQUIT)
	if err := cmd.Start(); err != nil {
		signal.Stop(sigs)
		pr.Close()
		pw.Close()
		return run(args, os.Stdout, os.Stderr)
	}
	pw.Close()
	report := make(chan []byte, 1)
	go func() {
		var b bytes.Buffer
		_, _ = io.Copy(&b, io.LimitReader(pr, crashReportMax))
		_, _ = io.Copy(io.Discard, pr) // never block the child on a long report
		report <- b.Bytes()
	}()
	done := make(chan struct{})
	go func() {
		for {
			select {
			case s := <-sigs:
				// A terminal sends Ctrl-C to both processes; the child
				// treats repeated requests as one.
				_ = cmd.Process.Signal(s)
			case <-done:
				return
			}
		}
	}()
	_ = cmd.Wait()
	close(done)
	signal.Stop(sigs)
	crash := <-report
	pr.Close()
	return exitStatus(cmd.ProcessState.Sys().(syscall.WaitStatus), crash, os.Stderr)
}

// exitStatus maps how the child ended to lexbench's exit code.
func exitStatus(ws syscall.WaitStatus, crash []byte, stderr io.Writer) int {
	switch {
	case ws.Signaled():
		sig := ws.Signal()
		switch sig {
		case syscall.SIGINT, syscall.SIGTERM, syscall.SIGHUP, syscall.SIGPIPE:
			// asked for, or the reader of stdout went away: nothing to say
		case syscall.SIGKILL:
			fmt.Fprintf(stderr, "lexbench: killed by SIGKILL (by a user, or by the kernel when out of memory); a journaled run can be resumed (lexbench resume)\n")
		default:
			fmt.Fprintf(stderr, "lexbench: killed by signal %v\n", sig)
		}
		return 128 + int(sig)
	case len(crash) > 0:
		fmt.Fprintf(stderr, "lexbench: crashed (%s); exit %d, not a result; the runtime's report is above\n", crashSummary(crash), exitCrash)
		return exitCrash
	}
	return ws.ExitStatus()
}

// crashSummary is the first line of a Go crash report that says what
// happened, with a hint for a memory fault.
func crashSummary(report []byte) string {
	lines := strings.Split(string(report), "\n")
	what := strings.TrimSpace(lines[0])
	for _, l := range lines {
		if strings.HasPrefix(l, "panic: ") || strings.HasPrefix(l, "fatal error: ") {
			what = strings.TrimSpace(l)
			break
		}
	}
	if strings.Contains(string(report), "SIGBUS") {
		what += ": a memory fault on a mapped file (SIGBUS): was the journal truncated by another program, or its disk full?"
	}
	return what
}
