package main

// Replicated runs on NATS JetStream (package replica, docs/replication.md):
//
//	lexbench cluster WORKLOAD|FILE.lxm [flags]   an embedded server, a publisher and N replicas, then agree
//	lexbench publish WORKLOAD|FILE.lxm --nats URL  publish a run's input to its stream
//	lexbench replica WORKLOAD|FILE.lxm --nats URL --journal J   run (or continue) one replica
//	lexbench agree   WORKLOAD|FILE.lxm --nats URL  check that the replicas agree
//	lexbench nats [--listen ADDR] [--store DIR]    run an embedded NATS server with JetStream

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"github.com/lexbench/lexbench/runfile"
	"io"
	"os"
	"os/signal"
	"path/filepath"
	"regexp"
	"runtime"
	"strings"
	"sync"
	"syscall"
	"time"

	"github.com/spf13/pflag"

	"github.com/lexbench/lexbench/engine"
	"github.com/lexbench/lexbench/internal/natsembed"
	"github.com/lexbench/lexbench/journal/mmap"
	"github.com/lexbench/lexbench/replica"
	"github.com/lexbench/lexbench/snapshot"
	"github.com/lexbench/lexbench/workloads"
)

// paramFlags are a run's params (SPEC §3) as flags.
type paramFlags struct {
	n, seed, batch number
	keys           []number // the workload's keys, in Spec.Keys order
}

// addParamFlags adds -n, --seed, --batch and the workload's two keys, with
// their defaults.
func addParamFlags(fs *pflag.FlagSet, spec *workloads.Spec, f *paramFlags) {
	d := spec.Defaults()
	f.n.v, f.seed.v, f.batch.v = d.N, d.Seed, d.Batch
	fs.VarP(&f.n, "n", "n", "operations the generator injects (1e8, 100M, 100_000_000)")
	fs.Var(&f.seed, "seed", "PRNG seed (any uint64)")
	fs.Var(&f.batch, "batch", "operations a driver emits per tick (≥ 1)")
	f.keys = make([]number, len(spec.Keys))
	for i, k := range spec.Keys {
		f.keys[i].v = k.Default
		fs.Var(&f.keys[i], k.Name, k.Usage+", "+keyRange(k))
	}
}

// controlFlags are the run controls (SPEC §3) that every process of a run
// applies alike: a publisher records them in the stream, the partitions of
// a partitioned run check that they agree.
type controlFlags struct {
	maxTicks, maxMsgs number
	onOscillation     string
	detect            string
}

func addControlFlags(fs *pflag.FlagSet, f *controlFlags) {
	fs.Var(&f.maxTicks, "max-ticks", "end the run before tick T is delivered")
	fs.Var(&f.maxMsgs, "max-msgs", "end the run at the first boundary with ≥ M messages delivered")
	fs.StringVar(&f.onOscillation, "on-oscillation", "halt", "halt | damp")
	fs.StringVar(&f.detect, "detect", "global", "oscillation detection: global | local (docs/detection.md)")
}

func (f *controlFlags) options() (snapshot.Options, error) {
	o := snapshot.DefaultOptions()
	damp, err := checkRunFlags(number{v: 1}, f.maxTicks, f.maxMsgs, f.onOscillation)
	if err != nil {
		return o, err
	}
	detect, err := parseDetect(f.detect)
	if err != nil {
		return o, err
	}
	o.Local = detect == engine.DetectLocal
	if f.maxTicks.set {
		o.MaxTicks = int64(f.maxTicks.v)
	}
	if f.maxMsgs.set {
		o.MaxMsgs = int64(f.maxMsgs.v)
	}
	o.Damp = damp
	return o, nil
}

// defaultNATS is --nats's default: $NATS_URL, else the NATS default port
// on this machine (where `lexbench nats` listens).
func defaultNATS() string {
	if u := os.Getenv("NATS_URL"); u != "" {
		return u
	}
	return "nats://127.0.0.1:4222"
}

func replicatedUsage(cmd string) string {
	what := map[string]string{
		"cluster":   "start a NATS server (embedded unless --nats) and a replicated run (a publisher, --replicas N replicas, checked for agreement) or, with --partitions P, a partitioned run (P partitions, their journals verified)",
		"partition": "run one partition (--index K of --partitions P) of a partitioned run; its rounds go through the NATS server",
		"publish":   "publish a run's input (its input domains' transitions) to the run's stream",
		"replica":   "run one replica of a run from its stream; with an existing --journal, continue it",
		"agree":     "check that a run's replicas agree with each other and with the single-node run",
	}[cmd]
	return fmt.Sprintf("usage: lexbench %s WORKLOAD|FILE.lxm [flags]   workload: %s\n  %s\n", cmd, workloads.Names(), what)
}

// clusterSetup is what `lexbench cluster` needs before it runs: the
// directory for the journals (dir, made if missing; "" a temporary one,
// removed by done) and the NATS server (natsURL; "" an embedded one on a
// loopback port with a temporary store, shut down by done).
func clusterSetup(dir, natsURL string) (string, string, func(), error) {
	var undo []func()
	done := func() {
		for i := len(undo) - 1; i >= 0; i-- {
			undo[i]()
		}
	}
	if dir == "" {
		d, err := os.MkdirTemp("", "lexbench-cluster-")
		if err != nil {
			return "", "", nil, err
		}
		dir = d
		undo = append(undo, func() { os.RemoveAll(d) })
	} else if err := os.MkdirAll(dir, 0o755); err != nil {
		return "", "", nil, fmt.Errorf("--dir: %w", err)
	}
	if natsURL == "" {
		srv, err := natsembed.Start("", "")
		if err != nil {
			done()
			return "", "", nil, err
		}
		undo = append(undo, srv.Shutdown)
		natsURL = srv.URL()
	}
	return dir, natsURL, done, nil
}

// programID is how replicated and partitioned runs name a program in
// their identity, stream and partition journals: xxhash64 of its text
// with the low bit set, so that it is never 0, which names a native
// workload.
func programID(src *runfile.Program) uint64 { return src.Hash() | 1 }

// errHelpShown: a command printed its help (exit 0).
var errHelpShown = errors.New("help shown")

// replicatedExitCodes is the exit code table of a replicated command:
// those that run the workload end as a run does; publish and agree
// succeed or fail.
func replicatedExitCodes(cmd string) string {
	switch cmd {
	case "publish":
		return commandExitCodes("the run's input is on the stream", "bad input, or the server could not be reached")
	case "agree":
		return commandExitCodes("every replica agrees with the others and with the single-node run", "they do not (the first block where one differs is named), or bad input")
	}
	return exitCodesHelp
}

// replicated is what the replicated commands share: the run and its flags.
type replicated struct {
	cmd   string
	spec  *workloads.Spec
	prog  uint64
	src   *runfile.Program // the program's text (nil: a native workload), for run files
	fs    *pflag.FlagSet
	pf    paramFlags
	ff    faultFlags
	nats  string
	json  bool
	usage func() string
}

// newReplicated reads the WORKLOAD|FILE.lxm argument and prepares the flag
// set with the params flags; the command adds its own and calls parse.
func newReplicated(cmd string, args []string, stdout, stderr io.Writer) (*replicated, []string, error) {
	c := &replicated{cmd: cmd}
	if len(args) > 0 && isHelp(args[0]) {
		fmt.Fprintf(stdout, "%s  flags: lexbench %s WORKLOAD|FILE.lxm --help lists them (a program's keys are flags)\n%s",
			replicatedUsage(cmd), cmd, replicatedExitCodes(cmd))
		return nil, nil, errHelpShown
	}
	if len(args) == 0 || strings.HasPrefix(args[0], "-") {
		return nil, nil, &usageError{msg: cmd + ": want a workload (" + workloads.Names() + ") or FILE.lxm first", usage: replicatedUsage(cmd)}
	}
	if strings.HasSuffix(args[0], ".lxm") {
		p, src, err := loadProgram(args[0], stderr)
		if err != nil {
			return nil, nil, err
		}
		c.spec, c.prog, c.src = p.Spec(), programID(src), src
	} else if c.spec = workloads.Lookup(args[0]); c.spec == nil {
		return nil, nil, &usageError{msg: fmt.Sprintf("%s: unknown workload %q (want %s or FILE.lxm)", cmd, args[0], workloads.Names()), usage: replicatedUsage(cmd)}
	}
	c.fs = pflag.NewFlagSet(cmd, pflag.ContinueOnError)
	c.fs.SetOutput(io.Discard)
	c.fs.SortFlags = false
	addParamFlags(c.fs, c.spec, &c.pf)
	addFaultFlags(c.fs, &c.ff)
	c.usage = func() string { return replicatedUsage(cmd) + c.fs.FlagUsages() + replicatedExitCodes(cmd) }
	return c, args[1:], nil
}

// addNATS adds --nats with the given default ("" for cluster: embedded).
func (c *replicated) addNATS(def string) {
	what := "NATS server URL(s) with JetStream (default $NATS_URL, else nats://127.0.0.1:4222)"
	if def == "" {
		what = "use the NATS server(s) at URL instead of starting an embedded one"
	}
	c.fs.StringVar(&c.nats, "nats", def, what)
}

// parse parses the flags and builds the run (with default run controls);
// help reports --help.
func (c *replicated) parse(args []string, stdout io.Writer) (run *replica.Run, help bool, err error) {
	if err := parseFlags(c.fs, args); err != nil {
		if err == pflag.ErrHelp {
			fmt.Fprint(stdout, c.usage())
			return nil, true, nil
		}
		return nil, false, c.bad("%s", err)
	}
	if c.fs.NArg() > 0 {
		return nil, false, c.bad("unexpected argument %q", c.fs.Arg(0))
	}
	p := workloads.Params{N: c.pf.n.v, Seed: c.pf.seed.v, Batch: c.pf.batch.v, K: make([]uint64, len(c.pf.keys))}
	for i := range c.pf.keys {
		p.K[i] = c.pf.keys[i].v
	}
	if err := c.spec.Validate(p); err != nil {
		return nil, false, c.bad("%s", err)
	}
	fp, err := c.ff.params(p.Seed)
	if err != nil {
		return nil, false, c.bad("%s", err)
	}
	p.Faults = fp
	inFlight, err := maxInFlight(c.ff.maxInFlight)
	if err != nil {
		return nil, false, c.bad("%s", err)
	}
	if w := c.spec.New(p); w.StateWords() > stateWordsMax || uint64(w.Domains()) > 1<<31 {
		return nil, false, c.bad("--%s and --%s ask for too much state (%d words; at most %d)", c.spec.Keys[0].Name, c.spec.Keys[1].Name, w.StateWords(), stateWordsMax)
	}
	return &replica.Run{Spec: c.spec, P: p, Program: c.prog, Source: c.src, Opts: snapshot.DefaultOptions(), MaxInFlight: inFlight}, false, nil
}

func (c *replicated) bad(format string, a ...any) error {
	return &usageError{msg: fmt.Sprintf(format, a...), usage: c.usage()}
}

// helpOr is the exit of a command whose flags asked for --help (err nil)
// or were bad.
func helpOr(err error) (int, error) {
	if err == errHelpShown {
		return exitOK, nil
	}
	if err != nil {
		return exitBadInput, err
	}
	return exitOK, nil
}

// interruptible is a context that SIGINT and SIGTERM cancel.
func interruptible() (context.Context, context.CancelFunc) {
	return signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
}

// publishFlags are publish's (and cluster's) own flags.
type publishFlags struct {
	cf             controlFlags
	chunkBytes     number
	rate           number
	streamReplicas number
}

func addPublishFlags(fs *pflag.FlagSet, f *publishFlags) {
	addControlFlags(fs, &f.cf)
	f.chunkBytes.v, f.streamReplicas.v = replica.ChunkBytesDefault, 1
	fs.Var(&f.chunkBytes, "chunk-bytes", "size of the stream's messages (4k..512k)")
	fs.Var(&f.rate, "rate", "publish at most R input operations per second (0: as fast as possible), to watch replicas follow live input")
	fs.Var(&f.streamReplicas, "stream-replicas", "JetStream replicas of the stream and the checkpoint bucket (on a cluster: 3)")
}

func (f *publishFlags) options() replica.PublishOptions {
	return replica.PublishOptions{ChunkBytes: int(f.chunkBytes.v), Rate: float64(f.rate.v), StreamReplicas: int(f.streamReplicas.v)}
}

// parse parses the command's flags (params, run controls, publishing).
func (f *publishFlags) parse(c *replicated, args []string, stdout io.Writer) (run *replica.Run, help bool, err error) {
	if run, help, err = c.parse(args, stdout); err != nil || help {
		return nil, help, err
	}
	if run.Opts, err = f.cf.options(); err != nil {
		return nil, false, c.bad("%s", err)
	}
	if f.streamReplicas.v < 1 || f.streamReplicas.v > 5 {
		return nil, false, c.bad("invalid value %d for --stream-replicas: must be 1..5", f.streamReplicas.v)
	}
	if f.chunkBytes.v < 4<<10 || f.chunkBytes.v > 512<<10 {
		return nil, false, c.bad("invalid value %d for --chunk-bytes: must be 4k..512k", f.chunkBytes.v)
	}
	return run, false, nil
}

func cmdPublish(args []string, stdout, stderr io.Writer) (int, error) {
	c, rest, err := newReplicated("publish", args, stdout, stderr)
	if err != nil {
		return helpOr(err)
	}
	var pf publishFlags
	addPublishFlags(c.fs, &pf)
	c.addNATS(defaultNATS())
	run, help, err := pf.parse(c, rest, stdout)
	if err != nil || help {
		return helpOr(err)
	}
	ctx, stop := interruptible()
	defer stop()
	conn, err := replica.Connect(c.nats, "lexbench publish")
	if err != nil {
		return exitBadInput, err
	}
	defer conn.Close()
	rep, err := replica.Publish(ctx, conn, run, pf.options())
	if err != nil {
		return exitBadInput, err
	}
	printPublish(stdout, run, rep, c.nats, true)
	return exitOK, nil
}

// printPublish prints a publisher's report (with the run's configuration
// lines when head is set).
func printPublish(w io.Writer, run *replica.Run, rep *replica.PublishReport, url string, head bool) {
	var b bytes.Buffer
	if head {
		preamble(&b)
		fmt.Fprintf(&b, "workload: %s\nparams: %s\n", run.Spec.Name, run.Params())
	}
	fmt.Fprintf(&b, "stream: %s at %s\n", rep.Stream, url)
	switch {
	case rep.Complete:
		fmt.Fprintf(&b, "publish: the stream holds the whole input already (it ends at tick %d)\n", rep.EndTick)
		_, _ = io.WriteString(w, b.String())
		return
	case rep.Resumed:
		fmt.Fprintf(&b, "publish: continued after the %d segments the stream held\n", rep.Skipped)
	}
	fmt.Fprintf(&b, "publish: %d chunks, %d bytes, input ends at tick %d\n", rep.Chunks, rep.Bytes, rep.EndTick)
	sec := rep.Elapsed.Seconds()
	fmt.Fprintf(&b, "BenchmarkPublish/%s/n=%s \t 1 \t %d ns/op \t %.4g ops/s \t %.4g MB/s \t %.3g B/input-op\n",
		run.Spec.Name, formatN(run.P.N), rep.Elapsed.Nanoseconds(), float64(rep.Ops)/sec, float64(rep.Bytes)/1e6/sec,
		float64(rep.Bytes)/float64(max(rep.Ops, 1)))
	_, _ = io.WriteString(w, b.String())
}

var nameUnsafe = regexp.MustCompile(`[^A-Za-z0-9_-]+`)

// defaultName is a replica's name when --name is not given: its journal's
// base name (stable across restarts), else host and process.
func defaultName(journal string) string {
	var n string
	if journal != "" {
		n = strings.TrimSuffix(filepath.Base(journal), filepath.Ext(journal))
	} else {
		h, _ := os.Hostname()
		n = fmt.Sprintf("%s-%d", h, os.Getpid())
	}
	n = strings.Trim(nameUnsafe.ReplaceAllString(n, "-"), "-")
	if len(n) > 64 {
		n = n[:64]
	}
	if n == "" {
		n = "replica"
	}
	return n
}

func cmdReplica(args []string, stdout, stderr io.Writer) (int, error) {
	c, rest, err := newReplicated("replica", args, stdout, stderr)
	if err != nil {
		return helpOr(err)
	}
	var (
		journal, syncName, name string
		shards, snapEvery       number
	)
	shards.v = 1
	c.addNATS(defaultNATS())
	c.fs.StringVar(&journal, "journal", "", "journal (and snapshots) at `PATH`; an existing journal of the run is continued")
	c.fs.Var(&snapEvery, "snapshot-every", "write a snapshot every `TICKS` ticks beside the journal, with the stream position")
	c.fs.StringVar(&syncName, "sync", "end", "durability: none | snapshot | end (as for a run)")
	c.fs.Var(&shards, "shards", "parallel shards (≥ 1); any count gives the same result")
	c.fs.StringVar(&name, "name", "", "the replica's name in the checkpoint bucket (default: the journal's base name)")
	c.fs.BoolVar(&c.json, "json", false, "print the result as one JSON object")
	run, help, err := c.parse(rest, stdout)
	if err != nil || help {
		return helpOr(err)
	}
	syncMode, err := mmap.ParseSync(syncName)
	switch {
	case err != nil:
		return exitBadInput, c.bad("invalid value %q for --sync: want none, snapshot or end", syncName)
	case shards.v < 1 || shards.v > 1024:
		return exitBadInput, c.bad("invalid value %d for --shards: must be 1..1024", shards.v)
	case snapEvery.set && (snapEvery.v < 1 || snapEvery.v > 1<<32):
		return exitBadInput, c.bad("invalid value %d for --snapshot-every: must be 1..2^32 ticks", snapEvery.v)
	case snapEvery.set && journal == "":
		return exitBadInput, c.bad("--snapshot-every needs --journal")
	case syncMode == mmap.SyncSnapshot && !snapEvery.set:
		return exitBadInput, c.bad("--sync snapshot needs --snapshot-every")
	}
	if name == "" {
		name = defaultName(journal)
	}
	if err := replica.CheckName(name); err != nil {
		return exitBadInput, c.bad("--name: %s", err)
	}
	ctx, stop := interruptible()
	defer stop()
	conn, err := replica.Connect(c.nats, "lexbench replica "+name)
	if err != nil {
		return exitBadInput, err
	}
	defer conn.Close()
	prog := newProgress(stderr, nil, run.P.N)
	cells := newCellReport(stderr, run.New(), prog, true, c.json)
	o := replica.ReplicaOptions{Name: name, Journal: journal, Shards: int(shards.v), SnapshotEvery: snapEvery.v, Sync: syncMode,
		Progress: cells.progress, OnCell: cells.add}
	var ms0, ms1 runtime.MemStats
	runtime.GC()
	runtime.ReadMemStats(&ms0)
	rep, err := replica.RunReplica(ctx, conn, run, o)
	runtime.ReadMemStats(&ms1)
	prog.done()
	cells.flush()
	if err != nil {
		return exitBadInput, fmt.Errorf("replica %s: %w", name, err)
	}
	if !c.json {
		fmt.Fprintf(stdout, "replica: %s\nstream: %s at %s\n", name, rep.Run.StreamName(), c.nats)
		if rep.Resume != nil {
			fmt.Fprintf(stdout, "resume: from tick %d, stream position from %s\n", rep.From, rep.Located)
		}
	}
	out := newOutput(stdout, c.spec, run.P, rep.Run.Opts, int(shards.v), c.json)
	out.snaps, out.before, out.cells = rep.Snaps, rep.Before, cells
	// allocations include the NATS client's and the stream decoding's
	out.result(true, rep.Workload, rep.Result, rep.Elapsed, ms1.Mallocs-ms0.Mallocs)
	return exitCode(c.spec, rep.Result), nil
}

// hasFlag reports whether args hold --name (as --name V or --name=V).
func hasFlag(args []string, name string) bool {
	for _, a := range args {
		if a == "--"+name || strings.HasPrefix(a, "--"+name+"=") {
			return true
		}
	}
	return false
}

// exitIncomplete is agree's exit code when replicas have not finished.
const exitIncomplete = exitBudget

func cmdAgree(args []string, stdout, stderr io.Writer) (int, error) {
	c, rest, err := newReplicated("agree", args, stdout, stderr)
	if err != nil {
		return helpOr(err)
	}
	var (
		replicas, shards number
		wait             time.Duration
		noRef            bool
	)
	shards.v = 1
	c.addNATS(defaultNATS())
	c.fs.Var(&replicas, "replicas", "expect at least N replicas")
	c.fs.DurationVar(&wait, "wait", 0, "wait up to this long (e.g. 5m) for every replica to finish")
	c.fs.BoolVar(&noRef, "no-reference", false, "do not run the single-node run here to compare with")
	c.fs.Var(&shards, "shards", "shards of the single-node run (≥ 1)")
	c.fs.BoolVar(&c.json, "json", false, "print the result as one JSON object")
	run, help, err := c.parse(rest, stdout)
	if err != nil || help {
		return helpOr(err)
	}
	if shards.v < 1 || shards.v > 1024 {
		return exitBadInput, c.bad("invalid value %d for --shards: must be 1..1024", shards.v)
	}
	ctx, stop := interruptible()
	defer stop()
	conn, err := replica.Connect(c.nats, "lexbench agree")
	if err != nil {
		return exitBadInput, err
	}
	defer conn.Close()
	ag, err := replica.Agree(ctx, conn, run, replica.AgreeOptions{Replicas: int(replicas.v), Wait: wait, Reference: !noRef, Shards: int(shards.v)})
	if err != nil {
		return exitBadInput, fmt.Errorf("agree: %w", err)
	}
	return printAgree(stdout, ag, c.json, true)
}

// printAgree prints an agreement check and returns its exit code: 0 all
// agree, 1 a divergence or a mismatch, 4 replicas missing or unfinished.
func printAgree(w io.Writer, ag *replica.AgreeReport, asJSON, head bool) (int, error) {
	var verdict string
	code := exitOK
	switch {
	case ag.Divergence != nil:
		verdict, code = "diverged: "+ag.Divergence.String(), exitBadInput
	case len(ag.Mismatch) > 0:
		verdict, code = "diverged: "+strings.Join(ag.Mismatch, "; "), exitBadInput
	case len(ag.Incomplete) > 0:
		verdict, code = "incomplete: "+strings.Join(ag.Incomplete, "; "), exitIncomplete
	default:
		who := fmt.Sprintf("%d replicas", len(ag.Replicas))
		if ag.Reference != nil {
			who += " and the single-node run"
		}
		verdict = fmt.Sprintf("%s agree on %d blocks", who, ag.Compared)
	}
	reports := ag.Replicas
	if ag.Reference != nil {
		reports = append(reports[:len(reports):len(reports)], ag.Reference)
	}
	if asJSON {
		m := map[string]any{"params": ag.Run.Params(), "stream": ag.Run.StreamName(), "agreed": ag.Agreed(), "verdict": verdict,
			"blocks": ag.Compared}
		var rs []map[string]any
		for _, r := range reports {
			rs = append(rs, map[string]any{"name": r.Name, "blocks": len(r.Hashes), "end": r.End, "gap": r.Gap})
		}
		m["replicas"] = rs
		b, _ := json.Marshal(m)
		fmt.Fprintf(w, "%s\n", b)
	} else {
		var b bytes.Buffer
		if head {
			fmt.Fprintf(&b, "params: %s\nstream: %s\n", ag.Run.Params(), ag.Run.StreamName())
		}
		for _, r := range reports {
			if r == ag.Reference {
				fmt.Fprintf(&b, "single-node: blocks=%d", len(r.Hashes))
			} else {
				fmt.Fprintf(&b, "replica: %s blocks=%d", r.Name, len(r.Hashes))
			}
			if e := r.End; e != nil {
				fmt.Fprintf(&b, " trace=%s state=%s outcome=%s ticks=%d msgs=%d", e.Trace, e.State, e.Outcome, e.Ticks, e.Msgs)
			} else {
				b.WriteString(" running")
			}
			b.WriteByte('\n')
		}
		fmt.Fprintf(&b, "agree: %s\n", verdict)
		_, _ = io.WriteString(w, b.String())
	}
	if code != exitOK {
		return code, errors.New("agree: " + verdict)
	}
	return code, nil
}

func cmdCluster(args []string, stdout, stderr io.Writer) (int, error) {
	c, rest, err := newReplicated("cluster", args, stdout, stderr)
	if err != nil {
		return helpOr(err)
	}
	if hasFlag(rest, "partitions") {
		return cmdClusterPartitions(c, rest, stdout, stderr)
	}
	var (
		pf                          publishFlags
		replicas, shards, snapEvery number
		dir                         string
	)
	replicas.v, shards.v, snapEvery.v = 3, 1, 1000
	addPublishFlags(c.fs, &pf)
	c.fs.Var(&replicas, "replicas", "number of replicas (1..16)")
	c.fs.Var(&shards, "shards", "shards of each replica (≥ 1)")
	c.fs.StringVar(&dir, "dir", "", "keep the replicas' journals and snapshots in `DIR` (default: a temporary directory, removed); a second run with the same DIR continues them")
	c.fs.Var(&snapEvery, "snapshot-every", "each replica snapshots every `TICKS` ticks")
	c.addNATS("")
	run, help, err := pf.parse(c, rest, stdout)
	if err != nil || help {
		return helpOr(err)
	}
	switch {
	case replicas.v < 1 || replicas.v > 16:
		return exitBadInput, c.bad("invalid value %d for --replicas: must be 1..16", replicas.v)
	case shards.v < 1 || shards.v > 1024:
		return exitBadInput, c.bad("invalid value %d for --shards: must be 1..1024", shards.v)
	case snapEvery.v < 1 || snapEvery.v > 1<<32:
		return exitBadInput, c.bad("invalid value %d for --snapshot-every: must be 1..2^32 ticks", snapEvery.v)
	}
	dir, url, done, err := clusterSetup(dir, c.nats)
	if err != nil {
		return exitBadInput, err
	}
	defer done()
	ctx, stop := interruptible()
	defer stop()
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()

	n := int(replicas.v)
	reps := make([]*replica.ReplicaReport, n)
	errs := make([]error, n+1)
	var pub *replica.PublishReport
	var wg sync.WaitGroup
	for i := range n {
		conn, err := replica.Connect(url, fmt.Sprintf("lexbench cluster r%d", i+1))
		if err != nil {
			return exitBadInput, err
		}
		defer conn.Close()
		o := replica.ReplicaOptions{Name: fmt.Sprintf("r%d", i+1), Journal: filepath.Join(dir, fmt.Sprintf("r%d.lxj", i+1)),
			Shards: int(shards.v), SnapshotEvery: snapEvery.v, Sync: mmap.SyncNone}
		wg.Add(1)
		go func() {
			defer wg.Done()
			if reps[i], errs[i] = replica.RunReplica(ctx, conn, run, o); errs[i] != nil {
				cancel()
			}
		}()
	}
	pconn, err := replica.Connect(url, "lexbench cluster publisher")
	if err != nil {
		return exitBadInput, err
	}
	defer pconn.Close()
	wg.Add(1)
	go func() {
		defer wg.Done()
		if pub, errs[n] = replica.Publish(ctx, pconn, run, pf.options()); errs[n] != nil {
			cancel() // replicas would wait for input that does not come
		}
	}()
	wg.Wait()
	if err := errors.Join(errs...); err != nil {
		return exitBadInput, fmt.Errorf("cluster: %w", err)
	}
	ag, err := replica.Agree(ctx, pconn, run, replica.AgreeOptions{Replicas: n, Reference: true, Shards: int(shards.v)})
	if err != nil {
		return exitBadInput, fmt.Errorf("cluster: %w", err)
	}
	first := reps[0]
	var b bytes.Buffer
	preamble(&b)
	fmt.Fprintf(&b, "workload: %s\nparams: %s\nreplicas: %d\n", c.spec.Name, first.Run.Params(), n)
	newOutput(nil, c.spec, run.P, first.Run.Opts, int(shards.v), false).resultLines(&b, first.Workload, first.Result)
	for i, r := range reps {
		if r.Resume != nil {
			fmt.Fprintf(&b, "resume: r%d from tick %d, stream position from %s\n", i+1, r.From, r.Located)
		}
	}
	_, _ = io.WriteString(stdout, b.String())
	if code, err := printAgree(stdout, ag, false, false); err != nil {
		return code, fmt.Errorf("cluster: %w (nondeterminism: report this)", err)
	}
	printPublish(stdout, run, pub, url, false)
	for i, r := range reps {
		msgs := r.Result.Msgs - r.Before
		fmt.Fprintf(stdout, "BenchmarkReplica/%s/n=%s/shards=%d/r%d \t 1 \t %d ns/op \t %.4g msgs/s \t %.3g ns/msg\n",
			c.spec.Name, formatN(run.P.N), shards.v, i+1, r.Elapsed.Nanoseconds(), float64(msgs)/r.Elapsed.Seconds(),
			float64(r.Elapsed.Nanoseconds())/float64(max(msgs, 1)))
	}
	return exitCode(c.spec, first.Result), nil
}

func cmdNATS(args []string, stdout, stderr io.Writer) (int, error) {
	fs := pflag.NewFlagSet("nats", pflag.ContinueOnError)
	fs.SetOutput(io.Discard)
	listen := fs.String("listen", "127.0.0.1:4222", "loopback `ADDR` to listen on (port 0: any free port)")
	store := fs.String("store", "", "JetStream store `DIR` (default: a temporary directory, removed at exit)")
	expose := fs.Bool("expose", false, "allow --listen on an interface's address that is not loopback (no authentication: a trusted network only)")
	usage := "usage: lexbench nats [--listen ADDR] [--store DIR] [--expose]\n  run a NATS server with JetStream in this process until SIGINT or SIGTERM\n" + fs.FlagUsages() +
		commandExitCodes("stopped by SIGINT or SIGTERM after serving", "bad input, or the server could not start")
	if err := parseFlags(fs, args); err != nil {
		if err == pflag.ErrHelp {
			fmt.Fprint(stdout, usage)
			return exitOK, nil
		}
		return exitBadInput, &usageError{msg: err.Error(), usage: usage}
	}
	if fs.NArg() > 0 {
		return exitBadInput, &usageError{msg: fmt.Sprintf("nats: unexpected argument %q", fs.Arg(0)), usage: usage}
	}
	ctx, stop := interruptible()
	defer stop()
	start := natsembed.Start
	if *expose {
		start = natsembed.StartExposed
	}
	srv, err := start(*listen, *store)
	if err != nil {
		return exitBadInput, err
	}
	defer srv.Shutdown()
	fmt.Fprintf(stdout, "nats: %s\nstore: %s\n", srv.URL(), srv.Dir())
	if f, ok := stdout.(*os.File); ok {
		_ = f.Sync()
	}
	fmt.Fprintf(stderr, "lexbench: NATS with JetStream at %s; stop with Ctrl-C\n", srv.URL())
	<-ctx.Done()
	return exitOK, nil
}
