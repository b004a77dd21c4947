package trace

import (
	"encoding/binary"
	"math/bits"
	"slices"
	"strings"
	"unsafe"

	"github.com/cespare/xxhash/v2"
)

// Sizes and bounds of the canonical format. Part of the on-disk format; never change.
const (
	EntrySize       = 32
	BlockHeaderSize = 32
	BlockEntriesMax = 4096
)

// BlockMagic starts every block header.
var BlockMagic = [4]byte{'L', 'X', 'B', '1'}

// Kind is a message kind (SPEC §5).
type Kind = uint16

// Message kinds of SPEC §5.
const (
	KindTick      Kind = 0
	KindTransfer  Kind = 1
	KindData      Kind = 2
	KindWrite     Kind = 3
	KindSync      Kind = 4
	KindSetGoal   Kind = 5
	KindClaim     Kind = 6
	KindGranted   Kind = 7
	KindDenied    Kind = 8
	KindPreempted Kind = 9
	KindSet       Kind = 10
	KindChanged   Kind = 11
)

// Entry is one delivered message in canonical layout. Its in-memory layout
// equals the on-disk encoding on little-endian machines.
//
// Tick is the tick at which the message is (to be) delivered. Flags is 0
// for every message of a run without faults; with faults (SPEC §7) it is
// FlagDelayed for a message the fault layer delivered late and FlagCopy
// for the late copy of a duplicated message (the on-time original has 0).
type Entry struct {
	Tick  uint32
	Src   uint32
	Dst   uint32
	Kind  Kind
	Flags uint16
	A     uint64
	B     uint64
}

// Flags of an entry (SPEC §3 offset 14, §7). FlagsMax is the largest valid value.
const (
	FlagDelayed uint16 = 1 // delivered late by the fault layer
	FlagCopy    uint16 = 2 // the late copy of a duplicated message
	FlagsMax           = FlagCopy
)

func init() {
	if unsafe.Sizeof(Entry{}) != EntrySize {
		panic("trace: Entry is not 32 bytes")
	}
}

// littleEndian is true when Entry memory equals its canonical encoding.
var littleEndian = func() bool {
	x := uint16(1)
	return *(*byte)(unsafe.Pointer(&x)) == 1
}()

// EntryBytes views entries as their canonical bytes. On a big-endian machine
// it encodes into scratch (grown as needed) and returns that.
func EntryBytes(es []Entry, scratch *[]byte) []byte {
	if len(es) == 0 {
		return nil
	}
	if littleEndian {
		return unsafe.Slice((*byte)(unsafe.Pointer(&es[0])), len(es)*EntrySize)
	}
	b := (*scratch)[:0]
	for i := range es {
		b = AppendEntry(b, &es[i])
	}
	*scratch = b
	return b
}

// AppendEntry appends the canonical encoding of e to dst.
func AppendEntry(dst []byte, e *Entry) []byte {
	dst = binary.LittleEndian.AppendUint32(dst, e.Tick)
	dst = binary.LittleEndian.AppendUint32(dst, e.Src)
	dst = binary.LittleEndian.AppendUint32(dst, e.Dst)
	dst = binary.LittleEndian.AppendUint16(dst, e.Kind)
	dst = binary.LittleEndian.AppendUint16(dst, e.Flags)
	dst = binary.LittleEndian.AppendUint64(dst, e.A)
	dst = binary.LittleEndian.AppendUint64(dst, e.B)
	return dst
}

// DecodeEntries appends the len(raw)/EntrySize entries encoded in raw to
// dst (a copy of the bytes on a little-endian machine).
func DecodeEntries(dst []Entry, raw []byte) []Entry {
	n := len(raw) / EntrySize
	start := len(dst)
	dst = slices.Grow(dst, n)[:start+n]
	if littleEndian && n > 0 {
		copy(unsafe.Slice((*byte)(unsafe.Pointer(&dst[start])), n*EntrySize), raw)
		return dst
	}
	for i := range n {
		dst[start+i] = DecodeEntry(raw[i*EntrySize:])
	}
	return dst
}

// DecodeEntry decodes one canonical entry from b (len ≥ EntrySize).
func DecodeEntry(b []byte) Entry {
	_ = b[EntrySize-1]
	return Entry{
		Tick:  binary.LittleEndian.Uint32(b[0:]),
		Src:   binary.LittleEndian.Uint32(b[4:]),
		Dst:   binary.LittleEndian.Uint32(b[8:]),
		Kind:  binary.LittleEndian.Uint16(b[12:]),
		Flags: binary.LittleEndian.Uint16(b[14:]),
		A:     binary.LittleEndian.Uint64(b[16:]),
		B:     binary.LittleEndian.Uint64(b[24:]),
	}
}

// BlockHeader is a decoded block header.
type BlockHeader struct {
	Count uint32
	Index uint64
	Prev  uint64
	Hash  uint64
}

// PutBlockHeader writes h into b[0:32] with the magic.
func PutBlockHeader(b []byte, h BlockHeader) {
	_ = b[BlockHeaderSize-1]
	copy(b[0:4], BlockMagic[:])
	binary.LittleEndian.PutUint32(b[4:], h.Count)
	binary.LittleEndian.PutUint64(b[8:], h.Index)
	binary.LittleEndian.PutUint64(b[16:], h.Prev)
	binary.LittleEndian.PutUint64(b[24:], h.Hash)
}

// DecodeBlockHeader decodes b[0:32]; ok is false when the magic is wrong.
func DecodeBlockHeader(b []byte) (h BlockHeader, ok bool) {
	_ = b[BlockHeaderSize-1]
	ok = b[0] == BlockMagic[0] && b[1] == BlockMagic[1] && b[2] == BlockMagic[2] && b[3] == BlockMagic[3]
	h.Count = binary.LittleEndian.Uint32(b[4:])
	h.Index = binary.LittleEndian.Uint64(b[8:])
	h.Prev = binary.LittleEndian.Uint64(b[16:])
	h.Hash = binary.LittleEndian.Uint64(b[24:])
	return h, ok
}

// BlockHash is the chained hash of a block: xxhash64(header[0:24] ‖ le64(content)),
// where content is xxhash64 of the block's entry bytes.
//
// The header is 32 bytes, so it is hashed by Sum64Words (the same value as
// xxhash.Sum64 of its bytes, without a buffer or a call into the library).
func BlockHash(count uint32, index, prev, content uint64) uint64 {
	return Sum64Words(blockMagicWord|uint64(count)<<32, index, prev, content)
}

// blockMagicWord is BlockMagic as the low half of a little-endian u64.
const blockMagicWord = uint64('L') | uint64('X')<<8 | uint64('B')<<16 | uint64('1')<<24

// EntryHash is the content hash of a block of one entry: xxhash64 of e's
// 32 canonical bytes (the same value as ContentHash of []Entry{*e}).
func EntryHash(e *Entry) uint64 {
	return Sum64Words(uint64(e.Tick)|uint64(e.Src)<<32,
		uint64(e.Dst)|uint64(e.Kind)<<32|uint64(e.Flags)<<48, e.A, e.B)
}

// xxhash64's primes (github.com/Cyan4973/xxHash, XXH64).
const (
	prime1 uint64 = 11400714785074694791
	prime2 uint64 = 14029467366897019727
	prime3 uint64 = 1609587929392839161
	prime4 uint64 = 9650029242287828579
	// the first and fourth accumulators' seeds: prime1+prime2 and -prime1 (mod 2^64)
	seed1 uint64 = 6983438078262162902
	seed4 uint64 = 7046029288634856825
)

// Sum64Words is xxhash64 (seed 0) of the 32 bytes le64(w0) ‖ le64(w1) ‖
// le64(w2) ‖ le64(w3): XXH64 for an input of exactly one stripe, written
// out (four accumulator rounds, the merge, the length, the avalanche; no
// tail). It equals xxhash.Sum64 of those bytes; tests check it against the
// library, and the engine does at every tick with -tags invariants.
func Sum64Words(w0, w1, w2, w3 uint64) uint64 {
	v1 := round(seed1, w0)
	v2 := round(prime2, w1)
	v3 := round(0, w2)
	v4 := round(seed4, w3)
	h := bits.RotateLeft64(v1, 1) + bits.RotateLeft64(v2, 7) + bits.RotateLeft64(v3, 12) + bits.RotateLeft64(v4, 18)
	h = mergeRound(h, v1)
	h = mergeRound(h, v2)
	h = mergeRound(h, v3)
	h = mergeRound(h, v4)
	h += 32
	h ^= h >> 33
	h *= prime2
	h ^= h >> 29
	h *= prime3
	h ^= h >> 32
	return h
}

func round(acc, input uint64) uint64 {
	acc += input * prime2
	acc = bits.RotateLeft64(acc, 31)
	return acc * prime1
}

func mergeRound(acc, v uint64) uint64 {
	acc ^= round(0, v)
	return acc*prime1 + prime4
}

// ParamsHaveFaults reports whether a params text is that of a run with
// faults on (SPEC §7): it ends with the five fault keys, in order. Only
// such a run's entries may carry nonzero flags.
func ParamsHaveFaults(params string) bool {
	f := strings.Split(params, " ")
	if len(f) < 5 {
		return false
	}
	for i, k := range [5]string{"drop=", "dup=", "delay=", "maxdelay=", "fseed="} {
		if !strings.HasPrefix(f[len(f)-5+i], k) {
			return false
		}
	}
	return true
}

// ParamsHash is the chain's starting link: xxhash64 of the bare params text.
func ParamsHash(params string) uint64 { return xxhash.Sum64String(params) }

// ContentHash is xxhash64 of the canonical bytes of es.
func ContentHash(es []Entry, scratch *[]byte) uint64 {
	return xxhash.Sum64(EntryBytes(es, scratch))
}
