package recovery

import (
	"bytes"
	"fmt"
	"io"

	"github.com/lexbench/lexbench/journal/mmap"
	"github.com/lexbench/lexbench/trace"
)

// Divergence is the first difference between a re-executed run and a
// journal: the block (its index), the tick and the entry within the
// block, with both versions. Journal is nil where the journal has no such
// entry (it ends, or its block is shorter); Replay is nil where the
// re-executed run has none.
type Divergence struct {
	Block   uint64
	Offset  int64 // file offset of the block's header
	Tick    uint32
	Entry   int
	Journal *trace.Entry
	Replay  *trace.Entry
	What    string // e.g. "entries differ", "the journal ends before this block"
	Ends    bool   // the journal ends here (before or inside the block): it is shorter than the re-executed run
}

func (d *Divergence) Error() string {
	return fmt.Sprintf("diverged at block %d (tick %d, offset %d), entry %d: %s", d.Block, d.Tick, d.Offset, d.Entry, d.What)
}

// Report is the divergence decoded for people, several lines.
func (d *Divergence) Report() string {
	var b bytes.Buffer
	fmt.Fprintf(&b, "divergence: block %d, tick %d, entry %d (offset %d): %s\n", d.Block, d.Tick, d.Entry, d.Offset, d.What)
	fmt.Fprintf(&b, "journal: %s\n", entryText(d.Journal))
	fmt.Fprintf(&b, "replay:  %s\n", entryText(d.Replay))
	return b.String()
}

func entryText(e *trace.Entry) string {
	if e == nil {
		return "(none)"
	}
	s := fmt.Sprintf("tick=%d src=%d dst=%d %s a=%d b=%d", e.Tick, e.Src, e.Dst, trace.KindName(e.Kind), e.A, e.B)
	switch e.Flags {
	case 0:
	case trace.FlagDelayed:
		s += " (delayed)"
	case trace.FlagCopy:
		s += " (duplicate copy)"
	default:
		s += fmt.Sprintf(" flags=%d", e.Flags)
	}
	return s
}

// checked is the journal of a re-executed run: the bytes it writes over
// the existing prefix [start, end) of a journal file are compared with it
// instead of written, and only what lies past end is appended, through
// the writer open returns, called once the whole prefix has matched
// (resume); with open nil (replay) running past end is a divergence. Each
// tick's region is compared at the next Reserve, when the engine has
// filled it.
type checked struct {
	f          io.ReaderAt
	open       func() (*mmap.Writer, error)
	w          *mmap.Writer // nil until open is called
	pos, end   int64
	blocks     uint64 // index of the next block
	pend       []byte // a region over the prefix, waiting to be compared
	pendPos    int64
	pendBlocks uint64
	scratch    []byte
	ahead      []byte // the file's bytes [aheadPos, aheadPos+len(ahead)), read ahead
	aheadPos   int64
	compared   int64 // bytes compared
	err        error
}

func newChecked(f io.ReaderAt, open func() (*mmap.Writer, error), start, end int64, blocks uint64) *checked {
	return &checked{f: f, open: open, pos: start, end: end, blocks: blocks}
}

// begun reports whether the writer is open: the prefix matched, and the
// journal may have changed.
func (c *checked) begun() bool { return c.w != nil }

// begin opens the writer (once).
func (c *checked) begin() error {
	if c.w == nil && c.err == nil {
		c.w, c.err = c.open()
	}
	return c.err
}

// Reserve implements engine.Journal.
func (c *checked) Reserve(n int) ([]byte, error) {
	if err := c.flush(); err != nil {
		return nil, err
	}
	if c.pos >= c.end {
		if c.open == nil {
			c.pend, c.pendPos, c.pendBlocks = c.region(n), c.pos, c.blocks
			c.pos += int64(n)
			return c.pend, nil
		}
		if err := c.begin(); err != nil {
			return nil, err
		}
		c.pos += int64(n)
		return c.w.Reserve(n)
	}
	c.pend, c.pendPos, c.pendBlocks = c.region(n), c.pos, c.blocks
	c.pos += int64(n)
	return c.pend, nil
}

func (c *checked) region(n int) []byte {
	if cap(c.scratch) < n {
		c.scratch = make([]byte, n)
	}
	b := c.scratch[:n]
	clear(b)
	return b
}

// flush compares the pending region with the file and appends its part
// past the prefix.
func (c *checked) flush() error {
	if c.err != nil || c.pend == nil {
		return c.err
	}
	ours, pos := c.pend, c.pendPos
	c.pend = nil
	k := int(max(0, min(int64(len(ours)), c.end-pos)))
	theirs, err := c.read(pos, k)
	if err != nil {
		c.err = fmt.Errorf("journal: %w", err)
		return c.err
	}
	if k < len(ours) && c.open == nil || !bytes.Equal(ours[:k], theirs) {
		c.err = locate(ours, theirs, pos, c.pendBlocks)
		return c.err
	}
	c.compared += int64(k)
	c.blocks = c.pendBlocks + countBlocks(ours)
	if k < len(ours) {
		if err := c.begin(); err != nil {
			return err
		}
		if err := c.w.Write(ours[k:]); err != nil {
			c.err = err
			return err
		}
	}
	return nil
}

// readAhead is how many bytes checked reads from the file at a time: the
// regions it compares come in file order, a tick's worth each (often one
// 64-byte block), so one read serves many ticks.
const readAhead = 1 << 20

// read returns the file's k bytes at pos, from the read-ahead buffer,
// refilled with up to max(k, readAhead) bytes (never past end) when it
// does not hold them. Fewer than k bytes mean the file is shorter.
func (c *checked) read(pos int64, k int) ([]byte, error) {
	if k == 0 {
		return nil, nil
	}
	if pos >= c.aheadPos && pos+int64(k) <= c.aheadPos+int64(len(c.ahead)) {
		off := pos - c.aheadPos
		return c.ahead[off : off+int64(k)], nil
	}
	n := int(max(int64(k), min(readAhead, c.end-pos)))
	if cap(c.ahead) < n {
		c.ahead = make([]byte, n)
	}
	m, err := c.f.ReadAt(c.ahead[:n], pos)
	if err != nil && err != io.EOF {
		c.ahead = c.ahead[:0]
		return nil, err
	}
	c.ahead, c.aheadPos = c.ahead[:m], pos
	return c.ahead[:min(m, k)], nil
}

// Close compares the last region, checks that the run covered the whole
// prefix, opens the writer if the run has not (a run that ends exactly at
// the prefix's end still cuts a torn tail) and closes it. A run stopped
// early (stopped) need not cover the prefix, and opens nothing.
func (c *checked) Close(stopped bool) error {
	err := c.flush()
	if err == nil && c.pos < c.end && !stopped {
		err = c.beyond()
	}
	if err == nil && !stopped && c.open != nil {
		err = c.begin()
	}
	if c.w != nil {
		if werr := c.w.Close(); err == nil {
			err = werr
		}
	}
	return err
}

// beyond reports journal blocks after the end of the re-executed run.
func (c *checked) beyond() error {
	d := &Divergence{Block: c.blocks, Offset: c.pos, What: "the journal goes on after the re-executed run ended"}
	var hb [trace.BlockHeaderSize + trace.EntrySize]byte
	n, _ := c.f.ReadAt(hb[:], c.pos)
	if n == 0 || n >= trace.BlockHeaderSize && allZero(hb[:trace.BlockHeaderSize]) {
		return nil // the unwritten tail of a journal that was not closed
	}
	if n == len(hb) {
		e := trace.DecodeEntry(hb[trace.BlockHeaderSize:])
		d.Journal, d.Tick = &e, e.Tick
	}
	return d
}

func countBlocks(region []byte) uint64 {
	var n uint64
	for off := 0; off+trace.BlockHeaderSize <= len(region); n++ {
		off += trace.BlockSize(trace.HeaderCount(region[off:]))
	}
	return n
}

// locate finds the first difference between ours (a tick's region as the
// engine wrote it, starting at file offset pos with block index first) and
// theirs (the journal's bytes there, possibly fewer).
func locate(ours, theirs []byte, pos int64, first uint64) *Divergence {
	idx := first
	for off := 0; off+trace.BlockHeaderSize <= len(ours); idx++ {
		count := int(trace.HeaderCount(ours[off:]))
		size := trace.BlockSize(uint32(count))
		e0 := trace.DecodeEntry(ours[off+trace.BlockHeaderSize:])
		d := &Divergence{Block: idx, Offset: pos + int64(off), Tick: e0.Tick}
		if len(theirs) < off+trace.BlockHeaderSize || allZero(theirs[off:off+trace.BlockHeaderSize]) {
			d.What, d.Ends = "the journal ends before this block", true
			d.Replay = &e0
			return d
		}
		tc := int(trace.HeaderCount(theirs[off:]))
		for i := 0; i < count; i++ {
			at := off + trace.BlockHeaderSize + i*trace.EntrySize
			o := trace.DecodeEntry(ours[at:])
			if at+trace.EntrySize > len(theirs) {
				d.Entry, d.Replay, d.What, d.Ends = i, &o, "the journal ends inside this block", true
				return d
			}
			if !bytes.Equal(ours[at:at+trace.EntrySize], theirs[at:at+trace.EntrySize]) {
				d.Entry, d.Replay, d.What = i, &o, "entries differ"
				if i < tc {
					t := trace.DecodeEntry(theirs[at:])
					d.Journal = &t
				} else {
					d.What = fmt.Sprintf("the journal's block has %d entries, the replay's %d", tc, count)
				}
				return d
			}
		}
		if !bytes.Equal(ours[off:off+trace.BlockHeaderSize], theirs[off:off+trace.BlockHeaderSize]) {
			d.Entry = count
			d.What = "block headers differ with equal entries (count, index, link or hash)"
			if tc > count && off+trace.BlockHeaderSize+(count+1)*trace.EntrySize <= len(theirs) {
				t := trace.DecodeEntry(theirs[off+trace.BlockHeaderSize+count*trace.EntrySize:])
				d.Journal = &t
				d.What = fmt.Sprintf("the journal's block has %d entries, the replay's %d", tc, count)
			}
			return d
		}
		off += size
	}
	return &Divergence{Block: idx, Offset: pos + int64(len(ours)), What: "regions differ outside any block"}
}

func allZero(b []byte) bool {
	for _, c := range b {
		if c != 0 {
			return false
		}
	}
	return true
}
