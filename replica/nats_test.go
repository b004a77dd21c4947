package replica

import (
	"context"
	"encoding/json"
	"fmt"
	"github.com/lexbench/lexbench/runfile"
	"net"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/lexbench/lexbench/engine"
	"github.com/lexbench/lexbench/internal/natsembed"
	"github.com/lexbench/lexbench/journal/mmap"
	"github.com/lexbench/lexbench/snapshot"
	"github.com/lexbench/lexbench/workloads"
)

var natsURL string

func TestMain(m *testing.M) {
	s, err := natsembed.Start("", "")
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
	natsURL = s.URL()
	code := m.Run()
	s.Shutdown()
	os.Exit(code)
}

func connect(t testing.TB) *Conn {
	t.Helper()
	c, err := Connect(natsURL, t.Name())
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(c.Close)
	return c
}

// shortN is n, or a quarter of it with -short.
func shortN(n uint64) uint64 {
	if testing.Short() {
		return n / 4
	}
	return n
}

func testCtx(t testing.TB) context.Context {
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	t.Cleanup(cancel)
	return ctx
}

// TestPublishReplicateAgree: a publisher and three replicas (no journal,
// a journal with snapshots, another shard count) on the embedded server;
// every replica equals the single-node run and the agreement check passes.
func TestPublishReplicateAgree(t *testing.T) {
	ctx := testCtx(t)
	c := connect(t)
	run := &Run{Spec: &workloads.StormSpec, P: workloads.Params{N: shortN(200_000), Seed: 11, Batch: 1000, K: []uint64{3, 200}}, Opts: snapshot.DefaultOptions()}
	single, err := engine.Run(run.New(), run.Config(1))
	if err != nil {
		t.Fatal(err)
	}
	dir := t.TempDir()
	var wg sync.WaitGroup
	reports := make([]*ReplicaReport, 3)
	errs := make([]error, 3)
	for i := range reports {
		o := ReplicaOptions{Name: fmt.Sprintf("r%d", i+1), Shards: i + 1, Sync: mmap.SyncNone}
		if i > 0 {
			o.Journal = filepath.Join(dir, o.Name+".lxj")
			o.SnapshotEvery = 20
		}
		wg.Add(1)
		go func() { // replicas start before the publisher: they wait for the stream
			defer wg.Done()
			reports[i], errs[i] = RunReplica(ctx, connect(t), run, o)
		}()
	}
	pub, err := Publish(ctx, c, run, PublishOptions{ChunkBytes: 16 << 10})
	if err != nil {
		t.Fatal(err)
	}
	if pub.Complete || pub.Resumed || pub.Chunks < 10 || pub.Ops == 0 {
		t.Errorf("publish report %+v", pub)
	}
	wg.Wait()
	for i, rep := range reports {
		if errs[i] != nil {
			t.Fatalf("replica %d: %v", i+1, errs[i])
		}
		if err := sameResult(rep.Result, single); err != nil {
			t.Errorf("replica %d: %v", i+1, err)
		}
	}
	for i := 1; i < 3; i++ {
		if sum, err := mmap.Verify(filepath.Join(dir, fmt.Sprintf("r%d.lxj", i+1))); err != nil || sum.Trace != single.Trace {
			t.Errorf("journal of r%d: %v, trace %016x", i+1, err, sum.Trace)
		}
	}
	ag, err := Agree(ctx, c, run, AgreeOptions{Replicas: 3, Reference: true, Shards: 2})
	if err != nil {
		t.Fatal(err)
	}
	if !ag.Agreed() || ag.Compared != single.Blocks || len(ag.Replicas) != 3 {
		t.Errorf("agree: %+v %v %v %v", ag, ag.Divergence, ag.Mismatch, ag.Incomplete)
	}
	// A replica that diverges at block k: agree names k and who has what.
	kv, err := c.js.KeyValue(ctx, run.BucketName())
	if err != nil {
		t.Fatal(err)
	}
	k := single.Blocks / 2
	e, err := kv.Get(ctx, batchKey("r1", 0))
	if err != nil {
		t.Fatal(err)
	}
	first, hashes, err := decodeBatch(e.Value())
	if err != nil || first != 0 || uint64(len(hashes)) != single.Blocks {
		t.Fatalf("r1's batch: %d %d %v", first, len(hashes), err)
	}
	hashes[k] ^= 1
	if _, err := kv.Put(ctx, batchKey("bad", 0), encodeBatch(0, hashes)); err != nil {
		t.Fatal(err)
	}
	ag, err = Agree(ctx, c, run, AgreeOptions{Reference: true})
	if err != nil {
		t.Fatal(err)
	}
	d := ag.Divergence
	if d == nil || d.Block != k || len(d.Groups) != 2 || len(d.Groups[0].Names) != 4 || d.Groups[1].Names[0] != "bad" ||
		d.Groups[1].Hash != hashes[k] || !strings.Contains(ag.Incomplete[0], "bad: running") {
		t.Fatalf("agree with a divergent replica: %v, incomplete %v", d, ag.Incomplete)
	}
	t.Log(d)
	// Same blocks, another result: a mismatch.
	hashes[k] ^= 1
	end, _ := kv.Get(ctx, endKey("r1"))
	var rec EndRecord
	if err := json.Unmarshal(end.Value(), &rec); err != nil {
		t.Fatal(err)
	}
	rec.State = "0123456789abcdef"
	b, _ := json.Marshal(rec)
	for _, put := range []struct {
		key string
		val []byte
	}{{batchKey("bad", 0), encodeBatch(0, hashes)}, {endKey("bad"), b}} {
		if _, err := kv.Put(ctx, put.key, put.val); err != nil {
			t.Fatal(err)
		}
	}
	ag, err = Agree(ctx, c, run, AgreeOptions{Reference: true})
	if err != nil || ag.Divergence != nil || len(ag.Mismatch) != 1 || !strings.Contains(ag.Mismatch[0], "state") || ag.Agreed() {
		t.Fatalf("agree with a replica of another state: %v %v %v", err, ag.Divergence, ag.Mismatch)
	}
	// A second publisher finds the input complete and publishes nothing.
	again, err := Publish(ctx, c, run, PublishOptions{})
	if err != nil || !again.Complete || again.Chunks != 0 {
		t.Errorf("publishing again: %+v %v", again, err)
	}
	// A publisher with other run controls is refused.
	other := *run
	other.Opts.MaxTicks = 5
	if _, err := Publish(ctx, c, &other, PublishOptions{}); err == nil || !strings.Contains(err.Error(), "other run controls") {
		t.Errorf("other run controls: %v", err)
	}
}

// TestInterruptedPublisherContinues: a publisher stopped mid-run leaves a
// partial stream; the next one continues after its last chunk (checking
// it) and the replica, which waited meanwhile, ends as the single-node run.
func TestInterruptedPublisherContinues(t *testing.T) {
	ctx := testCtx(t)
	c := connect(t)
	run := &Run{Spec: &workloads.BankingSpec, P: workloads.Params{N: shortN(300_000), Seed: 2, Batch: 500, K: []uint64{4, 3}}, Opts: snapshot.DefaultOptions()}
	single, err := engine.Run(run.New(), run.Config(1))
	if err != nil {
		t.Fatal(err)
	}
	done := make(chan error, 1)
	var rep *ReplicaReport
	go func() {
		var err error
		rep, err = RunReplica(ctx, connect(t), run, ReplicaOptions{Name: "r1", Shards: 2})
		done <- err
	}()
	pctx, cancel := context.WithTimeout(ctx, 300*time.Millisecond)
	first, err := Publish(pctx, c, run, PublishOptions{ChunkBytes: 8 << 10, Rate: float64(run.P.N)}) // about a second
	cancel()
	if err == nil || first.Chunks == 0 {
		t.Fatalf("first publisher: %+v %v (want it cut off mid-run)", first, err)
	}
	second, err := Publish(ctx, c, run, PublishOptions{ChunkBytes: 8 << 10})
	if err != nil {
		t.Fatal(err)
	}
	_, whole := publishMem(t, run, 8<<10)
	if !second.Resumed || second.Skipped == 0 || second.Ops != whole.Ops || second.Chunks == 0 {
		t.Errorf("second publisher: %+v (the whole input has %d operations)", second, whole.Ops)
	}
	if err := <-done; err != nil {
		t.Fatal(err)
	}
	if err := sameResult(rep.Result, single); err != nil {
		t.Error(err)
	}
}

// TestReplicaRestartsFromItsSnapshot: a replica whose journal lost its
// tail continues from the newest snapshot that is still linked, at the
// stream position recorded with it (or, without it, one found by search),
// and ends as the single-node run; the bucket still agrees.
func TestReplicaRestartsFromItsSnapshot(t *testing.T) {
	ctx := testCtx(t)
	c := connect(t)
	run := &Run{Spec: &workloads.ConflictSpec, P: workloads.Params{N: shortN(100_000), Seed: 4, Batch: 300, K: []uint64{64, 3}}, Opts: snapshot.DefaultOptions()}
	single, err := engine.Run(run.New(), run.Config(1))
	if err != nil {
		t.Fatal(err)
	}
	if _, err := Publish(ctx, c, run, PublishOptions{ChunkBytes: 8 << 10}); err != nil {
		t.Fatal(err)
	}
	j := filepath.Join(t.TempDir(), "r.lxj")
	o := ReplicaOptions{Name: "r", Journal: j, Shards: 1, SnapshotEvery: 20, Sync: mmap.SyncNone}
	if rep, err := RunReplica(ctx, c, run, o); err != nil || sameResult(rep.Result, single) != nil {
		t.Fatal(err, sameResult(rep.Result, single))
	}
	names, err := snapshot.List(snapshot.Dir(j))
	if err != nil || len(names) != 2 {
		t.Fatalf("snapshots %v %v", names, err)
	}
	for k, drop := range []bool{false, true} {
		newest, err := snapshot.Read(names[0])
		if err != nil {
			t.Fatal(err)
		}
		older, err := snapshot.Read(names[1])
		if err != nil {
			t.Fatal(err)
		}
		// a crash: the journal ends inside the newest snapshot's last block,
		// and the run file says the run was still running
		if err := os.Truncate(j, newest.JournalSize-100); err != nil {
			t.Fatal(err)
		}
		rf, err := runfile.Read(runfile.Path(j))
		if err != nil {
			t.Fatal(err)
		}
		rf.State, rf.Size, rf.Trace = runfile.Running, 0, 0
		if err := runfile.Write(runfile.Path(j), rf, false); err != nil {
			t.Fatal(err)
		}
		if drop {
			os.Remove(filepath.Join(snapshot.Dir(j), positionName(older.CP.Tick)))
		}
		o.Shards = 2 + k
		rep, err := RunReplica(ctx, c, run, o)
		if err != nil {
			t.Fatal(err)
		}
		if rep.From != older.CP.Tick || !strings.Contains(rep.Located, map[bool]string{false: "snapshot", true: "search"}[drop]) {
			t.Errorf("continued from tick %d (%s), want %d (newest %d)", rep.From, rep.Located, older.CP.Tick, newest.CP.Tick)
		}
		if err := sameResult(rep.Result, single); err != nil {
			t.Error(err)
		}
		if sum, err := mmap.Verify(j); err != nil || sum.Trace != single.Trace {
			t.Errorf("journal after restart: %v %016x", err, sum.Trace)
		}
		ag, err := Agree(ctx, c, run, AgreeOptions{Replicas: 1, Reference: true})
		if err != nil || !ag.Agreed() {
			t.Errorf("agree: %v %v %v %v", err, ag.Divergence, ag.Mismatch, ag.Incomplete)
		}
		names, _ = snapshot.List(snapshot.Dir(j))
	}
}

// TestLocateFindsEveryTick: for every tick, the binary search finds where
// the tick's input starts, as the replica's feed records it.
func TestLocateFindsEveryTick(t *testing.T) {
	ctx := testCtx(t)
	c := connect(t)
	run := &Run{Spec: &workloads.StormSpec, P: workloads.Params{N: 20_000, Seed: 1, Batch: 97, K: []uint64{4, 10}}, Opts: snapshot.DefaultOptions()}
	if _, err := Publish(ctx, c, run, PublishOptions{ChunkBytes: 4 << 10}); err != nil {
		t.Fatal(err)
	}
	s, err := c.js.Stream(ctx, run.StreamName())
	if err != nil {
		t.Fatal(err)
	}
	// the feed's positions after each tick
	src, err := c.source(ctx, run, 2)
	if err != nil {
		t.Fatal(err)
	}
	f := newFeed(src, Position{Seq: 2})
	var want []Position
	for r := range f.recs {
		want = append(want, r.next)
		if r.end {
			break
		}
	}
	f.close()
	// tick t's input starts after the record of tick t-1 (ticks 0..T-1 have records)
	for tick := 1; tick < len(want); tick++ {
		p, err := locate(ctx, s, uint64(tick))
		if err != nil {
			t.Fatal(err)
		}
		if p.Ordinal != want[tick-1].Ordinal {
			t.Fatalf("tick %d: located %+v, want ordinal %d (%+v)", tick, p, want[tick-1].Ordinal, want[tick-1])
		}
		if err := checkPosition(ctx, s, p, uint64(tick)); err != nil {
			t.Errorf("tick %d: %v", tick, err)
		}
		if err := checkPosition(ctx, s, want[tick-1], uint64(tick)); err != nil {
			t.Errorf("tick %d: %v", tick, err)
		}
		if tick > 1 && checkPosition(ctx, s, want[tick-2], uint64(tick)) == nil {
			t.Errorf("tick %d: the position of tick %d passes as its", tick, tick-1)
		}
	}
}

// TestReplicaWaitsOutAServerRestart: a replica waiting mid-run for input
// outlives the server's shutdown and restart (same store, same port) and
// ends as the single-node run once the rest of the input is published.
func TestReplicaWaitsOutAServerRestart(t *testing.T) {
	ctx := testCtx(t)
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := l.Addr().String()
	l.Close()
	store := t.TempDir()
	srv, err := natsembed.Start(addr, store)
	if err != nil {
		t.Fatal(err)
	}
	url := srv.URL()
	run := &Run{Spec: &workloads.SyncSpec, P: workloads.Params{N: shortN(200_000), Seed: 8, Batch: 400, K: []uint64{16, 8}}, Opts: snapshot.DefaultOptions()}
	single, err := engine.Run(run.New(), run.Config(1))
	if err != nil {
		t.Fatal(err)
	}
	c, err := Connect(url, "publisher")
	if err != nil {
		t.Fatal(err)
	}
	pctx, cancel := context.WithTimeout(ctx, 300*time.Millisecond)
	if _, err := Publish(pctx, c, run, PublishOptions{ChunkBytes: 8 << 10, Rate: float64(run.P.N)}); err == nil {
		t.Fatal("the publisher was not cut off mid-run")
	}
	cancel()
	c.Close()
	rc, err := Connect(url, "replica")
	if err != nil {
		t.Fatal(err)
	}
	defer rc.Close()
	done := make(chan error, 1)
	var rep *ReplicaReport
	go func() {
		var err error
		rep, err = RunReplica(ctx, rc, run, ReplicaOptions{Name: "r", Shards: 2, Journal: filepath.Join(t.TempDir(), "r.lxj")})
		done <- err
	}()
	time.Sleep(300 * time.Millisecond) // the replica consumes what there is and waits
	srv.Shutdown()
	time.Sleep(500 * time.Millisecond)
	if srv, err = natsembed.Start(addr, store); err != nil {
		t.Fatal(err)
	}
	defer srv.Shutdown()
	c, err = Connect(url, "publisher")
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	if p, err := Publish(ctx, c, run, PublishOptions{}); err != nil || !p.Resumed {
		t.Fatalf("publishing the rest: %+v %v", p, err)
	}
	if err := <-done; err != nil {
		t.Fatal(err)
	}
	if err := sameResult(rep.Result, single); err != nil {
		t.Error(err)
	}
}
