package main

import (
	"bufio"
	"io"
	"slices"
	"strconv"

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
//
// A damp run can have millions of events, so lines are formatted without
// allocating and written through a buffer, flushed at the end of the run
// and, when stderr is a terminal (progress is shown), before each progress
// update.
type cellReport struct {
	w      io.Writer
	buf    *bufio.Writer
	names  domainNamer // nil: domains by id
	prog   *progress
	print  bool // write the stderr lines (the first run of --count)
	json   bool // keep the events for the JSON object
	line   []byte
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

func newCellReport(stderr io.Writer, wl workloads.Workload, prog *progress, print, json bool) *cellReport {
	c := &cellReport{w: stderr, buf: bufio.NewWriterSize(stderr, 64<<10), prog: prog, print: print, json: json}
	c.names, _ = wl.(domainNamer)
	return c
}

func action(ev *engine.CellEvent) string {
	if ev.Damped {
		return "damped"
	}
	return "halted"
}

func (c *cellReport) add(ev *engine.CellEvent) {
	if c.json {
		e := cellEvent{Cell: ev.Cell, First: ev.First, End: ev.End, Tick: ev.Tick, Period: ev.Period,
			Domains: slices.Clone(ev.Domains), Action: action(ev)}
		if c.names != nil {
			for _, d := range ev.Domains {
				e.Names = append(e.Names, c.names.DomainName(d))
			}
		}
		c.events = append(c.events, e)
	}
	if !c.print {
		return
	}
	c.line = appendCellLine(c.line[:0], ev, c.names)
	_, _ = c.buf.Write(c.line)
}

// flush writes the buffered lines, clearing the progress line first (it is
// redrawn at its next update).
func (c *cellReport) flush() {
	if c.buf.Buffered() == 0 {
		return
	}
	if c.prog != nil && c.prog.printed {
		_, _ = io.WriteString(c.w, "\r\033[K")
		c.prog.printed = false
	}
	_ = c.buf.Flush()
}

// progress is Config.Progress: the buffered lines, then the progress line.
func (c *cellReport) progress(tick, msgs uint64) {
	if c.prog != nil {
		c.flush()
		c.prog.update(tick, msgs)
	}
}

// appendCellLine appends the event's stderr line, e.g.
//
//	lexbench: cell 17 (domains 49..51) oscillates at tick 8, period 4: damped; received: 49 50 51
//
// with the domains named when the workload names them.
func appendCellLine(b []byte, ev *engine.CellEvent, names domainNamer) []byte {
	b = append(b, "lexbench: cell "...)
	b = strconv.AppendUint(b, uint64(ev.Cell), 10)
	b = append(b, " (domains "...)
	b = strconv.AppendUint(b, uint64(ev.First), 10)
	b = append(b, ".."...)
	b = strconv.AppendUint(b, uint64(ev.End-1), 10)
	b = append(b, ") oscillates at tick "...)
	b = strconv.AppendUint(b, ev.Tick, 10)
	b = append(b, ", period "...)
	b = strconv.AppendUint(b, ev.Period, 10)
	b = append(b, ": "...)
	b = append(b, action(ev)...)
	b = append(b, "; received:"...)
	for _, d := range ev.Domains {
		b = append(b, ' ')
		if names != nil {
			b = append(b, names.DomainName(d)...)
		} else {
			b = strconv.AppendUint(b, uint64(d), 10)
		}
	}
	return append(b, '\n')
}
