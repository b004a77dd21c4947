// Package mmap writes and reads the lexbench journal (SPEC §3): every
// delivered message of a run, in ≺ order, as 32-byte entries grouped into
// hash-chained blocks. It owns the journal's file I/O; the byte layout,
// the hashes and their accessors live in package trace, the format's one
// home (docs/journal.md describes it for readers of the files).
//
// # Writing
//
// Create makes a new journal as a new file beside the path, locks it,
// writes the file header and params, lets the caller record the run
// (Options.Prepare: the run file, package runfile) and only then renames
// it over the path: a set-up that fails leaves whatever was at the path as
// it was. An existing journal is replaced only with Options.Overwrite
// (--force), else *ExistsError says whether it was closed; any other
// file is never replaced. Reserve hands out the bytes of a whole tick (its
// block headers and entries), which the engine fills in place. The file
// grows in large chunks with fallocate, so a full disk is an error from
// Reserve rather than a fault on a mapped page, and is written through a
// mapped window (64 MiB by default) that slides forward: a finished window
// gets its writeback started (sync_file_range) and is unmapped, so
// resident memory stays about one window whatever the journal's size.
// Where fallocate is unsupported the writer maps nothing: it writes through
// a buffer with pwrite (a mapping of a sparse, ftruncate-grown file would
// turn a full disk into SIGBUS). Close truncates the file to its exact
// length and, with SyncEnd or SyncSnapshot, msyncs and fsyncs it (and its
// directory) before returning; Sync does the same mid-run (the snapshot
// writer calls it before each snapshot under SyncSnapshot). SyncNone
// leaves writeback to the kernel: the journal survives a process crash
// (the data is in the page cache) but not a machine crash. Locked.Append
// (resume) continues a journal after its valid prefix, cutting off a torn
// tail first.
//
// A journal that was never closed (the process died) still has its
// preallocated tail: zero bytes after the last block the run wrote.
//
// # One writer
//
// A writer holds an exclusive flock(2) on the journal file from Create or
// Lock to Close or Abort; a second writer waits up to 2 s for it, then
// fails with ErrLocked, and readers that need the file unchanged (replay)
// hold a shared lock. The kernel drops the lock when the process dies, so
// a journal left by kill -9 is free to resume (the wait covers lexbench's
// child dying a moment after its supervisor: lock.go). Every run's journal is a new file, so its
// FileID (device, inode, birth time) tells it from the journal of another
// run at the same path.
//
// Under -tags invariants the writer checks, before each Reserve, Write and
// Close, that what it handed out before is by now whole blocks that hash
// and link (the engine.Journal contract): the write-side twin of the
// Reader's checks.
//
// # Reading and damage
//
// Reader and Verify read sequentially through a bounded buffer (1 MiB,
// whatever the file's size). For each block in order they check: the
// magic, the count range, the index, the prev link, that the whole block is
// present, the hash; then that every entry's flags field (offset 14) is 0,
// or 0..2 in a journal whose params have faults on (SPEC §7), that all
// entries share one tick, that ticks do not decrease, and that a block with
// count < 4096 is not followed by another block of the same tick.
// Lengths read from the file are checked before they size anything. The
// outcomes are distinct:
//
//   - clean end: the file ends exactly after a block. Next returns io.EOF
//     and Verify returns no error. A journal cut at a block boundary is a
//     valid, shorter journal; only the trace hash, or the run file's
//     record of how its run closed it (recovery.Verify), tells it apart.
//   - torn tail (errors.Is(err, ErrTornTail)): the file ends inside a
//     block (header or entries), or a block header is all zero (the
//     preallocated tail of a journal that was not closed), or a block's
//     hash fails and its entries hold a run of 64 zero bytes (a page that
//     never reached the disk; no valid block holds such a run, see
//     unwrittenRun) — and no valid block follows. What is "truncated: …",
//     "unwritten tail: …" or "unwritten: …". This is the normal state
//     after a crash; the blocks before it are valid (Summary.Size is where
//     they end).
//   - corruption (errors.Is(err, ErrCorrupt)): any other failed check, and
//     torn-looking damage with a whole, self-consistent block after it
//     (Damage.ValidAfter; the reader scans the rest of the file for one).
//     As pebble's record reader and etcd's WAL do, only damage with
//     nothing valid after it is the end of the log; damage in the middle is
//     never cut off. *Damage names the first bad block, its file offset and
//     what is wrong: "bad magic", "count 0 out of range 1..4096", "index 7,
//     want 5", "prev link mismatch", "hash mismatch", "entry 3: flags
//     field is 1, want 0 (the run has no faults)", "entry 3: flags field
//     is 3, want 0..2", "entry 5: tick 9 in a block of tick 8", "tick 7
//     after tick 8 (ticks must not decrease)", "block of tick 8 follows a
//     partial block of the same tick", "damaged (…), and block 9 at offset
//     … after it is valid".
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
// sync_file_range, flock, statx).
package mmap
