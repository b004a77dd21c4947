package partition

import (
	"bufio"
	"encoding/binary"
	"errors"
	"fmt"
	"github.com/lexbench/lexbench/journal/mmap"
	"io"
	"io/fs"
	"os"
	"slices"
	"syscall"

	"github.com/cespare/xxhash/v2"
	"github.com/lexbench/lexbench/snapshot"
	"github.com/lexbench/lexbench/trace"
)

// A partition journal holds one partition's part of a run's trace and the
// whole header chain (docs/distributed.md §4). All integers little-endian.
//
//	file header (64 bytes)
//	    0   [8]byte magic "LEXPART1"
//	    8   u32     version = 2
//	    12  u32     partitions P
//	    16  u32     this partition's index k
//	    20  u32     params length L
//	    24  u64     xxhash64 of header[0:24], header[32:64] and the rest
//	                of the header (params, cuts, run controls)
//	    32  u64     program: xxhash64 of a program run's source text
//	                with the low bit set (never 0), 0 for a native workload
//	    40  [24]byte zero
//	    64  params text, zero-padded to a multiple of 8
//	        cuts: P+1 u32 (partition i owns domains [cut i, cut i+1)),
//	        zero-padded to a multiple of 8
//	        the run controls (SPEC §3): i64 max-ticks (-1 none), i64
//	        max-msgs (-1 none), u64 flags (1 damp, 2 no-detect, 4 detect
//	        local), so that a merged journal's replay needs no flags
//	records, back to back
//	    0   [4]byte type: "SEG1", "HDR1" or "END1"
//	    4   u32     count
//	    8   u64     a
//	    16  u64     b
//	    24  count × 32 bytes
//	    -8  u64     xxhash64 of the record before it
//
// A SEG1 record is the partition's part of tick a, as delivered: count
// entries (SPEC §3 layout) that start at offset b of the tick's messages
// in ≺ order; a tick in which the partition delivered nothing has none. A
// HDR1 record holds count block headers (SPEC §3), blocks a, a+1, …, as
// the chain reaches them (every partition's journal holds the whole
// chain, the same bytes). END1, the last record of a finished run, has
// one 32-byte entry: the state hash, ticks, msgs, outcome; a = blocks, b =
// the trace hash.
//
// The records are written in order, so a journal cut short by a crash is
// a valid prefix with a torn tail, which a restart cuts off; a record that
// does not check in the middle is damage.

var partMagic = [8]byte{'L', 'E', 'X', 'P', 'A', 'R', 'T', '1'}

const (
	partVersion    = 2 // 2: the program's hash at 32
	partHeaderSize = 64
	recHeaderSize  = 24
)

var (
	recSeg = [4]byte{'S', 'E', 'G', '1'}
	recHdr = [4]byte{'H', 'D', 'R', '1'}
	recEnd = [4]byte{'E', 'N', 'D', '1'}
)

// JournalHeader is what a partition journal says it belongs to.
type JournalHeader struct {
	Params  string
	Program uint64 // xxhash64 of a program run's source text, low bit set; 0: a native workload
	Index   int
	Cuts    []uint32         // len P+1
	Opts    snapshot.Options // the run controls (MaxTicks, MaxMsgs, Damp, NoDetect, Local)
}

// Partitions is P.
func (h *JournalHeader) Partitions() int { return len(h.Cuts) - 1 }

func (h *JournalHeader) encode() []byte {
	b := make([]byte, partHeaderSize)
	copy(b, partMagic[:])
	binary.LittleEndian.PutUint32(b[8:], partVersion)
	binary.LittleEndian.PutUint32(b[12:], uint32(len(h.Cuts)-1))
	binary.LittleEndian.PutUint32(b[16:], uint32(h.Index))
	binary.LittleEndian.PutUint32(b[20:], uint32(len(h.Params)))
	binary.LittleEndian.PutUint64(b[32:], h.Program)
	tail := append([]byte(h.Params), make([]byte, pad8(len(h.Params)))...)
	for _, c := range h.Cuts {
		tail = binary.LittleEndian.AppendUint32(tail, c)
	}
	tail = append(tail, make([]byte, pad8(len(tail)))...)
	tail = binary.LittleEndian.AppendUint64(tail, uint64(h.Opts.MaxTicks))
	tail = binary.LittleEndian.AppendUint64(tail, uint64(h.Opts.MaxMsgs))
	tail = binary.LittleEndian.AppendUint64(tail, uint64(b2u8(h.Opts.Damp))|uint64(b2u8(h.Opts.NoDetect))<<1|uint64(b2u8(h.Opts.Local))<<2)
	d := xxhash.New()
	_, _ = d.Write(b[:24])
	_, _ = d.Write(b[32:])
	_, _ = d.Write(tail)
	binary.LittleEndian.PutUint64(b[24:], d.Sum64())
	return append(b, tail...)
}

func pad8(n int) int { return (8 - n%8) % 8 }

// journalWriter appends to a partition journal.
type journalWriter struct {
	f    *os.File
	w    *bufio.Writer
	size int64
	d    *xxhash.Digest
	rec  [recHeaderSize]byte
	sync bool
}

// createJournal creates the journal at path (an existing file is replaced
// only if it is empty or a partition journal: anything else is left alone
// and is an error).
func createJournal(path string, h *JournalHeader, sync bool) (*journalWriter, error) {
	if err := replaceable(path); err != nil {
		return nil, err
	}
	f, err := os.OpenFile(path, os.O_WRONLY|os.O_CREATE, 0o644)
	if err != nil {
		return nil, fmt.Errorf("journal: %w", err)
	}
	if err := lockJournal(f); err != nil {
		f.Close()
		return nil, fmt.Errorf("journal: %s: %w", path, err)
	}
	if err := f.Truncate(0); err != nil {
		f.Close()
		return nil, fmt.Errorf("journal: %w", err)
	}
	j := &journalWriter{f: f, w: bufio.NewWriterSize(f, 1<<20), d: xxhash.New(), sync: sync}
	hb := h.encode()
	if _, err := j.w.Write(hb); err != nil {
		f.Close()
		return nil, fmt.Errorf("journal: %w", err)
	}
	j.size = int64(len(hb))
	return j, nil
}

// lockJournal takes f's exclusive flock without waiting, as package mmap
// does for journals: a partition journal has one writer, and a second
// process (a restart while the killed one has not died yet, or the same
// command twice) gets mmap.ErrLocked and changes nothing. The lock goes
// with the process.
func lockJournal(f *os.File) error {
	for {
		err := syscall.Flock(int(f.Fd()), syscall.LOCK_EX|syscall.LOCK_NB)
		switch {
		case err == nil:
			return nil
		case errors.Is(err, syscall.EINTR):
			continue
		case errors.Is(err, syscall.EWOULDBLOCK):
			return mmap.ErrLocked
		}
		return fmt.Errorf("flock: %w", err)
	}
}

// replaceable reports whether path may be (re)created as a partition
// journal: it does not exist, is empty, or is one already.
func replaceable(path string) error {
	f, err := os.Open(path)
	if errors.Is(err, fs.ErrNotExist) {
		return nil
	}
	if err != nil {
		return fmt.Errorf("journal: %w", err)
	}
	defer f.Close()
	var m [8]byte
	n, _ := io.ReadFull(f, m[:])
	if n == 0 || m == partMagic {
		return nil
	}
	return fmt.Errorf("journal: %s exists and is not a partition journal; not replacing it", path)
}

// openJournalAppend opens the journal at path to append after its first
// size bytes (a valid prefix, the size recorded with a snapshot); the rest
// is cut off.
func openJournalAppend(path string, size int64, sync bool) (*journalWriter, error) {
	f, err := os.OpenFile(path, os.O_WRONLY, 0)
	if err != nil {
		return nil, fmt.Errorf("journal: %w", err)
	}
	if err := lockJournal(f); err != nil {
		f.Close()
		return nil, fmt.Errorf("journal: %s: %w", path, err)
	}
	if err := f.Truncate(size); err != nil {
		f.Close()
		return nil, fmt.Errorf("journal: %w", err)
	}
	if _, err := f.Seek(size, io.SeekStart); err != nil {
		f.Close()
		return nil, fmt.Errorf("journal: %w", err)
	}
	return &journalWriter{f: f, w: bufio.NewWriterSize(f, 1<<20), size: size, d: xxhash.New(), sync: sync}, nil
}

func (j *journalWriter) write(b []byte) error {
	_, _ = j.d.Write(b)
	if _, err := j.w.Write(b); err != nil {
		return fmt.Errorf("journal: %w", err)
	}
	j.size += int64(len(b))
	return nil
}

func (j *journalWriter) begin(typ [4]byte, count uint32, a, b uint64) error {
	j.d.Reset()
	copy(j.rec[:], typ[:])
	binary.LittleEndian.PutUint32(j.rec[4:], count)
	binary.LittleEndian.PutUint64(j.rec[8:], a)
	binary.LittleEndian.PutUint64(j.rec[16:], b)
	return j.write(j.rec[:])
}

func (j *journalWriter) finish() error {
	var s [8]byte
	binary.LittleEndian.PutUint64(s[:], j.d.Sum64())
	if _, err := j.w.Write(s[:]); err != nil {
		return fmt.Errorf("journal: %w", err)
	}
	j.size += 8
	return nil
}

// segment writes the partition's part of tick t (its entries at offset
// base of the tick); nothing for an empty part.
func (j *journalWriter) segment(t, base uint64, seg [][]trace.Entry) error {
	n := 0
	for _, s := range seg {
		n += len(s)
	}
	if n == 0 {
		return nil
	}
	if n > 1<<31 {
		return fmt.Errorf("journal: tick %d: %d messages in one part", t, n)
	}
	if err := j.begin(recSeg, uint32(n), t, base); err != nil {
		return err
	}
	var scratch []byte
	for _, s := range seg {
		if err := j.write(trace.EntryBytes(s, &scratch)); err != nil {
			return err
		}
	}
	return j.finish()
}

// headers writes block headers (consecutive).
func (j *journalWriter) headers(hs []trace.BlockHeader) error {
	if err := j.begin(recHdr, uint32(len(hs)), hs[0].Index, 0); err != nil {
		return err
	}
	var b [trace.BlockHeaderSize]byte
	for _, h := range hs {
		trace.PutBlockHeader(b[:], h)
		if err := j.write(b[:]); err != nil {
			return err
		}
	}
	return j.finish()
}

// End is a finished run's result as its partition journals record it.
type End struct {
	Trace, State uint64
	Blocks       uint64
	Ticks, Msgs  uint64
	Outcome      uint64 // engine.Outcome
}

func (j *journalWriter) end(e End) error {
	if err := j.begin(recEnd, 1, e.Blocks, e.Trace); err != nil {
		return err
	}
	var b [32]byte
	binary.LittleEndian.PutUint64(b[0:], e.State)
	binary.LittleEndian.PutUint64(b[8:], e.Ticks)
	binary.LittleEndian.PutUint64(b[16:], e.Msgs)
	binary.LittleEndian.PutUint64(b[24:], e.Outcome)
	if err := j.write(b[:]); err != nil {
		return err
	}
	return j.finish()
}

// flush writes out what is buffered (and, if the journal is durable,
// fsyncs it): before a snapshot records the journal's size.
func (j *journalWriter) flush() error {
	if err := j.w.Flush(); err != nil {
		return fmt.Errorf("journal: %w", err)
	}
	if j.sync {
		if err := j.f.Sync(); err != nil {
			return fmt.Errorf("journal: %w", err)
		}
	}
	return nil
}

func (j *journalWriter) close() error {
	err := j.flush()
	if cerr := j.f.Close(); err == nil && cerr != nil {
		err = fmt.Errorf("journal: %w", cerr)
	}
	return err
}

// JournalReader reads a partition journal's records in order.
type JournalReader struct {
	Header JournalHeader
	f      *os.File
	r      *bufio.Reader
	path   string
	off    int64 // offset of the next record
	size   int64
	d      *xxhash.Digest
	// the record being read
	typ      [4]byte
	count    uint32
	a, b     uint64
	left     uint32 // entries of the record not read yet
	recStart int64
}

// Record types, as Next reports them.
const (
	RecSegment = "SEG1"
	RecHeaders = "HDR1"
	RecEnd     = "END1"
)

// ErrTorn is wrapped by the error for a journal that ends inside a record
// (a crash while it was written): everything before it is valid.
var ErrTorn = errors.New("torn tail")

// OpenJournal opens a partition journal and checks its header.
func OpenJournal(path string) (*JournalReader, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, fmt.Errorf("journal: %w", err)
	}
	st, err := f.Stat()
	if err != nil {
		f.Close()
		return nil, fmt.Errorf("journal: %w", err)
	}
	r := &JournalReader{f: f, r: bufio.NewReaderSize(f, 1<<20), path: path, size: st.Size(), d: xxhash.New()}
	if err := r.header(); err != nil {
		f.Close()
		return nil, fmt.Errorf("journal: %s: %w", path, err)
	}
	return r, nil
}

func (r *JournalReader) header() error {
	var h [partHeaderSize]byte
	if _, err := io.ReadFull(r.r, h[:]); err != nil {
		return errors.New("not a partition journal (too short)")
	}
	if [8]byte(h[:8]) != partMagic {
		return errors.New("not a partition journal (bad magic)")
	}
	if v := binary.LittleEndian.Uint32(h[8:]); v != partVersion {
		return fmt.Errorf("unsupported version %d", v)
	}
	P := binary.LittleEndian.Uint32(h[12:])
	k := binary.LittleEndian.Uint32(h[16:])
	pl := binary.LittleEndian.Uint32(h[20:])
	if P == 0 || P > 1<<16 || k >= P || pl == 0 || pl > trace.ParamsLenMax {
		return errors.New("bad header")
	}
	n := int(pl) + pad8(int(pl))
	cl := 4 * (int(P) + 1)
	tail := make([]byte, n+cl+pad8(cl)+24)
	if _, err := io.ReadFull(r.r, tail); err != nil {
		return errors.New("header truncated")
	}
	d := xxhash.New()
	_, _ = d.Write(h[:24])
	_, _ = d.Write(h[32:])
	_, _ = d.Write(tail)
	if d.Sum64() != binary.LittleEndian.Uint64(h[24:]) {
		return errors.New("header checksum mismatch")
	}
	if !allZero(h[40:partHeaderSize]) {
		return errors.New("bad header (reserved bytes not zero)")
	}
	r.Header = JournalHeader{Params: string(tail[:pl]), Program: binary.LittleEndian.Uint64(h[32:]), Index: int(k), Opts: snapshot.DefaultOptions()}
	for i := 0; i <= int(P); i++ {
		r.Header.Cuts = append(r.Header.Cuts, binary.LittleEndian.Uint32(tail[n+4*i:]))
	}
	o := tail[n+cl+pad8(cl):]
	flags := binary.LittleEndian.Uint64(o[16:])
	r.Header.Opts.MaxTicks, r.Header.Opts.MaxMsgs = int64(binary.LittleEndian.Uint64(o)), int64(binary.LittleEndian.Uint64(o[8:]))
	r.Header.Opts.Damp, r.Header.Opts.NoDetect, r.Header.Opts.Local = flags&1 != 0, flags&2 != 0, flags&4 != 0
	if flags > 7 || r.Header.Opts.MaxTicks < -1 || r.Header.Opts.MaxMsgs < -1 {
		return errors.New("bad run controls")
	}
	r.off = int64(partHeaderSize + len(tail))
	return nil
}

// Offset is where the next record starts: after Next and the record's
// entries, the valid prefix so far.
func (r *JournalReader) Offset() int64 { return r.off }

// Next reads the next record's header: its type (RecSegment, RecHeaders,
// RecEnd), count and fields a and b. Its entries (count × 32 bytes) must
// then be read with Entries before the next call. io.EOF: the journal
// ends here; an error wrapping ErrTorn: it ends inside a record.
func (r *JournalReader) Next() (typ string, count uint32, a, b uint64, err error) {
	if r.left != 0 {
		return "", 0, 0, 0, errors.New("journal: a record's entries were not read")
	}
	if r.off == r.size {
		return "", 0, 0, 0, io.EOF
	}
	var h [recHeaderSize]byte
	if _, err := io.ReadFull(r.r, h[:]); err != nil {
		return "", 0, 0, 0, r.torn("record header cut off")
	}
	r.d.Reset()
	_, _ = r.d.Write(h[:])
	r.typ = [4]byte(h[:4])
	r.count = binary.LittleEndian.Uint32(h[4:])
	r.a, r.b = binary.LittleEndian.Uint64(h[8:]), binary.LittleEndian.Uint64(h[16:])
	if r.typ != recSeg && r.typ != recHdr && r.typ != recEnd || r.count == 0 || r.typ == recEnd && r.count != 1 {
		return "", 0, 0, 0, r.damaged("unknown record")
	}
	r.recStart = r.off
	if need := int64(recHeaderSize) + 32*int64(r.count) + 8; r.size-r.off < need {
		return "", 0, 0, 0, r.torn("record of %d bytes cut off at %d", need, r.size-r.off)
	}
	r.left = r.count
	return string(r.typ[:]), r.count, r.a, r.b, nil
}

// Entries reads up to len(buf)/32 more 32-byte items of the current
// record into buf and returns them; after the last it checks the record's
// checksum.
func (r *JournalReader) Entries(buf []byte) ([]byte, error) {
	n := min(uint32(len(buf)/32), r.left)
	b := buf[:32*n]
	if _, err := io.ReadFull(r.r, b); err != nil {
		return nil, r.torn("record cut off")
	}
	_, _ = r.d.Write(b)
	r.left -= n
	if r.left == 0 {
		var s [8]byte
		if _, err := io.ReadFull(r.r, s[:]); err != nil {
			return nil, r.torn("record checksum cut off")
		}
		r.off = r.recStart + recHeaderSize + 32*int64(r.count) + 8
		if binary.LittleEndian.Uint64(s[:]) != r.d.Sum64() {
			if r.off == r.size {
				return nil, r.torn("last record's checksum mismatch")
			}
			return nil, r.damaged("record checksum mismatch")
		}
	}
	return b, nil
}

func (r *JournalReader) torn(format string, a ...any) error {
	return fmt.Errorf("journal: %s: %w at offset %d: %s", r.path, ErrTorn, r.off, fmt.Sprintf(format, a...))
}

func (r *JournalReader) damaged(format string, a ...any) error {
	return fmt.Errorf("journal: %s: damaged at offset %d: %s", r.path, r.off, fmt.Sprintf(format, a...))
}

// Close closes the journal.
func (r *JournalReader) Close() error { return r.f.Close() }

// sameHeader reports how two journals' headers differ, if they do, for a
// set of partition journals.
func sameHeader(a, b *JournalHeader) error {
	o, p := a.Opts, b.Opts
	if a.Params != b.Params || a.Program != b.Program || !slices.Equal(a.Cuts, b.Cuts) || o.MaxTicks != p.MaxTicks || o.MaxMsgs != p.MaxMsgs ||
		o.Damp != p.Damp || o.NoDetect != p.NoDetect || o.Local != p.Local {
		return errors.New("the journals are of different runs (params, program, cuts or run controls differ)")
	}
	return nil
}

func allZero(b []byte) bool {
	for _, c := range b {
		if c != 0 {
			return false
		}
	}
	return true
}
