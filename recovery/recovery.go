// Package recovery starts journaled runs and continues and re-checks them
// from their journals: Begin (the set-up of `lexbench <workload> --journal
// J`), the snapshots a run writes (Snapshotter), `lexbench resume`
// (Resume), `lexbench replay` (Replay) and `lexbench verify` (Verify). It
// sits between the engine, the journal, the run file and the snapshot
// files; the CLI only parses flags and prints.
//
// # What a journal belongs to
//
// The journal's header holds the params (SPEC §3) and nothing else of the
// run. Begin writes the run file J.run (package runfile) beside it before
// the new journal replaces anything at J: the run's random id, the
// journal's FileID, its params, options and program, and its state. Resume
// and replay take the workload, the program and the options from it, so
// they need no flags; they refuse a run file whose params or FileID are not
// the journal's (another run's, or a journal replaced or copied since),
// and use only snapshots that carry the run file's id. Without a run file
// (a journal of another implementation, or one whose run file was removed)
// the workload is the native one the params name, or the program given,
// and the options are the caller's (the command's flags); no snapshot is
// used then. The fault settings (SPEC §7) are in the params, so resume and
// replay re-create the run's faults from them in either case.
//
// # Resume
//
// Resume locks the journal (one writer at a time), reads it once from the
// start, checking every block, and keeps the valid prefix: the blocks
// before a torn tail (which is cut off, the normal state after a crash), or
// the whole journal. Damage that is not a torn tail — anything with a
// valid block after it — is an error and the file is left as it is. A run
// file that says the run closed the journal must find it exactly as
// closed (size and trace hash). Resume then takes the newest snapshot of
// the run whose position (offset, block, chain hash) the read passed
// through, continues the run from it, and compares every block it produces
// over the kept prefix with the journal, byte for byte, instead of writing
// it (a difference is a Divergence, so resume also checks determinism);
// past the prefix, blocks are appended. Without a usable snapshot it does
// the same from tick 0. So the trace it prints is the hash of the journal
// it leaves, which `lexbench verify` then prints.
package recovery

import (
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"runtime"
	"sync/atomic"
	"time"

	"github.com/lexbench/lexbench/engine"
	"github.com/lexbench/lexbench/journal/mmap"
	"github.com/lexbench/lexbench/lang"
	"github.com/lexbench/lexbench/runfile"
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

// NewSnapshotter prepares the snapshot directory of the journal at path
// for the run with the given id (creating the directory if needed).
func NewSnapshotter(path string, j journalFile, params string, opts snapshot.Options, run [16]byte) (*Snapshotter, error) {
	dir := snapshot.Dir(path)
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return nil, fmt.Errorf("snapshot: %w", err)
	}
	// Only sync mode snapshot fsyncs snapshots: a snapshot is of use after
	// a machine crash only with the journal blocks it continues, and only
	// that mode makes them durable mid-run. Under end and none the rename
	// alone makes a snapshot atomic against a process crash (the measured
	// fsync cost was about 0.5 s per snapshot behind the journal's
	// writeback, BENCHMARKS.md).
	return &Snapshotter{dir: dir, j: j, snap: snapshot.Snapshot{Run: run, Params: params, Opts: opts},
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
	Journal string
	Shards  int // 0: engine.PredictShards for the machine and the workload
	// Opts are the run's options for a journal without a run file (nil:
	// the defaults). With a run file they must equal its budgets,
	// --on-oscillation and --detect, or be nil.
	Opts *snapshot.Options
	// MaxInFlight is the engine's in-flight bound for this resume or
	// replay (--max-inflight; it never changes a result, only whether the
	// run can finish). 0: the run's own (Options.MaxInFlight), or if it
	// gave none DefaultMaxInFlight.
	MaxInFlight int64
	// DefaultMaxInFlight is the bound when neither this request nor the
	// run gave one (the CLI's default for the machine; 0: the engine's
	// largest).
	DefaultMaxInFlight int64
	// Program is the program that wrote the journal, for a journal without
	// a run file; with one, it must be the recorded program (or nil).
	Program *runfile.Program
	// Watch, if set, is called with the report once its workload is made,
	// before the run, and returns the engine's Progress and OnCell for it
	// (either may be nil): the caller's progress line and cell events.
	Watch func(*Report) (progress func(tick, msgs uint64), onCell func(*engine.CellEvent))
	Stop  *atomic.Bool // see engine.Config.Stop
	// DiscardAfterSnapshot lets Resume continue a run whose journal (not
	// closed) is damaged after its newest usable snapshot: everything
	// after that snapshot is cut off and written again.
	DiscardAfterSnapshot bool

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
	Spec      *workloads.Spec
	P         workloads.Params
	Params    string
	Opts      snapshot.Options
	Program   *runfile.Program // the program that ran; nil for a native workload
	RunFile   string           // the run file used ("" for none)
	Workload  workloads.Workload
	Result    engine.Result
	Elapsed   time.Duration
	Shards    int    // the shard count used
	ShardsWhy string // why, when it was predicted

	From     uint64   // tick the run continued from (0: the start)
	Before   uint64   // messages delivered before From
	Snapshot string   // the snapshot used ("" for none)
	Rejected []string // snapshots not used, newest first, with the reason
	Notes    []string // what else the caller should tell the user
	Verified uint64   // blocks read and checked from the start
	Kept     uint64   // journal blocks kept
	Cut      int64    // bytes of torn tail cut off
	Torn     string   // what the torn tail was
	Checked  int64    // journal bytes re-executed and compared
	Snaps    *Snapshotter
	// Unchanged: the resume was stopped before it had re-checked the
	// journal's kept prefix, so it changed no file (Result is where it
	// stopped; the journal still goes on after it)
	Unchanged bool
}

// identify reads the journal's params and the run file beside it, checks
// that the run file belongs to the journal (params, FileID), and fills in
// the workload, parameters, options and program. It returns the run file
// (nil if there is none) and the offset of the journal's first block.
func identify(req *Request, id mmap.FileID, rep *Report) (*runfile.Run, int64, error) {
	r, err := mmap.Open(req.Journal)
	if err != nil {
		return nil, 0, err
	}
	rep.Params = r.Params()
	prologue := r.Offset()
	r.Close()
	rfPath := runfile.Path(req.Journal)
	rf, err := RunFile(req.Journal, rep.Params, id)
	if err != nil {
		return nil, 0, err
	}
	if rf == nil {
		rep.Notes = append(rep.Notes, fmt.Sprintf("no run file %s: the workload is the one the params name (or --program), the options come from the flags, no snapshot is used", rfPath))
	}
	prog, err := Program(req.Journal, rf, req.Program)
	if err != nil {
		return nil, 0, err
	}
	if rf != nil {
		rep.RunFile = rfPath
		if req.Opts != nil {
			o, g := *req.Opts, rf.Opts
			if o.MaxTicks != g.MaxTicks || o.MaxMsgs != g.MaxMsgs || o.Damp != g.Damp || o.NoDetect != g.NoDetect || o.Local != g.Local {
				return nil, 0, fmt.Errorf("the given budgets, --on-oscillation or --detect differ from the run's (%s records them); omit them", rfPath)
			}
		}
		rep.Opts = rf.Opts
	} else {
		rep.Opts = snapshot.DefaultOptions()
		if req.Opts != nil {
			rep.Opts = *req.Opts
		}
		rep.Opts.MaxInFlight = req.MaxInFlight // a flag, like the others
	}
	if prog != nil {
		p, err := lang.Compile(prog.Path, prog.Text)
		if err != nil {
			return nil, 0, fmt.Errorf("the program that wrote %s does not compile: %s", req.Journal, firstLine(err.Error()))
		}
		rep.Spec, rep.Program = p.Spec(), prog
		if rep.P, err = rep.Spec.Parse(rep.Params); err != nil {
			return nil, 0, fmt.Errorf("journal: %s: %w (not a journal of program %s)", req.Journal, err, prog.Path)
		}
	} else if rep.Spec, rep.P, err = workloads.ParseParams(rep.Params); err != nil {
		return nil, 0, fmt.Errorf("journal: %s: %w", req.Journal, err)
	}
	rep.Shards = req.Shards
	if rep.Shards == 0 {
		pred, err := engine.PredictShards(func() engine.Workload { return rep.Spec.New(rep.P) }, rep.Params, runtime.NumCPU(), min(rep.P.N/64, 1<<18))
		if err != nil {
			pred = engine.Prediction{Shards: 1, Why: "the probe failed"}
		}
		rep.Shards, rep.ShardsWhy = pred.Shards, pred.Why
	}
	return rf, prologue, nil
}

// RunFile reads the run file beside the journal at path (runfile.Path)
// and checks that it belongs to that journal, whose params text and FileID
// are given: nil and no error when there is none. A damaged run file, or
// one whose params or FileID are not the journal's (another run's, or a
// journal replaced or copied since its run), is an error naming it.
func RunFile(path, params string, id mmap.FileID) (*runfile.Run, error) {
	rfPath := runfile.Path(path)
	rf, err := runfile.Read(rfPath)
	switch {
	case errors.Is(err, fs.ErrNotExist):
		return nil, nil
	case err != nil:
		return nil, fmt.Errorf("%w (remove it to use the journal's params and the flags instead)", err)
	case rf.Params != params:
		return nil, fmt.Errorf("run file %s belongs to another journal: its params %q are not the journal's %q", rfPath, rf.Params, params)
	case rf.Journal != id:
		return nil, fmt.Errorf("run file %s was written for another journal file (%s; %s is %s): the journal was replaced, or copied without keeping its file, since its run; remove the run file to use the journal's params and the flags",
			rfPath, rf.Journal, path, id)
	}
	return rf, nil
}

// Program is the program that wrote the journal at path: the one its run
// file rf records (nil for a native workload), or without a run file the
// one given (--program; nil: the native workload the params name). With a
// run file, a given program must be the recorded one: a program given for
// a native workload's journal, or one whose text differs, is an error.
func Program(path string, rf *runfile.Run, given *runfile.Program) (*runfile.Program, error) {
	if rf == nil {
		return given, nil
	}
	switch {
	case rf.Program == nil && given != nil:
		return nil, fmt.Errorf("%s was written by the native workload, not by a program: omit --program", path)
	case rf.Program != nil && given != nil && given.Text != rf.Program.Text:
		return nil, fmt.Errorf("program %s (xxh64 %016x) differs from the program that wrote %s (%s, xxh64 %016x, recorded in %s)",
			given.Path, given.Hash(), path, rf.Program.Path, rf.Program.Hash(), runfile.Path(path))
	}
	return rf.Program, nil
}

func firstLine(s string) string {
	for i := range len(s) {
		if s[i] == '\n' {
			return s[:i]
		}
	}
	return s
}

// candidates are the run's snapshots that decode, newest first; the others
// are reported in rep.Rejected.
func candidates(path string, rf *runfile.Run, rep *Report) ([]*snapshot.Snapshot, error) {
	if rf == nil {
		return nil, nil
	}
	names, err := snapshot.List(snapshot.Dir(path))
	if err != nil {
		return nil, err
	}
	var out []*snapshot.Snapshot
	for _, name := range names {
		s, err := snapshot.Read(name)
		switch {
		case err != nil:
		case s.Run != rf.ID:
			err = fmt.Errorf("snapshot: %s: written by another run (%x, the journal's run is %x)", name, s.Run, rf.ID)
		case s.Params != rep.Params:
			err = fmt.Errorf("snapshot: %s: params %q differ from the journal's", name, s.Params)
		case s.Opts != rf.Opts:
			err = fmt.Errorf("snapshot: %s: options differ from the run file's", name)
		}
		if err != nil {
			rep.Rejected = append(rep.Rejected, err.Error())
			continue
		}
		out = append(out, s)
	}
	return out, nil
}

// scan reads the whole journal once from the start, checking every block
// (mmap.Reader), and returns the summary of its valid prefix and the chain
// positions at the offsets in want. A torn tail is reported in rep;
// corruption, and a read error, are errors.
func scan(path string, want map[int64]bool, rep *Report) (mmap.Summary, map[int64]mmap.Summary, error) {
	r, err := mmap.Open(path)
	if err != nil {
		return mmap.Summary{}, nil, err
	}
	defer r.Close()
	at := map[int64]mmap.Summary{}
	for {
		if want[r.Offset()] {
			at[r.Offset()] = r.Summary()
		}
		if _, _, err = r.Next(); err != nil {
			break
		}
	}
	sum := r.Summary()
	rep.Verified = sum.Blocks
	var d *mmap.Damage
	switch {
	case err == io.EOF:
	case errors.Is(err, mmap.ErrTornTail) && errors.As(err, &d):
		rep.Torn = d.What
	case errors.Is(err, mmap.ErrCorrupt):
		return sum, at, err
	default:
		return sum, nil, err
	}
	return sum, at, nil
}

// usable reports whether snapshot s continues the journal's chain where
// the read passed (at: the positions it recorded).
func usable(s *snapshot.Snapshot, at map[int64]mmap.Summary) bool {
	cp := &s.CP
	got, ok := at[s.JournalSize]
	return ok && got.Blocks == cp.Blocks && got.Entries == cp.Entries && got.Trace == cp.Prev &&
		(cp.Blocks == 0 || got.LastTick == cp.LastTick)
}

// closedAsRecorded checks a journal whose run file says its run closed it.
func closedAsRecorded(path string, rf *runfile.Run, sum mmap.Summary, torn string) error {
	if rf == nil || rf.State == runfile.Running {
		return nil
	}
	if torn == "" && sum.Size == rf.Size && sum.Trace == rf.Trace {
		return nil
	}
	now := fmt.Sprintf("ends at %d bytes with trace %016x", sum.Size, sum.Trace)
	if torn != "" {
		now = fmt.Sprintf("has %d valid bytes (trace %016x), then %s", sum.Size, sum.Trace, torn)
	}
	return fmt.Errorf("journal: %s was closed by its run (%s) at %d bytes with trace %016x, but now %s: it changed after it was closed",
		path, rf.State, rf.Size, rf.Trace, now)
}

// config is the engine configuration that re-creates the run: the fault
// layer comes from the params (SPEC §7), the rest from the options; the
// shard count and the in-flight bound, which never change a result, may
// be the caller's.
func config(rep *Report, req *Request) engine.Config {
	o := rep.Opts
	inFlight := req.MaxInFlight
	if inFlight == 0 {
		inFlight = o.MaxInFlight
	}
	if inFlight == 0 {
		inFlight = req.DefaultMaxInFlight
	}
	return engine.Config{Params: rep.Params, Shards: rep.Shards, MaxTicks: o.MaxTicks, MaxMsgs: o.MaxMsgs,
		Damp: o.Damp, NoDetect: o.NoDetect, Detect: detection(o.Local), Stop: req.Stop,
		Faults: rep.P.Faults, MaxInFlight: inFlight}
}

func detection(local bool) engine.Detection {
	if local {
		return engine.DetectLocal
	}
	return engine.DetectGlobal
}

// Resume continues the interrupted run of the journal at req.Journal (see
// the package doc). Errors: mmap.ErrLocked while another process writes
// the journal; *mmap.Damage (ErrCorrupt) for damage that is not a torn
// tail; a *Divergence when the re-executed run differs from the kept
// prefix; plain errors naming the file otherwise. On an error before the
// run starts, the journal is unchanged.
func Resume(req Request) (*Report, error) {
	l, err := mmap.Lock(req.Journal)
	if err != nil {
		return nil, err
	}
	defer l.Release()
	rep := &Report{}
	rf, prologue, err := identify(&req, l.ID(), rep)
	if err != nil {
		return rep, err
	}
	params := rep.Params
	cands, err := candidates(req.Journal, rf, rep)
	if err != nil {
		return rep, err
	}
	want := map[int64]bool{}
	for _, s := range cands {
		want[s.JournalSize] = true
	}
	sum, at, err := scan(req.Journal, want, rep)
	if errors.Is(err, mmap.ErrCorrupt) {
		// Damage inside the journal is never cut off, unless the user asks
		// to continue from a snapshot before it (a machine crash can leave
		// pages after the last durable snapshot written out of order).
		var newest *snapshot.Snapshot
		for _, s := range cands {
			if usable(s, at) {
				newest = s
				break
			}
		}
		switch {
		case newest == nil || rf == nil || rf.State != runfile.Running:
			return rep, fmt.Errorf("%w (the journal is damaged, not torn: resume leaves it as it is; lexbench verify %s shows it)", err, req.Journal)
		case !req.DiscardAfterSnapshot:
			return rep, fmt.Errorf("%w (damage, not a torn tail: resume leaves it as it is; if the machine crashed while the run was writing, `lexbench resume %s --discard-after-snapshot` continues from its snapshot of tick %d and writes everything after it again)",
				err, req.Journal, newest.CP.Tick)
		}
		rep.Torn = "discarded after the snapshot of tick " + fmt.Sprint(newest.CP.Tick) + ": " + firstLine(err.Error())
		sum = at[newest.JournalSize]
		cands = []*snapshot.Snapshot{newest}
	} else if err != nil {
		return rep, err
	}
	if err := closedAsRecorded(req.Journal, rf, sum, rep.Torn); err != nil {
		return rep, err
	}
	pos := mmap.Position{Offset: prologue, Prev: trace.ParamsHash(params)}
	cfg := config(rep, &req)
	for _, s := range cands {
		cp := &s.CP
		if !usable(s, at) {
			rep.Rejected = append(rep.Rejected, fmt.Sprintf("snapshot: tick %d: its last block (%d, ending at offset %d) is not in the journal's valid prefix as it recorded it",
				cp.Tick, int64(cp.Blocks)-1, s.JournalSize))
			continue
		}
		pos = mmap.Position{Offset: s.JournalSize, Blocks: cp.Blocks, Entries: cp.Entries, Prev: cp.Prev,
			LastTick: cp.LastTick, Partial: cp.Blocks > 0 && cp.LastCount < trace.BlockEntriesMax}
		cfg.Resume = cp
		rep.From, rep.Before, rep.Snapshot = cp.Tick, cp.Msgs, filepath.Join(snapshot.Dir(req.Journal), snapshot.Name(cp.Tick))
		break
	}
	rep.Kept = sum.Blocks
	st, err := os.Stat(req.Journal)
	if err != nil {
		return rep, fmt.Errorf("journal: %w", err)
	}
	rep.Cut = st.Size() - sum.Size
	// A resume changes no file until the re-executed run has matched the
	// journal's whole kept prefix: only then (begin: at the first block it
	// appends, or at the end) does the run file say "running" — the
	// journal may change from there on —, is the torn tail cut and are
	// snapshots written. A journal without a run file gets one then (the
	// options and program it was resumed with, binding it for later
	// commands), and loses the snapshots of whatever run was there before.
	// So a resume that diverges (the wrong flags for a journal without a
	// run file), fails or is stopped before leaves every file as it was.
	run := rf
	if run == nil {
		id, err := runfile.NewID()
		if err != nil {
			return rep, fmt.Errorf("run file: %w", err)
		}
		run = &runfile.Run{ID: id, Journal: l.ID(), Params: params, Opts: rep.Opts, Program: rep.Program}
	}
	durable := rep.Opts.Sync != mmap.SyncNone
	var j *checked
	begin := func() (*mmap.Writer, error) {
		if rf == nil {
			if err := snapshot.Clear(snapshot.Dir(req.Journal)); err != nil {
				return nil, err
			}
		}
		run.State, run.Size, run.Trace = runfile.Running, 0, 0
		if err := runfile.Write(runfile.Path(req.Journal), run, durable); err != nil {
			return nil, err
		}
		rep.RunFile = runfile.Path(req.Journal)
		if rep.Opts.SnapshotEvery > 0 {
			var err error
			if rep.Snaps, err = NewSnapshotter(req.Journal, j, params, rep.Opts, run.ID); err != nil {
				return nil, err
			}
		}
		return l.Append(sum.Size, mmap.Options{Sync: rep.Opts.Sync})
	}
	f, err := os.Open(req.Journal)
	if err != nil {
		return rep, fmt.Errorf("journal: %w", err)
	}
	defer f.Close()
	j = newChecked(f, begin, pos.Offset, sum.Size, pos.Blocks)
	cfg.Journal = j
	if rep.Opts.SnapshotEvery > 0 {
		cfg.SnapshotEvery = rep.Opts.SnapshotEvery
		cfg.Snapshot = func(cp *engine.Checkpoint) error {
			if rep.Snaps == nil { // not begun: the snapshots there stay as they are
				return nil
			}
			return rep.Snaps.Snapshot(cp)
		}
	}
	if err = rep.run(req, cfg, j); err != nil {
		return rep, err
	}
	if rep.Result.Outcome == engine.Stopped && !j.begun() {
		rep.Unchanged = true // nothing changed: nothing to record
		return rep, nil
	}
	return rep, finish(req.Journal, run, j.Size(), rep.Result.Trace, rep.Result.Outcome == engine.Stopped, durable)
}

// finish records in the run file that the journal was closed, at size
// bytes with the given trace hash: at the run's end, or at a boundary
// before it (stopped).
func finish(path string, run *runfile.Run, size int64, trace uint64, stopped, durable bool) error {
	run.State, run.Size, run.Trace = runfile.Ended, size, trace
	if stopped {
		run.State = runfile.Interrupted
	}
	return runfile.Write(runfile.Path(path), run, durable)
}

func (rep *Report) run(req Request, cfg engine.Config, j *checked) error {
	wl := rep.Spec.New(rep.P)
	if req.Wrap != nil {
		wl = req.Wrap(wl)
	}
	rep.Workload = wl
	if req.Watch != nil {
		cfg.Progress, cfg.OnCell = req.Watch(rep)
	}
	if req.Configure != nil { // after Watch: it may wrap Progress
		if err := req.Configure(&cfg); err != nil {
			j.Close(false)
			return err
		}
	}
	start := time.Now()
	res, err := engine.Run(wl, cfg)
	if cerr := j.Close(res.Outcome == engine.Stopped); err == nil {
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

// Replay re-executes the run of the journal at req.Journal from its params
// (and its run file's program and options) and compares every block. A
// difference is a *Divergence; an intact journal gives the run's result.
// It holds the journal's shared lock: no writer can change it meanwhile.
func Replay(req Request) (*Report, error) {
	l, err := mmap.LockShared(req.Journal)
	if err != nil {
		return nil, err
	}
	defer l.Release()
	rep := &Report{}
	rf, prologue, err := identify(&req, l.ID(), rep)
	if err != nil {
		return rep, err
	}
	f, err := os.Open(req.Journal)
	if err != nil {
		return rep, fmt.Errorf("journal: %w", err)
	}
	defer f.Close()
	st, err := f.Stat()
	if err != nil {
		return rep, fmt.Errorf("journal: %w", err)
	}
	j := newChecked(f, nil, prologue, st.Size(), 0)
	cfg := config(rep, &req)
	cfg.Journal = j
	err = rep.run(req, cfg, j)
	var d *Divergence
	if errors.As(err, &d) && d.Ends && notClosed(req.Journal, rf) {
		return rep, &NotClosedError{Journal: req.Journal, Blocks: d.Block}
	}
	return rep, err
}

// NotClosedError is replay's answer for a journal whose run never closed
// it (killed, crashed): it ends where its run was stopped, which is no
// divergence; resume continues it.
type NotClosedError struct {
	Journal string
	Blocks  uint64 // the blocks it holds that replay compared, all equal
}

func (e *NotClosedError) Error() string {
	return fmt.Sprintf("journal: %s was not closed (its run was killed or crashed) and ends after %d blocks, all as the replay wrote them: `lexbench resume %s` continues it; replay compares closed journals",
		e.Journal, e.Blocks, e.Journal)
}

// notClosed reports whether the journal at path was not closed by its
// run: its run file says running, or without a run file its valid blocks
// are followed by a torn tail (a closed journal ends exactly after a
// block).
func notClosed(path string, rf *runfile.Run) bool {
	if rf != nil {
		return rf.State == runfile.Running
	}
	_, err := mmap.Verify(path)
	return errors.Is(err, mmap.ErrTornTail)
}

// Verify checks every block of the journal at path (mmap.Verify) and, when
// the run file beside it says its run closed it, that the journal is
// exactly as closed (a journal cut at a block boundary is otherwise a
// valid, shorter journal). The run file is read as resume, replay and log
// read it (RunFile): one that is there but damaged, unreadable or another
// journal's is an error naming it, never skipped, for without it a
// changed journal could not be told from a closed one. It returns the
// summary, the run file (nil if there is none) and the first problem. A
// journal being written is ErrLocked.
func Verify(path string) (mmap.Summary, *runfile.Run, error) {
	var id mmap.FileID
	l, lerr := mmap.LockShared(path)
	if errors.Is(lerr, mmap.ErrLocked) {
		return mmap.Summary{}, nil, lerr
	}
	if lerr == nil {
		id = l.ID()
		defer l.Release()
	}
	sum, err := mmap.Verify(path)
	if sum.Params == "" {
		return sum, nil, err
	}
	if lerr != nil { // the journal was read, yet not locked: a problem of its own
		return sum, nil, lerr
	}
	rf, rerr := RunFile(path, sum.Params, id)
	if rerr != nil { // the rule of resume, replay and log: a run file that is there must be the journal's
		return sum, nil, rerr
	}
	if rf == nil {
		return sum, nil, resumable(path, err)
	}
	if err == nil {
		err = closedAsRecorded(path, rf, sum, "")
	} else if d := (*mmap.Damage)(nil); errors.As(err, &d) && d.Torn() && rf.State != runfile.Running {
		err = fmt.Errorf("%w (its run closed it at %d bytes: this is damage, not a torn tail)", err, rf.Size)
		return sum, rf, err
	}
	return sum, rf, resumable(path, err)
}

// resumable adds to a torn tail of a journal that was not closed (its run
// file says running, or there is none) that resume continues it.
func resumable(path string, err error) error {
	if errors.Is(err, mmap.ErrTornTail) {
		return fmt.Errorf("%w: `lexbench resume %s` continues it", err, path)
	}
	return err
}
