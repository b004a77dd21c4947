// Package trace is the one home of lexbench's on-disk trace format (SPEC §3):
// the 32-byte entry, the 32-byte block header, the journal file's header and
// params, the xxhash64 chain that links blocks, and accessors for each. The
// engine, the journal writer and reader (journal/mmap), snapshots and
// recovery all encode and decode through it; nothing else reads these bytes
// by offset. docs/journal.md describes the same format for readers of the
// files.
//
// # Journal file
//
// All integers are little-endian. The layout is part of the on-disk format
// and other implementations read it: never change it (the version is in the
// file header). With P the length of the params text and
// pad = (8 - P%8) % 8:
//
//	offset           size    contents
//	0                64      file header
//	64               P       params text (canonical, no newline)
//	64+P             pad     zero bytes, so that blocks start 8-aligned
//	64+P+pad         …       block 0, block 1, … back to back, nothing after
//
//	file header (FileHeaderSize = 64 bytes)
//	    0   [8]byte  magic "LEXJRNL1" (FileMagic)
//	    8   u32      version = 1 (FileVersion)
//	    12  u32      entry size = 32 (EntrySize)
//	    16  u32      block cap = 4096 (BlockEntriesMax)
//	    20  u32      params length P, 1..65536 (ParamsLenMax)
//	    24  [40]byte zero
//
//	block = block header (BlockHeaderSize = 32 bytes) + count entries
//	    0   [4]byte  magic "LXB1" (BlockMagic)
//	    4   u32      count, 1..4096
//	    8   u64      index: 0, 1, 2, … in file order
//	    16  u64      prev: hash of block index-1; for block 0, xxhash64(params)
//	    24  u64      hash = xxhash64(header[0:24] ‖ le64(xxhash64(entry bytes)))
//
//	entry (EntrySize = 32 bytes; an Entry's memory on little-endian machines)
//	    0   u32      tick
//	    4   u32      src
//	    8   u32      dst
//	    12  u16      kind (KindName)
//	    14  u16      flags: 0, or FlagDelayed = 1 / FlagCopy = 2 (faults)
//	    16  u64      a
//	    24  u64      b
//
// For example, the params "lexbench/1 workload=banking n=100000000 seed=1
// batch=4096 banks=1 accounts=2" (P = 76) are followed by 4 zero bytes and
// block 0 starts at offset 144 (PrologueSize); a block of 4096 entries is
// 131104 bytes (BlockSize).
//
// A block holds messages of one tick only. A tick with more than 4096
// messages is cut into full blocks of 4096 and one last partial block; a
// tick with no messages has no block. So across the file ticks never
// decrease, and a block with count < 4096 is the last of its tick.
//
// An entry's tick is the tick the message was delivered at. Its flags are 0
// in every run without faults. In a run with faults on (SPEC §7; its params
// end with the fault keys, ParamsHaveFaults) a message the fault layer
// delivered late has FlagDelayed and the late copy of a duplicated message
// FlagCopy; the on-time original of a duplicate has 0. A reader accepts
// nonzero flags only in a journal whose params have faults on, and none
// above FlagsMax.
//
// # Hashes and the chain
//
// xxhash64 is XXH64 with seed 0 (github.com/cespare/xxhash/v2). A block's
// hash (BlockHash) covers the magic, count, index and prev link of its own
// header and, through the content hash, every byte of its entries. The prev
// link is the hash of the block before, and block 0's is xxhash64 of the
// bare params text (ParamsHash; no padding). The hash of the last block —
// the trace hash, or xxhash64(params) for a journal without blocks —
// therefore commits to the params and every entry in order: no byte can
// change and no block can be dropped, reordered or moved to another journal
// without breaking a link. The file header and the padding are not hashed;
// they are checked field by field (DecodeFileHeader). The file holds no
// wall-clock time, no shard count and no run controls: what identifies a run
// beyond its params is recorded beside the journal (package runfile).
//
// On a little-endian machine an Entry's memory is exactly its canonical
// encoding, so a slice of entries is hashed in place without copying.
package trace
