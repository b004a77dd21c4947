package mmap

import (
	"bufio"
	"bytes"
	"encoding/binary"
	"errors"
	"io"
	"os"
	"path/filepath"
	"runtime"
	"strings"
	"testing"

	"github.com/cespare/xxhash/v2"
	"github.com/lexbench/lexbench/trace"
)

// testParams has a length that is not a multiple of 8, so the prologue has
// padding.
const testParams = "lexbench/1 workload=test n=9097 seed=1 batch=4096 a=1 b=2"

// splitMix is a SplitMix64 generator for deterministic test content.
type splitMix uint64

func (x *splitMix) next() uint64 {
	*x += 0x9e3779b97f4a7c15
	z := uint64(*x)
	z = (z ^ z>>30) * 0xbf58476d1ce4e5b9
	z = (z ^ z>>27) * 0x94d049bb133111eb
	return z ^ z>>31
}

// ticksToBlocks makes pseudo-random messages for ticks 0, 1, … with the
// given message counts and cuts them into blocks as SPEC §3 does.
func ticksToBlocks(counts []int, seed uint64) [][]trace.Entry {
	x := splitMix(seed)
	var blocks [][]trace.Entry
	for tick, n := range counts {
		for n > 0 {
			c := min(n, trace.BlockEntriesMax)
			es := make([]trace.Entry, c)
			for i := range es {
				v := x.next()
				es[i] = trace.Entry{Tick: uint32(tick), Src: uint32(v), Dst: uint32(v >> 32), Kind: trace.Kind(v % 12), A: x.next(), B: x.next()}
			}
			blocks = append(blocks, es)
			n -= c
		}
	}
	return blocks
}

// testJournal is a journal encoded by the test itself, independently of
// the package and of trace's header and hash helpers.
type testJournal struct {
	data  []byte
	offs  []int    // offs[k]: offset of block k; offs[len(blocks)] = len(data)
	chain []uint64 // chain[k]: trace hash of the first k blocks
}

func encodeJournal(params string, blocks [][]trace.Entry) testJournal {
	var j testJournal
	le := binary.LittleEndian
	d := []byte("LEXJRNL1")
	d = le.AppendUint32(d, 1)
	d = le.AppendUint32(d, 32)
	d = le.AppendUint32(d, 4096)
	d = le.AppendUint32(d, uint32(len(params)))
	d = append(d, make([]byte, 40)...)
	d = append(d, params...)
	for len(d)%8 != 0 {
		d = append(d, 0)
	}
	prev := xxhash.Sum64String(params)
	j.chain = append(j.chain, prev)
	for k, es := range blocks {
		j.offs = append(j.offs, len(d))
		var body []byte
		for _, e := range es {
			body = le.AppendUint32(body, e.Tick)
			body = le.AppendUint32(body, e.Src)
			body = le.AppendUint32(body, e.Dst)
			body = le.AppendUint16(body, e.Kind)
			body = le.AppendUint16(body, e.Flags)
			body = le.AppendUint64(body, e.A)
			body = le.AppendUint64(body, e.B)
		}
		h := []byte("LXB1")
		h = le.AppendUint32(h, uint32(len(es)))
		h = le.AppendUint64(h, uint64(k))
		h = le.AppendUint64(h, prev)
		prev = xxhash.Sum64(le.AppendUint64(h[:24:24], xxhash.Sum64(body)))
		h = le.AppendUint64(h, prev)
		d = append(append(d, h...), body...)
		j.chain = append(j.chain, prev)
	}
	j.offs = append(j.offs, len(d))
	j.data = d
	return j
}

// rehash recomputes the hash field of the block at off from its header and
// the entries its count says it has.
func rehash(d []byte, off int) {
	count := int(binary.LittleEndian.Uint32(d[off+4:]))
	content := xxhash.Sum64(d[off+32 : off+32+32*count])
	h := binary.LittleEndian.AppendUint64(append([]byte(nil), d[off:off+24]...), content)
	binary.LittleEndian.PutUint64(d[off+24:], xxhash.Sum64(h))
}

// testBuf is the read buffer of verifyBytes, reused: allocating 1 MiB per
// call would dominate the damage tests.
var testBuf = bufio.NewReaderSize(nil, readBufBytes)

// verifyBytes verifies a journal held in memory.
func verifyBytes(b []byte) (Summary, error) {
	testBuf.Reset(bytes.NewReader(b))
	r, err := newReader(testBuf, "mem")
	if err != nil {
		return Summary{}, err
	}
	return verify(r)
}

// wantSummary is the summary of the first k blocks of j.
func (j testJournal) wantSummary(blocks [][]trace.Entry, k int) Summary {
	s := Summary{Params: testParams, Trace: j.chain[k], Blocks: uint64(k), Size: int64(j.offs[k])}
	if k == 0 {
		s.Size = int64(trace.PrologueSize(len(testParams)))
	}
	for _, es := range blocks[:k] {
		s.Entries += uint64(len(es))
		s.LastTick = es[0].Tick
	}
	return s
}

// blockAt is the index of the block holding file offset off.
func (j testJournal) blockAt(off int) int {
	k := 0
	for i, o := range j.offs[:len(j.offs)-1] {
		if off >= o {
			k = i
		}
	}
	return k
}

// checkWindow asserts the mapped window's bound after a reservation: the
// window size, or the largest reservation so far (maxN) and two pages.
func checkWindow(t *testing.T, w *Writer, maxN int) {
	t.Helper()
	if limit := max(w.windowBytes, int64(maxN)+2*pageSize); int64(len(w.win)) > limit {
		t.Fatalf("window of %d bytes with reservations up to %d (window size %d)", len(w.win), maxN, w.windowBytes)
	}
}

var testTicks = []int{5000, 1, 4096} // blocks: 4096+904, 1, 4096

func TestWriterWritesTheCanonicalJournal(t *testing.T) {
	blocks := ticksToBlocks(testTicks, 1)
	if len(blocks) != 4 {
		t.Fatalf("%d blocks, want 4", len(blocks))
	}
	j := encodeJournal(testParams, blocks)
	path := filepath.Join(t.TempDir(), "j")
	w, err := Create(path, testParams, Options{WindowBytes: 64 << 10})
	if err != nil {
		t.Fatal(err)
	}
	w.inv.raw = true // writes of parts of blocks
	if w.Size() != int64(j.offs[0]) {
		t.Fatalf("size after Create %d, want %d", w.Size(), j.offs[0])
	}
	windows := map[int64]bool{}
	// tick 0: one reservation larger than the window
	n := j.offs[2] - j.offs[0]
	reg, err := w.Reserve(n)
	if err != nil {
		t.Fatal(err)
	}
	if len(reg) != n || cap(reg) != n {
		t.Fatalf("Reserve(%d) gave len %d cap %d", n, len(reg), cap(reg))
	}
	checkWindow(t, w, n)
	copy(reg, j.data[j.offs[0]:j.offs[2]])
	windows[w.winOff] = true
	// tick 1: header, an empty reservation, the entry
	for _, p := range [][]byte{j.data[j.offs[2] : j.offs[2]+32], nil, j.data[j.offs[2]+32 : j.offs[3]]} {
		if err := w.Write(p); err != nil {
			t.Fatal(err)
		}
		checkWindow(t, w, n)
		windows[w.winOff] = true
	}
	// tick 2: odd-sized pieces, so the window slides in the middle of the block
	for p := j.offs[3]; p < len(j.data); p += 999 {
		q := min(p+999, len(j.data))
		if err := w.Write(j.data[p:q]); err != nil {
			t.Fatal(err)
		}
		checkWindow(t, w, n)
		windows[w.winOff] = true
	}
	if w.Size() != int64(len(j.data)) {
		t.Fatalf("size %d, want %d", w.Size(), len(j.data))
	}
	if len(windows) < 4 {
		t.Fatalf("the window was mapped at %d offsets, want it to slide (≥ 4)", len(windows))
	}
	if err := w.Close(); err != nil {
		t.Fatal(err)
	}
	got, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(got, j.data) {
		t.Fatalf("file differs from the canonical journal (%d bytes, want %d)", len(got), len(j.data))
	}
	s, err := Verify(path)
	want := j.wantSummary(blocks, 4)
	if err != nil || s != want {
		t.Fatalf("Verify: %+v, %v\nwant %+v", s, err, want)
	}
	if want.Entries != 9097 || want.LastTick != 2 {
		t.Fatalf("test journal has %d entries, last tick %d", want.Entries, want.LastTick)
	}
}

func TestReaderReturnsEachBlock(t *testing.T) {
	blocks := ticksToBlocks(testTicks, 2)
	j := encodeJournal(testParams, blocks)
	path := filepath.Join(t.TempDir(), "j")
	if err := os.WriteFile(path, j.data, 0o644); err != nil {
		t.Fatal(err)
	}
	r, err := Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer r.Close()
	if r.Params() != testParams {
		t.Fatalf("params %q", r.Params())
	}
	for k := range blocks {
		if r.Offset() != int64(j.offs[k]) {
			t.Fatalf("offset before block %d: %d, want %d", k, r.Offset(), j.offs[k])
		}
		h, body, err := r.Next()
		if err != nil {
			t.Fatal(err)
		}
		if h.Index != uint64(k) || h.Count != uint32(len(blocks[k])) || h.Prev != j.chain[k] || h.Hash != j.chain[k+1] {
			t.Fatalf("block %d: header %+v", k, h)
		}
		if !bytes.Equal(body, j.data[j.offs[k]+32:j.offs[k+1]]) {
			t.Fatalf("block %d: entry bytes differ", k)
		}
		if e := trace.DecodeEntry(body[len(body)-32:]); e != blocks[k][len(blocks[k])-1] {
			t.Fatalf("block %d: last entry %+v, want %+v", k, e, blocks[k][len(blocks[k])-1])
		}
	}
	for range 2 {
		if _, _, err := r.Next(); err != io.EOF {
			t.Fatalf("after the last block: %v, want io.EOF", err)
		}
	}
	if r.Summary() != j.wantSummary(blocks, len(blocks)) {
		t.Fatalf("summary %+v", r.Summary())
	}
}

func TestSyncNoneWritesTheSameBytes(t *testing.T) {
	blocks := ticksToBlocks(testTicks, 3)
	j := encodeJournal(testParams, blocks)
	path := filepath.Join(t.TempDir(), "j")
	w, err := Create(path, testParams, Options{Sync: SyncNone})
	if err != nil {
		t.Fatal(err)
	}
	if err := w.Write(j.data[j.offs[0]:]); err != nil {
		t.Fatal(err)
	}
	if err := w.Close(); err != nil {
		t.Fatal(err)
	}
	if got, _ := os.ReadFile(path); !bytes.Equal(got, j.data) {
		t.Fatal("SyncNone journal differs")
	}
}

// TestWriterOverManySeeds writes random journals with random windows and
// random piece sizes and checks the file and its verification.
func TestWriterOverManySeeds(t *testing.T) {
	dir := t.TempDir()
	for seed := uint64(1); seed <= 20; seed++ {
		x := splitMix(seed * 1000)
		counts := make([]int, 1+x.next()%6)
		for i := range counts {
			counts[i] = int(x.next() % 9000) // 0: a tick without messages
		}
		blocks := ticksToBlocks(counts, seed)
		j := encodeJournal(testParams, blocks)
		window := []int{4096, 8192, 64 << 10, 1 << 20}[x.next()%4]
		path := filepath.Join(dir, "j")
		w, err := Create(path, testParams, Options{WindowBytes: window, Sync: SyncNone, Overwrite: true})
		if err != nil {
			t.Fatal(err)
		}
		w.inv.raw = true // reservations of any size, not whole blocks
		maxN := 0
		for p := j.offs[0]; p < len(j.data); {
			q := min(len(j.data), p+1+int(x.next()%70000))
			reg, err := w.Reserve(q - p)
			if err != nil {
				t.Fatal(err)
			}
			maxN = max(maxN, q-p)
			checkWindow(t, w, maxN)
			copy(reg, j.data[p:q])
			p = q
		}
		if err := w.Close(); err != nil {
			t.Fatal(err)
		}
		if got, _ := os.ReadFile(path); !bytes.Equal(got, j.data) {
			t.Fatalf("seed %d (ticks %v, window %d): file differs", seed, counts, window)
		}
		if s, err := Verify(path); err != nil || s != j.wantSummary(blocks, len(blocks)) {
			t.Fatalf("seed %d: Verify %+v, %v", seed, s, err)
		}
	}
}

func TestReserveDoesNotAllocate(t *testing.T) {
	w, err := Create(filepath.Join(t.TempDir(), "j"), testParams, Options{Sync: SyncNone})
	if err != nil {
		t.Fatal(err)
	}
	w.inv.raw = true // reservations left unfilled
	defer w.Close()
	if a := testing.AllocsPerRun(1000, func() {
		if _, err := w.Reserve(64); err != nil {
			t.Fatal(err)
		}
	}); a != 0 {
		t.Fatalf("Reserve allocates %v times per call", a)
	}
}

func TestFlippedBytesAreLocated(t *testing.T) {
	blocks := ticksToBlocks(testTicks, 4)
	j := encodeJournal(testParams, blocks)
	d := j.data
	prologue := j.offs[0]
	plenEnd := trace.FileHeaderSize + len(testParams)
	last := len(blocks) - 1
	var positions []int
	for i := 0; i < len(d); i++ {
		k := j.blockAt(i)
		rel := i - j.offs[k]
		if i < prologue || rel < 32+64 || i >= j.offs[k+1]-64 || rel%37 == 0 {
			positions = append(positions, i)
		}
	}
	checked := 0
	for _, i := range positions {
		for _, mask := range []byte{0x01, 0x20, 0x80} {
			d[i] ^= mask
			s, err := verifyBytes(d)
			d[i] ^= mask
			checked++
			var dmg *Damage
			isDamage := errors.As(err, &dmg)
			switch {
			case err == nil:
				t.Fatalf("flip %#x at %d not detected", mask, i)
			case i >= 20 && i < 24: // params length: misreads the params or the blocks
				if isDamage && dmg.Block != 0 {
					t.Fatalf("flip %#x at %d (params length): %v", mask, i, err)
				}
			case i < trace.FileHeaderSize || i >= plenEnd && i < prologue:
				if isDamage {
					t.Fatalf("flip %#x at %d (file header or padding): %v, want a header error", mask, i, err)
				}
			case i < prologue:
				if !isDamage || dmg.Block != 0 || !strings.HasPrefix(dmg.What, "prev link mismatch") {
					t.Fatalf("flip %#x at %d (params): %v, want a prev link mismatch at block 0", mask, i, err)
				}
			default:
				k := j.blockAt(i)
				if !isDamage || dmg.Block != uint64(k) || dmg.Offset != int64(j.offs[k]) {
					t.Fatalf("flip %#x at %d: %v, want damage at block %d offset %d", mask, i, err, k, j.offs[k])
				}
				countField := i-j.offs[k] >= 4 && i-j.offs[k] < 8
				if dmg.Torn() && !(k == last && countField) {
					t.Fatalf("flip %#x at %d: %v reported as a torn tail", mask, i, err)
				}
				if want := j.wantSummary(blocks, k); s != want {
					t.Fatalf("flip %#x at %d: summary %+v, want %+v", mask, i, s, want)
				}
			}
		}
	}
	if !bytes.Equal(d, encodeJournal(testParams, blocks).data) {
		t.Fatal("test bug: journal not restored")
	}
	t.Logf("%d flips checked", checked)
}

func TestTruncationIsATornTailAtItsBlock(t *testing.T) {
	blocks := ticksToBlocks(testTicks, 5)
	j := encodeJournal(testParams, blocks)
	check := func(size int, s Summary, err error) {
		t.Helper()
		if size < j.offs[0] {
			var d *Damage
			if err == nil || errors.As(err, &d) {
				t.Fatalf("cut at %d (prologue): %v, want a header error", size, err)
			}
			return
		}
		k := j.blockAt(size)
		if size == j.offs[len(blocks)] {
			k = len(blocks)
		}
		if size == j.offs[k] {
			if err != nil || s != j.wantSummary(blocks, k) {
				t.Fatalf("cut at block boundary %d: %+v, %v; want a clean journal of %d blocks", size, s, err, k)
			}
			return
		}
		var d *Damage
		if !errors.As(err, &d) || !d.Torn() || !strings.HasPrefix(d.What, "truncated: ") || d.Block != uint64(k) || d.Offset != int64(j.offs[k]) {
			t.Fatalf("cut at %d: %v, want a torn tail at block %d", size, err, k)
		}
		if s != j.wantSummary(blocks, k) {
			t.Fatalf("cut at %d: summary %+v", size, s)
		}
	}
	n := 0
	for size := 0; size <= len(j.data); size++ {
		k := j.blockAt(size)
		rel := size - j.offs[k]
		if size < j.offs[0] || rel < 100 || size > j.offs[k+1]-100 || rel%53 == 0 {
			s, err := verifyBytes(j.data[:size])
			check(size, s, err)
			n++
		}
	}
	// the same through files
	dir := t.TempDir()
	for _, size := range []int{0, 10, 70, j.offs[0], j.offs[1] - 1, j.offs[1], j.offs[1] + 31, j.offs[3] + 100, len(j.data)} {
		path := filepath.Join(dir, "cut")
		if err := os.WriteFile(path, j.data[:size], 0o644); err != nil {
			t.Fatal(err)
		}
		s, err := Verify(path)
		check(size, s, err)
	}
	t.Logf("%d cuts checked", n)
}

func TestUnclosedJournalEndsInAnUnwrittenTail(t *testing.T) {
	blocks := ticksToBlocks(testTicks, 6)
	j := encodeJournal(testParams, blocks)
	path := filepath.Join(t.TempDir(), "j")
	w, err := Create(path, testParams, Options{WindowBytes: 64 << 10})
	if err != nil {
		t.Fatal(err)
	}
	if err := w.Write(j.data[j.offs[0]:j.offs[3]]); err != nil {
		t.Fatal(err)
	}
	// the file grows in large chunks, not reservation by reservation
	if st, err := os.Stat(path); err != nil || st.Size() < growBytesMin {
		t.Fatalf("open journal's file: %v, %v; want it preallocated to ≥ %d bytes", st.Size(), err, growBytesMin)
	}
	// what a crash now would leave: three blocks, then preallocated zeros
	s, err := Verify(path)
	var d *Damage
	if !errors.As(err, &d) || !d.Torn() || !strings.HasPrefix(d.What, "unwritten tail") || d.Block != 3 || s != j.wantSummary(blocks, 3) {
		t.Fatalf("open journal: %+v, %v; want an unwritten tail at block 3", s, err)
	}
	if err := w.Write(j.data[j.offs[3]:]); err != nil {
		t.Fatal(err)
	}
	if err := w.Close(); err != nil {
		t.Fatal(err)
	}
	if s, err := Verify(path); err != nil || s != j.wantSummary(blocks, 4) {
		t.Fatalf("closed journal: %+v, %v", s, err)
	}
	for _, zeros := range []int{31, 32, 4096} {
		s, err := verifyBytes(append(append([]byte(nil), j.data...), make([]byte, zeros)...))
		if !errors.As(err, &d) || !d.Torn() || d.Block != 4 || s != j.wantSummary(blocks, 4) {
			t.Fatalf("journal + %d zero bytes: %+v, %v; want a torn tail at block 4", zeros, s, err)
		}
	}
}

func TestSemanticChecks(t *testing.T) {
	le := binary.LittleEndian
	mk := func(ticks []uint32, counts []int) [][]trace.Entry {
		var bs [][]trace.Entry
		for i, tick := range ticks {
			b := ticksToBlocks([]int{counts[i]}, uint64(i+10))[0]
			for e := range b {
				b[e].Tick = tick
			}
			bs = append(bs, b)
		}
		return bs
	}
	for _, c := range []struct {
		name   string
		blocks [][]trace.Entry
		mutate func(d []byte, offs []int) // nil: none
		block  uint64                     // of the damage
		want   string                     // "": valid
	}{
		{name: "valid: a full block followed by its tick's rest", blocks: mk([]uint32{1, 1, 3}, []int{4096, 1, 7})},
		{name: "valid: no blocks", blocks: nil},
		{name: "flags field", blocks: mk([]uint32{1, 2}, []int{3, 10}), mutate: func(d []byte, o []int) {
			le.PutUint16(d[o[1]+32+3*32+14:], 1)
			rehash(d, o[1])
		}, block: 1, want: "entry 3: flags field is 1, want 0 (the run has no faults)"},
		{name: "mixed ticks", blocks: mk([]uint32{1, 8}, []int{3, 10}), mutate: func(d []byte, o []int) {
			le.PutUint32(d[o[1]+32+5*32:], 9)
			rehash(d, o[1])
		}, block: 1, want: "entry 5: tick 9 in a block of tick 8"},
		{name: "decreasing ticks", blocks: mk([]uint32{8, 7}, []int{3, 10}), block: 1, want: "tick 7 after tick 8 (ticks must not decrease)"},
		{name: "partial block not last of its tick", blocks: mk([]uint32{8, 8}, []int{4095, 10}), block: 1, want: "block of tick 8 follows a partial block of the same tick"},
		{name: "count 0", blocks: mk([]uint32{1, 2}, []int{3, 10}), mutate: func(d []byte, o []int) {
			le.PutUint32(d[o[1]+4:], 0)
		}, block: 1, want: "count 0 out of range 1..4096"},
		{name: "count 4097", blocks: mk([]uint32{1, 2}, []int{3, 10}), mutate: func(d []byte, o []int) {
			le.PutUint32(d[o[0]+4:], 4097)
		}, block: 0, want: "count 4097 out of range 1..4096"},
		{name: "count too small", blocks: mk([]uint32{1, 2}, []int{3, 10}), mutate: func(d []byte, o []int) {
			le.PutUint32(d[o[0]+4:], 2)
		}, block: 0, want: "hash mismatch"},
		{name: "index", blocks: mk([]uint32{1, 2, 3}, []int{3, 10, 1}), mutate: func(d []byte, o []int) {
			le.PutUint64(d[o[1]+8:], 7)
			rehash(d, o[1])
		}, block: 1, want: "index 7, want 1"},
		{name: "prev link", blocks: mk([]uint32{1, 2, 3}, []int{3, 10, 1}), mutate: func(d []byte, o []int) {
			le.PutUint64(d[o[2]+16:], 12345)
			rehash(d, o[2])
		}, block: 2, want: "prev link mismatch"},
		{name: "blocks swapped", blocks: mk([]uint32{1, 2, 3}, []int{3, 10, 1}), mutate: func(d []byte, o []int) {
			b1 := append([]byte(nil), d[o[1]:o[2]]...)
			copy(d[o[1]:], d[o[2]:o[3]])
			copy(d[o[1]+o[3]-o[2]:], b1)
		}, block: 1, want: "index 2, want 1"},
		{name: "hash", blocks: mk([]uint32{1, 2}, []int{3, 10}), mutate: func(d []byte, o []int) {
			d[o[1]+24] ^= 1
		}, block: 1, want: "hash mismatch"},
		{name: "magic", blocks: mk([]uint32{1, 2}, []int{3, 10}), mutate: func(d []byte, o []int) {
			d[o[1]+3] = '2'
		}, block: 1, want: `bad magic "LXB2"`},
		{name: "garbage after the last block", blocks: mk([]uint32{1}, []int{3}), mutate: func(d []byte, o []int) {
			copy(d[o[1]-40:], bytes.Repeat([]byte{0xff}, 40))
		}, block: 0, want: "hash mismatch"},
	} {
		j := encodeJournal(testParams, c.blocks)
		d := j.data
		if c.mutate != nil {
			c.mutate(d, j.offs)
		}
		s, err := verifyBytes(d)
		if c.want == "" {
			if err != nil || s != j.wantSummary(c.blocks, len(c.blocks)) {
				t.Errorf("%s: %+v, %v; want valid", c.name, s, err)
			}
			continue
		}
		var dmg *Damage
		if !errors.As(err, &dmg) || dmg.Block != c.block || dmg.Offset != int64(j.offs[c.block]) || dmg.Torn() || !strings.HasPrefix(dmg.What, c.want) {
			t.Errorf("%s: %v; want damage at block %d: %s", c.name, err, c.block, c.want)
			continue
		}
		if s != j.wantSummary(c.blocks, int(c.block)) {
			t.Errorf("%s: summary %+v", c.name, s)
		}
	}
}

func TestBadFileHeadersArePlainErrors(t *testing.T) {
	j := encodeJournal(testParams, ticksToBlocks([]int{10}, 7))
	le := binary.LittleEndian
	for _, c := range []struct {
		name string
		mut  func([]byte) []byte
		want string
	}{
		{"magic", func(b []byte) []byte { b[0] = 'X'; return b }, "not a lexbench journal"},
		{"text file", func(b []byte) []byte { return []byte("hello\n") }, "not a lexbench journal"},
		{"version", func(b []byte) []byte { b[8] = 2; return b }, "unsupported version 2"},
		{"entry size", func(b []byte) []byte { b[12] = 16; return b }, "entry size 16"},
		{"block cap", func(b []byte) []byte { le.PutUint32(b[16:], 1024); return b }, "block cap 1024"},
		{"params length 0", func(b []byte) []byte { le.PutUint32(b[20:], 0); return b }, "params length 0 out of range"},
		{"params length huge", func(b []byte) []byte { le.PutUint32(b[20:], 1<<31); return b }, "out of range"},
		{"params length past the end", func(b []byte) []byte { le.PutUint32(b[20:], 60000); return b }, "params truncated"},
		{"reserved", func(b []byte) []byte { b[40] = 1; return b }, "reserved header bytes"},
		{"short", func(b []byte) []byte { return b[:40] }, "truncated"},
		{"empty", func(b []byte) []byte { return b[:0] }, "empty file"},
		{"params cut", func(b []byte) []byte { return b[:70] }, "params truncated"},
		{"padding", func(b []byte) []byte { b[j.offs[0]-1] = 'x'; return b }, "params padding is not zero"},
	} {
		path := filepath.Join(t.TempDir(), "j")
		if err := os.WriteFile(path, c.mut(append([]byte(nil), j.data...)), 0o644); err != nil {
			t.Fatal(err)
		}
		s, err := Verify(path)
		var d *Damage
		if err == nil || errors.As(err, &d) || !strings.Contains(err.Error(), c.want) ||
			!strings.HasPrefix(err.Error(), "journal: ") || strings.Contains(err.Error(), "\n") || s != (Summary{}) {
			t.Errorf("%s: %+v, %v; want a one-line header error containing %q", c.name, s, err, c.want)
		}
	}
	dir := t.TempDir()
	if _, err := Verify(dir); err == nil || !strings.Contains(err.Error(), "not a regular file") {
		t.Errorf("Verify of a directory: %v", err)
	}
	if _, err := Verify(filepath.Join(dir, "missing")); err == nil || !strings.Contains(err.Error(), "missing") {
		t.Errorf("Verify of a missing file: %v", err)
	}
}

func TestCreateRefusesToOverwriteOtherFiles(t *testing.T) {
	dir := t.TempDir()
	for _, content := range []string{"precious data", "LEX", "LEXJRNL"} {
		path := filepath.Join(dir, "notes.txt")
		if err := os.WriteFile(path, []byte(content), 0o600); err != nil {
			t.Fatal(err)
		}
		_, err := Create(path, testParams, Options{})
		if err == nil || !strings.Contains(err.Error(), "refusing to overwrite "+path) || !strings.HasPrefix(err.Error(), "journal: ") {
			t.Fatalf("Create over %q: %v", content, err)
		}
		if b, _ := os.ReadFile(path); string(b) != content {
			t.Fatalf("file changed from %q to %q", content, b)
		}
	}
	sub := filepath.Join(dir, "sub")
	if err := os.Mkdir(sub, 0o700); err != nil {
		t.Fatal(err)
	}
	if _, err := Create(sub, testParams, Options{}); err == nil || !strings.Contains(err.Error(), "not a regular file") {
		t.Fatalf("Create over a directory: %v", err)
	}
	missing := filepath.Join(dir, "no", "such", "j")
	if _, err := Create(missing, testParams, Options{}); err == nil || !strings.HasPrefix(err.Error(), "journal: ") || !strings.Contains(err.Error(), missing) {
		t.Fatalf("Create in a missing directory: %v", err)
	}
	if ents, _ := os.ReadDir(dir); len(ents) != 2 {
		t.Fatalf("files in %s: %v, want notes.txt and sub only", dir, ents)
	}
}

// TestCreateReplacesAnEmptyFileOrAJournal also pins issue 15 #3 at the
// journal's level: a journal that is not empty is replaced only with
// Overwrite; without it Create fails with *ExistsError (saying whether the
// journal was closed) and changes nothing.
func TestCreateReplacesAnEmptyFileOrAJournal(t *testing.T) {
	path := filepath.Join(t.TempDir(), "j")
	if err := os.WriteFile(path, nil, 0o644); err != nil {
		t.Fatal(err)
	}
	for i, ticks := range [][]int{{10}, {9000, 2}, {20}} {
		blocks := ticksToBlocks(ticks, uint64(i))
		j := encodeJournal(testParams, blocks)
		if i > 0 {
			before, _ := os.ReadFile(path)
			_, err := Create(path, testParams, Options{})
			var ee *ExistsError
			if !errors.As(err, &ee) || ee.Path != path || ee.Size != int64(len(before)) || ee.Unclosed {
				t.Fatalf("Create %d over a closed journal without Overwrite: %v", i, err)
			}
			if after, _ := os.ReadFile(path); !bytes.Equal(after, before) {
				t.Fatalf("Create %d changed the journal it refused to replace", i)
			}
		}
		w, err := Create(path, testParams, Options{Overwrite: true})
		if err != nil {
			t.Fatalf("Create %d: %v", i, err)
		}
		if err := w.Write(j.data[j.offs[0]:]); err != nil {
			t.Fatal(err)
		}
		if err := w.Close(); err != nil {
			t.Fatal(err)
		}
		if s, err := Verify(path); err != nil || s != j.wantSummary(blocks, len(blocks)) {
			t.Fatalf("journal %d: %+v, %v", i, s, err)
		}
	}
}

func TestCreateChecksItsArguments(t *testing.T) {
	dir := t.TempDir()
	for _, c := range []struct {
		params string
		opt    Options
		want   string
	}{
		{"", Options{}, "params length 0"},
		{strings.Repeat("x", trace.ParamsLenMax+1), Options{}, "params length 65537"},
		{testParams, Options{WindowBytes: -1}, "window size -1"},
		{testParams, Options{Sync: 7}, "sync mode 7"},
	} {
		if _, err := Create(filepath.Join(dir, "j"), c.params, c.opt); err == nil || !strings.Contains(err.Error(), c.want) {
			t.Errorf("Create(%.20q, %+v): %v, want an error containing %q", c.params, c.opt, err, c.want)
		}
	}
	if ents, _ := os.ReadDir(dir); len(ents) != 0 {
		t.Fatalf("files left: %v", ents)
	}
}

func TestWriterLifecycle(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, "j")
	w, err := Create(path, testParams, Options{WindowBytes: 1})
	if err != nil {
		t.Fatal(err)
	}
	if w.windowBytes != pageSize {
		t.Fatalf("window of 1 byte rounded to %d, want a page", w.windowBytes)
	}
	if _, err := w.Reserve(-1); err == nil {
		t.Fatal("Reserve(-1) succeeded")
	}
	if b, err := w.Reserve(0); err != nil || len(b) != 0 {
		t.Fatalf("Reserve(0): %d bytes, %v", len(b), err)
	}
	if err := w.Close(); err != nil {
		t.Fatal(err)
	}
	if err := w.Close(); err != nil {
		t.Fatalf("second Close: %v", err)
	}
	if _, err := w.Reserve(1); err == nil {
		t.Fatal("Reserve after Close succeeded")
	}
	if err := w.Write([]byte{1}); err == nil {
		t.Fatal("Write after Close succeeded")
	}
	if s, err := Verify(path); err != nil || s.Blocks != 0 || s.Trace != trace.ParamsHash(testParams) {
		t.Fatalf("journal without blocks: %+v, %v", s, err)
	}
	// Abort after Close leaves the closed journal; Abort of an open journal
	// this writer created removes it, and can be repeated
	if err := w.Abort(); err != nil {
		t.Fatal(err)
	}
	if _, err := Verify(path); err != nil {
		t.Fatalf("Abort after Close: %v", err)
	}
	w, err = Create(path, testParams, Options{Overwrite: true})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := w.Reserve(100 << 10); err != nil {
		t.Fatal(err)
	}
	if err := w.Abort(); err != nil {
		t.Fatal(err)
	}
	if err := w.Abort(); err != nil {
		t.Fatalf("second Abort: %v", err)
	}
	if err := w.Close(); err == nil {
		t.Fatal("Close after Abort succeeded")
	}
	if ents, _ := os.ReadDir(dir); len(ents) != 0 {
		t.Fatalf("files left after Abort: %v", ents)
	}
}

func TestParseSync(t *testing.T) {
	if s, err := ParseSync("end"); err != nil || s != SyncEnd {
		t.Fatal("end", s, err)
	}
	if s, err := ParseSync("none"); err != nil || s != SyncNone {
		t.Fatal("none", s, err)
	}
	if _, err := ParseSync("later"); err == nil || !strings.Contains(err.Error(), `"later"`) {
		t.Fatalf("later: %v", err)
	}
	if Sync(0) != SyncEnd {
		t.Fatal("the zero Sync is not SyncEnd")
	}
}

func TestDamageError(t *testing.T) {
	d := &Damage{Block: 812, Offset: 123, What: "prev link mismatch"}
	if got, want := d.Error(), "journal: block 812 at offset 123: prev link mismatch"; got != want {
		t.Fatalf("%q, want %q", got, want)
	}
}

func TestVerifyMemoryDoesNotGrowWithTheJournal(t *testing.T) {
	counts := make([]int, 256) // 256 full blocks: 32 MiB
	for i := range counts {
		counts[i] = trace.BlockEntriesMax
	}
	blocks := ticksToBlocks(counts, 8)
	j := encodeJournal(testParams, blocks)
	path := filepath.Join(t.TempDir(), "j")
	if err := os.WriteFile(path, j.data, 0o644); err != nil {
		t.Fatal(err)
	}
	j.data = nil
	var m0, m1 runtime.MemStats
	runtime.ReadMemStats(&m0)
	s, err := Verify(path)
	runtime.ReadMemStats(&m1)
	if err != nil || s != j.wantSummary(blocks, len(blocks)) {
		t.Fatalf("Verify: %+v, %v", s, err)
	}
	if alloc := m1.TotalAlloc - m0.TotalAlloc; alloc > 2*readBufBytes {
		t.Fatalf("Verify of a %d-byte journal allocated %d bytes", s.Size, alloc)
	}
}

// TestFlagsNeedFaults: entry flags 1 and 2 (SPEC §7) are valid only in a
// journal whose params have faults on; 3 is never valid.
func TestFlagsNeedFaults(t *testing.T) {
	const faultParams = testParams + " drop=0 dup=10 delay=5 maxdelay=8 fseed=1"
	le := binary.LittleEndian
	for _, c := range []struct {
		params string
		flags  uint16
		want   string
	}{
		{faultParams, 1, ""},
		{faultParams, 2, ""},
		{faultParams, 3, "entry 2: flags field is 3, want 0..2"},
		{testParams, 1, "entry 2: flags field is 1, want 0 (the run has no faults)"},
		{testParams + " drop=1 dup=1 delay=1 maxdelay=1", 2, "entry 2: flags field is 2, want 0"},
	} {
		j := encodeJournal(c.params, ticksToBlocks([]int{3, 5}, 7))
		le.PutUint16(j.data[j.offs[1]+32+2*32+14:], c.flags)
		rehash(j.data, j.offs[1])
		_, err := verifyBytes(j.data)
		var dmg *Damage
		if c.want == "" && err != nil || c.want != "" && (!errors.As(err, &dmg) || dmg.Block != 1 || !strings.HasPrefix(dmg.What, c.want)) {
			t.Errorf("params %q, flags %d: %v; want %q", c.params, c.flags, err, c.want)
		}
	}
}
