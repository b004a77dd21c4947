package mmap

import (
	"bufio"
	"bytes"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"strings"

	"github.com/cespare/xxhash/v2"
	"github.com/lexbench/lexbench/trace"
)

// Damage locates the first bad block of a journal. errors.Is(err,
// ErrTornTail) or errors.Is(err, ErrCorrupt) tells its two kinds apart.
type Damage struct {
	Block  uint64 // index the bad block should have: the number of valid blocks before it
	Offset int64  // file offset of its header
	What   string // what is wrong, e.g. "prev link mismatch"
	// ValidAfter is the file offset of a whole, self-consistent block found
	// after damage that looked like a torn tail (which makes it
	// corruption); 0 if none was looked for or found.
	ValidAfter int64
	torn       bool
}

// Sentinel errors for the two kinds of *Damage (errors.Is).
var (
	// ErrTornTail: the journal's valid blocks are followed by a block the
	// file ends inside, or by bytes never written (a zero block header, or
	// a block with a run of unwritten zero bytes) with no valid block after
	// them: the normal state of a journal whose writer died.
	ErrTornTail = errors.New("torn tail")
	// ErrCorrupt: any other damage, including torn-looking damage with a
	// valid block after it. Nothing may cut it off.
	ErrCorrupt = errors.New("corrupt")
)

func (d *Damage) Error() string {
	return fmt.Sprintf("journal: block %d at offset %d: %s", d.Block, d.Offset, d.What)
}

// Is makes errors.Is(d, ErrTornTail) and errors.Is(d, ErrCorrupt) work.
func (d *Damage) Is(target error) bool {
	return target == ErrTornTail && d.torn || target == ErrCorrupt && !d.torn
}

// Torn reports whether the damage is a torn tail rather than corruption.
func (d *Damage) Torn() bool { return d.torn }

// Summary describes the valid blocks of a journal: all of them, or those
// before the first damage.
type Summary struct {
	Params   string
	Trace    uint64 // hash of the last valid block; xxhash64(params) if none
	Blocks   uint64
	Entries  uint64
	LastTick uint32 // tick of the last valid block; 0 if none
	Size     int64  // file offset where the valid blocks end
}

// readBufBytes is the Reader's buffer: it bounds the memory a read takes
// and must hold the prologue and any one block, which are returned in place.
const readBufBytes = 1 << 20

func init() {
	if readBufBytes < trace.FileHeaderSize+trace.ParamsLenMax+8 ||
		readBufBytes < trace.BlockHeaderSize+trace.BlockEntriesMax*trace.EntrySize {
		panic("journal: readBufBytes is smaller than a prologue or a block")
	}
}

// Reader reads a journal's blocks in order, checking each (see the package
// doc for the checks).
type Reader struct {
	f      *os.File // nil when reading from memory
	br     *bufio.Reader
	params string
	// flagsMax is the largest valid entry flags value: 0, or with faults
	// on (SPEC §7) trace.FlagsMax.
	flagsMax uint16
	pending  int // bytes of the block last returned, still in br

	off     int64  // offset of the next block
	blocks  uint64 // valid blocks so far = index of the next block
	entries uint64
	prev    uint64 // hash of the last valid block; the next block's prev link
	tick    uint32 // tick of the last valid block
	partial bool   // the last valid block has count < BlockEntriesMax
	err     error  // io.EOF, *Damage or a read error: every later Next returns it
}

// Open opens the journal at path and checks its file header, params and
// padding. A problem there is a plain error, not *Damage.
func Open(path string) (*Reader, error) {
	f, err := openExisting(path, os.O_RDONLY)
	if err != nil {
		return nil, err
	}
	r, err := newReader(bufio.NewReaderSize(f, readBufBytes), path)
	if err != nil {
		f.Close()
		return nil, err
	}
	r.f = f
	return r, nil
}

// openExisting opens the existing journal file at path for reading (flag
// O_RDONLY) or for a writer that continues it (O_RDWR): every reader of a
// journal (Open, and so Verify; LockShared; Lock) opens it here, so each
// says the same of a file that cannot be a journal. Errors, each
// "journal: PATH: …": the file's stat error (fs.ErrNotExist wrapped for a
// missing file), "not a regular file" (a directory, a FIFO, a device: it
// is not opened, which could block or have effects), "empty file", or the
// open error.
func openExisting(path string, flag int) (*os.File, error) {
	st, err := os.Stat(path)
	if err != nil {
		var pe *fs.PathError
		if errors.As(err, &pe) {
			err = pe.Err
		}
		return nil, fmt.Errorf("journal: %s: %w", path, err)
	}
	if !st.Mode().IsRegular() {
		return nil, fmt.Errorf("journal: %s: not a regular file", path)
	}
	if st.Size() == 0 {
		return nil, fmt.Errorf("journal: %s: empty file", path)
	}
	f, err := os.OpenFile(path, flag, 0)
	if err != nil {
		var pe *fs.PathError
		if errors.As(err, &pe) {
			err = pe.Err
		}
		return nil, fmt.Errorf("journal: %s: %w", path, err)
	}
	return f, nil
}

// newReader reads and checks the prologue from br, whose buffer must hold
// readBufBytes; name is for errors.
func newReader(br *bufio.Reader, name string) (*Reader, error) {
	if br.Size() < readBufBytes {
		panic("journal: reader buffer smaller than readBufBytes")
	}
	h, err := br.Peek(trace.FileHeaderSize)
	if len(h) < trace.FileHeaderSize {
		if err != io.EOF {
			return nil, fmt.Errorf("journal: %w", err)
		}
		if len(h) == 0 {
			return nil, fmt.Errorf("journal: %s: empty file", name)
		}
		if n := min(len(h), len(trace.FileMagic)); string(h[:n]) != string(trace.FileMagic[:n]) {
			return nil, fmt.Errorf("journal: %s: %w", name, trace.ErrNotJournal)
		}
	}
	plen, err := trace.DecodeFileHeader(h)
	if err != nil {
		return nil, fmt.Errorf("journal: %s: %w", name, err)
	}
	// plen ≤ ParamsLenMax, checked by DecodeFileHeader: the prologue fits in br.
	size := trace.PrologueSize(plen)
	b, err := br.Peek(size)
	if len(b) < size {
		if err != io.EOF {
			return nil, fmt.Errorf("journal: %w", err)
		}
		return nil, fmt.Errorf("journal: %s: params truncated (%d of %d bytes)", name, len(b)-trace.FileHeaderSize, size-trace.FileHeaderSize)
	}
	for _, c := range b[trace.FileHeaderSize+plen:] {
		if c != 0 {
			return nil, fmt.Errorf("journal: %s: params padding is not zero", name)
		}
	}
	params := string(b[trace.FileHeaderSize : trace.FileHeaderSize+plen])
	r := &Reader{br: br, params: params, off: int64(size), prev: trace.ParamsHash(params)}
	if trace.ParamsHaveFaults(params) {
		r.flagsMax = trace.FlagsMax
	}
	r.pending = size
	return r, nil
}

// Position is a place between two blocks of a journal and the chain state
// there: what a Reader needs to continue checking from it.
type Position struct {
	Offset   int64  // file offset of the next block
	Blocks   uint64 // blocks before it = index of the next block
	Entries  uint64 // entries before it
	Prev     uint64 // hash of block Blocks-1; xxhash64(params) if none
	LastTick uint32 // tick of block Blocks-1
	Partial  bool   // block Blocks-1 has fewer than 4096 entries
}

// OpenAt opens the journal at path, checks its prologue, and continues
// reading at p, which the caller vouches for (e.g. a snapshot recorded it):
// blocks from there on are checked as if the ones before had been read.
func OpenAt(path string, p Position) (*Reader, error) {
	r, err := Open(path)
	if err != nil {
		return nil, err
	}
	if p.Offset < r.off || (p.Blocks == 0) != (p.Offset == r.off) {
		r.Close()
		return nil, fmt.Errorf("journal: %s: position %d (block %d) is not after the prologue (%d bytes)", path, p.Offset, p.Blocks, r.off)
	}
	if p.Blocks == 0 && p.Prev != r.prev {
		r.Close()
		return nil, fmt.Errorf("journal: %s: position's prev link is not the params hash", path)
	}
	if _, err := r.f.Seek(p.Offset, io.SeekStart); err != nil {
		r.Close()
		return nil, fmt.Errorf("journal: %w", err)
	}
	r.br.Reset(r.f)
	r.pending = 0
	r.off, r.blocks, r.entries, r.prev, r.tick, r.partial = p.Offset, p.Blocks, p.Entries, p.Prev, p.LastTick, p.Partial
	return r, nil
}

// Params is the journal's params text.
func (r *Reader) Params() string { return r.params }

// Offset is the file offset of the next block (of the bad block after
// damage).
func (r *Reader) Offset() int64 { return r.off }

// FileID is the identity of the open journal file (the run file beside a
// journal records it); an error for a reader of memory.
func (r *Reader) FileID() (FileID, error) {
	if r.f == nil {
		return FileID{}, errors.New("journal: not read from a file")
	}
	return fileID(r.f)
}

// Summary describes the valid blocks read so far.
func (r *Reader) Summary() Summary {
	return Summary{Params: r.params, Trace: r.prev, Blocks: r.blocks, Entries: r.entries, LastTick: r.tick, Size: r.off}
}

// Close closes the file.
func (r *Reader) Close() error {
	if r.f == nil {
		return nil
	}
	err := r.f.Close()
	r.f = nil
	return err
}

// Next reads and checks the next block. It returns its header and entry
// bytes (valid until the next call), io.EOF at a clean end, *Damage at the
// first bad block, or a plain error if reading fails. After an error every
// call returns the same error.
func (r *Reader) Next() (trace.BlockHeader, []byte, error) {
	if r.err != nil {
		return trace.BlockHeader{}, nil, r.err
	}
	_, _ = r.br.Discard(r.pending) // buffered already: cannot fail
	r.pending = 0

	hb, err := r.br.Peek(trace.BlockHeaderSize)
	if len(hb) < trace.BlockHeaderSize {
		switch {
		case err != io.EOF:
			return r.fail(fmt.Errorf("journal: %w", err))
		case len(hb) == 0:
			return r.fail(io.EOF)
		}
		return r.torn("truncated: %d of %d header bytes", len(hb), trace.BlockHeaderSize)
	}
	if allZero(hb) {
		return r.torn("unwritten tail: zero block header")
	}
	h, ok := trace.DecodeBlockHeader(hb)
	switch {
	case !ok:
		return r.corrupt("bad magic %q", hb[:4])
	case h.Count < 1 || h.Count > trace.BlockEntriesMax:
		return r.corrupt("count %d out of range 1..%d", h.Count, trace.BlockEntriesMax)
	case h.Index != r.blocks:
		return r.corrupt("index %d, want %d", h.Index, r.blocks)
	case h.Prev != r.prev:
		return r.corrupt("prev link mismatch (%016x, want %016x)", h.Prev, r.prev)
	}
	size := trace.BlockSize(h.Count) // ≤ readBufBytes
	b, err := r.br.Peek(size)
	if len(b) < size {
		if err != io.EOF {
			return r.fail(fmt.Errorf("journal: %w", err))
		}
		return r.torn("truncated: %d of %d bytes", len(b), size)
	}
	body := b[trace.BlockHeaderSize:]
	if got := trace.BlockHash(h.Count, h.Index, h.Prev, xxhash.Sum64(body)); got != h.Hash {
		if at := zeroRun(body, unwrittenRun); at >= 0 {
			return r.torn("unwritten: hash mismatch with %d+ zero bytes at entry %d", unwrittenRun, at/trace.EntrySize)
		}
		return r.corrupt("hash mismatch (stored %016x, computed %016x)", h.Hash, got)
	}
	tick := trace.EntryTick(body)
	for i := 0; i < len(body); i += trace.EntrySize {
		e := body[i : i+trace.EntrySize]
		if t := trace.EntryTick(e); t != tick {
			return r.corrupt("entry %d: tick %d in a block of tick %d", i/trace.EntrySize, t, tick)
		}
		if v := trace.EntryFlags(e); v > r.flagsMax {
			if r.flagsMax == 0 {
				return r.corrupt("entry %d: flags field is %d, want 0 (the run has no faults)", i/trace.EntrySize, v)
			}
			return r.corrupt("entry %d: flags field is %d, want 0..%d", i/trace.EntrySize, v, r.flagsMax)
		}
	}
	if r.blocks > 0 {
		if tick < r.tick {
			return r.corrupt("tick %d after tick %d (ticks must not decrease)", tick, r.tick)
		}
		if tick == r.tick && r.partial {
			return r.corrupt("block of tick %d follows a partial block of the same tick", tick)
		}
	}
	r.pending = size
	r.off += int64(size)
	r.blocks++
	r.entries += uint64(h.Count)
	r.prev = h.Hash
	r.tick = tick
	r.partial = h.Count < trace.BlockEntriesMax
	return h, body, nil
}

func (r *Reader) fail(err error) (trace.BlockHeader, []byte, error) {
	r.err = err
	return trace.BlockHeader{}, nil, err
}

func (r *Reader) corrupt(format string, a ...any) (trace.BlockHeader, []byte, error) {
	return r.fail(&Damage{Block: r.blocks, Offset: r.off, What: fmt.Sprintf(format, a...)})
}

// torn reports damage that looks like a torn tail: it is one only if no
// valid block follows it (pebble's record reader and etcd's WAL draw the
// same line: a zeroed or torn record with good records after it is
// corruption, not the end of the log).
func (r *Reader) torn(format string, a ...any) (trace.BlockHeader, []byte, error) {
	d := &Damage{Block: r.blocks, Offset: r.off, What: fmt.Sprintf(format, a...), torn: true}
	off, idx, err := r.validAfter()
	if err != nil {
		return r.fail(fmt.Errorf("journal: %w", err))
	}
	switch {
	case off > 0:
		d.torn, d.ValidAfter = false, off
		d.What = fmt.Sprintf("damaged (%s), and block %d at offset %d after it is valid: damage inside the journal, not a torn tail", d.What, idx, off)
	case !strings.HasPrefix(d.What, "truncated"):
		d.What += " (the journal was not closed)"
	}
	return r.fail(d)
}

// validAfter scans the rest of the file, from the block header after the
// bad one at r.off, for a whole block consistent in itself (magic, count,
// hash; trace.WholeBlock) with an index after the bad block's. Blocks start
// at offsets r.off + 32k, so only those are looked at. It returns the
// offset and index of the first such block, or 0. The scan reads the rest
// of the file once through the reader's buffer (bounded memory).
func (r *Reader) validAfter() (int64, uint64, error) {
	const maxBlock = trace.BlockHeaderSize + trace.BlockEntriesMax*trace.EntrySize
	_, _ = r.br.Discard(trace.BlockHeaderSize) // the bad header: at least that much is buffered
	base := r.off + trace.BlockHeaderSize      // file offset of the buffer's first byte
	for {
		b, err := r.br.Peek(readBufBytes)
		eof := err == io.EOF
		if err != nil && !eof {
			return 0, 0, err
		}
		// candidates whose whole block fits in b; at the end, all of them
		limit := len(b)
		if !eof {
			limit = len(b) - maxBlock
		}
		for i := 0; i < limit; {
			j := bytes.Index(b[i:], trace.BlockMagic[:])
			if j < 0 || i+j >= limit {
				break
			}
			at := i + j
			if at%trace.EntrySize == 0 { // base ≡ r.off (mod 32)
				if h, _, ok := trace.WholeBlock(b[at:]); ok && h.Index > r.blocks {
					return base + int64(at), h.Index, nil
				}
			}
			i = at + 1
		}
		if eof {
			return 0, 0, nil
		}
		limit -= limit % trace.EntrySize
		_, _ = r.br.Discard(limit)
		base += int64(limit)
	}
}

// unwrittenRun is the shortest run of zero bytes that marks a block as
// partly unwritten. No valid block holds one: every entry of a tick > 0
// starts with its nonzero tick, and at tick 0 only domain 0's boot Tick is
// all zero, so zero runs in valid entries are shorter than 48 bytes. A
// page the kernel never wrote back (a machine crash; the file was
// preallocated with zeros) leaves such a run inside a block whose header
// reached the disk.
const unwrittenRun = 64

// zeroRun is the offset of the first run of n zero bytes in b, or -1.
func zeroRun(b []byte, n int) int {
	run := 0
	for i, c := range b {
		if c != 0 {
			run = 0
			continue
		}
		if run++; run == n {
			return i + 1 - n
		}
	}
	return -1
}

func allZero(b []byte) bool {
	for _, c := range b {
		if c != 0 {
			return false
		}
	}
	return true
}

// Verify checks every block of the journal at path, reading it once with
// bounded memory. It returns the summary of the valid blocks and, if there
// are damaged ones, the *Damage of the first. A bad file header is a plain
// error with an empty summary; so is a read error (with the summary so far).
func Verify(path string) (Summary, error) {
	r, err := Open(path)
	if err != nil {
		return Summary{}, err
	}
	defer r.Close()
	return verify(r)
}

func verify(r *Reader) (Summary, error) {
	var err error
	for err == nil {
		_, _, err = r.Next()
	}
	if err == io.EOF {
		err = nil
	}
	return r.Summary(), err
}
