package main

import (
	"fmt"
	"io"
	"os"
	"os/signal"
	"strings"
	"sync/atomic"
	"syscall"

	"github.com/lexbench/lexbench/engine"
)

// stopper turns SIGINT (Ctrl-C) and SIGTERM during a run into a stop
// request (engine.Config.Stop): the run ends at the next tick boundary
// with its journal closed there (and a snapshot, if snapshots are on), so
// `lexbench resume` continues it. Repeated signals are one request (a
// terminal's Ctrl-C reaches the supervisor too, which forwards it).
type stopper struct {
	flag atomic.Bool
	sig  atomic.Int32
	ch   chan os.Signal
}

func onInterrupt() *stopper {
	s := &stopper{ch: make(chan os.Signal, 4)}
	signal.Notify(s.ch, syscall.SIGINT, syscall.SIGTERM)
	go func() {
		for sig := range s.ch {
			if n, ok := sig.(syscall.Signal); ok {
				s.sig.CompareAndSwap(0, int32(n))
			}
			s.flag.Store(true)
		}
	}()
	return s
}

// release restores the signals' default (ending the process).
func (s *stopper) release() {
	signal.Stop(s.ch)
	close(s.ch)
}

// report tells where a stopped run ended and how to continue it, and
// returns the exit code: 128 + the signal (130 for SIGINT).
func (s *stopper) report(stderr io.Writer, res engine.Result, journal string, snapshot bool) int {
	sig, name := s.signal()
	if journal == "" {
		fmt.Fprintf(stderr, "lexbench: interrupted (%s) at tick %d after %d messages; no --journal, so nothing to resume\n", name, res.Ticks, res.Msgs)
	} else {
		snap := ""
		if snapshot {
			snap = fmt.Sprintf(", with a snapshot at tick %d", res.Ticks)
		}
		fmt.Fprintf(stderr, "lexbench: interrupted (%s) at tick %d after %d messages; the journal %s is closed there (trace %016x)%s; continue with: lexbench resume %s\n",
			name, res.Ticks, res.Msgs, journal, res.Trace, snap, shellQuote(journal))
	}
	return 128 + int(sig)
}

// reportUnchanged says that a resume stopped while it re-checked the
// journal, before it changed any file, and returns the exit code.
func (s *stopper) reportUnchanged(stderr io.Writer, res engine.Result, journal string) int {
	sig, name := s.signal()
	fmt.Fprintf(stderr, "lexbench: interrupted (%s) at tick %d, while re-checking the journal %s: nothing was changed; continue with: lexbench resume %s\n",
		name, res.Ticks, journal, shellQuote(journal))
	return 128 + int(sig)
}

// signal is the signal that stopped the run (SIGINT if none was recorded)
// and its name.
func (s *stopper) signal() (syscall.Signal, string) {
	sig := syscall.Signal(s.sig.Load())
	if sig == 0 {
		sig = syscall.SIGINT
	}
	return sig, map[syscall.Signal]string{syscall.SIGINT: "SIGINT", syscall.SIGTERM: "SIGTERM"}[sig]
}

// shellQuote quotes s for a POSIX shell if it needs it.
func shellQuote(s string) string {
	if s != "" && strings.Trim(s, "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789-_./=+,:@%") == "" {
		return s
	}
	return "'" + strings.ReplaceAll(s, "'", `'\''`) + "'"
}
