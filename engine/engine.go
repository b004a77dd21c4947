// Package engine runs a workload as a Lexum system (SPEC §1): domains with
// fixed-size state in an arena, messages delivered one tick at a time in
// (tick, src, seq) order, the canonical trace hashed into a chain of blocks
// (SPEC §3), budgets, quiescence, goals, and oscillation detection (§5.6).
//
// # Execution
//
// Messages emitted at tick t are delivered at t+1, so within a tick domains
// are independent. The domains are cut into S contiguous ranges (shards) of
// about equal weight. During tick t, shard s delivers every message of tick
// t addressed to its domains, in ≺ order, and collects what they emit into
// its own outbox. Because the shard's domains are a contiguous id range and
// each domain's emissions are in seq order, the outbox sorted stably by src
// is exactly the ≺-ordered slice of tick t+1 emitted by that range, and the
// whole of tick t+1 in ≺ order is the concatenation of the shards' sorted
// outboxes in shard order. No merge is needed.
//
// After sorting, a shard records, per destination shard, the spans of its
// outbox addressed there; at tick t+1 shard s walks the spans addressed to
// it, producer shard by producer shard, which is again ≺ order. The outboxes
// are double-buffered (the inbox of tick t is read while tick t+1 is written)
// and stay in place: the inbox of a tick is the journal content of that
// tick, hashed in place and copied once into the journal. Nothing crosses a
// core except at the tick barrier, which the performance floor shows is the
// only exchange that costs less than the work it carries.
//
// Block content hashes (xxhash64 of up to 4096 entries, §3) are independent
// of each other; shards claim them as tasks after their deliveries, so
// hashing is split across cores. The last shard to reach the barrier runs
// the serial section: it chains the 32-byte headers (the only sequential
// part of the hash chain), writes them into the journal, and checks the next
// boundary (quiescence, budgets, oscillation — SPEC §1 order).
//
// With one shard the engine runs the same steps on the calling goroutine
// with no goroutines, atomics or barrier.
//
// # Oscillation detection
//
// SPEC §5.6 fixes the tick at which a repeating configuration is reported
// (Brent's search with checkpoints at 2^k − 1), so the engine must compare
// whole configurations, yet pay almost nothing on runs that never repeat.
// It keeps, per domain, the epoch of its last receipt: one load and compare
// per message (skipped for consecutive messages to one domain), which yields
// the set of domains touched since the checkpoint. At each boundary an O(1)
// fingerprint (message count and three sampled messages) against the saved
// checkpoint tick rejects almost every tick; a candidate is confirmed only
// by comparing every message and every touched domain's state with the
// saved copy, so a fingerprint collision costs time, never a false report.
// At a checkpoint (log2 of the ticks run) only the touched domains are
// copied into the saved state. Memory: one arena copy plus one tick of
// messages. Details and the proof obligations are in oscillation.go.
//
// With Config.Detect = DetectLocal the engine runs SPEC §5.7 instead: one
// search per cell (Celled; a contiguous id range, fixed by the workload),
// restarted after each input from outside the cell, so a fight is found
// while the rest of the system still works, and damp drops only the
// fighting cell's own messages. Shard cuts are aligned to cells. It pays
// per message only the cell of the dst in the outbox pass, and per
// boundary only for cells with an internal message pending; see local.go
// and localsearch.go.
package engine

import (
	"errors"
	"fmt"
	"slices"
	"sort"
	"sync"
	"sync/atomic"

	"github.com/cespare/xxhash/v2"
	"github.com/lexbench/lexbench/arena"
	"github.com/lexbench/lexbench/trace"
)

// Journal receives the canonical blocks of a run (SPEC §3). The engine
// calls Reserve at most once per tick, at the boundary before the tick is
// delivered, with n the exact size of the tick's blocks (headers and
// entries), and only for a tick with messages. Reserve returns exactly n
// writable bytes at the journal's end, valid until the next Reserve (or the
// end of the run). The engine fills all n bytes with the tick's blocks —
// whole, hashed and linked — before it calls Reserve again or returns from
// Run, possibly from several goroutines writing disjoint parts; a journal
// may read the previous region at the next call (recovery compares it,
// journal/mmap checks it under -tags invariants). An error from Reserve
// ends the run with that error.
type Journal interface {
	Reserve(n int) ([]byte, error)
}

// Config controls a run. The zero value of the limits means none only
// through NoLimit; use -1 for "no budget".
type Config struct {
	Params   string // canonical params text (SPEC §3): the chain's first link
	Shards   int    // ≥ 1
	MaxTicks int64  // end before this tick is delivered; < 0: none
	MaxMsgs  int64  // end at the first boundary with ≥ this many delivered; < 0: none
	Damp     bool   // --on-oscillation=damp
	NoDetect bool   // disable oscillation detection (benchmarks of its cost only)
	// Detect selects global (SPEC §5.6, the default) or local (§5.7,
	// cells) oscillation detection.
	Detect  Detection
	Journal Journal
	// OnCell, if set, is called under local detection for every cell found
	// oscillating: each cell oscillating at the boundary where the run
	// halts, and each damp, in ascending cell order per boundary. It is
	// called from the serial section; ev is valid only during the call.
	OnCell func(ev *CellEvent)
	// Progress, if set, is called at every tick boundary from the serial
	// section with the boundary's tick and the messages delivered so far.
	Progress func(tick uint64, msgs uint64)
	// OnFault, if set, is called for every fault decision that faults a
	// message (SPEC §7: dropped, duplicated, delayed), at the boundary of
	// the tick the message was emitted for (boundary t for the messages
	// emitted during tick t−1), before that boundary's checks, from the
	// serial section, in emission order: by src, then seq. So the calls
	// are the same at every shard count, and a run that ends at boundary t
	// reports every decision it counted in Result.Faults. ev is valid
	// only during the call. Unset, the fault layer records nothing.
	OnFault func(ev *FaultEvent)
	// BeforeGoals, if set, is called with the arena before the goals are
	// evaluated (a test hook for goal checks).
	BeforeGoals func(words []uint64)

	// SnapshotEvery > 0 calls Snapshot at every boundary t > 0 with
	// t % SnapshotEvery == 0 at which the run goes on, after the boundary's
	// checks and before tick t is delivered (and before its journal space
	// is reserved). The Checkpoint and its slices are valid only during the
	// call. An error ends the run with that error.
	SnapshotEvery uint64
	Snapshot      func(cp *Checkpoint) error
	// Resume, if set, starts the run from a checkpoint instead of boot
	// (see CheckRestore); Journal then continues the checkpoint's chain.
	Resume *Checkpoint
	// Stop, if set, is polled at every tick boundary in the serial
	// section: once it is true, the run ends at the next boundary where it
	// would go on, with Outcome Stopped (after a snapshot there, if
	// snapshots are on), so its journal ends at that tick boundary and a
	// resume continues it (Ctrl-C).
	Stop *atomic.Bool

	// MaxInFlight bounds the messages in flight (all of Q, late ones
	// included, and what one shard emits in one tick): a run that would
	// hold more ends with an error wrapping ErrInFlight instead of running
	// out of memory. Each message in flight takes 32 bytes in a few
	// buffers. 0 (or more than InFlightMax) means InFlightMax.
	MaxInFlight int64

	// Faults is the fault layer (SPEC §7), off in the zero value. With
	// faults on, oscillation detection does not run (SPEC §5.7): Damp
	// and NoDetect have no effect.
	Faults FaultParams

	// Partition, if set, makes the run one partition of a partitioned run
	// (partition.go, docs/distributed.md): it runs the partition's domains
	// with Shards shards and exchanges a round with the other partitions
	// at every tick boundary through Partition.Link, which also hashes
	// and journals the trace (Journal and Buffers must be nil). Its Result
	// is the whole run's; OnFault sees the decisions of this partition's
	// sources. nil (every single-process run) changes nothing.
	Partition *Partition

	// Buffers, if set, lends the run the buffers an earlier run left in
	// it, and takes this run's back when it ends (many small runs on one
	// goroutine: lexbench sim).
	Buffers *Buffers

	forceCandidate bool // test hook: every fingerprint matches
}

// Outcome is how a run ended (SPEC §1, §5.6).
type Outcome uint8

// Outcomes.
const (
	Converged Outcome = iota
	Violated
	Budget
	Oscillating
	Damped
	Stopped // Config.Stop: ended early at a tick boundary; not a result
)

var outcomeNames = [...]string{"converged", "violated", "budget", "oscillating", "damped", "stopped"}

func (o Outcome) String() string { return outcomeNames[o] }

// Detection is the oscillation detector a run uses.
type Detection uint8

// Detectors.
const (
	DetectGlobal Detection = iota // SPEC §5.6: the whole configuration repeats
	DetectLocal                   // SPEC §5.7: a cell's configuration repeats
)

// Oscillation describes a detected cycle (SPEC §5.6, §5.7): the first
// boundary at which one was found, its period and how many domains
// received a message in it. Under local detection these are the
// lowest-numbered cell's at that boundary, and Cells is the number of
// cells oscillating there (halt) or of distinct cells damped during the
// run (damp); it is 0 under global detection.
type Oscillation struct {
	Tick, Period, Domains uint64
	Cells                 uint64
}

// CellEvent is one cell found oscillating under local detection (SPEC
// §5.7).
type CellEvent struct {
	Cell       uint32
	First, End uint32   // the cell's domains are [First, End)
	Tick       uint64   // the boundary h
	Period     uint64   // h − c_K(h)
	Domains    []uint32 // the cell's domains that received a message in ticks h−period .. h−1, ascending
	Damped     bool     // damped (the run goes on), else the run halts here
}

// ErrInFlight is wrapped by the error of a run that exceeded
// Config.MaxInFlight.
var ErrInFlight = errors.New("too many messages in flight")

// ErrTickRange is wrapped by the error of a run that would deliver a
// message after MaxTick (ticks are u32 in the journal, SPEC §3).
var ErrTickRange = errors.New("beyond the last tick a journal can hold (2^32-1)")

// InFlightMax is the largest in-flight bound: a shard's messages of one
// tick are indexed by int32.
const InFlightMax = 1<<31 - 1

// TickEnder is implemented by a workload whose domains act at the end of a
// tick and not only on messages (timers, goal-directed domains that
// compare state with a goal). EndTick is called once per shard per tick,
// with the shard's Outbox, after the shard delivered all its messages of
// the tick (also when it had none) and before its outbox is finished: what
// EndTick emits comes after everything the shard's domains emitted during
// the tick (later seq, SPEC §1), and a src's emissions there count in its
// emission order like any other. It may touch only the state of the
// shard's domains [out.Lo(), out.Hi()), and what it emits must not depend
// on the shard count (act per domain, in id order).
//
// Every tick index that a run reaches has a boundary and a tick, empty or
// not, so EndTick also runs in ticks with nothing to deliver while late
// messages are pending. For a TickEnder workload tick 0 is always run:
// boundary 0 does not quiesce even with no booting domain (budgets still
// apply there), and EndTick is called at tick 0, which is how a domain
// with no boot message starts. A fault in EndTick is reported with
// out.Fault(domain id, err), a violation with out.Violate(domain id, err).
type TickEnder interface {
	EndTick(out *Outbox)
}

// Result is what a run computed.
type Result struct {
	Trace, State uint64
	Outcome      Outcome
	Violation    error // when Outcome == Violated: the violated goal, or what a transition reported with Outbox.Violate
	Ticks        uint64
	Msgs         uint64
	Dropped      uint64
	Blocks       uint64
	Entries      uint64
	Oscillation  *Oscillation
	Faults       FaultCounts // fault decisions made by the end of the run (SPEC §7)
	Words        []uint64    // final state of every domain (the arena)
}

const (
	blockEntries = trace.BlockEntriesMax
	blockStride  = trace.BlockHeaderSize + blockEntries*trace.EntrySize
	// streamSlots is the number of outbox buffers per shard (a power of two).
	streamSlots = 8
)

func slot(t uint64) int { return int(t & (streamSlots - 1)) }

// span is a run of consecutive outbox entries addressed to one shard.
type span struct{ start, end int32 }

type shard struct {
	id     int
	lo, hi uint32
	out    Outbox
	// stream[slot(t)]: this shard's ≺-ordered emissions delivered at tick t.
	// A ring of streamSlots buffers rather than two: a buffer written by
	// one core and read by another is rewritten only streamSlots ticks
	// later, when the reader's copies of its lines are long gone, so the
	// writer does not pay a cross-core invalidation per cache line
	// (measured: double-buffering made banking --shards 2 slower than 1; 8 slots keep
	// the ring filled after a few ticks, so memory stops growing early).
	stream [streamSlots][]trace.Entry
	spare  []trace.Entry
	to     [streamSlots][][]span // to[slot(t)][s]: spans of stream[slot(t)] addressed to shard s
	// touched lists the shard's domains that received a message since the
	// last oscillation checkpoint.
	touched []uint32
	// acts and recvs are the local detector's marks of the tick this shard
	// last emitted for: its cells with internal messages due, and its
	// domains' first internal receipts (local.go).
	acts   []cellAct
	recvs  []recvMark
	digest xxhash.Digest
	// fault is the first workload fault or violation of the tick's
	// deliveries (at position faultPos of the tick, in ≺ order; faultViol:
	// a violation); endFault the first of EndTick, for domain endFaultDom;
	// emitFault the engine's check of emissions, with the src of the
	// faulty emission; overflow an outbox past the in-flight bound.
	fault       error
	faultPos    int
	faultViol   bool
	endFault    error
	endFaultDom int
	endViol     bool
	emitFault   error
	emitSrc     uint32
	overflow    bool
	// late holds the shard's late messages (its srcs' only).
	late lateQueue
	// fc counts the shard's fault decisions (SPEC §7).
	fc FaultCounts
	// gone and faulted: scratch for generalOutput (the indexes of a tick's
	// emissions not delivered at the next tick; its faulted emissions).
	gone    []int32
	faulted []faultAt
	// remote: another partition's shard (partition.go); it never
	// delivers, its stream is what that partition sent this one.
	// notices: the late messages to other partitions this shard
	// scheduled since the last round (local detection).
	remote  bool
	notices []trace.Entry
	// faultLog: the fault decisions of the tick, for Config.OnFault.
	faultLog []FaultEvent
	_        [64]byte
}

type run struct {
	wl    Workload
	ender TickEnder // wl, if it is one
	cfg   Config
	flt   faultLayer
	limit int // in-flight bound
	d     uint32
	bits  uint
	arena *arena.Arena
	words []uint64

	shards []*shard
	own    []*shard // the shards this process runs: all of them, or a partition's (partition.go)
	cuts   []uint32 // shard s owns [cuts[s], cuts[s+1])
	bar    *barrier
	part   *partState // a partitioned run's state; nil in a single process

	// tick being delivered and its layout
	tick    uint64
	n       int   // messages of the tick
	base    []int // base[p]: index in the tick of shard p's first message
	nBlocks int
	content []uint64 // content hashes of the tick's blocks
	region  []byte   // the tick's journal region

	// chain and counters
	prev    uint64
	blocks  uint64
	entries uint64
	msgs    uint64
	dropped uint64
	// lastCount and lastTick describe the last block (for checkpoints).
	lastCount uint32
	lastTick  uint32
	resumed   uint64 // the tick a resumed run started at (no snapshot there)
	cp        Checkpoint
	fc        FaultCounts   // fault decisions before a resumed run's checkpoint
	lateList  []trace.Entry // scratch: pending late messages in ≺ order

	det  detector
	loc  localDet
	proj Projector // nil: detection compares whole states
	stop bool
	res  Result
	err  error
}

// ErrShards is returned for a shard count below 1.
var ErrShards = errors.New("engine: shards must be at least 1")

// Run executes w to its end and returns the result. The error is non-nil
// only for a broken workload or journal, never for an outcome.
func Run(w Workload, cfg Config) (Result, error) {
	if cfg.Shards < 1 {
		return Result{}, ErrShards
	}
	r := &run{wl: w, cfg: cfg, d: w.Domains()}
	if r.d == 0 {
		return Result{}, errors.New("engine: workload has no domains")
	}
	if cfg.Faults.On() {
		if err := cfg.Faults.Check(); err != nil {
			return Result{}, fmt.Errorf("engine: %w", err)
		}
	}
	r.flt = newFaultLayer(cfg.Faults)
	r.ender, _ = w.(TickEnder)
	r.limit = InFlightMax
	if cfg.MaxInFlight > 0 && cfg.MaxInFlight < InFlightMax {
		r.limit = int(cfg.MaxInFlight)
	}
	r.bits = bitsFor(r.d)
	r.arena = arena.New(w.StateWords())
	r.words = r.arena.Words()
	w.Init(r.words)
	r.proj, _ = w.(Projector)
	detect := !cfg.NoDetect && !r.flt.on
	if td, ok := w.(TickDependent); ok && td.TickDependent() {
		detect = false
	}
	if err := r.loc.init(r, detect && cfg.Detect == DetectLocal); err != nil {
		return Result{}, err
	}
	if cfg.Partition != nil {
		if err := r.partInit(&cfg); err != nil {
			return Result{}, err
		}
	} else {
		r.cuts = cutShards(w, 0, r.d, cfg.Shards)
		if r.loc.on {
			r.loc.alignCuts(r.cuts)
		}
	}
	S := len(r.cuts) - 1
	r.shards = make([]*shard, S)
	for s := range r.shards {
		sh := &shard{id: s, lo: r.cuts[s], hi: r.cuts[s+1]}
		sh.out.lo, sh.out.hi, sh.out.limit = sh.lo, sh.hi, r.limit
		for x := range sh.to {
			sh.to[x] = make([][]span, S)
		}
		r.shards[s] = sh
	}
	r.own = r.shards
	if r.part != nil {
		r.partShards()
	}
	r.base = make([]int, S+1)
	if cfg.Buffers != nil {
		cfg.Buffers.lend(r)
		defer cfg.Buffers.keep(r)
	}
	r.prev = trace.ParamsHash(cfg.Params)
	r.det.init(r, detect && cfg.Detect == DetectGlobal)
	if cfg.Resume != nil {
		err := checkRestore(w, cfg.Resume, cfg.Partition)
		cp := cfg.Resume
		switch {
		case err != nil:
		case cp.Detect && (cfg.NoDetect || !detect && !r.flt.on):
			err = errors.New("the checkpoint has a running oscillation detector and the run disables it")
		case cp.Detect && r.flt.on:
			err = errors.New("the checkpoint has a running oscillation detector and the run has faults on")
		case !r.flt.on && (cp.Faults != (FaultCounts{}) || hasFlags(cp.Pending)):
			err = errors.New("the checkpoint has fault decisions and the run has faults off")
		case cp.Local != r.loc.on:
			err = errors.New("the checkpoint's oscillation detector (global or local) is not the run's")
		case cp.Local && cp.Found != nil && !cfg.Damp:
			err = errors.New("the checkpoint has damped cells and the run halts on oscillation")
		}
		if err != nil {
			return Result{}, fmt.Errorf("engine: resume: %w", err)
		}
		r.restore(cfg.Resume)
		r.layout()
	} else {
		r.boot()
	}
	if !r.stop {
		if S == 1 { // (a partition of P > 1 has remote shards: S > 1)
			r.runSequential()
		} else {
			r.runSharded()
		}
	}
	if r.err != nil {
		return Result{}, r.err
	}
	return r.res, nil
}

// boot emits a Tick from each booting domain to itself, in id order (tick
// 0, seq 0), and runs boundary 0.
func (r *run) boot() {
	for _, sh := range r.own {
		sh.out.begin(0, sh.stream[0][:0])
		r.bootShard(sh)
		r.finishOutput(sh, 0)
	}
	if r.part != nil && !r.partRound() {
		return
	}
	r.boundary()
}

// hasFlags reports whether an entry of es has fault flags.
func hasFlags(es []trace.Entry) bool {
	for i := range es {
		if es[i].Flags != 0 {
			return true
		}
	}
	return false
}

// bootShard emits a Tick from each booting domain of sh to itself, in id
// order (tick 0, seq 0).
func (r *run) bootShard(sh *shard) {
	defer sh.out.recoverOverflow()
	for d := sh.lo; d < sh.hi; d++ {
		if r.wl.Boots(d) {
			sh.out.Emit(d, d, trace.KindTick, 0, 0)
		}
	}
}

// deliver runs the transitions of msgs (a shard's messages of the tick, or
// a span of them) into sh's outbox.
func (r *run) deliver(sh *shard, msgs []trace.Entry) {
	defer sh.out.recoverOverflow()
	r.wl.Deliver(&sh.out, msgs)
}

// deliverAll delivers msgs, the messages at positions pos… of the tick in
// ≺ order, into sh's outbox. After a transition that faults or violates
// (Outbox.Fault, Violate), the shard's first is recorded and delivery goes
// on with the next message: every message of the tick is delivered
// whatever the shards, so the state a violated run ends with does not
// depend on where they are cut. An outbox overflow abandons the rest.
func (r *run) deliverAll(sh *shard, msgs []trace.Entry, pos int) {
	for {
		r.deliver(sh, msgs)
		o := &sh.out
		if o.fault == nil || o.overflow {
			return
		}
		i := min(max(o.faultAt, 0), len(msgs)-1)
		if sh.fault == nil { // a shard delivers in ≺ order: its first is its least
			sh.fault, sh.faultPos, sh.faultViol = o.fault, pos+i, o.viol
		}
		o.fault = nil
		if msgs, pos = msgs[i+1:], pos+i+1; len(msgs) == 0 {
			return
		}
	}
}

// endShardTick calls the workload's EndTick for sh, unless its outbox
// overflowed (the tick is abandoned). It runs after a fault or violation
// too: the tick is finished as usual whatever the shards.
func (r *run) endShardTick(sh *shard) {
	if sh.out.overflow {
		return
	}
	defer sh.out.recoverOverflow()
	r.ender.EndTick(&sh.out)
	if o := &sh.out; o.fault != nil {
		if sh.endFault == nil {
			sh.endFault, sh.endFaultDom, sh.endViol = o.fault, o.faultAt, o.viol
		}
		o.fault = nil
	}
}

func (r *run) runSequential() {
	sh := r.shards[0]
	for !r.stop {
		x, y := slot(r.tick), slot(r.tick+1)
		sh.out.begin(r.tick+1, sh.takeBuffer(r.tick))
		// receivers are marked for the detector when they are emitted to,
		// in finishOutput's pass (one shard only; see there)
		if in := sh.stream[x]; len(in) > 0 {
			r.deliverAll(sh, in, 0)
		}
		if r.ender != nil {
			r.endShardTick(sh)
		}
		r.finishOutput(sh, y)
		r.hashSequential(sh.stream[x])
		r.endTick()
	}
}

// hashSequential is hashBlock for every block of the tick when one shard
// holds the whole tick (in): no search for the block's shard, and a block
// of one entry is hashed from its fields (trace.EntryHash).
func (r *run) hashSequential(in []trace.Entry) {
	var scratch []byte
	for b := 0; b < r.nBlocks; b++ {
		es := in[b*blockEntries : min((b+1)*blockEntries, r.n)]
		var h uint64
		if len(es) == 1 {
			h = trace.EntryHash(&es[0])
			invEntryHash(&es[0], h)
		} else {
			h = trace.ContentHash(es, &scratch)
		}
		r.content[b] = h
		if r.region != nil {
			copy(r.region[b*blockStride+trace.BlockHeaderSize:], trace.EntryBytes(es, &scratch))
		}
	}
}

// bigStreamEntries is the outbox capacity beyond which a buffer no longer
// fits a core's cache, so the ring's cache argument is moot and memory
// matters more: such buffers move to the slot being written instead of
// staying in the ring (at most three exist, whatever the slot count).
const bigStreamEntries = 1 << 16

// takeBuffer returns the empty buffer to write the emissions of tick t into
// (delivered at t+1).
func (sh *shard) takeBuffer(t uint64) []trace.Entry {
	y, free := slot(t+1), slot(t-1) // tick t-1 was fully consumed by the last barrier
	if t > 0 && cap(sh.stream[free]) > bigStreamEntries && cap(sh.stream[free]) > cap(sh.stream[y]) {
		sh.stream[y], sh.stream[free] = sh.stream[free], sh.stream[y][:0]
	}
	return sh.stream[y][:0]
}

func (r *run) runSharded() {
	r.bar = newBarrier(len(r.own))
	var wg sync.WaitGroup
	for _, sh := range r.own[1:] {
		wg.Add(1)
		go func(sh *shard) {
			defer wg.Done()
			r.shardLoop(sh)
		}(sh)
	}
	r.shardLoop(r.own[0])
	wg.Wait()
}

func (r *run) shardLoop(sh *shard) {
	for !r.stop {
		x, y := slot(r.tick), slot(r.tick+1)
		sh.out.begin(r.tick+1, sh.takeBuffer(r.tick))
	deliver:
		for _, p := range r.shards {
			in := p.stream[x]
			for _, sp := range p.to[x][sh.id] {
				msgs := in[sp.start:sp.end]
				if r.det.on {
					sh.mark(r.det.stamp, r.det.epoch, msgs)
				}
				r.deliverAll(sh, msgs, r.base[p.id]+int(sp.start))
				if sh.out.overflow {
					break deliver
				}
			}
		}
		if r.ender != nil {
			r.endShardTick(sh)
		}
		r.finishOutput(sh, y)
		// Hash the blocks that start in this shard's own stream: its lines
		// are still in this core's cache, and on the measured machine a
		// cache line read by another core costs more than hashing it.
		// (A partition's link hashes its part of the trace.)
		if r.part == nil {
			for b := (r.base[sh.id] + blockEntries - 1) / blockEntries; b*blockEntries < r.base[sh.id+1]; b++ {
				r.hashBlock(sh, b, x)
			}
		}
		r.bar.wait(r.endTick)
	}
}

// finishOutput orders a shard's outbox by src, checks it, applies the
// fault layer, moves late messages to the shard's late queue and merges in
// the late messages now due, and records the spans per destination shard.
// The result is the shard's stream[x]: its ≺-ordered messages of the
// outbox's delivery tick.
func (r *run) finishOutput(sh *shard, x int) {
	es := sh.out.buf
	invOutbox(&sh.out, es)
	// Anything late (an EmitAt in the outbox, messages in the late queue)
	// or the fault layer takes the general path; a v1 run never does.
	general := sh.out.late || sh.late.n > 0 || r.flt.on
	var unsorted bool
	var bad int
	if r.loc.on && !general {
		unsorted, bad = r.loc.scan(sh, es, r.d, len(r.shards) > 1)
	} else {
		unsorted, bad = r.scanOutput(sh, es, general)
	}
	sorted := !unsorted
	if bad >= 0 {
		sh.emitError(es[bad].Src, fmt.Errorf("engine: tick %d: domain %d emitted to nonexistent domain %d (domains: %d)",
			sh.out.next-1, es[bad].Src, es[bad].Dst, r.d))
	}
	if sh.out.emitErr != nil {
		sh.emitError(sh.out.emitErrSrc, sh.out.emitErr)
		sh.out.emitErr = nil
	}
	if sh.out.overflow {
		sh.overflow = true
	}
	if sh.emitFault != nil || sh.overflow {
		es = es[:0] // the run ends at this boundary
	}
	if !sorted {
		es, sh.spare = sortBySrc(es, sh.spare, r.bits)
	}
	if len(es) > 0 && (es[0].Src < sh.lo || es[len(es)-1].Src >= sh.hi) {
		// the least src outside [lo,hi): es is in src order
		bad := es[0].Src
		if bad >= sh.lo {
			bad = es[sort.Search(len(es), func(i int) bool { return es[i].Src >= sh.hi })].Src
		}
		sh.emitError(bad, fmt.Errorf("engine: tick %d: a transition of a domain in [%d,%d) emitted a message with src %d, not its own id",
			sh.out.next-1, sh.lo, sh.hi, bad))
		es = es[:0]
	}
	if general && sh.emitFault == nil && !sh.overflow {
		es = r.generalOutput(sh, es)
		if r.loc.on {
			// the local detector's marks, on what is due at the tick
			r.loc.scan(sh, es, r.d, len(r.shards) > 1)
		}
	}
	invStream(r, sh, es, sh.out.next)
	sh.stream[x] = es
	sh.out.buf = nil
	if len(r.shards) > 1 {
		r.spans(sh, x)
	}
}

// scanOutput is finishOutput's pass over a shard's outbox es (emission
// order) unless the local detector's scan does it: it checks every dst
// (bad is the index of the first faulty emission of the least src, or
// -1), reports whether es is not in src order, and makes the global
// detector's receiver marks (with one shard, not on the general path).
func (r *run) scanOutput(sh *shard, es []trace.Entry, general bool) (unsorted bool, bad int) {
	// With one shard, the detector's receiver marks for the next tick are
	// made here, in the pass that checks the outbox anyway: a domain
	// emitted to now receives at the next tick. (With more shards the
	// consumer marks its own domains, so no two shards write one stamp.)
	// On the general path the marks are made on the finished stream.
	mark := r.det.on && len(r.shards) == 1 && !general
	stamp, epoch := r.det.stamp, r.det.epoch
	nd := r.d // locals: the loop stores nothing the compiler must reload them for
	last := uint32(0)
	bad = -1
	lastDst := ^uint32(0)
	for i := range es {
		e := &es[i]
		src, d := e.Src, e.Dst
		unsorted = unsorted || src < last
		last = src
		if d == lastDst {
			continue // checked and marked already
		}
		if d >= nd {
			if bad < 0 || src < es[bad].Src {
				bad = i // the first of the least src: its place in ≺ order
			}
			continue
		}
		lastDst = d
		if mark && stamp[d] != epoch {
			stamp[d] = epoch
			sh.touched = append(sh.touched, d)
		}
	}
	return unsorted, bad
}

// emitError records an emission the engine rejects; the run ends at the
// boundary with the error of the least src (for one src, the first
// recorded: a nonexistent dst before a tick out of range).
func (sh *shard) emitError(src uint32, err error) {
	if sh.emitFault == nil || src < sh.emitSrc {
		sh.emitFault, sh.emitSrc = err, src
	}
}

// generalOutput finishes a shard's ≺-ordered outbox es of the emissions
// of tick t-1 (t = sh.out.next) when anything is late or the fault layer
// is on: the fault decisions (SPEC §7), the late messages into the late
// queue, then the late messages due at t merged in. It returns the stream
// of tick t.
func (r *run) generalOutput(sh *shard, es []trace.Entry) []trace.Entry {
	t := sh.out.next
	q := &sh.late
	q.migrate(t) // before any insertion: see lateQueue
	gone := sh.gone[:0]
	if sh.out.late || r.flt.on && t > 0 {
		gone = r.sortOut(sh, es, t, gone)
	}
	sh.gone = gone
	if due := q.take(t, r.bits); len(due) > 0 || len(gone) > 0 {
		// One pass of block copies builds the tick's stream; a tick in
		// which nothing left or arrived late keeps es as it is.
		es, sh.spare = assemble(sh.spare, es, gone, due), es
	}
	if r.det.on && len(r.shards) == 1 {
		sh.mark(r.det.stamp, r.det.epoch, es)
	}
	invLate(q, t+1)
	return es
}

// sortOut walks the ≺-ordered emissions es of tick t-1, applies the fault
// decisions if the fault layer is on, and moves every message due after t
// into the late queue. It appends to gone the indexes of the messages that
// are not delivered at t (dropped, delayed, scheduled later), ascending,
// and leaves es as it is.
func (r *run) sortOut(sh *shard, es []trace.Entry, t uint64, gone []int32) []int32 {
	if !sh.out.late {
		return r.decideFaults(sh, es, t, gone) // faults on, nothing scheduled late
	}
	fl := &r.flt
	faults := fl.on && t > 0 // boot Ticks are never faulted
	t32 := uint32(t)
	src, i := ^uint32(0), uint64(0) // i: the emission index of es[k] within its src's emissions of the tick
	var srcMix uint64
	for k := range es {
		m := &es[k]
		if m.Src != src {
			src, i = m.Src, 0
			if faults {
				srcMix = fl.srcMix(t, src)
			}
		} else {
			i++
		}
		if faults && m.Src != m.Dst {
			// SPEC §7: u, then r = u % 10^6 against the cumulative rates.
			if u := mix(srcMix ^ (golden * (i + 1))); u%FaultRateMax < fl.delayEnd {
				if r.fault(sh, m, u, t, i) {
					gone = append(gone, int32(k)) // dropped or delayed
					continue
				}
			}
		}
		if m.Tick != t32 { // scheduled late by EmitAt (t < 2^32 here)
			c := *m
			r.lateInsert(sh, &c, uint64(m.Tick), t)
			gone = append(gone, int32(k))
			if r.part != nil && r.loc.on && (m.Dst < r.part.lo() || m.Dst >= r.part.hi()) {
				sh.notices = append(sh.notices, *m) // to the dst's partition (partition.go)
			}
		}
	}
	return gone
}

// faultAt is a message of a tick's emissions whose decision faults it.
type faultAt struct {
	k int32  // its index
	u uint64 // its decision hash
}

// decideFaults is sortOut for a tick with the fault layer on and no
// message scheduled late. The decisions (SPEC §7) are made in a loop
// without calls, which finds the few messages that fault; those are then
// applied in order.
func (r *run) decideFaults(sh *shard, es []trace.Entry, t uint64, gone []int32) []int32 {
	fl := &r.flt
	if cap(sh.faulted) < len(es) {
		sh.faulted = make([]faultAt, len(es)+len(es)/4)
	}
	ev := sh.faulted[:len(es)]
	n := 0
	src := ^uint32(0)
	var srcMix, gi uint64 // gi = G·(i+1) for the emission index i of es[k] within its src's
	end, tm := fl.delayEnd, mix(fl.seed+golden*(t+1))
	for k := range es {
		m := &es[k]
		if m.Src != src {
			src, gi = m.Src, 0
			srcMix = mix(tm ^ (golden * (uint64(src) + 1)))
		}
		gi += golden
		if m.Src == m.Dst {
			continue // a domain's messages to itself are never faulted
		}
		if u := mix(srcMix ^ gi); u%FaultRateMax < end {
			ev[n] = faultAt{int32(k), u}
			n++
		}
	}
	obs := srcRun{start: -1}
	for _, f := range ev[:n] {
		var i uint64
		if r.cfg.OnFault != nil {
			i = obs.index(es, int(f.k))
		}
		if r.fault(sh, &es[f.k], f.u, t, i) {
			gone = append(gone, f.k)
		}
	}
	return gone
}

// assemble writes into out the ≺-ordered stream of a tick from a shard's
// ≺-ordered emissions es without the indexes in gone (ascending) and its
// late messages due then (late, ≺-ordered): for one src, the late ones
// before the fresh ones, as they were emitted earlier. It copies runs of
// es in blocks.
func assemble(out, es []trace.Entry, gone []int32, late []trace.Entry) []trace.Entry {
	n := len(es) - len(gone) + len(late)
	out = slices.Grow(out[:0], n)[:n]
	k, pos, g, j := 0, 0, 0, 0
	for {
		// the next event: the insertion point of late[j] (the first fresh
		// message of a src ≥ its src), or the next gone index
		ins := len(es)
		if j < len(late) {
			src := late[j].Src
			ins = pos + sort.Search(len(es)-pos, func(x int) bool { return es[pos+x].Src >= src })
		}
		next := ins
		if g < len(gone) && int(gone[g]) < next {
			next = int(gone[g])
		}
		k += copy(out[k:], es[pos:next])
		pos = next
		switch {
		case j < len(late) && ins == next:
			out[k] = late[j]
			k++
			j++
		case g < len(gone) && int(gone[g]) == next:
			pos++
			g++
		default:
			return out // nothing late or gone is left: the rest is copied
		}
	}
}

// fault applies the decision u (one that faults, SPEC §7) to m, emitted
// during tick t-1 as its src's i-th message and due at m.Tick: a
// duplicate's copy goes to the late queue and m stays; a dropped or
// delayed m leaves the stream (true). i is used only by Config.OnFault.
func (r *run) fault(sh *shard, m *trace.Entry, u, t, i uint64) bool {
	fl := &r.flt
	due := uint64(m.Tick)
	if m.Tick == uint32(t) {
		due = t // t may be 2^32 (then nothing is late)
	}
	d := 1 + (u/FaultRateMax)%fl.maxDelay
	switch rate := u % FaultRateMax; {
	case rate < fl.drop:
		sh.fc.Dropped++
		if r.cfg.OnFault != nil {
			sh.recordFault(m, i, due, FaultDropped, 0)
		}
		return true
	case rate < fl.dupEnd:
		sh.fc.Duplicated++
		if r.cfg.OnFault != nil {
			sh.recordFault(m, i, due, FaultDuplicated, due+d)
		}
		c := *m
		c.Flags = trace.FlagCopy
		r.lateInsert(sh, &c, due+d, t)
		return false
	}
	sh.fc.Delayed++
	if r.cfg.OnFault != nil {
		sh.recordFault(m, i, due, FaultDelayed, due+d)
	}
	c := *m
	c.Flags = trace.FlagDelayed
	r.lateInsert(sh, &c, due+d, t)
	return true
}

// lateInsert queues m for tick due (> t), or records a tick out of range.
func (r *run) lateInsert(sh *shard, m *trace.Entry, due, t uint64) {
	if due > MaxTick {
		sh.emitError(m.Src, fmt.Errorf("engine: tick %d: a message of domain %d would be due at tick %d: %w", t-1, m.Src, due, ErrTickRange))
		return
	}
	m.Tick = uint32(due)
	sh.late.insert(m, t)
}

// spans records the runs of sh.stream[x] addressed to each shard.
func (r *run) spans(sh *shard, x int) {
	if len(r.shards) == 1 {
		return
	}
	es := sh.stream[x]
	to := sh.to[x]
	for s := range to {
		to[s] = to[s][:0]
	}
	for i := 0; i < len(es); {
		s := r.shardOf(es[i].Dst)
		lo, hi := r.cuts[s], r.cuts[s+1]
		j := i + 1
		for j < len(es) && es[j].Dst >= lo && es[j].Dst < hi {
			j++
		}
		to[s] = append(to[s], span{int32(i), int32(j)})
		i = j
	}
}

// firstStop is what ends the run at this boundary, if anything: an error
// (Run returns it) or a violation (the run ends as Violated). Candidates,
// in this order: the first faulting or violating delivery of the tick in
// ≺ order; else the first fault or violation of EndTick by domain id; else
// the faulty emission of the least src. All are independent of the shard
// count. Last comes an outbox past the in-flight bound, a resource limit:
// when the same tick also faults, which of the two is reported may depend
// on the shard count (an overflowing shard abandons its tick), and it wins
// over a violation (the abandoned tick's state is not a result).
func (r *run) firstStop() (err, violation error) {
	stopped := false
	for _, sh := range r.shards {
		stopped = stopped || sh.fault != nil || sh.endFault != nil || sh.emitFault != nil || sh.overflow
	}
	if !stopped {
		return nil, nil
	}
	pos, viol := -1, false
	for _, sh := range r.shards {
		if sh.fault != nil && (pos < 0 || sh.faultPos < pos) {
			err, pos, viol = sh.fault, sh.faultPos, sh.faultViol
		}
	}
	if err == nil {
		for _, sh := range r.shards {
			if sh.endFault != nil && (pos < 0 || sh.endFaultDom < pos) {
				err, pos, viol = sh.endFault, sh.endFaultDom, sh.endViol
			}
		}
	}
	if err != nil && !viol {
		return err, nil
	}
	if err == nil {
		var src uint32
		for _, sh := range r.shards {
			if sh.emitFault != nil && (err == nil || sh.emitSrc < src) {
				err, src = sh.emitFault, sh.emitSrc
			}
		}
		if err != nil {
			return err, nil
		}
	}
	for _, sh := range r.shards {
		if sh.overflow {
			return r.inFlightError(), nil
		}
	}
	return nil, err
}

func (r *run) inFlightError() error {
	return fmt.Errorf("engine: tick %d: %w: more than %d messages pending", r.tick, ErrInFlight, r.limit)
}

// pendingLate is the number of late messages pending (due after the
// current tick).
func (r *run) pendingLate() int {
	n := 0
	for _, sh := range r.shards {
		n += sh.late.n
	}
	return n
}

func (r *run) shardOf(d uint32) int {
	// the largest s with cuts[s] <= d and a non-empty range
	return sort.Search(len(r.shards), func(s int) bool { return r.cuts[s+1] > d })
}

// hashBlock computes the content hash of block b of the current tick and
// copies its entries into the journal region.
func (r *run) hashBlock(sh *shard, b int, x int) {
	start := b * blockEntries
	end := min(start+blockEntries, r.n)
	p := sort.Search(len(r.shards), func(p int) bool { return r.base[p+1] > start })
	var dst []byte
	if r.region != nil {
		dst = r.region[b*blockStride+trace.BlockHeaderSize:]
	}
	var scratch []byte
	if end <= r.base[p+1] {
		in := r.shards[p].stream[x][start-r.base[p] : end-r.base[p]]
		bs := trace.EntryBytes(in, &scratch)
		r.content[b] = xxhash.Sum64(bs)
		if dst != nil {
			copy(dst, bs)
		}
		return
	}
	d := &sh.digest
	d.Reset()
	for pos := start; pos < end; p++ {
		hi := min(end, r.base[p+1])
		if hi <= pos {
			continue
		}
		in := r.shards[p].stream[x][pos-r.base[p] : hi-r.base[p]]
		bs := trace.EntryBytes(in, &scratch)
		_, _ = d.Write(bs)
		if dst != nil {
			dst = dst[copy(dst, bs):]
		}
		pos = hi
	}
	r.content[b] = d.Sum64()
}

// endTick is the serial section after every shard finished the tick: chain
// the tick's blocks, then check the next boundary.
func (r *run) endTick() {
	if r.part != nil {
		r.partEndTick()
		return
	}
	for b := 0; b < r.nBlocks; b++ {
		count := uint32(min(blockEntries, r.n-b*blockEntries))
		h := trace.BlockHash(count, r.blocks, r.prev, r.content[b])
		invBlockHash(count, r.blocks, r.prev, r.content[b], h)
		if r.region != nil {
			trace.PutBlockHeader(r.region[b*blockStride:], trace.BlockHeader{
				Count: count, Index: r.blocks, Prev: r.prev, Hash: h})
		}
		r.prev = h
		r.blocks++
		r.lastCount = count
	}
	if r.nBlocks > 0 {
		r.lastTick = uint32(r.tick)
	}
	r.entries += uint64(r.n)
	r.msgs += uint64(r.n)
	r.tick++
	r.boundary()
}

// boundary runs the checks before delivering r.tick (SPEC §1) and, if the
// run goes on, lays out the tick's block tasks.
func (r *run) boundary() {
	t := r.tick
	x := slot(t)
	n := 0
	for p, sh := range r.shards {
		r.base[p] = n
		n += len(sh.stream[x])
	}
	r.base[len(r.shards)] = n
	r.n = n
	if r.cfg.Progress != nil {
		r.cfg.Progress(t, r.msgs)
	}
	if r.cfg.OnFault != nil {
		r.reportFaults()
	}
	var err, v error
	late, limit, locFound := 0, r.limit, r.loc.found
	if r.part == nil {
		err, v = r.firstStop()
	} else {
		n, late, err, v = r.partPending()
		limit, locFound = r.part.limit, r.part.found
	}
	if err != nil {
		r.err = err
		r.stop = true
		return
	} else if v != nil {
		r.res.Violation = v // the goals are not evaluated
		r.end(Violated)
		return
	}
	if r.part == nil {
		late = r.pendingLate()
	}
	switch {
	case n == 0 && late == 0 && (t > 0 || r.ender == nil):
		if !r.gather() {
			return
		}
		switch {
		case r.det.found != nil:
			r.end(Damped) // global damp: the goals are not evaluated (SPEC §5.6)
		case locFound != nil && r.cfg.Damp:
			// local damp: the goals are evaluated (SPEC §5.7)
			if o := r.goals(); o == Violated {
				r.end(o)
			} else {
				r.end(Damped)
			}
		default:
			r.end(r.goals())
		}
		return
	case r.cfg.MaxTicks >= 0 && t >= uint64(r.cfg.MaxTicks),
		r.cfg.MaxMsgs >= 0 && r.msgs >= uint64(r.cfg.MaxMsgs):
		r.end(Budget)
		return
	case t > MaxTick:
		r.err = fmt.Errorf("engine: tick %d: %d messages pending: %w", t, n+late, ErrTickRange)
		r.stop = true
		return
	case n+late > limit:
		r.err = fmt.Errorf("engine: tick %d: %w: more than %d messages pending", r.tick, ErrInFlight, limit)
		r.stop = true
		return
	}
	if r.det.found != nil && r.cfg.Damp && r.ender != nil {
		// After a damped cycle, a TickEnder may emit without receiving:
		// its messages to the cycle's domains are dropped too (SPEC
		// §5.6: every message addressed to an oscillating domain from h on).
		r.dropPending(func(r *run, e *trace.Entry) bool { return r.det.stamp[e.Dst] == r.det.epoch })
	}
	if r.det.on && r.det.check(r, t) {
		if !r.cfg.Damp {
			r.end(Oscillating)
			return
		}
		// Every message pending at h goes to an oscillating domain (SPEC
		// §5.6): damp drops all of them, late ones included.
		r.dropPending(nil)
	}
	if r.loc.on {
		halt := r.loc.check(r, t)
		if r.part != nil {
			halt = r.partHalt(t, halt)
		}
		if halt {
			r.end(Oscillating)
			return
		}
		if r.stop {
			return
		}
	}
	stop := r.cfg.Stop != nil && r.cfg.Stop.Load()
	if e := r.cfg.SnapshotEvery; e > 0 && (t%e == 0 || stop) && t > 0 && t != r.resumed && r.cfg.Snapshot != nil {
		r.checkpoint(&r.cp)
		if err := r.cfg.Snapshot(&r.cp); err != nil {
			r.err = err
			r.stop = true
			return
		}
	}
	if stop {
		r.end(Stopped)
		return
	}
	r.layout()
}

// dropPending drops the pending messages (of this tick and late ones)
// that drop reports (nil: all) and counts them in Dropped. The order of
// the others is kept. drop gets the run so that it need not capture
// anything (a func literal that captures nothing does not allocate).
func (r *run) dropPending(drop func(r *run, e *trace.Entry) bool) {
	x := slot(r.tick)
	n := 0
	for p, sh := range r.shards {
		es := sh.stream[x]
		w := 0
		if drop != nil {
			for k := range es {
				if !drop(r, &es[k]) {
					es[w] = es[k]
					w++
				}
			}
		}
		dropped := len(es) - w
		sh.stream[x] = es[:w]
		r.spans(sh, x)
		if drop == nil {
			dropped += sh.late.clear()
		} else {
			dropped += sh.late.filter(r, drop)
		}
		if !sh.remote { // another partition's messages are its to count
			r.dropped += uint64(dropped)
		}
		r.base[p] = n
		n += w
	}
	r.base[len(r.shards)] = n
	r.n = n
}

// layout lays out the blocks of tick r.tick and reserves its journal space.
func (r *run) layout() {
	n := r.n
	r.nBlocks = (n + blockEntries - 1) / blockEntries
	if r.part != nil {
		r.nBlocks = 0 // the link hashes a partition's part
	}
	if cap(r.content) < r.nBlocks {
		r.content = make([]uint64, r.nBlocks)
	}
	r.content = r.content[:r.nBlocks]
	r.region = nil
	if r.cfg.Journal != nil && n > 0 {
		reg, err := r.cfg.Journal.Reserve(r.nBlocks*trace.BlockHeaderSize + n*trace.EntrySize)
		if err != nil {
			r.err = err
			r.stop = true
			return
		}
		r.region = reg
	}
}

func (r *run) goals() Outcome {
	if r.cfg.BeforeGoals != nil {
		r.cfg.BeforeGoals(r.words)
	}
	if err := r.wl.Goals(); err != nil {
		r.res.Violation = err
		return Violated
	}
	return Converged
}

func (r *run) end(o Outcome) {
	r.stop = true
	if !r.gather() {
		return
	}
	r.res.Outcome = o
	r.res.Trace = r.prev
	r.res.State = r.arena.Hash()
	r.res.Ticks = r.tick
	r.res.Msgs = r.msgs
	r.res.Dropped = r.dropped
	r.res.Blocks = r.blocks
	r.res.Entries = r.entries
	r.res.Oscillation = r.det.found
	if r.loc.found != nil {
		r.res.Oscillation = r.loc.found
	}
	r.res.Faults = r.faultCounts()
	r.res.Words = r.words
	if r.part != nil {
		r.partResult()
	}
}

// faultCounts sums the fault decisions made so far.
func (r *run) faultCounts() FaultCounts {
	c := r.fc
	for _, sh := range r.shards {
		c.add(sh.fc)
	}
	return c
}

// cutShards cuts domains lo..hi-1 into s contiguous ranges of about equal
// weight; cuts[k] is the first domain of range k, cuts[0] = lo, cuts[s] = hi.
func cutShards(w Workload, lo, hi uint32, s int) []uint32 {
	d := hi - lo
	prefix := make([]uint64, d+1)
	for i := uint32(0); i < d; i++ {
		prefix[i+1] = prefix[i] + w.Weight(lo+i)
	}
	total := prefix[d]
	cuts := make([]uint32, s+1)
	cuts[s] = d
	i := uint32(0)
	dist := func(i uint32, k int) uint64 {
		a, b := prefix[i]*uint64(s), total*uint64(k)
		if a > b {
			return a - b
		}
		return b - a
	}
	for k := 1; k < s; k++ {
		for i < d && dist(i+1, k) < dist(i, k) {
			i++
		}
		cuts[k] = i
	}
	for k := range cuts {
		cuts[k] += lo
	}
	return cuts
}
