package mmap

import (
	"errors"
	"fmt"
	"io/fs"
	"math"
	"math/rand/v2"
	"os"
	"path/filepath"
	"strconv"
	"syscall"
	"unsafe"

	"github.com/lexbench/lexbench/trace"
)

// Sync says how durable a journal is when Close returns.
type Sync int

// Sync modes.
const (
	SyncEnd      Sync = iota // msync + fsync of the file (and a new file's directory) at Close
	SyncNone                 // leave writeback to the kernel
	SyncSnapshot             // as SyncEnd, and the caller calls Sync before each snapshot
)

// ParseSync parses "end", "none" or "snapshot".
func ParseSync(s string) (Sync, error) {
	switch s {
	case "end":
		return SyncEnd, nil
	case "none":
		return SyncNone, nil
	case "snapshot":
		return SyncSnapshot, nil
	}
	return 0, fmt.Errorf("journal: unknown sync mode %q (want none, snapshot or end)", s)
}

func (s Sync) String() string {
	switch s {
	case SyncEnd:
		return "end"
	case SyncNone:
		return "none"
	case SyncSnapshot:
		return "snapshot"
	}
	return fmt.Sprintf("Sync(%d)", int(s))
}

// Options for Create and Append.
type Options struct {
	Sync        Sync // SyncEnd (the zero value), SyncNone or SyncSnapshot
	WindowBytes int  // size of the mapped window; 0: windowBytesDefault
	// Overwrite lets Create replace an existing journal that is not empty
	// (`--force`); without it Create refuses with *ExistsError.
	Overwrite bool
	// Prepare, if set, is called by Create once the new journal file exists
	// beside path, is locked and holds its header, and before it replaces
	// whatever is at path: the caller records what identifies the run
	// (package runfile) there. An error aborts Create and leaves path as
	// it was.
	Prepare func(id FileID) error
}

const (
	windowBytesDefault = 64 << 20
	// growBytesMin is how much the file grows at least each time it is
	// extended (measured in BENCHMARKS.md: larger chunks did not help).
	growBytesMin = 64 << 20
	// syncFileRangeWrite is SYNC_FILE_RANGE_WRITE: start writeback of the
	// dirty pages in a range without waiting for it.
	syncFileRangeWrite = 2
)

var pageSize = int64(os.Getpagesize())

// fallocate is syscall.Fallocate (a variable for tests of file systems
// without it).
var fallocate = syscall.Fallocate

// Writer appends to a journal through a mapped window that slides forward
// (or, on a file system without fallocate, through a buffer written with
// pwrite: see slide). It is not safe for concurrent calls; the slice
// returned by Reserve may be filled by several goroutines (disjoint parts)
// before the next call. It holds the journal's exclusive lock (flock) from
// Create or Append to Close or Abort.
type Writer struct {
	f           *os.File
	fd          int
	path        string
	sync        Sync
	windowBytes int64
	created     bool // Create made a new file (its directory entry needs an fsync)
	owned       bool // the file at path is this writer's own new file (Abort removes it)
	// buffered: the file system cannot preallocate (no fallocate), so the
	// window is a heap buffer written with pwrite when it slides: a mapping
	// of a sparse file would turn a full disk into SIGBUS.
	buffered bool

	size     int64 // logical end of the journal
	fileSize int64 // allocated length of the file
	win      []byte
	winOff   int64 // file offset of win[0]; win covers [winOff, winOff+len(win))

	inv invariantState // -tags invariants: the blocks written so far

	closed   bool
	closeErr error
}

// Create makes a new journal at path holding the file header and params.
// An existing file at path must be a regular file that is empty or a
// lexbench journal; a journal that is not empty is replaced only with
// opt.Overwrite (else *ExistsError), and never while another process holds
// its lock (ErrLocked). Any other file is refused and left untouched.
//
// The journal is written as a new file beside path (".NAME.new-…"),
// locked, given its header, then opt.Prepare is called, then it is renamed
// over path: until that rename every existing byte at path is as it was,
// and every run's journal is a new file (its FileID binds the run file to
// it). Errors are one line, prefixed "journal: ".
func Create(path, params string, opt Options) (*Writer, error) {
	if len(params) == 0 || len(params) > trace.ParamsLenMax {
		return nil, fmt.Errorf("journal: params length %d out of range 1..%d", len(params), trace.ParamsLenMax)
	}
	window, err := opt.window()
	if err != nil {
		return nil, err
	}
	old, err := claimExisting(path, opt.Overwrite)
	if err != nil {
		return nil, err
	}
	defer old.Release() // after the rename: the old file stays locked until it is replaced
	dir, base := filepath.Split(path)
	if dir == "" {
		dir = "."
	}
	removeStaleNew(dir, base)
	f, err := createNew(dir, "."+base+".new-")
	if err != nil {
		return nil, fmt.Errorf("journal: creating %s: %w", path, unwrapPath(err))
	}
	tmp := f.Name()
	if err := tryLock(f, true); err != nil { // nobody else knows the name yet
		f.Close()
		os.Remove(tmp)
		return nil, fmt.Errorf("journal: %s: %w", tmp, err)
	}
	w := &Writer{f: f, fd: int(f.Fd()), path: tmp, sync: opt.Sync, windowBytes: window, created: true, owned: true}
	fail := func(err error) (*Writer, error) {
		_ = w.Abort()
		return nil, err
	}
	if err := w.Write(trace.AppendFileHeader(nil, params)); err != nil {
		return fail(err)
	}
	id, err := fileID(f)
	if err != nil {
		return fail(fmt.Errorf("journal: %w", err))
	}
	if opt.Prepare != nil {
		if err := opt.Prepare(id); err != nil {
			return fail(err)
		}
	}
	if err := os.Rename(tmp, path); err != nil {
		return fail(fmt.Errorf("journal: %w", err))
	}
	w.path = path
	return w, nil
}

// createNew creates a new file dir/prefix+random, mode 0644 (less the
// umask), as os.CreateTemp does with mode 0600.
func createNew(dir, prefix string) (*os.File, error) {
	for try := 0; ; try++ {
		f, err := os.OpenFile(filepath.Join(dir, prefix+strconv.FormatUint(rand.Uint64(), 36)), os.O_RDWR|os.O_CREATE|os.O_EXCL, 0o644)
		if err == nil || !errors.Is(err, fs.ErrExist) || try == 100 {
			return f, err
		}
	}
}

// removeStaleNew removes the new journal files for base in dir that a
// process which died inside Create left behind (nobody holds their lock).
func removeStaleNew(dir, base string) {
	names, _ := filepath.Glob(filepath.Join(dir, "."+base+".new-*"))
	for _, n := range names {
		f, err := os.Open(n)
		if err != nil {
			continue
		}
		if tryLock(f, true) == nil { // a Create going on holds its file
			os.Remove(n)
		}
		f.Close()
	}
}

// unwrapPath drops the "op path:" of a *fs.PathError when the caller names
// the path itself.
func unwrapPath(err error) error {
	var pe *fs.PathError
	if errors.As(err, &pe) {
		return pe.Err
	}
	return err
}

func (opt Options) window() (int64, error) {
	if opt.Sync != SyncEnd && opt.Sync != SyncNone && opt.Sync != SyncSnapshot {
		return 0, fmt.Errorf("journal: unknown sync mode %d", opt.Sync)
	}
	if opt.WindowBytes < 0 {
		return 0, fmt.Errorf("journal: window size %d is negative", opt.WindowBytes)
	}
	window := int64(opt.WindowBytes)
	if window == 0 {
		window = windowBytesDefault
	}
	return roundUp(window, pageSize), nil
}

// OpenAppend locks the existing journal at path (Lock) and appends after
// its first size bytes (Locked.Append).
func OpenAppend(path string, size int64, opt Options) (*Writer, error) {
	l, err := Lock(path)
	if err != nil {
		return nil, err
	}
	w, err := l.Append(size, opt)
	if err != nil {
		l.Release()
		return nil, err
	}
	return w, nil
}

// Append continues the locked journal after its first size bytes, which
// the caller has verified (Summary.Size of its valid prefix); everything
// after them (a torn tail) is cut off now, before anything is written. The
// Writer takes over the file and its lock (the Locked is spent); after an
// error the Locked is still the caller's to release.
func (l *Locked) Append(size int64, opt Options) (*Writer, error) {
	window, err := opt.window()
	if err != nil {
		return nil, err
	}
	if l.f == nil || !l.excl {
		return nil, fmt.Errorf("journal: %s: append needs the file's exclusive lock", l.path)
	}
	st, err := l.f.Stat()
	if err != nil {
		return nil, fmt.Errorf("journal: %w", err)
	}
	if size < trace.FileHeaderSize || size > st.Size() {
		return nil, fmt.Errorf("journal: %s: append offset %d outside the file (%d bytes)", l.path, size, st.Size())
	}
	if err := l.f.Truncate(size); err != nil {
		return nil, fmt.Errorf("journal: truncating %s: %w", l.path, err)
	}
	w := &Writer{f: l.f, fd: int(l.f.Fd()), path: l.path, sync: opt.Sync, windowBytes: window,
		size: size, fileSize: size}
	w.inv.appending, w.inv.checked = true, size
	l.f = nil
	return w, nil
}

// Sync makes everything appended so far durable (msync of the mapped
// window or pwrite of the buffered one, then fsync of the file). With
// SyncNone it does nothing.
func (w *Writer) Sync() error {
	if w.closed {
		return fmt.Errorf("journal: %s: sync after close", w.path)
	}
	if w.sync == SyncNone {
		return nil
	}
	if err := w.flushWindow(true); err != nil {
		return err
	}
	if err := w.f.Sync(); err != nil {
		return fmt.Errorf("journal: fsync %s: %w", w.path, err)
	}
	if w.created {
		if err := SyncDir(filepath.Dir(w.path)); err != nil {
			return fmt.Errorf("journal: fsync of the directory of %s: %w", w.path, err)
		}
		w.created = false
	}
	return nil
}

// flushWindow writes the used part of the window to the file: pwrite of a
// buffered window; for a mapped one msync if durable (else nothing: the
// pages are the page cache).
func (w *Writer) flushWindow(durable bool) error {
	if w.win == nil {
		return nil
	}
	used := min(int64(len(w.win)), w.size-w.winOff)
	if used <= 0 {
		return nil
	}
	if w.buffered {
		if _, err := w.f.WriteAt(w.win[:used], w.winOff); err != nil {
			return fmt.Errorf("journal: writing %s: %w", w.path, unwrapPath(err))
		}
		w.fileSize = max(w.fileSize, w.winOff+used)
		return nil
	}
	if durable {
		if err := msync(w.win[:used]); err != nil {
			return fmt.Errorf("journal: msync %s: %w", w.path, err)
		}
	}
	return nil
}

// Size is the journal's logical size in bytes so far.
func (w *Writer) Size() int64 { return w.size }

// Reserve returns exactly n writable bytes at the end of the journal and
// moves the end past them. The slice is valid until the next Reserve, Write
// or Close; bytes of it that are not written are zero in the file.
// Under -tags invariants, each Reserve, Write and Close first checks that
// the bytes reserved before are whole blocks that hash and link.
func (w *Writer) Reserve(n int) ([]byte, error) {
	if invariants {
		w.checkFilled()
	}
	lo := w.size - w.winOff
	if n < 0 || w.closed || int64(n) > int64(len(w.win))-lo {
		return w.reserveSlow(n)
	}
	hi := lo + int64(n)
	w.size = w.winOff + hi
	return w.win[lo:hi:hi], nil
}

// reserveSlow checks the arguments and slides the window.
func (w *Writer) reserveSlow(n int) ([]byte, error) {
	switch {
	case w.closed:
		return nil, fmt.Errorf("journal: %s: reserve after close", w.path)
	case n < 0:
		return nil, fmt.Errorf("journal: %s: reserve of %d bytes", w.path, n)
	case int64(n) > math.MaxInt64-pageSize-w.size:
		return nil, fmt.Errorf("journal: %s: reserve of %d bytes overflows", w.path, n)
	}
	start, end := w.size, w.size+int64(n)
	if err := w.slide(start, end); err != nil {
		return nil, err
	}
	w.size = end
	lo := start - w.winOff
	hi := lo + int64(n)
	return w.win[lo:hi:hi], nil
}

// Write appends p.
func (w *Writer) Write(p []byte) error {
	b, err := w.Reserve(len(p))
	if err != nil {
		return err
	}
	copy(b, p)
	return nil
}

// slide retires the current window and sets up one that covers
// [start, end): windowBytes long, or longer if the reservation needs it.
//
// Mapped (the normal case), the window starts at the page of start, and
// the file is grown first with fallocate, so every mapped page has disk
// blocks behind it and a full disk is an error here, never a fault when
// the mapping is written. Where fallocate is unsupported the writer does
// not map a file grown with ftruncate (a sparse file: a write to a page
// with no free disk block would be SIGBUS); it switches to a heap buffer
// that starts at start and is written with pwrite when it slides, so a
// full disk is an error from Reserve, Sync or Close.
func (w *Writer) slide(start, end int64) error {
	if err := w.unmap(); err != nil {
		return err
	}
	off := start / pageSize * pageSize
	if w.buffered {
		off = start
	}
	length := roundUp(max(w.windowBytes, end-off), pageSize)
	if length > math.MaxInt {
		return fmt.Errorf("journal: %s: window of %d bytes", w.path, length)
	}
	if need := off + length; !w.buffered && need > w.fileSize {
		grow := max(need, w.fileSize+growBytesMin)
		err := fallocate(w.fd, 0, w.fileSize, grow-w.fileSize)
		switch {
		case errors.Is(err, syscall.EOPNOTSUPP) || errors.Is(err, syscall.ENOSYS):
			w.buffered, off = true, start
			length = roundUp(max(w.windowBytes, end-off), pageSize)
		case err != nil:
			return fmt.Errorf("journal: growing %s to %d bytes: %w", w.path, grow, err)
		default:
			w.fileSize = grow
		}
	}
	if w.buffered {
		if int64(cap(w.win)) >= length {
			w.win = w.win[:length]
			clear(w.win)
		} else {
			w.win = make([]byte, length)
		}
		w.winOff = off
		return nil
	}
	b, err := syscall.Mmap(w.fd, off, int(length), syscall.PROT_READ|syscall.PROT_WRITE, syscall.MAP_SHARED)
	if err != nil {
		return fmt.Errorf("journal: mapping %d bytes of %s: %w", length, w.path, err)
	}
	w.win, w.winOff = b, off
	return nil
}

// unmap retires the window: a buffered one is written to the file; a
// mapped one gets its writeback started and is unmapped.
func (w *Writer) unmap() error {
	if w.win == nil {
		return nil
	}
	if w.buffered {
		err := w.flushWindow(false)
		w.win = w.win[:0]
		return err
	}
	if used := min(int64(len(w.win)), w.size-w.winOff); used > 0 {
		// only a hint: the data is in the page cache either way
		_ = syscall.SyncFileRange(w.fd, w.winOff, used, syncFileRangeWrite)
	}
	err := syscall.Munmap(w.win)
	w.win = nil
	if err != nil {
		return fmt.Errorf("journal: unmapping %s: %w", w.path, err)
	}
	return nil
}

// Close finishes the journal: it retires the window (msync first with
// SyncEnd or SyncSnapshot), truncates the file to its logical size and,
// with SyncEnd or SyncSnapshot, fsyncs it (and the directory of a new
// file); then it closes the file, which releases the lock. Calling it
// again returns the first call's result.
func (w *Writer) Close() error {
	if w.closed {
		return w.closeErr
	}
	if invariants {
		w.checkFilled()
	}
	w.closed = true
	var err error
	keep := func(e error) {
		if err == nil && e != nil {
			err = e
		}
	}
	keep(w.flushWindow(w.sync != SyncNone))
	if w.win != nil && !w.buffered {
		if e := syscall.Munmap(w.win); e != nil {
			keep(fmt.Errorf("journal: unmapping %s: %w", w.path, e))
		}
	}
	w.win = nil
	if e := w.f.Truncate(w.size); e != nil {
		keep(fmt.Errorf("journal: truncating %s: %w", w.path, e))
	}
	if w.sync != SyncNone && err == nil {
		if e := w.f.Sync(); e != nil {
			keep(fmt.Errorf("journal: fsync %s: %w", w.path, e))
		}
		if w.created && err == nil {
			if e := SyncDir(filepath.Dir(w.path)); e != nil {
				keep(fmt.Errorf("journal: fsync of the directory of %s: %w", w.path, e))
			}
		}
	}
	if e := w.f.Close(); e != nil {
		keep(fmt.Errorf("journal: closing %s: %w", w.path, e))
	}
	w.closeErr = err
	return err
}

// Abort closes the journal without syncing. A journal this Writer created
// is removed (if the file at its path is still that one); one it appends
// to (Append) is left as it is on disk. Calling it again does nothing.
func (w *Writer) Abort() error {
	if w.closed {
		return nil
	}
	w.closed = true
	w.closeErr = errors.New("journal: " + w.path + ": aborted")
	if w.win != nil && !w.buffered {
		_ = syscall.Munmap(w.win)
	}
	w.win = nil
	var err error
	if w.owned {
		// remove the path only while it still names this file
		if st, serr := os.Stat(w.path); serr == nil {
			if fst, ferr := w.f.Stat(); ferr == nil && os.SameFile(st, fst) {
				if rerr := os.Remove(w.path); rerr != nil {
					err = fmt.Errorf("journal: %w", rerr)
				}
			}
		}
	}
	w.f.Close()
	return err
}

func msync(b []byte) error {
	_, _, e := syscall.Syscall(syscall.SYS_MSYNC, uintptr(unsafe.Pointer(unsafe.SliceData(b))), uintptr(len(b)), syscall.MS_SYNC)
	if e != 0 {
		return e
	}
	return nil
}

// SyncDir makes the entries of directory dir durable (after a create or a
// rename in it). File systems that cannot fsync a directory (EINVAL) have
// nothing to make durable that way.
func SyncDir(dir string) error {
	d, err := os.Open(dir)
	if err != nil {
		return err
	}
	err = d.Sync()
	d.Close()
	if errors.Is(err, syscall.EINVAL) {
		return nil
	}
	return err
}

func roundUp(x, to int64) int64 { return (x + to - 1) / to * to }
