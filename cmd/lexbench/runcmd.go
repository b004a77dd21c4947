package main

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"math"
	"os"
	"path/filepath"
	"runtime"
	"strconv"
	"strings"
	"time"

	"github.com/pkg/profile"
	"github.com/spf13/pflag"

	"github.com/lexbench/lexbench/engine"
	"github.com/lexbench/lexbench/journal/mmap"
	"github.com/lexbench/lexbench/lang"
	"github.com/lexbench/lexbench/recovery"
	"github.com/lexbench/lexbench/runfile"
	"github.com/lexbench/lexbench/snapshot"
	"github.com/lexbench/lexbench/workloads"
)

// runFlags are the flags of `lexbench <workload>` (SPEC §6).
type runFlags struct {
	n, seed, batch      number
	keys                []number // the workload's keys, in Spec.Keys order
	shards              number
	maxTicks, maxMsgs   number
	snapshotEvery       number
	count               number
	journal             string
	force               bool
	sync                string
	onOscillation       string
	detect              string
	profile, profileDir string
	json                bool
	noDetect            bool
	faults              faultFlags
}

// stateWordsMax bounds the arena a run may ask for (8 GiB).
const stateWordsMax = 1 << 30

const shardsUsage = "parallel shards, 1..1024 (default: the count predicted fastest for this machine and workload, printed as a # comment); never changes a result"

func keyRange(k workloads.Key) string {
	if k.Max == ^uint64(0) {
		return fmt.Sprintf("%d..2^64-1", k.Min)
	}
	return fmt.Sprintf("%d..%d", k.Min, k.Max)
}

func newRunFlagSet(spec *workloads.Spec, f *runFlags) *pflag.FlagSet {
	fs := pflag.NewFlagSet(spec.Name, pflag.ContinueOnError)
	fs.SetOutput(io.Discard)
	fs.SortFlags = false
	d := spec.Defaults()
	f.n.v, f.seed.v, f.batch.v = d.N, d.Seed, d.Batch
	f.count.v = 1
	fs.VarP(&f.n, "n", "n", "operations the generator injects, 0..2^64-1 (1e8, 100M, 100_000_000)")
	fs.Var(&f.seed, "seed", "PRNG seed, any uint64")
	fs.Var(&f.batch, "batch", "operations a driver emits per tick, 1..2^64-1")
	f.keys = make([]number, len(spec.Keys))
	for i, k := range spec.Keys {
		f.keys[i].v = k.Default
		fs.Var(&f.keys[i], k.Name, k.Usage+", "+keyRange(k))
	}
	fs.Var(&f.shards, "shards", shardsUsage)
	fs.StringVar(&f.journal, "journal", "", "write the canonical journal to `PATH` (and the run file PATH.run beside it)")
	fs.BoolVar(&f.force, "force", false, "replace an existing journal at --journal PATH (without it, an existing journal is an error)")
	fs.Var(&f.snapshotEvery, "snapshot-every", "write a snapshot every `TICKS` ticks, 1..2^32, into PATH.snapshots (needs --journal)")
	fs.StringVar(&f.sync, "sync", "end", "durability: none | snapshot (journal and snapshot fsynced at each snapshot) | end (fsync before exit)")
	fs.Var(&f.maxTicks, "max-ticks", "end the run before tick `T` is delivered, 0..2^32")
	fs.Var(&f.maxMsgs, "max-msgs", "end the run at the first boundary with ≥ `M` messages delivered, 0..2^62")
	fs.StringVar(&f.onOscillation, "on-oscillation", "halt", "halt | damp")
	fs.StringVar(&f.detect, "detect", "global", "oscillation detection: global (the whole configuration repeats) | local (a cell's does; docs/detection.md)")
	addFaultFlags(fs, &f.faults)
	fs.Var(&f.count, "count", "repeat the run `K` times, 1..2^64-1")
	fs.StringVar(&f.profile, "profile", "", "cpu | mem | allocs | block | mutex | trace")
	fs.StringVar(&f.profileDir, "profile-dir", ".", "directory for profiles (created if missing)")
	fs.BoolVar(&f.json, "json", false, "print one JSON object per run instead of benchmark format")
	fs.BoolVar(&f.noDetect, "no-oscillation-detect", false, "disable oscillation detection (to measure its cost)")
	_ = fs.MarkHidden("no-oscillation-detect")
	return fs
}

// checkRunFlags checks the flags a run shares with resume and replay; the
// error names the flag. It reports whether --on-oscillation is damp.
func checkRunFlags(shards, maxTicks, maxMsgs number, onOscillation string) (damp bool, err error) {
	switch {
	case shards.set && (shards.v < 1 || shards.v > 1024):
		return false, fmt.Errorf("invalid value %d for --shards: must be 1..1024", shards.v)
	case maxTicks.v > engine.MaxTick+1:
		return false, fmt.Errorf("invalid value %d for --max-ticks: at most %d (ticks are u32 in the journal)", maxTicks.v, uint64(engine.MaxTick)+1)
	case maxMsgs.v > 1<<62:
		return false, errors.New("--max-msgs must be below 2^62")
	}
	switch onOscillation {
	case "halt":
		return false, nil
	case "damp":
		return true, nil
	}
	return false, fmt.Errorf("invalid value %q for --on-oscillation: want halt or damp", onOscillation)
}

// parseDetect parses --detect.
func parseDetect(v string) (engine.Detection, error) {
	switch v {
	case "global":
		return engine.DetectGlobal, nil
	case "local":
		return engine.DetectLocal, nil
	}
	return 0, fmt.Errorf("invalid value %q for --detect: want global or local", v)
}

// keyFlags names the workload's key flags for a message: "--banks and
// --accounts", "the parameters" when it has none.
func keyFlags(spec *workloads.Spec) string {
	var names []string
	for _, k := range spec.Keys {
		names = append(names, "--"+k.Name)
	}
	switch len(names) {
	case 0:
		return "the parameters"
	case 1:
		return names[0]
	}
	return strings.Join(names[:len(names)-1], ", ") + " and " + names[len(names)-1]
}

func flagUsage(spec *workloads.Spec, prog *runfile.Program) string {
	var f runFlags
	fs := newRunFlagSet(spec, &f)
	cmd := spec.Name
	what := fmt.Sprintf("the %s workload (docs/workloads.md)", spec.Name)
	if prog != nil {
		cmd = "run " + prog.Path
		what = fmt.Sprintf("the program %s (workload %s); its keys are flags", prog.Path, spec.Name)
	}
	return fmt.Sprintf("usage: lexbench %s [flags]\n  run %s; stdout: benchmark format (docs/cli.md)\n%s%s", cmd, what, flagUsages(fs), exitCodesHelp)
}

// predictShards is the default --shards: engine.PredictShards with a
// probe of about 1/64 of the run (at most 2^18 messages).
func predictShards(spec *workloads.Spec, p workloads.Params, params string) engine.Prediction {
	pred, err := engine.PredictShards(func() engine.Workload { return spec.New(p) }, params, runtime.NumCPU(), min(p.N/64, 1<<18))
	if err != nil { // the run itself will report it
		return engine.Prediction{Shards: 1, Why: "the probe failed"}
	}
	return pred
}

// cmdRun is `lexbench <workload>` and, with prog, `lexbench run FILE.lxm`.
func cmdRun(spec *workloads.Spec, prog *runfile.Program, args []string, stdout, stderr io.Writer) (int, error) {
	var f runFlags
	fs := newRunFlagSet(spec, &f)
	bad := func(format string, a ...any) (int, error) {
		return exitBadInput, &usageError{msg: fmt.Sprintf(format, a...), usage: flagUsage(spec, prog)}
	}
	if err := parseFlags(fs, args); err != nil {
		if err == pflag.ErrHelp {
			fmt.Fprint(stdout, flagUsage(spec, prog))
			return exitOK, nil
		}
		return bad("%s", err)
	}
	if fs.NArg() > 0 {
		return bad("unexpected argument %q", fs.Arg(0))
	}
	p := workloads.Params{N: f.n.v, Seed: f.seed.v, Batch: f.batch.v, K: make([]uint64, len(f.keys))}
	for i, k := range f.keys {
		p.K[i] = k.v
	}
	if err := spec.Validate(p); err != nil {
		return bad("%s", err)
	}
	fp, err := f.faults.params(p.Seed)
	if err != nil {
		return bad("%s", err)
	}
	p.Faults = fp
	inFlight, err := maxInFlight(f.faults.maxInFlight)
	if err != nil {
		return bad("%s", err)
	}
	damp, err := checkRunFlags(f.shards, f.maxTicks, f.maxMsgs, f.onOscillation)
	if err != nil {
		return bad("%s", err)
	}
	detect, err := parseDetect(f.detect)
	if err != nil {
		return bad("%s", err)
	}
	if f.count.v < 1 {
		return bad("invalid value %d for --count: must be at least 1", f.count.v)
	}
	syncMode, err := mmap.ParseSync(f.sync)
	if err != nil {
		return bad("invalid value %q for --sync: want none, snapshot or end", f.sync)
	}
	if f.sync != "end" && f.journal == "" {
		return bad("--sync needs --journal")
	}
	if f.force && f.journal == "" {
		return bad("--force needs --journal (it lets a run replace an existing journal)")
	}
	if f.snapshotEvery.set && (f.snapshotEvery.v < 1 || f.snapshotEvery.v > 1<<32) {
		return bad("invalid value %d for --snapshot-every: must be 1..2^32 ticks", f.snapshotEvery.v)
	}
	if f.snapshotEvery.set && f.journal == "" {
		return bad("--snapshot-every needs --journal (a snapshot continues a journal)")
	}
	if syncMode == mmap.SyncSnapshot && !f.snapshotEvery.set {
		return bad("--sync snapshot needs --snapshot-every")
	}
	var prof func(*profile.Profile)
	switch f.profile {
	case "":
	case "cpu":
		prof = profile.CPUProfile
	case "mem":
		prof = profile.MemProfile
	case "allocs":
		prof = profile.MemProfileAllocs
	case "block":
		prof = profile.BlockProfile
	case "mutex":
		prof = profile.MutexProfile
	case "trace":
		prof = profile.TraceProfile
	default:
		return bad("invalid value %q for --profile: want cpu|mem|allocs|block|mutex|trace", f.profile)
	}
	if f.profile != "" {
		if st, err := os.Stat(f.profileDir); err == nil && !st.IsDir() {
			return bad("invalid value %q for --profile-dir: not a directory", f.profileDir)
		}
	}
	w := spec.New(p)
	if w.StateWords() > stateWordsMax || uint64(w.Domains()) > 1<<31 {
		return bad("%s ask for too much state (%d words; at most %d)", keyFlags(spec), w.StateWords(), stateWordsMax)
	}
	params := spec.Text(p)
	out := &output{w: stdout, spec: spec, params: params, n: p.N, json: f.json, damp: damp && !p.Faults.On(),
		local: detect == engine.DetectLocal && !p.Faults.On(), faults: p.Faults.On(), prog: prog}
	out.shards = int(f.shards.v)
	if !f.shards.set {
		pred := predictShards(spec, p, params)
		out.shards, out.predicted = pred.Shards, pred.Why
	}
	cfg := engine.Config{
		Params:      params,
		Shards:      out.shards,
		MaxTicks:    -1,
		MaxMsgs:     -1,
		Damp:        damp,
		NoDetect:    f.noDetect,
		Detect:      detect,
		Faults:      p.Faults,
		MaxInFlight: inFlight,
	}
	if f.maxTicks.set {
		cfg.MaxTicks = int64(f.maxTicks.v)
	}
	if f.maxMsgs.set {
		cfg.MaxMsgs = int64(f.maxMsgs.v)
	}
	opts := snapshot.Options{MaxTicks: cfg.MaxTicks, MaxMsgs: cfg.MaxMsgs, Damp: damp, NoDetect: f.noDetect,
		Local: detect == engine.DetectLocal, SnapshotEvery: f.snapshotEvery.v, Sync: syncMode}
	if f.faults.maxInFlight.set { // else resume uses its machine's default too
		opts.MaxInFlight = inFlight
	}
	// Everything above only read; from here on files are written, each
	// step only once every check before it passed.
	if f.profile != "" {
		madeDir := false
		if _, err := os.Stat(f.profileDir); err != nil {
			if err := os.MkdirAll(f.profileDir, 0o755); err != nil {
				return exitBadInput, fmt.Errorf("--profile-dir: %w", err)
			}
			madeDir = true
		}
		stop := profile.Start(prof, profile.ProfilePath(f.profileDir), profile.NoShutdownHook, profile.Quiet)
		defer func() {
			stop.Stop()
			for _, name := range profileFiles[f.profile] {
				fmt.Fprintf(stderr, "lexbench: %s profile: %s\n", f.profile, filepath.Join(f.profileDir, name))
			}
		}()
		if madeDir {
			fmt.Fprintf(stderr, "lexbench: created --profile-dir %s\n", f.profileDir)
		}
	}
	stop := onInterrupt()
	defer stop.release()
	cfg.Stop = &stop.flag
	var first engine.Result
	code := exitOK
	for i := uint64(0); i < f.count.v; i++ {
		var j *recovery.Journaled
		if f.journal != "" {
			// the first run needs --force to replace a journal; the
			// later ones of --count replace the first's
			j, err = recovery.Begin(recovery.Setup{Journal: f.journal, Params: params, Opts: opts, Program: prog, Force: f.force || i > 0})
			if err != nil {
				return exitBadInput, setupError(f.journal, err)
			}
			cfg.Journal = j.Writer
			if j.Snaps != nil {
				cfg.SnapshotEvery, cfg.Snapshot = opts.SnapshotEvery, j.Snaps.Snapshot
			}
			out.snaps = j.Snaps
		}
		w := spec.New(p) // a fresh workload per run
		pg := newProgress(stderr, w, p.N)
		cells := newCellReport(stderr, w, pg, i == 0, f.json)
		cfg.OnCell = cells.add
		if pg != nil { // a call per tick only when there is a progress line
			cfg.Progress = cells.progress
		}
		out.cells = cells
		var ms0, ms1 runtime.MemStats
		runtime.GC()
		runtime.ReadMemStats(&ms0)
		start := time.Now()
		res, err := engine.Run(w, cfg)
		runtime.ReadMemStats(&ms1)
		if j != nil { // the journal's sync is part of the run's cost
			if cerr := j.Close(res, err); err == nil && cerr != nil {
				err = fmt.Errorf("--journal: %w", cerr)
			}
		}
		elapsed := time.Since(start)
		pg.done()
		cells.flush()
		if err != nil {
			return exitBadInput, inFlightHint(err)
		}
		if res.Outcome == engine.Stopped {
			return stop.report(stderr, res, f.journal, out.snaps != nil && out.snaps.Count > 0), nil
		}
		if i == 0 {
			first = res
		} else if res.Trace != first.Trace || res.State != first.State {
			return exitBadInput, fmt.Errorf("run %d of --count differs from run 1: trace %016x state %016x, want %016x %016x (nondeterminism: report this)",
				i+1, res.Trace, res.State, first.Trace, first.State)
		}
		allocs := ms1.Mallocs - ms0.Mallocs
		out.result(i == 0, w, res, elapsed, allocs)
		if sup := suppressedOf(w); i == 0 && !f.json {
			printSuppressed(stderr, sup)
		}
		code = exitCode(spec, res)
		printViolation(stderr, res)
	}
	return code, nil
}

// printViolation writes the stderr line of a run that ended violated: the
// invariant's own words ("invariant X: tick …") or "goal violated: …".
// run and resume print it alike.
func printViolation(stderr io.Writer, res engine.Result) {
	if res.Outcome != engine.Violated {
		return
	}
	if lang.IsViolation(res.Violation) {
		fmt.Fprintf(stderr, "lexbench: %v\n", res.Violation)
	} else {
		fmt.Fprintf(stderr, "lexbench: goal violated: %v\n", res.Violation)
	}
}

// profileFiles are the files pkg/profile writes for each --profile.
var profileFiles = map[string][]string{
	"cpu": {"cpu.pprof"}, "mem": {"mem.pprof"}, "allocs": {"mem.pprof"},
	"block": {"block.pprof"}, "mutex": {"mutex.pprof"}, "trace": {"trace.out"},
}

// setupError words a failure of recovery.Begin: the flag it concerns, and
// for an existing journal what to do about it.
func setupError(journal string, err error) error {
	var ee *mmap.ExistsError
	if errors.As(err, &ee) {
		state := "a closed journal"
		unclosed := ee.Unclosed
		if rf, rerr := runfile.Read(runfile.Path(journal)); rerr == nil && rf.State != runfile.Ended {
			unclosed = true
		}
		if unclosed {
			return fmt.Errorf("--journal: %s exists (%d bytes) and was not closed: `lexbench resume %s` would continue it; --force replaces it", journal, ee.Size, journal)
		}
		return fmt.Errorf("--journal: %s exists (%d bytes, %s): --force replaces it", journal, ee.Size, state)
	}
	if errors.Is(err, mmap.ErrLocked) {
		return fmt.Errorf("--journal: %s is being written by another lexbench process (it holds the journal's lock)", journal)
	}
	return err
}

func exitCode(spec *workloads.Spec, res engine.Result) int {
	switch res.Outcome {
	case engine.Violated:
		return exitViolated
	case engine.Budget:
		return exitBudget
	case engine.Oscillating, engine.Damped:
		if spec.Name == workloads.OscillationSpec.Name {
			return exitOK
		}
		return exitOscillating
	}
	return exitOK
}

// output prints runs in Go benchmark format (SPEC §6) or as JSON.
type output struct {
	w         io.Writer
	spec      *workloads.Spec
	prog      *runfile.Program // the program of an interpreted run
	params    string
	shards    int
	predicted string // why this shard count, if it was not given
	n         uint64
	json      bool
	damp      bool // --on-oscillation=damp: `dropped:` is a figure (SPEC §5.5); false with faults on (damp has no effect)
	local     bool // --detect local: the oscillation line counts cells (SPEC §5.7); false with faults on
	faults    bool // faults on: the `faults:` line (SPEC §7)
	snaps     *recovery.Snapshotter
	cells     *cellReport // the run's cell events (--json lists them)
	// before is what a resumed run had delivered before it continued:
	// rates count only the messages it delivered itself.
	before uint64
	// lines are further configuration lines after shards: (a partition's:
	// partitions, partition, domains); name is appended to the Benchmark
	// line's name (/P=3/k=0). Both empty for a single-process run.
	lines []string
	name  string
	// extra are fields a command adds to --json's object (replay's
	// verdict, resume's details)
	extra map[string]any
}

func (o *output) impl() string {
	if o.prog != nil {
		return "interpreted"
	}
	return "native"
}

func (o *output) figures(w workloads.Workload, res engine.Result) []workloads.Figure {
	figs := w.Figures()
	// Under local detection `dropped:` goes with the oscillation line
	// (SPEC §5.7); under global, the oscillation workload prints it under
	// damp whether or not it oscillated (§5.5).
	if o.damp && (res.Oscillation != nil || !o.local && o.spec.Name == workloads.OscillationSpec.Name) {
		figs = append(figs, workloads.Figure{Name: "dropped", Value: res.Dropped})
	}
	return figs
}

// newOutput is the output of a run of spec with params p and run controls
// opts (the `dropped:`, `cells=` and `faults:` lines depend on them), for
// the replicated and partitioned commands.
func newOutput(w io.Writer, spec *workloads.Spec, p workloads.Params, opts snapshot.Options, shards int, asJSON bool) *output {
	return &output{w: w, spec: spec, params: spec.Text(p), shards: shards, n: p.N, json: asJSON,
		damp: opts.Damp && !p.Faults.On(), local: opts.Local && !p.Faults.On(), faults: p.Faults.On()}
}

// preamble writes the build comment and the machine's configuration lines
// that start a benchmark-format output.
func preamble(b *bytes.Buffer) {
	fmt.Fprintln(b, buildComment())
	fmt.Fprintf(b, "goos: %s\ngoarch: %s\ncpu: %s\n", runtime.GOOS, runtime.GOARCH, cpuModel())
}

// buildComment is the `# ` line naming the build: module version, commit
// (with +dirty for uncommitted changes) and Go version, from the binary's
// build information (go build and go install record the commit; go run
// does not).
func buildComment() string {
	b, ok := buildFacts()
	if !ok {
		return "# lexbench (no build information)"
	}
	rev := b.rev + b.dirty
	if b.rev == "" {
		rev = "(no commit recorded: built by go run, outside a git clone, or with -buildvcs=false in GOFLAGS; use go build -buildvcs=true)"
	}
	return fmt.Sprintf("# lexbench %s %s %s", b.version, rev, b.goVersion)
}

func (o *output) result(first bool, w workloads.Workload, res engine.Result, elapsed time.Duration, allocs uint64) {
	ns := elapsed.Nanoseconds()
	msgs := max(res.Msgs-o.before, 1)
	rate := float64(res.Msgs-o.before) / elapsed.Seconds()
	nsPerMsg := float64(ns) / float64(msgs)
	allocsPerMsg := float64(allocs) / float64(msgs)
	name := fmt.Sprintf("Benchmark%s/n=%s/shards=%d%s", strings.ToUpper(o.spec.Name[:1])+o.spec.Name[1:], formatN(o.n), o.shards, o.name)
	if o.json {
		m := map[string]any{
			"workload": o.spec.Name, "params": o.params, "shards": o.shards, "impl": o.impl(),
			"trace": fmt.Sprintf("%016x", res.Trace), "state": fmt.Sprintf("%016x", res.State),
			"outcome": res.Outcome.String(), "ticks": res.Ticks, "msgs": res.Msgs,
			"ns": ns, "msgs_per_s": rate, "ns_per_msg": nsPerMsg, "allocs_per_msg": allocsPerMsg,
			"blocks": res.Blocks,
		}
		if o.predicted != "" {
			m["shards_chosen"] = o.predicted
		}
		if o.prog != nil {
			m["program"] = fmt.Sprintf("%s xxh64=%016x", o.prog.Path, o.prog.Hash())
		}
		if o.snaps != nil {
			m["snapshots"], m["snapshot_bytes"], m["snapshot_ns"] = o.snaps.Count, o.snaps.Bytes, o.snaps.Time.Nanoseconds()
		}
		for _, f := range o.figures(w, res) {
			m[f.Name] = f.Value
		}
		if osc := res.Oscillation; osc != nil {
			om := map[string]uint64{"tick": osc.Tick, "period": osc.Period, "domains": osc.Domains}
			if o.local {
				om["cells"] = osc.Cells
			}
			m["oscillation"] = om
		}
		if o.local && o.cells != nil {
			events := o.cells.events
			if events == nil {
				events = []cellEvent{} // an empty list is [], as every list of --json
			}
			m["cell_events"] = events
		}
		if o.faults {
			m["faults"] = map[string]uint64{"dropped": res.Faults.Dropped, "duplicated": res.Faults.Duplicated, "delayed": res.Faults.Delayed}
		}
		if res.Violation != nil {
			m["violation"] = res.Violation.Error()
		}
		if _, goals := w.(interface{ Suppressed() []lang.SuppressedGoal }); goals {
			m["suppressed_goals"] = suppressedJSON(suppressedOf(w))
		}
		for k, v := range o.extra {
			m[k] = v
		}
		b, _ := json.Marshal(m)
		fmt.Fprintf(o.w, "%s\n", b)
		return
	}
	var b bytes.Buffer
	if first {
		o.config(&b, w, res)
	}
	// allocs/msg at a resolution of 0.001, as `go test` truncates allocs/op:
	// a run's fixed setup (tens of allocations) is not a per-message cost.
	fmt.Fprintf(&b, "%s \t 1 \t %d ns/op \t %.4g msgs/s \t %.3g ns/msg \t %s allocs/msg", name, ns, rate, nsPerMsg,
		strconv.FormatFloat(math.Floor(allocsPerMsg*1000)/1000, 'g', 3, 64))
	if o.snaps != nil {
		// snapshot cost: how many, the size of the last, the time spent writing them
		fmt.Fprintf(&b, " \t %d snapshots \t %d snapshot-B \t %d snapshot-ns", o.snaps.Count, o.snaps.Bytes, o.snaps.Time.Nanoseconds())
	}
	b.WriteByte('\n')
	_, _ = o.w.Write(b.Bytes())
}

// config prints the configuration lines of a run. Every key any run
// prints is printed, blank when it does not apply to this one: benchstat
// (golang.org/x/perf/benchfmt) carries a key forward until it is set
// again, so a file holding runs of several workloads would otherwise give
// one run another's figures. Facts about the build (commit, Go version)
// and how the shard count was chosen are `# ` comments: as configuration
// they would keep runs of the same work apart.
func (o *output) config(b *bytes.Buffer, w workloads.Workload, res engine.Result) {
	fmt.Fprintln(b, buildComment())
	if o.predicted != "" {
		fmt.Fprintf(b, "# shards: %d chosen by default: %s (--shards sets it)\n", o.shards, o.predicted)
	}
	if o.prog != nil {
		fmt.Fprintf(b, "# program: %s xxh64=%016x\n", o.prog.Path, o.prog.Hash())
	}
	fmt.Fprintf(b, "goos: %s\ngoarch: %s\ncpu: %s\n", runtime.GOOS, runtime.GOARCH, cpuModel())
	fmt.Fprintf(b, "workload: %s\nparams: %s\nshards: %d\n", o.spec.Name, o.params, o.shards)
	for _, l := range o.lines {
		fmt.Fprintf(b, "%s\n", l)
	}
	fmt.Fprintf(b, "impl: %s\nUnit msgs/s better=higher\n", o.impl())
	o.resultLines(b, w, res)
}

// resultLines writes a run's result as configuration lines (SPEC §6):
// trace, state, outcome, violation, ticks, msgs, the figures, the
// oscillation and the faults, every key printed (blank when it does not
// apply; see config).
func (o *output) resultLines(b *bytes.Buffer, w workloads.Workload, res engine.Result) {
	fmt.Fprintf(b, "trace: %016x\nstate: %016x\noutcome: %s\n", res.Trace, res.State, res.Outcome)
	violation := ""
	if res.Violation != nil {
		violation = firstLine(res.Violation.Error())
	}
	kv(b, "violation", violation)
	fmt.Fprintf(b, "ticks: %d\nmsgs: %d\n", res.Ticks, res.Msgs)
	figs := o.figures(w, res)
	value := func(name string) string {
		for _, f := range figs {
			if f.Name == name {
				return strconv.FormatUint(f.Value, 10)
			}
		}
		return ""
	}
	for _, k := range fixedFigures {
		kv(b, k, value(k))
	}
	for _, f := range figs { // a program's own figures
		if !isFigureKey(f.Name) {
			fmt.Fprintf(b, "%s: %d\n", f.Name, f.Value)
		}
	}
	osc := ""
	if o := res.Oscillation; o != nil {
		osc = fmt.Sprintf("tick=%d period=%d domains=%d", o.Tick, o.Period, o.Domains)
	}
	if osc != "" && o.local {
		osc += fmt.Sprintf(" cells=%d", res.Oscillation.Cells) // SPEC §5.7: part of the line, not a key
	}
	kv(b, "oscillation", osc)
	faults := ""
	if o.faults {
		faults = faultsLine(res.Faults)
	}
	kv(b, "faults", faults)
}

// kv prints a configuration line; a blank value is `key:` alone, which
// clears the key in benchfmt.
func kv(b *bytes.Buffer, key, value string) {
	if value == "" {
		fmt.Fprintf(b, "%s:\n", key)
		return
	}
	fmt.Fprintf(b, "%s: %s\n", key, value)
}

// fixedFigures are the figures printed for every run, blank when the run
// has none of that name: the native workloads' (SPEC §5), `dropped`
// (under damping) and `suppressed` (a program with domain goals).
var fixedFigures = append(append([]string{}, workloads.FigureKeys...), "dropped", "suppressed")

func isFigureKey(name string) bool {
	for _, k := range fixedFigures {
		if k == name {
			return true
		}
	}
	return false
}

// cpuModel is the processor's model name, as `go test -bench` prints it.
func cpuModel() string {
	b, err := os.ReadFile("/proc/cpuinfo")
	if err == nil {
		for _, line := range strings.Split(string(b), "\n") {
			if k, v, ok := strings.Cut(line, ":"); ok && strings.TrimSpace(k) == "model name" {
				return strings.TrimSpace(v)
			}
		}
	}
	return "unknown"
}
