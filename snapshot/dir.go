package snapshot

import (
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"

	"github.com/lexbench/lexbench/engine"
	"github.com/lexbench/lexbench/journal/mmap"
)

// Keep is how many of the newest snapshots a run keeps.
const Keep = 2

// Dir is the snapshot directory of the journal at path.
func Dir(journal string) string { return journal + ".snapshots" }

// Name is the file name of the snapshot of tick t.
func Name(t uint64) string { return fmt.Sprintf("tick-%010d.lxs", t) }

func parseName(name string) (uint64, bool) {
	s, ok := strings.CutPrefix(name, "tick-")
	if !ok {
		return 0, false
	}
	s, ok = strings.CutSuffix(s, ".lxs")
	if !ok || len(s) != 10 {
		return 0, false
	}
	t, err := strconv.ParseUint(s, 10, 64)
	return t, err == nil
}

// List returns the snapshot files in dir, newest (highest tick) first. A
// missing directory has none.
func List(dir string) ([]string, error) {
	ents, err := os.ReadDir(dir)
	if errors.Is(err, fs.ErrNotExist) {
		return nil, nil
	}
	if err != nil {
		return nil, fmt.Errorf("snapshot: %w", err)
	}
	var names []string
	for _, e := range ents {
		if _, ok := parseName(e.Name()); ok && e.Type().IsRegular() {
			names = append(names, e.Name())
		}
	}
	slices.Sort(names) // fixed width: name order is tick order
	slices.Reverse(names)
	for i, n := range names {
		names[i] = filepath.Join(dir, n)
	}
	return names, nil
}

// Clear removes the snapshots in dir (and their temporaries, and the
// options file older versions kept there) for a new run at the journal:
// they belong to an earlier run (resume would ignore them anyway: each
// snapshot names its run). A missing dir is fine; files that are not
// snapshots are left alone.
func Clear(dir string) error {
	ents, err := os.ReadDir(dir)
	if errors.Is(err, fs.ErrNotExist) {
		return nil
	}
	if err != nil {
		return fmt.Errorf("snapshot: %w", err)
	}
	for _, e := range ents {
		n := e.Name()
		if _, ok := parseName(strings.TrimSuffix(strings.TrimPrefix(n, "."), ".tmp")); ok || n == "options" {
			if err := os.Remove(filepath.Join(dir, n)); err != nil {
				return fmt.Errorf("snapshot: %w", err)
			}
		}
	}
	return nil
}

// Write writes data as the snapshot of tick t in dir, atomically: a
// temporary file, fsync, rename, fsync of the directory (without the
// fsyncs if durable is false). Then it removes all but the Keep newest.
func Write(dir string, t uint64, data []byte, durable bool) (string, error) {
	name := filepath.Join(dir, Name(t))
	f, err := os.OpenFile(filepath.Join(dir, "."+Name(t)+".tmp"), os.O_WRONLY|os.O_CREATE|os.O_TRUNC, 0o644)
	if err == nil {
		err = WriteFile(f, name, data, durable)
	}
	if err != nil {
		return "", fmt.Errorf("snapshot: writing %s: %w", name, err)
	}
	names, err := List(dir)
	if err != nil {
		return name, err
	}
	for _, old := range names[min(Keep, len(names)):] {
		if err := os.Remove(old); err != nil {
			return name, fmt.Errorf("snapshot: %w", err)
		}
	}
	return name, nil
}

// WriteFile writes data to path atomically against a process crash:
// through f, a new temporary file beside path (removed on error), fsynced
// if durable, renamed over path, then the directory fsynced if durable.
// The run file beside a journal (package runfile) is written this way too.
func WriteFile(f *os.File, path string, data []byte, durable bool) error {
	tmp := f.Name()
	_, err := f.Write(data)
	if err == nil && durable {
		err = f.Sync()
	}
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	if err == nil {
		err = os.Rename(tmp, path)
	}
	if err == nil && durable {
		err = mmap.SyncDir(filepath.Dir(path))
	}
	if err != nil {
		_ = os.Remove(tmp)
	}
	return err
}

// Read reads and decodes the snapshot file at path, with the file's name
// checked against the tick inside.
func Read(path string) (*Snapshot, error) {
	b, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("snapshot: %w", err)
	}
	s, err := Decode(b)
	if err != nil {
		return nil, fmt.Errorf("snapshot: %s: %w", path, err)
	}
	if t, ok := parseName(filepath.Base(path)); ok && t != s.CP.Tick {
		return nil, fmt.Errorf("snapshot: %s: holds tick %d", path, s.CP.Tick)
	}
	return s, nil
}

// FormatOptions is the one-line text of a run's options, as the run file
// beside a journal records them (package runfile); ParseOptions reads it
// back.
func FormatOptions(o Options) string {
	return fmt.Sprintf(optionsFormat, o.MaxTicks, o.MaxMsgs, b2u(o.Damp), b2u(o.NoDetect), detectName(o.Local), o.SnapshotEvery, o.Sync, o.MaxInFlight)
}

const optionsFormat = "max-ticks=%d max-msgs=%d damp=%d no-detect=%d detect=%s snapshot-every=%d sync=%s max-inflight=%d"

func detectName(local bool) string {
	if local {
		return "local"
	}
	return "global"
}

// ParseOptions parses FormatOptions's text; anything else is an error.
func ParseOptions(s string) (Options, error) {
	var o Options
	var damp, noDetect uint64
	var detect, sync string
	bad := fmt.Errorf("options %q: not lexbench run options", s)
	if _, err := fmt.Sscanf(s, optionsFormat,
		&o.MaxTicks, &o.MaxMsgs, &damp, &noDetect, &detect, &o.SnapshotEvery, &sync, &o.MaxInFlight); err != nil {
		return o, bad
	}
	o.Damp, o.NoDetect, o.Local = damp == 1, noDetect == 1, detect == "local"
	var err error
	if o.Sync, err = mmap.ParseSync(sync); err != nil || o.MaxTicks < -1 || o.MaxMsgs < -1 ||
		o.MaxInFlight < 0 || o.MaxInFlight > engine.InFlightMax || FormatOptions(o) != s {
		return o, bad
	}
	return o, nil
}

// WriteAtomic writes data as the file name in dir with WriteFile: a
// temporary file ".name.tmp" beside it, renamed over name (fsynced if
// durable). Files other packages keep beside a run's snapshots (a
// replica's stream positions, a partition's snapshots) are written this
// way.
func WriteAtomic(dir, name string, data []byte, durable bool) error {
	f, err := os.OpenFile(filepath.Join(dir, "."+name+".tmp"), os.O_WRONLY|os.O_CREATE|os.O_TRUNC, 0o644)
	if err != nil {
		return err
	}
	return WriteFile(f, filepath.Join(dir, name), data, durable)
}
