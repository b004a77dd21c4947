package recovery

import (
	"errors"
	"fmt"
	"io/fs"
	"os"

	"github.com/lexbench/lexbench/engine"
	"github.com/lexbench/lexbench/journal/mmap"
	"github.com/lexbench/lexbench/runfile"
	"github.com/lexbench/lexbench/snapshot"
)

// Setup is a new journaled run: `lexbench <workload> --journal J` or
// `lexbench run FILE.lxm --journal J`.
type Setup struct {
	Journal string
	Params  string
	Opts    snapshot.Options // with SnapshotEvery > 0, snapshots beside the journal
	Program *runfile.Program // nil: a native workload
	Force   bool             // --force: replace an existing journal
}

// SetupError is a set-up failure and the flag it concerns (--journal,
// --snapshot-every).
type SetupError struct {
	Flag string
	Err  error
}

func (e *SetupError) Error() string { return e.Flag + ": " + e.Err.Error() }
func (e *SetupError) Unwrap() error { return e.Err }

// Journaled is a run's journal, run file and snapshots, set up by Begin.
type Journaled struct {
	Writer *mmap.Writer
	Snaps  *Snapshotter // nil without snapshots
	Run    *runfile.Run
	path   string
}

// Begin sets up a journaled run, in an order that leaves every existing
// byte as it was if any step fails:
//
//  1. checks that need no writes: the snapshot directory J.snapshots is a
//     directory or absent (when snapshots are asked for), the run file
//     J.run is a regular file or absent;
//  2. mmap.Create takes the lock of an existing journal (ErrLocked while
//     another process writes it), refuses to replace a journal that is not
//     empty without Force (*mmap.ExistsError), and writes the new journal
//     as a new file beside J;
//  3. in Create's Prepare step, before the new journal replaces J: the
//     snapshot directory is created if needed, and the run file is written
//     (a new run id, the new file's FileID, params, options, program,
//     state running), replacing the old run's;
//  4. the new journal is renamed over J; only then are the old run's
//     snapshots removed.
//
// If step 4's rename fails after step 3 wrote the run file, the old run
// file is put back. A crash between the two renames leaves a run file
// whose FileID is not J's: resume and replay refuse it.
func Begin(s Setup) (*Journaled, error) {
	dir := snapshot.Dir(s.Journal)
	if s.Opts.SnapshotEvery > 0 {
		if st, err := os.Lstat(dir); err == nil && !st.IsDir() {
			return nil, &SetupError{"--snapshot-every", fmt.Errorf("%s exists and is not a directory (the snapshots of %s go there)", dir, s.Journal)}
		} else if err != nil && !errors.Is(err, fs.ErrNotExist) {
			return nil, &SetupError{"--snapshot-every", err}
		}
	}
	rfPath := runfile.Path(s.Journal)
	oldRun, err := os.ReadFile(rfPath)
	if st, lerr := os.Lstat(rfPath); lerr == nil && !st.Mode().IsRegular() {
		return nil, &SetupError{"--journal", fmt.Errorf("%s exists and is not a regular file (the run file of %s goes there)", rfPath, s.Journal)}
	} else if err != nil && !errors.Is(err, fs.ErrNotExist) {
		return nil, &SetupError{"--journal", err}
	}
	id, err := runfile.NewID()
	if err != nil {
		return nil, &SetupError{"--journal", err}
	}
	run := &runfile.Run{ID: id, Params: s.Params, Opts: s.Opts, Program: s.Program}
	durable := s.Opts.Sync != mmap.SyncNone
	madeDir, wroteRun := false, false
	prepare := func(fid mmap.FileID) error {
		if s.Opts.SnapshotEvery > 0 {
			if _, err := os.Stat(dir); errors.Is(err, fs.ErrNotExist) {
				if err := os.Mkdir(dir, 0o755); err != nil {
					return &SetupError{"--snapshot-every", err}
				}
				madeDir = true
			}
		}
		run.Journal = fid
		if err := runfile.Write(rfPath, run, durable); err != nil {
			return &SetupError{"--journal", err}
		}
		wroteRun = true
		return nil
	}
	w, err := mmap.Create(s.Journal, s.Params, mmap.Options{Sync: s.Opts.Sync, Overwrite: s.Force, Prepare: prepare})
	if err != nil {
		if wroteRun { // put the old run's file back (or remove ours)
			if oldRun != nil {
				_ = os.WriteFile(rfPath, oldRun, 0o644)
			} else {
				_ = os.Remove(rfPath)
			}
		}
		if madeDir {
			_ = os.Remove(dir)
		}
		var se *SetupError
		if errors.As(err, &se) {
			return nil, err
		}
		return nil, &SetupError{"--journal", err}
	}
	j := &Journaled{Writer: w, Run: run, path: s.Journal}
	if err := snapshot.Clear(dir); err != nil && s.Opts.SnapshotEvery > 0 {
		j.Abort()
		return nil, &SetupError{"--snapshot-every", err}
	}
	if s.Opts.SnapshotEvery > 0 {
		if j.Snaps, err = NewSnapshotter(s.Journal, w, s.Params, s.Opts, id); err != nil {
			j.Abort()
			return nil, &SetupError{"--snapshot-every", err}
		}
	}
	return j, nil
}

// Close closes the journal (Writer.Close) and records in the run file that
// the run closed it, with its size and trace hash: state ended, or
// interrupted for a run stopped before its end (engine.Stopped). After an
// error of the run itself (runErr) the journal is closed and the run file
// says ended: a resume would meet the same error.
func (j *Journaled) Close(res engine.Result, runErr error) error {
	if err := j.Writer.Close(); err != nil {
		return err
	}
	durable := j.Run.Opts.Sync != mmap.SyncNone
	if runErr != nil { // the engine returned no result: read the journal's trace
		sum, err := mmap.Verify(j.path)
		if err != nil {
			return err
		}
		res.Trace = sum.Trace
	}
	return finish(j.path, j.Run, j.Writer.Size(), res.Trace, res.Outcome == engine.Stopped, durable)
}

// Abort removes the journal the run created (the run file then names a
// file that is gone).
func (j *Journaled) Abort() { _ = j.Writer.Abort() }
