package replica

import (
	"encoding/binary"
	"slices"
	"testing"

	"github.com/cespare/xxhash/v2"
	"github.com/lexbench/lexbench/snapshot"
	"github.com/lexbench/lexbench/workloads"
)

// decodeAll decodes every segment of a chunk.
func decodeAll(b []byte) (*chunkReader, []Segment, error) {
	cr, err := openChunk(b)
	if err != nil {
		return nil, nil, err
	}
	var segs []Segment
	for {
		var s Segment
		emits, ok, err := cr.next(&s, nil)
		if err != nil {
			return nil, nil, err
		}
		if !ok {
			return cr, segs, nil
		}
		s.Emits = emits
		segs = append(segs, s)
	}
}

// FuzzChunk feeds the chunk decoder arbitrary chunks (with a valid
// checksum, so the fuzzer explores the decoding): it never panics or
// allocates beyond the input, and a chunk it accepts re-encodes to a chunk
// that decodes to the same segments.
func FuzzChunk(f *testing.F) {
	for _, run := range []*Run{
		{Spec: &workloads.BankingSpec, P: workloads.Params{N: 50, Seed: 1, Batch: 7, K: []uint64{2, 3}}},
		{Spec: &workloads.StormSpec, P: workloads.Params{N: 40, Seed: 2, Batch: 5, K: []uint64{3, 4}}},
	} {
		run.Opts = snapshot.DefaultOptions()
		m, _ := publishMem(f, run, 256)
		for _, c := range m.chunks {
			f.Add(c[:len(c)-8])
		}
	}
	f.Fuzz(func(t *testing.T, body []byte) {
		b := binary.LittleEndian.AppendUint64(slices.Clone(body), xxhash.Sum64(body))
		cr, segs, err := decodeAll(b)
		if err != nil {
			return
		}
		e := encoder{ordinal: cr.H.Ordinal}
		for i := range segs {
			if err := e.add(&segs[i]); err != nil {
				t.Fatalf("segment %d decoded but does not encode: %v", i, err)
			}
		}
		cr2, segs2, err := decodeAll(e.seal(cr.H.End, cr.H.EndTick, nil))
		if err != nil {
			t.Fatalf("re-encoded chunk does not decode: %v", err)
		}
		if cr2.H != cr.H || len(segs2) != len(segs) {
			t.Fatalf("header %+v, want %+v", cr2.H, cr.H)
		}
		for i := range segs {
			if !segEqual(&segs[i], &segs2[i]) {
				t.Fatalf("segment %d: %+v, want %+v", i, segs2[i], segs[i])
			}
		}
	})
}

// FuzzHeader: the stream header parser accepts only canonical headers.
func FuzzHeader(f *testing.F) {
	h := header{Params: "lexbench/1 workload=banking n=5 seed=1 batch=4096 banks=1 accounts=2", Inputs: "0-0,3-7",
		ChunkBytes: ChunkBytesDefault, Opts: snapshot.DefaultOptions()}
	f.Add([]byte(h.text()))
	f.Fuzz(func(t *testing.T, b []byte) {
		got, err := parseHeader(b)
		if err == nil && got.text() != string(b) {
			t.Fatalf("accepted a non-canonical header %q", b)
		}
	})
}
