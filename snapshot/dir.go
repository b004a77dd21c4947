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

	"github.com/cespare/xxhash/v2"
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

// Prepare makes dir empty of snapshots for a new run: a journal that is
// created anew must not be resumed from the snapshots of an earlier run.
// It creates dir if needed; files that are not snapshots or their
// temporaries are left alone.
func Prepare(dir string) error {
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return fmt.Errorf("snapshot: %w", err)
	}
	ents, err := os.ReadDir(dir)
	if err != nil {
		return fmt.Errorf("snapshot: %w", err)
	}
	for _, e := range ents {
		n := e.Name()
		if _, ok := parseName(strings.TrimSuffix(strings.TrimPrefix(n, "."), ".tmp")); ok || n == optionsName {
			if err := os.Remove(filepath.Join(dir, n)); err != nil {
				return fmt.Errorf("snapshot: %w", err)
			}
		}
	}
	return nil
}

// Write writes data as the snapshot of tick t in dir (WriteAtomic), then
// removes all but the Keep newest.
func Write(dir string, t uint64, data []byte, durable bool) (string, error) {
	name := filepath.Join(dir, Name(t))
	if err := WriteAtomic(dir, Name(t), data, durable); err != nil {
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

// WriteAtomic writes data as the file name in dir, atomically: a temporary
// file ".name.tmp" in dir, fsync, rename over name, fsync of the directory
// (without the fsyncs if durable is false: the rename alone is atomic
// against a process crash, not against a power loss). On an error the
// temporary file is removed and an existing file name is left as it was.
// It is the one way snapshots, their options and the files other packages
// keep beside them (stream positions) are written.
func WriteAtomic(dir, name string, data []byte, durable bool) error {
	tmp := filepath.Join(dir, "."+name+".tmp")
	f, err := os.OpenFile(tmp, os.O_WRONLY|os.O_CREATE|os.O_TRUNC, 0o644)
	if err != nil {
		return err
	}
	_, err = f.Write(data)
	if err == nil && durable {
		err = f.Sync()
	}
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	if err == nil {
		err = os.Rename(tmp, filepath.Join(dir, name))
	}
	if err == nil && durable {
		err = mmap.SyncDir(dir)
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

// optionsName is the file in the snapshot directory that holds the run's
// Options from its start, for a resume before the first snapshot.
const optionsName = "options"

// WriteOptions writes the run's options into dir (atomically, like a
// snapshot), as one checksummed line of text.
func WriteOptions(dir string, o Options, durable bool) error {
	line := optionsText(o)
	data := fmt.Sprintf("%s xxh=%016x\n", line, xxhash.Sum64String(line))
	if err := WriteAtomic(dir, optionsName, []byte(data), durable); err != nil {
		return fmt.Errorf("snapshot: writing the run's options: %w", err)
	}
	return nil
}

// optionsFormat is the options line; format 1 (written before --detect
// existed) is the same without detect= and is read as detect=global.
const (
	optionsFormat  = "lexbench-options/2 max-ticks=%d max-msgs=%d damp=%d no-detect=%d detect=%s snapshot-every=%d sync=%s"
	optionsFormat1 = "lexbench-options/1 max-ticks=%d max-msgs=%d damp=%d no-detect=%d snapshot-every=%d sync=%s"
)

func optionsText(o Options) string {
	return fmt.Sprintf(optionsFormat, o.MaxTicks, o.MaxMsgs, b2u(o.Damp), b2u(o.NoDetect), detectName(o.Local), o.SnapshotEvery, o.Sync)
}

func detectName(local bool) string {
	if local {
		return "local"
	}
	return "global"
}

// ReadOptions reads the options file of dir; a missing file is (nil, nil).
func ReadOptions(dir string) (*Options, error) {
	b, err := os.ReadFile(filepath.Join(dir, optionsName))
	if errors.Is(err, fs.ErrNotExist) {
		return nil, nil
	}
	if err != nil {
		return nil, fmt.Errorf("snapshot: %w", err)
	}
	bad := fmt.Errorf("snapshot: %s: damaged options file", filepath.Join(dir, optionsName))
	s, ok := strings.CutSuffix(string(b), "\n")
	i := strings.LastIndex(s, " xxh=")
	if !ok || i < 0 || fmt.Sprintf("%016x", xxhash.Sum64String(s[:i])) != s[i+5:] {
		return nil, bad
	}
	var o Options
	var damp, noDetect uint64
	var detect, sync string
	line := s[:i]
	if strings.HasPrefix(line, "lexbench-options/1 ") {
		detect = "global"
		_, err = fmt.Sscanf(line, optionsFormat1, &o.MaxTicks, &o.MaxMsgs, &damp, &noDetect, &o.SnapshotEvery, &sync)
	} else {
		_, err = fmt.Sscanf(line, optionsFormat, &o.MaxTicks, &o.MaxMsgs, &damp, &noDetect, &detect, &o.SnapshotEvery, &sync)
	}
	if err != nil || detect != "global" && detect != "local" {
		return nil, bad
	}
	o.Damp, o.NoDetect, o.Local = damp == 1, noDetect == 1, detect == "local"
	if o.Sync, err = mmap.ParseSync(sync); err != nil {
		return nil, bad
	}
	want := optionsText(o)
	if strings.HasPrefix(line, "lexbench-options/1 ") {
		want = fmt.Sprintf(optionsFormat1, o.MaxTicks, o.MaxMsgs, damp, noDetect, o.SnapshotEvery, o.Sync)
	}
	if want != line {
		return nil, bad
	}
	return &o, nil
}
