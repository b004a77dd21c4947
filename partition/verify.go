package partition

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"os"
	"sort"

	"github.com/cespare/xxhash/v2"
	"github.com/lexbench/lexbench/snapshot"
	"github.com/lexbench/lexbench/trace"
)

// SetSummary is what a set of partition journals holds.
type SetSummary struct {
	Params  string
	Program uint64           // xxhash64 of a program run's source text; 0: a native workload
	Opts    snapshot.Options // the run controls
	Cuts    []uint32
	Trace   uint64 // the last block's hash (xxhash64(params) if none)
	Blocks  uint64
	Entries uint64
	Ticks   uint64 // ticks with messages
	End     *End   // the finished run's result (nil: the journals have no end record)
}

type segRef struct {
	tick, base uint64
	count      uint32
	off        int64 // file offset of the entries
	part       int
}

// journalIndex is one partition journal read through: its header chain,
// where its segments are, its end record.
type journalIndex struct {
	hdr   JournalHeader
	path  string
	heads []byte // the header records' blocks, back to back (32 bytes each)
	first uint64 // index of the first block in heads (always 0)
	segs  []segRef
	end   *End
}

func indexJournal(path string) (*journalIndex, error) {
	r, err := OpenJournal(path)
	if err != nil {
		return nil, err
	}
	defer r.Close()
	ix := &journalIndex{hdr: r.Header, path: path}
	buf := make([]byte, 1<<20)
	for {
		off := r.Offset()
		typ, count, a, b, err := r.Next()
		if err == io.EOF {
			break
		}
		if err != nil {
			return nil, err
		}
		if ix.end != nil {
			return nil, fmt.Errorf("journal: %s: a record after the end record", path)
		}
		switch typ {
		case RecSegment:
			if n := len(ix.segs); n > 0 && ix.segs[n-1].tick >= a {
				return nil, fmt.Errorf("journal: %s: tick %d's part after tick %d's", path, a, ix.segs[n-1].tick)
			}
			ix.segs = append(ix.segs, segRef{tick: a, base: b, count: count, off: off + recHeaderSize, part: r.Header.Index})
		case RecHeaders:
			if a != uint64(len(ix.heads)/trace.BlockHeaderSize) {
				return nil, fmt.Errorf("journal: %s: headers from block %d after %d blocks", path, a, len(ix.heads)/trace.BlockHeaderSize)
			}
		}
		for left := count; left > 0; {
			got, err := r.Entries(buf)
			if err != nil {
				return nil, err
			}
			left -= uint32(len(got) / 32)
			switch typ {
			case RecHeaders:
				ix.heads = append(ix.heads, got...)
			case RecEnd:
				ix.end = &End{Blocks: a, Trace: b, State: le64(got[0:]), Ticks: le64(got[8:]), Msgs: le64(got[16:]), Outcome: le64(got[24:])}
			}
		}
	}
	return ix, nil
}

func le64(b []byte) uint64 {
	return uint64(b[0]) | uint64(b[1])<<8 | uint64(b[2])<<16 | uint64(b[3])<<24 | uint64(b[4])<<32 | uint64(b[5])<<40 | uint64(b[6])<<48 | uint64(b[7])<<56
}

// BlockSink receives the canonical blocks of a verified set (to merge it
// into a single-process journal): Reserve as engine.Journal.
type BlockSink interface {
	Reserve(n int) ([]byte, error)
}

// VerifySet checks a set of partition journals (one per partition of a
// run, in any order) as one trace: every journal's records check, their
// header chains are the same bytes and link from xxhash64(params), and
// the partitions' parts of every tick, in partition order, are the
// entries the headers were hashed with (SPEC §3: blocks of at most 4096
// entries of one tick, each a content hash chained into the header). If
// sink is set, the canonical blocks are written to it (a journal equal to
// the single-process run's). The end records, if any, must agree with the
// chain and with each other.
func VerifySet(paths []string, sink BlockSink) (*SetSummary, error) {
	if len(paths) == 0 {
		return nil, errors.New("verify: no partition journals")
	}
	ixs := make([]*journalIndex, len(paths))
	for i, p := range paths {
		ix, err := indexJournal(p)
		if err != nil {
			return nil, err
		}
		ixs[i] = ix
	}
	sort.Slice(ixs, func(a, b int) bool { return ixs[a].hdr.Index < ixs[b].hdr.Index })
	P := ixs[0].hdr.Partitions()
	if len(ixs) != P {
		return nil, fmt.Errorf("verify: the run has %d partitions, %d journals given", P, len(ixs))
	}
	for i, ix := range ixs {
		if ix.hdr.Index != i {
			return nil, fmt.Errorf("verify: no journal of partition %d (two of partition %d?)", i, ix.hdr.Index)
		}
		if err := sameHeader(&ixs[0].hdr, &ix.hdr); err != nil {
			return nil, fmt.Errorf("verify: %s and %s: %w", ixs[0].path, ix.path, err)
		}
		if !bytes.Equal(ix.heads, ixs[0].heads) {
			n := min(len(ix.heads), len(ixs[0].heads)) / trace.BlockHeaderSize
			b := 0
			for b < n && bytes.Equal(ix.heads[b*32:b*32+32], ixs[0].heads[b*32:b*32+32]) {
				b++
			}
			return nil, fmt.Errorf("verify: the header chains of partitions 0 and %d differ at block %d (%d and %d blocks)",
				i, b, len(ixs[0].heads)/32, len(ix.heads)/32)
		}
	}
	params := ixs[0].hdr.Params
	faults := trace.ParamsHaveFaults(params)
	sum := &SetSummary{Params: params, Program: ixs[0].hdr.Program, Opts: ixs[0].hdr.Opts, Cuts: ixs[0].hdr.Cuts, Trace: trace.ParamsHash(params)}
	heads := ixs[0].heads
	var segs []segRef
	for _, ix := range ixs {
		segs = append(segs, ix.segs...)
	}
	sort.Slice(segs, func(a, b int) bool {
		if segs[a].tick != segs[b].tick {
			return segs[a].tick < segs[b].tick
		}
		return segs[a].part < segs[b].part
	})
	files := make([]*os.File, P)
	for i, ix := range ixs {
		f, err := os.Open(ix.path)
		if err != nil {
			return nil, fmt.Errorf("verify: %w", err)
		}
		defer f.Close()
		files[i] = f
	}
	v := &setVerifier{sum: sum, heads: heads, sink: sink, faults: faults, d: xxhash.New()}
	for i := 0; i < len(segs); {
		j := i
		var next uint64
		for ; j < len(segs) && segs[j].tick == segs[i].tick; j++ {
			if segs[j].base != next {
				return nil, fmt.Errorf("verify: tick %d: partition %d's part starts at %d, after %d messages", segs[j].tick, segs[j].part, segs[j].base, next)
			}
			next += uint64(segs[j].count)
		}
		if err := v.tick(segs[i].tick, next, segs[i:j], files); err != nil {
			return nil, err
		}
		sum.Ticks++
		i = j
	}
	if v.block != uint64(len(heads)/trace.BlockHeaderSize) {
		return nil, fmt.Errorf("verify: the chain has %d blocks, the parts make %d", len(heads)/trace.BlockHeaderSize, v.block)
	}
	sum.Blocks = v.block
	for i, ix := range ixs {
		if (ix.end == nil) != (ixs[0].end == nil) || ix.end != nil && *ix.end != *ixs[0].end {
			return nil, fmt.Errorf("verify: the end records of partitions 0 and %d differ", i)
		}
	}
	if e := ixs[0].end; e != nil {
		if e.Trace != sum.Trace || e.Blocks != sum.Blocks {
			return nil, fmt.Errorf("verify: the end record says trace %016x after %d blocks, the chain %016x after %d", e.Trace, e.Blocks, sum.Trace, sum.Blocks)
		}
		sum.End = e
	}
	return sum, nil
}

// setVerifier walks a set's ticks block by block.
type setVerifier struct {
	sum    *SetSummary
	heads  []byte
	sink   BlockSink
	faults bool
	d      *xxhash.Digest
	block  uint64
	buf    []byte
	region []byte // the sink's space for the current block
}

// tick checks tick t's n messages, held by the parts segs in order.
func (v *setVerifier) tick(t, n uint64, segs []segRef, files []*os.File) error {
	const B = trace.BlockEntriesMax
	if cap(v.buf) < 32*B {
		v.buf = make([]byte, 32*B)
	}
	si, off := 0, uint64(0) // the part being read and how far
	for done := uint64(0); done < n; {
		count := min(B, n-done)
		if v.block >= uint64(len(v.heads)/trace.BlockHeaderSize) {
			return fmt.Errorf("verify: tick %d: block %d has no header", t, v.block)
		}
		h, ok := trace.DecodeBlockHeader(v.heads[v.block*32:])
		if !ok || uint64(h.Count) != count || h.Index != v.block || h.Prev != v.sum.Trace {
			return fmt.Errorf("verify: block %d (tick %d): header %+v does not fit %d entries after %016x", v.block, t, h, count, v.sum.Trace)
		}
		if v.sink != nil {
			reg, err := v.sink.Reserve(trace.BlockHeaderSize + int(count)*trace.EntrySize)
			if err != nil {
				return err
			}
			trace.PutBlockHeader(reg, h)
			v.region = reg[trace.BlockHeaderSize:]
		}
		v.d.Reset()
		for left := count; left > 0; {
			s := &segs[si]
			k := min(left, uint64(s.count)-off)
			b := v.buf[:32*k]
			if _, err := files[s.part].ReadAt(b, s.off+32*int64(off)); err != nil {
				return fmt.Errorf("verify: partition %d: %w", s.part, err)
			}
			for i := uint64(0); i < k; i++ {
				e := trace.DecodeEntry(b[32*i:])
				if uint64(e.Tick) != t || e.Flags > trace.FlagsMax || e.Flags != 0 && !v.faults {
					return fmt.Errorf("verify: tick %d, block %d: entry %d of partition %d is not a message of the tick (%+v)", t, v.block, off+i, s.part, e)
				}
			}
			_, _ = v.d.Write(b)
			if v.region != nil {
				v.region = v.region[copy(v.region, b):]
			}
			left -= k
			off += k
			if off == uint64(s.count) {
				si, off = si+1, 0
			}
		}
		if got := trace.BlockHash(h.Count, h.Index, h.Prev, v.d.Sum64()); got != h.Hash {
			return fmt.Errorf("verify: block %d (tick %d): the entries hash to %016x, the header says %016x", v.block, t, got, h.Hash)
		}
		v.sum.Trace = h.Hash
		v.sum.Entries += count
		v.block++
		done += count
	}
	return nil
}
