package main

import (
	"fmt"
	"io"
	"os"
	"time"

	"golang.org/x/term"

	"github.com/lexbench/lexbench/workloads"
)

// progress prints a progress line on stderr, only when stderr is a terminal.
// It is called from the engine's serial section at every tick boundary and
// looks at the clock only every 256 ticks. Rates and the ETA count from
// its first call: a resumed run starts with the messages and operations
// before its snapshot done.
type progress struct {
	w       io.Writer
	wl      workloads.Workload
	n       uint64
	start   time.Time
	last    time.Time
	printed bool
	started bool
	msgs0   uint64 // messages and operations done at the first call
	ops0    uint64
}

func newProgress(stderr io.Writer, wl workloads.Workload, n uint64) *progress {
	if !isTerminal(stderr) {
		return nil
	}
	now := time.Now()
	return &progress{w: stderr, wl: wl, n: n, start: now, last: now}
}

// isTerminal reports whether w is a terminal (term.IsTerminal: the
// TCGETS ioctl succeeds). A character device is not enough: /dev/null is
// one. Every progress line of the CLI asks this of stderr.
func isTerminal(w io.Writer) bool {
	f, ok := w.(*os.File)
	return ok && term.IsTerminal(int(f.Fd()))
}

// opsDone is how many of its n operations the workload has done, if it
// says.
func (p *progress) opsDone() (uint64, bool) {
	pr, ok := p.wl.(interface{ OpsDone() uint64 })
	if !ok || p.n == 0 {
		return 0, false
	}
	return pr.OpsDone(), true
}

func (p *progress) update(tick, msgs uint64) {
	if p == nil {
		return
	}
	if !p.started {
		p.started, p.msgs0 = true, msgs
		p.ops0, _ = p.opsDone()
	}
	if tick&255 != 0 {
		return
	}
	now := time.Now()
	if now.Sub(p.last) < 500*time.Millisecond {
		return
	}
	p.last = now
	el := now.Sub(p.start).Seconds()
	line := fmt.Sprintf("tick %d  msgs %d  %.3g msgs/s", tick, msgs, float64(msgs-p.msgs0)/el)
	if done, ok := p.opsDone(); ok {
		line += fmt.Sprintf("  ops %d/%d (%.1f%%)", done, p.n, 100*float64(done)/float64(p.n))
		if done > p.ops0 {
			left := float64(p.n-min(done, p.n)) / float64(done-p.ops0)
			line += fmt.Sprintf("  ETA %s", time.Duration(el*left*float64(time.Second)).Round(time.Second))
		}
	}
	fmt.Fprintf(p.w, "\r\033[K%s", line)
	p.printed = true
}

func (p *progress) done() {
	if p != nil && p.printed {
		fmt.Fprint(p.w, "\r\033[K")
	}
}
