package mmap

import (
	"fmt"

	"github.com/lexbench/lexbench/trace"
)

// invariantState is what the -tags invariants checks of a Writer remember:
// how far the journal was checked and the chain of its blocks so far.
type invariantState struct {
	checked   int64 // the bytes before this offset were checked
	prologue  bool  // the prologue (file header, params) was seen
	appending bool  // an Append writer: the chain before the first block is unknown
	raw       bool  // tests of the writer as a byte appender: no block checks
	known     bool  // prev and index are known
	prev      uint64
	index     uint64
}

// checkFilled is the write-side twin of the Reader's checks, run under
// -tags invariants before every Reserve, Write and Close: the bytes the
// writer handed out since the last check must by now be whole blocks
// (the Journal contract: a tick's reservation is filled before the next
// call), each with its magic, a count in range, the index after the last
// block's, the prev link to it and a hash that matches its content. The
// first reservation of a new journal is its prologue, checked with
// trace.DecodeFileHeader. A failure panics: it is a bug in the engine or
// the writer, never bad input.
func (w *Writer) checkFilled() {
	s := &w.inv
	if w.closed || s.raw || w.size == s.checked {
		return
	}
	b, err := w.readBack(s.checked, w.size)
	if err != nil {
		panic(fmt.Sprintf("journal invariant: reading back [%d, %d): %v", s.checked, w.size, err))
	}
	if !s.prologue && !s.appending {
		n, err := trace.DecodeFileHeader(b)
		if err != nil {
			panic(fmt.Sprintf("journal invariant: prologue: %v", err))
		}
		p := trace.PrologueSize(n)
		if p > len(b) {
			return // not written whole yet (the prologue is one Write)
		}
		s.prologue, s.known, s.prev = true, true, trace.ParamsHash(string(b[trace.FileHeaderSize:trace.FileHeaderSize+n]))
		b = b[p:]
		s.checked += int64(p)
	}
	for len(b) > 0 {
		h, size, ok := trace.WholeBlock(b)
		if !ok {
			panic(fmt.Sprintf("journal invariant: the bytes at offset %d are not a whole, hashed block before the next call (magic %q, count %d, %d bytes left)",
				s.checked, b[:min(4, len(b))], h.Count, len(b)))
		}
		if s.known && (h.Index != s.index || h.Prev != s.prev) {
			panic(fmt.Sprintf("journal invariant: block at offset %d has index %d and prev %016x, want %d and %016x",
				s.checked, h.Index, h.Prev, s.index, s.prev))
		}
		s.known, s.index, s.prev = true, h.Index+1, h.Hash
		b = b[size:]
		s.checked += int64(size)
	}
}

// readBack returns the journal's bytes [from, to): from the window where
// it holds them, else from the file.
func (w *Writer) readBack(from, to int64) ([]byte, error) {
	b := make([]byte, to-from)
	n := int64(0)
	if w.win != nil && from < w.winOff+int64(len(w.win)) && to > w.winOff {
		lo := max(from, w.winOff)
		hi := min(to, w.winOff+int64(len(w.win)))
		copy(b[lo-from:], w.win[lo-w.winOff:hi-w.winOff])
		if lo > from {
			if _, err := w.f.ReadAt(b[:lo-from], from); err != nil {
				return nil, err
			}
		}
		n = hi - from
	}
	if from+n < to {
		if _, err := w.f.ReadAt(b[n:], from+n); err != nil {
			return nil, err
		}
	}
	return b, nil
}
