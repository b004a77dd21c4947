package recovery_test

import (
	"bytes"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/lexbench/lexbench/engine"
	"github.com/lexbench/lexbench/journal/mmap"
	"github.com/lexbench/lexbench/recovery"
	"github.com/lexbench/lexbench/runfile"
	"github.com/lexbench/lexbench/snapshot"
	"github.com/lexbench/lexbench/trace"
)

// TestResumeVerifiesThePrefixBeforeTheSnapshot pins issue 15 #1: damage
// in the blocks before the newest snapshot — a flipped byte, a zeroed
// 4 KiB page — makes resume fail and leave the journal as it is, whether
// the run was closed or died; it never reports a result for a journal that
// does not verify. Without damage, the trace resume reports is the one
// Verify then computes.
func TestResumeVerifiesThePrefixBeforeTheSnapshot(t *testing.T) {
	dir := t.TempDir()
	r := newRun("banking", 20000, 64, 1, 2)
	r.opts.SnapshotEvery = 50
	path := filepath.Join(dir, "j.lxj")
	want := record(t, r, path, 1)
	sv := capture(t, path)
	offs := blockOffsets(t, sv.journal)
	newest, err := snapshot.Read(filepath.Join(snapshot.Dir(path), snapshot.Name(want.Ticks/50*50)))
	if err != nil {
		t.Fatal(err)
	}
	if newest.JournalSize < 1<<16 {
		t.Fatalf("newest snapshot at offset %d: too early for the test", newest.JournalSize)
	}
	flip := func(b []byte) []byte { b[offs[15]+trace.BlockHeaderSize+40] ^= 1; return b }
	zero := func(b []byte) []byte { clear(b[1<<15 : 1<<15+4096]); return b }
	for _, damage := range []func([]byte) []byte{flip, zero} {
		for _, died := range []bool{false, true} {
			bad := damage(bytes.Clone(sv.journal))
			if died {
				bad = append(bad[:len(bad)-100], make([]byte, 4096)...) // and a torn tail
				sv.crash(t, path, bad, true)
			} else {
				if err := os.WriteFile(path, bad, 0o644); err != nil { // the closed run's files, journal damaged
					t.Fatal(err)
				}
			}
			rep, err := recovery.Resume(recovery.Request{Journal: path, Shards: 2})
			if err == nil {
				t.Fatalf("resume of a journal damaged before its snapshot (run died %v): no error, trace %016x", died, rep.Result.Trace)
			}
			if !errors.Is(err, mmap.ErrCorrupt) {
				t.Fatalf("resume (run died %v): %v, want the damage", died, err)
			}
			if got, _ := os.ReadFile(path); !bytes.Equal(got, bad) {
				t.Fatalf("resume changed a damaged journal (run died %v)", died)
			}
		}
	}
	sv.crash(t, path, sv.journal[:offs[len(offs)-3]+77], true)
	rep, err := recovery.Resume(recovery.Request{Journal: path, Shards: 1})
	if err != nil || !same(rep.Result, want) || rep.From == 0 || rep.Verified == 0 {
		t.Fatalf("resume: %v from %d, verified %d", err, rep.From, rep.Verified)
	}
	sum, rf, err := recovery.Verify(path)
	if err != nil || sum.Trace != rep.Result.Trace || rf == nil || rf.State != runfile.Ended || rf.Trace != sum.Trace {
		t.Fatalf("verify after resume: %+v %+v %v, resume printed %016x", sum, rf, err, rep.Result.Trace)
	}
}

// TestANewRunDoesNotUseTheOldRunsFiles pins issue 15 #4: run A at J with
// snapshots and a budget, then run B at J with neither. A crashed B
// resumes as B (no budget, from tick 0: A's snapshots are not B's), and a
// finished B replays without a false divergence.
func TestANewRunDoesNotUseTheOldRunsFiles(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, "j.lxj")
	a := newRun("banking", 60000, 64, 1, 2)
	a.opts.SnapshotEvery, a.opts.MaxTicks = 50, 400
	ra := record(t, a, path, 1)
	if ra.Outcome != engine.Budget {
		t.Fatalf("run A: %v, want budget", ra.Outcome)
	}
	aSnaps, _ := snapshot.List(snapshot.Dir(path))
	aFiles := map[string][]byte{}
	for _, n := range aSnaps {
		aFiles[n], _ = os.ReadFile(n)
	}
	b := newRun("banking", 60000, 64, 1, 2)
	rb := record(t, b, path, 2)
	if rb.Outcome != engine.Converged || rb.Ticks <= 400 {
		t.Fatalf("run B: %v at %d, want converged after tick 400", rb.Outcome, rb.Ticks)
	}
	if names, _ := snapshot.List(snapshot.Dir(path)); len(names) != 0 {
		t.Fatalf("run B left run A's snapshots: %v", names)
	}
	rep, err := recovery.Replay(recovery.Request{Journal: path, Shards: 1})
	if err != nil || !same(rep.Result, rb) {
		t.Fatalf("replay of B: %v", err)
	}
	// B died mid-run, and A's snapshots are back beside it (say, copied
	// there): resume must not use them, nor A's budget.
	sv := capture(t, path)
	offs := blockOffsets(t, sv.journal)
	sv.crash(t, path, sv.journal[:offs[len(offs)*2/3]+5], false)
	for n, data := range aFiles {
		os.WriteFile(n, data, 0o644)
	}
	rep, err = recovery.Resume(recovery.Request{Journal: path, Shards: 1})
	if err != nil || !same(rep.Result, rb) || rep.From != 0 || len(rep.Rejected) != len(aFiles) {
		t.Fatalf("resume of B: %v, from %d, rejected %v; got %+v want %+v", err, rep.From, rep.Rejected, rep.Result, rb)
	}
	for _, r := range rep.Rejected {
		if !strings.Contains(r, "another run") {
			t.Errorf("rejected for %q, want: another run", r)
		}
	}
}

// TestARunFileBelongsToItsJournalFile: a run file is refused for a journal
// file it was not written for (the journal replaced by a copy, or another
// run's run file put beside it), and for one whose params differ; a closed
// journal cut at a block boundary is refused by resume and reported by
// Verify (it would otherwise read as a valid, shorter journal).
func TestARunFileBelongsToItsJournalFile(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, "j.lxj")
	r := newRun("storm", 20000, 100, 3, 40)
	r.opts.MaxMsgs = 9000
	record(t, r, path, 1)
	orig, _ := os.ReadFile(path)
	// a copy of the journal at the same path: another file
	os.Remove(path)
	os.WriteFile(path, orig, 0o644)
	for _, f := range []func() (*recovery.Report, error){
		func() (*recovery.Report, error) { return recovery.Resume(recovery.Request{Journal: path, Shards: 1}) },
		func() (*recovery.Report, error) { return recovery.Replay(recovery.Request{Journal: path, Shards: 1}) },
	} {
		if _, err := f(); err == nil || !strings.Contains(err.Error(), "another journal file") {
			t.Fatalf("journal replaced by a copy: %v", err)
		}
	}
	if got, _ := os.ReadFile(path); !bytes.Equal(got, orig) {
		t.Fatal("journal changed")
	}
	// another journal's run file
	other := filepath.Join(dir, "other.lxj")
	r2 := newRun("storm", 20001, 100, 3, 40)
	record(t, r2, other, 1)
	os.Remove(path)
	record(t, r, path, 1)
	ob, _ := os.ReadFile(runfile.Path(other))
	os.WriteFile(runfile.Path(path), ob, 0o644)
	if _, err := recovery.Replay(recovery.Request{Journal: path, Shards: 1}); err == nil || !strings.Contains(err.Error(), "another journal") {
		t.Fatalf("another journal's run file: %v", err)
	}
	// a closed journal cut at a block boundary
	record(t, r, path, 1)
	full, _ := os.ReadFile(path)
	offs := blockOffsets(t, full)
	os.WriteFile(path, full[:offs[len(offs)-2]], 0o644)
	if _, _, err := recovery.Verify(path); err == nil || !strings.Contains(err.Error(), "changed after it was closed") {
		t.Fatalf("verify of a closed journal cut at a block boundary: %v", err)
	}
	if _, err := recovery.Resume(recovery.Request{Journal: path, Shards: 1}); err == nil || !strings.Contains(err.Error(), "changed after it was closed") {
		t.Fatalf("resume of a closed journal cut at a block boundary: %v", err)
	}
}

// TestDiscardAfterSnapshotIsExplicit: a journal of a run that died with a
// page after its newest snapshot never written (and valid blocks after
// that page: out-of-order writeback in a machine crash) is damage; resume
// refuses it and names --discard-after-snapshot, which then continues from
// the snapshot and writes the rest again, byte for byte. A closed run's
// journal is refused either way.
func TestDiscardAfterSnapshotIsExplicit(t *testing.T) {
	dir := t.TempDir()
	r := newRun("banking", 20000, 64, 1, 2)
	r.opts.SnapshotEvery = 200
	path := filepath.Join(dir, "j.lxj")
	want := record(t, r, path, 1)
	sv := capture(t, path)
	newest, err := snapshot.Read(filepath.Join(snapshot.Dir(path), snapshot.Name(want.Ticks/200*200)))
	if err != nil {
		t.Fatal(err)
	}
	bad := bytes.Clone(sv.journal)
	page := (newest.JournalSize + 8192) / 4096 * 4096
	if page+4096+1<<15 > int64(len(bad)) {
		t.Fatalf("journal too short after the snapshot (%d of %d)", newest.JournalSize, len(bad))
	}
	clear(bad[page : page+4096])
	sv.crash(t, path, bad, true)
	_, err = recovery.Resume(recovery.Request{Journal: path, Shards: 1})
	if !errors.Is(err, mmap.ErrCorrupt) || !strings.Contains(err.Error(), "--discard-after-snapshot") {
		t.Fatalf("resume: %v", err)
	}
	if !bytes.Equal(readAll(t, path), bad) {
		t.Fatal("resume changed the journal")
	}
	rep, err := recovery.Resume(recovery.Request{Journal: path, Shards: 2, DiscardAfterSnapshot: true})
	if err != nil || !same(rep.Result, want) || rep.From != newest.CP.Tick {
		t.Fatalf("resume --discard-after-snapshot: %v from %d", err, rep.From)
	}
	if !bytes.Equal(readAll(t, path), sv.journal) {
		t.Fatal("the journal written again differs from the uninterrupted run's")
	}
	// the run closed its journal: damage after the snapshot is refused
	os.WriteFile(path, bad, 0o644) // the run file now says ended
	if _, err := recovery.Resume(recovery.Request{Journal: path, Shards: 1, DiscardAfterSnapshot: true}); err == nil {
		t.Fatal("a closed journal's damage was discarded")
	}
}

func readAll(t *testing.T, path string) []byte {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	return b
}
