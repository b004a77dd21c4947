package runfile

import (
	"bytes"
	"errors"
	"io/fs"
	"os"
	"path/filepath"
	"reflect"
	"testing"

	"github.com/lexbench/lexbench/journal/mmap"
	"github.com/lexbench/lexbench/snapshot"
)

func samples() []*Run {
	native := &Run{ID: [16]byte{1, 2, 3}, Journal: mmap.FileID{Dev: 2049, Ino: 77},
		Params: "lexbench/1 workload=banking n=100 seed=1 batch=10 banks=1 accounts=2",
		Opts:   snapshot.Options{MaxTicks: 2000, MaxMsgs: -1, SnapshotEvery: 500, Sync: mmap.SyncNone}}
	ended := *native
	ended.State, ended.Size, ended.Trace = Ended, 123456, 0xbfc4988951183d64
	prog := *native
	prog.Program = &Program{Path: "my dir/banking.lxm", Text: "workload banking\n// xxh: 0000000000000000\nkey x 1..2 = 1"}
	prog.State, prog.Size, prog.Trace = Interrupted, 99, 1
	empty := prog
	empty.Program = &Program{Path: "e.lxm", Text: ""}
	return []*Run{native, &ended, &prog, &empty}
}

func TestRunFileRoundTrip(t *testing.T) {
	dir := t.TempDir()
	for i, r := range samples() {
		path := filepath.Join(dir, "j.run")
		if err := Write(path, r, i%2 == 0); err != nil {
			t.Fatal(err)
		}
		got, err := Read(path)
		if err != nil {
			t.Fatalf("sample %d: %v", i, err)
		}
		if !reflect.DeepEqual(got, r) {
			t.Fatalf("sample %d:\n got %+v\nwant %+v", i, got, r)
		}
	}
	if ents, _ := os.ReadDir(dir); len(ents) != 1 {
		t.Fatalf("files left: %v", ents)
	}
	if _, err := Read(filepath.Join(dir, "missing.run")); !errors.Is(err, fs.ErrNotExist) {
		t.Fatalf("missing: %v", err)
	}
}

// Every flipped byte and every truncation of a run file is an error: a
// damaged run file never yields options or a program.
func TestEveryDamageOfARunFileIsAnError(t *testing.T) {
	for i, r := range samples() {
		b, err := Encode(r)
		if err != nil {
			t.Fatal(err)
		}
		for k := range b {
			for _, bit := range []byte{1, 0x20} {
				c := bytes.Clone(b)
				c[k] ^= bit
				if got, err := Decode(c); err == nil {
					t.Fatalf("sample %d: flip %#x at %d (%q) accepted: %+v", i, bit, k, b[k], got)
				}
			}
		}
		for n := range b {
			if _, err := Decode(b[:n]); err == nil {
				t.Fatalf("sample %d: truncation to %d accepted", i, n)
			}
		}
	}
}

func TestEncodeRefusesWhatALineCannotHold(t *testing.T) {
	r := samples()[2]
	r.Program.Path = "a\nb"
	if _, err := Encode(r); err == nil {
		t.Fatal("program path with a newline encoded")
	}
	r = samples()[0]
	r.Params += "\n"
	if _, err := Encode(r); err == nil {
		t.Fatal("params with a newline encoded")
	}
}
