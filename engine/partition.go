package engine

import (
	"errors"
	"fmt"
	"slices"
	"sort"

	"github.com/lexbench/lexbench/trace"
)

// Partitioned execution (docs/distributed.md): a run cut into P partitions,
// each a contiguous range of domains run by its own process. This file is
// the engine's side; package partition carries the rounds over NATS,
// hashes the trace across partitions and journals each partition's part.
//
// A partition runs its range as a sharded run in which the other
// partitions are shards that never deliver ("remote" shards, one per
// other partition). As in a single process, a partition keeps the
// messages its own domains emit (its source-side part of Q, late ones
// included), and the whole of tick t in ≺ order is the concatenation, in
// partition order, of the partitions' streams of t, since their src
// ranges ascend. At every tick boundary the partitions exchange a round:
// each sends every other partition the messages of the next tick addressed
// to it (empty or not) and a summary; a remote shard's stream is what its
// partition sent, so a local shard delivers from the streams in partition
// order, which is ≺ order.
//
// Every decision SPEC makes at a boundary is taken from the P summaries of
// the round, which every partition receives alike: quiescence (Σ of the
// messages due and late), the budgets (Σ delivered), the tick range, the
// in-flight bound (the least of the partitions' bounds), the first fault
// (by its place in ≺ order), global oscillation (every partition's part of
// the configuration equals its part at the checkpoint: its domains'
// states and its source-side messages, which together are the whole
// configuration), and local oscillation (cells lie inside partitions; a
// halt needs a second round, taken only when some partition's cell might
// oscillate). Nothing a partition decides depends on when a message
// arrived: a partition that waits stalls the run, it never changes it.

// Partition makes a run one partition of a partitioned run.
type Partition struct {
	// Index is this partition, 0 ≤ Index < len(Cuts)-1.
	Index int
	// Cuts: partition i owns domains [Cuts[i], Cuts[i+1]); Cuts[0] = 0,
	// the last is the domain count, ascending (a range may be empty).
	// Every partition of a run must be given the same cuts (PartitionCuts).
	Cuts []uint32
	// Link carries the rounds.
	Link Link
}

// Link carries a partitioned run's rounds between its partitions.
type Link interface {
	// Exchange sends this partition's message of the next round and
	// returns every partition's message of that round, in partition order
	// (all[Index] is m). A received message's In and InNotices hold what
	// its partition sent to this one. The messages and their slices are
	// valid until the next call. For a RoundTick message, m.Segment is this
	// partition's part of the tick before m.Tick as delivered (not sent):
	// the link hashes and journals it. After a RoundEnd round the link
	// completes the trace's hash chain before it returns.
	Exchange(m *PartMsg) (all []*PartMsg, err error)
	// Chain is the hash chain's head (the trace hash, SPEC §3) and its
	// block count; complete after the RoundEnd round.
	Chain() (head, blocks uint64)
}

// RoundKind says what a round is for.
type RoundKind uint8

// Round kinds.
const (
	// RoundTick: the round that leads to a tick boundary (the messages of
	// the tick and every partition's summary).
	RoundTick RoundKind = iota
	// RoundDecide: a second round at a boundary, only when the first does
	// not settle it: the position of a fault whose message came from
	// another partition, or whether a cell oscillates under halt (SPEC
	// §5.7) when some partition's cell might.
	RoundDecide
	// RoundEnd: the run has ended; every partition sends its domains'
	// final state, so that each evaluates the goals, the figures and the
	// state hash over all of it (SPEC §4, §5).
	RoundEnd
)

// Fault classes of a PartFault, in the order the engine reports them.
const (
	FaultNone     = iota
	FaultDelivery // a transition failed (Outbox.Fault during Deliver)
	FaultEndTick  // end-of-tick work failed (Key: the domain)
	FaultEmission // a bad emission (Key: its src)
	FaultInFlight // an outbox past the in-flight bound
)

// PartFault is one of a partition's candidates for what ends the run at
// a boundary (firstStop's, engine.go).
type PartFault struct {
	Class uint8
	// From is, for a delivery fault, the partition whose message the
	// transition was delivering; Key is its index among From's messages of
	// the tick that this partition received (its own: its index in its own
	// part of the tick).
	From int
	Key  uint64
	// Viol: an invariant violation (Outbox.Violate), not an error.
	Viol bool
	Text string
}

// PartMsg is one partition's message of a round.
type PartMsg struct {
	Kind RoundKind
	Tick uint64 // the boundary the round belongs to

	// RoundTick:
	N         uint64      // messages from this partition's domains due at Tick
	Late      uint64      // its late messages, due after Tick
	Delivered uint64      // its messages delivered at Tick-1
	Dropped   uint64      // its messages dropped by damp, so far
	Faults    FaultCounts // its fault decisions, so far (SPEC §7)
	Limit     uint64      // its in-flight bound
	Fault     PartFault   // its first faulting or violating delivery of tick Tick-1, else of EndTick
	Emit      PartFault   // its faulty emission of the least src in tick Tick-1
	Overflow  bool        // one of its outboxes passed the in-flight bound
	// Global detection: its part of C(Tick) equals its part of the
	// saved checkpoint's, with Touched domains received since; Cycle
	// lists them when the engine needs every partition's (damp with
	// end-of-tick work).
	Equal   bool
	Touched uint64
	Cycle   []uint32
	// Local detection: PreHit says a cell of this partition may oscillate
	// at Tick (halt only); Found is its first oscillating cell (FoundCell)
	// so far, Damped how many of its cells were damped.
	PreHit    bool
	Found     *Oscillation
	FoundCell uint32
	Damped    uint64

	// RoundDecide:
	Hits     uint64       // its cells oscillating at Tick (halt)
	Hit      *Oscillation // the lowest of them: tick, period, domains
	HitCell  uint32
	Resolved []uint64 // per partition p: the position, in this partition's part of tick Tick-1, of p's faulting message from here (NoPos if none)

	// RoundEnd:
	Words []uint64 // the state of this partition's domains, in id order

	// Messages: To[j] and Notices[j] are sent to partition j (To[Index]
	// is not used); a received message has them in In and InNotices.
	// Notices are late messages (due after the next tick) to partition
	// j's domains, sent once when they are scheduled, under local
	// detection only: a cell's configuration includes the late messages
	// pending to it from outside (SPEC §5.7).
	To, Notices   [][]trace.Entry
	In, InNotices []trace.Entry

	// Segment is this partition's part of tick Tick-1 as delivered, for
	// the link's hash chain and journal; it is not sent.
	Segment [][]trace.Entry
}

// NoPos marks a PartMsg.Resolved entry without a position.
const NoPos = ^uint64(0)

// PartCheckpoint is the part of a partitioned run's checkpoint that a
// single process has no use for. A partition's Checkpoint holds its own
// domains' words (Words) and its own source-side messages (Pending); its
// chain fields are zero (the link keeps the chain) and Msgs counts every
// partition's deliveries.
type PartCheckpoint struct {
	Index int
	Cuts  []uint32
	// Inbound are the messages of Tick from other partitions to this one
	// (≺ order); Mirrors the late ones pending to it (local detection).
	Inbound, Mirrors []trace.Entry
	// Cycle: the domains of a damped global cycle, every partition's
	// (damp with end-of-tick work only).
	Cycle []uint32
}

// PartitionCuts cuts w's domains into parts contiguous ranges of about
// equal weight, as a sharded run's shards, with every cell inside one
// range under local detection (SPEC §5.7). The cuts depend only on the
// workload, parts and the detector, so every partition computes the same.
func PartitionCuts(w Workload, parts int, detect Detection) ([]uint32, error) {
	if parts < 1 {
		return nil, errors.New("engine: partitions must be at least 1")
	}
	d := w.Domains()
	if d == 0 {
		return nil, errors.New("engine: workload has no domains")
	}
	cuts := cutShards(w, 0, d, parts)
	if detect == DetectLocal {
		c, err := newCellLayout(w, d)
		if err != nil {
			return nil, err
		}
		c.alignCuts(cuts)
	}
	return cuts, nil
}

// partState is a partitioned run's state.
type partState struct {
	Partition
	local  []*shard // this partition's shards
	remote []*shard // per partition: its remote shard (nil for this one)
	out    PartMsg
	all    []*PartMsg
	// delivered: this partition's messages delivered at the tick that
	// just ended.
	delivered uint64
	limit     int          // the least in-flight bound of the partitions
	found     *Oscillation // local detection: the run's first oscillating cell, Cells = cells damped so far
	dropped   uint64       // every partition's drops
	faults    FaultCounts  // every partition's fault decisions
	gathered  bool         // the RoundEnd round has run
	cycle     []uint32     // a damped global cycle's domains (every partition's), with end-of-tick work
}

func (p *partState) lo() uint32 { return p.Cuts[p.Index] }
func (p *partState) hi() uint32 { return p.Cuts[p.Index+1] }

// partInit checks cfg.Partition and lays out the run's shards: the other
// partitions' remote shards around this partition's own.
func (r *run) partInit(cfg *Config) error {
	pc := cfg.Partition
	P := len(pc.Cuts) - 1
	switch {
	case P < 1 || pc.Index < 0 || pc.Index >= P:
		return fmt.Errorf("engine: partition %d of %d cuts", pc.Index, P)
	case pc.Cuts[0] != 0 || pc.Cuts[P] != r.d:
		return fmt.Errorf("engine: partition cuts %v do not cover the %d domains", pc.Cuts, r.d)
	case pc.Link == nil:
		return errors.New("engine: a partition needs a link")
	case cfg.Journal != nil:
		return errors.New("engine: a partition journals through its link, not Config.Journal")
	case cfg.Buffers != nil:
		return errors.New("engine: a partition does not borrow Config.Buffers (its remote shards are its own)")
	}
	for i := 1; i <= P; i++ {
		if pc.Cuts[i] < pc.Cuts[i-1] {
			return fmt.Errorf("engine: partition cuts %v are not ascending", pc.Cuts)
		}
	}
	if r.loc.on {
		for i := 1; i < P; i++ {
			if c := pc.Cuts[i]; c < r.d && c > 0 && r.loc.of[c] == r.loc.of[c-1] {
				return fmt.Errorf("engine: partition cut %d splits cell %d (local detection needs cells inside partitions)", c, r.loc.of[c])
			}
		}
	}
	p := &partState{Partition: *pc, limit: r.limit}
	k := pc.Index
	local := cutShards(r.wl, pc.Cuts[k], pc.Cuts[k+1], cfg.Shards)
	if r.loc.on {
		r.loc.alignCuts(local)
	}
	// the run's cuts: a remote shard per other partition, the local ones
	r.cuts = append(r.cuts[:0], pc.Cuts[:k]...)
	r.cuts = append(r.cuts, local...)
	r.cuts = append(r.cuts, pc.Cuts[k+2:]...)
	p.remote = make([]*shard, P)
	p.out.To = make([][]trace.Entry, P)
	p.out.Notices = make([][]trace.Entry, P)
	p.out.Resolved = make([]uint64, P)
	r.part = p
	return nil
}

// partShards marks the remote shards once the shards exist.
func (r *run) partShards() {
	p := r.part
	k := p.Index
	S := len(r.shards) - (len(p.Cuts) - 2)
	for i := range p.remote {
		switch {
		case i < k:
			p.remote[i] = r.shards[i]
		case i > k:
			p.remote[i] = r.shards[i-1+S]
		default:
			continue
		}
		p.remote[i].remote = true
	}
	p.local = r.shards[k : k+S]
	r.own = p.local
}

// partEndTick is endTick for a partition: the round that leads to the
// next boundary, then the boundary. The link hashes and journals the
// tick's messages (the engine's block tasks do not run).
func (r *run) partEndTick() {
	p := r.part
	x := slot(r.tick)
	n := 0
	for _, sh := range p.local {
		n += len(sh.stream[x])
	}
	p.delivered = uint64(n)
	r.tick++
	if r.partRound() {
		r.boundary()
	}
}

// partRound runs the round that leads to boundary r.tick: this
// partition's messages of the tick out, the other partitions' in (as the
// streams of their remote shards), every summary.
func (r *run) partRound() bool {
	p := r.part
	t := r.tick
	x := slot(t)
	m := &p.out
	m.Kind, m.Tick = RoundTick, t
	m.N, m.Late = 0, 0
	for _, sh := range p.local {
		m.N += uint64(len(sh.stream[x]))
		m.Late += uint64(sh.late.n)
	}
	m.Delivered, m.Dropped, m.Faults, m.Limit = p.delivered, r.dropped, r.faultCounts(), uint64(r.limit)
	r.partFault(m)
	m.Equal, m.Touched, m.Cycle, m.PreHit = false, 0, m.Cycle[:0], false
	if r.det.on && t > 0 {
		for _, sh := range p.local {
			m.Touched += uint64(len(sh.touched))
		}
		m.Equal = r.det.partEqual(r, t)
		if m.Equal && r.ender != nil && r.cfg.Damp {
			for _, sh := range p.local {
				m.Cycle = append(m.Cycle, sh.touched...)
			}
			slices.Sort(m.Cycle) // a set: the same bytes at every shard count
		}
	}
	m.Found, m.FoundCell, m.Damped = nil, 0, 0
	if r.loc.on {
		if !r.cfg.Damp && t > 0 {
			m.PreHit = r.loc.preHits(r, t)
		}
		m.Found, m.FoundCell, m.Damped = r.loc.found, r.loc.foundCell, r.loc.damped
	}
	for j, rs := range p.remote {
		m.To[j], m.Notices[j] = m.To[j][:0], m.Notices[j][:0]
		if rs == nil {
			continue
		}
		for _, sh := range p.local {
			for _, sp := range sh.to[x][rs.id] {
				m.To[j] = append(m.To[j], sh.stream[x][sp.start:sp.end]...)
			}
		}
	}
	for _, sh := range p.local {
		for _, e := range sh.notices {
			j := sort.Search(len(p.Cuts)-1, func(i int) bool { return p.Cuts[i+1] > e.Dst })
			m.Notices[j] = append(m.Notices[j], e)
		}
		sh.notices = sh.notices[:0]
	}
	m.Segment = m.Segment[:0]
	if t > 0 {
		for _, sh := range p.local {
			m.Segment = append(m.Segment, sh.stream[slot(t-1)])
		}
	}
	m.Words = nil
	all, err := r.exchange(m)
	if err != nil {
		return false
	}
	p.dropped, p.faults, p.limit, p.found = 0, FaultCounts{}, r.limit, nil
	for i, a := range all {
		r.msgs += a.Delivered
		r.entries += a.Delivered
		p.dropped += a.Dropped
		p.faults.add(a.Faults)
		if a.Limit < uint64(p.limit) {
			p.limit = int(a.Limit)
		}
		if a.Found != nil && (p.found == nil || a.Found.Tick < p.found.Tick) {
			f := *a.Found
			p.found = &f
		}
		if i == p.Index {
			continue
		}
		rs := p.remote[i]
		rs.stream[x] = append(rs.stream[x][:0], a.In...)
		r.spans(rs, x)
		if r.loc.on {
			r.loc.markRemote(r, rs, a, t)
		}
	}
	if p.found != nil {
		p.found.Cells = 0
		for _, a := range all {
			p.found.Cells += a.Damped
		}
	}
	return true
}

// exchange runs one round through the link; an error ends the run.
func (r *run) exchange(m *PartMsg) ([]*PartMsg, error) {
	all, err := r.part.Link.Exchange(m)
	if err == nil && len(all) != len(r.part.remote) {
		err = fmt.Errorf("engine: the link returned %d messages for %d partitions", len(all), len(r.part.remote))
	}
	if err != nil {
		r.err = err
		r.stop = true
		return nil, err
	}
	r.part.all = all
	return all, nil
}

// markRemote makes the local detector's marks for the messages of tick t
// from another partition's remote shard rs: every one is an input of its
// dst's cell (cells do not span partitions). Its notices become mirrors in
// rs's late queue, whose messages due at t are dropped (they arrived in
// the stream).
func (L *localDet) markRemote(r *run, rs *shard, a *PartMsg, t uint64) {
	stamp := uint32(t + 1)
	for i := range a.In {
		L.lastInput[L.of[a.In[i].Dst]] = stamp
	}
	q := &rs.late
	q.migrate(t)
	q.take(t, r.bits)
	for i := range a.InNotices {
		e := a.InNotices[i]
		q.insert(&e, t)
	}
}

// partFault sets m's fault fields from this partition's tick that just
// ended, firstStop's candidates seen from here: Fault is its first
// faulting or violating delivery in ≺ order (with its place: the
// partition and index of the faulting message; r.base still lays out the
// tick that ended), else its first fault or violation of EndTick by
// domain id; Emit its faulty emission of the least src; Overflow an
// outbox past the in-flight bound.
func (r *run) partFault(m *PartMsg) {
	p := r.part
	m.Fault, m.Emit, m.Overflow = PartFault{}, PartFault{}, false
	pos := -1
	var sh0 *shard
	for _, sh := range p.local {
		if sh.fault != nil && (pos < 0 || sh.faultPos < pos) {
			pos, sh0 = sh.faultPos, sh
		}
		m.Overflow = m.Overflow || sh.overflow
	}
	if sh0 != nil {
		src := sort.Search(len(r.shards), func(s int) bool { return r.base[s+1] > pos })
		f := PartFault{Class: FaultDelivery, From: p.Index, Viol: sh0.faultViol, Text: sh0.fault.Error()}
		if rs := r.shards[src]; rs.remote {
			f.From = slices.Index(p.remote, rs)
			f.Key = uint64(pos - r.base[src])
		} else {
			f.Key = uint64(pos - r.base[p.local[0].id])
		}
		m.Fault = f
	} else {
		for _, sh := range p.local {
			if sh.endFault != nil && (m.Fault.Class == FaultNone || uint64(sh.endFaultDom) < m.Fault.Key) {
				m.Fault = PartFault{Class: FaultEndTick, Key: uint64(sh.endFaultDom), Viol: sh.endViol, Text: sh.endFault.Error()}
			}
		}
	}
	for _, sh := range p.local {
		if sh.emitFault != nil && (m.Emit.Class == FaultNone || uint64(sh.emitSrc) < m.Emit.Key) {
			m.Emit = PartFault{Class: FaultEmission, Key: uint64(sh.emitSrc), Text: sh.emitFault.Error()}
		}
	}
}

// partPending is boundary's view of the whole run at boundary r.tick: the
// messages due and late (every partition's) and what ends the run, the
// same in every partition and firstStop's choice over all of them: the
// first faulting or violating delivery in ≺ order, else the first fault
// or violation of EndTick by domain id; an error among them ends the run
// with it; with none, the faulty emission of the least src; then an
// outbox past the in-flight bound; then the violation (err nil, violation
// set).
func (r *run) partPending() (n, late int, err, violation error) {
	p := r.part
	class, stop := uint8(FaultNone), false
	for _, a := range p.all {
		n += int(a.N)
		late += int(a.Late)
		if c := a.Fault.Class; c != FaultNone && (class == FaultNone || c < class) {
			class = c
		}
		stop = stop || a.Fault.Class != FaultNone || a.Emit.Class != FaultNone || a.Overflow
	}
	if !stop {
		return n, late, nil, nil
	}
	var first *PartFault
	switch class {
	case FaultEndTick:
		for i := range p.all {
			if f := &p.all[i].Fault; f.Class == class && (first == nil || f.Key < first.Key) {
				first = f
			}
		}
	case FaultDelivery:
		if first, err = r.partFirstDelivery(); err != nil {
			return n, late, err, nil
		}
	}
	if first != nil && !first.Viol {
		return n, late, errors.New(first.Text), nil
	}
	if first == nil {
		var emit *PartFault
		for i := range p.all {
			if f := &p.all[i].Emit; f.Class != FaultNone && (emit == nil || f.Key < emit.Key) {
				emit = f
			}
		}
		if emit != nil {
			return n, late, errors.New(emit.Text), nil
		}
	}
	for _, a := range p.all {
		if a.Overflow {
			return n, late, fmt.Errorf("engine: tick %d: %w: more than %d messages pending", r.tick-1, ErrInFlight, p.limit), nil
		}
	}
	return n, late, nil, errors.New(first.Text)
}

// partFirstDelivery is the first of the partitions' delivery faults and
// violations by its place in the tick's ≺ order: the partition a message
// came from, then its index in that partition's part. A partition knows
// the index of a message it received from another only among those it
// received: the sender resolves it in a second round (RoundDecide).
func (r *run) partFirstDelivery() (*PartFault, error) {
	p := r.part
	base := make([]uint64, len(p.all)+1)
	for i, a := range p.all {
		base[i+1] = base[i] + a.Delivered
	}
	pos := make([]uint64, len(p.all))
	resolve := false
	m := &p.out
	for j, a := range p.all {
		pos[j] = NoPos
		m.Resolved[j] = NoPos
		if a.Fault.Class != FaultDelivery {
			continue
		}
		if a.Fault.From == j {
			pos[j] = base[j] + a.Fault.Key
			continue
		}
		resolve = true
		if a.Fault.From == p.Index {
			m.Resolved[j] = r.partResolve(j, a.Fault.Key)
		}
	}
	if resolve {
		m.Kind = RoundDecide
		m.To, m.Notices, m.Segment = clearEntries(m.To), clearEntries(m.Notices), m.Segment[:0]
		all, err := r.exchange(m)
		if err != nil {
			return nil, err
		}
		for j := range all {
			if f := p.all[j].Fault; f.Class == FaultDelivery && f.From != j {
				if f.From < 0 || f.From >= len(all) || all[f.From].Resolved[j] == NoPos {
					return nil, fmt.Errorf("engine: partition %d did not place partition %d's fault", f.From, j)
				}
				pos[j] = base[f.From] + all[f.From].Resolved[j]
			}
		}
	}
	best := -1
	for j := range pos {
		if pos[j] != NoPos && (best < 0 || pos[j] < pos[best]) {
			best = j
		}
	}
	return &p.all[best].Fault, nil
}

func clearEntries(es [][]trace.Entry) [][]trace.Entry {
	for i := range es {
		es[i] = es[i][:0]
	}
	return es
}

// partResolve is the index, in this partition's part of the tick that
// just ended, of the key-th message it sent to partition j then.
func (r *run) partResolve(j int, key uint64) uint64 {
	p := r.part
	x := slot(r.tick - 1)
	rs := p.remote[j]
	off := uint64(0)
	for _, sh := range p.local {
		for _, sp := range sh.to[x][rs.id] {
			if n := uint64(sp.end - sp.start); key < n {
				return off + uint64(sp.start) + key
			} else {
				key -= n
			}
		}
		off += uint64(len(sh.stream[x]))
	}
	return NoPos
}

// allEqual reports whether every partition's part of the configuration
// equals its part at the saved checkpoint (SPEC §5.6): then, and only
// then, the whole configuration does. domains counts the receivers.
func (p *partState) allEqual() (equal bool, domains uint64) {
	for _, a := range p.all {
		if !a.Equal {
			return false, 0
		}
		domains += a.Touched
	}
	return true, domains
}

// partCycle marks every partition's cycle domains (a damped global cycle
// with end-of-tick work: what EndTick sends them from then on is dropped).
func (r *run) partCycle() {
	p := r.part
	p.cycle = p.cycle[:0]
	for _, a := range p.all {
		p.cycle = append(p.cycle, a.Cycle...)
	}
	for _, d := range p.cycle {
		r.det.stamp[d] = r.det.epoch
	}
}

// partEqual reports whether this partition's part of C(t) equals its part
// of the saved C(c): its messages due at t and its late ones (relative to
// t and c), and the states of its domains that received since c (all its
// domains' with a TickEnder).
func (det *detector) partEqual(r *run, t uint64) bool {
	p := r.part
	x := slot(t)
	n, late := 0, 0
	for _, sh := range p.local {
		n += len(sh.stream[x])
		late += sh.late.n
	}
	if n != len(det.savedMsgs) || late != len(det.savedLate) {
		return false
	}
	i := 0
	for _, sh := range p.local {
		for k := range sh.stream[x] {
			if !sameMsg(&sh.stream[x][k], &det.savedMsgs[i]) {
				return false
			}
			i++
		}
	}
	if late > 0 {
		r.lateList = r.appendLateOf(r.lateList[:0], p.local)
		for i := range det.savedLate {
			a, b := &r.lateList[i], &det.savedLate[i]
			if uint64(a.Tick)-t != uint64(b.Tick)-det.savedTick || !sameMsg(a, b) {
				return false
			}
		}
	}
	if r.ender != nil {
		// EndTick may change a domain that received nothing: compare all
		// of the partition's (in the words the Projector keeps), as
		// confirm does.
		if r.proj == nil {
			off, end := r.rangeWords(p.lo(), p.hi())
			return slices.Equal(r.words[off:end], det.saved[off:end])
		}
		return det.sameProjected(r, p.lo(), p.hi())
	}
	return det.sameTouched(r, p.local)
}

// rangeWords is where domains [lo, hi) lie in the arena.
func (r *run) rangeWords(lo, hi uint32) (off, end int) {
	if lo >= hi {
		return 0, 0
	}
	off, _ = r.wl.Span(lo)
	o, n := r.wl.Span(hi - 1)
	return off, o + n
}

// preHits reports whether a cell of this partition may oscillate at
// boundary t, as far as this partition can tell before the round: a dry
// run of check (nothing changes). A message from another partition due
// at t (an input) or a late one scheduled for the cell can only keep a
// cell from oscillating, so a cell that oscillates at t is among these.
func (L *localDet) preHits(r *run, t uint64) bool {
	ts := uint32(t + 1)
	x := slot(t)
	L.gatherLate(r)
	for _, sh := range r.part.local {
		for i := range sh.acts {
			a := &sh.acts[i]
			lo, hi := L.lateOf(a.cell)
			if L.matches(r, t, x, a.cell, a.n, a.fp, lo, hi) {
				return true
			}
		}
	}
	for i := 0; i < len(L.lateKeys); {
		k := uint32(L.lateKeys[i] >> 32)
		j, internal := i, false
		for ; j < len(L.lateKeys) && uint32(L.lateKeys[j]>>32) == k; j++ {
			internal = internal || L.of[L.late[uint32(L.lateKeys[j])].Src] == k
		}
		if internal && uint32(L.act[k]>>actShift) != ts && L.matches(r, t, x, k, 0, 0, i, j) {
			return true
		}
		i = j
	}
	return false
}

// matches is visit's test, without its effects: whether cell k, visited
// at t, oscillates there.
func (L *localDet) matches(r *run, t uint64, x int, k uint32, n uint32, fp uint64, lo, hi int) bool {
	if L.lastInput[k] == uint32(t+1) || L.dampedAt != nil && L.lastInput[k] < L.dampedAt[k] || L.watch[k] == 0 {
		return false
	}
	rec := &L.recs[L.watch[k]-1]
	for _, key := range L.lateKeys[lo:hi] {
		e := &L.late[uint32(key)]
		n++
		fp += msgHash(e.Tick-uint32(t), e)
	}
	return rec.valid && (n == rec.n && fp == rec.fp || r.cfg.forceCandidate) && L.confirm(r, rec, t, x, lo, hi)
}

// partHalt settles a local halt at boundary t (SPEC §5.7): the run halts
// if a cell of any partition oscillates; halt says whether one of this
// partition's does. Only when some partition's cell might (PreHit) does it
// take a second round, which also gives the run's oscillation line: the
// lowest partition's lowest cell, and the count of all.
func (r *run) partHalt(t uint64, halt bool) bool {
	p := r.part
	need := false
	for _, a := range p.all {
		need = need || a.PreHit
	}
	if !need {
		if halt {
			r.err = fmt.Errorf("engine: tick %d: a cell oscillates that no partition expected (a bug)", t)
			r.stop = true
		}
		return false
	}
	m := &p.out
	m.Kind = RoundDecide
	m.To, m.Notices, m.Segment = clearEntries(m.To), clearEntries(m.Notices), m.Segment[:0]
	for j := range m.Resolved {
		m.Resolved[j] = NoPos
	}
	m.Hits, m.Hit, m.HitCell = 0, nil, 0
	if halt {
		m.Hits, m.Hit, m.HitCell = r.loc.found.Cells, r.loc.found, r.loc.foundCell
	}
	all, err := r.exchange(m)
	if err != nil {
		return false
	}
	var found *Oscillation
	cells := uint64(0)
	for _, a := range all {
		if a.Hits > 0 && found == nil {
			f := *a.Hit
			found = &f
		}
		cells += a.Hits
	}
	if found == nil {
		return false
	}
	found.Cells = cells
	r.loc.found, p.found = found, found
	return true
}

// gather runs the RoundEnd round once the run has ended: every
// partition's final state into the arena, the chain completed. It reports
// false (with r.err set) if the round failed. A single process has
// nothing to gather.
func (r *run) gather() bool {
	p := r.part
	if p == nil || p.gathered {
		return true
	}
	p.gathered = true
	m := &p.out
	m.Kind, m.Tick = RoundEnd, r.tick
	m.To, m.Notices, m.Segment = clearEntries(m.To), clearEntries(m.Notices), m.Segment[:0]
	off, end := r.rangeWords(p.lo(), p.hi())
	m.Words = r.words[off:end]
	all, err := r.exchange(m)
	if err != nil {
		return false
	}
	for i, a := range all {
		if i == p.Index {
			continue
		}
		off, end := r.rangeWords(p.Cuts[i], p.Cuts[i+1])
		if len(a.Words) != end-off {
			r.err = fmt.Errorf("engine: partition %d sent %d state words, its domains have %d", i, len(a.Words), end-off)
			r.stop = true
			return false
		}
		copy(r.words[off:end], a.Words)
	}
	return true
}

// partResult completes a partitioned run's result with what only the
// partitions together know.
func (r *run) partResult() {
	p := r.part
	r.res.Trace, r.res.Blocks = p.Link.Chain()
	r.res.Dropped = p.dropped
	r.res.Faults = p.faults
	r.res.Entries = r.msgs
	if r.loc.on {
		r.res.Oscillation = p.found
	}
}

// appendLateOf appends the late messages of shards (due after r.tick) to
// dst in ≺ order; see appendLate.
func (r *run) appendLateOf(dst []trace.Entry, shards []*shard) []trace.Entry {
	start := len(dst)
	for _, sh := range shards {
		dst = sh.late.appendList(dst, r.tick+1, r.bits)
	}
	if len(shards) > 1 && len(dst)-start > 1 {
		slices.SortStableFunc(dst[start:], func(a, b trace.Entry) int { return cmpU32(a.Tick, b.Tick) })
	}
	return dst
}

// ownsCell reports whether cell k's domains are this process's: always in
// a single process.
func (r *run) ownsCell(k uint32) bool {
	p := r.part
	if p == nil {
		return true
	}
	first := r.loc.starts[k]
	return first >= p.lo() && first < p.hi()
}

// partCheckpoint fills cp's partition fields: its domains' words, the
// other partitions' messages of the tick, the mirrors, the cycle.
func (r *run) partCheckpoint(cp *Checkpoint) {
	p := r.part
	x := slot(r.tick)
	off, end := r.rangeWords(p.lo(), p.hi())
	cp.Words = append(cp.Words[:0], r.words[off:end]...)
	pc := cp.Part
	if pc == nil {
		pc = &PartCheckpoint{}
		cp.Part = pc
	}
	pc.Index, pc.Cuts = p.Index, append(pc.Cuts[:0], p.Cuts...)
	pc.Inbound, pc.Mirrors = pc.Inbound[:0], pc.Mirrors[:0]
	for _, rs := range p.remote {
		if rs != nil {
			pc.Inbound = append(pc.Inbound, rs.stream[x]...)
		}
	}
	var remote []*shard
	for _, rs := range p.remote {
		if rs != nil {
			remote = append(remote, rs)
		}
	}
	pc.Mirrors = r.appendLateOf(pc.Mirrors, remote)
	pc.Cycle = append(pc.Cycle[:0], p.cycle...)
	cp.Prev, cp.Blocks, cp.Entries, cp.LastCount, cp.LastTick = 0, 0, 0, 0, 0
}

// partRestore restores a partition's words, the other partitions'
// messages of the tick (into their remote shards) and the mirrors.
func (r *run) partRestore(cp *Checkpoint) {
	p := r.part
	x := slot(cp.Tick)
	off, end := r.rangeWords(p.lo(), p.hi())
	copy(r.words[off:end], cp.Words)
	for i := range cp.Part.Inbound {
		e := &cp.Part.Inbound[i]
		rs := r.shards[r.shardOf(e.Src)]
		rs.stream[x] = append(rs.stream[x], *e)
	}
	for _, rs := range p.remote {
		if rs != nil {
			r.spans(rs, x)
		}
	}
	for i := range cp.Part.Mirrors {
		e := cp.Part.Mirrors[i]
		r.shards[r.shardOf(e.Src)].late.insert(&e, cp.Tick+1)
	}
	p.cycle = append(p.cycle[:0], cp.Part.Cycle...)
	if r.det.stamp != nil {
		for _, d := range p.cycle {
			r.det.stamp[d] = r.det.epoch
		}
	}
}

// checkRestorePart checks a partition's checkpoint against its partition:
// the same cuts, its own messages from its domains, the others' to them.
func checkRestorePart(w Workload, cp *Checkpoint, part *Partition) error {
	pc := cp.Part
	d := w.Domains()
	lo, hi := part.Cuts[part.Index], part.Cuts[part.Index+1]
	if pc.Index != part.Index || !slices.Equal(pc.Cuts, part.Cuts) {
		return fmt.Errorf("checkpoint of partition %d of cuts %v, not %d of %v", pc.Index, pc.Cuts, part.Index, part.Cuts)
	}
	if cp.Prev != 0 || cp.Blocks != 0 || cp.Entries != 0 || cp.LastCount != 0 || cp.LastTick != 0 {
		return errors.New("checkpoint of a partition has chain fields")
	}
	for i := range cp.Pending {
		if s := cp.Pending[i].Src; s < lo || s >= hi {
			return fmt.Errorf("checkpoint's pending message %d is not from the partition's domains", i)
		}
	}
	own := func(e *trace.Entry) bool { return e.Dst >= lo && e.Dst < hi && (e.Src < lo || e.Src >= hi) }
	for i := range pc.Inbound {
		if e := &pc.Inbound[i]; !own(e) || uint64(e.Tick) != cp.Tick {
			return fmt.Errorf("checkpoint's inbound message %d is not another partition's message of tick %d to this one", i, cp.Tick)
		}
	}
	for i := range pc.Mirrors {
		if e := &pc.Mirrors[i]; !own(e) || uint64(e.Tick) <= cp.Tick {
			return fmt.Errorf("checkpoint's mirrored message %d is not another partition's late message to this one", i)
		}
	}
	if err := checkPending(pc.Inbound, cp.Tick, d, "inbound"); err != nil {
		return err
	}
	if err := checkPending(pc.Mirrors, cp.Tick+1, d, "mirrored"); err != nil {
		return err
	}
	for _, c := range pc.Cycle {
		if c >= d {
			return errors.New("checkpoint's cycle domains are out of range")
		}
	}
	return nil
}
