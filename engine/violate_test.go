package engine_test

import (
	"fmt"
	"testing"

	"github.com/lexbench/lexbench/engine"
	"github.com/lexbench/lexbench/trace"
)

// judge: domain 0 boots and at tick 0 sends one message to each domain of
// perm, in that order. A receiver adds 1 + its id to its word, then does
// what act says: 'v' violates, 'f' faults (each returns from Deliver at
// once, as the Outbox contract asks), anything else sends itself a
// message (so the run would go on). With ender, EndTick adds 100 to every
// domain that received this tick, and a receiver whose act is 'V' (or
// 'F') violates (faults) there.
type judge struct {
	d    uint32
	perm []uint32
	act  map[uint32]byte
	st   []uint64
}

func (w *judge) Domains() uint32          { return w.d }
func (w *judge) StateWords() int          { return int(w.d) }
func (w *judge) Init(words []uint64)      { w.st = words }
func (w *judge) Span(d uint32) (int, int) { return int(d), 1 }
func (w *judge) Boots(d uint32) bool      { return d == 0 }
func (w *judge) Weight(uint32) uint64     { return 1 }
func (w *judge) Goals() error             { return nil }
func (w *judge) Deliver(out *engine.Outbox, msgs []trace.Entry) {
	for i, m := range msgs {
		if m.Dst == 0 {
			if m.Tick == 0 {
				for _, d := range w.perm {
					out.Emit(0, d, trace.KindData, uint64(d), 0)
				}
			}
			continue
		}
		w.st[m.Dst] += 1 + uint64(m.Dst)
		switch w.act[m.Dst] {
		case 'v':
			out.Violate(i, fmt.Errorf("domain %d violated", m.Dst))
			return
		case 'f':
			out.Fault(i, fmt.Errorf("domain %d faulted", m.Dst))
			return
		}
		out.Emit(m.Dst, m.Dst, trace.KindData, 0, 0)
	}
}

type judgeEnder struct{ judge }

func (w *judgeEnder) EndTick(out *engine.Outbox) {
	if out.Tick() != 2 {
		return
	}
	for d := max(out.Lo(), 1); d < out.Hi(); d++ {
		if w.st[d] == 0 {
			continue
		}
		w.st[d] += 100
		switch w.act[d] {
		case 'V':
			out.Violate(int(d), fmt.Errorf("domain %d violated at the end of the tick", d))
		case 'F':
			out.Fault(int(d), fmt.Errorf("domain %d faulted at the end of the tick", d))
		}
	}
}

// bytesJournal is an in-memory Journal.
type bytesJournal struct{ b []byte }

func (j *bytesJournal) Reserve(n int) ([]byte, error) {
	j.b = append(j.b, make([]byte, n)...)
	return j.b[len(j.b)-n:], nil
}

// chain re-hashes a journal's blocks and returns the last hash and the
// entries of the last block.
func (j *bytesJournal) chain(t *testing.T, params string) (uint64, []trace.Entry) {
	prev := trace.ParamsHash(params)
	var last []trace.Entry
	for b := j.b; len(b) > 0; {
		h, ok := trace.DecodeBlockHeader(b)
		if !ok || h.Prev != prev {
			t.Fatalf("journal: bad block header %+v", h)
		}
		body := b[trace.BlockHeaderSize : trace.BlockHeaderSize+int(h.Count)*trace.EntrySize]
		if want := trace.BlockHash(h.Count, h.Index, prev, xxhashOf(body)); h.Hash != want {
			t.Fatalf("journal: block %d hash %016x, want %016x", h.Index, h.Hash, want)
		}
		last = last[:0]
		for e := body; len(e) > 0; e = e[trace.EntrySize:] {
			last = append(last, trace.DecodeEntry(e))
		}
		prev, b = h.Hash, b[trace.BlockHeaderSize+len(body):]
	}
	return prev, last
}

func xxhashOf(b []byte) uint64 {
	es := make([]trace.Entry, 0, len(b)/trace.EntrySize)
	for ; len(b) > 0; b = b[trace.EntrySize:] {
		es = append(es, trace.DecodeEntry(b))
	}
	var scratch []byte
	return trace.ContentHash(es, &scratch)
}

// The first fault or violation of a tick in ≺ order ends the run: a
// violation as Violated at the next boundary, with the trace and state of
// that boundary, a fault as Run's error; delivery-time reports come before
// EndTick's, which come by least domain id. The tick is always finished
// (every message delivered, EndTick run, the tick journaled), so the
// result is the same at every shard count.
func TestViolationEndsTheRunAtTheNextBoundary(t *testing.T) {
	perm := []uint32{9, 3, 7, 1, 5, 2, 6, 8, 4}
	for _, c := range []struct {
		name  string
		act   map[uint32]byte
		ender bool
		want  string // the violation, or "error: " the fault
	}{
		{"violations and a fault after them", map[uint32]byte{7: 'v', 3: 'v', 5: 'f'}, false, "domain 3 violated"},
		{"a fault before a violation", map[uint32]byte{7: 'v', 3: 'f'}, false, "error: domain 3 faulted"},
		{"a violation before a fault", map[uint32]byte{9: 'v', 3: 'f'}, false, "domain 9 violated"},
		{"a fault first", map[uint32]byte{3: 'v', 9: 'f'}, false, "error: domain 9 faulted"},
		{"EndTick, the least domain", map[uint32]byte{6: 'V', 2: 'V', 8: 'F'}, true, "domain 2 violated at the end of the tick"},
		{"an EndTick fault of a lesser domain", map[uint32]byte{6: 'V', 4: 'F'}, true, "error: domain 4 faulted at the end of the tick"},
		{"a delivery before EndTick", map[uint32]byte{1: 'V', 5: 'v'}, true, "domain 5 violated"},
		{"a delivery fault before an EndTick violation", map[uint32]byte{1: 'V', 5: 'f'}, true, "error: domain 5 faulted"},
		{"delivery and EndTick", map[uint32]byte{8: 'v', 2: 'V', 4: 'f'}, true, "domain 8 violated"},
	} {
		var first engine.Result
		for s := 1; s <= 7; s++ {
			j := &bytesJournal{}
			jw := &judge{d: 10, perm: perm, act: c.act}
			var w engine.Workload = jw
			if c.ender {
				w = &judgeEnder{*jw}
			}
			cf := cfg(s)
			cf.Journal = j
			res, err := engine.Run(w, cf)
			if err != nil {
				if "error: "+err.Error() != c.want {
					t.Fatalf("%s, shards %d: error %v, want %s", c.name, s, err, c.want)
				}
				continue
			}
			if res.Outcome != engine.Violated || res.Violation == nil || res.Violation.Error() != c.want {
				t.Fatalf("%s, shards %d: %v %v, want violated: %s", c.name, s, res.Outcome, res.Violation, c.want)
			}
			// tick 1 delivered in full (the 9 messages), the run ended at
			// boundary 2 without delivering tick 2
			if res.Ticks != 2 || res.Msgs != 10 || res.Blocks != 2 {
				t.Fatalf("%s, shards %d: ticks %d msgs %d blocks %d, want 2 10 2", c.name, s, res.Ticks, res.Msgs, res.Blocks)
			}
			for d := uint32(1); d < 10; d++ {
				want := 1 + uint64(d)
				if c.ender {
					want += 100
				}
				if res.Words[d] != want {
					t.Fatalf("%s, shards %d: domain %d has %d, want %d (every message delivered, EndTick run)", c.name, s, d, res.Words[d], want)
				}
			}
			// the violating tick is journaled and chained into the trace
			h, last := j.chain(t, cf.Params)
			if h != res.Trace || len(last) != 9 || last[0].Tick != 1 || last[0].Dst != perm[0] {
				t.Fatalf("%s, shards %d: journal ends at %016x with %v, trace %016x", c.name, s, h, last, res.Trace)
			}
			if s == 1 {
				first = res
			} else if res.Trace != first.Trace || res.State != first.State {
				t.Fatalf("%s: shards %d: trace %016x state %016x, shards 1: %016x %016x", c.name, s, res.Trace, res.State, first.Trace, first.State)
			}
		}
	}
}

// A run resumed from a checkpoint before the violating tick, at any shard
// count, ends exactly as the uninterrupted run.
func TestResumedRunIsViolatedAsTheUninterruptedOne(t *testing.T) {
	act := map[uint32]byte{5: 'v', 2: 'V'}
	newW := func() engine.Workload { return &judgeEnder{judge{d: 8, perm: []uint32{5, 1, 2, 7}, act: act}} }
	want, err := engine.Run(newW(), cfg(1))
	if err != nil || want.Outcome != engine.Violated {
		t.Fatal(err, want.Outcome)
	}
	c := cfg(2)
	c.SnapshotEvery = 1
	var cp *engine.Checkpoint
	c.Snapshot = func(k *engine.Checkpoint) error { cp = k.Clone(); return nil }
	if res, err := engine.Run(newW(), c); err != nil || res.Trace != want.Trace || res.State != want.State {
		t.Fatal(err, res.Outcome)
	}
	if cp == nil || cp.Tick != 1 {
		t.Fatalf("checkpoint %+v, want one at tick 1", cp)
	}
	for s := 1; s <= 4; s++ {
		c := cfg(s)
		c.Resume = cp
		got, err := engine.Run(newW(), c)
		if err != nil || got.Outcome != engine.Violated || got.Violation.Error() != want.Violation.Error() ||
			got.Trace != want.Trace || got.State != want.State || got.Ticks != want.Ticks || got.Msgs != want.Msgs {
			t.Fatalf("resume, shards %d: %v %v %v %016x %016x, want %v %016x %016x", s, err, got.Outcome, got.Violation,
				got.Trace, got.State, want.Violation, want.Trace, want.State)
		}
	}
}

// The zero Outbox is usable outside a run (benchmarks of a Deliver): it
// has no in-flight bound (emitting into it does not panic), and Reset
// empties it, keeping its buffer.
func TestZeroOutboxTakesEmissions(t *testing.T) {
	var out engine.Outbox
	w := &judge{d: 10, perm: []uint32{1, 2, 3}, st: make([]uint64, 10)}
	msgs := []trace.Entry{{Dst: 0}, {Dst: 4, Tick: 1}}
	w.Deliver(&out, msgs)
	if got := len(out.Reserve(2)); got != 2 || w.st[4] != 5 {
		t.Fatalf("reserved %d, domain 4 has %d", got, w.st[4])
	}
	if a := testing.AllocsPerRun(100, func() { out.Reset(); w.Deliver(&out, msgs) }); a != 0 {
		t.Fatalf("Deliver after Reset allocates %v times", a)
	}
}
