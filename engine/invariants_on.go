//go:build invariants

package engine

import (
	"fmt"

	"github.com/cespare/xxhash/v2"
	"github.com/lexbench/lexbench/trace"
)

// With -tags invariants the engine checks, at every tick, what its fast
// paths take for granted (the check on write; the journal reader makes the
// same checks on read). A violation is a bug in the engine or a workload
// that broke the Outbox contract: it panics with what it found.

const invariantsOn = true

func invariant(format string, a ...any) {
	panic(fmt.Sprintf("engine: invariant violated: "+format, a...))
}

// invOutbox checks an outbox before the engine uses it: every entry is due
// at the outbox's tick (or, after an EmitAt, later and at most MaxTick)
// and has flags 0 (the fault layer sets flags, workloads never do).
func invOutbox(o *Outbox, es []trace.Entry) {
	for i := range es {
		e := &es[i]
		if e.Flags != 0 {
			invariant("outbox entry %d (src %d) has flags %d, want 0", i, e.Src, e.Flags)
		}
		if e.Tick != o.tick && (!o.late || uint64(e.Tick) < o.next) {
			invariant("outbox entry %d (src %d) has tick %d, the outbox's is %d", i, e.Src, e.Tick, o.tick)
		}
	}
}

// invStream checks a shard's finished stream of tick t: in ≺ order (by
// src; a stable sort keeps seq order within a src), srcs of the shard,
// existing dsts, due at t, valid flags.
func invStream(r *run, sh *shard, es []trace.Entry, t uint64) {
	for i := range es {
		e := &es[i]
		if e.Tick != uint32(t) || e.Src < sh.lo || e.Src >= sh.hi || e.Dst >= r.d || e.Flags > trace.FlagsMax {
			invariant("shard %d stream of tick %d: entry %d is %+v", sh.id, t, i, *e)
		}
		if i > 0 && e.Src < es[i-1].Src {
			invariant("shard %d stream of tick %d: src %d after src %d at %d", sh.id, t, e.Src, es[i-1].Src, i)
		}
		if r.flt.on == false && e.Flags != 0 {
			invariant("shard %d stream of tick %d: entry %d has flags %d without faults", sh.id, t, i, e.Flags)
		}
	}
}

// invLate checks a late queue whose next bucket to be taken is tick t: its
// count, every wheel message in the bucket of its tick and within the
// wheel's reach, every heap message beyond it, the heap order, and the
// chunks (each in a bucket or free, once).
func invLate(q *lateQueue, t uint64) {
	if t%64 != 0 && q.n > 0 {
		return // the whole wheel every 64 ticks (and whenever it is empty)
	}
	n := len(q.over)
	for s := range q.slots {
		b := &q.slots[s]
		for _, e := range q.gatherBucket(nil, b) {
			if int(e.Tick&(wheelSlots-1)) != s || uint64(e.Tick) < t || uint64(e.Tick)-t >= wheelSlots-1 {
				invariant("late queue: message due at %d in bucket %d at tick %d", e.Tick, s, t)
			}
		}
		n += int(b.count)
	}
	if n != q.n {
		invariant("late queue: count %d, holds %d", q.n, n)
	}
	for i := range q.over {
		if uint64(q.over[i].e.Tick)-t < wheelSlots-1 || uint64(q.over[i].e.Tick) < t {
			invariant("late queue: heap message due at %d within the wheel's reach at tick %d", q.over[i].e.Tick, t)
		}
		if i > 0 && q.over[i].less(&q.over[(i-1)/2]) {
			invariant("late queue: heap order broken at %d", i)
		}
	}
	if q.slots == nil {
		return
	}
	chunks := 0
	for c := q.free; c >= 0; c = q.next[c] {
		chunks++
	}
	for s := range q.slots {
		chunks += (int(q.slots[s].count) + chunkLen - 1) / chunkLen
	}
	if chunks != len(q.next) {
		invariant("late queue: %d chunks in buckets and the free list, %d exist", chunks, len(q.next))
	}
}

// invEntryHash checks the content hash of a block of one entry, computed
// from its fields (trace.EntryHash), against xxhash64 of its bytes.
func invEntryHash(e *trace.Entry, h uint64) {
	var scratch []byte
	if want := xxhash.Sum64(trace.EntryBytes([]trace.Entry{*e}, &scratch)); h != want {
		invariant("content hash of the one-entry block %+v is %016x, xxhash64 of its bytes %016x", *e, h, want)
	}
}

// invBlockHash checks a block's chained hash, computed from its fields
// (trace.BlockHash), against xxhash64 of its encoded header.
func invBlockHash(count uint32, index, prev, content, h uint64) {
	var b [trace.BlockHeaderSize]byte
	trace.PutBlockHeader(b[:], trace.BlockHeader{Count: count, Index: index, Prev: prev, Hash: content})
	if want := xxhash.Sum64(b[:]); h != want {
		invariant("hash of block %d is %016x, xxhash64 of its header %016x", index, h, want)
	}
}
