package main

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"math"
	"os"
	"runtime"
	"runtime/debug"
	"strconv"
	"strings"
	"time"

	"github.com/pkg/profile"
	"github.com/spf13/pflag"

	"github.com/lexbench/lexbench/engine"
	"github.com/lexbench/lexbench/journal/mmap"
	"github.com/lexbench/lexbench/recovery"
	"github.com/lexbench/lexbench/snapshot"
	"github.com/lexbench/lexbench/workloads"
)

// runFlags are the flags of `lexbench <workload>` (SPEC §6).
type runFlags struct {
	paramFlags
	shards              number
	maxTicks, maxMsgs   number
	snapshotEvery       number
	count               number
	journal             string
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

func newRunFlagSet(spec *workloads.Spec, f *runFlags) *pflag.FlagSet {
	fs := pflag.NewFlagSet(spec.Name, pflag.ContinueOnError)
	fs.SetOutput(io.Discard)
	fs.SortFlags = false
	f.shards.v = uint64(runtime.NumCPU())
	f.count.v = 1
	addParamFlags(fs, spec, &f.paramFlags)
	fs.Var(&f.shards, "shards", "parallel shards (≥ 1; default: CPUs)")
	fs.StringVar(&f.journal, "journal", "", "write the canonical journal to `PATH`")
	fs.Var(&f.snapshotEvery, "snapshot-every", "write a snapshot every `TICKS` ticks beside the journal (needs --journal)")
	fs.StringVar(&f.sync, "sync", "end", "durability: none | snapshot (journal and snapshot fsynced at each snapshot) | end (fsync before exit)")
	fs.Var(&f.maxTicks, "max-ticks", "end the run before tick T is delivered")
	fs.Var(&f.maxMsgs, "max-msgs", "end the run at the first boundary with ≥ M messages delivered")
	fs.StringVar(&f.onOscillation, "on-oscillation", "halt", "halt | damp")
	fs.StringVar(&f.detect, "detect", "global", "oscillation detection: global (the whole configuration repeats) | local (a cell's does; docs/detection.md)")
	addFaultFlags(fs, &f.faults)
	fs.Var(&f.count, "count", "repeat the run K times")
	fs.StringVar(&f.profile, "profile", "", "cpu|mem|allocs|block|mutex|trace")
	fs.StringVar(&f.profileDir, "profile-dir", ".", "directory for profiles")
	fs.BoolVar(&f.json, "json", false, "print one JSON object per run instead of benchmark format")
	fs.BoolVar(&f.noDetect, "no-oscillation-detect", false, "disable oscillation detection (to measure its cost)")
	_ = fs.MarkHidden("no-oscillation-detect")
	return fs
}

// checkRunFlags checks the flags a run shares with resume and replay; the
// error names the flag. It reports whether --on-oscillation is damp.
func checkRunFlags(shards, maxTicks, maxMsgs number, onOscillation string) (damp bool, err error) {
	switch {
	case shards.v < 1 || shards.v > 1024:
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

func flagUsage(spec *workloads.Spec) string {
	var f runFlags
	fs := newRunFlagSet(spec, &f)
	return fmt.Sprintf("usage: lexbench %s [flags]\n%s", spec.Name, fs.FlagUsages())
}

func cmdRun(spec *workloads.Spec, args []string, stdout, stderr io.Writer) (int, error) {
	var f runFlags
	fs := newRunFlagSet(spec, &f)
	bad := func(format string, a ...any) (int, error) {
		return exitBadInput, &usageError{msg: fmt.Sprintf(format, a...), usage: flagUsage(spec)}
	}
	if err := fs.Parse(args); err != nil {
		if err == pflag.ErrHelp {
			fmt.Fprint(stdout, flagUsage(spec))
			return exitOK, nil
		}
		return bad("%s", err)
	}
	if fs.NArg() > 0 {
		return bad("unexpected argument %q", fs.Arg(0))
	}
	p := workloads.Params{N: f.n.v, Seed: f.seed.v, Batch: f.batch.v, K: [2]uint64{f.keys[0].v, f.keys[1].v}}
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
	w := spec.New(p)
	if w.StateWords() > stateWordsMax || uint64(w.Domains()) > 1<<31 {
		return bad("--%s and --%s ask for too much state (%d words; at most %d)", spec.Keys[0].Name, spec.Keys[1].Name, w.StateWords(), stateWordsMax)
	}
	params := spec.Text(p)
	cfg := engine.Config{
		Params:      params,
		Shards:      int(f.shards.v),
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
	if f.profile != "" {
		if st, err := os.Stat(f.profileDir); err != nil || !st.IsDir() {
			return bad("invalid value %q for --profile-dir: not a directory", f.profileDir)
		}
		defer profile.Start(prof, profile.ProfilePath(f.profileDir), profile.NoShutdownHook, profile.Quiet).Stop()
		fmt.Fprintf(stderr, "lexbench: writing %s profile to %s\n", f.profile, f.profileDir)
	}

	opts := snapshot.Options{MaxTicks: cfg.MaxTicks, MaxMsgs: cfg.MaxMsgs, Damp: damp, NoDetect: f.noDetect,
		Local: detect == engine.DetectLocal, SnapshotEvery: f.snapshotEvery.v, Sync: syncMode}
	out := newOutput(stdout, spec, p, opts, int(f.shards.v), f.json)
	var first engine.Result
	code := exitOK
	for i := uint64(0); i < f.count.v; i++ {
		var jw *mmap.Writer
		if f.journal != "" {
			jw, err = mmap.Create(f.journal, params, mmap.Options{Sync: syncMode})
			if err != nil {
				return exitBadInput, fmt.Errorf("--journal: %w", err)
			}
			cfg.Journal = jw
		}
		var snaps *recovery.Snapshotter
		if f.snapshotEvery.set {
			snaps, err = recovery.NewSnapshotter(f.journal, jw, params, opts, true)
			if err != nil {
				_ = jw.Abort()
				return exitBadInput, fmt.Errorf("--snapshot-every: %w", err)
			}
			cfg.SnapshotEvery, cfg.Snapshot = opts.SnapshotEvery, snaps.Snapshot
		}
		out.snaps = snaps
		w := spec.New(p) // a fresh workload per run
		prog := newProgress(stderr, w, p.N)
		cells := newCellReport(stderr, w, prog, i == 0, f.json)
		cfg.Progress, cfg.OnCell = cells.progress, cells.add
		out.cells = cells
		var ms0, ms1 runtime.MemStats
		runtime.GC()
		runtime.ReadMemStats(&ms0)
		start := time.Now()
		res, err := engine.Run(w, cfg)
		runtime.ReadMemStats(&ms1)
		if jw != nil { // the journal's sync is part of the run's cost
			if cerr := jw.Close(); err == nil && cerr != nil {
				err = fmt.Errorf("--journal: %w", cerr)
			}
		}
		elapsed := time.Since(start)
		prog.done()
		cells.flush()
		if errors.Is(err, engine.ErrInFlight) {
			return exitBadInput, fmt.Errorf("%w (--max-inflight raises the bound, if the machine has the memory)", err)
		}
		if err != nil {
			return exitBadInput, err
		}
		if i == 0 {
			first = res
		} else if res.Trace != first.Trace || res.State != first.State {
			return exitBadInput, fmt.Errorf("run %d of --count differs from run 1: trace %016x state %016x, want %016x %016x (nondeterminism: report this)",
				i+1, res.Trace, res.State, first.Trace, first.State)
		}
		allocs := ms1.Mallocs - ms0.Mallocs
		out.result(i == 0, w, res, elapsed, allocs)
		code = exitCode(spec, res)
		if res.Outcome == engine.Violated {
			fmt.Fprintf(stderr, "lexbench: goal violated: %v\n", res.Violation)
		}
	}
	return code, nil
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
	w      io.Writer
	spec   *workloads.Spec
	params string
	shards int
	n      uint64
	json   bool
	damp   bool // --on-oscillation=damp: `dropped:` is a figure (SPEC §5.5); false with faults on (damp has no effect)
	local  bool // --detect local: the oscillation line counts cells (SPEC §5.7); false with faults on
	faults bool // faults on: the `faults:` line (SPEC §7)
	snaps  *recovery.Snapshotter
	cells  *cellReport // the run's cell events (--json lists them)
	lines  []string    // further configuration lines, after shards: (a partition's)
	name   string      // appended to the Benchmark line's name
	// before is what a resumed run had delivered before it continued:
	// rates count only the messages it delivered itself.
	before uint64
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

func (o *output) result(first bool, w workloads.Workload, res engine.Result, elapsed time.Duration, allocs uint64) {
	ns := elapsed.Nanoseconds()
	msgs := max(res.Msgs-o.before, 1)
	rate := float64(res.Msgs-o.before) / elapsed.Seconds()
	nsPerMsg := float64(ns) / float64(msgs)
	allocsPerMsg := float64(allocs) / float64(msgs)
	name := fmt.Sprintf("Benchmark%s/n=%s/shards=%d%s", strings.ToUpper(o.spec.Name[:1])+o.spec.Name[1:], formatN(o.n), o.shards, o.name)
	if o.json {
		m := map[string]any{
			"workload": o.spec.Name, "params": o.params, "shards": o.shards,
			"trace": fmt.Sprintf("%016x", res.Trace), "state": fmt.Sprintf("%016x", res.State),
			"outcome": res.Outcome.String(), "ticks": res.Ticks, "msgs": res.Msgs,
			"ns": ns, "msgs_per_s": rate, "ns_per_msg": nsPerMsg, "allocs_per_msg": allocsPerMsg,
			"blocks": res.Blocks,
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
			m["cell_events"] = o.cells.events
		}
		if o.faults {
			m["faults"] = map[string]uint64{"dropped": res.Faults.Dropped, "duplicated": res.Faults.Duplicated, "delayed": res.Faults.Delayed}
		}
		if res.Violation != nil {
			m["violation"] = res.Violation.Error()
		}
		b, _ := json.Marshal(m)
		fmt.Fprintf(o.w, "%s\n", b)
		return
	}
	var b bytes.Buffer
	if first {
		preamble(&b)
		fmt.Fprintf(&b, "workload: %s\nparams: %s\nshards: %d\n", o.spec.Name, o.params, o.shards)
		for _, l := range o.lines {
			fmt.Fprintf(&b, "%s\n", l)
		}
		fmt.Fprintf(&b, "Unit msgs/s better=higher\n")
		o.resultLines(&b, w, res)
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

// resultLines writes a run's result as configuration lines (SPEC §6):
// trace, state, outcome, the violated goal, ticks, msgs, the workload's
// figures, the oscillation and the faults.
func (o *output) resultLines(b io.Writer, w workloads.Workload, res engine.Result) {
	fmt.Fprintf(b, "trace: %016x\nstate: %016x\noutcome: %s\n", res.Trace, res.State, res.Outcome)
	if res.Violation != nil {
		fmt.Fprintf(b, "violation: %s\n", firstLine(res.Violation.Error()))
	}
	fmt.Fprintf(b, "ticks: %d\nmsgs: %d\n", res.Ticks, res.Msgs)
	for _, f := range o.figures(w, res) {
		fmt.Fprintf(b, "%s: %d\n", f.Name, f.Value)
	}
	if osc := res.Oscillation; osc != nil {
		fmt.Fprintf(b, "oscillation: tick=%d period=%d domains=%d", osc.Tick, osc.Period, osc.Domains)
		if o.local {
			fmt.Fprintf(b, " cells=%d", osc.Cells)
		}
		fmt.Fprintln(b)
	}
	if o.faults {
		fmt.Fprintf(b, "faults: %s\n", faultsLine(res.Faults))
	}
}

// newOutput is the output of a run of spec with params p and run controls
// opts (the `dropped:`, `cells=` and `faults:` lines depend on them).
func newOutput(w io.Writer, spec *workloads.Spec, p workloads.Params, opts snapshot.Options, shards int, asJSON bool) *output {
	return &output{w: w, spec: spec, params: spec.Text(p), shards: shards, n: p.N, json: asJSON,
		damp: opts.Damp && !p.Faults.On(), local: opts.Local && !p.Faults.On(), faults: p.Faults.On()}
}

// preamble writes the build comment and the machine's configuration lines
// that start a benchmark-format output.
func preamble(b io.Writer) {
	if bi, ok := debug.ReadBuildInfo(); ok {
		rev, dirty := "", ""
		for _, s := range bi.Settings {
			switch s.Key {
			case "vcs.revision":
				rev = s.Value
			case "vcs.modified":
				if s.Value == "true" {
					dirty = "+dirty"
				}
			}
		}
		if rev == "" {
			rev = "(devel)"
		}
		fmt.Fprintf(b, "# lexbench %s%s %s\n", rev, dirty, bi.GoVersion)
	}
	fmt.Fprintf(b, "goos: %s\ngoarch: %s\ncpu: %s\n", runtime.GOOS, runtime.GOARCH, cpuModel())
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
