package replica

import (
	"context"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"time"

	"github.com/lexbench/lexbench/engine"
	"github.com/lexbench/lexbench/journal/mmap"
	"github.com/lexbench/lexbench/recovery"
	"github.com/lexbench/lexbench/snapshot"
	"github.com/lexbench/lexbench/trace"
	"github.com/lexbench/lexbench/workloads"
)

// ReplicaOptions are a replica's own settings; none changes its result.
type ReplicaOptions struct {
	Name          string // the replica's name in the checkpoint bucket (CheckName)
	Journal       string // "": no journal, so no snapshots and no restart
	Shards        int
	SnapshotEvery uint64 // ticks (needs Journal)
	Sync          mmap.Sync
	Progress      func(tick, msgs uint64)
	OnCell        func(ev *engine.CellEvent) // cells found oscillating (--detect local), as engine.Config.OnCell
}

// ReplicaReport is how a replica's run went.
type ReplicaReport struct {
	Run      *Run // with the stream's run controls
	Workload workloads.Workload
	Result   engine.Result
	Elapsed  time.Duration
	From     uint64   // the tick it continued from (0: the start)
	Before   uint64   // messages delivered before From
	Start    Position // where it began reading the stream
	Located  string   // how Start was found
	Resume   *recovery.Report
	Snaps    *recovery.Snapshotter
}

// RunReplica runs one replica of run: it waits for the run's input stream,
// takes the run controls from its header, and executes the run through the
// engine with the input domains' transitions taken from the stream. With a
// journal it journals and snapshots like a single-node run; if the journal
// exists (a replica that was killed), it continues it as `lexbench resume`
// does, from its newest usable snapshot and the stream position recorded
// with it. It puts its block hashes and its result into the run's
// checkpoint bucket under o.Name. The result equals the single-node run's.
func RunReplica(ctx context.Context, c *Conn, run *Run, o ReplicaOptions) (*ReplicaReport, error) {
	if err := CheckName(o.Name); err != nil {
		return nil, err
	}
	s, h, err := c.openStream(ctx, run)
	if err != nil {
		return nil, err
	}
	in, err := InputsOf(run.New())
	if err != nil {
		return nil, err
	}
	if err := h.check(run, in.String()); err != nil {
		return nil, fmt.Errorf("input stream %s: %w", run.StreamName(), err)
	}
	r := *run
	r.Opts = h.Opts
	run = &r
	params := run.Params()
	resume, err := existing(o.Journal, params)
	if err != nil {
		return nil, err
	}
	kv, err := c.createBucket(ctx, run, 1)
	if err != nil {
		return nil, err
	}
	ck := newCheckpointer(ctx, kv, o.Name)
	rep := &ReplicaReport{Run: run}
	var (
		app *applier
		f   *feed
		tap *hashTap
	)
	wrap := func(workloads.Workload) workloads.Workload {
		// The run's own workload, not the one named by the journal's
		// params: a program's params name only its workload name.
		w := run.New()
		rep.Workload = w
		app = newApplier(w, in, nil)
		return app
	}
	dir := snapshot.Dir(o.Journal)
	configure := func(cfg *engine.Config) error {
		t, blocks, prev := uint64(0), uint64(0), trace.ParamsHash(params)
		if cp := cfg.Resume; cp != nil {
			t, blocks, prev = cp.Tick, cp.Blocks, cp.Prev
		}
		if err := ck.resume(blocks, prev); err != nil {
			return err
		}
		p, how, err := startPosition(ctx, s, run, dir, t)
		if err != nil {
			return err
		}
		rep.Start, rep.Located = p, how
		src, err := c.source(ctx, run, p.Seq)
		if err != nil {
			return err
		}
		f = newFeed(src, p)
		app.feed = f
		cfg.OnCell = func(ev *engine.CellEvent) {
			f.noteDamp(in, ev)
			if o.OnCell != nil {
				o.OnCell(ev)
			}
		}
		tap = &hashTap{j: cfg.Journal, add: ck.add}
		cfg.Journal = tap
		// The engine has written a tick's block headers when it reaches
		// the next boundary: read them there (before the journal's
		// mapping can go away with the run's end).
		progress := cfg.Progress
		cfg.Progress = func(t, msgs uint64) {
			_ = tap.flush()
			if progress != nil {
				progress(t, msgs)
			}
		}
		if snap := cfg.Snapshot; snap != nil {
			durable := o.Sync == mmap.SyncSnapshot
			cfg.Snapshot = func(cp *engine.Checkpoint) error {
				if err := tap.flush(); err != nil {
					return err
				}
				if err := ck.sync(); err != nil {
					return err
				}
				if err := writePosition(dir, run, cp.Tick, f.position(), durable); err != nil {
					return err
				}
				if err := snap(cp); err != nil {
					return err
				}
				return prunePositions(dir, false)
			}
		}
		return nil
	}
	start := time.Now()
	if resume {
		opts := run.Opts
		opts.SnapshotEvery, opts.Sync = o.SnapshotEvery, o.Sync
		rr, err := recovery.Resume(recovery.Request{Journal: o.Journal, Shards: o.Shards, Opts: &opts, Program: run.Source,
			Watch: func(*recovery.Report) (func(tick, msgs uint64), func(*engine.CellEvent)) { return o.Progress, nil },
			Wrap:  wrap, Configure: configure})
		rep.Resume = rr
		if rr != nil {
			rep.Result, rep.From, rep.Before, rep.Snaps = rr.Result, rr.From, rr.Before, rr.Snaps
		}
		return rep, finish(rep, o, ck, f, tap, start, err)
	}
	w := wrap(nil)
	cfg := run.Config(o.Shards)
	cfg.Progress = o.Progress
	var jd *recovery.Journaled
	if o.Journal != "" {
		opts := run.Opts
		opts.SnapshotEvery, opts.Sync = o.SnapshotEvery, o.Sync
		if jd, err = recovery.Begin(recovery.Setup{Journal: o.Journal, Params: params, Opts: opts, Program: run.Source}); err == nil && o.SnapshotEvery > 0 {
			err = prunePositions(dir, true)
		}
		if err != nil {
			if jd != nil {
				jd.Abort()
			}
			ck.close(nil)
			return nil, err
		}
		cfg.Journal = jd.Writer
		if o.SnapshotEvery > 0 {
			rep.Snaps = jd.Snaps
			cfg.SnapshotEvery, cfg.Snapshot = o.SnapshotEvery, rep.Snaps.Snapshot
		}
	}
	if err := configure(&cfg); err != nil {
		if jd != nil {
			jd.Abort()
		}
		ck.close(nil)
		return nil, err
	}
	rep.Result, err = engine.Run(w, cfg)
	if jd != nil {
		if cerr := jd.Close(rep.Result, err); err == nil {
			err = cerr
		}
	}
	return rep, finish(rep, o, ck, f, tap, start, err)
}

// finish ends a replica's run: the last blocks' hashes, the feed's end
// checks, the result into the bucket.
func finish(rep *ReplicaReport, o ReplicaOptions, ck *checkpointer, f *feed, tap *hashTap, start time.Time, err error) error {
	if tap != nil && err == nil {
		err = tap.err
	}
	if f != nil {
		if res := rep.Result; err == nil && res.Outcome == engine.Damped && !rep.Run.Opts.Local && res.Oscillation != nil {
			f.noteGlobalDamp(res.Oscillation.Tick)
		}
		if ferr := f.finish(err == nil && quiesced(rep.Result)); err == nil {
			err = ferr
		}
	}
	var end *EndRecord
	if err == nil {
		end = endRecord(o.Name, rep.Run.Params(), o.Shards, rep.Result)
	}
	if cerr := ck.close(end); err == nil {
		err = cerr
	}
	rep.Elapsed = time.Since(start)
	return err
}

// existing reports whether the journal at path holds a run to continue:
// it exists and has the run's params. An empty file is not a run (a
// replica killed as it created its journal); any other file is an error.
func existing(path, params string) (bool, error) {
	if path == "" {
		return false, nil
	}
	st, err := os.Stat(path)
	if errors.Is(err, fs.ErrNotExist) {
		return false, nil
	}
	if err != nil {
		return false, fmt.Errorf("journal: %w", err)
	}
	if st.Size() == 0 {
		return false, nil
	}
	jr, err := mmap.Open(path)
	if err != nil {
		return false, err
	}
	defer jr.Close()
	if jr.Params() != params {
		return false, fmt.Errorf("journal: %s holds another run (params %q), not %q", path, jr.Params(), params)
	}
	return true, nil
}
