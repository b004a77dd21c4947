package engine

import (
	"slices"

	"github.com/lexbench/lexbench/trace"
)

// Late messages (SPEC §1): a message due after the next tick, because a
// program scheduled it so (Outbox.EmitAt) or the fault layer delayed or
// duplicated it (SPEC §7). It keeps the seq it was emitted with, so at its
// tick it comes before the messages its src emitted later.
//
// A src's messages all live in its shard, so each shard keeps its own late
// messages in a lateQueue, keyed by due tick: a timing wheel of wheelSlots
// buckets for the messages due less than wheelSlots ticks after the tick
// being prepared (every fault delay, ≤ 1024, fits), and a min-heap on
// (due tick, insertion order) for the rest (long timers), which move into
// the wheel as their tick comes within its reach. Inserting into the wheel
// is an append; a heap entry costs O(log h) twice.
//
// Storage: buckets are chains of 1 KiB chunks from one free list, so memory
// follows the number of late messages, not how they spread over ticks.
//
// Order: a bucket is filled in insertion order. Insertions happen tick by
// tick, and within one tick in ≺ order of emission (src, then emission
// index), so within a bucket the messages of one src are in seq order
// (emission tick, emission index); heap entries reach their bucket, in
// insertion order, before any message due at the same tick can be inserted
// directly. When the bucket of tick t is taken, a stable sort by src makes
// it ≺-ordered, and it is merged into the shard's fresh messages of tick t,
// a src's late messages before its fresh ones (they were emitted earlier).
//
// No late message, no cost: a shard whose queue is empty, with no fault
// layer and no EmitAt in its outbox, takes the v1 path unchanged.
type lateQueue struct {
	n     int          // messages in the queue
	slots []lateBucket // the wheel: slots[due % wheelSlots]; nil until the first late message
	// Bucket storage: chunks of chunkLen entries back to back in store,
	// chained by next; free chunks form a list from free (-1: none).
	// Storage grows only when more late messages are queued than ever
	// before, whatever ticks they are due at: in a steady state nothing
	// is allocated.
	store   []trace.Entry
	next    []int32
	free    int32
	over    []overEntry   // min-heap on (due, ord): due beyond the wheel's reach
	ord     uint64        // insertion counter for the heap
	gather  []trace.Entry // a bucket's entries, contiguous, for sorting
	scratch []trace.Entry // sort buffer
	heapTmp []overEntry   // sorted copy of over for listing
}

// lateBucket is one slot of the wheel: a chain of chunks from head to
// tail holding count messages in insertion order.
type lateBucket struct {
	head, tail int32
	count      int32
}

// wheelSlots is the timing wheel's size, a power of two: a message due
// less than wheelSlots ticks after the tick being prepared goes into a
// bucket, a later one into the heap. It covers every fault delay (SPEC §7:
// at most 1024 ticks after the tick the message was due at).
const wheelSlots = 2048

// chunkLen is the number of entries of a bucket chunk (1 KiB).
const chunkLen = 32

type overEntry struct {
	ord uint64
	e   trace.Entry // e.Tick is the due tick
}

func (a *overEntry) less(b *overEntry) bool {
	return a.e.Tick < b.e.Tick || a.e.Tick == b.e.Tick && a.ord < b.ord
}

// insert queues e, due at e.Tick, while the bucket of tick t is the next to
// be taken (e.Tick > t).
func (q *lateQueue) insert(e *trace.Entry, t uint64) {
	q.n++
	if uint64(e.Tick)-t < wheelSlots {
		q.append(e)
		return
	}
	q.over = append(q.over, overEntry{ord: q.ord, e: *e})
	q.ord++
	h := q.over
	for i := len(h) - 1; i > 0; {
		p := (i - 1) / 2
		if !h[i].less(&h[p]) {
			break
		}
		h[i], h[p] = h[p], h[i]
		i = p
	}
}

// append adds e to the bucket of its tick.
func (q *lateQueue) append(e *trace.Entry) {
	if q.slots == nil {
		q.slots = make([]lateBucket, wheelSlots)
		q.free = -1
	}
	b := &q.slots[e.Tick&(wheelSlots-1)]
	k := b.count % chunkLen
	if k == 0 {
		c := q.chunk()
		if b.count == 0 {
			b.head = c
		} else {
			q.next[b.tail] = c
		}
		b.tail = c
	}
	q.store[int(b.tail)*chunkLen+int(k)] = *e
	b.count++
}

// chunk takes a free chunk, growing the storage if there is none.
func (q *lateQueue) chunk() int32 {
	if c := q.free; c >= 0 {
		q.free = q.next[c]
		q.next[c] = -1
		return c
	}
	c := int32(len(q.next))
	q.store = slices.Grow(q.store, chunkLen)[:len(q.store)+chunkLen]
	q.next = append(q.next, -1)
	return c
}

// gatherBucket appends the messages of bucket b to dst, in insertion order.
func (q *lateQueue) gatherBucket(dst []trace.Entry, b *lateBucket) []trace.Entry {
	left := int(b.count)
	for c := b.head; left > 0; c = q.next[c] {
		k := min(left, chunkLen)
		dst = append(dst, q.store[int(c)*chunkLen:int(c)*chunkLen+k]...)
		left -= k
	}
	return dst
}

// release empties bucket b and frees its chunks.
func (q *lateQueue) release(b *lateBucket) {
	if b.count == 0 {
		return
	}
	q.next[b.tail] = q.free
	q.free = b.head
	*b = lateBucket{}
}

// migrate moves the heap's messages due less than wheelSlots ticks after t
// into their buckets, earliest first and, for one tick, in insertion order.
// It runs before anything else is inserted while tick t is prepared.
func (q *lateQueue) migrate(t uint64) {
	for len(q.over) > 0 && uint64(q.over[0].e.Tick)-t < wheelSlots {
		e := q.over[0].e
		q.pop()
		q.append(&e)
	}
}

func (q *lateQueue) pop() {
	h := q.over
	last := len(h) - 1
	h[0] = h[last]
	h = h[:last]
	for i := 0; ; {
		l, m := 2*i+1, i
		if l < len(h) && h[l].less(&h[m]) {
			m = l
		}
		if r := l + 1; r < len(h) && h[r].less(&h[m]) {
			m = r
		}
		if m == i {
			break
		}
		h[i], h[m] = h[m], h[i]
		i = m
	}
	q.over = h
}

// sortBucket returns bucket b's messages in ≺ order (by src, stably, which
// keeps a src's messages in seq order), in one of q's buffers: valid until
// the next sortBucket.
func (q *lateQueue) sortBucket(b *lateBucket, bits uint) []trace.Entry {
	q.gather = q.gatherBucket(q.gather[:0], b)
	sorted, spare := sortBySrc(q.gather, q.scratch, bits)
	q.gather, q.scratch = sorted, spare // the two buffers may trade places
	return sorted
}

// take removes the messages due at t and returns them in ≺ order; the
// slice is valid until the next take or appendList. bits is the run's src
// width for the radix sort.
func (q *lateQueue) take(t uint64, bits uint) []trace.Entry {
	if q.slots == nil {
		return nil
	}
	b := &q.slots[t&(wheelSlots-1)]
	if b.count == 0 {
		return nil
	}
	q.n -= int(b.count)
	sorted := q.sortBucket(b, bits)
	q.release(b)
	return sorted
}

// appendList appends the queue's messages to dst in ≺ order (due tick,
// src, seq), assuming the bucket of tick t is the next to be taken. It
// allocates only to grow its buffers.
func (q *lateQueue) appendList(dst []trace.Entry, t uint64, bits uint) []trace.Entry {
	if q.n == 0 {
		return dst
	}
	if q.slots != nil {
		for k := uint64(0); k < wheelSlots-1; k++ {
			if b := &q.slots[(t+k)&(wheelSlots-1)]; b.count > 0 {
				dst = append(dst, q.sortBucket(b, bits)...)
			}
		}
	}
	if len(q.over) > 0 {
		h := append(q.heapTmp[:0], q.over...)
		slices.SortFunc(h, func(a, b overEntry) int {
			switch {
			case a.e.Tick != b.e.Tick:
				return cmpU32(a.e.Tick, b.e.Tick)
			case a.e.Src != b.e.Src:
				return cmpU32(a.e.Src, b.e.Src)
			case a.ord < b.ord:
				return -1
			case a.ord > b.ord:
				return 1
			}
			return 0
		})
		for i := range h {
			dst = append(dst, h[i].e)
		}
		q.heapTmp = h[:0]
	}
	return dst
}

func cmpU32(a, b uint32) int {
	if a < b {
		return -1
	}
	if a > b {
		return 1
	}
	return 0
}

// clear empties the queue and returns how many messages it held.
func (q *lateQueue) clear() int {
	n := q.n
	if n == 0 {
		return 0
	}
	for i := range q.slots {
		q.release(&q.slots[i])
	}
	q.over = q.over[:0]
	q.n = 0
	return n
}

// filter drops the queued messages that drop reports and returns how many
// it dropped; the order of the others is kept.
func (q *lateQueue) filter(r *run, drop func(r *run, e *trace.Entry) bool) int {
	if q.n == 0 {
		return 0
	}
	gone := 0
	for i := range q.slots {
		b := &q.slots[i]
		if b.count == 0 {
			continue
		}
		es := q.gatherBucket(q.gather[:0], b)
		q.gather = es
		q.release(b)
		for k := range es {
			if drop(r, &es[k]) {
				gone++
				continue
			}
			q.append(&es[k])
		}
	}
	if len(q.over) > 0 {
		h := q.over
		w := 0
		for k := range h {
			if drop(r, &h[k].e) {
				continue
			}
			h[w] = h[k]
			w++
		}
		gone += len(h) - w
		q.over = h[:w]
		slices.SortFunc(q.over, func(a, b overEntry) int { // a sorted array is a heap
			if a.less(&b) {
				return -1
			}
			if b.less(&a) {
				return 1
			}
			return 0
		})
	}
	q.n -= gone
	return gone
}

// appendLate appends every pending late message (due after the current
// tick r.tick) to dst in ≺ order: by due tick, then src, then seq. A
// shard's list is in that order, and the shards' src ranges ascend, so a
// stable sort of the concatenation by due tick gives ≺ order.
func (r *run) appendLate(dst []trace.Entry) []trace.Entry {
	return r.appendLateOf(dst, r.shards)
}

// sameLate reports whether the late messages pending at tick t equal saved,
// those pending at tick c, as SPEC §5.6 compares them: (tick − t, src, dst,
// kind, a, b) in ≺ order.
func (r *run) sameLate(t uint64, saved []trace.Entry, c uint64) bool {
	if r.pendingLate() != len(saved) {
		return false
	}
	if len(saved) == 0 {
		return true
	}
	r.lateList = r.appendLate(r.lateList[:0])
	for i := range saved {
		a, b := &r.lateList[i], &saved[i]
		if uint64(a.Tick)-t != uint64(b.Tick)-c || !sameMsg(a, b) {
			return false
		}
	}
	return true
}
