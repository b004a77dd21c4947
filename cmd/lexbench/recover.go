package main

import (
	"cmp"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"time"

	"github.com/spf13/pflag"

	"github.com/lexbench/lexbench/engine"
	"github.com/lexbench/lexbench/recovery"
	"github.com/lexbench/lexbench/runfile"
	"github.com/lexbench/lexbench/snapshot"
	"github.com/lexbench/lexbench/trace"
)

// recoverFlags are the flags of `lexbench resume` and `lexbench replay`.
type recoverFlags struct {
	shards            number
	maxTicks, maxMsgs number
	onOscillation     string
	program           string
	discard           bool
	detect            string
	json              bool
	maxInFlight       number
}

func newRecoverFlagSet(cmd string, f *recoverFlags) *pflag.FlagSet {
	fs := pflag.NewFlagSet(cmd, pflag.ContinueOnError)
	fs.SetOutput(io.Discard)
	fs.SortFlags = false
	fs.Var(&f.shards, "shards", shardsUsage)
	fs.StringVar(&f.program, "program", "", "the program `FILE.lxm` that wrote the journal: needed only without a run file; with one, it must be the recorded program")
	fs.Var(&f.maxTicks, "max-ticks", "the run's --max-ticks, 0..2^32: needed only without a run file (JOURNAL.run records it)")
	fs.Var(&f.maxMsgs, "max-msgs", "the run's --max-msgs, 0..2^62: needed only without a run file")
	fs.StringVar(&f.onOscillation, "on-oscillation", "", "the run's --on-oscillation (halt | damp): needed only without a run file")
	fs.StringVar(&f.detect, "detect", "", "the run's --detect (global | local): needed only without a run file")
	if cmd == "resume" {
		fs.BoolVar(&f.discard, "discard-after-snapshot", false, "continue from the newest snapshot even if the journal after it is damaged (a machine crash can write pages out of order); everything after the snapshot is written again")
	}
	fs.BoolVar(&f.json, "json", false, "print the result as one JSON object")
	addMaxInFlightFlag(fs, &f.maxInFlight, true)
	return fs
}

func recoverUsage(cmd string) string {
	var f recoverFlags
	what := map[string]string{
		"resume": "continue an interrupted run (kill -9, Ctrl-C, a crash) from its newest snapshot and its\n  journal's valid prefix, checking every block first; the result equals an uninterrupted run's",
		"replay": "re-execute a journal's run and compare every block; report the first divergence",
	}[cmd]
	codes := exitCodesHelp // resume ends with the run's result
	if cmd == "replay" {
		codes = commandExitCodes("identical: every block compared equal", "a divergence, a journal its run did not close, a damaged journal or run file, bad input")
	}
	return fmt.Sprintf("usage: lexbench %s JOURNAL [flags]\n  %s.\n  The workload, program and options come from the run file JOURNAL.run.\n%s%s",
		cmd, what, flagUsages(newRecoverFlagSet(cmd, &f)), codes)
}

// parseRecover parses the flags and the JOURNAL argument into a request;
// help is true when --help was asked (and printed).
func parseRecover(cmd string, args []string, stdout, stderr io.Writer) (req recovery.Request, f *recoverFlags, help bool, err error) {
	f = &recoverFlags{}
	fs := newRecoverFlagSet(cmd, f)
	bad := func(format string, a ...any) (recovery.Request, *recoverFlags, bool, error) {
		return recovery.Request{}, nil, false, &usageError{msg: fmt.Sprintf(format, a...), usage: recoverUsage(cmd)}
	}
	if err := parseFlags(fs, args); err != nil {
		if err == pflag.ErrHelp {
			fmt.Fprint(stdout, recoverUsage(cmd))
			return recovery.Request{}, nil, true, nil
		}
		return bad("%s", err)
	}
	if fs.NArg() != 1 {
		return bad("%s: want exactly one JOURNAL argument", cmd)
	}
	// unset --on-oscillation: the run's own, from its run file, else halt
	damp, err := checkRunFlags(f.shards, f.maxTicks, f.maxMsgs, cmp.Or(f.onOscillation, "halt"))
	if err != nil {
		return bad("%s", err)
	}
	detect, err := parseDetect(cmp.Or(f.detect, "global"))
	if err != nil {
		return bad("%s", err)
	}
	req = recovery.Request{Journal: fs.Arg(0), Shards: int(f.shards.v), DiscardAfterSnapshot: f.discard,
		DefaultMaxInFlight: defaultMaxInFlight()}
	if !f.shards.set {
		req.Shards = 0 // predicted
	}
	if f.maxInFlight.set { // else the run's own (its run file), or the default
		if req.MaxInFlight, err = maxInFlight(f.maxInFlight); err != nil {
			return bad("%s", err)
		}
	}
	if f.maxTicks.set || f.maxMsgs.set || f.onOscillation != "" || f.detect != "" {
		o := snapshot.DefaultOptions()
		if f.maxTicks.set {
			o.MaxTicks = int64(f.maxTicks.v)
		}
		if f.maxMsgs.set {
			o.MaxMsgs = int64(f.maxMsgs.v)
		}
		o.Damp, o.Local = damp, detect == engine.DetectLocal
		req.Opts = &o
	}
	if f.program != "" {
		text, err := readProgram(f.program)
		if err != nil {
			return recovery.Request{}, nil, false, fmt.Errorf("--program: %w", err)
		}
		req.Program = &runfile.Program{Path: f.program, Text: text}
	}
	return req, f, false, nil
}

// printNotes tells what resume or replay had to assume.
func printNotes(stderr io.Writer, rep *recovery.Report) {
	if rep == nil {
		return
	}
	for _, n := range rep.Notes {
		fmt.Fprintf(stderr, "lexbench: note: %s\n", n)
	}
}

func cmdResume(args []string, stdout, stderr io.Writer) (int, error) {
	req, f, help, err := parseRecover("resume", args, stdout, stderr)
	if help {
		return exitOK, nil
	}
	if err != nil {
		return exitBadInput, err
	}
	stop := onInterrupt()
	defer stop.release()
	req.Stop = &stop.flag
	// progress, and the cell events of the ticks the resume runs (those
	// before its snapshot were the interrupted run's to report)
	var pg *progress
	var cells *cellReport
	req.Watch = func(rep *recovery.Report) (func(tick, msgs uint64), func(*engine.CellEvent)) {
		pg = newProgress(stderr, rep.Workload, rep.P.N)
		cells = newCellReport(stderr, rep.Workload, pg, true, f.json)
		if pg == nil { // a call per tick only when there is a progress line
			return nil, cells.add
		}
		return cells.progress, cells.add
	}
	rep, err := recovery.Resume(req)
	pg.done()
	if cells != nil {
		cells.flush()
		if err == nil && rep.From > 0 && rep.Opts.Local && !rep.P.Faults.On() && !f.json {
			rep.Notes = append(rep.Notes, fmt.Sprintf("cell events: those after tick %d, where this resume continued; the ones before were the interrupted run's to report", rep.From))
		}
	}
	printNotes(stderr, rep)
	if err != nil {
		return exitBadInput, fmt.Errorf("resume: %w", inFlightHint(err))
	}
	if rep.Result.Outcome == engine.Stopped {
		if rep.Unchanged {
			return stop.reportUnchanged(stderr, rep.Result, req.Journal), nil
		}
		return stop.report(stderr, rep.Result, req.Journal, rep.Snaps != nil && rep.Snaps.Count > 0), nil
	}
	faults := rep.P.Faults.On()
	out := &output{w: stdout, spec: rep.Spec, prog: rep.Program, params: rep.Params, shards: rep.Shards, predicted: rep.ShardsWhy,
		n: rep.P.N, json: f.json, damp: rep.Opts.Damp && !faults, local: rep.Opts.Local && !faults, faults: faults,
		snaps: rep.Snaps, before: rep.Before, cells: cells}
	if f.json {
		// what the text's resume: lines say
		rejected := []string{}
		for _, r := range rep.Rejected {
			rejected = append(rejected, firstLine(r))
		}
		out.extra = map[string]any{"resume": map[string]any{
			"from_tick": rep.From, "snapshot": rep.Snapshot, "rejected_snapshots": rejected,
			"verified_blocks": rep.Verified, "kept_blocks": rep.Kept, "cut_bytes": rep.Cut, "torn": rep.Torn,
			"checked_bytes": rep.Checked, "reexecuted_ticks": rep.Result.Ticks - rep.From,
		}}
	} else {
		if rep.From > 0 {
			fmt.Fprintf(stdout, "resume: from tick %d (%s)\n", rep.From, rep.Snapshot)
		} else {
			fmt.Fprintf(stdout, "resume: from the start (no usable snapshot)\n")
		}
		for _, r := range rep.Rejected {
			fmt.Fprintf(stdout, "resume-rejected: %s\n", firstLine(r))
		}
		torn := ""
		if rep.Torn != "" {
			torn = " (" + rep.Torn + ")"
		}
		fmt.Fprintf(stdout, "resume-journal: verified %d blocks from the start, kept %d, cut %d bytes%s, re-checked %d bytes, re-executed %d ticks\n",
			rep.Verified, rep.Kept, rep.Cut, torn, rep.Checked, rep.Result.Ticks-rep.From)
	}
	out.result(true, rep.Workload, rep.Result, rep.Elapsed, 0)
	printViolation(stderr, rep.Result)
	return exitCode(rep.Spec, rep.Result), nil
}

func cmdReplay(args []string, stdout, stderr io.Writer) (int, error) {
	req, f, help, err := parseRecover("replay", args, stdout, stderr)
	if help {
		return exitOK, nil
	}
	if err != nil {
		return exitBadInput, err
	}
	start := time.Now()
	rep, err := recovery.Replay(req)
	printNotes(stderr, rep)
	var d *recovery.Divergence
	if errors.As(err, &d) {
		if f.json {
			b, _ := json.Marshal(map[string]any{"params": rep.Params, "replay": "diverged", "divergence": divergenceJSON(d)})
			fmt.Fprintf(stdout, "%s\n", b)
		} else {
			fmt.Fprintf(stdout, "params: %s\n%s", rep.Params, d.Report())
		}
		return exitBadInput, fmt.Errorf("replay: %w", err)
	}
	if err != nil {
		return exitBadInput, fmt.Errorf("replay: %w", inFlightHint(err))
	}
	res := rep.Result
	if f.json {
		faults := rep.P.Faults.On()
		out := &output{w: stdout, spec: rep.Spec, prog: rep.Program, params: rep.Params, shards: rep.Shards, predicted: rep.ShardsWhy,
			n: rep.P.N, json: true, damp: rep.Opts.Damp && !faults, local: rep.Opts.Local && !faults, faults: faults,
			extra: map[string]any{"replay": "identical", "blocks_compared": res.Blocks}}
		out.result(true, rep.Workload, res, time.Since(start), 0)
		return exitOK, nil
	}
	fmt.Fprintf(stdout, "params: %s\ntrace: %016x\nstate: %016x\noutcome: %s\nticks: %d\nmsgs: %d\nblocks: %d\n",
		rep.Params, res.Trace, res.State, res.Outcome, res.Ticks, res.Msgs, res.Blocks)
	if rep.P.Faults.On() {
		fmt.Fprintf(stdout, "faults: %s\n", faultsLine(res.Faults))
	}
	fmt.Fprintf(stdout, "replay: identical, %d blocks compared\n", res.Blocks)
	return exitOK, nil
}

// divergenceJSON is replay --json's "divergence": where (block, tick,
// entry, file offset), what differed, and the journal's and the replay's
// entry there (null where there is none).
func divergenceJSON(d *recovery.Divergence) map[string]any {
	entry := func(e *trace.Entry) any {
		if e == nil {
			return nil
		}
		return map[string]any{"tick": e.Tick, "src": e.Src, "dst": e.Dst, "kind": trace.KindName(e.Kind), "flags": e.Flags, "a": e.A, "b": e.B}
	}
	return map[string]any{"block": d.Block, "tick": d.Tick, "entry": d.Entry, "offset": d.Offset, "what": d.What,
		"journal": entry(d.Journal), "replay": entry(d.Replay)}
}
