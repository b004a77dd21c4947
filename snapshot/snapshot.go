// Package snapshot writes and reads a run's snapshots: the engine's
// Checkpoint at a tick boundary (every domain's state, the pending
// messages, the chain head, the counters and the oscillation detector),
// with the run's params, the options that shape its trace, and the size of
// the journal it continues.
//
// # Files
//
// A run with journal J and --snapshot-every keeps its snapshots in the
// directory J.snapshots: `tick-TTTTTTTTTT.lxs` (the tick, ten digits, so
// the newest is the last name in order and is found without reading the
// journal). A snapshot is written to a temporary file in the directory,
// fsynced, renamed into place and the directory fsynced; without
// durability asked for (sync modes none and end) the fsyncs are skipped:
// the rename alone is atomic against a process crash. The newest Keep
// snapshots are kept, so a damaged newest one leaves its predecessor.
//
// # Format
//
// All integers little-endian.
//
//	header (64 bytes)
//	    0   [8]byte magic "LEXSNAP1"
//	    8   u32     version = 4
//	    12  u32     zero
//	    16  u64     tick
//	    24  u64     body length L
//	    32  u64     xxhash64 of the body
//	    40  u64     xxhash64 of header[0:40] ‖ header[48:64]
//	    48  [16]byte run id: the run (runfile.Run.ID) that wrote it; resume
//	                 uses only snapshots of the run recorded beside the journal
//	body (L bytes, 8-aligned fields)
//	    u64 params length P, P bytes of params text, zero padding to 8
//	    options: i64 max-ticks (-1 none), i64 max-msgs (-1 none),
//	             u64 flags (1 damp, 2 no-detect, 4 detect local), u64 snapshot-every, u64 sync,
//	             i64 max-inflight (0: not given)
//	    i64 journal size (the offset where the checkpoint's blocks end)
//	    u64 prev, blocks, entries, msgs, dropped
//	    u64 fault decisions: dropped, duplicated, delayed (SPEC §7)
//	    u64 last count | last tick << 32
//	    u64 detector flags (1 running, 2 found, 4 local)
//	    u64 found tick, period, domains, cells (zero unless found)
//	    u64 saved tick, next checkpoint
//	    u64 counts: words, pending, touched, saved words, saved msgs
//	    words (8 bytes each), pending (32-byte SPEC §3 entries),
//	    touched (u32 each, zero padding to 8), saved words, saved msgs
//	local detector (SPEC §5.7; empty unless detector flag 4):
//	    u64 counts: damped cells, watched cells, input ticks
//	    per damped cell: u32 cell, u32 silent (0 or 1), u64 tick
//	    per input tick (a TickEnder's cells): u32 cell, u32 zero, u64 tick
//	    per watched cell: u32 cell, u32 touched count T, u64 r, u64 c,
//	        u64 words count W, u64 msgs count M, T u32 domains (zero
//	        padding to 8), W words, M msgs (32-byte entries; tick is the
//	        due tick − c)
//
// Pending is every message in flight in ≺ order, late ones included
// (SPEC §1), each entry with its due tick and its fault flags; saved msgs
// likewise for the detector's saved tick. So the file is the same
// whatever the shard count of the run that wrote it.
//
// Version 4 is the first with the run id in the header, the late messages
// and fault counters in the body, and the local detector (the cells count
// of a found cycle and the local section) together: development builds
// wrote versions 2 and 3 with some of them. A file of an older version is
// refused with "unsupported version N", so resume passes over it as over
// any unusable snapshot (to an older one, or the run's start).
//
// Decode checks the header hash, the body length against the file, the
// body hash, then every count against the bytes left before it sizes
// anything; a damaged or hostile file is an error, never a panic or an
// unbounded allocation. The engine's CheckRestore then checks the
// checkpoint against the workload, and the resume against the journal.
package snapshot

import (
	"encoding/binary"
	"errors"
	"fmt"
	"math"

	"github.com/cespare/xxhash/v2"
	"github.com/lexbench/lexbench/engine"
	"github.com/lexbench/lexbench/journal/mmap"
	"github.com/lexbench/lexbench/trace"
)

// Magic starts every snapshot file.
var Magic = [8]byte{'L', 'E', 'X', 'S', 'N', 'A', 'P', '1'}

const (
	version    = 4 // 2 and 3: development builds with some of the run id, late messages and fault counts, the local detector; 4: all of them
	headerSize = 64
)

// Options are a run's controls beyond the params text: those that shape
// its trace (budgets, --on-oscillation, detection), which a resume or
// replay must use the same, and the snapshot interval, sync mode and
// in-flight bound it continues with.
type Options struct {
	MaxTicks      int64 // -1: none
	MaxMsgs       int64 // -1: none
	Damp          bool
	NoDetect      bool
	Local         bool // --detect local (SPEC §5.7)
	SnapshotEvery uint64
	Sync          mmap.Sync
	// MaxInFlight is the run's --max-inflight, 1..engine.InFlightMax; 0:
	// not given (the bound is the machine's default). It never changes a
	// result, only whether the run can finish.
	MaxInFlight int64
}

// DefaultOptions are a run's without flags.
func DefaultOptions() Options { return Options{MaxTicks: -1, MaxMsgs: -1} }

// Snapshot is one snapshot file's content.
type Snapshot struct {
	Run         [16]byte // the run that wrote it (runfile.Run.ID)
	Params      string
	Opts        Options
	JournalSize int64
	CP          engine.Checkpoint
}

// Encode appends s's file encoding to dst.
func Encode(dst []byte, s *Snapshot) []byte {
	start := len(dst)
	dst = append(dst, make([]byte, headerSize)...)
	cp := &s.CP
	u := func(v uint64) { dst = binary.LittleEndian.AppendUint64(dst, v) }
	u(uint64(len(s.Params)))
	dst = append(dst, s.Params...)
	dst = pad8(dst, start)
	u(uint64(s.Opts.MaxTicks))
	u(uint64(s.Opts.MaxMsgs))
	u(b2u(s.Opts.Damp) | b2u(s.Opts.NoDetect)<<1 | b2u(s.Opts.Local)<<2)
	u(s.Opts.SnapshotEvery)
	u(uint64(s.Opts.Sync))
	u(uint64(s.Opts.MaxInFlight))
	u(uint64(s.JournalSize))
	u(cp.Prev)
	u(cp.Blocks)
	u(cp.Entries)
	u(cp.Msgs)
	u(cp.Dropped)
	u(cp.Faults.Dropped)
	u(cp.Faults.Duplicated)
	u(cp.Faults.Delayed)
	u(uint64(cp.LastCount) | uint64(cp.LastTick)<<32)
	var f engine.Oscillation
	if cp.Found != nil {
		f = *cp.Found
	}
	u(b2u(cp.Detect) | b2u(cp.Found != nil)<<1 | b2u(cp.Local)<<2)
	u(f.Tick)
	u(f.Period)
	u(f.Domains)
	u(f.Cells)
	u(cp.SavedTick)
	u(cp.NextCheck)
	u(uint64(len(cp.Words)))
	u(uint64(len(cp.Pending)))
	u(uint64(len(cp.Touched)))
	u(uint64(len(cp.SavedWords)))
	u(uint64(len(cp.SavedMsgs)))
	for _, w := range cp.Words {
		u(w)
	}
	for i := range cp.Pending {
		dst = trace.AppendEntry(dst, &cp.Pending[i])
	}
	for _, d := range cp.Touched {
		dst = binary.LittleEndian.AppendUint32(dst, d)
	}
	dst = pad8(dst, start)
	for _, w := range cp.SavedWords {
		u(w)
	}
	for i := range cp.SavedMsgs {
		dst = trace.AppendEntry(dst, &cp.SavedMsgs[i])
	}
	u(uint64(len(cp.Damped)))
	u(uint64(len(cp.Watched)))
	u(uint64(len(cp.Inputs)))
	for _, cd := range cp.Damped {
		u(uint64(cd.Cell) | b2u(cd.Silent)<<32)
		u(cd.Tick)
	}
	for _, in := range cp.Inputs {
		u(uint64(in.Cell))
		u(in.Tick)
	}
	for i := range cp.Watched {
		cs := &cp.Watched[i]
		u(uint64(cs.Cell) | uint64(len(cs.Touched))<<32)
		u(cs.R)
		u(cs.C)
		u(uint64(len(cs.Words)))
		u(uint64(len(cs.Msgs)))
		for _, d := range cs.Touched {
			dst = binary.LittleEndian.AppendUint32(dst, d)
		}
		dst = pad8(dst, start)
		for _, w := range cs.Words {
			u(w)
		}
		for j := range cs.Msgs {
			dst = trace.AppendEntry(dst, &cs.Msgs[j])
		}
	}
	h := dst[start : start+headerSize]
	body := dst[start+headerSize:]
	copy(h[0:8], Magic[:])
	binary.LittleEndian.PutUint32(h[8:], version)
	binary.LittleEndian.PutUint64(h[16:], cp.Tick)
	binary.LittleEndian.PutUint64(h[24:], uint64(len(body)))
	binary.LittleEndian.PutUint64(h[32:], xxhash.Sum64(body))
	copy(h[48:64], s.Run[:])
	binary.LittleEndian.PutUint64(h[40:], headerHash(h))
	return dst
}

func pad8(b []byte, start int) []byte {
	for (len(b)-start)%8 != 0 {
		b = append(b, 0)
	}
	return b
}

func b2u(b bool) uint64 {
	if b {
		return 1
	}
	return 0
}

// ErrNotSnapshot is returned for a file that does not start with Magic.
var ErrNotSnapshot = errors.New("not a lexbench snapshot (bad magic)")

// Tick reads the tick from a snapshot header whose header hash holds.
func Tick(b []byte) (uint64, error) {
	if _, err := header(b); err != nil {
		return 0, err
	}
	return binary.LittleEndian.Uint64(b[16:]), nil
}

// headerHash covers the header but its own field.
func headerHash(h []byte) uint64 {
	var b [56]byte
	copy(b[:40], h[:40])
	copy(b[40:], h[48:64])
	return xxhash.Sum64(b[:])
}

func header(b []byte) (bodyLen uint64, err error) {
	if len(b) < headerSize {
		return 0, fmt.Errorf("truncated header (%d of %d bytes)", len(b), headerSize)
	}
	if [8]byte(b[:8]) != Magic {
		return 0, ErrNotSnapshot
	}
	if v := binary.LittleEndian.Uint32(b[8:]); v != version {
		return 0, fmt.Errorf("unsupported version %d", v)
	}
	if got := headerHash(b); got != binary.LittleEndian.Uint64(b[40:]) {
		return 0, errors.New("header checksum mismatch")
	}
	if binary.LittleEndian.Uint32(b[12:]) != 0 {
		return 0, errors.New("header padding is not zero")
	}
	return binary.LittleEndian.Uint64(b[24:]), nil
}

// decoder reads the body; every read is bounds-checked.
type decoder struct {
	b   []byte
	err error
}

func (d *decoder) u64() uint64 {
	if d.err != nil || len(d.b) < 8 {
		d.fail("body truncated")
		return 0
	}
	v := binary.LittleEndian.Uint64(d.b)
	d.b = d.b[8:]
	return v
}

func (d *decoder) bytes(n uint64) []byte {
	if d.err != nil || n > uint64(len(d.b)) {
		d.fail("body truncated")
		return nil
	}
	v := d.b[:n]
	d.b = d.b[n:]
	return v
}

func (d *decoder) fail(what string) {
	if d.err == nil {
		d.err = errors.New(what)
	}
}

// count reads a count of elements of size bytes each, checked against the
// bytes left.
func (d *decoder) count(size uint64, name string) uint64 {
	n := d.u64()
	if d.err == nil && n > uint64(len(d.b))/size {
		d.fail(fmt.Sprintf("%s count %d exceeds the body", name, n))
		return 0
	}
	return n
}

// Decode parses and checks a whole snapshot file.
func Decode(b []byte) (*Snapshot, error) {
	bodyLen, err := header(b)
	if err != nil {
		return nil, err
	}
	if bodyLen != uint64(len(b)-headerSize) {
		return nil, fmt.Errorf("body length %d, file has %d bytes after the header", bodyLen, len(b)-headerSize)
	}
	body := b[headerSize:]
	if got := xxhash.Sum64(body); got != binary.LittleEndian.Uint64(b[32:]) {
		return nil, errors.New("body checksum mismatch")
	}
	s := &Snapshot{}
	copy(s.Run[:], b[48:64])
	cp := &s.CP
	cp.Tick = binary.LittleEndian.Uint64(b[16:])
	d := &decoder{b: body}
	plen := d.u64()
	if d.err == nil && (plen == 0 || plen > trace.ParamsLenMax) {
		return nil, fmt.Errorf("params length %d out of range 1..%d", plen, trace.ParamsLenMax)
	}
	s.Params = string(d.bytes(plen))
	for _, c := range d.bytes((8 - plen%8) % 8) {
		if c != 0 {
			return nil, errors.New("params padding is not zero")
		}
	}
	s.Opts.MaxTicks = int64(d.u64())
	s.Opts.MaxMsgs = int64(d.u64())
	flags := d.u64()
	s.Opts.Damp, s.Opts.NoDetect, s.Opts.Local = flags&1 != 0, flags&2 != 0, flags&4 != 0
	s.Opts.SnapshotEvery = d.u64()
	s.Opts.Sync = mmap.Sync(d.u64())
	s.Opts.MaxInFlight = int64(d.u64())
	s.JournalSize = int64(d.u64())
	cp.Prev, cp.Blocks, cp.Entries, cp.Msgs, cp.Dropped = d.u64(), d.u64(), d.u64(), d.u64(), d.u64()
	cp.Faults.Dropped, cp.Faults.Duplicated, cp.Faults.Delayed = d.u64(), d.u64(), d.u64()
	last := d.u64()
	cp.LastCount, cp.LastTick = uint32(last), uint32(last>>32)
	det := d.u64()
	var f engine.Oscillation
	f.Tick, f.Period, f.Domains, f.Cells = d.u64(), d.u64(), d.u64(), d.u64()
	cp.SavedTick, cp.NextCheck = d.u64(), d.u64()
	if d.err != nil {
		return nil, d.err
	}
	switch {
	case flags > 7 || det > 7:
		return nil, errors.New("unknown flags")
	case s.Opts.MaxTicks < -1 || s.Opts.MaxMsgs < -1:
		return nil, errors.New("budget out of range")
	case s.Opts.Sync != mmap.SyncEnd && s.Opts.Sync != mmap.SyncNone && s.Opts.Sync != mmap.SyncSnapshot:
		return nil, fmt.Errorf("unknown sync mode %d", s.Opts.Sync)
	case s.Opts.MaxInFlight < 0 || s.Opts.MaxInFlight > engine.InFlightMax:
		return nil, errors.New("max-inflight out of range")
	case s.JournalSize < 0:
		return nil, errors.New("journal size out of range")
	}
	cp.Detect, cp.Local = det&1 != 0, det&4 != 0
	if det&2 != 0 {
		cp.Found = &f
	} else if f != (engine.Oscillation{}) {
		return nil, errors.New("cycle fields set without a found cycle")
	}
	// Counts are read first and each checked against what is left, so the
	// sum can be checked before anything is allocated.
	nWords := d.count(8, "words")
	nPending := d.count(trace.EntrySize, "pending")
	nTouched := d.count(4, "touched")
	nSaved := d.count(8, "saved words")
	nSavedMsgs := d.count(trace.EntrySize, "saved msgs")
	if d.err != nil {
		return nil, d.err
	}
	need := [...]uint64{nWords * 8, nPending * trace.EntrySize, (nTouched*4 + 7) / 8 * 8, nSaved * 8, nSavedMsgs * trace.EntrySize}
	var total uint64
	for _, n := range need {
		if total > math.MaxUint64-n {
			return nil, errors.New("counts exceed the body")
		}
		total += n
	}
	if total > uint64(len(d.b)) {
		return nil, fmt.Errorf("counts need %d bytes, the body has %d left", total, len(d.b))
	}
	cp.Words = words(d.bytes(nWords * 8))
	cp.Pending = entries(d.bytes(nPending * trace.EntrySize))
	tb := d.bytes(need[2])
	cp.Touched = make([]uint32, nTouched)
	for i := range cp.Touched {
		cp.Touched[i] = binary.LittleEndian.Uint32(tb[4*i:])
	}
	for _, c := range tb[4*nTouched:] {
		if c != 0 {
			return nil, errors.New("touched padding is not zero")
		}
	}
	cp.SavedWords = words(d.bytes(nSaved * 8))
	cp.SavedMsgs = entries(d.bytes(nSavedMsgs * trace.EntrySize))
	d.local(cp)
	if d.err != nil {
		return nil, d.err
	}
	if len(d.b) != 0 {
		return nil, fmt.Errorf("%d bytes after the last section", len(d.b))
	}
	if !cp.Local && len(cp.Damped)+len(cp.Watched)+len(cp.Inputs) != 0 {
		return nil, errors.New("local detector state without the local detector flag")
	}
	return s, nil
}

// local reads the local detector's section (SPEC §5.7) into cp.
func (d *decoder) local(cp *engine.Checkpoint) {
	nDamped := d.count(16, "damped cells")
	nWatched := d.count(40, "watched cells")
	nInputs := d.count(16, "input ticks")
	if d.err != nil {
		return
	}
	if nDamped > 0 {
		cp.Damped = make([]engine.CellDamp, nDamped)
	}
	for i := range cp.Damped {
		x := d.u64()
		if x>>32 > 1 {
			d.fail("damped cell flags out of range")
		}
		cp.Damped[i] = engine.CellDamp{Cell: uint32(x), Silent: x>>32 == 1, Tick: d.u64()}
	}
	if nInputs > 0 {
		cp.Inputs = make([]engine.CellInput, nInputs)
	}
	for i := range cp.Inputs {
		x := d.u64()
		if x>>32 != 0 {
			d.fail("input tick padding is not zero")
		}
		cp.Inputs[i] = engine.CellInput{Cell: uint32(x), Tick: d.u64()}
	}
	if nWatched > 0 {
		cp.Watched = make([]engine.CellSearch, nWatched)
	}
	for i := range cp.Watched {
		cs := &cp.Watched[i]
		x := d.u64()
		cs.Cell, cs.R, cs.C = uint32(x), d.u64(), d.u64()
		nTouched, nWords, nMsgs := x>>32, d.u64(), d.u64()
		tb := d.bytes((nTouched*4 + 7) / 8 * 8)
		if d.err != nil {
			return
		}
		cs.Touched = make([]uint32, nTouched)
		for j := range cs.Touched {
			cs.Touched[j] = binary.LittleEndian.Uint32(tb[4*j:])
		}
		for _, c := range tb[4*nTouched:] {
			if c != 0 {
				d.fail("touched padding is not zero")
			}
		}
		if nWords > uint64(len(d.b))/8 || nMsgs > uint64(len(d.b))/trace.EntrySize {
			d.fail(fmt.Sprintf("watched cell %d: counts exceed the body", cs.Cell))
			return
		}
		cs.Words = words(d.bytes(nWords * 8))
		cs.Msgs = entries(d.bytes(nMsgs * trace.EntrySize))
	}
}

func words(b []byte) []uint64 {
	w := make([]uint64, len(b)/8)
	for i := range w {
		w[i] = binary.LittleEndian.Uint64(b[8*i:])
	}
	return w
}

func entries(b []byte) []trace.Entry {
	es := make([]trace.Entry, len(b)/trace.EntrySize)
	for i := range es {
		es[i] = trace.DecodeEntry(b[i*trace.EntrySize:])
	}
	return es
}
