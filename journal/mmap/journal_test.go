package mmap

import (
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/lexbench/lexbench/trace"
)

const testParams = "lexbench/1 workload=test n=3 seed=1 batch=1 a=1 b=2"

// blockInfo records where a block of the test journal lies.
type blockInfo struct {
	off   int64
	count int
}

// writeTestJournal writes ticks of the given sizes through a Writer with a
// small window, and returns the trace hash computed independently and the
// block layout.
func writeTestJournal(t *testing.T, path string, ticks []int, window int) (uint64, []blockInfo) {
	t.Helper()
	w, err := Create(path, testParams, Options{WindowBytes: window})
	if err != nil {
		t.Fatal(err)
	}
	prev := trace.ParamsHash(testParams)
	var blocks []blockInfo
	off := int64(trace.PrologueSize(len(testParams)))
	x := uint64(7)
	var index uint64
	for tick, n := range ticks {
		nb := (n + trace.BlockEntriesMax - 1) / trace.BlockEntriesMax
		region, err := w.Reserve(nb*trace.BlockHeaderSize + n*trace.EntrySize)
		if err != nil {
			t.Fatal(err)
		}
		for b := 0; b < nb; b++ {
			count := min(trace.BlockEntriesMax, n-b*trace.BlockEntriesMax)
			var body []byte
			for i := 0; i < count; i++ {
				x = x*6364136223846793005 + 1442695040888963407
				e := trace.Entry{Tick: uint32(tick), Src: uint32(x >> 40), Dst: uint32(x >> 20), Kind: uint16(x), A: x, B: ^x}
				body = trace.AppendEntry(body, &e)
			}
			h := trace.BlockHash(uint32(count), index, prev, xxhashSum(body))
			trace.PutBlockHeader(region, trace.BlockHeader{Count: uint32(count), Index: index, Prev: prev, Hash: h})
			copy(region[trace.BlockHeaderSize:], body)
			region = region[trace.BlockHeaderSize+len(body):]
			blocks = append(blocks, blockInfo{off: off, count: count})
			off += int64(trace.BlockHeaderSize + len(body))
			prev = h
			index++
		}
	}
	if w.Size() != off {
		t.Fatalf("writer size %d, want %d", w.Size(), off)
	}
	if err := w.Close(); err != nil {
		t.Fatal(err)
	}
	st, err := os.Stat(path)
	if err != nil || st.Size() != off {
		t.Fatalf("file size %v, want %d (%v)", st, off, err)
	}
	return prev, blocks
}

var testTicks = []int{5000, 1, 4096, 3, 9000}

func TestVerifyAcceptsAndHashesAJournal(t *testing.T) {
	path := filepath.Join(t.TempDir(), "j")
	want, blocks := writeTestJournal(t, path, testTicks, 64<<10) // window < one tick: slides and grows
	s, err := Verify(path)
	if err != nil {
		t.Fatal(err)
	}
	entries := 0
	for _, n := range testTicks {
		entries += n
	}
	if s.Trace != want || s.Blocks != uint64(len(blocks)) || s.Entries != uint64(entries) || s.Params != testParams || s.LastTick != 4 {
		t.Fatalf("summary %+v, want trace %016x blocks %d entries %d", s, want, len(blocks), entries)
	}
}

// blockAt is the index of the block containing file offset off.
func blockAt(blocks []blockInfo, off int64) uint64 {
	for i := len(blocks) - 1; i >= 0; i-- {
		if off >= blocks[i].off {
			return uint64(i)
		}
	}
	return 0
}

func TestEveryFlippedByteIsLocated(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, "j")
	_, blocks := writeTestJournal(t, path, []int{5, 4096, 1, 2, 7}, 0)
	orig, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	bad := filepath.Join(dir, "bad")
	start := blocks[0].off
	for i := 0; i < len(orig); i++ {
		// inside big block 1's entries: a dense sample, not all 131072 bytes
		if i > int(blocks[1].off)+64 && i < int(blocks[2].off)-64 && i%61 != 0 {
			continue
		}
		b := append([]byte(nil), orig...)
		b[i] ^= 0x20
		if err := os.WriteFile(bad, b, 0o644); err != nil {
			t.Fatal(err)
		}
		_, err := Verify(bad)
		if err == nil {
			t.Fatalf("flip at offset %d not detected", i)
		}
		var d *Damage
		if int64(i) < start {
			if errors.As(err, &d) && i >= trace.FileHeaderSize+len(testParams) {
				continue // a flip in the params padding is reported either way
			}
			if errors.As(err, &d) && !strings.Contains(d.What, "prev link") {
				t.Fatalf("flip at %d in the prologue: %v", i, err)
			}
			continue
		}
		if !errors.As(err, &d) {
			t.Fatalf("flip at %d: %v, want *Damage", i, err)
		}
		if want := blockAt(blocks, int64(i)); d.Block != want || d.Offset != blocks[want].off {
			t.Fatalf("flip at %d: damage %v, want block %d at offset %d", i, d, want, blocks[want].off)
		}
	}
}

func TestTruncationIsATornTailAtTheRightBlock(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, "j")
	want, blocks := writeTestJournal(t, path, []int{3, 4100, 2}, 0)
	orig, _ := os.ReadFile(path)
	cut := filepath.Join(dir, "cut")
	for size := int(blocks[0].off); size < len(orig); size++ {
		if size > int(blocks[1].off)+100 && size < int(blocks[2].off)-100 && size%257 != 0 {
			continue
		}
		if err := os.WriteFile(cut, orig[:size], 0o644); err != nil {
			t.Fatal(err)
		}
		s, err := Verify(cut)
		boundary := -1
		for i, b := range blocks {
			if int64(size) == b.off {
				boundary = i
			}
		}
		if boundary >= 0 {
			if err != nil || s.Blocks != uint64(boundary) {
				t.Fatalf("cut at block boundary %d: %+v %v, want a clean journal of %d blocks", size, s, err, boundary)
			}
			continue
		}
		var d *Damage
		if !errors.As(err, &d) || !d.Torn() || d.Block != blockAt(blocks, int64(size)) || s.Blocks != d.Block {
			t.Fatalf("cut at %d: %+v %v, want torn tail at block %d", size, s, err, blockAt(blocks, int64(size)))
		}
	}
	if s, err := Verify(path); err != nil || s.Trace != want {
		t.Fatal("the uncut journal no longer verifies")
	}
}

func TestCreateRefusesToOverwriteOtherFiles(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, "notes.txt")
	if err := os.WriteFile(path, []byte("precious"), 0o644); err != nil {
		t.Fatal(err)
	}
	if _, err := Create(path, testParams, Options{}); err == nil || !strings.Contains(err.Error(), "refusing") {
		t.Fatalf("Create over a non-journal: %v", err)
	}
	if b, _ := os.ReadFile(path); string(b) != "precious" {
		t.Fatalf("file changed to %q", b)
	}
	if _, err := Create(filepath.Join(dir, "no", "such"), testParams, Options{}); err == nil {
		t.Fatal("Create in a missing directory succeeded")
	}
	if ents, _ := os.ReadDir(dir); len(ents) != 1 {
		t.Fatalf("files left: %v", ents)
	}
	// an existing journal is replaced
	j := filepath.Join(dir, "j")
	writeTestJournal(t, j, []int{10}, 0)
	want, _ := writeTestJournal(t, j, []int{20}, 0)
	if s, err := Verify(j); err != nil || s.Trace != want || s.Entries != 20 {
		t.Fatalf("replaced journal: %+v %v", s, err)
	}
}

func TestBadFileHeaders(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, "j")
	writeTestJournal(t, path, []int{10}, 0)
	orig, _ := os.ReadFile(path)
	for _, c := range []struct {
		name string
		mut  func([]byte) []byte
		want string
	}{
		{"magic", func(b []byte) []byte { b[0] = 'X'; return b }, "not a lexbench journal"},
		{"version", func(b []byte) []byte { b[8] = 2; return b }, "version"},
		{"params length", func(b []byte) []byte { b[22] = 0xff; return b }, "params length"},
		{"short", func(b []byte) []byte { return b[:40] }, "truncated"},
		{"empty", func(b []byte) []byte { return b[:0] }, "empty"},
		{"params cut", func(b []byte) []byte { return b[:70] }, "params truncated"},
	} {
		b := c.mut(append([]byte(nil), orig...))
		os.WriteFile(path, b, 0o644)
		_, err := Verify(path)
		var d *Damage
		if err == nil || errors.As(err, &d) || !strings.Contains(err.Error(), c.want) {
			t.Errorf("%s: %v, want a header error containing %q", c.name, err, c.want)
		}
	}
}
