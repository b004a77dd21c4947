package recovery

import (
	"bytes"
	"errors"
	"io"
	"testing"

	"github.com/lexbench/lexbench/trace"
)

// countingReader counts ReadAt calls.
type countingReader struct {
	r     io.ReaderAt
	reads int
}

func (c *countingReader) ReadAt(p []byte, off int64) (int, error) {
	c.reads++
	return c.r.ReadAt(p, off)
}

// TestCheckedReadsTheFileAhead: replay and resume compare a journal a
// tick's region at a time (one 64-byte block per tick for a program that
// sends one message a tick); the file is read in readAhead chunks, not
// once per region (it was one pread per tick: a replay of 10^6 one-message
// ticks took 5 s against 0.9 s), and a difference in the last region is
// still found.
func TestCheckedReadsTheFileAhead(t *testing.T) {
	const region, regions = 64, 1 << 16
	file := make([]byte, 0, region*regions)
	for i := 0; i < regions; i++ { // one-entry blocks; the hashes play no part here
		var h [trace.BlockHeaderSize]byte
		trace.PutBlockHeader(h[:], trace.BlockHeader{Count: 1, Index: uint64(i), Prev: uint64(i) * 3, Hash: uint64(i) * 5})
		file = append(file, h[:]...)
		file = trace.AppendEntry(file, &trace.Entry{Tick: uint32(i + 1), Src: uint32(i), Dst: uint32(i + 1), A: uint64(i)})
	}
	for _, flip := range []bool{false, true} {
		r := &countingReader{r: bytes.NewReader(file)}
		c := newChecked(r, nil, 0, int64(len(file)), 0)
		for i := 0; i < regions; i++ {
			b, err := c.Reserve(region)
			if err != nil {
				t.Fatalf("flip %v: region %d: %v", flip, i, err)
			}
			copy(b, file[i*region:])
			if flip && i == regions-1 {
				b[trace.BlockHeaderSize+20] ^= 1
			}
		}
		err := c.Close(false)
		var d *Divergence
		if flip != errors.As(err, &d) || !flip && err != nil || flip && d.Block != regions-1 {
			t.Fatalf("flip %v: Close: %v", flip, err)
		}
		if want := len(file)/readAhead + 1; r.reads > want {
			t.Fatalf("flip %v: %d reads of a %d-byte file, want at most %d", flip, r.reads, len(file), want)
		}
	}
}
