package trace

import (
	"encoding/binary"
	"fmt"

	"github.com/cespare/xxhash/v2"
)

// BlockSize is the size in bytes of a block of count entries: its header
// and its entries.
func BlockSize(count uint32) int { return BlockHeaderSize + int(count)*EntrySize }

// HeaderCount is the count field of the block header at b[0:32], unchecked
// (a block written by this process, or one DecodeBlockHeader accepted).
func HeaderCount(b []byte) uint32 { return binary.LittleEndian.Uint32(b[4:]) }

// EntryTick is the tick field of the entry encoded at b[0:32].
func EntryTick(b []byte) uint32 { return binary.LittleEndian.Uint32(b[0:]) }

// EntryFlags is the flags field (offset 14) of the entry at b[0:32]: 0, or
// FlagDelayed / FlagCopy in a run with faults (SPEC §7).
func EntryFlags(b []byte) uint16 { return binary.LittleEndian.Uint16(b[14:]) }

// kindNames are the message kinds of SPEC §5 by number.
var kindNames = [...]string{
	KindTick: "Tick", KindTransfer: "Transfer", KindData: "Data", KindWrite: "Write",
	KindSync: "Sync", KindSetGoal: "SetGoal", KindClaim: "Claim", KindGranted: "Granted",
	KindDenied: "Denied", KindPreempted: "Preempted", KindSet: "Set", KindChanged: "Changed",
}

// KindName is the SPEC §5 name of kind k ("Transfer"), or "kind N" for a
// kind SPEC does not name (a program's own kinds).
func KindName(k Kind) string {
	if int(k) < len(kindNames) {
		return kindNames[k]
	}
	return fmt.Sprintf("kind %d", k)
}

// WholeBlock reports whether b starts with a block that is consistent in
// itself: the magic, a count in 1..BlockEntriesMax, all its entries present
// in b, and a hash that matches its header and entries. It does not check
// the prev link or the index against any other block. It returns the
// decoded header and the block's size.
func WholeBlock(b []byte) (BlockHeader, int, bool) {
	if len(b) < BlockHeaderSize {
		return BlockHeader{}, 0, false
	}
	h, ok := DecodeBlockHeader(b)
	if !ok || h.Count < 1 || h.Count > BlockEntriesMax {
		return h, 0, false
	}
	size := BlockSize(h.Count)
	if len(b) < size {
		return h, 0, false
	}
	if BlockHash(h.Count, h.Index, h.Prev, xxhash.Sum64(b[BlockHeaderSize:size])) != h.Hash {
		return h, 0, false
	}
	return h, size, true
}
