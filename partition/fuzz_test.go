package partition

import (
	"bytes"
	"encoding/binary"
	"testing"

	"github.com/lexbench/lexbench/engine"
	"github.com/lexbench/lexbench/snapshot"
	"github.com/lexbench/lexbench/trace"
)

// FuzzBody feeds the round decoder arbitrary bodies: it never panics or
// sizes anything beyond its input, and a body it accepts re-encodes to the
// same bytes (the encoding is canonical, so a re-sent round compares
// byte for byte).
func FuzzBody(f *testing.F) {
	m := &engine.PartMsg{Kind: engine.RoundTick, Tick: 7, N: 3, Late: 1, Delivered: 2, Dropped: 4, Limit: 1 << 20, Equal: true, Touched: 5,
		Cycle: []uint32{1, 2}, PreHit: true, Found: &engine.Oscillation{Tick: 3, Period: 2, Domains: 1}, FoundCell: 9, Damped: 1,
		Fault: engine.PartFault{Class: engine.FaultDelivery, From: 1, Key: 6, Viol: true, Text: "boom"}, Overflow: true,
		Emit: engine.PartFault{Class: engine.FaultEmission, Key: 4, Text: "bad"}, Resolved: []uint64{engine.NoPos, 3},
		To: [][]trace.Entry{nil, {{Tick: 7, Src: 1, Dst: 5, Kind: 2, A: 9, B: 8}}}, Notices: [][]trace.Entry{nil, {{Tick: 9, Src: 1, Dst: 4}}},
		Words: []uint64{1, 2, 3}}
	f.Add(encodeBody(nil, uint8(engine.RoundTick), m, true, []digestItem{{block: 3, to: 1, state: []byte{1, 2, 3}}}, []hashItem{{5, 6}}, 1))
	f.Add(encodeBody(nil, kindDrain, &engine.PartMsg{}, false, nil, nil, 0))
	f.Fuzz(func(t *testing.T, b []byte) {
		var w wireMsg
		if err := decodeBody(b, &w); err != nil {
			return
		}
		m := w.PartMsg
		m.To, m.Notices = [][]trace.Entry{w.In}, [][]trace.Entry{w.InNotices}
		for i := range w.digs {
			w.digs[i].to = 0
		}
		if got := encodeBody(nil, w.kind, &m, w.busy, w.digs, w.hashes, 0); !bytes.Equal(got, b) {
			t.Fatalf("re-encoded body differs:\n%x\n%x", got, b)
		}
	})
}

// FuzzChunk: the chunks of any body, at any chunk size, each open with the
// header they were cut with and together carry the body back whole; any
// one flipped bit makes a chunk refuse to open. size is taken modulo a
// few KiB above the least chunk that carries a byte.
func FuzzChunk(f *testing.F) {
	f.Add([]byte("a body"), uint16(64), uint32(3))
	f.Add(make([]byte, 1500), uint16(200), uint32(77))
	f.Add([]byte{}, uint16(0), uint32(0))
	f.Fuzz(func(t *testing.T, body []byte, size uint16, flip uint32) {
		max := chunkHeaderSize + 9 + int(size)%4096
		head := chunkHead{run: 1, round: 2, src: 0, dst: 1}
		var got []byte
		chunks := 0
		err := appendChunks(body, head, max, nil, func(i int, c []byte) error {
			h, part, err := openChunk(c)
			if err != nil || h.index != uint32(i) || h.bodyLen != uint64(len(body)) || len(c) > max ||
				h.run != head.run || h.round != head.round || h.src != head.src || h.dst != head.dst {
				t.Fatalf("chunk %d: %+v, %v", i, h, err)
			}
			got = append(got, part...)
			chunks++
			if int(h.n) != chunks && i == int(h.n)-1 {
				t.Fatalf("chunk %d of %d", i, h.n)
			}
			bit := int(flip) % (8 * len(c))
			c[bit/8] ^= 1 << (bit % 8)
			if _, _, err := openChunk(c); err == nil {
				t.Fatalf("chunk %d with bit %d flipped opened", i, bit)
			}
			return nil
		})
		if err != nil || !bytes.Equal(got, body) || chunks == 0 {
			t.Fatalf("%d chunks carry %d of %d bytes (%v)", chunks, len(got), len(body), err)
		}
	})
}

// FuzzSnapshot: a partition snapshot opens only whole and checked — any
// bytes under the magic and checksums are refused or decoded without a
// panic — and one that decodes re-encodes to the same bytes, so what a
// restart continues from is exactly what was written. The fuzzer's bytes
// are sealed with valid checksums (else it would only test them) unless
// the first byte is odd.
func FuzzSnapshot(f *testing.F) {
	c := newChain(1, "p")
	c.counts, c.hashes, c.known, c.laid = []uint32{4}, []uint64{7}, []bool{true}, 1
	c.wait = []piece{{block: 0, to: -1, entries: []trace.Entry{{A: 1}}}}
	c.digOut = []digestItem{{block: 2, to: 0, state: []byte{1, 2, 3}}}
	c.hashOut = []hashItem{{block: 1, hash: 9}}
	s := &partSnapshot{run: 3, journalSize: 100, round: 9, position: 4, chain: c}
	s.snap = &snapshot.Snapshot{Params: "p", Opts: snapshot.DefaultOptions(),
		CP: engine.Checkpoint{Tick: 5, Words: []uint64{1}, Part: &engine.PartCheckpoint{Index: 1, Cuts: []uint32{0, 1, 2},
			Inbound: []trace.Entry{{Tick: 6, Src: 0, Dst: 1}}, Cycle: []uint32{1}}}}
	seed := encodeSnapshot(s)
	if got, err := decodeSnapshot(seed, 1, "p"); err != nil || !bytes.Equal(encodeSnapshot(got), seed) {
		f.Fatalf("the seed snapshot does not round-trip: %v", err)
	}
	f.Add(seed)
	f.Fuzz(func(t *testing.T, b []byte) {
		if len(b) >= snapHeaderSize && b[0]&1 == 0 {
			b = bytes.Clone(b)
			copy(b, snapMagic[:])
			sealSnapshot(b, binary.LittleEndian.Uint64(b[16:]))
		}
		s, err := decodeSnapshot(b, 1, "p")
		if err != nil {
			return
		}
		if got := encodeSnapshot(s); !bytes.Equal(got, b) {
			t.Fatalf("re-encoded snapshot differs:\n%x\n%x", got, b)
		}
	})
}
