package partition

import (
	"bytes"
	"context"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/lexbench/lexbench/engine"
	"github.com/lexbench/lexbench/internal/golden"
	"github.com/lexbench/lexbench/internal/natsembed"
	"github.com/lexbench/lexbench/journal/mmap"
	"github.com/lexbench/lexbench/replica"
	"github.com/lexbench/lexbench/snapshot"
	"github.com/lexbench/lexbench/workloads"
)

// goldenRun is row r's run (params and run controls).
func goldenRun(t testing.TB, r golden.Row) *replica.Run {
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
	return &replica.Run{Spec: spec, P: p, Opts: o}
}

// runAll runs every partition of run as a goroutine over net, journals in
// dir (if not ""), and returns their reports (errors fail the test unless
// wantErr).
func runAll(t testing.TB, run *replica.Run, P, shards int, dir string, every uint64, net *MemNet) ([]*Report, []error) {
	t.Helper()
	reps := make([]*Report, P)
	errs := make([]error, P)
	var wg sync.WaitGroup
	for k := range P {
		o := Options{Index: k, Count: P, Shards: shards, Sync: mmap.SyncNone}
		if dir != "" {
			o.Journal = filepath.Join(dir, fmt.Sprintf("p%d.lxj", k))
			o.SnapshotEvery = every
		}
		wg.Add(1)
		go func() {
			defer wg.Done()
			if reps[k], errs[k] = Run(run, o, net.Dial); errs[k] != nil {
				net.Close() // the others would wait for this partition forever
			}
		}()
	}
	wg.Wait()
	return reps, errs
}

func journals(dir string, P int) []string {
	var js []string
	for k := range P {
		js = append(js, filepath.Join(dir, fmt.Sprintf("p%d.lxj", k)))
	}
	return js
}

// singleJournal runs run in one process with a journal and returns the
// result and the journal's bytes.
func singleJournal(t testing.TB, run *replica.Run, dir string) (engine.Result, []byte) {
	t.Helper()
	path := filepath.Join(dir, "single.lxj")
	jw, err := mmap.Create(path, run.Params(), mmap.Options{Sync: mmap.SyncNone})
	if err != nil {
		t.Fatal(err)
	}
	cfg := run.Config(1)
	cfg.Journal = jw
	res, err := engine.Run(run.New(), cfg)
	if err != nil {
		t.Fatal(err)
	}
	if err := jw.Close(); err != nil {
		t.Fatal(err)
	}
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	return res, b
}

// mergeSet verifies a set of partition journals and merges it into a
// single-process journal, whose bytes it returns.
func mergeSet(t testing.TB, params string, paths []string, out string) (*SetSummary, []byte) {
	t.Helper()
	jw, err := mmap.Create(out, params, mmap.Options{Sync: mmap.SyncNone})
	if err != nil {
		t.Fatal(err)
	}
	sum, err := VerifySet(paths, jw)
	if cerr := jw.Close(); err == nil {
		err = cerr
	}
	if err != nil {
		t.Fatal(err)
	}
	b, err := os.ReadFile(out)
	if err != nil {
		t.Fatal(err)
	}
	return sum, b
}

func sameResult(a, b engine.Result) error {
	osc := func(o *engine.Oscillation) string {
		if o == nil {
			return "none"
		}
		return fmt.Sprint(*o)
	}
	if a.Trace != b.Trace || a.State != b.State || a.Outcome != b.Outcome || a.Ticks != b.Ticks || a.Msgs != b.Msgs ||
		a.Dropped != b.Dropped || a.Blocks != b.Blocks || a.Faults != b.Faults || osc(a.Oscillation) != osc(b.Oscillation) {
		return fmt.Errorf("trace %016x state %016x %s ticks %d msgs %d dropped %d blocks %d faults %+v osc %s; want %016x %016x %s %d %d %d %d %+v %s",
			a.Trace, a.State, a.Outcome, a.Ticks, a.Msgs, a.Dropped, a.Blocks, a.Faults, osc(a.Oscillation),
			b.Trace, b.State, b.Outcome, b.Ticks, b.Msgs, b.Dropped, b.Blocks, b.Faults, osc(b.Oscillation))
	}
	return nil
}

// TestPartitionsOfGoldenRows runs every golden row with n ≤ 1e6 as 1, 2 and 3
// partitions through nodes (encoded rounds, the chain handed on across
// partitions, partition journals): every partition ends with the row's
// hashes and the single-process result, and the set of partition journals
// verifies and merges into the single-process run's journal, byte for byte.
func TestPartitionsOfGoldenRows(t *testing.T) {
	for _, r := range golden.Read(t) {
		if r.N() > 1_000_000 || testing.Short() && r.N() > 100_000 {
			continue
		}
		t.Run(r.Name, func(t *testing.T) {
			run := goldenRun(t, r)
			dir := t.TempDir()
			single, sj := singleJournal(t, run, dir)
			for _, P := range []int{1, 2, 3} {
				net := NewMemNet(P)
				dir := filepath.Join(dir, fmt.Sprint(P))
				if err := os.Mkdir(dir, 0o755); err != nil {
					t.Fatal(err)
				}
				reps, errs := runAll(t, run, P, 1+P%2, dir, 0, net)
				for k := range P {
					if errs[k] != nil {
						t.Fatalf("P=%d partition %d: %v", P, k, errs[k])
					}
					got := reps[k].Result
					if fmt.Sprintf("%016x %016x %s", got.Trace, got.State, got.Outcome) != r.Trace+" "+r.State+" "+r.Outcome {
						t.Errorf("P=%d partition %d: %016x %016x %s, want %s %s %s", P, k, got.Trace, got.State, got.Outcome, r.Trace, r.State, r.Outcome)
					}
					if err := sameResult(got, single); err != nil {
						t.Errorf("P=%d partition %d: %v", P, k, err)
					}
				}
				sum, merged := mergeSet(t, run.Params(), journals(dir, P), filepath.Join(dir, "merged.lxj"))
				if fmt.Sprintf("%016x", sum.Trace) != r.Trace || sum.End == nil || sum.End.State != single.State {
					t.Errorf("P=%d: the journal set verifies to %016x (end %+v), want %s", P, sum.Trace, sum.End, r.Trace)
				}
				if !bytes.Equal(merged, sj) {
					t.Errorf("P=%d: the merged journal (%d bytes) is not the single-process journal (%d bytes)", P, len(merged), len(sj))
				}
			}
		})
	}
}

// failingTransport fails its Send after n chunks: a partition that dies.
type failingTransport struct {
	Transport
	n int
}

func (f *failingTransport) Send(round uint64, dst, i int, chunk []byte) error {
	if f.n == 0 {
		return fmt.Errorf("killed at round %d", round)
	}
	f.n--
	return f.Transport.Send(round, dst, i, chunk)
}

// TestPartitionRestart: one of three partitions dies mid-run (after its
// first snapshots); the others wait; it is started again on its journal,
// continues from its newest snapshot and the chunks kept for it (sending
// rounds it had sent again, which the others pass over), and every
// partition ends with the golden row's hashes; the journals verify.
func TestPartitionRestart(t *testing.T) {
	for _, name := range []string{"banking-100k", "local-osc-b64-damp", "faults-storm-dup", "sync-batch1"} {
		var r golden.Row
		for _, x := range golden.Read(t) {
			if x.Name == name {
				r = x
			}
		}
		t.Run(name, func(t *testing.T) {
			run := goldenRun(t, r)
			dir := t.TempDir()
			const P = 3
			net := NewMemNet(P)
			reps := make([]*Report, P)
			errs := make([]error, P)
			var wg sync.WaitGroup
			opts := func(k int) Options {
				return Options{Index: k, Count: P, Shards: 2, Journal: filepath.Join(dir, fmt.Sprintf("p%d.lxj", k)), SnapshotEvery: 3, Sync: mmap.SyncNone}
			}
			died := make(chan error, 1)
			for k := range P {
				wg.Add(1)
				go func() {
					defer wg.Done()
					if k != 1 {
						reps[k], errs[k] = Run(run, opts(k), net.Dial)
						return
					}
					_, err := Run(run, opts(k), func(k int, pos uint64) (Transport, error) {
						tr, err := net.Dial(k, pos)
						return &failingTransport{tr, 40}, err
					})
					died <- err
					// partition 1 died; it is started again on its journal
					reps[k], errs[k] = Run(run, opts(k), net.Dial)
				}()
			}
			wg.Wait()
			for k := range P {
				if errs[k] != nil {
					t.Fatalf("partition %d: %v", k, errs[k])
				}
				got := reps[k].Result
				if fmt.Sprintf("%016x %016x %s", got.Trace, got.State, got.Outcome) != r.Trace+" "+r.State+" "+r.Outcome {
					t.Errorf("partition %d: %016x %016x %s, want %s %s %s", k, got.Trace, got.State, got.Outcome, r.Trace, r.State, r.Outcome)
				}
			}
			if err := <-died; err == nil || !strings.Contains(err.Error(), "killed at round") {
				t.Errorf("partition 1 did not die: %v", err)
			}
			if reps[1].From == 0 {
				t.Errorf("partition 1 did not continue from a snapshot")
			}
			sum, err := VerifySet(journals(dir, P), nil)
			if err != nil || fmt.Sprintf("%016x", sum.Trace) != r.Trace {
				t.Errorf("verify: %v, %+v", err, sum)
			}
		})
	}
}

// runNATS runs every partition of run as a goroutine, each with its own
// connection to the server at url.
func runNATS(t testing.TB, run *replica.Run, P int, url, dir string, every uint64) ([]*Report, []error) {
	t.Helper()
	cuts, err := Cuts(run, P)
	if err != nil {
		t.Fatal(err)
	}
	reps := make([]*Report, P)
	errs := make([]error, P)
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	var wg sync.WaitGroup
	for k := range P {
		conn, err := replica.Connect(url, fmt.Sprintf("partition %d", k))
		if err != nil {
			t.Fatal(err)
		}
		defer conn.Close()
		dial, err := NATSDial(ctx, conn.JetStream(), Identity(run, cuts), NATSOptions{})
		if err != nil {
			t.Fatal(err)
		}
		o := Options{Index: k, Count: P, Shards: 1, Sync: mmap.SyncNone}
		if dir != "" {
			o.Journal, o.SnapshotEvery = filepath.Join(dir, fmt.Sprintf("p%d.lxj", k)), every
		}
		wg.Add(1)
		go func() {
			defer wg.Done()
			if reps[k], errs[k] = Run(run, o, dial); errs[k] != nil {
				cancel()
			}
		}()
	}
	wg.Wait()
	return reps, errs
}

// TestPartitionsOnNATS: golden rows (v1, faults, local detection with halt
// and damp) as 3 partitions exchanging their rounds through an embedded
// JetStream server: every partition ends with the row's hashes, and the
// journals verify.
func TestPartitionsOnNATS(t *testing.T) {
	srv, err := natsembed.Start("", "")
	if err != nil {
		t.Fatal(err)
	}
	defer srv.Shutdown()
	for _, r := range golden.Read(t) {
		switch r.Name {
		case "storm-seed42", "oscillation-damp1k", "faults-sync-delay", "local-osc-g64-halt", "local-osc-b64-damp", "conflict-c3":
		default:
			continue
		}
		if testing.Short() && r.Name != "local-osc-g64-halt" {
			continue
		}
		t.Run(r.Name, func(t *testing.T) {
			run := goldenRun(t, r)
			dir := t.TempDir()
			reps, errs := runNATS(t, run, 3, srv.URL(), dir, 5)
			for k, rep := range reps {
				if errs[k] != nil {
					t.Fatalf("partition %d: %v", k, errs[k])
				}
				got := rep.Result
				if fmt.Sprintf("%016x %016x %s", got.Trace, got.State, got.Outcome) != r.Trace+" "+r.State+" "+r.Outcome {
					t.Errorf("partition %d: %016x %016x %s, want %s %s %s", k, got.Trace, got.State, got.Outcome, r.Trace, r.State, r.Outcome)
				}
			}
			if sum, err := VerifySet(journals(dir, 3), nil); err != nil || fmt.Sprintf("%016x", sum.Trace) != r.Trace {
				t.Errorf("verify: %v %+v", err, sum)
			}
			t.Logf("%d rounds, %d bytes sent by partition 0, %v waiting", reps[0].Stats.Rounds, reps[0].Stats.BytesSent, reps[0].Stats.Wait)
		})
	}
}

// TestLargeRoundsOnNATS: rounds whose messages to one partition exceed a
// chunk (about 1 MiB) go as several NATS messages, each its own
// deduplication id (a bug once sent them under one id, and the server kept
// only the first: the run hung); the run ends as in one process.
func TestLargeRoundsOnNATS(t *testing.T) {
	srv, err := natsembed.Start("", "")
	if err != nil {
		t.Fatal(err)
	}
	defer srv.Shutdown()
	run := &replica.Run{Spec: &workloads.StormSpec, P: workloads.Params{N: 300_000, Seed: 3, Batch: 100_000, K: []uint64{2, 64}},
		Opts: snapshot.DefaultOptions()}
	single, err := engine.Run(run.New(), run.Config(1))
	if err != nil {
		t.Fatal(err)
	}
	reps, errs := runNATS(t, run, 3, srv.URL(), t.TempDir(), 2)
	for k, rep := range reps {
		if errs[k] != nil {
			t.Fatalf("partition %d: %v", k, errs[k])
		}
		if err := sameResult(rep.Result, single); err != nil {
			t.Errorf("partition %d: %v", k, err)
		}
		if k == 0 && rep.Stats.ChunksSent <= 2*rep.Stats.Rounds {
			t.Errorf("partition 0 sent %d chunks in %d rounds: no round was larger than a chunk", rep.Stats.ChunksSent, rep.Stats.Rounds)
		}
	}
}
