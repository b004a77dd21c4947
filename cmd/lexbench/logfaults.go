package main

import (
	"cmp"
	"errors"
	"fmt"
	"io"
	"slices"

	"github.com/lexbench/lexbench/engine"
	"github.com/lexbench/lexbench/journal/mmap"
	"github.com/lexbench/lexbench/runfile"
	"github.com/lexbench/lexbench/trace"
	"github.com/lexbench/lexbench/workloads"
)

// journalFaults lists the fault decisions (SPEC §7) of the run that wrote
// the journal at path: a dropped message leaves no entry, so they are
// found by running the journal's params again (the decisions are a pure
// function of them) up to the boundary after the journal's last tick,
// with the engine's fault observer. The run must end on the journal's
// trace hash — else the list is refused, never printed for another run.
// The decisions come sorted by (tick due, src, emission index).
func journalFaults(path, params string, program *runfile.Program, stderr io.Writer) ([]engine.FaultEvent, error) {
	if !trace.ParamsHaveFaults(params) {
		return nil, nil
	}
	jr, err := mmap.Open(path)
	if err != nil {
		return nil, err
	}
	for {
		_, _, err := jr.Next()
		if err == io.EOF {
			break
		}
		if err != nil {
			jr.Close()
			return nil, err
		}
	}
	sum := jr.Summary()
	jr.Close()
	var spec *workloads.Spec
	var p workloads.Params
	if program != nil {
		prog, err := compileProgram(program, stderr)
		if err != nil {
			return nil, err
		}
		spec = prog.Spec()
		if p, err = spec.Parse(params); err != nil {
			return nil, fmt.Errorf("program %s does not match the journal: %w", program.Path, err)
		}
	} else if spec, p, err = workloads.ParseParams(params); err != nil {
		return nil, errors.New("--faults: a program's journal without a run file needs --program FILE.lxm (the faults are found by running it again)")
	}
	end := int64(0)
	if sum.Blocks > 0 {
		end = int64(sum.LastTick) + 1
	}
	var events []engine.FaultEvent
	res, err := engine.Run(spec.New(p), engine.Config{Params: params, Shards: 1, MaxTicks: end, MaxMsgs: -1, Faults: p.Faults,
		OnFault: func(e *engine.FaultEvent) { events = append(events, *e) }})
	if err != nil {
		return nil, fmt.Errorf("--faults: running the journal's params again: %w", err)
	}
	if res.Trace != sum.Trace {
		return nil, fmt.Errorf("--faults: the journal's params run again end on trace %016x at tick %d, the journal on %016x: not this run's journal", res.Trace, end, sum.Trace)
	}
	slices.SortStableFunc(events, func(x, y engine.FaultEvent) int {
		return cmp.Or(cmp.Compare(x.Tick, y.Tick), cmp.Compare(x.Src, y.Src), cmp.Compare(x.Index, y.Index))
	})
	return events, nil
}

// faultLines prints a journal's fault decisions among its messages: the
// decision for a message due at tick t from src comes after the messages
// of tick t from srcs up to src (a dropped message has no seq to place it
// more exactly).
type faultLines struct {
	events []engine.FaultEvent
	next   int
	shown  uint64
}

// before prints the decisions that come before a message of tick t from
// src, and keep reports whether a decision is shown (the log's filters).
func (f *faultLines) before(out io.Writer, t uint64, src uint32, keep func(e *engine.FaultEvent) bool,
	name func(uint32) string, kind func(trace.Kind) string) {
	for ; f.next < len(f.events); f.next++ {
		e := &f.events[f.next]
		if e.Tick > t || e.Tick == t && e.Src >= src {
			return
		}
		if !keep(e) {
			continue
		}
		f.shown++
		fmt.Fprintf(out, "tick %d  %s → %s  %s", e.Tick, name(e.Src), name(e.Dst), kind(e.Kind))
		switch e.Fault {
		case engine.FaultDropped:
			fmt.Fprint(out, " DROPPED")
		case engine.FaultDelayed:
			fmt.Fprintf(out, " DELAYED to tick %d", e.At)
		case engine.FaultDuplicated:
			fmt.Fprintf(out, " DUPLICATED: a copy at tick %d", e.At)
		}
		fmt.Fprintf(out, "  a=%d b=%d\n", e.A, e.B)
	}
}
