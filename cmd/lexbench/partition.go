package main

// Partitioned runs on NATS JetStream (package partition, docs/distributed.md):
//
//	lexbench partition WORKLOAD|FILE.lxm --partitions P --index K --nats URL [--journal J]
//	    one partition of a run, in this process (start P of them, on P machines if you like)
//	lexbench cluster WORKLOAD|FILE.lxm --partitions P
//	    all P partitions in this process, on an embedded server, checked
//	lexbench verify J.p0 … J.p<P-1>   check a set of partition journals as one trace
//	lexbench merge OUT J.p0 …          write the set as the single-process journal

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"runtime"
	"slices"
	"sync"
	"time"

	"github.com/lexbench/lexbench/engine"
	"github.com/lexbench/lexbench/journal/mmap"
	"github.com/lexbench/lexbench/partition"
	"github.com/lexbench/lexbench/recovery"
	"github.com/lexbench/lexbench/replica"
	"github.com/lexbench/lexbench/runfile"
	"github.com/lexbench/lexbench/workloads"
)

// partitionFlags are the flags of a partition process (and of cluster
// --partitions): the run's controls, then its own settings.
type partitionFlags struct {
	cf             controlFlags
	partitions     number
	index          number
	shards         number
	snapEvery      number
	journal        string
	syncName       string
	streamReplicas number
}

func addPartitionFlags(c *replicated, f *partitionFlags, one bool) {
	addControlFlags(c.fs, &f.cf)
	f.shards.v, f.streamReplicas.v = 1, 1
	c.fs.Var(&f.partitions, "partitions", "partitions of the run P (1..256): contiguous domain ranges, one process each")
	if one {
		c.fs.Var(&f.index, "index", "this process's partition K (0..P-1)")
		c.fs.StringVar(&f.journal, "journal", "", "journal this partition's part at `PATH` (with snapshots; an existing journal of the partition is continued)")
	}
	c.fs.Var(&f.shards, "shards", "shards of each partition (≥ 1); any count gives the same result")
	c.fs.Var(&f.snapEvery, "snapshot-every", "snapshot each partition every `TICKS` ticks beside its journal")
	c.fs.StringVar(&f.syncName, "sync", "end", "durability of the journals: none | snapshot | end")
	c.fs.Var(&f.streamReplicas, "stream-replicas", "JetStream replicas of the exchange stream (on a cluster: 3)")
}

// check checks the partition flags against the run; journal says whether
// the partitions journal.
func (f *partitionFlags) check(c *replicated, run *replica.Run, one, journal bool) (mmap.Sync, error) {
	var err error
	if run.Opts, err = f.cf.options(); err != nil {
		return 0, c.bad("%s", err)
	}
	syncMode, err := mmap.ParseSync(f.syncName)
	switch {
	case !f.partitions.set:
		return 0, c.bad("--partitions is required")
	case f.partitions.v < 1 || f.partitions.v > partition.PartitionsMax:
		return 0, c.bad("invalid value %d for --partitions: must be 1..%d", f.partitions.v, partition.PartitionsMax)
	case one && !f.index.set:
		return 0, c.bad("--index is required (the partition this process runs, 0..%d)", f.partitions.v-1)
	case one && f.index.v >= f.partitions.v:
		return 0, c.bad("invalid value %d for --index: must be 0..%d", f.index.v, f.partitions.v-1)
	case f.shards.v < 1 || f.shards.v > 1024:
		return 0, c.bad("invalid value %d for --shards: must be 1..1024", f.shards.v)
	case err != nil:
		return 0, c.bad("invalid value %q for --sync: want none, snapshot or end", f.syncName)
	case f.snapEvery.set && (f.snapEvery.v < 1 || f.snapEvery.v > 1<<32):
		return 0, c.bad("invalid value %d for --snapshot-every: must be 1..2^32 ticks", f.snapEvery.v)
	case f.snapEvery.set && !journal:
		return 0, c.bad("--snapshot-every needs --journal")
	case syncMode == mmap.SyncSnapshot && !f.snapEvery.set:
		return 0, c.bad("--sync snapshot needs --snapshot-every")
	case f.streamReplicas.v < 1 || f.streamReplicas.v > 5:
		return 0, c.bad("invalid value %d for --stream-replicas: must be 1..5", f.streamReplicas.v)
	}
	return syncMode, nil
}

// partitionRunner connects one partition to NATS and runs it.
type partitionRunner struct {
	run     *replica.Run
	url     string
	P       int
	opts    partition.NATSOptions
	stderr  io.Writer
	stderrM *sync.Mutex
}

func (pr *partitionRunner) runOne(ctx context.Context, o partition.Options) (*partition.Report, error) {
	conn, err := replica.Connect(pr.url, fmt.Sprintf("lexbench partition %d of %d", o.Index, o.Count))
	if err != nil {
		return nil, err
	}
	defer conn.Close()
	cuts, err := partition.Cuts(pr.run, pr.P)
	if err != nil {
		return nil, err
	}
	dial, err := partition.NATSDial(ctx, conn.JetStream(), partition.Identity(pr.run, cuts), pr.opts)
	if err != nil {
		return nil, err
	}
	return partition.Run(pr.run, o, dial)
}

func (pr *partitionRunner) waiting(what string) {
	pr.stderrM.Lock()
	fmt.Fprintf(pr.stderr, "lexbench: %s\n", what)
	pr.stderrM.Unlock()
}

func cmdPartition(args []string, stdout, stderr io.Writer) (int, error) {
	c, rest, err := newReplicated("partition", args, stdout, stderr)
	if err != nil {
		return helpOr(err)
	}
	var f partitionFlags
	addPartitionFlags(c, &f, true)
	c.addNATS(defaultNATS())
	c.fs.BoolVar(&c.json, "json", false, "print the result as one JSON object")
	run, help, err := c.parse(rest, stdout)
	if err != nil || help {
		return helpOr(err)
	}
	syncMode, err := f.check(c, run, true, f.journal != "")
	if err != nil {
		return exitBadInput, err
	}
	if f.journal == "" && f.syncName != "end" {
		return exitBadInput, c.bad("--sync needs --journal")
	}
	ctx, stop := interruptible()
	defer stop()
	pr := &partitionRunner{run: run, url: c.nats, P: int(f.partitions.v), stderr: stderr, stderrM: &sync.Mutex{}}
	pr.opts = partition.NATSOptions{StreamReplicas: int(f.streamReplicas.v), Waiting: pr.waiting}
	prog := newProgress(stderr, nil, run.P.N)
	cells := newCellReport(stderr, run.New(), prog, true, c.json)
	o := partition.Options{Index: int(f.index.v), Count: pr.P, Shards: int(f.shards.v), Journal: f.journal,
		SnapshotEvery: f.snapEvery.v, Sync: syncMode, Progress: cells.progress, OnCell: cells.add, Waiting: pr.waiting}
	var ms0, ms1 runtime.MemStats
	runtime.GC()
	runtime.ReadMemStats(&ms0)
	rep, err := pr.runOne(ctx, o)
	runtime.ReadMemStats(&ms1)
	prog.done()
	cells.flush()
	if err != nil {
		return exitBadInput, fmt.Errorf("partition %d: %w", o.Index, err)
	}
	out := newOutput(stdout, c.spec, run.P, run.Opts, o.Shards, c.json)
	out.cells = cells
	out.lines = partitionLines(rep, o.Index, pr.P)
	out.name = fmt.Sprintf("/P=%d/k=%d", pr.P, o.Index)
	if rep.From > 0 && !c.json {
		fmt.Fprintf(stdout, "# resumed partition %d from its snapshot at tick %d\n", o.Index, rep.From)
	}
	// allocations include the NATS client's and the exchange's
	out.result(true, rep.Workload, rep.Result, rep.Elapsed, ms1.Mallocs-ms0.Mallocs)
	return exitCode(c.spec, rep.Result), nil
}

// domainRange words the domains [lo, hi) a partition owns as the cell
// lines do, first..last inclusive, or "none" (more partitions than the
// cuts could fill).
func domainRange(lo, hi uint32) string {
	if hi <= lo {
		return "none"
	}
	return fmt.Sprintf("%d..%d", lo, hi-1)
}

// partitionLines are a partition's configuration lines: which partition,
// its domains, its exchange.
func partitionLines(rep *partition.Report, k, P int) []string {
	s := rep.Stats
	per := func(v uint64) uint64 { return v / max(s.Rounds, 1) }
	return []string{
		fmt.Sprintf("partitions: %d", P),
		fmt.Sprintf("partition: %d", k),
		"domains: " + domainRange(rep.Cuts[k], rep.Cuts[k+1]),
		fmt.Sprintf("# exchange: %d rounds, %d B/round sent, %s waiting", s.Rounds, per(s.BytesSent), s.Wait.Round(time.Millisecond)),
	}
}

// cmdClusterPartitions is `lexbench cluster --partitions P`: every
// partition in this process (each with its own NATS connection, so the
// rounds go through the server as between machines), on an embedded
// server unless --nats, journals in --dir (a temporary directory by
// default); then the journals are verified as one trace.
func cmdClusterPartitions(c *replicated, rest []string, stdout, stderr io.Writer) (int, error) {
	var (
		f   partitionFlags
		dir string
	)
	addPartitionFlags(c, &f, false)
	c.fs.StringVar(&dir, "dir", "", "keep the partitions' journals and snapshots in `DIR` (default: a temporary directory, removed); a second run with the same DIR continues them")
	c.fs.BoolVar(&c.json, "json", false, "print the result as one JSON object")
	c.addNATS("")
	run, help, err := c.parse(rest, stdout)
	if err != nil || help {
		return helpOr(err)
	}
	syncMode, err := f.check(c, run, false, true)
	if err != nil {
		return exitBadInput, err
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
	P := int(f.partitions.v)
	pr := &partitionRunner{run: run, url: url, P: P, stderr: stderr, stderrM: &sync.Mutex{}}
	pr.opts = partition.NATSOptions{StreamReplicas: int(f.streamReplicas.v), Waiting: pr.waiting}
	reps := make([]*partition.Report, P)
	errs := make([]error, P)
	paths := make([]string, P)
	var wg sync.WaitGroup
	start := time.Now()
	for k := range P {
		paths[k] = filepath.Join(dir, fmt.Sprintf("p%d.lxj", k))
		o := partition.Options{Index: k, Count: P, Shards: int(f.shards.v), Journal: paths[k], SnapshotEvery: f.snapEvery.v,
			Sync: syncMode, Waiting: pr.waiting}
		wg.Add(1)
		go func() {
			defer wg.Done()
			if reps[k], errs[k] = pr.runOne(ctx, o); errs[k] != nil {
				cancel() // the others would wait for this partition
			}
		}()
	}
	wg.Wait()
	elapsed := time.Since(start)
	for k, err := range errs {
		if err != nil && !errors.Is(err, context.Canceled) {
			return exitBadInput, fmt.Errorf("cluster: partition %d: %w", k, err)
		}
	}
	if err := errors.Join(errs...); err != nil {
		return exitBadInput, fmt.Errorf("cluster: %w", err)
	}
	first := reps[0].Result
	for k, r := range reps {
		if res := r.Result; res.Trace != first.Trace || res.State != first.State || res.Outcome != first.Outcome || res.Msgs != first.Msgs {
			return exitBadInput, fmt.Errorf("cluster: partition %d ended with trace %016x state %016x, partition 0 with %016x %016x (nondeterminism: report this)",
				k, res.Trace, res.State, first.Trace, first.State)
		}
	}
	sum, err := partition.VerifySet(paths, nil)
	if err != nil {
		return exitBadInput, fmt.Errorf("cluster: the partition journals do not verify: %w", err)
	}
	if sum.Trace != first.Trace {
		return exitBadInput, fmt.Errorf("cluster: the partition journals verify to trace %016x, the partitions say %016x", sum.Trace, first.Trace)
	}
	var b bytes.Buffer
	if c.json {
		m := map[string]any{"workload": c.spec.Name, "params": run.Params(), "partitions": P, "shards": f.shards.v,
			"trace": fmt.Sprintf("%016x", first.Trace), "state": fmt.Sprintf("%016x", first.State), "outcome": first.Outcome.String(),
			"ticks": first.Ticks, "msgs": first.Msgs, "ns": elapsed.Nanoseconds(), "journals_verified": true}
		var parts []map[string]any
		for k, r := range reps {
			parts = append(parts, map[string]any{"partition": k, "first": r.Cuts[k], "end": r.Cuts[k+1], "rounds": r.Stats.Rounds,
				"bytes_sent": r.Stats.BytesSent, "wait_ns": r.Stats.Wait.Nanoseconds(), "ns": r.Elapsed.Nanoseconds()})
		}
		m["partition_stats"] = parts
		enc, _ := json.Marshal(m)
		fmt.Fprintf(stdout, "%s\n", enc)
		return exitCode(c.spec, first), nil
	}
	preamble(&b)
	impl := "native"
	if c.src != nil {
		impl = "interpreted"
	}
	fmt.Fprintf(&b, "workload: %s\nparams: %s\npartitions: %d\nshards: %d\nimpl: %s\n", c.spec.Name, run.Params(), P, f.shards.v, impl)
	newOutput(nil, c.spec, run.P, run.Opts, int(f.shards.v), false).resultLines(&b, reps[0].Workload, first)
	fmt.Fprintf(&b, "verify: %d partition journals verify as one trace (%d blocks)\n", P, sum.Blocks)
	for k, r := range reps {
		s := r.Stats
		fmt.Fprintf(&b, "# partition %d: domains %s, %d rounds, %d B/round sent, %s waiting\n", k, domainRange(r.Cuts[k], r.Cuts[k+1]),
			s.Rounds, s.BytesSent/max(s.Rounds, 1), s.Wait.Round(time.Millisecond))
	}
	msgs := max(first.Msgs, 1)
	rounds := max(reps[0].Stats.Rounds, 1)
	fmt.Fprintf(&b, "BenchmarkPartitioned/%s/n=%s/P=%d/shards=%d \t 1 \t %d ns/op \t %.4g msgs/s \t %.3g ns/msg \t %.4g µs/round\n",
		c.spec.Name, formatN(run.P.N), P, f.shards.v, elapsed.Nanoseconds(), float64(first.Msgs)/elapsed.Seconds(),
		float64(elapsed.Nanoseconds())/float64(msgs), float64(elapsed.Microseconds())/float64(rounds))
	_, _ = io.WriteString(stdout, b.String())
	return exitCode(c.spec, first), nil
}

// cmdMerge is `lexbench merge OUT J.p0 … [--program FILE.lxm]`.
func cmdMerge(args []string, stdout, stderr io.Writer) (int, error) {
	usage := "usage: lexbench merge OUT JOURNAL.p0 JOURNAL.p1 … [--program FILE.lxm]\n" +
		"  write a set of partition journals as the single-process run's journal OUT (which must not exist)\n" +
		"  and its run file OUT.run, so that replay, resume and log need no flags; --program: the program\n" +
		"  of a program's run (partition journals record its params and its hash, not its text; a program that differs is refused)\n"
	usage += commandExitCodes("OUT and OUT.run written from journals that verify as one run", "they do not, OUT exists, or bad input (nothing written)")
	if slices.ContainsFunc(args, isHelp) {
		fmt.Fprint(stdout, usage)
		return exitOK, nil
	}
	var progPath string
	if i := slices.Index(args, "--program"); i >= 0 && i+1 < len(args) {
		progPath = args[i+1]
		args = slices.Delete(slices.Clone(args), i, i+2)
	}
	if len(args) < 2 {
		return exitBadInput, &usageError{msg: "merge: want OUT and the partition journals", usage: usage}
	}
	out := args[0]
	for _, p := range []string{out, runfile.Path(out)} {
		if _, err := os.Lstat(p); err == nil {
			return exitBadInput, fmt.Errorf("merge: %s exists; not replacing it", p)
		}
	}
	for _, p := range args[1:] {
		if !isPartitionJournal(p) {
			return exitBadInput, fmt.Errorf("merge: %s is not a partition journal", p)
		}
	}
	r, err := partition.OpenJournal(args[1])
	if err != nil {
		return exitBadInput, err
	}
	params, opts, ran := r.Header.Params, r.Header.Opts, r.Header.Program
	r.Close()
	var prog *runfile.Program
	switch {
	case progPath != "" && ran == 0:
		return exitBadInput, fmt.Errorf("merge: the journals are of the native workload's run (%s), not of a program: drop --program", params)
	case progPath != "":
		p, src, err := loadProgram(progPath, stderr)
		if err != nil {
			return exitBadInput, err
		}
		if h := programID(src); h != ran {
			return exitBadInput, fmt.Errorf("merge: the journals are of a program with xxh64=%016x; %s (xxh64=%016x) differs from it", ran, progPath, h)
		}
		if _, err := p.Spec().Parse(params); err != nil {
			return exitBadInput, fmt.Errorf("merge: the journals are not of program %s: %w", progPath, err)
		}
		prog = src
	case ran != 0:
		return exitBadInput, fmt.Errorf("merge: the journals are of a program's run (%s, program xxh64=%016x): give its --program FILE.lxm", params, ran)
	default:
		if _, _, err := workloads.ParseParams(params); err != nil {
			return exitBadInput, fmt.Errorf("merge: %s: %w", params, err)
		}
	}
	opts.SnapshotEvery, opts.Sync = 0, mmap.SyncNone
	jd, err := recovery.Begin(recovery.Setup{Journal: out, Params: params, Opts: opts, Program: prog})
	if err != nil {
		return exitBadInput, fmt.Errorf("merge: %w", err)
	}
	sum, err := partition.VerifySet(args[1:], jd.Writer)
	if err != nil {
		jd.Abort()
		_ = os.Remove(runfile.Path(out))
		return exitBadInput, err
	}
	res := engine.Result{Trace: sum.Trace, Outcome: engine.Converged}
	if err := jd.Close(res, nil); err != nil {
		_ = os.Remove(out)
		_ = os.Remove(runfile.Path(out))
		return exitBadInput, fmt.Errorf("merge: %w", err)
	}
	fmt.Fprintf(stdout, "params: %s\ntrace: %016x\nblocks: %d\nentries: %d\nmerged: %s (run file %s)\n", sum.Params, sum.Trace, sum.Blocks, sum.Entries, out, runfile.Path(out))
	return exitOK, nil
}

// cmdVerifySet is `lexbench verify` of partition journals.
func cmdVerifySet(paths []string, stdout io.Writer) (int, error) {
	sum, err := partition.VerifySet(paths, nil)
	if err != nil {
		fmt.Fprintf(stdout, "verify: failed: %s\n", firstLine(err.Error()))
		return exitBadInput, err
	}
	fmt.Fprintf(stdout, "params: %s\npartitions: %d\ntrace: %016x\nblocks: %d\nentries: %d\n", sum.Params, len(sum.Cuts)-1, sum.Trace, sum.Blocks, sum.Entries)
	if e := sum.End; e != nil {
		fmt.Fprintf(stdout, "state: %016x\nticks: %d\nmsgs: %d\n", e.State, e.Ticks, e.Msgs)
	} else {
		fmt.Fprintln(stdout, "# the journals have no end record: the run did not finish")
	}
	fmt.Fprintln(stdout, "verify: ok")
	return exitOK, nil
}

// isPartitionJournal reports whether the file at path starts with the
// partition journal's magic.
func isPartitionJournal(path string) bool {
	f, err := os.Open(path)
	if err != nil {
		return false
	}
	defer f.Close()
	var b [8]byte
	_, err = io.ReadFull(f, b[:])
	return err == nil && string(b[:]) == "LEXPART1"
}
