// Package runfile reads and writes the run file J.run that lexbench keeps
// beside a journal J: what identifies the run that wrote J beyond the
// params in J's header, which the journal format (SPEC §3) has no room
// for. SPEC §3 asks that the run controls be recorded beside the journal;
// this file is where, together with what binds them to J.
//
// # What it records
//
//   - id: 16 random bytes naming the run. Every snapshot of the run
//     carries it (package snapshot), so snapshots of another run at the
//     same path are never used.
//   - journal: the journal file's device and inode numbers and birth time
//     (mmap.FileID). Every run creates its journal as a new file, so a
//     journal replaced by another run, or by anything else, no longer
//     matches; a resume keeps the file, so the binding holds.
//   - params: the journal's params text, which must equal its header's.
//   - options: the run controls that shape the trace (budgets,
//     --on-oscillation, detection) and the snapshot interval and sync
//     mode, so resume and replay need no flags.
//   - impl and program: native, or interpreted with the program's path (as
//     given), size, xxhash64 and whole text. A program journal resumes and
//     replays the program that ran, byte for byte, wherever the file is
//     now and whatever it holds now.
//   - state: running (the writer has not closed the journal: it is
//     running, or died), interrupted (stopped cleanly at a tick boundary,
//     Ctrl-C) or ended (the run reached its end); for the last two the
//     journal's size and trace hash when it was closed.
//
// # Format
//
// UTF-8 text, one field per line, then the program text if any, then a
// checksum line; written to a temporary file and renamed into place
// (fsynced first when the run asks for durability):
//
//	lexbench-run/1
//	id: 0f1e2d3c4b5a69788796a5b4c3d2e1f0
//	journal: 2049:1835023:1764500000123456789
//	params: lexbench/1 workload=banking n=100000000 seed=1 batch=4096 banks=1 accounts=2
//	options: max-ticks=-1 max-msgs=-1 damp=0 no-detect=0 snapshot-every=0 sync=end max-inflight=0
//	impl: native
//	state: ended size=3200781104 trace=bfc4988951183d64
//	xxh: 5d3c3f0a99e4b2c1
//
// An interpreted run has `impl: interpreted`, then
// `program: BYTES XXH64 PATH` before `state:`, and after `state:` the line
// `text:` followed by exactly BYTES bytes of program text and a newline.
// The xxh line is xxhash64 of every byte before it. Read accepts only the
// exact encoding Write produces (it re-encodes and compares), so a damaged
// or edited run file is an error, never a guess.
package runfile

import (
	"bytes"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"

	"github.com/cespare/xxhash/v2"
	"github.com/lexbench/lexbench/journal/mmap"
	"github.com/lexbench/lexbench/snapshot"
)

// State is how far the writer of the journal got.
type State uint8

// States of a run.
const (
	Running     State = iota // not closed: running, or its process died
	Interrupted              // closed at a tick boundary before the end (a resume continues it)
	Ended                    // closed at the run's end
)

var stateNames = [...]string{"running", "interrupted", "ended"}

func (s State) String() string { return stateNames[s] }

// Program is the program of an interpreted run.
type Program struct {
	Path string // as given on the command line
	Text string // the whole source
}

// Hash is xxhash64 of the program text.
func (p *Program) Hash() uint64 { return xxhash.Sum64String(p.Text) }

// Run is a run file's content.
type Run struct {
	ID      [16]byte
	Journal mmap.FileID
	Params  string
	Opts    snapshot.Options
	Program *Program // nil: a native workload
	State   State
	Size    int64  // Interrupted, Ended: the journal's size when closed
	Trace   uint64 // Interrupted, Ended: its trace hash
}

// Path is the run file of the journal at journal.
func Path(journal string) string { return journal + ".run" }

// NewID is a fresh random run id.
func NewID() ([16]byte, error) {
	var id [16]byte
	_, err := rand.Read(id[:])
	return id, err
}

const magicLine = "lexbench-run/1"

// Encode is the file content of r. It fails on fields a line cannot hold.
func Encode(r *Run) ([]byte, error) {
	if strings.ContainsAny(r.Params, "\n\r") {
		return nil, errors.New("params hold a line break")
	}
	var b bytes.Buffer
	fmt.Fprintf(&b, "%s\nid: %x\njournal: %s\nparams: %s\noptions: %s\n", magicLine, r.ID, r.Journal, r.Params, snapshot.FormatOptions(r.Opts))
	if r.Program == nil {
		b.WriteString("impl: native\n")
	} else {
		if strings.ContainsAny(r.Program.Path, "\n\r") || r.Program.Path == "" {
			return nil, fmt.Errorf("program path %q cannot be recorded", r.Program.Path)
		}
		fmt.Fprintf(&b, "impl: interpreted\nprogram: %d %016x %s\n", len(r.Program.Text), r.Program.Hash(), r.Program.Path)
	}
	switch r.State {
	case Running:
		b.WriteString("state: running\n")
	case Interrupted, Ended:
		fmt.Fprintf(&b, "state: %s size=%d trace=%016x\n", r.State, r.Size, r.Trace)
	default:
		return nil, fmt.Errorf("state %d", r.State)
	}
	if r.Program != nil {
		b.WriteString("text:\n")
		b.WriteString(r.Program.Text)
		b.WriteByte('\n')
	}
	fmt.Fprintf(&b, "xxh: %016x\n", xxhash.Sum64(b.Bytes()))
	return b.Bytes(), nil
}

// Decode parses a run file's content; see the package doc.
func Decode(data []byte) (*Run, error) {
	bad := func(what string) (*Run, error) { return nil, errors.New("damaged run file: " + what) }
	i := bytes.LastIndex(data[:max(len(data)-1, 0)], []byte("\nxxh: "))
	if i < 0 || !bytes.HasSuffix(data, []byte("\n")) {
		return bad("no checksum line")
	}
	body := data[:i+1]
	if got := fmt.Sprintf("%016x", xxhash.Sum64(body)); string(data[i+6:len(data)-1]) != got {
		return bad("checksum mismatch")
	}
	r := &Run{}
	rest := string(body)
	line := func(key string) (string, bool) {
		l, after, ok := strings.Cut(rest, "\n")
		if !ok {
			return "", false
		}
		v, ok := strings.CutPrefix(l, key+": ")
		if !ok && l == key+":" {
			v, ok = "", true
		}
		if ok {
			rest = after
		}
		return v, ok
	}
	if l, after, _ := strings.Cut(rest, "\n"); l != magicLine {
		return bad("not a lexbench run file")
	} else {
		rest = after
	}
	v, ok := line("id")
	if id, err := hex.DecodeString(v); !ok || err != nil || len(id) != len(r.ID) {
		return bad("id")
	} else {
		copy(r.ID[:], id)
	}
	v, ok = line("journal")
	if _, err := fmt.Sscanf(v, "%d:%d:%d", &r.Journal.Dev, &r.Journal.Ino, &r.Journal.Birth); !ok || err != nil {
		return bad("journal")
	}
	if r.Params, ok = line("params"); !ok {
		return bad("params")
	}
	v, ok = line("options")
	var err error
	if r.Opts, err = snapshot.ParseOptions(v); !ok || err != nil {
		return bad("options")
	}
	impl, ok := line("impl")
	var progLen int
	var progHash uint64
	switch {
	case ok && impl == "native":
	case ok && impl == "interpreted":
		v, ok = line("program")
		f := strings.SplitN(v, " ", 3)
		if !ok || len(f) != 3 {
			return bad("program")
		}
		n, err1 := strconv.Atoi(f[0])
		h, err2 := strconv.ParseUint(f[1], 16, 64)
		if err1 != nil || err2 != nil || n < 0 {
			return bad("program")
		}
		progLen, progHash = n, h
		r.Program = &Program{Path: f[2]}
	default:
		return bad("impl")
	}
	v, ok = line("state")
	st, kv, _ := strings.Cut(v, " ")
	switch {
	case ok && st == "running" && kv == "":
		r.State = Running
	case ok && (st == "interrupted" || st == "ended"):
		r.State = Ended
		if st == "interrupted" {
			r.State = Interrupted
		}
		if _, err := fmt.Sscanf(kv, "size=%d trace=%x", &r.Size, &r.Trace); err != nil {
			return bad("state")
		}
	default:
		return bad("state")
	}
	if r.Program != nil {
		if _, ok := line("text"); !ok || len(rest) != progLen+1 || rest[progLen] != '\n' {
			return bad("program text")
		}
		r.Program.Text = rest[:progLen]
		if r.Program.Hash() != progHash {
			return bad("program text hash")
		}
		rest = ""
	}
	if rest != "" {
		return bad("unexpected lines")
	}
	if again, err := Encode(r); err != nil || !bytes.Equal(again, data) {
		return bad("not in canonical form")
	}
	return r, nil
}

// Write writes r to path atomically (snapshot.WriteFile: a temporary file,
// fsync if durable, rename, fsync of the directory if durable).
func Write(path string, r *Run, durable bool) error {
	data, err := Encode(r)
	if err != nil {
		return fmt.Errorf("run file: %w", err)
	}
	f, err := os.CreateTemp(filepath.Dir(path), "."+filepath.Base(path)+".tmp-*")
	if err != nil {
		return fmt.Errorf("run file: %w", err)
	}
	if err := f.Chmod(0o644); err != nil { // CreateTemp's 0600: readable as the journal is
		f.Close()
		os.Remove(f.Name())
		return fmt.Errorf("run file: %w", err)
	}
	if err := snapshot.WriteFile(f, path, data, durable); err != nil {
		return fmt.Errorf("run file: writing %s: %w", path, err)
	}
	return nil
}

// Read reads the run file at path. A missing file is an error wrapping
// fs.ErrNotExist.
func Read(path string) (*Run, error) {
	st, err := os.Lstat(path)
	if err != nil {
		return nil, fmt.Errorf("run file: %w", err)
	}
	if !st.Mode().IsRegular() {
		return nil, fmt.Errorf("run file: %s: not a regular file", path)
	}
	if st.Size() > 16<<20 {
		return nil, fmt.Errorf("run file: %s: %d bytes, too large", path, st.Size())
	}
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("run file: %w", err)
	}
	r, err := Decode(data)
	if err != nil {
		return nil, fmt.Errorf("run file: %s: %w", path, err)
	}
	return r, nil
}
