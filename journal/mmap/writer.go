package mmap

import (
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"syscall"

	"github.com/lexbench/lexbench/trace"
)

// Sync says how durable a journal is when Close returns.
type Sync int

// Sync modes.
const (
	SyncEnd  Sync = iota // msync + fsync of the file and its directory at Close
	SyncNone             // leave writeback to the kernel
)

// ParseSync parses "end" or "none".
func ParseSync(s string) (Sync, error) {
	switch s {
	case "end":
		return SyncEnd, nil
	case "none":
		return SyncNone, nil
	}
	return 0, fmt.Errorf("journal: unknown sync mode %q (want end or none)", s)
}

// Options for Create.
type Options struct {
	Sync        Sync
	WindowBytes int // mapped window size; 0: windowBytesDefault
}

const (
	windowBytesDefault = 64 << 20
	growBytesMin       = 64 << 20 // the file grows by at least this much at a time
)

var pageSize = os.Getpagesize()

// Writer appends to a journal through a sliding mapped window.
type Writer struct {
	f        *os.File
	path     string
	opt      Options
	size     int64 // logical end of the journal
	fileSize int64 // allocated length of the file
	win      []byte
	winOff   int64 // file offset of win[0]
	closed   bool
}

// Create creates (or replaces an existing journal at) path and writes the
// file header and params. It refuses to overwrite a file that is not a
// lexbench journal.
func Create(path, params string, opt Options) (*Writer, error) {
	if len(params) == 0 || len(params) > trace.ParamsLenMax {
		return nil, fmt.Errorf("journal: params length %d out of range", len(params))
	}
	if opt.WindowBytes <= 0 {
		opt.WindowBytes = windowBytesDefault
	}
	opt.WindowBytes = (opt.WindowBytes + pageSize - 1) / pageSize * pageSize
	if err := checkReplaceable(path); err != nil {
		return nil, err
	}
	f, err := os.OpenFile(path, os.O_RDWR|os.O_CREATE|os.O_TRUNC, 0o644)
	if err != nil {
		return nil, fmt.Errorf("journal: %w", err)
	}
	w := &Writer{f: f, path: path, opt: opt}
	if err := w.Write(trace.AppendFileHeader(nil, params)); err != nil {
		_ = w.Abort()
		return nil, err
	}
	return w, nil
}

// checkReplaceable refuses to truncate an existing file that is neither
// empty nor a journal.
func checkReplaceable(path string) error {
	f, err := os.Open(path)
	if errors.Is(err, os.ErrNotExist) {
		return nil
	}
	if err != nil {
		return fmt.Errorf("journal: %w", err)
	}
	defer f.Close()
	st, err := f.Stat()
	if err != nil {
		return fmt.Errorf("journal: %w", err)
	}
	if !st.Mode().IsRegular() {
		return fmt.Errorf("journal: %s is not a regular file", path)
	}
	var magic [8]byte
	n, _ := io.ReadFull(f, magic[:])
	if n == 0 || magic == trace.FileMagic {
		return nil
	}
	return fmt.Errorf("journal: refusing to overwrite %s: not a lexbench journal", path)
}

// Size is the journal's logical size in bytes.
func (w *Writer) Size() int64 { return w.size }

// Reserve returns n writable bytes at the end of the journal and moves the
// end past them. The slice is valid until the next Reserve, Write or Close.
func (w *Writer) Reserve(n int) ([]byte, error) {
	if w.closed {
		return nil, errors.New("journal: reserve on a closed journal")
	}
	if n < 0 {
		return nil, fmt.Errorf("journal: negative reservation %d", n)
	}
	start, end := w.size, w.size+int64(n)
	if start < w.winOff || end > w.winOff+int64(len(w.win)) {
		if err := w.slide(start, end); err != nil {
			return nil, err
		}
	}
	w.size = end
	lo := start - w.winOff
	return w.win[lo : lo+int64(n) : lo+int64(n)], nil
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

// slide maps a window covering [start, end), growing the file first.
func (w *Writer) slide(start, end int64) error {
	if err := w.unmap(false); err != nil {
		return err
	}
	off := start / int64(pageSize) * int64(pageSize)
	length := max(int64(w.opt.WindowBytes), end-off)
	length = (length + int64(pageSize) - 1) / int64(pageSize) * int64(pageSize)
	if off+length > w.fileSize {
		grow := max(off+length, w.fileSize+growBytesMin)
		if err := allocate(w.f, w.fileSize, grow); err != nil {
			return fmt.Errorf("journal: growing %s to %d bytes: %w", w.path, grow, err)
		}
		w.fileSize = grow
	}
	b, err := syscall.Mmap(int(w.f.Fd()), off, int(length), syscall.PROT_READ|syscall.PROT_WRITE, syscall.MAP_SHARED)
	if err != nil {
		return fmt.Errorf("journal: mapping %s: %w", w.path, err)
	}
	w.win, w.winOff = b, off
	return nil
}

// allocate extends f from size from to size to with real blocks, so that a
// full disk is an error here and not a SIGBUS when the mapping is written.
func allocate(f *os.File, from, to int64) error {
	err := syscall.Fallocate(int(f.Fd()), 0, from, to-from)
	if err == nil {
		return nil
	}
	if errors.Is(err, syscall.EOPNOTSUPP) || errors.Is(err, syscall.ENOSYS) {
		return f.Truncate(to)
	}
	return err
}

// unmap releases the current window; finished windows get their writeback
// started (sync) or completed (final, with SyncEnd).
func (w *Writer) unmap(final bool) error {
	if w.win == nil {
		return nil
	}
	used := min(int64(len(w.win)), w.size-w.winOff)
	var err error
	if used > 0 {
		if final && w.opt.Sync == SyncEnd {
			err = msync(w.win[:used])
		} else if !final {
			// start writeback of the finished window; errors here are only hints
			_ = syscall.SyncFileRange(int(w.f.Fd()), w.winOff, used, 2 /* SYNC_FILE_RANGE_WRITE */)
		}
	}
	if uerr := syscall.Munmap(w.win); err == nil && uerr != nil {
		err = uerr
	}
	w.win = nil
	if err != nil {
		return fmt.Errorf("journal: %s: %w", w.path, err)
	}
	return nil
}

func msync(b []byte) error {
	_, _, e := syscall.Syscall(syscall.SYS_MSYNC, uintptr(unsafePointer(b)), uintptr(len(b)), syscall.MS_SYNC)
	if e != 0 {
		return e
	}
	return nil
}

// Close finishes the journal: unmap, truncate to the exact size, and with
// SyncEnd make it durable.
func (w *Writer) Close() error {
	if w.closed {
		return nil
	}
	w.closed = true
	err := w.unmap(true)
	if terr := w.f.Truncate(w.size); err == nil && terr != nil {
		err = fmt.Errorf("journal: %w", terr)
	}
	if w.opt.Sync == SyncEnd && err == nil {
		if serr := w.f.Sync(); serr != nil {
			err = fmt.Errorf("journal: fsync %s: %w", w.path, serr)
		} else if d, derr := os.Open(filepath.Dir(w.path)); derr == nil {
			_ = d.Sync()
			d.Close()
		}
	}
	if cerr := w.f.Close(); err == nil && cerr != nil {
		err = fmt.Errorf("journal: %w", cerr)
	}
	return err
}

// Abort closes the journal and removes its file.
func (w *Writer) Abort() error {
	if !w.closed {
		w.closed = true
		_ = w.unmap(true)
		w.f.Close()
	}
	return os.Remove(w.path)
}
