package partition

import (
	"errors"
	"os"
	"path/filepath"
	"testing"

	"github.com/lexbench/lexbench/journal/mmap"
	"github.com/lexbench/lexbench/snapshot"
)

// A partition journal has one writer: while one holds it, creating it
// again or appending to it fails with mmap.ErrLocked and leaves its bytes
// as they were; once the writer closes it, it can be continued.
func TestPartitionJournalIsLocked(t *testing.T) {
	path := filepath.Join(t.TempDir(), "run.p0")
	h := &JournalHeader{Params: "p", Index: 0, Cuts: []uint32{0, 1, 2}, Opts: snapshot.DefaultOptions()}
	j, err := createJournal(path, h, false)
	if err != nil {
		t.Fatal(err)
	}
	if err := j.w.Flush(); err != nil {
		t.Fatal(err)
	}
	before, _ := os.ReadFile(path)
	if _, err := createJournal(path, h, false); !errors.Is(err, mmap.ErrLocked) {
		t.Fatalf("a second createJournal: %v, want ErrLocked", err)
	}
	if _, err := openJournalAppend(path, int64(len(before)), false); !errors.Is(err, mmap.ErrLocked) {
		t.Fatalf("openJournalAppend while written: %v, want ErrLocked", err)
	}
	if after, _ := os.ReadFile(path); string(after) != string(before) || len(before) == 0 {
		t.Fatalf("the journal changed: %d bytes, was %d", len(after), len(before))
	}
	if err := j.close(); err != nil {
		t.Fatal(err)
	}
	j2, err := openJournalAppend(path, int64(len(before)), false)
	if err != nil {
		t.Fatalf("after close: %v", err)
	}
	_ = j2.close()
}

// TestAJournalOfAnotherProgramIsRefused: the header records the program's
// hash, read back as written; a partition restarted for another program
// (an edited FILE.lxm with the same params) refuses the journal instead
// of starting over in its place, and a set mixing programs does not
// verify as one run.
func TestAJournalOfAnotherProgramIsRefused(t *testing.T) {
	path := filepath.Join(t.TempDir(), "run.p0")
	h := &JournalHeader{Params: "lexbench/1 workload=banking n=10", Program: 0xfeed, Index: 0, Cuts: []uint32{0, 1, 2}, Opts: snapshot.DefaultOptions()}
	j, err := createJournal(path, h, false)
	if err != nil {
		t.Fatal(err)
	}
	if err := j.close(); err != nil {
		t.Fatal(err)
	}
	r, err := OpenJournal(path)
	if err != nil {
		t.Fatal(err)
	}
	got := r.Header
	r.Close()
	if got.Program != h.Program || sameHeader(h, &got) != nil {
		t.Fatalf("read back program %x (%v), wrote %x", got.Program, sameHeader(h, &got), h.Program)
	}
	before, _ := os.ReadFile(path)
	other := *h
	other.Program = 0xbeef
	if _, err := resumable(path, &other, 1); err == nil {
		t.Fatal("a journal of program feed was taken for program beef")
	}
	if sameHeader(h, &other) == nil {
		t.Fatal("sameHeader: two programs are one run")
	}
	if after, _ := os.ReadFile(path); string(after) != string(before) {
		t.Fatal("the refused journal changed")
	}
}
