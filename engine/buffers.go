package engine

import "github.com/lexbench/lexbench/trace"

// Buffers keeps the message buffers of a finished run for the next run
// that is given them (Config.Buffers). A simulation runs thousands of
// small runs one after another on each worker; without it every run
// allocates its buffers anew (about 1 MB for storm at n = 10^4), which
// costs more than the run and serializes the workers on the allocator.
// The zero value is ready. A Buffers must not be given to two runs at
// once. It never changes a result: every buffer is emptied before use.
type Buffers struct {
	shards  []shardBuffers
	content []uint64
	// the global detector's
	stamp                []uint32
	saved                []uint64
	savedMsgs, savedLate []trace.Entry
}

type shardBuffers struct {
	stream   [streamSlots][]trace.Entry
	spare    []trace.Entry
	gone     []int32
	faulted  []faultAt
	faultLog []FaultEvent
	touched  []uint32
}

// lend gives the kept buffers to r's shards (empty, so a run starts as
// with none).
func (b *Buffers) lend(r *run) {
	for s, sh := range r.shards {
		if s == len(b.shards) {
			break
		}
		x := &b.shards[s]
		for i := range x.stream {
			sh.stream[i] = x.stream[i][:0]
		}
		sh.spare, sh.gone, sh.faulted, sh.faultLog = x.spare[:0], x.gone[:0], x.faulted, x.faultLog[:0]
		sh.touched = x.touched[:0]
		*x = shardBuffers{}
	}
	r.content, b.content = b.content[:0], nil
	d := &r.det
	d.stamp, d.saved, d.savedMsgs, d.savedLate = b.stamp[:0], b.saved[:0], b.savedMsgs[:0], b.savedLate[:0]
	b.stamp, b.saved, b.savedMsgs, b.savedLate = nil, nil, nil, nil
}

// keep takes r's buffers back when r has ended.
func (b *Buffers) keep(r *run) {
	if len(b.shards) < len(r.shards) {
		b.shards = append(b.shards, make([]shardBuffers, len(r.shards)-len(b.shards))...)
	}
	for s, sh := range r.shards {
		x := &b.shards[s]
		x.stream = sh.stream
		x.spare, x.gone, x.faulted, x.faultLog = sh.spare, sh.gone, sh.faulted, sh.faultLog
		x.touched = sh.touched
		*sh = shard{}
	}
	b.content, r.content = r.content, nil
	d := &r.det
	b.stamp, b.saved, b.savedMsgs, b.savedLate = d.stamp, d.saved, d.savedMsgs, d.savedLate
	r.det = detector{}
}

// zeroed is s with length n, every element zero; it allocates only if
// s is too small.
func zeroed[T any](s []T, n int) []T {
	if cap(s) < n {
		return make([]T, n)
	}
	s = s[:n]
	clear(s)
	return s
}
