package mmap

import (
	"errors"
	"fmt"
	"io"
	"io/fs"
	"math"
	"os"
	"path/filepath"
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

// Options for Create.
type Options struct {
	Sync        Sync // SyncEnd (the zero value) or SyncNone
	WindowBytes int  // size of the mapped window; 0: windowBytesDefault
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

// Writer appends to a journal through a mapped window that slides forward.
// It is not safe for concurrent calls; the slice returned by Reserve may be
// filled by several goroutines (disjoint parts) before the next call.
type Writer struct {
	f           *os.File
	fd          int
	path        string
	sync        Sync
	windowBytes int64
	created     bool // Create made a new file (its directory entry needs an fsync)

	size     int64 // logical end of the journal
	fileSize int64 // allocated length of the file
	win      []byte
	winOff   int64 // file offset of win[0]; win covers [winOff, winOff+len(win))

	closed   bool
	closeErr error
}

// Create creates the journal at path and writes its file header and params.
// An existing file at path is replaced only if it is empty or a lexbench
// journal; any other file is left untouched and is an error. Errors are one
// line, prefixed "journal: ".
func Create(path, params string, opt Options) (*Writer, error) {
	if len(params) == 0 || len(params) > trace.ParamsLenMax {
		return nil, fmt.Errorf("journal: params length %d out of range 1..%d", len(params), trace.ParamsLenMax)
	}
	window, err := opt.window()
	if err != nil {
		return nil, err
	}
	f, created, err := openForCreate(path)
	if err != nil {
		return nil, err
	}
	w := &Writer{f: f, fd: int(f.Fd()), path: path, sync: opt.Sync, windowBytes: window, created: created}
	if err := w.Write(trace.AppendFileHeader(nil, params)); err != nil {
		_ = w.Abort()
		return nil, err
	}
	return w, nil
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

// OpenAppend opens the existing journal at path to append after its first
// size bytes, which the caller has verified (Summary.Size of its valid
// prefix); everything after them (a torn tail) is cut off now, before
// anything is written. The file must start with the journal magic.
func OpenAppend(path string, size int64, opt Options) (*Writer, error) {
	window, err := opt.window()
	if err != nil {
		return nil, err
	}
	f, err := os.OpenFile(path, os.O_RDWR, 0)
	if err != nil {
		return nil, fmt.Errorf("journal: %w", err)
	}
	fail := func(err error) (*Writer, error) {
		f.Close()
		return nil, err
	}
	st, err := f.Stat()
	if err != nil {
		return fail(fmt.Errorf("journal: %w", err))
	}
	var magic [len(trace.FileMagic)]byte
	if _, err := io.ReadFull(f, magic[:]); err != nil || magic != trace.FileMagic || !st.Mode().IsRegular() {
		return fail(fmt.Errorf("journal: %s: %w", path, trace.ErrNotJournal))
	}
	if size < trace.FileHeaderSize || size > st.Size() {
		return fail(fmt.Errorf("journal: %s: append offset %d outside the file (%d bytes)", path, size, st.Size()))
	}
	if err := f.Truncate(size); err != nil {
		return fail(fmt.Errorf("journal: truncating %s: %w", path, err))
	}
	return &Writer{f: f, fd: int(f.Fd()), path: path, sync: opt.Sync, windowBytes: window,
		size: size, fileSize: size}, nil
}

// Sync makes everything appended so far durable (msync of the mapped
// window, then fsync of the file). With SyncNone it does nothing.
func (w *Writer) Sync() error {
	if w.closed {
		return fmt.Errorf("journal: %s: sync after close", w.path)
	}
	if w.sync == SyncNone {
		return nil
	}
	if w.win != nil {
		if used := min(int64(len(w.win)), w.size-w.winOff); used > 0 {
			if err := msync(w.win[:used]); err != nil {
				return fmt.Errorf("journal: msync %s: %w", w.path, err)
			}
		}
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

// openForCreate opens path for writing, empty. A new file is created
// exclusively; an existing one must be a regular file that is empty or
// starts with the journal magic, and is truncated only after that check
// (on the same open file, so nothing can swap it in between).
func openForCreate(path string) (f *os.File, created bool, err error) {
	f, err = os.OpenFile(path, os.O_RDWR|os.O_CREATE|os.O_EXCL, 0o644)
	if err == nil {
		return f, true, nil
	}
	if !errors.Is(err, fs.ErrExist) {
		return nil, false, fmt.Errorf("journal: %w", err)
	}
	// Stat before opening: opening a FIFO or device could block or have
	// side effects.
	st, err := os.Stat(path)
	if err != nil {
		return nil, false, fmt.Errorf("journal: %w", err)
	}
	if !st.Mode().IsRegular() {
		return nil, false, fmt.Errorf("journal: refusing to overwrite %s: not a regular file", path)
	}
	f, err = os.OpenFile(path, os.O_RDWR, 0)
	if err != nil {
		return nil, false, fmt.Errorf("journal: %w", err)
	}
	fst, err := f.Stat()
	if err == nil && (!fst.Mode().IsRegular() || !os.SameFile(st, fst)) {
		err = fmt.Errorf("journal: refusing to overwrite %s: it changed while being opened", path)
	}
	if err == nil {
		var magic [len(trace.FileMagic)]byte
		n, rerr := io.ReadFull(f, magic[:])
		switch {
		case n == 0 && rerr == io.EOF:
		case rerr == nil && magic == trace.FileMagic:
		case rerr != nil && rerr != io.ErrUnexpectedEOF:
			err = fmt.Errorf("journal: %w", rerr)
		default:
			err = fmt.Errorf("journal: refusing to overwrite %s: not a lexbench journal", path)
		}
	}
	if err == nil {
		if terr := f.Truncate(0); terr != nil {
			err = fmt.Errorf("journal: %w", terr)
		}
	}
	if err != nil {
		f.Close()
		return nil, false, err
	}
	return f, false, nil
}

// Size is the journal's logical size in bytes so far.
func (w *Writer) Size() int64 { return w.size }

// Reserve returns exactly n writable bytes at the end of the journal and
// moves the end past them. The slice is valid until the next Reserve, Write
// or Close; bytes of it that are not written are zero in the file.
func (w *Writer) Reserve(n int) ([]byte, error) {
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

// slide unmaps the current window and maps one that covers [start, end):
// windowBytes long, or longer if the reservation needs it, starting at the
// page of start. The file is grown first, so every mapped page has disk
// blocks behind it.
func (w *Writer) slide(start, end int64) error {
	if err := w.unmap(); err != nil {
		return err
	}
	off := start / pageSize * pageSize
	length := roundUp(max(w.windowBytes, end-off), pageSize)
	if length > math.MaxInt {
		return fmt.Errorf("journal: %s: window of %d bytes", w.path, length)
	}
	if need := off + length; need > w.fileSize {
		grow := max(need, w.fileSize+growBytesMin)
		if err := allocate(w.f, w.fileSize, grow); err != nil {
			return fmt.Errorf("journal: growing %s to %d bytes: %w", w.path, grow, err)
		}
		w.fileSize = grow
	}
	b, err := syscall.Mmap(w.fd, off, int(length), syscall.PROT_READ|syscall.PROT_WRITE, syscall.MAP_SHARED)
	if err != nil {
		return fmt.Errorf("journal: mapping %d bytes of %s: %w", length, w.path, err)
	}
	w.win, w.winOff = b, off
	return nil
}

// allocate extends f from size from to size to with disk blocks, so that a
// full disk is an error here and not a fault when the mapping is written.
func allocate(f *os.File, from, to int64) error {
	err := syscall.Fallocate(int(f.Fd()), 0, from, to-from)
	if errors.Is(err, syscall.EOPNOTSUPP) || errors.Is(err, syscall.ENOSYS) {
		return f.Truncate(to)
	}
	return err
}

// unmap starts writeback of the finished window and unmaps it.
func (w *Writer) unmap() error {
	if w.win == nil {
		return nil
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

// Close finishes the journal: it unmaps the window, truncates the file to
// its logical size and, with SyncEnd, msyncs and fsyncs it (and the
// directory of a new file). Calling it again returns the first call's
// result.
func (w *Writer) Close() error {
	if w.closed {
		return w.closeErr
	}
	w.closed = true
	var err error
	keep := func(e error, format string) {
		if err == nil && e != nil {
			err = fmt.Errorf(format, w.path, e)
		}
	}
	if w.win != nil {
		if used := min(int64(len(w.win)), w.size-w.winOff); used > 0 && w.sync != SyncNone {
			keep(msync(w.win[:used]), "journal: msync %s: %w")
		}
		keep(syscall.Munmap(w.win), "journal: unmapping %s: %w")
		w.win = nil
	}
	keep(w.f.Truncate(w.size), "journal: truncating %s: %w")
	if w.sync != SyncNone && err == nil {
		keep(w.f.Sync(), "journal: fsync %s: %w")
		if w.created && err == nil {
			keep(SyncDir(filepath.Dir(w.path)), "journal: fsync of the directory of %s: %w")
		}
	}
	keep(w.f.Close(), "journal: closing %s: %w")
	w.closeErr = err
	return err
}

// Abort closes the journal without syncing and removes its file.
func (w *Writer) Abort() error {
	if !w.closed {
		w.closed = true
		w.closeErr = errors.New("journal: " + w.path + ": aborted")
		if w.win != nil {
			_ = syscall.Munmap(w.win)
			w.win = nil
		}
		w.f.Close()
	}
	if err := os.Remove(w.path); err != nil && !errors.Is(err, fs.ErrNotExist) {
		return fmt.Errorf("journal: %w", err)
	}
	return nil
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
