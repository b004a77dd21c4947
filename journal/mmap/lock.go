package mmap

import (
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"syscall"
	"time"

	"github.com/lexbench/lexbench/trace"
)

// A journal has one writer at a time. The writer (a run, or a resume)
// holds an exclusive flock(2) on the journal file for its lifetime; a
// second writer's Create, Lock or OpenAppend fails with ErrLocked instead
// of truncating or appending under the first one's mapping (which would
// crash it with SIGBUS or interleave two journals). Readers that must see
// the file unchanged (replay) take a shared lock with LockShared. The lock
// belongs to the open file, so the kernel releases it when the process
// dies: a journal left by kill -9 is soon free. Not at once: lexbench runs
// as a supervisor and a child (cmd/lexbench), and kill -9 of the
// supervisor reaches the child, which holds the lock, as its parent-death
// signal a moment later. So whoever finds the lock held polls for it for
// up to lockWait (2 s) before it gives up with ErrLocked: a dying holder
// has let go by then, a live writer has not.

// ErrLocked is returned when another process holds the journal's lock.
var ErrLocked = errors.New("in use: another lexbench process holds its lock (a run or resume is writing it)")

// ExistsError is Create's refusal to replace a journal that is not empty
// without Options.Overwrite.
type ExistsError struct {
	Path string
	Size int64
	// Unclosed: the file ends in zero bytes, the preallocated tail of a
	// journal whose writer died before closing it (a resume would continue
	// it).
	Unclosed bool
}

func (e *ExistsError) Error() string {
	state := "a closed journal"
	if e.Unclosed {
		state = "a journal that was not closed"
	}
	return fmt.Sprintf("journal: %s exists (%d bytes, %s)", e.Path, e.Size, state)
}

// FileID identifies a file on its machine: device and inode numbers, and
// its birth time (statx; 0 where the file system does not report it)
// because an inode number is reused as soon as its file is deleted.
// Create makes every run's journal a new file, so the run file beside a
// journal records its FileID, and a journal replaced by another run (or by
// anything else) no longer matches it; a resume appends to the same file,
// and a rename keeps it. A copy of the journal is another file.
type FileID struct {
	Dev, Ino uint64
	Birth    int64 // ns since the epoch; 0: unknown
}

func (id FileID) String() string { return fmt.Sprintf("%d:%d:%d", id.Dev, id.Ino, id.Birth) }

func fileID(f *os.File) (FileID, error) {
	st, err := f.Stat()
	if err != nil {
		return FileID{}, err
	}
	sys, ok := st.Sys().(*syscall.Stat_t)
	if !ok {
		return FileID{}, errors.New("no device and inode numbers")
	}
	return FileID{Dev: uint64(sys.Dev), Ino: sys.Ino, Birth: birth(f)}, nil
}

// lockWait bounds how long lockFile waits for a lock held by another
// process.
var lockWait = 2 * time.Second

// lockFile takes f's flock, exclusive or shared, polling for up to
// lockWait while another process holds it (ErrLocked after that).
func lockFile(f *os.File, exclusive bool) error {
	var deadline time.Time
	pause := time.Millisecond
	for {
		err := tryLock(f, exclusive)
		if err != ErrLocked {
			return err
		}
		now := time.Now()
		if deadline.IsZero() {
			deadline = now.Add(lockWait)
		}
		if !now.Before(deadline) {
			return ErrLocked
		}
		time.Sleep(min(pause, deadline.Sub(now)))
		pause = min(2*pause, 50*time.Millisecond)
	}
}

// tryLock takes f's flock without waiting: exclusive or shared.
func tryLock(f *os.File, exclusive bool) error {
	how := syscall.LOCK_SH
	if exclusive {
		how = syscall.LOCK_EX
	}
	for {
		err := syscall.Flock(int(f.Fd()), how|syscall.LOCK_NB)
		switch {
		case err == nil:
			return nil
		case errors.Is(err, syscall.EINTR):
			continue
		case errors.Is(err, syscall.EWOULDBLOCK):
			return ErrLocked
		}
		return fmt.Errorf("flock: %w", err)
	}
}

// Locked is an existing journal file, open and locked.
type Locked struct {
	f    *os.File
	path string
	id   FileID
	excl bool
}

// Lock opens the existing journal at path and takes its exclusive lock,
// for a writer that continues it (Append). The file must be a regular file
// that starts with the journal magic. Errors: ErrLocked (wrapped) while
// another process holds the lock; trace.ErrNotJournal (wrapped); a plain
// error naming path.
func Lock(path string) (*Locked, error) { return lockPath(path, true) }

// LockShared opens the existing journal at path and takes a shared lock:
// no writer can start while it is held, and it fails with ErrLocked while
// one is writing.
func LockShared(path string) (*Locked, error) { return lockPath(path, false) }

func lockPath(path string, exclusive bool) (*Locked, error) {
	flag := os.O_RDONLY
	if exclusive {
		flag = os.O_RDWR
	}
	f, err := openExisting(path, flag)
	if err != nil {
		return nil, err
	}
	l := &Locked{f: f, path: path, excl: exclusive}
	if err := lockFile(f, exclusive); err != nil {
		f.Close()
		return nil, fmt.Errorf("journal: %s: %w", path, err)
	}
	var magic [len(trace.FileMagic)]byte
	if _, err := io.ReadFull(f, magic[:]); err != nil || magic != trace.FileMagic {
		f.Close()
		return nil, fmt.Errorf("journal: %s: %w", path, trace.ErrNotJournal)
	}
	if l.id, err = fileID(f); err != nil {
		f.Close()
		return nil, fmt.Errorf("journal: %s: %w", path, err)
	}
	return l, nil
}

// ID is the locked file's FileID.
func (l *Locked) ID() FileID { return l.id }

// Release closes the file, which releases the lock. It is a no-op on a nil
// or spent Locked.
func (l *Locked) Release() {
	if l != nil && l.f != nil {
		l.f.Close()
		l.f = nil
	}
}

// claimExisting checks the file at path before Create replaces it and
// returns it locked (nil if there is none): a regular file, empty or a
// journal, and a non-empty journal only with overwrite.
func claimExisting(path string, overwrite bool) (*Locked, error) {
	st, err := os.Lstat(path)
	if errors.Is(err, fs.ErrNotExist) {
		return nil, nil
	}
	if err != nil {
		return nil, fmt.Errorf("journal: %w", err)
	}
	if st.Mode()&fs.ModeSymlink != 0 {
		return nil, fmt.Errorf("journal: refusing to replace %s: it is a symbolic link", path)
	}
	if !st.Mode().IsRegular() {
		return nil, fmt.Errorf("journal: refusing to overwrite %s: not a regular file", path)
	}
	f, err := os.Open(path)
	if err != nil {
		return nil, fmt.Errorf("journal: %w", err)
	}
	fail := func(err error) (*Locked, error) {
		f.Close()
		return nil, err
	}
	fst, err := f.Stat()
	if err != nil {
		return fail(fmt.Errorf("journal: %w", err))
	}
	if !os.SameFile(st, fst) {
		return fail(fmt.Errorf("journal: refusing to overwrite %s: it changed while being opened", path))
	}
	if err := lockFile(f, true); err != nil {
		return fail(fmt.Errorf("journal: %s: %w", path, err))
	}
	var magic [len(trace.FileMagic)]byte
	n, rerr := io.ReadFull(f, magic[:])
	switch {
	case n == 0 && rerr == io.EOF:
		return &Locked{f: f, path: path, excl: true}, nil // empty: nothing to lose
	case rerr == nil && magic == trace.FileMagic:
	case rerr != nil && rerr != io.ErrUnexpectedEOF:
		return fail(fmt.Errorf("journal: %w", rerr))
	default:
		return fail(fmt.Errorf("journal: refusing to overwrite %s: not a lexbench journal", path))
	}
	if !overwrite {
		return fail(&ExistsError{Path: path, Size: fst.Size(), Unclosed: endsInZeros(f, fst.Size())})
	}
	return &Locked{f: f, path: path, excl: true}, nil
}

// endsInZeros reports whether the file of the given size ends in a zero
// block header's worth of zero bytes: the preallocated tail a writer
// leaves when it dies. A closed journal ends with its last entry, which is
// never all zero past tick 0 (its tick is nonzero).
func endsInZeros(f *os.File, size int64) bool {
	var b [trace.BlockHeaderSize]byte
	if size < trace.FileHeaderSize+int64(len(b)) {
		return false
	}
	if _, err := f.ReadAt(b[:], size-int64(len(b))); err != nil {
		return false
	}
	return allZero(b[:])
}
