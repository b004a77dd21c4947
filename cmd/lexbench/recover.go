package main

import (
	"cmp"
	"errors"
	"fmt"
	"io"
	"runtime"
	"time"

	"github.com/spf13/pflag"

	"github.com/lexbench/lexbench/recovery"
	"github.com/lexbench/lexbench/snapshot"
)

// recoverFlags are the flags of `lexbench resume` and `lexbench replay`.
type recoverFlags struct {
	shards            number
	maxTicks, maxMsgs number
	onOscillation     string
	json              bool
	maxInFlight       number
}

func newRecoverFlagSet(cmd string, f *recoverFlags) *pflag.FlagSet {
	fs := pflag.NewFlagSet(cmd, pflag.ContinueOnError)
	fs.SetOutput(io.Discard)
	fs.SortFlags = false
	f.shards.v = uint64(runtime.NumCPU())
	fs.Var(&f.shards, "shards", "parallel shards (≥ 1; default: CPUs); any count gives the same result")
	fs.Var(&f.maxTicks, "max-ticks", "the run's --max-ticks, if it had one and left no snapshot")
	fs.Var(&f.maxMsgs, "max-msgs", "the run's --max-msgs, if it had one and left no snapshot")
	fs.StringVar(&f.onOscillation, "on-oscillation", "", "the run's --on-oscillation (halt | damp), if it left no snapshot")
	fs.BoolVar(&f.json, "json", false, "print the result as one JSON object")
	addMaxInFlightFlag(fs, &f.maxInFlight)
	return fs
}

func recoverUsage(cmd string) string {
	var f recoverFlags
	what := map[string]string{
		"resume": "continue an interrupted run from its newest snapshot and its journal's valid prefix",
		"replay": "re-execute a journal's run and compare every block; report the first divergence",
	}[cmd]
	return fmt.Sprintf("usage: lexbench %s JOURNAL [flags]\n  %s\n%s", cmd, what, newRecoverFlagSet(cmd, &f).FlagUsages())
}

// parseRecover parses the flags and the JOURNAL argument into a request.
func parseRecover(cmd string, args []string, stdout io.Writer) (recovery.Request, *recoverFlags, bool, error) {
	var f recoverFlags
	fs := newRecoverFlagSet(cmd, &f)
	bad := func(format string, a ...any) (recovery.Request, *recoverFlags, bool, error) {
		return recovery.Request{}, nil, false, &usageError{msg: fmt.Sprintf(format, a...), usage: recoverUsage(cmd)}
	}
	if err := fs.Parse(args); err != nil {
		if err == pflag.ErrHelp {
			fmt.Fprint(stdout, recoverUsage(cmd))
			return recovery.Request{}, nil, true, nil
		}
		return bad("%s", err)
	}
	if fs.NArg() != 1 {
		return bad("%s: want exactly one JOURNAL argument", cmd)
	}
	// unset --on-oscillation: the run's own, from its snapshots, else halt
	damp, err := checkRunFlags(f.shards, f.maxTicks, f.maxMsgs, cmp.Or(f.onOscillation, "halt"))
	if err != nil {
		return bad("%s", err)
	}
	inFlight, err := maxInFlight(f.maxInFlight)
	if err != nil {
		return bad("%s", err)
	}
	req := recovery.Request{Journal: fs.Arg(0), Shards: int(f.shards.v), MaxInFlight: inFlight}
	if f.maxTicks.set || f.maxMsgs.set || f.onOscillation != "" {
		o := snapshot.DefaultOptions()
		if f.maxTicks.set {
			o.MaxTicks = int64(f.maxTicks.v)
		}
		if f.maxMsgs.set {
			o.MaxMsgs = int64(f.maxMsgs.v)
		}
		o.Damp = damp
		req.Opts = &o
	}
	return req, &f, false, nil
}

func cmdResume(args []string, stdout io.Writer) (int, error) {
	req, f, help, err := parseRecover("resume", args, stdout)
	if err != nil || help {
		return exitBadInput, err
	}
	rep, err := recovery.Resume(req)
	if err != nil {
		return exitBadInput, fmt.Errorf("resume: %w", err)
	}
	if !f.json {
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
		fmt.Fprintf(stdout, "resume-journal: kept %d blocks, cut %d bytes%s, re-checked %d bytes, re-executed %d ticks\n",
			rep.Kept, rep.Cut, torn, rep.Checked, rep.Result.Ticks-rep.From)
	}
	faults := rep.P.Faults.On()
	out := &output{w: stdout, spec: rep.Spec, params: rep.Params, shards: req.Shards, n: rep.P.N, json: f.json,
		damp: rep.Opts.Damp && !faults, faults: faults, snaps: rep.Snaps, before: rep.Before}
	out.result(true, rep.Workload, rep.Result, rep.Elapsed, 0)
	return exitCode(rep.Spec, rep.Result), nil
}

func cmdReplay(args []string, stdout io.Writer) (int, error) {
	req, f, help, err := parseRecover("replay", args, stdout)
	if err != nil || help {
		return exitBadInput, err
	}
	start := time.Now()
	rep, err := recovery.Replay(req)
	var d *recovery.Divergence
	if errors.As(err, &d) {
		fmt.Fprintf(stdout, "params: %s\n%s", rep.Params, d.Report())
		return exitBadInput, fmt.Errorf("replay: %w", err)
	}
	if err != nil {
		return exitBadInput, fmt.Errorf("replay: %w", err)
	}
	res := rep.Result
	if f.json {
		faults := rep.P.Faults.On()
		out := &output{w: stdout, spec: rep.Spec, params: rep.Params, shards: req.Shards, n: rep.P.N, json: true,
			damp: rep.Opts.Damp && !faults, faults: faults}
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
