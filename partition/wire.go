package partition

import (
	"encoding/binary"
	"errors"
	"fmt"
	"math"
	"slices"

	"github.com/cespare/xxhash/v2"
	"github.com/lexbench/lexbench/engine"
	"github.com/lexbench/lexbench/trace"
)

// The exchange's wire format. A round's message from partition src to
// partition dst is one body, sent as one or more chunks (one NATS message
// each, so that a tick of any size fits the server's message limit).
// Integers are little-endian.
//
//	chunk
//	    0   [4]byte magic "LXX2"
//	    4   u32     zero
//	    8   u64     run: the run's identity (Identity), so that a message of
//	                another run is refused, not applied
//	    16  u64     round (0, 1, 2, … in every partition alike)
//	    24  u32     src partition
//	    28  u32     dst partition
//	    32  u32     chunk index
//	    36  u32     chunks of the body
//	    40  u64     body length
//	    48  the chunk's bytes of the body
//	    -8  u64     xxhash64 of every byte before it
//	body
//	    u8 kind (0 tick, 1 decide, 2 end, 3 drain), u8 busy (chain work
//	    left), u8 flags (1 equal, 2 pre-hit, 4 found, 8 hit, 16 the fault
//	    is a violation, 32 overflow, 64 an emission fault), u8 fault
//	    class, u32 fault from, u64 tick
//	    u64 n, late, delivered, dropped, faults dropped, duplicated,
//	        delayed, in-flight bound, fault key, touched, damped, hits
//	    found: u64 tick, period, domains, u32 cell, u32 zero (if flag 4)
//	    hit: the same (if flag 8)
//	    u32 length + fault text
//	    emission fault (if flag 64): u64 its src, u32 length + its text
//	    u32 count + cycle domains (u32 each)
//	    u32 count + resolved positions (u64 each)
//	    u32 count + digests: u64 block, u32 length, state bytes
//	    u32 count + content hashes: u64 block, u64 hash
//	    u64 count + messages (32-byte SPEC §3 entries)
//	    u64 count + notices (32-byte entries)
//	    u64 count + state words (u64 each)
//
// A body holds the summary (the same to every dst), the chain items for
// dst (digests addressed to it, every content hash) and the messages for
// dst. Nothing in it depends on timing, so a round re-sent by a restarted
// partition is byte for byte what it sent before.

var chunkMagic = [4]byte{'L', 'X', 'X', '2'}

const (
	chunkHeaderSize = 48
	kindDrain       = 3 // a round after the end that only completes the chain
	textMax         = 4096
)

// chunkHead is a decoded chunk header.
type chunkHead struct {
	run, round uint64
	src, dst   int
	index, n   uint32
	bodyLen    uint64
}

// wireMsg is a decoded body: the engine's message and the chain items.
type wireMsg struct {
	engine.PartMsg
	kind   uint8
	busy   bool
	digs   []digestItem
	hashes []hashItem
}

// encodeBody appends the body of m's message to dst (kind: m.Kind, or
// kindDrain), with the chain items c owes dst.
func encodeBody(b []byte, kind uint8, m *engine.PartMsg, busy bool, digs []digestItem, hashes []hashItem, to int) []byte {
	u8 := func(v uint8) { b = append(b, v) }
	u32 := func(v uint32) { b = binary.LittleEndian.AppendUint32(b, v) }
	u64 := func(v uint64) { b = binary.LittleEndian.AppendUint64(b, v) }
	var flags uint8
	if m.Equal {
		flags |= 1
	}
	if m.PreHit {
		flags |= 2
	}
	if m.Found != nil {
		flags |= 4
	}
	if m.Hit != nil {
		flags |= 8
	}
	if m.Fault.Viol {
		flags |= 16
	}
	if m.Overflow {
		flags |= 32
	}
	if m.Emit.Class != engine.FaultNone {
		flags |= 64
	}
	u8(kind)
	u8(b2u8(busy))
	u8(flags)
	u8(m.Fault.Class)
	u32(uint32(m.Fault.From))
	u64(m.Tick)
	for _, v := range []uint64{m.N, m.Late, m.Delivered, m.Dropped, m.Faults.Dropped, m.Faults.Duplicated, m.Faults.Delayed,
		m.Limit, m.Fault.Key, m.Touched, m.Damped, m.Hits} {
		u64(v)
	}
	for _, o := range []struct {
		o    *engine.Oscillation
		cell uint32
	}{{m.Found, m.FoundCell}, {m.Hit, m.HitCell}} {
		if o.o != nil {
			u64(o.o.Tick)
			u64(o.o.Period)
			u64(o.o.Domains)
			u32(o.cell)
			u32(0)
		}
	}
	text := func(t string) {
		if len(t) > textMax {
			t = t[:textMax]
		}
		u32(uint32(len(t)))
		b = append(b, t...)
	}
	text(m.Fault.Text)
	if m.Emit.Class != engine.FaultNone {
		u64(m.Emit.Key)
		text(m.Emit.Text)
	}
	u32(uint32(len(m.Cycle)))
	for _, d := range m.Cycle {
		u32(d)
	}
	u32(uint32(len(m.Resolved)))
	for _, p := range m.Resolved {
		u64(p)
	}
	n := 0
	for _, d := range digs {
		if d.to == to {
			n++
		}
	}
	u32(uint32(n))
	for _, d := range digs {
		if d.to == to {
			u64(d.block)
			u32(uint32(len(d.state)))
			b = append(b, d.state...)
		}
	}
	u32(uint32(len(hashes)))
	for _, h := range hashes {
		u64(h.block)
		u64(h.hash)
	}
	var scratch []byte
	for _, es := range [][]trace.Entry{entriesTo(m.To, to), entriesTo(m.Notices, to)} {
		u64(uint64(len(es)))
		b = append(b, trace.EntryBytes(es, &scratch)...)
	}
	u64(uint64(len(m.Words)))
	for _, w := range m.Words {
		u64(w)
	}
	return b
}

func entriesTo(es [][]trace.Entry, to int) []trace.Entry {
	if to < len(es) {
		return es[to]
	}
	return nil
}

func b2u8(b bool) uint8 {
	if b {
		return 1
	}
	return 0
}

// errDamaged marks a chunk or body that does not decode.
var errDamaged = errors.New("damaged exchange message")

type decoder struct {
	b   []byte
	err error
}

func (d *decoder) take(n uint64) []byte {
	if d.err != nil || n > uint64(len(d.b)) {
		if d.err == nil {
			d.err = fmt.Errorf("%w: truncated", errDamaged)
		}
		return nil
	}
	v := d.b[:n]
	d.b = d.b[n:]
	return v
}

func (d *decoder) u8() uint8 {
	if v := d.take(1); v != nil {
		return v[0]
	}
	return 0
}

func (d *decoder) u32() uint32 {
	if v := d.take(4); v != nil {
		return binary.LittleEndian.Uint32(v)
	}
	return 0
}

func (d *decoder) u64() uint64 {
	if v := d.take(8); v != nil {
		return binary.LittleEndian.Uint64(v)
	}
	return 0
}

// count reads a count of items of size bytes each, checked against the
// bytes left before anything is sized by it.
func (d *decoder) count(n uint64, size uint64) int {
	if d.err == nil && (n > uint64(len(d.b))/size || n > math.MaxInt32) {
		d.err = fmt.Errorf("%w: count %d does not fit", errDamaged, n)
	}
	if d.err != nil {
		return 0
	}
	return int(n)
}

func (d *decoder) entries(dst []trace.Entry) []trace.Entry {
	n := d.count(d.u64(), trace.EntrySize)
	return trace.DecodeEntries(dst, d.take(uint64(n)*trace.EntrySize))
}

// decodeBody decodes a body into w (its slices reused).
func decodeBody(b []byte, w *wireMsg) error {
	d := &decoder{b: b}
	m := &w.PartMsg
	w.kind = d.u8()
	busy := d.u8()
	w.busy = busy != 0
	flags := d.u8()
	m.Fault.Class = d.u8()
	m.Fault.From = int(d.u32())
	m.Tick = d.u64()
	// one encoding per body (a re-sent round compares byte for byte):
	// busy is 0 or 1, unused flag bits and padding are zero
	if w.kind > kindDrain || busy > 1 || flags > 127 || m.Fault.Class > engine.FaultEndTick {
		return fmt.Errorf("%w: bad header", errDamaged)
	}
	m.Kind = engine.RoundKind(min(w.kind, uint8(engine.RoundEnd)))
	for _, p := range []*uint64{&m.N, &m.Late, &m.Delivered, &m.Dropped, &m.Faults.Dropped, &m.Faults.Duplicated, &m.Faults.Delayed,
		&m.Limit, &m.Fault.Key, &m.Touched, &m.Damped, &m.Hits} {
		*p = d.u64()
	}
	m.Equal, m.PreHit = flags&1 != 0, flags&2 != 0
	m.Fault.Viol, m.Overflow = flags&16 != 0, flags&32 != 0
	m.Found, m.Hit = nil, nil
	for i, o := range []struct {
		o    **engine.Oscillation
		cell *uint32
	}{{&m.Found, &m.FoundCell}, {&m.Hit, &m.HitCell}} {
		if flags&(4<<i) != 0 {
			*o.o = &engine.Oscillation{Tick: d.u64(), Period: d.u64(), Domains: d.u64()}
			*o.cell = d.u32()
			if d.u32() != 0 {
				return fmt.Errorf("%w: bad padding", errDamaged)
			}
		}
	}
	n := d.u32()
	if n > textMax {
		return fmt.Errorf("%w: fault text of %d bytes", errDamaged, n)
	}
	m.Fault.Text = string(d.take(uint64(n)))
	m.Emit = engine.PartFault{}
	if flags&64 != 0 {
		m.Emit.Class, m.Emit.Key = engine.FaultEmission, d.u64()
		if n = d.u32(); n > textMax {
			return fmt.Errorf("%w: fault text of %d bytes", errDamaged, n)
		}
		m.Emit.Text = string(d.take(uint64(n)))
	}
	m.Cycle = m.Cycle[:0]
	for i := d.count(uint64(d.u32()), 4); i > 0; i-- {
		m.Cycle = append(m.Cycle, d.u32())
	}
	m.Resolved = m.Resolved[:0]
	for i := d.count(uint64(d.u32()), 8); i > 0; i-- {
		m.Resolved = append(m.Resolved, d.u64())
	}
	w.digs = w.digs[:0]
	for i := d.count(uint64(d.u32()), 12); i > 0; i-- {
		block := d.u64()
		st := d.take(uint64(d.u32()))
		w.digs = append(w.digs, digestItem{block: block, state: append([]byte(nil), st...)})
	}
	w.hashes = w.hashes[:0]
	for i := d.count(uint64(d.u32()), 16); i > 0; i-- {
		w.hashes = append(w.hashes, hashItem{d.u64(), d.u64()})
	}
	m.In = d.entries(m.In[:0])
	m.InNotices = d.entries(m.InNotices[:0])
	m.Words = m.Words[:0]
	for i := d.count(d.u64(), 8); i > 0; i-- {
		m.Words = append(m.Words, d.u64())
	}
	if d.err == nil && len(d.b) != 0 {
		d.err = fmt.Errorf("%w: %d bytes after the body", errDamaged, len(d.b))
	}
	return d.err
}

// chunkBytesMax is the largest chunk this package sends: below the NATS
// default message limit (1 MiB), with room for headers.
const chunkBytesMax = 960 << 10

// appendChunks cuts body into chunks of at most max bytes (with headers)
// and calls send with each and its index.
func appendChunks(body []byte, h chunkHead, max int, buf []byte, send func(i int, chunk []byte) error) error {
	room := uint64(max - chunkHeaderSize - 8)
	n := max64(1, (uint64(len(body))+room-1)/room)
	if n > math.MaxUint32 {
		return errors.New("partition: a round's message is too large")
	}
	h.n, h.bodyLen = uint32(n), uint64(len(body))
	for i := uint64(0); i < n; i++ {
		part := body[min(i*room, uint64(len(body))):min((i+1)*room, uint64(len(body)))]
		h.index = uint32(i)
		b := slices.Grow(buf[:0], chunkHeaderSize+len(part)+8)
		b = append(b, chunkMagic[:]...)
		b = binary.LittleEndian.AppendUint32(b, 0)
		b = binary.LittleEndian.AppendUint64(b, h.run)
		b = binary.LittleEndian.AppendUint64(b, h.round)
		b = binary.LittleEndian.AppendUint32(b, uint32(h.src))
		b = binary.LittleEndian.AppendUint32(b, uint32(h.dst))
		b = binary.LittleEndian.AppendUint32(b, h.index)
		b = binary.LittleEndian.AppendUint32(b, h.n)
		b = binary.LittleEndian.AppendUint64(b, h.bodyLen)
		b = append(b, part...)
		b = binary.LittleEndian.AppendUint64(b, xxhash.Sum64(b))
		if err := send(int(i), b); err != nil {
			return err
		}
	}
	return nil
}

func max64(a, b uint64) uint64 {
	if a > b {
		return a
	}
	return b
}

// openChunk checks a chunk and returns its header and its part of the body.
func openChunk(b []byte) (chunkHead, []byte, error) {
	var h chunkHead
	if len(b) < chunkHeaderSize+8 || [4]byte(b[:4]) != chunkMagic {
		return h, nil, fmt.Errorf("%w: not an exchange chunk", errDamaged)
	}
	if xxhash.Sum64(b[:len(b)-8]) != binary.LittleEndian.Uint64(b[len(b)-8:]) {
		return h, nil, fmt.Errorf("%w: checksum mismatch", errDamaged)
	}
	h.run = binary.LittleEndian.Uint64(b[8:])
	h.round = binary.LittleEndian.Uint64(b[16:])
	h.src = int(binary.LittleEndian.Uint32(b[24:]))
	h.dst = int(binary.LittleEndian.Uint32(b[28:]))
	h.index = binary.LittleEndian.Uint32(b[32:])
	h.n = binary.LittleEndian.Uint32(b[36:])
	h.bodyLen = binary.LittleEndian.Uint64(b[40:])
	if binary.LittleEndian.Uint32(b[4:]) != 0 || h.index >= h.n {
		return h, nil, fmt.Errorf("%w: bad chunk header", errDamaged)
	}
	return h, b[chunkHeaderSize : len(b)-8], nil
}
