package main

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"runtime"
	"strconv"
	"strings"
	"time"

	"github.com/spf13/pflag"

	"github.com/lexbench/lexbench/engine"
	"github.com/lexbench/lexbench/lang"
	"github.com/lexbench/lexbench/runfile"
	"github.com/lexbench/lexbench/sim"
	"github.com/lexbench/lexbench/trace"
	"github.com/lexbench/lexbench/workloads"
)

// simFlags are the flags of `lexbench sim`.
type simFlags struct {
	n, batch          number
	keys              []number
	faults            faultFlags
	seed              number // refused: every run's seed is its seed
	seeds             string
	swarm             bool
	jobs              number
	shards            number
	maxTicks, maxMsgs number
	keep              string
	list              number
	noShrink          bool
	verbose           bool
	json              bool
}

// simDefaultN is sim's -n: a simulation runs many small runs.
const simDefaultN = 10_000

func newSimFlagSet(spec *workloads.Spec, f *simFlags) *pflag.FlagSet {
	fs := pflag.NewFlagSet("sim", pflag.ContinueOnError)
	fs.SetOutput(io.Discard)
	fs.SortFlags = false
	d := spec.Defaults()
	f.n.v, f.batch.v = simDefaultN, d.Batch
	f.seeds = "1..100"
	f.jobs.v = uint64(runtime.NumCPU())
	f.shards.v = 1
	f.maxTicks.v = sim.DefaultBudget
	f.list.v = 10
	fs.StringVar(&f.seeds, "seeds", f.seeds, "the seeds to run: `A..B`, one seed, or a comma-separated list of both (1..10000, 7, 1..5,9); each run's seed and fault seed")
	fs.BoolVar(&f.swarm, "swarm", false, "each seed draws its own fault profile (which faults, rates over decades, max delay; docs/simulation.md) instead of the fault flags")
	fs.VarP(&f.n, "n", "n", "operations per run (default 1e4)")
	fs.Var(&f.batch, "batch", "operations a driver emits per tick (≥ 1)")
	f.keys = make([]number, len(spec.Keys))
	for i, k := range spec.Keys {
		f.keys[i].v = k.Default
		fs.Var(&f.keys[i], k.Name, k.Usage)
	}
	addFaultFlags(fs, &f.faults)
	fs.VarP(&f.jobs, "jobs", "j", "runs at once (default: CPUs); the report does not depend on it")
	fs.Var(&f.shards, "shards", "shards per run (default 1: the workers use the cores)")
	fs.Var(&f.maxTicks, "max-ticks", fmt.Sprintf("tick budget of each run: a run still going at this tick is counted as budget (default %d)", sim.DefaultBudget))
	fs.Var(&f.maxMsgs, "max-msgs", "message budget of each run (default: none)")
	fs.StringVar(&f.keep, "keep", "", "write the journals of the failing seeds listed into `DIR` (empty, or new in a directory that exists; created only when a seed is kept), by running them again")
	fs.Var(&f.list, "list", "failing seeds listed per kind (violated, budget, error), the first in seed order")
	fs.BoolVar(&f.noShrink, "no-shrink", false, "do not shrink the violated seeds listed")
	fs.BoolVarP(&f.verbose, "verbose", "v", false, "one line per seed, in seed order: outcome, ticks, messages, faults")
	fs.BoolVar(&f.json, "json", false, "print one JSON object instead of the text report")
	fs.Var(&f.seed, "seed", "")
	_ = fs.MarkHidden("seed")
	_ = fs.MarkHidden("fault-seed") // refused: every run's fault seed is its seed
	return fs
}

func simUsage(spec *workloads.Spec) string {
	var f simFlags
	name := "<workload|FILE.lxm>"
	if spec == nil {
		spec = &workloads.StormSpec
	} else {
		name = spec.Name
	}
	return fmt.Sprintf("usage: lexbench sim %s [flags]\n"+
		"  run many seeds, each a whole run whose seed and fault seed are the seed; list the\n"+
		"  failing seeds with the command that reproduces each, shrink the violations.\n"+
		"  exit 2 if a seed violated a goal, else 1 if one ended with an error, else 4 if one\n"+
		"  hit the tick budget, else 3 if one oscillated or was damped (any workload but\n"+
		"  oscillation), else 0. docs/simulation.md.\n%s"+
		"exit codes: as above; 70 lexbench crashed (never a result); 130 interrupted by Ctrl-C\n"+
		"  (143: SIGTERM); 128+N: killed by signal N\n", name, flagUsages(newSimFlagSet(spec, &f)))
}

// simTarget is what `lexbench sim` was asked to run, and how to spell it
// back as a command.
type simTarget struct {
	sim.Target
	cmd  string           // "storm" or "run FILE.lxm", as a command names it
	prog *runfile.Program // the program's text, recorded in a kept journal's run file; nil for a workload
	// names, for the fault list: kinds and domains (nil: numbers)
	kinds  map[trace.Kind]string
	domain func(uint32) string
}

func cmdSim(args []string, stdout, stderr io.Writer) (int, error) {
	if len(args) == 0 || strings.HasPrefix(args[0], "-") {
		if len(args) > 0 && (args[0] == "-h" || args[0] == "--help") {
			fmt.Fprint(stdout, simUsage(nil))
			return exitOK, nil
		}
		return exitBadInput, &usageError{msg: "sim: want a workload or FILE.lxm before the flags", usage: simUsage(nil)}
	}
	var st simTarget
	var prog *lang.Program
	if spec := workloads.Lookup(args[0]); spec != nil {
		st.Spec, st.cmd = spec, spec.Name
	} else if strings.HasSuffix(args[0], ".lxm") {
		p, rp, err := loadProgram(args[0], stderr)
		if err != nil {
			return exitBadInput, err
		}
		prog, st.prog = p, rp
		st.Spec, st.cmd = p.Spec(), "run "+shellQuote(args[0])
	} else {
		return exitBadInput, &usageError{msg: fmt.Sprintf("sim: unknown workload %q (want %s, or a FILE.lxm)", args[0], workloads.Names()), usage: simUsage(nil)}
	}
	var f simFlags
	fs := newSimFlagSet(st.Spec, &f)
	bad := func(format string, a ...any) (int, error) {
		return exitBadInput, &usageError{msg: fmt.Sprintf(format, a...), usage: simUsage(st.Spec)}
	}
	if err := parseFlags(fs, args[1:]); err != nil {
		if err == pflag.ErrHelp {
			fmt.Fprint(stdout, simUsage(st.Spec))
			return exitOK, nil
		}
		return bad("%s", err)
	}
	if fs.NArg() > 0 {
		return bad("unexpected argument %q", fs.Arg(0))
	}
	if f.seed.set || f.faults.faultSeed.set {
		return bad("--seed and --fault-seed are not sim flags: each run's seed and fault seed are its seed (--seeds)")
	}
	seeds, err := sim.ParseSeeds(f.seeds, parseNumber)
	if err != nil {
		return bad("invalid value %q for --seeds: %v", f.seeds, err)
	}
	p := st.Spec.Defaults()
	p.N, p.Batch = f.n.v, f.batch.v
	for i := range f.keys {
		p.K[i] = f.keys[i].v
	}
	if err := st.Spec.Validate(p); err != nil {
		return bad("%s", err)
	}
	fp, err := f.faults.params(1)
	if err != nil {
		return bad("%s", err)
	}
	if f.swarm && (f.faults.drop.set || f.faults.dup.set || f.faults.delay.set || f.faults.maxDelay.set) {
		return bad("--swarm draws each seed's fault rates and max delay: give no --drop, --dup, --delay or --max-delay")
	}
	switch {
	case f.jobs.v < 1 || f.jobs.v > 4096:
		return bad("invalid value %d for --jobs: must be 1..4096", f.jobs.v)
	case f.shards.v < 1 || f.shards.v > 1024:
		return bad("invalid value %d for --shards: must be 1..1024", f.shards.v)
	case f.maxTicks.v > engine.MaxTick+1:
		return bad("invalid value %d for --max-ticks: at most %d (ticks are u32 in the journal)", f.maxTicks.v, uint64(engine.MaxTick)+1)
	case f.maxMsgs.v > 1<<62:
		return bad("invalid value %d for --max-msgs: must be below 2^62", f.maxMsgs.v)
	case f.list.v > 1000:
		return bad("invalid value %d for --list: at most 1000", f.list.v)
	}
	inFlight, err := maxInFlight(f.faults.maxInFlight)
	if err != nil {
		return bad("%s", err)
	}
	if !f.faults.maxInFlight.set { // the machine's memory is shared by the runs at once
		inFlight = max(inFlight/int64(f.jobs.v), 1)
	}
	if w := st.Spec.New(p); w.StateWords() > stateWordsMax || uint64(w.Domains()) > 1<<31 {
		return bad("the workload's keys ask for too much state (%d words; at most %d)", w.StateWords(), stateWordsMax)
	}
	if f.keep != "" {
		if err := checkKeepDir(f.keep); err != nil {
			return bad("invalid value %q for --keep: %v", f.keep, err)
		}
	}
	st.Params, st.Faults, st.Swarm = p, fp, f.swarm
	// names of kinds and domains for the fault lists (they depend on the keys only)
	if prog != nil {
		st.kinds, st.domain, err = prog.Namer(st.Spec.Text(p))
	} else {
		st.kinds, st.domain, err = journalNames(st.Spec.Text(p), nil, stderr)
	}
	if err != nil {
		return exitBadInput, err
	}
	st.MaxTicks, st.MaxMsgs = int64(f.maxTicks.v), -1
	if f.maxMsgs.set {
		st.MaxMsgs = int64(f.maxMsgs.v)
	}
	st.Shards, st.MaxInFlight = int(f.shards.v), inFlight

	o := sim.Options{Seeds: seeds, Jobs: int(f.jobs.v), List: int(max(f.list.v, 1)), Progress: &sim.Progress{}}
	var seedLines []seedJSON
	if f.verbose {
		o.OnSeed = func(r *sim.Result) {
			if f.json {
				seedLines = append(seedLines, st.seedJSON(r))
				return
			}
			fmt.Fprintln(stdout, st.seedLine(r))
		}
	}
	if !f.json { // the header first, then -v's per-seed lines as they come
		st.printHeader(stdout, seeds, &f)
	}
	stopProgress := startSimProgress(stderr, o.Progress, seeds.Len())
	start := time.Now()
	rep := sim.Simulate(&st.Target, o)
	elapsed := time.Since(start)
	stopProgress()
	if f.list.v == 0 {
		rep.Violated, rep.Budget, rep.Errored = nil, nil, nil
	}

	// Shrink the violated seeds listed, keep the journals.
	shrunk := make([]*sim.Shrunk, len(rep.Violated))
	shrinkStart := time.Now()
	if !f.noShrink {
		for i, r := range rep.Violated {
			if s, ok := st.Shrink(r); ok {
				shrunk[i] = &s
			}
		}
	}
	shrinkTime := time.Since(shrinkStart)
	journals := map[uint64]string{}
	if f.keep != "" {
		for _, list := range [][]sim.Result{rep.Violated, rep.Budget, rep.Errored} {
			for _, r := range list {
				if err := keepDir(f.keep); err != nil {
					return exitBadInput, fmt.Errorf("--keep: %w", err)
				}
				path, err := st.keep(f.keep, r)
				if err != nil {
					return exitBadInput, fmt.Errorf("--keep: seed %d: %w", r.Seed, err)
				}
				journals[r.Seed] = path
			}
		}
	}

	if f.json {
		st.printJSON(stdout, seeds, &f, rep, shrunk, journals, seedLines, elapsed, shrinkTime)
	} else {
		st.printText(stdout, seeds, &f, rep, shrunk, journals, elapsed, shrinkTime)
	}
	switch {
	case rep.Outcomes[engine.Violated] > 0:
		return exitViolated, nil
	case rep.Errors > 0:
		return exitBadInput, errPrinted
	case rep.Outcomes[engine.Budget] > 0:
		return exitBudget, nil
	case (rep.Outcomes[engine.Oscillating] > 0 || rep.Outcomes[engine.Damped] > 0) && st.Spec.Name != workloads.OscillationSpec.Name:
		return exitOscillating, nil
	}
	return exitOK, nil
}

// checkKeepDir accepts an empty directory, or one that does not exist in
// a directory that does (keepDir creates it when there is a journal to
// keep): a kept journal never replaces a file, and a mistyped parent is
// an error, as for --journal.
func checkKeepDir(dir string) error {
	ents, err := os.ReadDir(dir)
	switch {
	case errors.Is(err, os.ErrNotExist):
		parent := filepath.Dir(dir)
		if st, err := os.Stat(parent); err != nil || !st.IsDir() {
			return fmt.Errorf("its parent directory %s does not exist", parent)
		}
		return nil
	case err != nil:
		return errors.Unwrap(err)
	case len(ents) > 0:
		return errors.New("not empty (kept journals never replace files)")
	}
	return nil
}

// keepDir creates the --keep directory if it does not exist (its parent
// does: checkKeepDir).
func keepDir(dir string) error {
	if err := os.Mkdir(dir, 0o755); err != nil && !errors.Is(err, os.ErrExist) {
		return err
	}
	return nil
}

// command is the lexbench command that runs p with the tick budget
// maxTicks (< 0: none), as a shell reads it.
func (st *simTarget) command(p workloads.Params, maxTicks int64) string {
	return "lexbench " + st.cmd + " " + strings.Join(st.flags(p, maxTicks), " ")
}

// flags are the flags of that command: the workload's or program's that
// differ from their defaults, the seed, the fault flags and the budget.
func (st *simTarget) flags(p workloads.Params, maxTicks int64) []string {
	a := st.workloadFlags(p, true)
	a = append(a, faultArgs(p.Faults, p.Seed)...)
	if maxTicks >= 0 {
		a = append(a, "--max-ticks", strconv.FormatInt(maxTicks, 10))
	}
	return a
}

// workloadFlags are -n, the seed (if seed) and the batch and keys that
// differ from their defaults.
func (st *simTarget) workloadFlags(p workloads.Params, seed bool) []string {
	d := st.Spec.Defaults()
	a := []string{"-n", strconv.FormatUint(p.N, 10)}
	if seed {
		a = append(a, "--seed", strconv.FormatUint(p.Seed, 10))
	}
	if p.Batch != d.Batch {
		a = append(a, "--batch", strconv.FormatUint(p.Batch, 10))
	}
	for i, k := range st.Spec.Keys {
		if p.K[i] != k.Default {
			a = append(a, "--"+k.Name, strconv.FormatUint(p.K[i], 10))
		}
	}
	return a
}

// faultArgs are the fault flags that give f to a run with --seed seed.
func faultArgs(f engine.FaultParams, seed uint64) []string {
	if !f.On() {
		return nil
	}
	var a []string
	for _, r := range []struct {
		name string
		v    uint32
	}{{"drop", f.Drop}, {"dup", f.Dup}, {"delay", f.Delay}} {
		if r.v != 0 {
			a = append(a, "--"+r.name, strconv.FormatUint(uint64(r.v), 10))
		}
	}
	if f.MaxDelay != engine.DefaultMaxDelay {
		a = append(a, "--max-delay", strconv.FormatUint(uint64(f.MaxDelay), 10))
	}
	if f.Seed != seed {
		a = append(a, "--fault-seed", strconv.FormatUint(f.Seed, 10))
	}
	return a
}

// profileText is a swarm profile as `drop=… dup=… delay=… maxdelay=…`.
func profileText(f engine.FaultParams) string {
	return fmt.Sprintf("drop=%d dup=%d delay=%d maxdelay=%d", f.Drop, f.Dup, f.Delay, f.MaxDelay)
}

// budgetOf is the --max-ticks a listed seed's command needs: a run that
// ended by its budget needs it to end the same way; a run that quiesced
// or failed before it does not.
func budgetOf(r *sim.Result) int64 {
	if r.Err == nil && r.Outcome == engine.Budget {
		return r.MaxTicks
	}
	return -1
}

// keep runs r's seed again, exactly as its command does, with a journal
// in dir, and checks that the journaled run is the simulated one.
func (st *simTarget) keep(dir string, r sim.Result) (string, error) {
	path := filepath.Join(dir, fmt.Sprintf("seed-%d.lxj", r.Seed))
	args := st.flags(r.Params, budgetOf(&r))
	if st.MaxMsgs >= 0 {
		args = append(args, "--max-msgs", strconv.FormatInt(st.MaxMsgs, 10))
	}
	args = append(args, "--journal", path, "--json", "--shards", "1",
		"--max-inflight", strconv.FormatInt(max(st.MaxInFlight, 1), 10))
	var out bytes.Buffer
	code, err := cmdRun(st.Spec, st.prog, args, &out, io.Discard)
	if r.Err != nil {
		if err == nil {
			return "", fmt.Errorf("the run ended with exit code %d, not with the error of the simulation", code)
		}
		return path, nil
	}
	if err != nil {
		return "", err
	}
	var got struct{ Trace, Outcome string }
	if err := json.Unmarshal(out.Bytes(), &got); err != nil {
		return "", fmt.Errorf("the journaled run's result: %v", err)
	}
	if want := fmt.Sprintf("%016x", r.Trace); got.Trace != want || got.Outcome != r.Outcome.String() {
		return "", fmt.Errorf("the journaled run ends %s with trace %s, the simulated one %s with %s (nondeterminism: report this)",
			got.Outcome, got.Trace, r.Outcome, want)
	}
	return path, nil
}

// printHeader prints the text report's first lines: the sim: line and
// the swarm: line.
func (st *simTarget) printHeader(w io.Writer, seeds sim.Seeds, f *simFlags) {
	var b strings.Builder
	fmt.Fprintln(&b, st.header(seeds, f))
	if f.swarm {
		fmt.Fprintln(&b, "swarm: every seed draws its fault profile from the seed (docs/simulation.md)")
	}
	_, _ = io.WriteString(w, b.String())
}

func (st *simTarget) header(seeds sim.Seeds, f *simFlags) string {
	a := st.workloadFlags(st.Params, false)
	if f.swarm {
		a = append(a, "--swarm")
	} else {
		a = append(a, faultArgs(st.Faults, st.Faults.Seed)...)
	}
	what := st.cmd + " " + strings.Join(a, " ")
	return fmt.Sprintf("sim: %s --seeds %s (%d seeds), %d ticks at most per run", what, seeds, seeds.Len(), st.MaxTicks)
}

func (st *simTarget) seedLine(r *sim.Result) string {
	s := fmt.Sprintf("seed %d: %s", r.Seed, r)
	if r.Err == nil {
		s += fmt.Sprintf(" ticks=%d msgs=%d trace=%016x", r.Ticks, r.Msgs, r.Trace)
		if r.Params.Faults.On() {
			s += " " + faultsLine(r.Faults)
		}
	}
	if st.Swarm {
		s += " profile: " + profileText(r.Params.Faults)
	}
	if m := r.Message(); m != "" && r.Outcome != engine.Budget {
		s += ": " + m
	}
	return s
}

func (st *simTarget) kindName(k trace.Kind) string {
	if n, ok := st.kinds[k]; ok {
		return n
	}
	return "kind " + strconv.Itoa(int(k))
}

func (st *simTarget) domainName(d uint32) string {
	if st.domain != nil {
		if n := st.domain(d); n != "" {
			return fmt.Sprintf("%d (%s)", d, n)
		}
	}
	return strconv.FormatUint(uint64(d), 10)
}

// faultLine is one fault decision of a shrunk run.
func (st *simTarget) faultLine(e *engine.FaultEvent) string {
	s := fmt.Sprintf("tick %d  %s → %s  %s a=%d b=%d  %s", e.Tick, st.domainName(e.Src), st.domainName(e.Dst), st.kindName(e.Kind), e.A, e.B, e.Fault)
	switch e.Fault {
	case engine.FaultDelayed:
		s += fmt.Sprintf(" to tick %d", e.At)
	case engine.FaultDuplicated:
		s += fmt.Sprintf(", copy at tick %d", e.At)
	}
	return s
}

// faultListMax bounds the fault lines printed per shrunk run (--json has all).
const faultListMax = 50

func (st *simTarget) printText(w io.Writer, seeds sim.Seeds, f *simFlags, rep *sim.Report, shrunk []*sim.Shrunk,
	journals map[uint64]string, elapsed, shrinkTime time.Duration) {
	var b strings.Builder
	list := func(kind string, rs []sim.Result, total uint64, each func(i int, r *sim.Result)) {
		for i := range rs {
			r := &rs[i]
			fmt.Fprintf(&b, "\nseed %d: %s: %s\n", r.Seed, kind, r.Message())
			if st.Swarm {
				fmt.Fprintf(&b, "  profile: %s\n", profileText(r.Params.Faults))
			}
			fmt.Fprintf(&b, "  %s\n", st.command(r.Params, budgetOf(r)))
			if r.Err == nil {
				fmt.Fprintf(&b, "  trace %016x, %d ticks, %d messages", r.Trace, r.Ticks, r.Msgs)
				if r.Params.Faults.On() {
					fmt.Fprintf(&b, ", faults: %s", faultsLine(r.Faults))
				}
				b.WriteByte('\n')
			}
			if each != nil {
				each(i, r)
			}
			if j, ok := journals[r.Seed]; ok {
				fmt.Fprintf(&b, "  journal: %s\n", j)
				if r.Params.Faults.On() {
					fmt.Fprintf(&b, "    lexbench log %s --faults\n", shellQuote(j))
				}
			}
		}
		if more := total - uint64(len(rs)); len(rs) > 0 && more > 0 {
			fmt.Fprintf(&b, "\n… and %d more %s seeds\n", more, kind)
		}
	}
	list("violated", rep.Violated, rep.Outcomes[engine.Violated], func(i int, r *sim.Result) {
		fmt.Fprintf(&b, "  goal: %s\n", r.Goal)
		s := shrunk[i]
		if s == nil {
			if !f.noShrink {
				fmt.Fprintln(&b, "  shrunk: (no smaller run fails the same goal)")
			}
			return
		}
		fmt.Fprintf(&b, "  shrunk: %s\n", st.command(s.Params, s.MaxTicks))
		fmt.Fprintf(&b, "    %d ticks, %d messages: %s\n", s.Result.Ticks, s.Result.Msgs, s.Result.Message())
		fmt.Fprintf(&b, "    faults (%d):\n", len(s.Faults))
		for k := range s.Faults[:min(len(s.Faults), faultListMax)] {
			fmt.Fprintf(&b, "      %s\n", st.faultLine(&s.Faults[k]))
		}
		if len(s.Faults) > faultListMax {
			fmt.Fprintf(&b, "      … and %d more (--json lists them all)\n", len(s.Faults)-faultListMax)
		}
	})
	if k := shortest(shrunk); k >= 0 {
		s := shrunk[k]
		fmt.Fprintf(&b, "\nshortest shrunk run: seed %d, %d ticks, %d messages, %d faults\n  %s\n",
			rep.Violated[k].Seed, s.Result.Ticks, s.Result.Msgs, len(s.Faults), st.command(s.Params, s.MaxTicks))
	}
	list("error", rep.Errored, rep.Errors, nil)
	list("budget", rep.Budget, rep.Outcomes[engine.Budget], nil)

	fmt.Fprintf(&b, "\n%-12s %s\n", "outcome", "seeds")
	for _, o := range []engine.Outcome{engine.Converged, engine.Violated, engine.Budget, engine.Oscillating, engine.Damped} {
		if c := rep.Outcomes[o]; c > 0 || o <= engine.Budget {
			fmt.Fprintf(&b, "%-12s %d\n", o, c)
		}
	}
	fmt.Fprintf(&b, "%-12s %d\n", "error", rep.Errors)
	fmt.Fprintf(&b, "%-12s %d\n", "total", rep.Seeds)
	fmt.Fprintf(&b, "# %.3f s, %.4g seeds/s, -j %d, %d shards per run", elapsed.Seconds(), float64(rep.Seeds)/elapsed.Seconds(), f.jobs.v, f.shards.v)
	if len(rep.Violated) > 0 && !f.noShrink {
		fmt.Fprintf(&b, "; shrinking %.3f s", shrinkTime.Seconds())
	}
	b.WriteByte('\n')
	// the seeds' speed in Go benchmark format (benchstat reads it; the
	// shrinking and the kept journals are not in it)
	name := st.Spec.Name
	fmt.Fprintf(&b, "BenchmarkSim/%s/n=%s/seeds=%d/j=%d \t 1 \t %d ns/op \t %.4g seeds/s\n",
		name, formatN(st.Params.N), rep.Seeds, f.jobs.v, elapsed.Nanoseconds(), float64(rep.Seeds)/elapsed.Seconds())
	_, _ = io.WriteString(w, b.String())
}

// shortest is the index of the shrunk run with the fewest ticks (then
// messages, then the first listed), or -1 if none was shrunk.
func shortest(shrunk []*sim.Shrunk) int {
	k := -1
	for i, s := range shrunk {
		if s == nil {
			continue
		}
		if k < 0 || s.Result.Ticks < shrunk[k].Result.Ticks ||
			s.Result.Ticks == shrunk[k].Result.Ticks && s.Result.Msgs < shrunk[k].Result.Msgs {
			k = i
		}
	}
	return k
}

// seedJSON is one seed in --json.
type seedJSON struct {
	Seed      uint64            `json:"seed"`
	Outcome   string            `json:"outcome"`
	Goal      string            `json:"goal,omitempty"`
	Message   string            `json:"message,omitempty"`
	Command   string            `json:"command"`
	Trace     string            `json:"trace,omitempty"`
	State     string            `json:"state,omitempty"`
	Ticks     uint64            `json:"ticks"`
	Msgs      uint64            `json:"msgs"`
	Faults    map[string]uint64 `json:"faults,omitempty"`
	Profile   map[string]uint64 `json:"profile,omitempty"`
	Shrunk    *shrunkJSON       `json:"shrunk,omitempty"`
	Journal   string            `json:"journal,omitempty"`
	Violation string            `json:"violation,omitempty"`
}

type shrunkJSON struct {
	Command  string      `json:"command"`
	N        uint64      `json:"n"`
	MaxTicks int64       `json:"max_ticks"`
	Msgs     uint64      `json:"msgs"`
	Trace    string      `json:"trace"`
	Message  string      `json:"message"`
	Runs     int         `json:"runs"`
	Faults   []faultJSON `json:"faults"`
}

type faultJSON struct {
	Tick  uint64 `json:"tick"`
	Src   uint32 `json:"src"`
	Dst   uint32 `json:"dst"`
	Kind  string `json:"kind"`
	A     uint64 `json:"a"`
	B     uint64 `json:"b"`
	Index uint64 `json:"index"`
	Fault string `json:"fault"`
	At    uint64 `json:"at,omitempty"`
}

func (st *simTarget) seedJSON(r *sim.Result) seedJSON {
	j := seedJSON{Seed: r.Seed, Outcome: r.String(), Goal: r.Goal, Command: st.command(r.Params, budgetOf(r))}
	if r.Failed() {
		j.Message = r.Message()
		if r.Violation != nil && strings.Contains(r.Violation.Error(), "\n") {
			j.Violation = r.Violation.Error()
		}
	}
	if r.Err == nil {
		j.Trace, j.State = fmt.Sprintf("%016x", r.Trace), fmt.Sprintf("%016x", r.State)
		j.Ticks, j.Msgs = r.Ticks, r.Msgs
		if r.Params.Faults.On() {
			j.Faults = map[string]uint64{"dropped": r.Faults.Dropped, "duplicated": r.Faults.Duplicated, "delayed": r.Faults.Delayed}
		}
	}
	if st.Swarm {
		f := r.Params.Faults
		j.Profile = map[string]uint64{"drop": uint64(f.Drop), "dup": uint64(f.Dup), "delay": uint64(f.Delay), "maxdelay": uint64(f.MaxDelay)}
	}
	return j
}

func (st *simTarget) printJSON(w io.Writer, seeds sim.Seeds, f *simFlags, rep *sim.Report, shrunk []*sim.Shrunk,
	journals map[uint64]string, seedLines []seedJSON, elapsed, shrinkTime time.Duration) {
	outcomes := map[string]uint64{"error": rep.Errors}
	for o, c := range rep.Outcomes {
		outcomes[o.String()] = c
	}
	for _, o := range []engine.Outcome{engine.Converged, engine.Violated, engine.Budget} {
		outcomes[o.String()] += 0
	}
	conv := func(rs []sim.Result, sh []*sim.Shrunk) []seedJSON {
		out := []seedJSON{}
		for i := range rs {
			j := st.seedJSON(&rs[i])
			j.Journal = journals[rs[i].Seed]
			if sh != nil && sh[i] != nil {
				s := sh[i]
				sj := &shrunkJSON{Command: st.command(s.Params, s.MaxTicks), N: s.Params.N, MaxTicks: s.MaxTicks, Msgs: s.Result.Msgs,
					Trace: fmt.Sprintf("%016x", s.Result.Trace), Message: s.Result.Message(), Runs: s.Runs, Faults: []faultJSON{}}
				for _, e := range s.Faults {
					sj.Faults = append(sj.Faults, faultJSON{Tick: e.Tick, Src: e.Src, Dst: e.Dst, Kind: st.kindName(e.Kind), A: e.A, B: e.B,
						Index: e.Index, Fault: e.Fault.String(), At: e.At})
				}
				j.Shrunk = sj
			}
			out = append(out, j)
		}
		return out
	}
	m := map[string]any{
		"workload": st.Spec.Name, "command": st.cmd, "n": st.Params.N, "seeds": seeds.String(), "count": rep.Seeds,
		"swarm": st.Swarm, "max_ticks": st.MaxTicks, "jobs": f.jobs.v, "shards": f.shards.v,
		"outcomes": outcomes, "violated": conv(rep.Violated, shrunk), "budget": conv(rep.Budget, nil), "errors": conv(rep.Errored, nil),
		"ns": elapsed.Nanoseconds(), "seeds_per_s": float64(rep.Seeds) / elapsed.Seconds(), "shrink_ns": shrinkTime.Nanoseconds(),
	}
	if !st.Swarm && st.Faults.On() {
		m["faults"] = map[string]uint64{"drop": uint64(st.Faults.Drop), "dup": uint64(st.Faults.Dup), "delay": uint64(st.Faults.Delay), "maxdelay": uint64(st.Faults.MaxDelay)}
	}
	if k := shortest(shrunk); k >= 0 {
		m["shortest"] = rep.Violated[k].Seed
	}
	if seedLines != nil {
		m["runs"] = seedLines
	}
	b, _ := json.Marshal(m)
	fmt.Fprintf(w, "%s\n", b)
}

// startSimProgress shows seeds done on stderr, only when it is a
// terminal; the returned func stops it and clears the line.
func startSimProgress(stderr io.Writer, p *sim.Progress, total uint64) func() {
	if !isTerminal(stderr) {
		return func() {}
	}
	stop := make(chan struct{})
	finished := make(chan struct{})
	start := time.Now()
	go func() {
		defer close(finished)
		tk := time.NewTicker(250 * time.Millisecond)
		defer tk.Stop()
		printed := false
		for {
			select {
			case <-stop:
				if printed {
					fmt.Fprint(stderr, "\r\033[K")
				}
				return
			case <-tk.C:
				done := p.Done.Load()
				el := time.Since(start).Seconds()
				line := fmt.Sprintf("seeds %d/%d (%.1f%%)  violated %d  budget %d  error %d  %.4g seeds/s",
					done, total, 100*float64(done)/float64(total), p.Violated.Load(), p.Budget.Load(), p.Errors.Load(), float64(done)/el)
				if done > 0 {
					line += fmt.Sprintf("  ETA %s", time.Duration(el*float64(total-done)/float64(done)*float64(time.Second)).Round(time.Second))
				}
				fmt.Fprintf(stderr, "\r\033[K%s", line)
				printed = true
			}
		}
	}()
	return func() {
		close(stop)
		<-finished
	}
}
