package replica

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/lexbench/lexbench/engine"
	"github.com/lexbench/lexbench/internal/golden"
	"github.com/lexbench/lexbench/lang"
	"github.com/lexbench/lexbench/snapshot"
	"github.com/lexbench/lexbench/workloads"
)

// goldenRun is row r's replicated run: params from its params column,
// run controls from its args.
func goldenRun(t testing.TB, r golden.Row) *Run {
	t.Helper()
	spec, p, err := workloads.ParseParams(r.Params)
	if err != nil {
		t.Fatal(err)
	}
	c, err := r.Controls()
	if err != nil {
		t.Fatal(err)
	}
	o := snapshot.DefaultOptions()
	o.MaxTicks, o.MaxMsgs, o.Damp, o.Local = c.MaxTicks, c.MaxMsgs, c.Damp, c.Local
	return &Run{Spec: spec, P: p, Opts: o}
}

// publishMem records run's input into a new in-memory stream with chunks
// of about target bytes.
func publishMem(t testing.TB, run *Run, target int) (*memStream, *pubCore) {
	t.Helper()
	m := newMemStream()
	c := &pubCore{sink: m, target: target}
	if _, err := c.record(run); err != nil {
		t.Fatalf("%s: publish: %v", run.Params(), err)
	}
	return m, c
}

// replicate runs a replica of run from the stream, without a journal.
func replicate(run *Run, src chunkSource, start Position, shards int) (engine.Result, error) {
	w := run.New()
	in, err := InputsOf(w)
	if err != nil {
		return engine.Result{}, err
	}
	f := newFeed(src, start)
	cfg := run.Config(shards)
	cfg.OnCell = func(ev *engine.CellEvent) { f.noteDamp(in, ev) }
	res, err := engine.Run(newApplier(w, in, f), cfg)
	if ferr := f.finish(err == nil && quiesced(res)); err == nil {
		err = ferr
	}
	return res, err
}

func sameResult(a, b engine.Result) error {
	if a.Trace != b.Trace || a.State != b.State || a.Outcome != b.Outcome || a.Ticks != b.Ticks || a.Msgs != b.Msgs ||
		a.Dropped != b.Dropped || a.Blocks != b.Blocks || a.Faults != b.Faults || (a.Oscillation == nil) != (b.Oscillation == nil) ||
		a.Oscillation != nil && *a.Oscillation != *b.Oscillation {
		return fmt.Errorf("trace %016x state %016x %s ticks %d msgs %d dropped %d blocks %d osc %v, want %016x %016x %s %d %d %d %d %v",
			a.Trace, a.State, a.Outcome, a.Ticks, a.Msgs, a.Dropped, a.Blocks, a.Oscillation,
			b.Trace, b.State, b.Outcome, b.Ticks, b.Msgs, b.Dropped, b.Blocks, b.Oscillation)
	}
	return nil
}

// TestReplicaEqualsGoldenRows replicates every golden row with n ≤ 1e6
// through an in-memory stream cut into small chunks and compares each
// replica, at shard counts 1, 2 and 3, with the row and with the
// single-node run (outcome, ticks, msgs, figures, oscillation included).
func TestReplicaEqualsGoldenRows(t *testing.T) {
	for _, r := range golden.Read(t) {
		run := goldenRun(t, r)
		if run.P.N > 1_000_000 || testing.Short() && run.P.N > 30_000 {
			continue
		}
		t.Run(r.Name, func(t *testing.T) {
			single, err := engine.Run(run.New(), run.Config(1))
			if err != nil {
				t.Fatal(err)
			}
			m, _ := publishMem(t, run, 8<<10)
			for _, shards := range []int{1, 2, 3} {
				res, err := replicate(run, m.source(2), Position{Seq: 2}, shards)
				if err != nil {
					t.Fatalf("shards %d: %v", shards, err)
				}
				if got := fmt.Sprintf("%016x %016x %s", res.Trace, res.State, res.Outcome); got != r.Trace+" "+r.State+" "+r.Outcome {
					t.Errorf("shards %d: %s, want %s %s %s", shards, got, r.Trace, r.State, r.Outcome)
				}
				if err := sameResult(res, single); err != nil {
					t.Errorf("shards %d: %v", shards, err)
				}
				for k, v := range r.ExtraMap() {
					f := res.Faults
					if k == "ticks" && v != fmt.Sprint(res.Ticks) || k == "msgs" && v != fmt.Sprint(res.Msgs) ||
						k == "faults" && v != fmt.Sprintf("dropped=%d duplicated=%d delayed=%d", f.Dropped, f.Duplicated, f.Delayed) {
						t.Errorf("shards %d: %s: ticks %d msgs %d faults %+v, want %s", shards, k, res.Ticks, res.Msgs, f, v)
					}
				}
			}
		})
	}
}

// loadProgram compiles the program at path (workloads/lxm/NAME for a bare name).
func loadProgram(t testing.TB, path string) *workloads.Spec {
	t.Helper()
	if filepath.Base(path) == path {
		path = filepath.Join("../workloads/lxm", path)
	}
	src, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	p, err := lang.Compile(path, string(src))
	if err != nil {
		t.Fatal(err)
	}
	return p.Spec()
}

// TestReplicaOfPrograms replicates programs, whose booting generator
// domains are the input domains, and compares with their single-node runs.
func TestReplicaOfPrograms(t *testing.T) {
	cases := []struct {
		file string
		p    workloads.Params
	}{
		{"banking.lxm", workloads.Params{N: 20_000, Seed: 5, Batch: 300, K: []uint64{3, 3}}},
		{"storm.lxm", workloads.Params{N: 30_001, Seed: 2, Batch: 700, K: []uint64{3, 17}}},
		{"election.lxm", workloads.Params{N: 5000, Seed: 9, Batch: 64, K: []uint64{40, 8}}},
		{"oscillation.lxm", workloads.Params{N: 3000, Seed: 1, Batch: 256, K: []uint64{64, 4}}},
	}
	for _, c := range cases {
		spec := loadProgram(t, c.file)
		run := &Run{Spec: spec, P: c.p, Program: 1, Opts: snapshot.DefaultOptions()}
		single, err := engine.Run(run.New(), run.Config(1))
		if err != nil {
			t.Fatal(err)
		}
		m, _ := publishMem(t, run, 4<<10)
		for _, shards := range []int{1, 2, 3} {
			res, err := replicate(run, m.source(2), Position{Seq: 2}, shards)
			if err != nil {
				t.Fatalf("%s shards %d: %v", c.file, shards, err)
			}
			if err := sameResult(res, single); err != nil {
				t.Errorf("%s shards %d: %v", c.file, shards, err)
			}
		}
	}
}

// TestInputDomainHearingFromOthersIsRefused: a program whose booting
// domain receives messages from the domains it feeds cannot be replicated
// (the publisher runs the input domains alone); the replica says so at the
// first such message, at every shard count.
func TestInputDomainHearingFromOthersIsRefused(t *testing.T) {
	run := &Run{Spec: loadProgram(t, "testdata/echo.lxm"), P: workloads.Params{N: 100, Seed: 1, Batch: 7, K: []uint64{4, 1}},
		Program: 1, Opts: snapshot.DefaultOptions()}
	m, _ := publishMem(t, run, 4<<10)
	for _, shards := range []int{1, 2, 3} {
		_, err := replicate(run, m.source(2), Position{Seq: 2}, shards)
		want := "replica: tick 2: input domain 0 received a message from domain 1, which is not an input domain"
		if err == nil || !strings.HasPrefix(err.Error(), want) {
			t.Errorf("shards %d: error %v, want %q", shards, err, want)
		}
	}
}

// TestInputDomainFaultIsReplicated: a generator that faults ends every
// replica with the single-node run's error.
func TestInputDomainFaultIsReplicated(t *testing.T) {
	run := &Run{Spec: loadProgram(t, "testdata/divzero.lxm"), P: workloads.Params{N: 100, Seed: 1, Batch: 5, K: []uint64{2, 1}},
		Program: 1, Opts: snapshot.DefaultOptions()}
	_, want := engine.Run(run.New(), run.Config(1))
	if want == nil {
		t.Fatal("the single-node run does not fault")
	}
	m := newMemStream()
	c := &pubCore{sink: m, target: 4 << 10}
	if _, err := c.record(run); err == nil || err.Error() != want.Error() {
		t.Fatalf("publisher: %v, want %v", err, want)
	}
	for _, shards := range []int{1, 2, 3} {
		if _, err := replicate(run, m.source(2), Position{Seq: 2}, shards); err == nil || err.Error() != want.Error() {
			t.Errorf("shards %d: %v, want %v", shards, err, want)
		}
	}
}

// rewrite decodes every chunk of m, applies f to each segment and
// re-encodes them into chunks of the same segments.
func rewrite(t *testing.T, m *memStream, f func(s *Segment)) *memStream {
	t.Helper()
	out := newMemStream()
	var e encoder
	for _, b := range m.chunks {
		cr, err := openChunk(b)
		if err != nil {
			t.Fatal(err)
		}
		for {
			var s Segment
			emits, ok, err := cr.next(&s, nil)
			if err != nil {
				t.Fatal(err)
			}
			if !ok {
				break
			}
			s.Emits = emits
			f(&s)
			if err := e.add(&s); err != nil {
				t.Fatal(err)
			}
		}
		out.put(0, e.seal(cr.H.End, cr.H.EndTick, nil))
	}
	return out
}

// TestReplicaTakesInputFromTheStream: the replica does not run the input
// domains' transitions: a changed emission or a changed driver state in
// the stream changes its trace or state (and an unchanged rewrite does not).
func TestReplicaTakesInputFromTheStream(t *testing.T) {
	run := &Run{Spec: &workloads.BankingSpec, P: workloads.Params{N: 10_000, Seed: 1, Batch: 1000, K: []uint64{2, 2}}, Opts: snapshot.DefaultOptions()}
	single, err := engine.Run(run.New(), run.Config(1))
	if err != nil {
		t.Fatal(err)
	}
	m, _ := publishMem(t, run, 4<<10)
	same := rewrite(t, m, func(*Segment) {})
	res, err := replicate(run, same.source(2), Position{Seq: 2}, 2)
	if err != nil || sameResult(res, single) != nil {
		t.Fatalf("unchanged stream: %v %v", err, sameResult(res, single))
	}
	amount := rewrite(t, m, func(s *Segment) {
		if s.Tick == 3 && len(s.Emits) > 10 {
			s.Emits[10].B++
		}
	})
	res, err = replicate(run, amount.source(2), Position{Seq: 2}, 2)
	if err != nil || res.Trace == single.Trace {
		t.Errorf("changed amount: %v, trace %016x (the single-node run's is %016x)", err, res.Trace, single.Trace)
	}
	state := rewrite(t, m, func(s *Segment) {
		if s.Final && s.Tick == 9 {
			s.State[1] ^= 1 // the driver's rng after tick 9 (its last)
		}
	})
	res, err = replicate(run, state.source(2), Position{Seq: 2}, 2)
	if err != nil || res.Trace != single.Trace || res.State == single.State {
		t.Errorf("changed driver state: %v, trace %016x state %016x (single %016x %016x)", err, res.Trace, res.State, single.Trace, single.State)
	}
}

// TestRepublishedChunksAreAppliedOnce: a chunk stored twice (a publisher
// retried it) is applied once; a missing chunk is an error.
func TestRepublishedChunksAreAppliedOnce(t *testing.T) {
	run := &Run{Spec: &workloads.StormSpec, P: workloads.Params{N: 50_000, Seed: 3, Batch: 500, K: []uint64{3, 100}}, Opts: snapshot.DefaultOptions()}
	single, err := engine.Run(run.New(), run.Config(1))
	if err != nil {
		t.Fatal(err)
	}
	m, _ := publishMem(t, run, 4<<10)
	if len(m.chunks) < 6 {
		t.Fatalf("only %d chunks", len(m.chunks))
	}
	dup := newMemStream()
	for i, c := range m.chunks {
		dup.put(0, c)
		if i == 2 || i == 4 {
			dup.put(0, c)
			dup.put(0, m.chunks[i-1])
		}
	}
	res, err := replicate(run, dup.source(2), Position{Seq: 2}, 2)
	if err != nil || sameResult(res, single) != nil {
		t.Errorf("with chunks stored twice: %v %v", err, sameResult(res, single))
	}
	gap := newMemStream()
	for i, c := range m.chunks {
		if i != 3 {
			gap.put(0, c)
		}
	}
	if _, err := replicate(run, gap.source(2), Position{Seq: 2}, 2); err == nil || !strings.Contains(err.Error(), "segments are missing") {
		t.Errorf("with a chunk missing: %v", err)
	}
}

func cloneCheckpoint(cp *engine.Checkpoint) *engine.Checkpoint {
	c := *cp
	c.Words = append([]uint64(nil), cp.Words...)
	c.Pending = append(c.Pending[:0:0], cp.Pending...)
	c.Touched = append([]uint32(nil), cp.Touched...)
	c.SavedWords = append([]uint64(nil), cp.SavedWords...)
	c.SavedMsgs = append(c.SavedMsgs[:0:0], cp.SavedMsgs...)
	return &c
}

// TestReplicaContinuesFromACheckpointAndItsPosition: a replica resumed from
// any snapshot boundary, with the stream position the feed gave there,
// ends as the uninterrupted run.
func TestReplicaContinuesFromACheckpointAndItsPosition(t *testing.T) {
	runs := []*Run{
		{Spec: &workloads.BankingSpec, P: workloads.Params{N: 30_000, Seed: 3, Batch: 700, K: []uint64{3, 4}}},
		{Spec: &workloads.StormSpec, P: workloads.Params{N: 40_000, Seed: 4, Batch: 300, K: []uint64{5, 64}}},
		{Spec: &workloads.OscillationSpec, P: workloads.Params{N: 5_000, Seed: 1, Batch: 400, K: []uint64{32, 4}}},
	}
	for _, run := range runs {
		run.Opts = snapshot.DefaultOptions()
		run.Opts.Damp = run.Spec == &workloads.OscillationSpec
		single, err := engine.Run(run.New(), run.Config(1))
		if err != nil {
			t.Fatal(err)
		}
		m, _ := publishMem(t, run, 2<<10)
		type snap struct {
			cp  *engine.Checkpoint
			pos Position
		}
		var snaps []snap
		w := run.New()
		in, _ := InputsOf(w)
		f := newFeed(m.source(2), Position{Seq: 2})
		cfg := run.Config(2)
		cfg.SnapshotEvery = 3
		cfg.Snapshot = func(cp *engine.Checkpoint) error {
			snaps = append(snaps, snap{cloneCheckpoint(cp), f.position()})
			return nil
		}
		res, err := engine.Run(newApplier(w, in, f), cfg)
		if ferr := f.finish(quiesced(res)); err != nil || ferr != nil {
			t.Fatal(err, ferr)
		}
		if len(snaps) < 3 {
			t.Fatalf("%s: %d snapshots", run.Params(), len(snaps))
		}
		for _, s := range snaps {
			w := run.New()
			f := newFeed(m.source(s.pos.Seq), s.pos)
			cfg := run.Config(1 + int(s.cp.Tick%3))
			cfg.Resume = s.cp
			res, err := engine.Run(newApplier(w, in, f), cfg)
			if ferr := f.finish(err == nil && quiesced(res)); err == nil {
				err = ferr
			}
			if err != nil || sameResult(res, single) != nil {
				t.Errorf("%s: from tick %d at %+v: %v %v", run.Params(), s.cp.Tick, s.pos, err, sameResult(res, single))
			}
		}
	}
}

// TestDampOfAnInputDomainIsRefused: a cell that holds input domains and is
// damped (--detect local --on-oscillation damp) loses their messages,
// which the publisher delivered: the replica must fail with an error that
// says so, not with a mismatch of the stream, and must not report a
// result. Under halt the same run replicates exactly.
func TestDampOfAnInputDomainIsRefused(t *testing.T) {
	spec := loadProgram(t, "testdata/pingpong.lxm")
	for _, damp := range []bool{false, true} {
		run := &Run{Spec: spec, P: workloads.Params{N: 1, Seed: 1, Batch: 1, K: []uint64{3, 1}}, Program: 1, Opts: snapshot.DefaultOptions()}
		run.Opts.MaxTicks, run.Opts.Local, run.Opts.Damp = 50, true, damp
		single, err := engine.Run(run.New(), run.Config(1))
		if err != nil {
			t.Fatal(err)
		}
		m, _ := publishMem(t, run, 4<<10)
		res, err := replicate(run, m.source(2), Position{Seq: 2}, 2)
		if !damp {
			if err != nil || sameResult(res, single) != nil || res.Outcome != engine.Oscillating {
				t.Errorf("halt: %v, %v; want the single-node run %+v", err, sameResult(res, single), single)
			}
			continue
		}
		if single.Outcome != engine.Damped {
			t.Fatalf("single-node run: %s, want damped", single.Outcome)
		}
		if err == nil || !strings.Contains(err.Error(), "holds input domain 0 and was damped") || strings.Contains(err.Error(), "\n") {
			t.Errorf("damp: err %v, want a one-line error naming the damped input domain", err)
		}
	}
}

type endOfTick struct{ workloads.Workload }

func (endOfTick) EndTick(*engine.Outbox) {}

// TestEndOfTickWorkIsRefused: a workload with end-of-tick work cannot be
// replicated (its domains act without a message); the publisher and the
// replicas refuse it with ErrEndOfTick instead of diverging.
func TestEndOfTickWorkIsRefused(t *testing.T) {
	w := endOfTick{workloads.BankingSpec.New(workloads.BankingSpec.Defaults())}
	if _, err := InputsOf(w); !errors.Is(err, ErrEndOfTick) {
		t.Errorf("InputsOf: %v, want ErrEndOfTick", err)
	}
}
