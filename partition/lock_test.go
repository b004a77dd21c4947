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
