// Package arena stores the fixed-size state of every domain of a run in one
// contiguous, cache-line aligned []uint64, in canonical domain-id order.
//
// A workload lays its domains out back to back (SPEC §4: each domain's
// canonical fields as u64, in domain-id order), so the arena's bytes are
// exactly the input of the state hash, a snapshot is one copy, and comparing
// two configurations is a memory compare. Nothing is allocated after New.
package arena

import (
	"unsafe"

	"github.com/cespare/xxhash/v2"
)

// cacheLineWords is the alignment of the first word (64 bytes).
const cacheLineWords = 8

// Arena is the state of all domains of one run.
type Arena struct {
	words []uint64
}

// New allocates an arena of n zeroed words whose first word starts a cache line.
func New(n int) *Arena {
	if n < 0 {
		panic("arena: negative size")
	}
	raw := make([]uint64, n+cacheLineWords)
	skip := 0
	for uintptr(unsafe.Pointer(&raw[skip]))%(cacheLineWords*8) != 0 {
		skip++
	}
	return &Arena{words: raw[skip : skip+n : skip+n]}
}

// Words is the arena's storage; workloads index it directly.
func (a *Arena) Words() []uint64 { return a.words }

// Len is the number of words.
func (a *Arena) Len() int { return len(a.words) }

// Bytes is the canonical little-endian encoding of the words.
func (a *Arena) Bytes(scratch *[]byte) []byte { return WordBytes(a.words, scratch) }

// Hash is the SPEC §4 state hash: xxhash64 of all words as u64 little-endian.
func (a *Arena) Hash() uint64 {
	var scratch []byte
	return xxhash.Sum64(a.Bytes(&scratch))
}

var littleEndian = func() bool {
	x := uint16(1)
	return *(*byte)(unsafe.Pointer(&x)) == 1
}()

// WordBytes views ws as little-endian bytes (encoding into scratch on a
// big-endian machine).
func WordBytes(ws []uint64, scratch *[]byte) []byte {
	if len(ws) == 0 {
		return nil
	}
	if littleEndian {
		return unsafe.Slice((*byte)(unsafe.Pointer(&ws[0])), len(ws)*8)
	}
	b := (*scratch)[:0]
	for _, w := range ws {
		b = append(b, byte(w), byte(w>>8), byte(w>>16), byte(w>>24), byte(w>>32), byte(w>>40), byte(w>>48), byte(w>>56))
	}
	*scratch = b
	return b
}
