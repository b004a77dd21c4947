package replica

import (
	"encoding/binary"
	"errors"
	"fmt"

	"github.com/cespare/xxhash/v2"
	"github.com/lexbench/lexbench/trace"
)

// The input stream's wire format. The stream is a sequence of segments;
// a chunk (one JetStream message) holds whole segments. All integers are
// little-endian; an emission's fields are uvarints.
//
//	chunk
//	    0   [4]byte magic "LXI1"
//	    4   u32     flags: 1 = the last chunk (end of the input)
//	    8   u64     ordinal of the first segment (segments in all earlier chunks)
//	    16  u32     segments in the chunk
//	    20  u32     tick of the first segment (0 if none)
//	    24  u32     tick of the last segment (0 if none)
//	    28  u32     end tick: with flag 1, the boundary at which the
//	                publisher's run of the input domains ended
//	    32  segments, back to back
//	    -8  u64     xxhash64 of every byte before it
//	segment
//	    0   u32     tick
//	    4   u32     input domain d
//	    8   u32     emissions k in this segment (≤ segmentEmitsMax)
//	    12  u32     flags: 1 final (the last segment of d at this tick),
//	                2 fault, 4 the last segment of its tick
//	    16  k emissions: uvarint dst, uvarint kind | flags<<16 | late<<32
//	        (flags: always 0, the engine's fault layer sets them later)
//	        (late: due at tick+1+late), uvarint a, uvarint b
//	    final: u32 messages d received at this tick, u32 state words m,
//	        m × u64: d's state after its transitions of this tick
//	    fault: u32 index of the faulting message among d's messages of
//	        this tick, u32 length, the error text
//
// The segments of one tick are in domain order, each domain's emissions in
// emission order, cut into segments of at most segmentEmitsMax: so the
// segment sequence is a function of the run alone, whatever the chunk
// sizes. Where chunks are cut is not (a publisher also flushes on time),
// which is why a restarted publisher continues at a segment ordinal, never
// at a chunk index.

var chunkMagic = [4]byte{'L', 'X', 'I', '1'}

const (
	chunkHeaderSize = 32
	chunkFlagEnd    = 1

	segHeaderSize = 16
	segFinal      = 1
	segFault      = 2
	segTickEnd    = 4

	// segmentEmitsMax bounds the emissions of one segment.
	segmentEmitsMax = 4096
	// emitBytesMax is the largest encoding of one emission (four uvarints).
	emitBytesMax = 5 + 10 + 10 + 10
	// stateWordsMax bounds an input domain's state carried per tick, so a
	// segment always fits in a chunk.
	stateWordsMax = 1 << 15
	faultTextMax  = 4096
)

// Segment is the input of one input domain at one tick, or a part of it.
type Segment struct {
	Tick, Domain uint32
	Final        bool // the last segment of Domain at Tick: Received and State are set
	TickEnd      bool // the last segment of Tick
	Emits        []trace.Entry
	Received     uint32   // messages Domain received at Tick (final)
	State        []uint64 // Domain's state after Tick (final)
	Fault        string   // the error of Domain's transition that faulted (final)
	FaultAt      uint32   // which of Domain's messages at Tick faulted
}

// ChunkHeader is a decoded chunk header.
type ChunkHeader struct {
	End      bool
	Ordinal  uint64 // ordinal of the chunk's first segment
	Segments uint32
	First    uint32 // tick of the first segment
	Last     uint32 // tick of the last segment
	EndTick  uint32
}

// encoder builds chunks.
type encoder struct {
	buf     []byte
	nseg    uint32
	first   uint32
	last    uint32
	ordinal uint64 // ordinal of the current chunk's first segment
}

func (e *encoder) reset() {
	e.buf = append(e.buf[:0], make([]byte, chunkHeaderSize)...)
	e.nseg = 0
}

// size is the current chunk's size so far.
func (e *encoder) size() int { return len(e.buf) }

// add appends s to the current chunk. len(s.Emits) ≤ segmentEmitsMax.
func (e *encoder) add(s *Segment) error {
	if len(e.buf) == 0 {
		e.reset()
	}
	if len(s.Emits) > segmentEmitsMax || len(s.State) > stateWordsMax || len(s.Fault) > faultTextMax {
		return fmt.Errorf("input domain %d at tick %d: segment too large (%d emissions, %d state words)", s.Domain, s.Tick, len(s.Emits), len(s.State))
	}
	var flags uint32
	if s.Final {
		flags |= segFinal
	}
	if s.Fault != "" {
		flags |= segFault
	}
	if s.TickEnd {
		flags |= segTickEnd
	}
	b := e.buf
	b = binary.LittleEndian.AppendUint32(b, s.Tick)
	b = binary.LittleEndian.AppendUint32(b, s.Domain)
	b = binary.LittleEndian.AppendUint32(b, uint32(len(s.Emits)))
	b = binary.LittleEndian.AppendUint32(b, flags)
	for i := range s.Emits {
		m := &s.Emits[i]
		late := uint64(m.Tick) - uint64(s.Tick) - 1
		if m.Tick <= s.Tick || m.Src != s.Domain || m.Flags != 0 {
			return fmt.Errorf("input domain %d at tick %d emitted a message with tick %d and src %d", s.Domain, s.Tick, m.Tick, m.Src)
		}
		b = binary.AppendUvarint(b, uint64(m.Dst))
		b = binary.AppendUvarint(b, uint64(m.Kind)|late<<32)
		b = binary.AppendUvarint(b, m.A)
		b = binary.AppendUvarint(b, m.B)
	}
	if s.Final {
		b = binary.LittleEndian.AppendUint32(b, s.Received)
		b = binary.LittleEndian.AppendUint32(b, uint32(len(s.State)))
		for _, w := range s.State {
			b = binary.LittleEndian.AppendUint64(b, w)
		}
	}
	if s.Fault != "" {
		b = binary.LittleEndian.AppendUint32(b, s.FaultAt)
		b = binary.LittleEndian.AppendUint32(b, uint32(len(s.Fault)))
		b = append(b, s.Fault...)
	}
	e.buf = b
	if e.nseg == 0 {
		e.first = s.Tick
	}
	e.last = s.Tick
	e.nseg++
	return nil
}

// seal finishes the current chunk (end: the last one, with the end tick)
// and returns it; the encoder then starts the next in spare's storage (nil:
// a new buffer), so the returned chunk stays the caller's.
func (e *encoder) seal(end bool, endTick uint32, spare []byte) []byte {
	if len(e.buf) == 0 {
		e.reset()
	}
	h := e.buf[:chunkHeaderSize]
	copy(h, chunkMagic[:])
	var flags uint32
	if end {
		flags = chunkFlagEnd
	} else {
		endTick = 0
	}
	if e.nseg == 0 {
		e.first, e.last = 0, 0
	}
	binary.LittleEndian.PutUint32(h[4:], flags)
	binary.LittleEndian.PutUint64(h[8:], e.ordinal)
	binary.LittleEndian.PutUint32(h[16:], e.nseg)
	binary.LittleEndian.PutUint32(h[20:], e.first)
	binary.LittleEndian.PutUint32(h[24:], e.last)
	binary.LittleEndian.PutUint32(h[28:], endTick)
	out := binary.LittleEndian.AppendUint64(e.buf, xxhash.Sum64(e.buf))
	e.ordinal += uint64(e.nseg)
	e.buf = spare[:0]
	e.nseg = 0
	return out
}

// chunkReader decodes one chunk's segments in order.
type chunkReader struct {
	H    ChunkHeader
	b    []byte // the segments not yet read
	left uint32 // segments not yet read
	last uint32 // tick of the last segment read
}

// errDamaged marks a chunk that does not decode.
var errDamaged = errors.New("damaged input chunk")

func damaged(format string, a ...any) error {
	return fmt.Errorf("%w: "+format, append([]any{errDamaged}, a...)...)
}

// openChunk checks a chunk's magic, checksum and header.
func openChunk(b []byte) (*chunkReader, error) {
	if len(b) < chunkHeaderSize+8 {
		return nil, damaged("%d bytes", len(b))
	}
	if [4]byte(b[:4]) != chunkMagic {
		return nil, damaged("bad magic")
	}
	body := b[:len(b)-8]
	if xxhash.Sum64(body) != binary.LittleEndian.Uint64(b[len(b)-8:]) {
		return nil, damaged("checksum mismatch")
	}
	flags := binary.LittleEndian.Uint32(b[4:])
	r := &chunkReader{b: body[chunkHeaderSize:]}
	r.H = ChunkHeader{End: flags&chunkFlagEnd != 0, Ordinal: binary.LittleEndian.Uint64(b[8:]),
		Segments: binary.LittleEndian.Uint32(b[16:]), First: binary.LittleEndian.Uint32(b[20:]),
		Last: binary.LittleEndian.Uint32(b[24:]), EndTick: binary.LittleEndian.Uint32(b[28:])}
	if flags&^chunkFlagEnd != 0 {
		return nil, damaged("unknown flags %#x", flags)
	}
	if uint64(r.H.Segments) > uint64(len(r.b))/segHeaderSize || r.H.First > r.H.Last || r.H.Segments == 0 && r.H.Last != 0 ||
		!r.H.End && r.H.EndTick != 0 {
		return nil, damaged("header does not fit its %d bytes", len(r.b))
	}
	r.left = r.H.Segments
	return r, nil
}

// next decodes the next segment into s, appending its emissions to emits
// (s.Emits is the appended part; s.State aliases the chunk). ok is false
// after the last segment; then the chunk must be used up.
func (r *chunkReader) next(s *Segment, emits []trace.Entry) (out []trace.Entry, ok bool, err error) {
	if r.left == 0 {
		if len(r.b) != 0 {
			return emits, false, damaged("%d bytes after the last segment", len(r.b))
		}
		if r.H.Segments > 0 && r.last != r.H.Last {
			return emits, false, damaged("last segment at tick %d, header says %d", r.last, r.H.Last)
		}
		return emits, false, nil
	}
	b := r.b
	if len(b) < segHeaderSize {
		return emits, false, damaged("segment header truncated")
	}
	s.Tick = binary.LittleEndian.Uint32(b)
	s.Domain = binary.LittleEndian.Uint32(b[4:])
	k := binary.LittleEndian.Uint32(b[8:])
	flags := binary.LittleEndian.Uint32(b[12:])
	b = b[segHeaderSize:]
	if k > segmentEmitsMax || flags&^(segFinal|segFault|segTickEnd) != 0 ||
		flags&(segFault|segTickEnd) != 0 && flags&segFinal == 0 {
		return emits, false, damaged("segment of domain %d at tick %d: bad header", s.Domain, s.Tick)
	}
	if s.Tick == 1<<32-1 {
		return emits, false, damaged("segment tick %d out of range", s.Tick)
	}
	if r.left == r.H.Segments && s.Tick != r.H.First {
		return emits, false, damaged("first segment at tick %d, header says %d", s.Tick, r.H.First)
	}
	r.last = s.Tick
	s.Final, s.TickEnd = flags&segFinal != 0, flags&segTickEnd != 0
	start := len(emits)
	due := s.Tick + 1
	for i := uint32(0); i < k; i++ {
		var v [4]uint64
		for j := range v {
			x, n := binary.Uvarint(b)
			if n <= 0 {
				return emits, false, damaged("emission %d of domain %d at tick %d truncated", i, s.Domain, s.Tick)
			}
			v[j], b = x, b[n:]
		}
		late := v[1] >> 32
		if v[0] >= 1<<32 || late >= uint64(1<<32-1-due) || v[1]>>16&0xFFFF != 0 {
			return emits, false, damaged("emission %d of domain %d at tick %d out of range", i, s.Domain, s.Tick)
		}
		emits = append(emits, trace.Entry{Tick: due + uint32(late), Src: s.Domain, Dst: uint32(v[0]),
			Kind: trace.Kind(v[1]), A: v[2], B: v[3]})
	}
	s.Emits = emits[start:]
	s.Received, s.State, s.Fault, s.FaultAt = 0, nil, "", 0
	if s.Final {
		if len(b) < 8 {
			return emits, false, damaged("segment of domain %d at tick %d truncated", s.Domain, s.Tick)
		}
		s.Received = binary.LittleEndian.Uint32(b)
		m := binary.LittleEndian.Uint32(b[4:])
		b = b[8:]
		if m > stateWordsMax || uint64(m)*8 > uint64(len(b)) {
			return emits, false, damaged("state of domain %d at tick %d truncated", s.Domain, s.Tick)
		}
		s.State = make([]uint64, m)
		for i := range s.State {
			s.State[i] = binary.LittleEndian.Uint64(b[8*i:])
		}
		b = b[8*m:]
	}
	if flags&segFault != 0 {
		if len(b) < 8 {
			return emits, false, damaged("fault of domain %d at tick %d truncated", s.Domain, s.Tick)
		}
		s.FaultAt = binary.LittleEndian.Uint32(b)
		n := binary.LittleEndian.Uint32(b[4:])
		b = b[8:]
		if n == 0 || n > faultTextMax || uint64(n) > uint64(len(b)) {
			return emits, false, damaged("fault text of domain %d at tick %d truncated", s.Domain, s.Tick)
		}
		s.Fault = string(b[:n])
		b = b[n:]
	}
	r.b = b
	r.left--
	return emits, true, nil
}
