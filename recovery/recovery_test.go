package recovery_test

import (
	"bytes"
	"errors"
	"io"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"

	"github.com/lexbench/lexbench/engine"
	"github.com/lexbench/lexbench/journal/mmap"
	"github.com/lexbench/lexbench/recovery"
	"github.com/lexbench/lexbench/runfile"
	"github.com/lexbench/lexbench/snapshot"
	"github.com/lexbench/lexbench/trace"
	"github.com/lexbench/lexbench/workloads"
)

type run struct {
	spec *workloads.Spec
	p    workloads.Params
	opts snapshot.Options
}

func (r run) params() string { return r.spec.Text(r.p) }

func newRun(name string, n, batch, k0, k1 uint64) run {
	s := workloads.Lookup(name)
	return run{spec: s, p: workloads.Params{N: n, Seed: 7, Batch: batch, K: []uint64{k0, k1}}, opts: snapshot.DefaultOptions()}
}

// record runs r with a journal at path (and snapshots if opts say so),
// set up and closed as the CLI does (Begin, Close); an earlier journal at
// path is replaced.
func record(t *testing.T, r run, path string, shards int) engine.Result {
	t.Helper()
	j, err := recovery.Begin(recovery.Setup{Journal: path, Params: r.params(), Opts: r.opts, Force: true})
	if err != nil {
		t.Fatal(err)
	}
	cfg := engine.Config{Params: r.params(), Shards: shards, MaxTicks: r.opts.MaxTicks, MaxMsgs: r.opts.MaxMsgs,
		Damp: r.opts.Damp, NoDetect: r.opts.NoDetect, Journal: j.Writer, Faults: r.p.Faults}
	if j.Snaps != nil {
		cfg.SnapshotEvery, cfg.Snapshot = r.opts.SnapshotEvery, j.Snaps.Snapshot
	}
	res, err := engine.Run(r.spec.New(r.p), cfg)
	if err != nil {
		t.Fatal(err)
	}
	if err := j.Close(res, nil); err != nil {
		t.Fatal(err)
	}
	res.Words = nil
	return res
}

// saved is a journal's files as a run left them.
type saved struct {
	journal []byte
	run     *runfile.Run
	snaps   map[string][]byte
}

func capture(t *testing.T, path string) saved {
	t.Helper()
	s := saved{snaps: map[string][]byte{}}
	var err error
	if s.journal, err = os.ReadFile(path); err != nil {
		t.Fatal(err)
	}
	if s.run, err = runfile.Read(runfile.Path(path)); err != nil {
		t.Fatal(err)
	}
	names, _ := snapshot.List(snapshot.Dir(path))
	for _, n := range names {
		s.snaps[filepath.Base(n)], _ = os.ReadFile(n)
	}
	return s
}

// crash leaves path as a run whose process died would: the journal file
// (the same file, rewritten in place) holding journal, the run file saying
// running, and the saved snapshots (none if !snaps).
func (s saved) crash(t *testing.T, path string, journal []byte, snaps bool) {
	t.Helper()
	if err := os.WriteFile(path, journal, 0o644); err != nil {
		t.Fatal(err)
	}
	r := *s.run
	r.State, r.Size, r.Trace = runfile.Running, 0, 0
	if err := runfile.Write(runfile.Path(path), &r, false); err != nil {
		t.Fatal(err)
	}
	dir := snapshot.Dir(path)
	_ = os.RemoveAll(dir)
	if err := os.MkdirAll(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	if snaps {
		for n, b := range s.snaps {
			if err := os.WriteFile(filepath.Join(dir, n), b, 0o644); err != nil {
				t.Fatal(err)
			}
		}
	}
}

// resumeCut crashes the run at path with its journal cut to cut bytes
// (with or without its snapshots), resumes it at the given shard count,
// and requires the uninterrupted result (want) and journal.
func (s saved) resumeCut(t *testing.T, path string, cut int64, snaps bool, shards int, want engine.Result) *recovery.Report {
	t.Helper()
	s.crash(t, path, s.journal[:cut], snaps)
	rep, err := recovery.Resume(recovery.Request{Journal: path, Shards: shards})
	if err != nil {
		t.Fatalf("cut at %d (snapshots %v): %v", cut, snaps, err)
	}
	if !same(rep.Result, want) {
		t.Fatalf("cut at %d (snapshots %v): %+v, want %+v", cut, snaps, rep.Result, want)
	}
	if got, _ := os.ReadFile(path); !bytes.Equal(got, s.journal) {
		t.Fatalf("cut at %d (snapshots %v): resumed journal differs from the uninterrupted one", cut, snaps)
	}
	return rep
}

func same(a, b engine.Result) bool {
	a.Words, b.Words = nil, nil
	return reflect.DeepEqual(a, b)
}

// blockOffsets lists the file offset of every block of a journal, read
// with the trace encoding alone (independent of the reader under test).
func blockOffsets(t *testing.T, b []byte) []int64 {
	t.Helper()
	plen, err := trace.DecodeFileHeader(b)
	if err != nil {
		t.Fatal(err)
	}
	var offs []int64
	for off := trace.PrologueSize(plen); off < len(b); {
		h, ok := trace.DecodeBlockHeader(b[off:])
		if !ok {
			t.Fatalf("no block at %d", off)
		}
		offs = append(offs, int64(off))
		off += trace.BlockHeaderSize + int(h.Count)*trace.EntrySize
	}
	return offs
}

// checkJournal verifies the journal at path and that it ends with trace.
func checkJournal(t *testing.T, path string, want engine.Result) {
	t.Helper()
	sum, err := mmap.Verify(path)
	if err != nil || sum.Trace != want.Trace || sum.Blocks != want.Blocks || sum.Entries != want.Entries {
		t.Fatalf("journal after resume: %+v %v, want trace %016x blocks %d", sum, err, want.Trace, want.Blocks)
	}
}

// TestResumeAfterCutAtEveryOffsetOfTheLastTwoBlocks cuts a journal at every
// byte offset of its last two blocks and resumes each, with the run's
// snapshots and without any: every one ends with the uninterrupted run's
// result and a journal equal to the uninterrupted one.
func TestResumeAfterCutAtEveryOffsetOfTheLastTwoBlocks(t *testing.T) {
	dir := t.TempDir()
	r := newRun("banking", 400, 16, 2, 3)
	r.opts.SnapshotEvery, r.opts.Sync = 4, mmap.SyncNone // thousands of resumes: no fsyncs
	path := filepath.Join(dir, "cut.lxj")
	want := record(t, r, path, 1)
	sv := capture(t, path)
	fullBytes := sv.journal
	offs := blockOffsets(t, fullBytes)
	if len(offs) < 4 || want.Ticks < 10 {
		t.Fatalf("journal too small: %d blocks, %d ticks", len(offs), want.Ticks)
	}
	fromSnap := 0
	for _, snaps := range []bool{true, false} {
		for cut := offs[len(offs)-2]; cut <= int64(len(fullBytes)); cut++ {
			rep := sv.resumeCut(t, path, cut, snaps, 1+int(cut%2), want)
			if rep.From > 0 {
				fromSnap++
			} else if snaps {
				t.Fatalf("cut at %d: snapshots were not used (%v)", cut, rep.Rejected)
			}
		}
	}
	if fromSnap == 0 {
		t.Fatal("no resume started from a snapshot")
	}
}

// TestResumeOfAnUnclosedJournal: a journal whose writer died keeps its
// preallocated zero tail; resume treats it as torn and finishes the run.
func TestResumeOfAnUnclosedJournal(t *testing.T) {
	dir := t.TempDir()
	for _, r := range []run{newRun("storm", 5000, 100, 3, 50), newRun("oscillation", 3000, 64, 50, 5), newRun("conflict", 3000, 128, 20, 3), newRun("sync", 3000, 64, 5, 4)} {
		r.opts.SnapshotEvery = 3
		if r.spec.Name == "oscillation" {
			r.opts.Damp = true
		}
		path := filepath.Join(dir, r.spec.Name+".lxj")
		want := record(t, r, path, 2)
		sv := capture(t, path)
		b := sv.journal
		offs := blockOffsets(t, b)
		for _, k := range []int{1, len(offs) / 3, len(offs) / 2, len(offs) - 1} {
			cut := offs[k] + 45 // inside block k
			sv.crash(t, path, append(bytes.Clone(b[:cut]), make([]byte, 1<<16)...), true)
			rep, err := recovery.Resume(recovery.Request{Journal: path, Shards: 3})
			if err != nil {
				t.Fatalf("%s cut in block %d: %v", r.spec.Name, k, err)
			}
			if !same(rep.Result, want) || rep.Torn == "" || rep.Opts != r.opts {
				t.Fatalf("%s cut in block %d: %+v torn %q opts %+v, want %+v", r.spec.Name, k, rep.Result, rep.Torn, rep.Opts, want)
			}
			checkJournal(t, path, want)
		}
	}
}

// TestEverySnapshotByteFlipIsRejected flips each byte of the newest
// snapshot: it is rejected, and resume uses the one before.
func TestEverySnapshotByteFlipIsRejected(t *testing.T) {
	dir := t.TempDir()
	r := newRun("banking", 500, 30, 1, 2)
	r.opts.SnapshotEvery, r.opts.Sync = 5, mmap.SyncNone
	path := filepath.Join(dir, "j.lxj")
	want := record(t, r, path, 1)
	sv := capture(t, path)
	names, err := snapshot.List(snapshot.Dir(path))
	if err != nil || len(names) != 2 {
		t.Fatalf("snapshots %v %v, want 2", names, err)
	}
	newest, _ := os.ReadFile(names[0])
	prev, err := snapshot.Read(names[1])
	if err != nil {
		t.Fatal(err)
	}
	fullBytes := sv.journal
	offs := blockOffsets(t, fullBytes)
	for i := range newest {
		bad := bytes.Clone(newest)
		bad[i] ^= 0x10
		if _, err := snapshot.Decode(bad); err == nil {
			t.Fatalf("flip of byte %d not detected", i)
		}
		if i%7 != 0 {
			continue // resume on a sample of the flips
		}
		sv.crash(t, path, fullBytes[:offs[len(offs)-1]+3], true)
		os.WriteFile(filepath.Join(snapshot.Dir(path), filepath.Base(names[0])), bad, 0o644)
		rep, err := recovery.Resume(recovery.Request{Journal: path, Shards: 2})
		if err != nil {
			t.Fatalf("flip %d: %v", i, err)
		}
		if !same(rep.Result, want) || rep.From != prev.CP.Tick || len(rep.Rejected) != 1 {
			t.Fatalf("flip %d: from %d rejected %v, want from %d", i, rep.From, rep.Rejected, prev.CP.Tick)
		}
	}
}

func TestSnapshotsDoNotDependOnTheShardCount(t *testing.T) {
	dir := t.TempDir()
	r := newRun("oscillation", 2000, 100, 17, 3)
	r.opts.SnapshotEvery = 2
	a, b := filepath.Join(dir, "a.lxj"), filepath.Join(dir, "b.lxj")
	record(t, r, a, 1)
	record(t, r, b, 3)
	na, _ := snapshot.List(snapshot.Dir(a))
	nb, _ := snapshot.List(snapshot.Dir(b))
	if len(na) == 0 || len(na) != len(nb) {
		t.Fatalf("snapshots %v %v", na, nb)
	}
	for i := range na {
		x, err1 := snapshot.Read(na[i])
		y, err2 := snapshot.Read(nb[i])
		if err1 != nil || err2 != nil || x.Run == y.Run {
			t.Fatalf("%v %v: two runs with one run id", err1, err2)
		}
		y.Run = x.Run // each run has its own id; everything else is canonical
		if !bytes.Equal(snapshot.Encode(nil, x), snapshot.Encode(nil, y)) {
			t.Fatalf("%s differs between 1 and 3 shards", filepath.Base(na[i]))
		}
	}
}

func TestResumeRefusesADamagedJournal(t *testing.T) {
	dir := t.TempDir()
	r := newRun("banking", 2000, 64, 1, 2)
	path := filepath.Join(dir, "j.lxj")
	record(t, r, path, 1)
	b, _ := os.ReadFile(path)
	offs := blockOffsets(t, b)
	b[offs[5]+trace.BlockHeaderSize+17] ^= 1 // an entry of block 5
	os.WriteFile(path, b, 0o644)
	_, err := recovery.Resume(recovery.Request{Journal: path, Shards: 1})
	var d *mmap.Damage
	if !errors.As(err, &d) || d.Block != 5 {
		t.Fatalf("err %v, want damage at block 5", err)
	}
	after, _ := os.ReadFile(path)
	if !bytes.Equal(after, b) {
		t.Fatal("resume changed a damaged journal")
	}
}

func TestResumeRejectsOptionsThatDifferFromTheSnapshots(t *testing.T) {
	dir := t.TempDir()
	r := newRun("banking", 2000, 64, 1, 2)
	r.opts.SnapshotEvery = 3
	path := filepath.Join(dir, "j.lxj")
	record(t, r, path, 1)
	o := snapshot.DefaultOptions()
	o.MaxTicks = 5
	if _, err := recovery.Resume(recovery.Request{Journal: path, Shards: 1, Opts: &o}); err == nil {
		t.Fatal("resume with a different --max-ticks accepted")
	}
}

func TestResumeWithABudgetFromTheSnapshot(t *testing.T) {
	dir := t.TempDir()
	r := newRun("storm", 20000, 100, 3, 40)
	r.opts.SnapshotEvery = 2
	r.opts.MaxMsgs = 9000
	path := filepath.Join(dir, "j.lxj")
	want := record(t, r, path, 1)
	if want.Outcome != engine.Budget {
		t.Fatalf("outcome %v, want budget", want.Outcome)
	}
	sv := capture(t, path)
	offs := blockOffsets(t, sv.journal)
	sv.crash(t, path, sv.journal[:offs[len(offs)-1]+1], true)
	rep, err := recovery.Resume(recovery.Request{Journal: path, Shards: 2})
	if err != nil || !same(rep.Result, want) || rep.From == 0 {
		t.Fatalf("%+v %v from %d, want %+v", rep.Result, err, rep.From, want)
	}
}

func TestReplayOfAnIntactJournal(t *testing.T) {
	dir := t.TempDir()
	for _, r := range []run{newRun("banking", 3000, 64, 2, 3), newRun("conflict", 3000, 100, 30, 3)} {
		path := filepath.Join(dir, r.spec.Name+".lxj")
		want := record(t, r, path, 2)
		rep, err := recovery.Replay(recovery.Request{Journal: path, Shards: 1})
		if err != nil || !same(rep.Result, want) {
			t.Fatalf("%s: %+v %v, want %+v", r.spec.Name, rep.Result, err, want)
		}
	}
}

// perturbed wraps a workload: at tick T, each transition of domain D emits
// one extra message to itself after its own (a changed transition).
type perturbed struct {
	workloads.Workload
	tick uint32
	dom  uint32
}

func (p *perturbed) Deliver(out *engine.Outbox, msgs []trace.Entry) {
	if out.Tick()-1 != p.tick {
		p.Workload.Deliver(out, msgs)
		return
	}
	for i, m := range msgs { // one at a time: the change is part of one transition
		p.Workload.Deliver(out, msgs[i:i+1])
		if m.Dst == p.dom {
			out.Emit(p.dom, p.dom, trace.KindData, 0xdead, 0xbeef)
		}
	}
}

// blocksOf decodes every block's entries of a journal, independently of
// the code under test.
func blocksOf(t *testing.T, path string) (bs [][]trace.Entry) {
	b, _ := os.ReadFile(path)
	plen, _ := trace.DecodeFileHeader(b)
	for off := trace.PrologueSize(plen); off < len(b); {
		h, _ := trace.DecodeBlockHeader(b[off:])
		var es []trace.Entry
		for i := 0; i < int(h.Count); i++ {
			es = append(es, trace.DecodeEntry(b[off+trace.BlockHeaderSize+i*trace.EntrySize:]))
		}
		bs = append(bs, es)
		off += trace.BlockHeaderSize + int(h.Count)*trace.EntrySize
	}
	return
}

func entryAt(es []trace.Entry, i int) *trace.Entry {
	if i < len(es) {
		return &es[i]
	}
	return nil
}

func TestReplayReportsThePerturbedBlockAndEntry(t *testing.T) {
	dir := t.TempDir()
	for _, c := range []struct {
		r         run
		tick, dom uint32
	}{
		{newRun("banking", 5000, 64, 3, 4), 9, 0},
		{newRun("storm", 20000, 500, 3, 30), 6, 1},
		{newRun("sync", 5000, 64, 5, 4), 11, 3},
	} {
		path := filepath.Join(dir, c.r.spec.Name+".lxj")
		record(t, c.r, path, 1)
		// the perturbed run's own journal, to find the expected place
		pj := filepath.Join(dir, c.r.spec.Name+"-p.lxj")
		jw, _ := mmap.Create(pj, c.r.params(), mmap.Options{})
		if _, err := engine.Run(&perturbed{c.r.spec.New(c.r.p), c.tick, c.dom}, engine.Config{
			Params: c.r.params(), Shards: 1, MaxTicks: -1, MaxMsgs: -1, Journal: jw}); err != nil {
			t.Fatal(err)
		}
		jw.Close()
		a, b := blocksOf(t, path), blocksOf(t, pj)
		bi := 0
		for bi < len(a) && bi < len(b) && reflect.DeepEqual(a[bi], b[bi]) {
			bi++
		}
		if bi == len(a) || bi == len(b) {
			t.Fatalf("%s: the perturbation changed no block", c.r.spec.Name)
		}
		e := 0
		for e < len(a[bi]) && e < len(b[bi]) && a[bi][e] == b[bi][e] {
			e++
		}
		wantJ, wantR := entryAt(a[bi], e), entryAt(b[bi], e)
		if wantR == nil || wantR.Tick <= c.tick {
			t.Fatalf("%s: first difference at block %d entry %d is not after tick %d", c.r.spec.Name, bi, e, c.tick)
		}
		for _, s := range []int{1, 2} {
			req := recovery.Request{Journal: path, Shards: s}
			req.Wrap = func(w workloads.Workload) workloads.Workload { return &perturbed{w, c.tick, c.dom} }
			_, err := recovery.Replay(req)
			var d *recovery.Divergence
			if !errors.As(err, &d) {
				t.Fatalf("%s: replay err %v, want a divergence", c.r.spec.Name, err)
			}
			if d.Block != uint64(bi) || d.Entry != e || d.Tick != wantR.Tick ||
				!reflect.DeepEqual(d.Journal, wantJ) || !reflect.DeepEqual(d.Replay, wantR) {
				t.Fatalf("%s shards %d: %v journal %+v replay %+v, want block %d entry %d %+v %+v",
					c.r.spec.Name, s, d, d.Journal, d.Replay, bi, e, wantJ, wantR)
			}
		}
	}
}

func TestReplayFindsAFlippedEntryAndAShortJournal(t *testing.T) {
	dir := t.TempDir()
	r := newRun("banking", 3000, 64, 2, 3)
	path := filepath.Join(dir, "j.lxj")
	record(t, r, path, 1)
	orig, _ := os.ReadFile(path)
	offs := blockOffsets(t, orig)
	b := bytes.Clone(orig)
	b[offs[7]+trace.BlockHeaderSize+3*trace.EntrySize+20] ^= 4 // block 7, entry 3, field a
	os.WriteFile(path, b, 0o644)
	_, err := recovery.Replay(recovery.Request{Journal: path, Shards: 2})
	var d *recovery.Divergence
	if !errors.As(err, &d) || d.Block != 7 || d.Entry != 3 || d.Journal.A^d.Replay.A != 4<<32 {
		t.Fatalf("flip: %v", err)
	}
	os.WriteFile(path, orig[:offs[9]], 0o644)
	_, err = recovery.Replay(recovery.Request{Journal: path, Shards: 1})
	if !errors.As(err, &d) || d.Block != 9 || d.Journal != nil {
		t.Fatalf("short journal: %v", err)
	}
	long := append(bytes.Clone(orig), orig[offs[2]:offs[3]]...)
	os.WriteFile(path, long, 0o644)
	_, err = recovery.Replay(recovery.Request{Journal: path, Shards: 1})
	if !errors.As(err, &d) || d.Block != uint64(len(offs)) {
		t.Fatalf("long journal: %v", err)
	}
}

var _ = io.EOF

// TestResumeBeforeTheFirstSnapshotUsesTheRunsOptions: the run file written
// at the run's start carries --on-oscillation damp to the resume; a damaged
// run file is an error, and the journal is left as it is.
func TestResumeBeforeTheFirstSnapshotUsesTheRunsOptions(t *testing.T) {
	dir := t.TempDir()
	r := newRun("oscillation", 3000, 64, 50, 5)
	r.opts.Damp, r.opts.SnapshotEvery = true, 1<<30
	path := filepath.Join(dir, "j.lxj")
	want := record(t, r, path, 1)
	if want.Outcome != engine.Damped {
		t.Fatalf("outcome %v, want damped", want.Outcome)
	}
	sv := capture(t, path)
	offs := blockOffsets(t, sv.journal)
	cut := sv.journal[:offs[len(offs)/2]+9]
	sv.crash(t, path, cut, true)
	rep, err := recovery.Resume(recovery.Request{Journal: path, Shards: 2})
	if err != nil || !same(rep.Result, want) || rep.From != 0 || rep.Opts != r.opts {
		t.Fatalf("%+v %v opts %+v, want %+v", rep.Result, err, rep.Opts, want)
	}
	sv.crash(t, path, cut, true)
	rf := runfile.Path(path)
	ob, _ := os.ReadFile(rf)
	ob[len(ob)/2] ^= 1
	os.WriteFile(rf, ob, 0o644)
	_, err = recovery.Resume(recovery.Request{Journal: path, Shards: 1})
	if err == nil || !strings.Contains(err.Error(), "run file") {
		t.Fatalf("damaged run file: %v", err)
	}
	if b, _ := os.ReadFile(path); !bytes.Equal(b, cut) {
		t.Fatal("resume with a damaged run file changed the journal")
	}
}

// TestResumeAndReplayOfAFaultyRun: with faults on (SPEC §7) the snapshots
// hold late messages (delayed ones and duplicates' copies); a resume from
// any cut, with or without snapshots and at another shard count, re-creates
// the same faults from the params and ends with the uninterrupted result
// and journal, and replay reports no divergence.
func TestResumeAndReplayOfAFaultyRun(t *testing.T) {
	dir := t.TempDir()
	r := newRun("storm", 3000, 40, 3, 50)
	r.p.Faults = engine.FaultParams{Drop: 30_000, Dup: 60_000, Delay: 150_000, MaxDelay: 40, Seed: 5}
	r.opts.SnapshotEvery = 3
	path := filepath.Join(dir, "faulty.lxj")
	want := record(t, r, path, 2)
	if want.Faults.Dropped == 0 || want.Faults.Duplicated == 0 || want.Faults.Delayed == 0 || want.Outcome != engine.Violated {
		t.Fatalf("the run has too few faults: %+v", want)
	}
	names, err := snapshot.List(snapshot.Dir(path))
	if err != nil || len(names) == 0 {
		t.Fatal("no snapshots", err)
	}
	late := 0
	for _, name := range names {
		s, err := snapshot.Read(name)
		if err != nil || s.CP.Faults == (engine.FaultCounts{}) {
			t.Fatalf("%s: %v, fault counts %+v", name, err, s.CP.Faults)
		}
		for _, e := range s.CP.Pending {
			if uint64(e.Tick) > s.CP.Tick {
				late++
			}
		}
	}
	if late == 0 {
		t.Fatalf("the snapshots (%v, run of %d ticks) hold no late message", names, want.Ticks)
	}
	sv := capture(t, path)
	fullBytes := sv.journal
	offs := blockOffsets(t, fullBytes)
	fromSnap := 0
	for i, cut := range offs[len(offs)/3:] {
		for _, snaps := range []bool{true, false} {
			if rep := sv.resumeCut(t, path, cut+int64(i%40), snaps, 1+i%3, want); rep.From > 0 {
				fromSnap++
			}
		}
	}
	if fromSnap == 0 {
		t.Fatal("no resume started from a snapshot")
	}
	rep, err := recovery.Replay(recovery.Request{Journal: path, Shards: 3})
	if err != nil || !same(rep.Result, want) {
		t.Fatalf("replay: %v %+v", err, rep)
	}
}
