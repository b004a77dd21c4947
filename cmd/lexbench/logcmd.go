package main

import (
	"bufio"
	"errors"
	"fmt"
	"io"
	"strconv"
	"strings"

	"github.com/spf13/pflag"

	"github.com/lexbench/lexbench/engine"
	"github.com/lexbench/lexbench/journal/mmap"
	"github.com/lexbench/lexbench/lang"
	"github.com/lexbench/lexbench/recovery"
	"github.com/lexbench/lexbench/runfile"
	"github.com/lexbench/lexbench/trace"
	"github.com/lexbench/lexbench/workloads"
	"github.com/lexbench/lexbench/workloads/lxm"
)

// logFlags are the flags of `lexbench log`.
type logFlags struct {
	tick    string
	domain  string
	program string
	faults  bool
}

func newLogFlagSet(f *logFlags) *pflag.FlagSet {
	fs := pflag.NewFlagSet("log", pflag.ContinueOnError)
	fs.SetOutput(io.Discard)
	fs.SortFlags = false
	fs.StringVar(&f.tick, "tick", "", "only ticks `A..B` (inclusive; A.., ..B, or one tick T)")
	fs.StringVar(&f.domain, "domain", "", "only messages from or to domain `D` (an id, or a name such as bank[2])")
	fs.StringVar(&f.program, "program", "", "the `FILE.lxm` the journal's run ran (names its domains and kinds): needed only without a run file; with one, it must be the recorded program")
	fs.BoolVar(&f.faults, "faults", false, "also list the fault decisions (dropped, delayed, duplicated messages), found by running the journal's params again")
	return fs
}

func logUsage() string {
	var f logFlags
	return "usage: lexbench log JOURNAL [--tick A..B] [--domain D] [--program FILE.lxm] [--faults]\n" +
		"  print a journal's messages, one per line, decoded: tick, src, dst, kind, flags, a, b,\n" +
		"  with domain and kind names (a native workload's from workloads/lxm, a program's from\n" +
		"  the run file JOURNAL.run, which holds its text, or else --program); every block is\n" +
		"  checked as it is read, as by verify.\n" +
		flagUsages(newLogFlagSet(&f)) + commandExitCodes("every message printed, every block checked", "a damaged journal or run file (after the messages before the damage), bad input, an I/O error")
}

// tickRange is an inclusive range of ticks.
type tickRange struct{ lo, hi uint64 }

// parseTicks parses A..B, A.., ..B or T.
func parseTicks(s string) (tickRange, error) {
	r := tickRange{0, ^uint64(0)}
	if s == "" {
		return r, nil
	}
	lo, hi, isRange := strings.Cut(s, "..")
	if !isRange {
		hi = lo
	}
	var err error
	if lo != "" {
		if r.lo, err = strconv.ParseUint(lo, 10, 64); err != nil {
			return r, fmt.Errorf("invalid value %q for --tick: want A..B, A.., ..B or T (decimal ticks)", s)
		}
	}
	if hi != "" {
		if r.hi, err = strconv.ParseUint(hi, 10, 64); err != nil {
			return r, fmt.Errorf("invalid value %q for --tick: want A..B, A.., ..B or T (decimal ticks)", s)
		}
	}
	if r.lo > r.hi {
		return r, fmt.Errorf("invalid value %q for --tick: %d is after %d", s, r.lo, r.hi)
	}
	return r, nil
}

// cmdLog is `lexbench log JOURNAL`: the journal's messages, decoded.
func cmdLog(args []string, stdout, stderr io.Writer) (int, error) {
	var f logFlags
	fs := newLogFlagSet(&f)
	bad := func(format string, a ...any) (int, error) {
		return exitBadInput, &usageError{msg: fmt.Sprintf(format, a...), usage: logUsage()}
	}
	if err := parseFlags(fs, args); err != nil {
		if err == pflag.ErrHelp {
			fmt.Fprint(stdout, logUsage())
			return exitOK, nil
		}
		return bad("%s", err)
	}
	if fs.NArg() != 1 {
		return bad("log: want exactly one JOURNAL argument")
	}
	ticks, err := parseTicks(f.tick)
	if err != nil {
		return bad("%s", err)
	}
	r, err := mmap.Open(fs.Arg(0))
	if err != nil {
		return exitBadInput, fmt.Errorf("log: %w", err)
	}
	defer r.Close()
	prog, err := logProgram(fs.Arg(0), r, f.program)
	if err != nil {
		return exitBadInput, fmt.Errorf("log: %w", err)
	}
	kinds, domain, err := journalNames(r.Params(), prog, stderr)
	if err != nil {
		return exitBadInput, fmt.Errorf("log: %w", err)
	}
	only, err := domainFilter(f.domain, domain)
	if err != nil {
		return bad("%s", err)
	}
	var faults faultLines
	if f.faults {
		if faults.events, err = journalFaults(fs.Arg(0), r.Params(), prog, stderr); err != nil {
			return exitBadInput, fmt.Errorf("log: %w", err)
		}
	}
	keepFault := func(e *engine.FaultEvent) bool {
		return e.Tick >= ticks.lo && e.Tick <= ticks.hi && (only < 0 || int64(e.Src) == only || int64(e.Dst) == only)
	}
	out := bufio.NewWriterSize(stdout, 1<<16)
	defer out.Flush()
	fmt.Fprintf(out, "params: %s\n", r.Params())
	name := func(d uint32) string {
		if n := domain(d); n != "" {
			return fmt.Sprintf("%d (%s)", d, n)
		}
		return strconv.FormatUint(uint64(d), 10)
	}
	kind := func(k trace.Kind) string {
		if n, ok := kinds[k]; ok {
			return n
		}
		return strconv.FormatUint(uint64(k), 10)
	}
	var shown uint64
	early := false
	for {
		h, body, err := r.Next()
		if err == io.EOF {
			break
		}
		if err != nil {
			out.Flush()
			fmt.Fprintf(stdout, "log: stopped at a bad block: %v\n", err)
			return exitBadInput, fmt.Errorf("log: %w", err)
		}
		if first := trace.DecodeEntry(body); uint64(first.Tick) > ticks.hi {
			early = true // ticks only grow: the rest is not read
			break
		}
		for i := 0; i < int(h.Count); i++ {
			e := trace.DecodeEntry(body[i*trace.EntrySize:])
			faults.before(out, uint64(e.Tick), e.Src, keepFault, name, kind)
			if uint64(e.Tick) < ticks.lo || uint64(e.Tick) > ticks.hi || only >= 0 && int64(e.Src) != only && int64(e.Dst) != only {
				continue
			}
			shown++
			fmt.Fprintf(out, "tick %d  %s → %s  %s", e.Tick, name(e.Src), name(e.Dst), kind(e.Kind))
			switch e.Flags {
			case 0:
			case trace.FlagDelayed:
				fmt.Fprint(out, " (delayed)")
			case trace.FlagCopy:
				fmt.Fprint(out, " (duplicate)")
			default:
				fmt.Fprintf(out, " (flags %d)", e.Flags)
			}
			fmt.Fprintf(out, "  a=%d b=%d\n", e.A, e.B)
		}
	}
	faults.before(out, ^uint64(0), 0, keepFault, name, kind)
	if f.faults {
		if trace.ParamsHaveFaults(r.Params()) {
			fmt.Fprintf(out, "faults: %d shown of %d decisions up to the tick after the journal's last\n", faults.shown, len(faults.events))
		} else {
			fmt.Fprintln(out, "faults: none (the run has faults off)")
		}
	}
	s := r.Summary()
	if early {
		fmt.Fprintf(out, "messages: %d shown (the journal was read up to tick %d)\n", shown, ticks.hi+1)
	} else {
		fmt.Fprintf(out, "messages: %d shown of %d in %d blocks, trace %016x\n", shown, s.Entries, s.Blocks, s.Trace)
	}
	return exitOK, nil
}

// logProgram is the program that wrote the journal r reads at path: the
// one recorded in its run file (which holds the program's text), else the
// one given with --program; nil for a native workload's journal. With a run
// file, --program must be the recorded program (as for resume and replay).
func logProgram(path string, r *mmap.Reader, program string) (*runfile.Program, error) {
	id, err := r.FileID()
	if err != nil {
		return nil, err
	}
	rf, err := recovery.RunFile(path, r.Params(), id)
	if err != nil {
		return nil, err
	}
	var given *runfile.Program
	if program != "" {
		text, err := readProgram(program)
		if err != nil {
			return nil, fmt.Errorf("--program: %w", err)
		}
		given = &runfile.Program{Path: program, Text: text}
	}
	return recovery.Program(path, rf, given)
}

// journalNames finds names for the journal's kinds and domains: from the
// program that wrote it, else from the native workload's program in
// workloads/lxm (same ids and kinds); without either, numbers.
func journalNames(params string, prog *runfile.Program, stderr io.Writer) (map[trace.Kind]string, func(uint32) string, error) {
	none := func(uint32) string { return "" }
	var p *lang.Program
	name := ""
	switch {
	case prog != nil:
		name = prog.Path
		q, err := compileProgram(prog, stderr)
		if err != nil {
			return nil, nil, err
		}
		p = q
	default:
		spec, _, err := workloads.ParseParams(params)
		if err != nil {
			return specKindNames(), none, nil // a program's journal without a run file, read without --program
		}
		src, err := lxm.Files.ReadFile(spec.Name + ".lxm")
		if err != nil {
			return specKindNames(), none, nil
		}
		name = spec.Name + ".lxm"
		if p, err = lang.Compile(name, string(src)); err != nil {
			return nil, nil, err
		}
	}
	kinds, domain, err := p.Namer(params)
	if err != nil {
		return nil, nil, fmt.Errorf("program %s does not match the journal: %w", name, err)
	}
	return kinds, domain, nil
}

// specKindNames are SPEC §5's kinds, as trace names them.
func specKindNames() map[trace.Kind]string {
	names := map[trace.Kind]string{}
	for k := trace.Kind(0); !strings.HasPrefix(trace.KindName(k), "kind "); k++ {
		names[k] = trace.KindName(k)
	}
	return names
}

// domainFilter resolves --domain (an id or a domain name) to an id, or -1
// for none.
func domainFilter(s string, domain func(uint32) string) (int64, error) {
	if s == "" {
		return -1, nil
	}
	if d, err := strconv.ParseUint(s, 10, 32); err == nil {
		return int64(d), nil
	}
	for d := uint32(0); ; d++ {
		n := domain(d)
		if n == "" {
			break
		}
		if n == s {
			return int64(d), nil
		}
		if d == 1<<31 {
			break
		}
	}
	return 0, errors.New("invalid value " + strconv.Quote(s) + " for --domain: not a domain id or name of this run")
}
