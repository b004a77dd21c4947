package recovery_test

import (
	"bytes"
	"os"
	"path/filepath"
	"reflect"
	"sync/atomic"
	"testing"

	"github.com/lexbench/lexbench/engine"
	"github.com/lexbench/lexbench/recovery"
	"github.com/lexbench/lexbench/runfile"
	"github.com/lexbench/lexbench/snapshot"
)

// files is everything a resume can change beside a journal: the journal,
// the run file (nil if none) and the snapshots.
type files struct {
	journal, run []byte
	snaps        map[string][]byte
}

func readFiles(t *testing.T, path string) files {
	t.Helper()
	f := files{snaps: map[string][]byte{}}
	var err error
	if f.journal, err = os.ReadFile(path); err != nil {
		t.Fatal(err)
	}
	f.run, _ = os.ReadFile(runfile.Path(path))
	entries, _ := os.ReadDir(snapshot.Dir(path))
	for _, e := range entries {
		f.snaps[e.Name()], _ = os.ReadFile(filepath.Join(snapshot.Dir(path), e.Name()))
	}
	return f
}

// TestAFailedResumeLeavesTheFilesAsTheyWere: a resume that diverges from
// its journal — given the wrong flags for a journal without a run file, or
// beside a run file whose options are not the run's — or that is stopped
// before it has re-checked the whole journal changes no file: it writes no
// run file (nor changes one), cuts no torn tail, writes and removes no
// snapshot. A resume with the right flags then ends with the
// uninterrupted run's result and journal.
func TestAFailedResumeLeavesTheFilesAsTheyWere(t *testing.T) {
	dir := t.TempDir()
	r := newRun("oscillation", 3000, 64, 50, 5)
	r.opts.Damp, r.opts.SnapshotEvery = true, 3
	path := filepath.Join(dir, "j.lxj")
	want := record(t, r, path, 1)
	if want.Outcome != engine.Damped {
		t.Fatalf("outcome %v, want damped", want.Outcome)
	}
	sv := capture(t, path)
	offs := blockOffsets(t, sv.journal)
	// a torn tail: a cut inside the last block but one, then zeros
	cut := append(bytes.Clone(sv.journal[:offs[len(offs)-2]+45]), make([]byte, 1<<12)...)
	wrong := r.opts
	wrong.MaxTicks = int64(want.Ticks / 2) // ends halfway: the journal goes on

	check := func(name string, before files, rep *recovery.Report, err error) {
		t.Helper()
		if err == nil && rep.Result.Outcome != engine.Stopped {
			t.Fatalf("%s: resumed: %+v", name, rep.Result)
		}
		if after := readFiles(t, path); !reflect.DeepEqual(after, before) {
			t.Fatalf("%s (%v): the files changed: run file %q, was %q; journal %d bytes, was %d; snapshots %d, were %d",
				name, err, after.run, before.run, len(after.journal), len(before.journal), len(after.snaps), len(before.snaps))
		}
	}
	resumes := func(name string, req recovery.Request) {
		t.Helper()
		rep, err := recovery.Resume(req)
		if err != nil || !same(rep.Result, want) {
			t.Fatalf("%s: %+v %v, want %+v", name, rep.Result, err, want)
		}
		if got, _ := os.ReadFile(path); !bytes.Equal(got, sv.journal) {
			t.Fatalf("%s: the resumed journal differs from the uninterrupted one", name)
		}
	}

	// no run file, the wrong flags
	sv.crash(t, path, cut, true)
	if err := os.Remove(runfile.Path(path)); err != nil {
		t.Fatal(err)
	}
	before := readFiles(t, path)
	rep, err := recovery.Resume(recovery.Request{Journal: path, Shards: 2, Opts: &wrong})
	check("no run file, wrong flags", before, rep, err)
	resumes("no run file, the run's flags", recovery.Request{Journal: path, Shards: 2, Opts: &r.opts})

	// a run file whose options are not the run's
	sv.crash(t, path, cut, true)
	bad := *sv.run
	bad.State, bad.Size, bad.Trace, bad.Opts = runfile.Running, 0, 0, wrong
	if err := runfile.Write(runfile.Path(path), &bad, false); err != nil {
		t.Fatal(err)
	}
	before = readFiles(t, path)
	rep, err = recovery.Resume(recovery.Request{Journal: path, Shards: 1})
	check("a run file with the wrong options", before, rep, err)

	// stopped while re-checking the journal (from tick 0: no snapshots)
	for _, runFile := range []bool{true, false} {
		sv.crash(t, path, cut, false)
		req := recovery.Request{Journal: path, Shards: 2}
		if !runFile {
			if err := os.Remove(runfile.Path(path)); err != nil {
				t.Fatal(err)
			}
			req.Opts = &r.opts
		}
		before = readFiles(t, path)
		var stop atomic.Bool
		req.Stop = &stop
		req.Watch = func(*recovery.Report) (func(tick, msgs uint64), func(*engine.CellEvent)) {
			return func(tick, msgs uint64) {
				if tick == 5 {
					stop.Store(true)
				}
			}, nil
		}
		rep, err = recovery.Resume(req)
		if err != nil || rep.Result.Outcome != engine.Stopped || !rep.Unchanged {
			t.Fatalf("stopped at tick 5 (run file %v): %+v %v", runFile, rep.Result, err)
		}
		check("stopped while re-checking", before, rep, err)
		req.Stop, req.Watch = nil, nil
		resumes("after a stop while re-checking", req)
	}
}
