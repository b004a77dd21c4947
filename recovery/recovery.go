// Package recovery continues and re-checks runs from their journals: the
// snapshots a run writes (Snapshotter), `lexbench resume` (Resume) and
// `lexbench replay` (Replay). It sits between the engine, the journal and
// the snapshot files; the CLI only parses flags and prints.
//
// # Resume
//
// Resume finds the newest snapshot that decodes, has the journal's params,
// and whose last block is in the journal (same offset, index, count and
// hash, the block's content hash checked). From that block on it reads the
// journal and keeps every block that is whole and links to the one before;
// the rest, a torn tail, is cut off (a normal state after a crash). A
// damaged block that is not a torn tail is an error: resume refuses to
// overwrite evidence. The run then continues from the snapshot, and every
// block it produces over the kept part of the journal is compared with it
// byte for byte instead of written (a difference is a Divergence, so
// resume also checks determinism); past it, blocks are appended. Without
// a usable snapshot it does the same from the start of the run. Either
// way the run re-executes only the ticks after its starting point, and it
// ends with the trace, state and outcome of an uninterrupted run.
//
// The options that shape a trace but are not in the params text (budgets,
// --on-oscillation, detection) come from the snapshot, or from the options
// file the run wrote into its snapshot directory at its start; a run
// without --snapshot-every has neither, and they come from the caller (the
// resume command's flags).
package recovery

import (
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"time"

	"github.com/cespare/xxhash/v2"
	"github.com/lexbench/lexbench/engine"
	"github.com/lexbench/lexbench/journal/mmap"
	"github.com/lexbench/lexbench/snapshot"
	"github.com/lexbench/lexbench/trace"
	"github.com/lexbench/lexbench/workloads"
)

// journalFile is what the Snapshotter needs of the run's journal.
type journalFile interface {
	Size() int64
	Sync() error
}

// Snapshotter writes a run's snapshots; its Snapshot method is the
// engine's Config.Snapshot.
type Snapshotter struct {
	dir     string
	j       journalFile
	snap    snapshot.Snapshot
	buf     []byte
	durable bool

	Count int           // snapshots written
	Bytes int64         // size of the last one
	Time  time.Duration // total time spent writing them (with syncs)
}

// NewSnapshotter prepares the snapshot directory of the journal at path.
// With fresh, the snapshots of an earlier run with that path are removed
// (the journal was created anew).
func NewSnapshotter(path string, j journalFile, params string, opts snapshot.Options, fresh bool) (*Snapshotter, error) {
	dir := snapshot.Dir(path)
	if fresh {
		if err := snapshot.Prepare(dir); err != nil {
			return nil, err
		}
		if err := snapshot.WriteOptions(dir, opts, opts.Sync == mmap.SyncSnapshot); err != nil {
			return nil, err
		}
	} else if err := os.MkdirAll(dir, 0o755); err != nil {
		return nil, fmt.Errorf("snapshot: %w", err)
	}
	// Only sync mode snapshot fsyncs snapshots: a snapshot is of use after
	// a machine crash only with the journal blocks it continues, and only
	// that mode makes them durable mid-run. Under end and none the rename
	// alone makes a snapshot atomic against a process crash (the measured
	// fsync cost was about 0.5 s per snapshot behind the journal's
	// writeback, BENCHMARKS.md).
	return &Snapshotter{dir: dir, j: j, snap: snapshot.Snapshot{Params: params, Opts: opts},
		durable: opts.Sync == mmap.SyncSnapshot}, nil
}

// Snapshot writes cp. With sync mode snapshot, the journal is made durable
// first and the snapshot is fsynced (file and directory), so a durable
// snapshot never refers to blocks that are not.
func (s *Snapshotter) Snapshot(cp *engine.Checkpoint) error {
	start := time.Now()
	if s.snap.Opts.Sync == mmap.SyncSnapshot {
		if err := s.j.Sync(); err != nil {
			return err
		}
	}
	s.snap.CP = *cp
	s.snap.JournalSize = s.j.Size()
	s.buf = snapshot.Encode(s.buf[:0], &s.snap)
	s.snap.CP = engine.Checkpoint{}
	if _, err := snapshot.Write(s.dir, cp.Tick, s.buf, s.durable); err != nil {
		return err
	}
	s.Count++
	s.Bytes = int64(len(s.buf))
	s.Time += time.Since(start)
	return nil
}

// Request is what Resume and Replay are asked to do.
type Request struct {
	Journal     string
	Shards      int
	MaxInFlight int64             // the engine's in-flight bound (0: its largest)
	Opts        *snapshot.Options // the run's options when no snapshot has them; nil: defaults
	Progress    func(tick, msgs uint64)

	// Wrap, if set, replaces the workload the run executes by what it
	// returns for it (a replica takes its input domains' transitions from
	// a stream, package replica; tests perturb transitions).
	Wrap func(workloads.Workload) workloads.Workload
	// Configure, if set, is called with the engine configuration just
	// before the run; it may wrap Journal, Snapshot and Progress (a
	// replica reads its block hashes and records its stream position).
	Configure func(*engine.Config) error
}

// Report is how a resume or replay went.
type Report struct {
	Spec     *workloads.Spec
	P        workloads.Params
	Params   string
	Opts     snapshot.Options
	Workload workloads.Workload
	Result   engine.Result
	Elapsed  time.Duration

	From     uint64   // tick the run continued from (0: the start)
	Before   uint64   // messages delivered before From
	Snapshot string   // the snapshot used ("" for none)
	Rejected []string // snapshots not used, newest first, with the reason
	Kept     uint64   // journal blocks kept
	Cut      int64    // bytes of torn tail cut off
	Torn     string   // what the torn tail was
	Checked  int64    // journal bytes re-executed and compared
	Snaps    *Snapshotter
}

// open reads the journal's prologue: a report with its params and
// workload, and the offset of its first block.
func open(path string) (*Report, int64, error) {
	r, err := mmap.Open(path)
	if err != nil {
		return nil, 0, err
	}
	defer r.Close()
	rep := &Report{Params: r.Params()}
	rep.Spec, rep.P, err = workloads.ParseParams(rep.Params)
	if err != nil {
		return nil, 0, fmt.Errorf("journal: %s: %w", path, err)
	}
	return rep, r.Offset(), nil
}

// candidate finds the newest usable snapshot. It also returns the options
// of the newest snapshot that decodes with these params (usable or not).
func candidate(path, params string, prologue int64, rep *Report) (*snapshot.Snapshot, *snapshot.Options, error) {
	names, err := snapshot.List(snapshot.Dir(path))
	if err != nil {
		return nil, nil, err
	}
	var opts *snapshot.Options
	for _, name := range names {
		s, err := snapshot.Read(name)
		if err == nil && s.Params != params {
			err = fmt.Errorf("snapshot: %s: params %q differ from the journal's", name, s.Params)
		}
		if err == nil && opts == nil {
			o := s.Opts
			opts = &o
		}
		if err == nil {
			err = linked(path, s, prologue)
		}
		if err != nil {
			rep.Rejected = append(rep.Rejected, err.Error())
			continue
		}
		return s, opts, nil
	}
	if opts == nil {
		o, err := snapshot.ReadOptions(snapshot.Dir(path))
		if err != nil {
			rep.Rejected = append(rep.Rejected, err.Error())
		}
		opts = o
	}
	return nil, opts, nil
}

// linked checks that the snapshot's last block is in the journal where the
// snapshot says, whole and with the hash the snapshot continues from.
func linked(path string, s *snapshot.Snapshot, prologue int64) error {
	cp := &s.CP
	bad := func(format string, a ...any) error {
		return fmt.Errorf("snapshot: tick %d: "+format, append([]any{cp.Tick}, a...)...)
	}
	if cp.Blocks == 0 {
		if s.JournalSize != prologue || cp.Prev != trace.ParamsHash(s.Params) {
			return bad("no blocks, but it does not start at the journal's first block")
		}
		return nil
	}
	size := int64(trace.BlockHeaderSize + int(cp.LastCount)*trace.EntrySize)
	off := s.JournalSize - size
	if cp.LastCount == 0 || off < prologue {
		return bad("last block outside the journal")
	}
	f, err := os.Open(path)
	if err != nil {
		return fmt.Errorf("journal: %w", err)
	}
	defer f.Close()
	b := make([]byte, size)
	if _, err := f.ReadAt(b, off); err != nil {
		return bad("its last block (%d at offset %d) is not in the journal", cp.Blocks-1, off)
	}
	h, ok := trace.DecodeBlockHeader(b)
	if !ok || h.Count != cp.LastCount || h.Index != cp.Blocks-1 || h.Hash != cp.Prev ||
		trace.BlockHash(h.Count, h.Index, h.Prev, xxhash.Sum64(b[trace.BlockHeaderSize:])) != h.Hash ||
		binary.LittleEndian.Uint32(b[trace.BlockHeaderSize:]) != cp.LastTick {
		return bad("its last block (%d at offset %d) does not match the journal", cp.Blocks-1, off)
	}
	return nil
}

// validEnd reads the journal from pos on and returns where its valid
// blocks end; a torn tail is reported in rep, corruption is an error.
func validEnd(path string, pos mmap.Position, rep *Report) (mmap.Summary, error) {
	r, err := mmap.OpenAt(path, pos)
	if err != nil {
		return mmap.Summary{}, err
	}
	defer r.Close()
	for {
		_, _, err = r.Next()
		if err != nil {
			break
		}
	}
	sum := r.Summary()
	var d *mmap.Damage
	switch {
	case errors.As(err, &d) && d.Torn():
		rep.Torn = d.What
	case errors.As(err, &d):
		return sum, fmt.Errorf("%w (damage, not a torn tail: resume refuses to overwrite it; see lexbench verify)", err)
	case !errors.Is(err, io.EOF):
		return sum, err
	}
	return sum, nil
}

func (req *Request) options(snapOpts *snapshot.Options) (snapshot.Options, error) {
	if snapOpts == nil {
		if req.Opts != nil {
			return *req.Opts, nil
		}
		return snapshot.DefaultOptions(), nil
	}
	if req.Opts != nil {
		o, g := *req.Opts, *snapOpts
		if o.MaxTicks != g.MaxTicks || o.MaxMsgs != g.MaxMsgs || o.Damp != g.Damp || o.NoDetect != g.NoDetect || o.Local != g.Local {
			return g, errors.New("the given budgets, --on-oscillation or --detect differ from the run's (in its snapshots); omit them")
		}
	}
	return *snapOpts, nil
}

// config is the engine configuration that re-creates the run: the fault
// layer comes from the params (SPEC §7), the rest from the options.
func config(rep *Report, req *Request) engine.Config {
	o := rep.Opts
	return engine.Config{Params: rep.Params, Shards: req.Shards, MaxTicks: o.MaxTicks, MaxMsgs: o.MaxMsgs,
		Damp: o.Damp, NoDetect: o.NoDetect, Detect: detection(o.Local), Progress: req.Progress, Faults: rep.P.Faults,
		MaxInFlight: req.MaxInFlight}
}

func detection(local bool) engine.Detection {
	if local {
		return engine.DetectLocal
	}
	return engine.DetectGlobal
}

// Resume continues the interrupted run of the journal at req.Journal (see
// the package doc).
func Resume(req Request) (*Report, error) {
	rep, prologue, err := open(req.Journal)
	if err != nil {
		return nil, err
	}
	params := rep.Params
	snap, snapOpts, err := candidate(req.Journal, params, prologue, rep)
	if err != nil {
		return nil, err
	}
	if rep.Opts, err = req.options(snapOpts); err != nil {
		return nil, err
	}
	pos := mmap.Position{Offset: prologue, Prev: trace.ParamsHash(params)}
	cfg := config(rep, &req)
	if snap != nil {
		cp := &snap.CP
		pos = mmap.Position{Offset: snap.JournalSize, Blocks: cp.Blocks, Entries: cp.Entries, Prev: cp.Prev,
			LastTick: cp.LastTick, Partial: cp.Blocks > 0 && cp.LastCount < trace.BlockEntriesMax}
		cfg.Resume = cp
		rep.From, rep.Before, rep.Snapshot = cp.Tick, cp.Msgs, filepath.Join(snapshot.Dir(req.Journal), snapshot.Name(cp.Tick))
	}
	sum, err := validEnd(req.Journal, pos, rep)
	if err != nil {
		return nil, err
	}
	rep.Kept = sum.Blocks
	st, err := os.Stat(req.Journal)
	if err != nil {
		return nil, fmt.Errorf("journal: %w", err)
	}
	rep.Cut = st.Size() - sum.Size
	w, err := mmap.OpenAppend(req.Journal, sum.Size, mmap.Options{Sync: rep.Opts.Sync})
	if err != nil {
		return nil, err
	}
	f, err := os.Open(req.Journal)
	if err != nil {
		w.Close()
		return nil, fmt.Errorf("journal: %w", err)
	}
	defer f.Close()
	j := newChecked(f, w, pos.Offset, sum.Size, pos.Blocks)
	cfg.Journal = j
	if rep.Opts.SnapshotEvery > 0 {
		rep.Snaps, err = NewSnapshotter(req.Journal, j, params, rep.Opts, false)
		if err != nil {
			j.Close()
			return nil, err
		}
		cfg.SnapshotEvery, cfg.Snapshot = rep.Opts.SnapshotEvery, rep.Snaps.Snapshot
	}
	return rep, rep.run(req, cfg, j)
}

func (rep *Report) run(req Request, cfg engine.Config, j *checked) error {
	wl := rep.Spec.New(rep.P)
	if req.Wrap != nil {
		wl = req.Wrap(wl)
	}
	rep.Workload = wl
	if req.Configure != nil {
		if err := req.Configure(&cfg); err != nil {
			j.Close()
			return err
		}
	}
	start := time.Now()
	res, err := engine.Run(wl, cfg)
	if cerr := j.Close(); err == nil {
		err = cerr
	}
	rep.Elapsed = time.Since(start)
	rep.Checked = j.compared
	rep.Result = res
	return err
}

// Size is the journal's logical size: the kept prefix as far as the run
// has re-executed it, then what it appended (for snapshots).
func (c *checked) Size() int64 { return c.pos }

// Sync compares what is pending and makes the appended part durable.
func (c *checked) Sync() error {
	if err := c.flush(); err != nil {
		return err
	}
	if c.w == nil {
		return nil
	}
	return c.w.Sync()
}

// Replay re-executes the run of the journal at req.Journal from the
// params in its header and compares every block. A difference is a
// *Divergence; an intact journal gives the run's result.
func Replay(req Request) (*Report, error) {
	rep, prologue, err := open(req.Journal)
	if err != nil {
		return nil, err
	}
	params := rep.Params
	var snapOpts *snapshot.Options
	if names, _ := snapshot.List(snapshot.Dir(req.Journal)); len(names) > 0 {
		for _, name := range names {
			if s, err := snapshot.Read(name); err == nil && s.Params == params {
				snapOpts = &s.Opts
				break
			}
		}
	}
	if snapOpts == nil {
		if snapOpts, err = snapshot.ReadOptions(snapshot.Dir(req.Journal)); err != nil {
			return nil, err
		}
	}
	if rep.Opts, err = req.options(snapOpts); err != nil {
		return nil, err
	}
	f, err := os.Open(req.Journal)
	if err != nil {
		return nil, fmt.Errorf("journal: %w", err)
	}
	defer f.Close()
	st, err := f.Stat()
	if err != nil {
		return nil, fmt.Errorf("journal: %w", err)
	}
	j := newChecked(f, nil, prologue, st.Size(), 0)
	cfg := config(rep, &req)
	cfg.Journal = j
	return rep, rep.run(req, cfg, j)
}
