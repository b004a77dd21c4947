package mmap

import (
	"bufio"
	"errors"
	"fmt"
	"io"
	"os"

	"github.com/cespare/xxhash/v2"
	"github.com/lexbench/lexbench/trace"
)

// Damage locates the first bad block of a journal.
type Damage struct {
	Block  uint64 // index the block should have
	Offset int64  // file offset of its header
	What   string
}

func (d *Damage) Error() string {
	return fmt.Sprintf("journal: block %d at offset %d: %s", d.Block, d.Offset, d.What)
}

// Torn reports whether the damage is a truncated last block (a torn tail).
func (d *Damage) Torn() bool { return len(d.What) >= 9 && d.What[:9] == "truncated" }

// Summary describes a journal's valid blocks.
type Summary struct {
	Params   string
	Trace    uint64 // hash of the last valid block (xxhash64(params) if none)
	Blocks   uint64
	Entries  uint64
	LastTick uint32
	Size     int64 // bytes up to the end of the last valid block
}

const readBufBytes = 1 << 20

// Reader reads a journal's blocks in order, checking each.
type Reader struct {
	f       *os.File
	r       *bufio.Reader
	params  string
	off     int64 // offset of the next block
	next    uint64
	prev    uint64
	tick    uint32
	partial bool // the previous block was not full
	started bool
	entries uint64
	buf     []byte
	err     error
}

// Open opens a journal and checks its file header.
func Open(path string) (*Reader, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, fmt.Errorf("journal: %w", err)
	}
	r := &Reader{f: f, r: bufio.NewReaderSize(f, readBufBytes)}
	var h [trace.FileHeaderSize]byte
	n, err := io.ReadFull(r.r, h[:])
	if err != nil {
		f.Close()
		if n == 0 {
			return nil, fmt.Errorf("journal: %s: empty file", path)
		}
		_, herr := trace.DecodeFileHeader(h[:n])
		return nil, fmt.Errorf("journal: %s: %w", path, herr)
	}
	plen, err := trace.DecodeFileHeader(h[:])
	if err != nil {
		f.Close()
		return nil, fmt.Errorf("journal: %s: %w", path, err)
	}
	pb := make([]byte, trace.PrologueSize(plen)-trace.FileHeaderSize)
	if _, err := io.ReadFull(r.r, pb); err != nil {
		f.Close()
		return nil, fmt.Errorf("journal: %s: params truncated", path)
	}
	for _, c := range pb[plen:] {
		if c != 0 {
			f.Close()
			return nil, fmt.Errorf("journal: %s: params padding is not zero", path)
		}
	}
	r.params = string(pb[:plen])
	r.off = int64(trace.PrologueSize(plen))
	r.prev = trace.ParamsHash(r.params)
	r.buf = make([]byte, trace.BlockEntriesMax*trace.EntrySize)
	return r, nil
}

// Params is the params text of the journal.
func (r *Reader) Params() string { return r.params }

// Offset is the file offset of the next block.
func (r *Reader) Offset() int64 { return r.off }

// Blocks and Entries count the valid blocks and entries read so far.
func (r *Reader) Blocks() uint64  { return r.next }
func (r *Reader) Entries() uint64 { return r.entries }

// Head is the hash of the last valid block (the chain head).
func (r *Reader) Head() uint64 { return r.prev }

// LastTick is the tick of the last valid block.
func (r *Reader) LastTick() uint32 { return r.tick }

// Close closes the file.
func (r *Reader) Close() error { return r.f.Close() }

func (r *Reader) damage(format string, a ...any) error {
	r.err = &Damage{Block: r.next, Offset: r.off, What: fmt.Sprintf(format, a...)}
	return r.err
}

// Next reads and checks the next block. It returns its header and entry
// bytes (valid until the next call), io.EOF at a clean end, or *Damage.
func (r *Reader) Next() (trace.BlockHeader, []byte, error) {
	if r.err != nil {
		return trace.BlockHeader{}, nil, r.err
	}
	var hb [trace.BlockHeaderSize]byte
	n, err := io.ReadFull(r.r, hb[:])
	if err == io.EOF {
		r.err = io.EOF
		return trace.BlockHeader{}, nil, io.EOF
	}
	if err != nil {
		return trace.BlockHeader{}, nil, r.damage("truncated: header %d of %d bytes", n, trace.BlockHeaderSize)
	}
	h, ok := trace.DecodeBlockHeader(hb[:])
	switch {
	case !ok:
		return h, nil, r.damage("bad magic %q", hb[:4])
	case h.Count < 1 || h.Count > trace.BlockEntriesMax:
		return h, nil, r.damage("count %d out of range 1..%d", h.Count, trace.BlockEntriesMax)
	case h.Index != r.next:
		return h, nil, r.damage("index %d, want %d", h.Index, r.next)
	case h.Prev != r.prev:
		return h, nil, r.damage("prev link mismatch (%016x, want %016x)", h.Prev, r.prev)
	}
	body := r.buf[:int(h.Count)*trace.EntrySize]
	if n, err := io.ReadFull(r.r, body); err != nil {
		return h, nil, r.damage("truncated: %d of %d entry bytes", n, len(body))
	}
	if got := trace.BlockHash(h.Count, h.Index, h.Prev, xxhash.Sum64(body)); got != h.Hash {
		return h, nil, r.damage("hash mismatch (%016x, computed %016x)", h.Hash, got)
	}
	tick := trace.DecodeEntry(body).Tick
	for i := 0; i < int(h.Count); i++ {
		e := trace.DecodeEntry(body[i*trace.EntrySize:])
		if e.Reserved != 0 {
			return h, nil, r.damage("entry %d: reserved field is %d, want 0", i, e.Reserved)
		}
		if e.Tick != tick {
			return h, nil, r.damage("entry %d: tick %d in a block of tick %d", i, e.Tick, tick)
		}
	}
	if r.started {
		if tick < r.tick {
			return h, nil, r.damage("tick %d after tick %d (ticks must not decrease)", tick, r.tick)
		}
		if tick == r.tick && r.partial {
			return h, nil, r.damage("second block of tick %d after a partial one", tick)
		}
	}
	r.started = true
	r.tick = tick
	r.partial = h.Count < trace.BlockEntriesMax
	r.prev = h.Hash
	r.next++
	r.entries += uint64(h.Count)
	r.off += int64(trace.BlockHeaderSize + len(body))
	return h, body, nil
}

// Verify checks every block of the journal at path. On damage it returns
// the summary of the valid prefix and the *Damage; a bad file header is a
// plain error.
func Verify(path string) (Summary, error) {
	r, err := Open(path)
	if err != nil {
		return Summary{}, err
	}
	defer r.Close()
	for {
		_, _, err = r.Next()
		if err != nil {
			break
		}
	}
	s := Summary{Params: r.params, Trace: r.prev, Blocks: r.next, Entries: r.entries, LastTick: r.tick, Size: r.off}
	if errors.Is(err, io.EOF) {
		return s, nil
	}
	return s, err
}
