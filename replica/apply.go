package replica

import (
	"errors"
	"fmt"
	"sort"
	"sync"

	"github.com/lexbench/lexbench/engine"
	"github.com/lexbench/lexbench/trace"
	"github.com/lexbench/lexbench/workloads"
)

// Position is a place in the input stream: the segment with ordinal
// Ordinal (segments before it in the whole stream), which is segment Skip
// of the chunk at stream sequence Seq.
type Position struct {
	Seq     uint64
	Skip    uint32
	Ordinal uint64
}

// chunkSource yields the input stream's chunks in stream order.
type chunkSource interface {
	// Next blocks until the next chunk is there and returns its stream
	// sequence and bytes (the caller's from then on).
	Next() (seq uint64, data []byte, err error)
	// Close ends the source; a blocked Next returns an error.
	Close()
}

// tickRec is the input of one tick: the segments of every input domain
// that received messages at it.
type tickRec struct {
	tick  uint32
	end   bool // the end marker: the publisher's run ended at boundary tick
	doms  []domRec
	emits []trace.Entry // storage of the doms' emissions
	next  Position      // the position after this record
}

type domRec struct {
	d        uint32
	lo, hi   int // its emissions: emits[lo:hi]
	emits    []trace.Entry
	state    []uint64
	received uint32
	fault    string
	faultAt  uint32
	got      uint32 // messages the replica delivered to d (written by d's shard only)
}

func (r *tickRec) find(d uint32) *domRec {
	i := sort.Search(len(r.doms), func(i int) bool { return r.doms[i].d >= d })
	if i < len(r.doms) && r.doms[i].d == d {
		return &r.doms[i]
	}
	return nil
}

// recBytesMax bounds the decoded input a feed holds ahead of the engine
// (it always holds at least one tick).
const recBytesMax = 64 << 20

// feed decodes the input stream ahead of a replica's engine, tick by tick,
// and hands the engine each tick's input when it gets there.
type feed struct {
	src   chunkSource
	recs  chan *tickRec
	free  chan *tickRec
	start Position

	bmu   sync.Mutex // read-ahead budget
	bcond *sync.Cond
	held  int
	shut  bool

	mu     sync.Mutex // the engine's side
	cur    *tickRec
	err    error // the first error (decoder or consistency): the feed is broken
	damp   error // a damp that dropped an input domain's messages, if any (noteDamp)
	decErr error // set by the decoder before it closes recs
	done   chan struct{}
}

// newFeed starts decoding src, which starts at the chunk at start.Seq,
// from the segment with ordinal start.Ordinal.
func newFeed(src chunkSource, start Position) *feed {
	f := &feed{src: src, recs: make(chan *tickRec, 8), free: make(chan *tickRec, 10), start: start, done: make(chan struct{})}
	f.bcond = sync.NewCond(&f.bmu)
	go f.decode()
	return f
}

func recBytes(r *tickRec) int { return len(r.emits)*trace.EntrySize + 64*len(r.doms) }

func (f *feed) take(n int) bool {
	f.bmu.Lock()
	defer f.bmu.Unlock()
	for !f.shut && f.held > 0 && f.held+n > recBytesMax {
		f.bcond.Wait()
	}
	f.held += n
	return !f.shut
}

func (f *feed) give(n int) {
	f.bmu.Lock()
	f.held -= n
	f.bmu.Unlock()
	f.bcond.Broadcast()
}

// decode reads chunks and sends complete tick records on f.recs.
func (f *feed) decode() {
	defer close(f.done)
	defer close(f.recs)
	fail := func(err error) { f.decErr = err }
	want := f.start.Ordinal // ordinal of the next segment to use
	var lastSeq uint64
	var prev Segment
	havePrev := false
	rec := f.newRec()
	for {
		seq, data, err := f.src.Next()
		if err != nil {
			fail(err)
			return
		}
		if lastSeq != 0 && seq <= lastSeq {
			fail(fmt.Errorf("input stream: sequence %d after %d", seq, lastSeq))
			return
		}
		lastSeq = seq
		cr, err := openChunk(data)
		if err != nil {
			fail(fmt.Errorf("input stream: message %d: %w", seq, err))
			return
		}
		if cr.H.Ordinal > want {
			fail(fmt.Errorf("input stream: message %d starts at segment %d, want %d: segments are missing", seq, cr.H.Ordinal, want))
			return
		}
		ord := cr.H.Ordinal
		for idx := uint32(0); ; idx++ {
			var s Segment
			mark := len(rec.emits)
			emits, ok, err := cr.next(&s, rec.emits)
			if err != nil {
				fail(fmt.Errorf("input stream: message %d: %w", seq, err))
				return
			}
			if !ok {
				break
			}
			if ord < want { // before the start, or a segment published twice: applied once
				rec.emits = emits[:mark]
				ord++
				continue
			}
			rec.emits = emits
			if err := checkOrder(&prev, &s, havePrev); err != nil {
				fail(fmt.Errorf("input stream: message %d, segment %d: %w", seq, ord, err))
				return
			}
			prev, havePrev = s, true
			prev.Emits, prev.State = nil, nil
			ord++
			want = ord
			if len(rec.doms) == 0 {
				rec.tick = s.Tick
			}
			if k := len(rec.doms); k == 0 || rec.doms[k-1].d != s.Domain || rec.doms[k-1].received != ^uint32(0) {
				rec.doms = append(rec.doms, domRec{d: s.Domain, lo: mark, received: ^uint32(0)})
			}
			dr := &rec.doms[len(rec.doms)-1]
			dr.hi = len(rec.emits)
			if s.Final {
				dr.received, dr.state, dr.fault, dr.faultAt = s.Received, s.State, s.Fault, s.FaultAt
			}
			if s.TickEnd {
				// (Skip may be the chunk's segment count: the next segment,
				// or the end marker, is in a later chunk or at this one's end.)
				rec.next = Position{Seq: seq, Skip: idx + 1, Ordinal: ord}
				for i := range rec.doms {
					rec.doms[i].emits = rec.emits[rec.doms[i].lo:rec.doms[i].hi]
				}
				if !f.take(recBytes(rec)) {
					return
				}
				f.recs <- rec
				rec = f.newRec()
			}
		}
		if cr.H.End {
			if havePrev && !prev.TickEnd {
				fail(fmt.Errorf("input stream: ends inside tick %d", prev.Tick))
				return
			}
			rec.end, rec.tick = true, cr.H.EndTick
			rec.next = Position{Seq: seq, Skip: cr.H.Segments, Ordinal: ord}
			f.take(0)
			f.recs <- rec
			return
		}
	}
}

// checkOrder checks that s may follow prev: ticks ascending, a tick's
// domains ascending, a domain's segments consecutive.
func checkOrder(prev, s *Segment, have bool) error {
	switch {
	case !have:
		return nil
	case prev.TickEnd:
		if s.Tick <= prev.Tick {
			return fmt.Errorf("tick %d after tick %d", s.Tick, prev.Tick)
		}
	case s.Tick != prev.Tick:
		return fmt.Errorf("tick %d starts before tick %d ended", s.Tick, prev.Tick)
	case prev.Final && s.Domain <= prev.Domain:
		return fmt.Errorf("tick %d: domain %d after domain %d", s.Tick, s.Domain, prev.Domain)
	case !prev.Final && s.Domain != prev.Domain:
		return fmt.Errorf("tick %d: domain %d before domain %d's last segment", s.Tick, s.Domain, prev.Domain)
	}
	return nil
}

func (f *feed) newRec() *tickRec {
	select {
	case r := <-f.free:
		emits := r.emits[:0]
		doms := r.doms[:0]
		*r = tickRec{emits: emits, doms: doms}
		return r
	default:
		return &tickRec{}
	}
}

// release returns a record the engine is done with.
func (f *feed) release(r *tickRec) {
	f.give(recBytes(r))
	select {
	case f.free <- r:
	default:
	}
}

// fail records the feed's first error (f.mu is held).
func (f *feed) fail(err error) error {
	if f.err == nil {
		f.err = err
		if f.damp != nil {
			f.err = f.damp
		}
	}
	return f.err
}

// noteDamp is called for every cell event of the replica's run (SPEC §5.7,
// engine.Config.OnCell). A damped cell that holds an input domain may have
// lost that domain's messages, which the publisher delivered (it runs the
// input domains alone, without detection): the replica's input domains
// then no longer receive what the stream records, and the replica fails.
// The first such damp is kept so that this failure is reported for what
// it is, not as a mismatch of the stream. A damp that dropped nothing of an
// input domain changes nothing.
func (f *feed) noteDamp(in *Inputs, ev *engine.CellEvent) {
	if !ev.Damped {
		return
	}
	for d := ev.First; d < ev.End; d++ {
		if in.Has(d) {
			f.noteDampErr(fmt.Errorf("replica: tick %d: cell %d (domains %d..%d) holds input domain %d and was damped: an input domain's messages cannot be dropped in a replica, because the publisher ran its transitions undamped (replicate this run with --on-oscillation halt, or run it single-node)",
				ev.Tick, ev.Cell, ev.First, ev.End-1, d))
			return
		}
	}
}

// noteGlobalDamp records a damp of global detection at tick h (SPEC §5.6:
// every pending message is dropped, an input domain's too).
func (f *feed) noteGlobalDamp(h uint64) {
	f.noteDampErr(fmt.Errorf("replica: tick %d: the run was damped (global detection drops every pending message) while the publisher's input domains went on: an input domain's messages cannot be dropped in a replica (replicate this run with --on-oscillation halt, or run it single-node)", h))
}

func (f *feed) noteDampErr(err error) {
	f.mu.Lock()
	if f.damp == nil {
		f.damp = err
	}
	f.mu.Unlock()
}

// explain returns the damp that explains err, if there was one, else err.
func (f *feed) explain(err error) error {
	f.mu.Lock()
	defer f.mu.Unlock()
	if f.damp != nil {
		return f.damp
	}
	return err
}

// advance finishes the current record (every input domain got exactly the
// messages the publisher's did) and moves to the next. f.mu is held.
func (f *feed) advance() error {
	if r := f.cur; r != nil {
		for i := range r.doms {
			if dr := &r.doms[i]; dr.got != dr.received {
				return f.fail(fmt.Errorf("replica: tick %d: input domain %d received %d messages, the publisher's %d: this replica's run is not the published one",
					r.tick, dr.d, dr.got, dr.received))
			}
		}
		f.cur = nil
		f.release(r)
	}
	r, ok := <-f.recs
	if !ok {
		if f.decErr != nil {
			return f.fail(f.decErr)
		}
		return f.fail(errors.New("input stream closed"))
	}
	f.cur = r
	return nil
}

// tick returns the input of tick t, for input domain d which receives a
// message at t; it waits for the stream to get there.
func (f *feed) tick(t, d uint32) (*tickRec, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	if f.err != nil {
		return nil, f.err
	}
	if r := f.cur; r != nil && !r.end && r.tick == t {
		return r, nil
	}
	if r := f.cur; r != nil && r.end {
		return nil, f.fail(fmt.Errorf("replica: tick %d: input domain %d receives a message, but the publisher's run ended at tick %d", t, d, r.tick))
	}
	if err := f.advance(); err != nil {
		return nil, err
	}
	switch r := f.cur; {
	case r.end:
		return nil, f.fail(fmt.Errorf("replica: tick %d: input domain %d receives a message, but the publisher's run ended at tick %d", t, d, r.tick))
	case r.tick < t:
		return nil, f.fail(fmt.Errorf("replica: the publisher's input domains received messages at tick %d, this replica's did not (it is at tick %d)", r.tick, t))
	case r.tick > t:
		return nil, f.fail(fmt.Errorf("replica: tick %d: input domain %d receives a message, the publisher's input domains received none (their next input is at tick %d)", t, d, r.tick))
	}
	return f.cur, nil
}

// position is where the input of the first tick not yet consumed starts:
// at a boundary T, the first record of a tick ≥ T. (The snapshot's stream
// position.)
func (f *feed) position() Position {
	f.mu.Lock()
	defer f.mu.Unlock()
	if f.cur != nil {
		return f.cur.next
	}
	return f.start
}

// finish checks the end of a replica's run: the last tick's input was
// consumed exactly, and a run that quiesced has consumed all the input
// (the next record is the end marker). It then stops the feed.
func (f *feed) finish(quiesced bool) error {
	f.mu.Lock()
	err := f.err
	if err == nil && quiesced {
		if err = f.advance(); err == nil && !f.cur.end {
			err = fmt.Errorf("replica: the run quiesced, but the publisher's input domains receive messages at tick %d", f.cur.tick)
		}
	}
	if err == nil && f.cur != nil && !f.cur.end {
		r := f.cur
		for i := range r.doms {
			if dr := &r.doms[i]; dr.got != dr.received {
				err = fmt.Errorf("replica: tick %d: input domain %d received %d messages, the publisher's %d", r.tick, dr.d, dr.got, dr.received)
				break
			}
		}
	}
	if err != nil && f.damp != nil {
		err = f.damp
	}
	f.mu.Unlock()
	f.close()
	return err
}

// close stops the decoder and waits for it.
func (f *feed) close() {
	f.bmu.Lock()
	f.shut = true
	f.bmu.Unlock()
	f.bcond.Broadcast()
	f.src.Close()
	go func() { // let a decoder blocked on a full channel finish
		for range f.recs {
		}
	}()
	<-f.done
}

// applier wraps a workload in a replica: the transitions of the input
// domains do not run; at each tick where an input domain receives
// messages, its emissions and its state come from the stream instead.
// Every other transition runs as in a single-node run, so the replica's
// trace, state and snapshots are the single-node run's.
type applier struct {
	workloads.Workload
	in     *Inputs
	lo, n  uint32 // the input domains when they are one range [lo, lo+n)
	single bool
	words  []uint64
	feed   *feed
}

func newApplier(w workloads.Workload, in *Inputs, f *feed) *applier {
	a := &applier{Workload: w, in: in, feed: f}
	if len(in.r) == 1 {
		a.single, a.lo, a.n = true, in.r[0][0], in.r[0][1]-in.r[0][0]
	}
	return a
}

func (w *applier) Init(words []uint64) {
	w.words = words
	w.Workload.Init(words)
}

// CellOf passes the wrapped workload's cells through (engine.Celled): a
// replica detects by the run's cells (SPEC §5.7), as the single-node run.
func (w *applier) CellOf(cells []uint32) {
	if c, ok := w.Workload.(engine.Celled); ok {
		c.CellOf(cells)
		return
	}
	for i := range cells {
		cells[i] = uint32(i) // the engine's default: one cell per domain
	}
}

// Kept passes the wrapped workload's projection through (engine.Projector).
func (w *applier) Kept(d uint32) []uint64 {
	if p, ok := w.Workload.(engine.Projector); ok {
		return p.Kept(d)
	}
	return nil
}

func (w *applier) Deliver(out *engine.Outbox, msgs []trace.Entry) {
	start := 0
	for i := range msgs {
		d := msgs[i].Dst
		if w.single {
			if d-w.lo >= w.n {
				continue
			}
		} else if !w.in.Has(d) {
			continue
		}
		if start < i {
			w.Workload.Deliver(out, msgs[start:i])
			if k, err := out.Faulted(); err != nil {
				out.MoveFault(start + k)
				return
			}
		}
		if !w.input(out, msgs, i) {
			return
		}
		start = i + 1
	}
	if start < len(msgs) {
		w.Workload.Deliver(out, msgs[start:])
		if k, err := out.Faulted(); err != nil {
			out.MoveFault(start + k)
		}
	}
}

// input delivers msgs[i], addressed to an input domain: the first message
// of the tick to it emits the domain's recorded emissions and sets its
// recorded state. It reports false after a fault.
func (w *applier) input(out *engine.Outbox, msgs []trace.Entry, i int) bool {
	m := &msgs[i]
	if !w.in.Has(m.Src) {
		out.Fault(i, fmt.Errorf("replica: tick %d: input domain %d received a message from domain %d, which is not an input domain (an input domain's transitions run in the publisher, which runs the input domains alone)",
			m.Tick, m.Dst, m.Src))
		return false
	}
	r, err := w.feed.tick(m.Tick, m.Dst)
	if err != nil {
		out.Fault(i, err)
		return false
	}
	dr := r.find(m.Dst)
	if dr == nil {
		out.Fault(i, w.feed.explain(fmt.Errorf("replica: tick %d: input domain %d receives a message, the publisher's did not", m.Tick, m.Dst)))
		return false
	}
	k := dr.got
	dr.got++
	if dr.fault != "" && k == dr.faultAt {
		out.Fault(i, errors.New(dr.fault))
		return false
	}
	if k == 0 {
		off, n := w.Span(m.Dst)
		if len(dr.state) != n {
			out.Fault(i, fmt.Errorf("replica: tick %d: the stream carries %d state words for input domain %d, the workload has %d", m.Tick, len(dr.state), m.Dst, n))
			return false
		}
		copy(w.words[off:off+n], dr.state)
		copy(out.Reserve(len(dr.emits)), dr.emits)
	}
	if dr.got > dr.received {
		out.Fault(i, w.feed.explain(fmt.Errorf("replica: tick %d: input domain %d receives more than the %d messages the publisher's received", m.Tick, m.Dst, dr.received)))
		return false
	}
	return true
}
