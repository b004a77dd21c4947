package mmap

import (
	"bytes"
	"errors"
	"os"
	"path/filepath"
	"testing"
)

// TestDamageWithValidBlocksAfterItIsCorruption pins issue 15 #7: damage that
// looks like a torn tail (a zero block header, a page of zeros inside a
// block, a block the file seems to end inside because its count grew) is a
// torn tail only with no valid block after it. Anywhere before the last
// block it is corruption (ErrCorrupt, ValidAfter set); the same damage in
// the last block stays a torn tail (ErrTornTail).
func TestDamageWithValidBlocksAfterItIsCorruption(t *testing.T) {
	blocks := ticksToBlocks([]int{5000, 1, 4096, 300, 4096, 7, 9000, 2}, 11)
	j := encodeJournal(testParams, blocks)
	last := len(blocks) - 1
	type damage struct {
		name string
		do   func(b []byte, k int)
	}
	kinds := []damage{
		{"zero header", func(b []byte, k int) { clear(b[j.offs[k] : j.offs[k]+32]) }},
		{"zero page in the entries", func(b []byte, k int) {
			lo := j.offs[k] + 32
			clear(b[lo:min(lo+4096, j.offs[k+1])])
		}},
		{"count grown past the end", func(b []byte, k int) {
			// count 4096 with too few bytes left reads as "truncated"
			// only if the file ends inside the grown block; make it so by
			// cutting the file (the test below cuts after the next block)
			b[j.offs[k]+4], b[j.offs[k]+5] = 0x00, 0x10
		}},
	}
	for k := range blocks {
		for _, dm := range kinds {
			b := append([]byte(nil), j.data...)
			end := len(b)
			if dm.name == "count grown past the end" {
				if blocks[k] != nil && len(blocks[k]) == 4096 {
					continue // already full: the change is not a growth
				}
				// keep exactly one block after k, and make sure the grown
				// block would extend past the end of the file
				if k+2 > len(blocks) || j.offs[k]+32+4096*32 <= j.offs[k+2] {
					continue
				}
				end = j.offs[k+2]
			}
			dm.do(b, k)
			s, err := verifyBytes(b[:end])
			var d *Damage
			if !errors.As(err, &d) || d.Block != uint64(k) || s != j.wantSummary(blocks, k) {
				t.Fatalf("%s at block %d: %+v %v; want damage at block %d", dm.name, k, s, err, k)
			}
			validAfter := k < last && (dm.name != "count grown past the end" || end > j.offs[k+1])
			if validAfter {
				if !errors.Is(err, ErrCorrupt) || errors.Is(err, ErrTornTail) || d.Torn() || d.ValidAfter != 0 && d.ValidAfter <= d.Offset {
					t.Errorf("%s at block %d of %d: %v (torn %v, valid after %d); want corruption with a valid block after it",
						dm.name, k, len(blocks), err, d.Torn(), d.ValidAfter)
				}
			} else if !errors.Is(err, ErrTornTail) || errors.Is(err, ErrCorrupt) || d.ValidAfter != 0 {
				t.Errorf("%s at the last block: %v; want a torn tail", dm.name, err)
			}
		}
	}
	// A closed journal on disk with a zeroed 4 KiB page in the middle (the
	// issue's reproduction): Verify calls it corruption.
	path := filepath.Join(t.TempDir(), "j")
	b := append([]byte(nil), j.data...)
	mid := (j.offs[2] + 4096) / 4096 * 4096
	clear(b[mid : mid+4096])
	if err := os.WriteFile(path, b, 0o644); err != nil {
		t.Fatal(err)
	}
	if _, err := Verify(path); !errors.Is(err, ErrCorrupt) {
		t.Fatalf("zeroed page at %d of a closed journal: %v, want corruption", mid, err)
	}
	// and after the last block, zeros (an unclosed journal's tail) stay torn
	if _, err := verifyBytes(append(append([]byte(nil), j.data...), make([]byte, 3<<20)...)); !errors.Is(err, ErrTornTail) {
		t.Fatalf("unwritten tail of 3 MiB: %v, want a torn tail", err)
	}
	// a valid block far after the damage (beyond one read buffer) is found
	far := append(append([]byte(nil), j.data[:j.offs[1]]...), make([]byte, 3<<20)...)
	far = append(far, j.data[j.offs[2]:j.offs[3]]...)
	if _, err := verifyBytes(far); !errors.Is(err, ErrCorrupt) || !bytes.Contains([]byte(err.Error()), []byte("block 2 at offset")) {
		t.Fatalf("block 2 after 3 MiB of zeros: %v, want corruption naming it", err)
	}
}
