//go:build invariants

package mmap

import (
	"path/filepath"
	"strings"
	"testing"
)

// TestInvariantsCatchAReservationNotFilledWithBlocks: under -tags
// invariants a reservation that is not whole, hashed, linked blocks by the
// next call panics (the Journal contract the engine keeps).
func TestInvariantsCatchAReservationNotFilledWithBlocks(t *testing.T) {
	blocks := ticksToBlocks([]int{300, 5000}, 21)
	j := encodeJournal(testParams, blocks)
	for _, c := range []struct {
		name string
		fill func(reg []byte)
		want string
	}{
		{"whole", func(reg []byte) { copy(reg, j.data[j.offs[0]:j.offs[2]]) }, ""},
		{"unfilled", func(reg []byte) {}, "not a whole, hashed block"},
		{"half", func(reg []byte) { copy(reg[:len(reg)/2], j.data[j.offs[0]:]) }, "not a whole, hashed block"},
		{"bad link", func(reg []byte) {
			copy(reg, j.data[j.offs[0]:j.offs[2]])
			reg[16] ^= 1 // block 0's prev link
			rehash(reg, 0)
		}, "prev"},
	} {
		w, err := Create(filepath.Join(t.TempDir(), "j"), testParams, Options{})
		if err != nil {
			t.Fatal(err)
		}
		reg, err := w.Reserve(j.offs[2] - j.offs[0])
		if err != nil {
			t.Fatal(err)
		}
		c.fill(reg)
		got := func() (msg string) {
			defer func() {
				if r := recover(); r != nil {
					msg = r.(string)
				}
			}()
			_, _ = w.Reserve(0)
			return ""
		}()
		w.Abort()
		if c.want == "" && got != "" || c.want != "" && !strings.Contains(got, c.want) {
			t.Errorf("%s: panic %q, want %q", c.name, got, c.want)
		}
	}
}
