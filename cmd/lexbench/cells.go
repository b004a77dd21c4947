package main

import (
	"fmt"
	"io"
	"slices"
	"strings"

	"github.com/lexbench/lexbench/engine"
	"github.com/lexbench/lexbench/workloads"
)

// domainNamer is implemented by workloads that can name their domains
// (programs: `group[3].ctl[1]`).
type domainNamer interface {
	DomainName(d uint32) string
}

// cellReport lists the cells found oscillating under --detect local: a
// line on stderr per event (halt or damp), and the events for --json.
// The `oscillation:` line on stdout (SPEC §5.7) only summarizes them.
type cellReport struct {
	w      io.Writer
	wl     workloads.Workload
	prog   *progress
	print  bool // write the stderr lines (the first run of --count)
	json   bool // keep the events for the JSON object
	events []cellEvent
}

// cellEvent is one event as --json prints it.
type cellEvent struct {
	Cell    uint32   `json:"cell"`
	First   uint32   `json:"first"` // the cell's domains are first..end-1
	End     uint32   `json:"end"`
	Tick    uint64   `json:"tick"`
	Period  uint64   `json:"period"`
	Domains []uint32 `json:"domains"` // received a message in the cycle
	Names   []string `json:"names,omitempty"`
	Action  string   `json:"action"` // damped | halted
}

func (c *cellReport) add(ev *engine.CellEvent) {
	e := cellEvent{Cell: ev.Cell, First: ev.First, End: ev.End, Tick: ev.Tick, Period: ev.Period,
		Domains: slices.Clone(ev.Domains), Action: "halted"}
	if ev.Damped {
		e.Action = "damped"
	}
	if n, ok := c.wl.(domainNamer); ok {
		for _, d := range ev.Domains {
			e.Names = append(e.Names, n.DomainName(d))
		}
	}
	if c.json {
		c.events = append(c.events, e)
	}
	if !c.print {
		return
	}
	if c.prog != nil && c.prog.printed {
		fmt.Fprint(c.w, "\r\033[K") // the progress line is redrawn at its next update
		c.prog.printed = false
	}
	fmt.Fprintln(c.w, e.line())
}

// line is the event's stderr line, e.g.
//
//	lexbench: cell 17 (domains 49..51) oscillates at tick 8, period 4: damped; received: 49 50 51
func (e *cellEvent) line() string {
	var b strings.Builder
	fmt.Fprintf(&b, "lexbench: cell %d (domains %d..%d) oscillates at tick %d, period %d: %s; received:",
		e.Cell, e.First, e.End-1, e.Tick, e.Period, e.Action)
	for i, d := range e.Domains {
		if e.Names != nil {
			fmt.Fprintf(&b, " %s", e.Names[i])
		} else {
			fmt.Fprintf(&b, " %d", d)
		}
	}
	return b.String()
}
