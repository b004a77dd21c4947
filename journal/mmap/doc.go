// Package mmap writes and reads the lexbench journal (SPEC §3): every
// delivered message of a run, in ≺ order, as 32-byte entries grouped into
// hash-chained blocks. It owns the journal's file I/O; the encodings
// themselves live in package trace.
//
// # File layout
//
// All integers are little-endian. The layout is part of the on-disk format;
// never change it (the version is in the file header). With P the length of
// the params text and pad = (8 - P%8) % 8:
//
//	offset           size    contents
//	0                64      file header
//	64               P       params text (canonical, no newline)
//	64+P             pad     zero bytes, so that blocks start 8-aligned
//	64+P+pad         …       block 0, block 1, … back to back, nothing after
//
//	file header (64 bytes)
//	    0   [8]byte  magic "LEXJRNL1"
//	    8   u32      version = 1
//	    12  u32      entry size = 32
//	    16  u32      block cap = 4096
//	    20  u32      params length P, 1..65536
//	    24  [40]byte zero
//
//	block = block header (32 bytes) + count entries (32 bytes each)
//	    0   [4]byte  magic "LXB1"
//	    4   u32      count, 1..4096
//	    8   u64      index: 0, 1, 2, … in file order
//	    16  u64      prev: hash of block index-1; for block 0, xxhash64(params)
//	    24  u64      hash
//
//	entry (32 bytes)
//	    0   u32      tick
//	    4   u32      src
//	    8   u32      dst
//	    12  u16      kind
//	    14  u16      flags: 0; with faults (params ending in the fault keys) 0..2
//	    16  u64      a
//	    24  u64      b
//
// For example, the params "lexbench/1 workload=banking n=100000000 seed=1
// batch=4096 banks=1 accounts=2" (P = 76) are followed by 4 zero bytes and
// block 0 starts at offset 144; a block of 4096 entries is 131104 bytes.
//
// A block holds messages of one tick only. A tick with more than 4096
// messages is cut into full blocks of 4096 and one last partial block; a
// tick with no messages has no block. So across the file ticks never
// decrease, and a block with count < 4096 is the last of its tick.
//
// # Hashes and the chain
//
// xxhash64 is XXH64 with seed 0. A block's hash is
//
//	hash = xxhash64(header[0:24] ‖ le64(xxhash64(entry bytes)))
//
// so it covers the magic, count, index and prev link of its own header and,
// through the content hash, every byte of its entries. The prev link is the
// hash of the block before, and block 0's is xxhash64 of the bare params
// text (no padding). The hash of the last block — the trace hash, or
// xxhash64(params) for a journal without blocks — therefore commits to the
// params and every entry in order: no byte can change and no block can be
// dropped, reordered or moved to another journal without breaking a link.
// The file header and the padding are not hashed; they are checked field by
// field. The file holds no wall-clock time.
//
// # Writing
//
// Create writes the file header and params; Reserve hands out the bytes of
// a whole tick (its block headers and entries), which the engine fills in
// place. The file grows in large chunks with fallocate (ftruncate where that
// is unsupported), so a full disk is an error from Reserve rather than a
// fault on a mapped page, and is written through a mapped window (64 MiB by
// default) that slides forward: a finished window gets its writeback
// started (sync_file_range) and is unmapped, so resident memory stays about
// one window whatever the journal's size. Close truncates the file to its
// exact length and, with SyncEnd or SyncSnapshot, msyncs and fsyncs it
// (and, for a new file, its directory) before returning; Sync does the same
// mid-run (the snapshot writer calls it before each snapshot under
// SyncSnapshot). SyncNone leaves writeback to the kernel: the journal
// survives a process crash (the data is in the page cache) but not a
// machine crash. OpenAppend reopens a journal to continue it after its
// valid prefix (lexbench resume), cutting off a torn tail first.
//
// A journal that was never closed (the process died) still has its
// preallocated tail: zero bytes after the last block the run wrote.
//
// # Reading and damage
//
// Reader and Verify read sequentially through a bounded buffer (1 MiB,
// whatever the file's size). For each block in order they check: the
// magic, the count range, the index, the prev link, that the whole block is
// present, the hash; then that every entry's flags field is 0 (0..2 in a
// journal whose params have faults on, SPEC §7), that
// all entries share one tick, that ticks do not decrease, and that a block
// with count < 4096 is not followed by another block of the same tick.
// Lengths read from the file are checked before they size anything. The
// outcomes are distinct:
//
//   - clean end: the file ends exactly after a block. Next returns io.EOF
//     and Verify returns no error. A journal cut at a block boundary is a
//     valid, shorter journal, and only the trace hash tells it apart.
//   - torn tail: the file ends inside a block (header or entries), or a
//     block header is all zero (the preallocated tail of a journal that was
//     not closed), or a block's hash fails and its entries hold a run of
//     64 zero bytes (a page that never reached the disk before a machine
//     crash; no valid block holds such a run, see unwrittenRun). *Damage
//     with Torn() true and What "truncated: …", "unwritten tail: …" or
//     "unwritten: …". This is the normal state after a crash; the blocks
//     before it are valid (Summary.Size is where they end).
//   - corruption: any other failed check. *Damage naming the first bad
//     block, its file offset and what is wrong: "bad magic", "count 0 out
//     of range 1..4096", "index 7, want 5", "prev link mismatch", "hash
//     mismatch", "entry 3: flags field is 1, want 0 (the run has no faults)", "entry 5: tick 9
//     in a block of tick 8", "tick 7 after tick 8 (ticks must not
//     decrease)", "block of tick 8 follows a partial block of the same
//     tick". A count corrupted upward in the last block reads as a torn
//     tail; everything else in a block is covered by its hash.
//
// A bad file header, params or padding is a plain error, not *Damage ("not
// a lexbench journal (bad magic)", "unsupported version 2", "params length
// 0 out of range", "params padding is not zero", …); a changed params byte
// shows as a prev link mismatch at block 0. A read error is a plain error.
//
// Verify returns the Summary of the valid prefix together with the first
// damage: `lexbench verify` prints the params and the number of valid
// blocks, then the damage as a one-line error
// ("journal: block 812 at offset 106453440: prev link mismatch"), and exits
// 1. On a clean journal it prints the trace hash, blocks and entries.
//
// The Writer and the Reader are Linux-only (mmap, fallocate,
// sync_file_range).
package mmap
