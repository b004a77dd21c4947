package mmap

import (
	"bytes"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"
)

// TestOneWriterAtATime pins issue 15 #6 at the journal's level: while a
// Writer is open, a second Create (even with Overwrite), Lock, OpenAppend
// or LockShared of the same journal fails with ErrLocked and changes
// nothing; once the writer is closed they succeed.
func TestOneWriterAtATime(t *testing.T) {
	defer func(w time.Duration) { lockWait = w }(lockWait)
	lockWait = 20 * time.Millisecond // the holder keeps it: no need to wait long
	blocks := ticksToBlocks([]int{300, 5000}, 3)
	j := encodeJournal(testParams, blocks)
	path := filepath.Join(t.TempDir(), "j")
	w, err := Create(path, testParams, Options{})
	if err != nil {
		t.Fatal(err)
	}
	if err := w.Write(j.data[j.offs[0]:j.offs[1]]); err != nil {
		t.Fatal(err)
	}
	st0, _ := os.Stat(path)
	if _, err := Create(path, testParams, Options{Overwrite: true}); !errors.Is(err, ErrLocked) {
		t.Fatalf("second Create: %v, want ErrLocked", err)
	}
	if _, err := OpenAppend(path, int64(j.offs[0]), Options{}); !errors.Is(err, ErrLocked) {
		t.Fatalf("OpenAppend of a journal being written: %v, want ErrLocked", err)
	}
	if _, err := LockShared(path); !errors.Is(err, ErrLocked) || !strings.Contains(err.Error(), path) {
		t.Fatalf("LockShared of a journal being written: %v, want ErrLocked naming it", err)
	}
	if st, _ := os.Stat(path); !os.SameFile(st0, st) || st.Size() != st0.Size() {
		t.Fatal("the refused writers changed the journal")
	}
	if err := w.Write(j.data[j.offs[1]:]); err != nil { // the first writer goes on
		t.Fatal(err)
	}
	if err := w.Close(); err != nil {
		t.Fatal(err)
	}
	if got, _ := os.ReadFile(path); !bytes.Equal(got, j.data) {
		t.Fatal("journal differs")
	}
	l, err := LockShared(path)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := Lock(path); !errors.Is(err, ErrLocked) {
		t.Fatalf("Lock while a reader holds the shared lock: %v", err)
	}
	l.Release()
	w2, err := OpenAppend(path, int64(len(j.data)), Options{})
	if err != nil {
		t.Fatal(err)
	}
	if err := w2.Abort(); err != nil { // an append writer's Abort keeps the file
		t.Fatal(err)
	}
	if s, err := Verify(path); err != nil || s != j.wantSummary(blocks, len(blocks)) {
		t.Fatalf("after an aborted append: %+v %v", s, err)
	}
}

// TestCreateSaysWhenTheJournalWasNotClosed: an existing journal with the
// preallocated zero tail of a dead writer is reported as unclosed.
func TestCreateSaysWhenTheJournalWasNotClosed(t *testing.T) {
	blocks := ticksToBlocks([]int{300, 5000}, 4)
	j := encodeJournal(testParams, blocks)
	path := filepath.Join(t.TempDir(), "j")
	if err := os.WriteFile(path, append(append([]byte(nil), j.data...), make([]byte, 1<<20)...), 0o644); err != nil {
		t.Fatal(err)
	}
	_, err := Create(path, testParams, Options{})
	var ee *ExistsError
	if !errors.As(err, &ee) || !ee.Unclosed || !strings.Contains(err.Error(), "not closed") {
		t.Fatalf("Create over an unclosed journal: %v", err)
	}
}

// TestCreateBindsTheRunBeforeReplacing: Prepare sees the new file's
// FileID before it replaces the old journal; an error from it leaves the
// old journal as it was, and no new file behind.
func TestCreateBindsTheRunBeforeReplacing(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, "j")
	j := encodeJournal(testParams, ticksToBlocks([]int{10}, 5))
	if err := os.WriteFile(path, j.data, 0o644); err != nil {
		t.Fatal(err)
	}
	boom := errors.New("boom")
	if _, err := Create(path, testParams, Options{Overwrite: true, Prepare: func(FileID) error { return boom }}); err != boom {
		t.Fatalf("Create with a failing Prepare: %v", err)
	}
	if got, _ := os.ReadFile(path); !bytes.Equal(got, j.data) {
		t.Fatal("old journal changed")
	}
	if ents, _ := os.ReadDir(dir); len(ents) != 1 {
		t.Fatalf("files left: %v", ents)
	}
	var id FileID
	w, err := Create(path, testParams, Options{Overwrite: true, Prepare: func(x FileID) error { id = x; return nil }})
	if err != nil {
		t.Fatal(err)
	}
	defer w.Close()
	l, err := LockShared(path) // the shared lock conflicts: use the id of a plain stat
	if err == nil {
		l.Release()
		t.Fatal("LockShared while the writer is open")
	}
	f, _ := os.Open(path)
	got, _ := fileID(f)
	f.Close()
	if got != id || id == (FileID{}) {
		t.Fatalf("Prepare saw %v, the journal is %v", id, got)
	}
}

// TestWithoutFallocateNothingIsMapped: on a file system that cannot
// preallocate, the writer writes through a buffer (no mapping of a sparse
// file, where a full disk is SIGBUS, issue 15 #8); the journal is the same,
// and a write the file system refuses is an error.
func TestWithoutFallocateNothingIsMapped(t *testing.T) {
	fallocate = func(int, uint32, int64, int64) error { return syscall.EOPNOTSUPP }
	defer func() { fallocate = syscall.Fallocate }()
	blocks := ticksToBlocks([]int{5000, 1, 4096, 9000, 3}, 12)
	j := encodeJournal(testParams, blocks)
	dir := t.TempDir()
	path := filepath.Join(dir, "j")
	for _, sync := range []Sync{SyncEnd, SyncNone, SyncSnapshot} {
		w, err := Create(path, testParams, Options{WindowBytes: 64 << 10, Sync: sync, Overwrite: true})
		if err != nil {
			t.Fatal(err)
		}
		for k := range blocks {
			reg, err := w.Reserve(j.offs[k+1] - j.offs[k])
			if err != nil {
				t.Fatal(err)
			}
			if !w.buffered {
				t.Fatal("the writer maps a file it could not preallocate")
			}
			copy(reg, j.data[j.offs[k]:j.offs[k+1]])
			if k == 2 && sync == SyncSnapshot {
				if err := w.Sync(); err != nil {
					t.Fatal(err)
				}
			}
		}
		if err := w.Close(); err != nil {
			t.Fatal(err)
		}
		if got, _ := os.ReadFile(path); !bytes.Equal(got, j.data) {
			t.Fatalf("sync %v: buffered journal differs", sync)
		}
	}
	// a file size limit stands in for a full disk: the write fails with
	// an error (EFBIG), not a signal
	var old syscall.Rlimit
	if err := syscall.Getrlimit(syscall.RLIMIT_FSIZE, &old); err != nil {
		t.Fatal(err)
	}
	lim := old
	lim.Cur = 256 << 10
	if err := syscall.Setrlimit(syscall.RLIMIT_FSIZE, &lim); err != nil {
		t.Fatal(err)
	}
	defer syscall.Setrlimit(syscall.RLIMIT_FSIZE, &old)
	w, err := Create(filepath.Join(dir, "full"), testParams, Options{WindowBytes: 64 << 10})
	if err != nil {
		t.Fatal(err)
	}
	var werr error
	for k := 0; k < len(blocks) && werr == nil; k++ {
		var reg []byte
		if reg, werr = w.Reserve(j.offs[k+1] - j.offs[k]); werr == nil {
			copy(reg, j.data[j.offs[k]:j.offs[k+1]])
		}
	}
	if werr == nil {
		werr = w.Close()
	} else {
		w.Abort()
	}
	if werr == nil || !strings.HasPrefix(werr.Error(), "journal: ") {
		t.Fatalf("writing past the file size limit: %v, want a journal error", werr)
	}
}

// TestALockedJournalIsWaitedForABoundedTime: a writer or reader that finds
// the journal locked waits for it up to lockWait, so a holder that is
// dying (lexbench's child, killed a moment after its supervisor by kill
// -9) is waited for; a holder that keeps it gets the same one-line
// ErrLocked as before, after lockWait, and the journal is unchanged.
func TestALockedJournalIsWaitedForABoundedTime(t *testing.T) {
	blocks := ticksToBlocks([]int{300, 5000}, 3)
	j := encodeJournal(testParams, blocks)
	path := filepath.Join(t.TempDir(), "j")
	if err := os.WriteFile(path, j.data, 0o644); err != nil {
		t.Fatal(err)
	}
	const release = 300 * time.Millisecond
	for _, c := range []struct {
		name string
		open func() (func(), error) // returns a func that lets go of the journal
	}{
		{"Lock", func() (func(), error) { l, err := Lock(path); return l.Release, err }},
		{"LockShared", func() (func(), error) { l, err := LockShared(path); return l.Release, err }},
		{"OpenAppend", func() (func(), error) {
			w, err := OpenAppend(path, int64(len(j.data)), Options{})
			return func() { _ = w.Abort() }, err
		}},
		{"Create", func() (func(), error) {
			w, err := Create(path, testParams, Options{Overwrite: true})
			return func() { _ = w.Abort() }, err
		}},
	} {
		holder, err := Lock(path)
		if err != nil {
			t.Fatal(err)
		}
		start := time.Now()
		time.AfterFunc(release, holder.Release)
		done, err := c.open()
		took := time.Since(start)
		if err != nil {
			t.Fatalf("%s while the holder lets go after %v: %v", c.name, release, err)
		}
		done()
		if c.name == "Create" { // it replaced the journal, and its Abort removed it
			if _, err := os.Stat(path); err == nil {
				t.Fatal("Create's aborted journal is still there")
			}
			if err := os.WriteFile(path, j.data, 0o644); err != nil {
				t.Fatal(err)
			}
		}
		if took < release {
			t.Errorf("%s: succeeded after %v, before the holder let go (%v)", c.name, took, release)
		}
		if got, _ := os.ReadFile(path); !bytes.Equal(got, j.data) {
			t.Fatalf("%s: the journal changed", c.name)
		}
	}
	// a holder that never lets go: ErrLocked after lockWait (2 s), one line
	holder, err := Lock(path)
	if err != nil {
		t.Fatal(err)
	}
	defer holder.Release()
	if lockWait != 2*time.Second {
		t.Fatalf("lockWait %v, want the documented 2s", lockWait)
	}
	start := time.Now()
	_, err = Lock(path)
	took := time.Since(start)
	if !errors.Is(err, ErrLocked) || strings.Contains(err.Error(), "\n") ||
		err.Error() != "journal: "+path+": "+ErrLocked.Error() {
		t.Fatalf("Lock of a journal held for good: %v", err)
	}
	if took < lockWait || took > lockWait+3*time.Second {
		t.Fatalf("Lock gave up after %v, want %v", took, lockWait)
	}
	if got, _ := os.ReadFile(path); !bytes.Equal(got, j.data) {
		t.Fatal("the refused writer changed the journal")
	}
}
