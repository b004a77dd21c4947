package engine_test

import (
	"errors"
	"fmt"
	"maps"
	"reflect"
	"slices"
	"sync"
	"testing"

	"pgregory.net/rapid"

	"github.com/cespare/xxhash/v2"
	"github.com/lexbench/lexbench/engine"
	"github.com/lexbench/lexbench/internal/golden"
	"github.com/lexbench/lexbench/trace"
	"github.com/lexbench/lexbench/workloads"
)

// memHub carries the rounds of a partitioned run between partitions that
// run in one process (goroutines), and computes the trace's hash chain the
// plain way: it collects every partition's part of each tick, concatenates
// them in partition order and hashes the tick's blocks (SPEC §3). So the
// engine's partitioned mode is tested apart from package partition's
// hashing across processes.
type memHub struct {
	p     int
	mu    sync.Mutex
	cond  *sync.Cond
	round uint64
	msgs  []*engine.PartMsg // the round being gathered
	n     int               // how many have arrived
	out   [][]*engine.PartMsg
	taken int
	prev  uint64
	block uint64
	// rounds counts the rounds of each kind (tests).
	rounds [3]int
	failAt uint64 // fail the round with this number (0: never)
}

func newMemHub(p int, params string) *memHub {
	h := &memHub{p: p, msgs: make([]*engine.PartMsg, p), prev: trace.ParamsHash(params)}
	h.cond = sync.NewCond(&h.mu)
	return h
}

type memLink struct {
	h *memHub
	k int
}

func (l *memLink) Chain() (uint64, uint64) {
	l.h.mu.Lock()
	defer l.h.mu.Unlock()
	return l.h.prev, l.h.block
}

func cloneMsg(m *engine.PartMsg) *engine.PartMsg {
	c := *m
	c.To, c.Notices, c.Segment = nil, nil, nil
	c.Cycle, c.Words, c.Resolved = slices.Clone(m.Cycle), slices.Clone(m.Words), slices.Clone(m.Resolved)
	if m.Found != nil {
		f := *m.Found
		c.Found = &f
	}
	if m.Hit != nil {
		f := *m.Hit
		c.Hit = &f
	}
	return &c
}

func (l *memLink) Exchange(m *engine.PartMsg) ([]*engine.PartMsg, error) {
	h := l.h
	h.mu.Lock()
	defer h.mu.Unlock()
	for h.taken != 0 { // the last round is still being read
		h.cond.Wait()
	}
	round := h.round
	if h.msgs[l.k] != nil {
		return nil, fmt.Errorf("partition %d: two messages in round %d", l.k, round)
	}
	h.msgs[l.k] = m
	h.n++
	if h.n == h.p {
		if h.failAt != 0 && round+1 == h.failAt {
			h.out = nil
		} else if err := h.complete(); err != nil {
			return nil, err
		}
		h.round++
		h.n = 0
		clear(h.msgs)
		h.taken = h.p
		h.cond.Broadcast()
	}
	for h.round == round {
		h.cond.Wait()
	}
	out := h.out
	h.taken--
	if h.taken == 0 {
		h.cond.Broadcast()
	}
	if out == nil {
		return nil, errors.New("link: round failed")
	}
	return out[l.k], nil
}

// complete builds every partition's view of the round (copies: a sender
// reuses its buffers) and hashes the tick's blocks.
func (h *memHub) complete() error {
	kind := h.msgs[0].Kind
	for _, m := range h.msgs {
		if m.Kind != kind || m.Tick != h.msgs[0].Tick {
			return fmt.Errorf("round %d: partitions disagree on the round (%d %d, %d %d)", h.round, kind, h.msgs[0].Tick, m.Kind, m.Tick)
		}
	}
	h.rounds[kind]++
	h.out = make([][]*engine.PartMsg, h.p)
	for k := range h.out {
		h.out[k] = make([]*engine.PartMsg, h.p)
		for i, m := range h.msgs {
			c := cloneMsg(m)
			if i != k && m.To != nil {
				c.In = slices.Clone(m.To[k])
				c.InNotices = slices.Clone(m.Notices[k])
			}
			if i == k {
				c = m
			}
			h.out[k][i] = c
		}
	}
	if kind != engine.RoundTick {
		return nil
	}
	var tick []trace.Entry
	for _, m := range h.msgs {
		for _, s := range m.Segment {
			tick = append(tick, s...)
		}
	}
	var scratch []byte
	for len(tick) > 0 {
		n := min(len(tick), trace.BlockEntriesMax)
		c := xxhash.Sum64(trace.EntryBytes(tick[:n], &scratch))
		h.prev = trace.BlockHash(uint32(n), h.block, h.prev, c)
		h.block++
		tick = tick[n:]
	}
	return nil
}

// runParts runs a partitioned run of P partitions with shards shards each,
// every partition on a fresh workload from w; it returns every
// partition's result (they must all be the same) and the hub.
func runParts(t tb, w func() engine.Workload, cfg engine.Config, P, shards int) ([]engine.Result, *memHub, error) {
	t.Helper()
	var hub *memHub
	res, err := runPartsErr(t, w, cfg, P, shards, func(h *memHub) { hub = h })
	return res, hub, err
}

// runPartsHub is runParts that fails the test on an error; setup sees the
// hub before the run, and resume, if given, are the partitions'
// checkpoints to continue from.
func runPartsHub(t tb, w func() engine.Workload, cfg engine.Config, P, shards int, setup func(*memHub), resume ...*engine.Checkpoint) ([]engine.Result, *memHub) {
	t.Helper()
	var hub *memHub
	res, err := runPartsErr(t, w, cfg, P, shards, func(h *memHub) { hub = h; setup(h) }, resume...)
	if err != nil {
		t.Fatal(err)
	}
	return res, hub
}

func runPartsErr(t tb, w func() engine.Workload, cfg engine.Config, P, shards int, setup func(*memHub), resume ...*engine.Checkpoint) ([]engine.Result, error) {
	t.Helper()
	detect := cfg.Detect
	if cfg.NoDetect || cfg.Faults.On() {
		detect = engine.DetectGlobal
	}
	cuts, err := engine.PartitionCuts(w(), P, detect)
	if err != nil {
		t.Fatal(err)
	}
	h := newMemHub(P, cfg.Params)
	setup(h)
	res := make([]engine.Result, P)
	errs := make([]error, P)
	var wg sync.WaitGroup
	for k := range P {
		c := cfg
		c.Shards = shards
		c.Partition = &engine.Partition{Index: k, Cuts: cuts, Link: &memLink{h: h, k: k}}
		if len(resume) > 0 {
			c.Resume = resume[k]
		}
		wl := w()
		wg.Add(1)
		go func() {
			defer wg.Done()
			res[k], errs[k] = engine.Run(wl, c)
			if errs[k] == nil {
				res[k].Words = slices.Clone(res[k].Words)
			}
		}()
	}
	wg.Wait()
	for k := 1; k < P; k++ {
		if (errs[k] == nil) != (errs[0] == nil) || errs[k] != nil && errs[k].Error() != errs[0].Error() {
			t.Fatal(fmt.Sprintf("partition %d: error %v, partition 0: %v", k, errs[k], errs[0]))
		}
	}
	return res, errs[0]
}

// sameRun compares two results as SPEC compares runs.
func sameRun(a, b engine.Result) error {
	osc := func(o *engine.Oscillation) string {
		if o == nil {
			return "none"
		}
		return fmt.Sprint(*o)
	}
	if a.Trace != b.Trace || a.State != b.State || a.Outcome != b.Outcome || a.Ticks != b.Ticks || a.Msgs != b.Msgs ||
		a.Dropped != b.Dropped || a.Blocks != b.Blocks || a.Faults != b.Faults || osc(a.Oscillation) != osc(b.Oscillation) ||
		!slices.Equal(a.Words, b.Words) || fmt.Sprint(a.Violation) != fmt.Sprint(b.Violation) {
		return fmt.Errorf("trace %016x state %016x %s ticks %d msgs %d dropped %d blocks %d faults %+v osc %s violation %v; want %016x %016x %s %d %d %d %d %+v %s %v",
			a.Trace, a.State, a.Outcome, a.Ticks, a.Msgs, a.Dropped, a.Blocks, a.Faults, osc(a.Oscillation), a.Violation,
			b.Trace, b.State, b.Outcome, b.Ticks, b.Msgs, b.Dropped, b.Blocks, b.Faults, osc(b.Oscillation), b.Violation)
	}
	return nil
}

// goldenConfig is row r's engine configuration and workload.
func goldenConfig(t testing.TB, r golden.Row) (*workloads.Spec, workloads.Params, engine.Config) {
	t.Helper()
	spec, p, err := workloads.ParseParams(r.Params)
	if err != nil {
		t.Fatal(err)
	}
	c, err := r.Controls()
	if err != nil {
		t.Fatal(err)
	}
	cfg := engine.Config{Params: r.Params, Shards: 1, MaxTicks: c.MaxTicks, MaxMsgs: c.MaxMsgs, Damp: c.Damp, Faults: p.Faults}
	if c.Local {
		cfg.Detect = engine.DetectLocal
	}
	return spec, p, cfg
}

// TestPartitionedGoldenRows runs every golden row with n ≤ 1e6 as 2 and 3
// partitions (1 and 2 shards each) and compares every partition's result
// with the row and with the single-process run: trace, state, outcome,
// ticks, msgs, drops, faults, the oscillation line, the final state.
func TestPartitionedGoldenRows(t *testing.T) {
	for _, r := range golden.Read(t) {
		if r.N() > 1_000_000 || testing.Short() && r.N() > 100_000 {
			continue
		}
		t.Run(r.Name, func(t *testing.T) {
			spec, p, cfg := goldenConfig(t, r)
			w := func() engine.Workload { return spec.New(p) }
			single, err := engine.Run(w(), cfg)
			if err != nil {
				t.Fatal(err)
			}
			single.Words = slices.Clone(single.Words)
			for _, c := range [][2]int{{1, 1}, {2, 1}, {3, 1}, {2, 2}, {3, 2}} {
				if testing.Short() && c[1] == 2 {
					continue
				}
				res, _, err := runParts(t, w, cfg, c[0], c[1])
				if err != nil {
					t.Fatalf("P=%d shards=%d: %v", c[0], c[1], err)
				}
				for k, got := range res {
					if fmt.Sprintf("%016x %016x %s", got.Trace, got.State, got.Outcome) != r.Trace+" "+r.State+" "+r.Outcome {
						t.Errorf("P=%d shards=%d partition %d: %016x %016x %s, want the row's %s %s %s", c[0], c[1], k,
							got.Trace, got.State, got.Outcome, r.Trace, r.State, r.Outcome)
					}
					if err := sameRun(got, single); err != nil {
						t.Errorf("P=%d shards=%d partition %d: %v", c[0], c[1], k, err)
					}
				}
			}
		})
	}
}

// TestPartitionedRandomSystems: random systems (inputs into every cell,
// timers and late inputs, end-of-tick work; local or global detection,
// halt or damp) run as P partitions of any shard count exactly as in one
// process: result, oscillation line and final state.
func TestPartitionedRandomSystems(t *testing.T) {
	rapid.Check(t, func(t *rapid.T) {
		def := genRandSys(t, 12, rapid.Bool().Draw(t, "late")).def()
		c := cfg(1)
		c.Damp = rapid.Bool().Draw(t, "damp")
		if rapid.Bool().Draw(t, "local") {
			c.Detect = engine.DetectLocal
		}
		c.MaxTicks = 600
		if rapid.Bool().Draw(t, "max-msgs") {
			c.MaxMsgs = int64(rapid.IntRange(0, 200).Draw(t, "msgs"))
		}
		want := runSys(t, def, c).res
		want.Words = slices.Clone(want.Words)
		P := rapid.IntRange(2, 4).Draw(t, "P")
		shards := rapid.IntRange(1, 3).Draw(t, "shards")
		res, _, err := runParts(t, func() engine.Workload { return newSysWL(def).workload() }, c, P, shards)
		if err != nil {
			t.Fatal(err)
		}
		for k, got := range res {
			if err := sameRun(got, want); err != nil {
				t.Fatalf("P=%d shards=%d partition %d: %v", P, shards, k, err)
			}
		}
	})
}

// TestPartitionedTimers: late messages around and beyond the late queue's
// wheel (SPEC §1) and end-of-tick work, across partitions.
func TestPartitionedTimers(t *testing.T) {
	for _, tc := range lateCases() {
		w := func() engine.Workload {
			if tc.ender {
				return &enderTimers{*tc.w()}
			}
			return tc.w()
		}
		want, err := engine.Run(w(), cfg(1))
		if err != nil {
			t.Fatal(err)
		}
		want.Words = slices.Clone(want.Words)
		for _, P := range []int{2, 3} {
			res, _, err := runParts(t, w, cfg(1), P, 2)
			if err != nil {
				t.Fatalf("%s P=%d: %v", tc.name, P, err)
			}
			if err := sameRun(res[P-1], want); err != nil {
				t.Errorf("%s P=%d: %v", tc.name, P, err)
			}
		}
	}
}

// TestPartitionCheckpointsResumeExactly: random systems checkpointed at
// every tick as P partitions give each partition the same checkpoints at
// 1 and 3 shards, and the run continued by every partition from its
// checkpoint of any tick ends exactly as the uninterrupted run.
func TestPartitionCheckpointsResumeExactly(t *testing.T) {
	rapid.Check(t, func(t *rapid.T) {
		def := genRandSys(t, 12, rapid.Bool().Draw(t, "late")).def()
		c := cfg(1)
		c.Damp = rapid.Bool().Draw(t, "damp")
		if rapid.Bool().Draw(t, "local") {
			c.Detect = engine.DetectLocal
		}
		c.MaxTicks = 300
		P := rapid.IntRange(2, 3).Draw(t, "P")
		w := func() engine.Workload { return newSysWL(def).workload() }
		want, _, err := runParts(t, w, c, P, 1)
		if err != nil {
			t.Fatal(err)
		}
		type snap struct {
			cps        []*engine.Checkpoint
			prev, head uint64
		}
		var snaps [2]map[uint64]*snap
		for i, s := range []int{1, 3} {
			snaps[i] = map[uint64]*snap{}
			var mu sync.Mutex
			var h *memHub
			cc := c
			cc.SnapshotEvery = 1
			cc.Snapshot = func(cp *engine.Checkpoint) error {
				mu.Lock()
				defer mu.Unlock()
				sn := snaps[i][cp.Tick]
				if sn == nil {
					sn = &snap{cps: make([]*engine.Checkpoint, P)}
					h.mu.Lock()
					sn.prev, sn.head = h.prev, h.block
					h.mu.Unlock()
					snaps[i][cp.Tick] = sn
				}
				sn.cps[cp.Part.Index] = cp.Clone()
				return nil
			}
			_, h = runPartsHub(t, w, cc, P, s, func(hub *memHub) { h = hub })
		}
		if !reflect.DeepEqual(snaps[0], snaps[1]) {
			t.Fatalf("partition checkpoints differ between shards 1 and 3")
		}
		if len(snaps[0]) == 0 {
			return
		}
		ticks := slices.Sorted(maps.Keys(snaps[0]))
		at := ticks[rapid.IntRange(0, len(ticks)-1).Draw(t, "tick")]
		sn := snaps[0][at]
		rc := c
		res, _ := runPartsHub(t, w, rc, P, rapid.IntRange(1, 3).Draw(t, "shards"), func(h *memHub) {
			h.prev, h.block = sn.prev, sn.head
		}, sn.cps...)
		for k := range res {
			if err := sameRun(res[k], want[k]); err != nil {
				t.Fatalf("resume at tick %d, partition %d: %v", at, k, err)
			}
		}
	})
}

// A partitioned run ends on a fault or a violation as the single-process
// run does (firstStop's order over all partitions): violations and faults
// of deliveries placed in ≺ order across partitions (a message from
// another partition placed by a decide round), EndTick's by least domain,
// a violation as Violated with the same trace, state and text in every
// partition, a fault as the same error; at P = 2..4, 1 and 2 shards each.
func TestPartitionedViolationsAndFaults(t *testing.T) {
	perm := []uint32{9, 3, 7, 1, 5, 2, 6, 8, 4}
	for _, c := range []struct {
		act   map[uint32]byte
		ender bool
	}{
		{map[uint32]byte{7: 'v', 3: 'v', 5: 'f'}, false},
		{map[uint32]byte{7: 'v', 3: 'f'}, false},
		{map[uint32]byte{9: 'v', 3: 'f'}, false},
		{map[uint32]byte{3: 'v', 9: 'f'}, false},
		{map[uint32]byte{2: 'v'}, false},
		{map[uint32]byte{6: 'V', 2: 'V', 8: 'F'}, true},
		{map[uint32]byte{6: 'V', 4: 'F'}, true},
		{map[uint32]byte{1: 'V', 5: 'v'}, true},
		{map[uint32]byte{1: 'V', 5: 'f'}, true},
		{map[uint32]byte{8: 'v', 2: 'V', 4: 'f'}, true},
	} {
		w := func() engine.Workload {
			jw := &judge{d: 10, perm: perm, act: c.act}
			if c.ender {
				return &judgeEnder{*jw}
			}
			return jw
		}
		want, wantErr := engine.Run(w(), cfg(1))
		if wantErr == nil {
			want.Words = slices.Clone(want.Words)
			if want.Outcome != engine.Violated {
				t.Fatalf("%v: single process %v, want violated (the case is wrong)", c.act, want.Outcome)
			}
		}
		for P := 2; P <= 4; P++ {
			for s := 1; s <= 2; s++ {
				res, err := runPartsErr(t, w, cfg(1), P, s, func(*memHub) {})
				if fmt.Sprint(err) != fmt.Sprint(wantErr) {
					t.Fatalf("%v P=%d shards=%d: error %v, want %v", c.act, P, s, err, wantErr)
				}
				if err != nil {
					continue
				}
				for k := range res {
					if e := sameRun(res[k], want); e != nil {
						t.Fatalf("%v P=%d shards=%d partition %d: %v", c.act, P, s, k, e)
					}
				}
			}
		}
	}
}
