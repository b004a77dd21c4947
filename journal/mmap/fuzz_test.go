package mmap

import (
	"bytes"
	"errors"
	"io"
	"testing"

	"github.com/cespare/xxhash/v2"
	"github.com/lexbench/lexbench/trace"
)

// FuzzReader feeds arbitrary bytes to the reader: it must never panic,
// every block it accepts must hash and link correctly, and its summary and
// damage must agree with each other and with the input.
func FuzzReader(f *testing.F) {
	j := encodeJournal(testParams, ticksToBlocks([]int{3, 1, 2}, 9))
	f.Add(j.data)
	f.Add(j.data[:j.offs[1]+40])
	f.Add(j.data[:j.offs[0]])
	f.Add(append(append([]byte(nil), j.data...), make([]byte, 64)...))
	f.Add([]byte("LEXJRNL1"))
	f.Add([]byte{})
	f.Fuzz(func(t *testing.T, b []byte) {
		testBuf.Reset(bytes.NewReader(b))
		r, err := newReader(testBuf, "fuzz")
		if err != nil {
			var d *Damage
			if errors.As(err, &d) {
				t.Fatalf("header error is *Damage: %v", err)
			}
			return
		}
		prev := trace.ParamsHash(r.Params())
		for {
			off := r.Offset()
			h, body, err := r.Next()
			if err == io.EOF {
				if s := r.Summary(); s.Size != int64(len(b)) || s.Trace != prev {
					t.Fatalf("clean end with summary %+v for %d bytes", s, len(b))
				}
				return
			}
			var d *Damage
			if errors.As(err, &d) {
				s := r.Summary()
				if d.Offset != off || d.Offset != s.Size || d.Block != s.Blocks || s.Trace != prev {
					t.Fatalf("damage %v disagrees with summary %+v", d, s)
				}
				if _, _, err2 := r.Next(); err2 != err {
					t.Fatalf("Next after damage: %v, want %v", err2, err)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if h.Prev != prev || len(body) != int(h.Count)*trace.EntrySize || trace.BlockHash(h.Count, h.Index, h.Prev, xxhash.Sum64(body)) != h.Hash {
				t.Fatalf("accepted a block that does not link or hash: %+v", h)
			}
			if string(b[off:off+4]) != "LXB1" {
				t.Fatalf("accepted a block at %d without the magic", off)
			}
			prev = h.Hash
		}
	})
}
