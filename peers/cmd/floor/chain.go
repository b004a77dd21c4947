package main

import (
	"encoding/binary"

	"github.com/cespare/xxhash/v2"
)

const (
	golden    = 0x9E3779B97F4A7C15
	golden2   = 0x3C6EF372FE94F82A // 2*golden mod 2^64
	entrySize = 32
	blockCap  = 4096 // entries per block (SPEC §3)

	kindTick     = 0
	kindTransfer = 1
	kindData     = 2
)

// next is SplitMix64 (SPEC §2).
func next(s *uint64) uint64 {
	*s += golden
	return mix(*s)
}

// mix is SplitMix64's output function of a state word. The hot loops draw
// two values as mix(rng+golden), mix(rng+golden2) and add golden2 to rng:
// the same values as two next calls, but rng stays in a register and the
// two mixes are independent.
func mix(z uint64) uint64 {
	z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9
	z = (z ^ (z >> 27)) * 0x94D049BB133111EB
	return z ^ (z >> 31)
}

// chain is the exact SPEC §3 block chain over one reused 128 KiB block:
// entries are written into buf, a block is cut when it holds 4096 entries
// or its tick ends, and each block costs one xxhash.Sum64 over its entries
// plus one over its 32-byte header.
type chain struct {
	buf   []byte // blockCap*entrySize bytes, reused for every block
	n     int    // entries in the current block
	index uint64 // index of the current block
	prev  uint64 // hash of the previous block; xxhash64(params) before block 0
}

func newChain(params string) *chain {
	return &chain{buf: make([]byte, blockCap*entrySize), prev: xxhash.Sum64String(params)}
}

// room returns the free tail of the current block (cutting it first if it
// is full); the caller fills whole entries from its start and commits them.
func (c *chain) room() []byte {
	if c.n == blockCap {
		c.flush()
	}
	return c.buf[c.n*entrySize:]
}

func (c *chain) commit(entries int) { c.n += entries }

// put appends one entry (used for the Tick messages).
func (c *chain) put(tick, src, dst uint32, kind uint16, a, b uint64) {
	e := (*[entrySize]byte)(c.room())
	putEntry(e, uint64(tick)|uint64(src)<<32, uint64(dst)|uint64(kind)<<32, a, b)
	c.n++
}

// putEntry writes a canonical entry; tickSrc is tick | src<<32 and dstKind
// is dst | kind<<32 (the u16 reserved field is 0), which is the SPEC §3
// layout read as four little-endian u64 words.
func putEntry(e *[entrySize]byte, tickSrc, dstKind, a, b uint64) {
	binary.LittleEndian.PutUint64(e[0:8], tickSrc)
	binary.LittleEndian.PutUint64(e[8:16], dstKind)
	binary.LittleEndian.PutUint64(e[16:24], a)
	binary.LittleEndian.PutUint64(e[24:32], b)
}

// flush cuts the current block, if it has entries: hash = xxhash64(header[0:24]
// ‖ le64(xxhash64(entries))).
func (c *chain) flush() {
	if c.n == 0 {
		return
	}
	var h [32]byte
	copy(h[:4], "LXB1")
	binary.LittleEndian.PutUint32(h[4:8], uint32(c.n))
	binary.LittleEndian.PutUint64(h[8:16], c.index)
	binary.LittleEndian.PutUint64(h[16:24], c.prev)
	binary.LittleEndian.PutUint64(h[24:32], xxhash.Sum64(c.buf[:c.n*entrySize]))
	c.prev = xxhash.Sum64(h[:])
	c.index++
	c.n = 0
}

// stateHash is SPEC §4: xxhash64 of the fields as u64 little-endian.
func stateHash(words []uint64) uint64 {
	b := make([]byte, 8*len(words))
	for i, w := range words {
		binary.LittleEndian.PutUint64(b[8*i:], w)
	}
	return xxhash.Sum64(b)
}
