// Package mmap writes and reads the lexbench journal (SPEC §3): every
// delivered message of a run, in total order, as 32-byte entries grouped
// into hash-chained blocks.
//
// # File layout
//
// All integers are little-endian. The layout is part of the on-disk format;
// never change it (the version is in the file header).
//
//	file   := header params pad block*
//	header := 64 bytes
//	    0   [8]byte  magic "LEXJRNL1"
//	    8   u32      version = 1
//	    12  u32      entry size = 32
//	    16  u32      block cap = 4096
//	    20  u32      params length P (1..65536)
//	    24  [40]byte zero
//	params := P bytes, the canonical params text (no newline)
//	pad    := zero bytes up to a multiple of 8
//	block  := blockHeader entry{count}
//	blockHeader := 32 bytes
//	    0   [4]byte  magic "LXB1"
//	    4   u32      count, 1..4096
//	    8   u64      index: 0, 1, 2, … in file order
//	    16  u64      prev: hash of the previous block; block 0: xxhash64(params)
//	    24  u64      hash = xxhash64(blockHeader[0:24] ‖ le64(xxhash64(entries)))
//	entry := 32 bytes
//	    0   u32 tick   4 u32 src   8 u32 dst   12 u16 kind   14 u16 reserved = 0
//	    16  u64 a      24 u64 b
//
// A block holds the messages of one tick (a tick with more than 4096
// messages is cut into consecutive full blocks and one last partial block;
// a tick with no messages has no block). The hash covers the block's
// header fields and, through the content hash, every entry byte; prev links
// it to the block before, and block 0 to the params. So the hash of the last
// block — the trace hash — commits to the params and every entry in order,
// and no block can be changed, dropped, reordered or moved to another
// journal without breaking a link. The file holds no wall-clock time.
//
// # Writing
//
// Writer grows the file in large chunks (fallocate, or ftruncate where that
// is unsupported) and maps a sliding window of it (64 MiB by default): the
// engine reserves a whole tick's region, shards copy entries into it while
// hashing them, the serial section writes the headers. A finished window is
// unmapped after asking the kernel to start its writeback
// (sync_file_range), so resident memory stays one window whatever the
// journal's size. Close truncates the file to its exact length and, with
// SyncEnd, msyncs and fsyncs it (and its directory) before returning;
// SyncNone leaves writeback to the kernel: it survives a process crash
// (the page cache holds the data) but not a machine crash.
//
// # Reading and damage
//
// Reader and Verify read sequentially with a bounded buffer and check, for
// each block in order: the header magic, the count range, the index, the
// prev link, that the entries are all present, the hash, then that reserved
// fields are zero, that all entries of a block share one tick, that ticks
// never decrease, and that a partial block is the last of its tick. The
// outcomes are distinct:
//
//   - clean end: the file ends exactly after a block (io.EOF from Next); a
//     journal cut at a block boundary is a valid, shorter journal;
//   - torn tail: the file ends inside a block header or its entries —
//     Damage "truncated: …" at that block (normal after a crash; resume
//     keeps the blocks before it);
//   - corruption: any other failed check — Damage naming the first bad
//     block, its file offset and what is wrong ("prev link mismatch",
//     "hash mismatch", …).
//
// A bad file header is a plain error (not a journal, unsupported version,
// params length out of range). Lengths read from the file are checked
// before anything is allocated for them.
package mmap
