package replica

import (
	"context"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"strconv"
	"strings"

	"github.com/cespare/xxhash/v2"
	"github.com/lexbench/lexbench/snapshot"
	"github.com/nats-io/nats.go/jetstream"
)

// A replica's snapshot tick-T.lxs (package snapshot) has beside it the
// stream position of tick T, in J.snapshots/stream-T: one checksummed line,
//
//	lexbench-stream-position/1 run=ID tick=T seq=S skip=K ordinal=O xxh=H
//
// where the input of the first tick ≥ T starts (segment K of the chunk at
// stream sequence S, ordinal O). It is written, atomically, before the
// snapshot, so a snapshot always has one unless the file was removed; a
// restarted replica checks it against the stream, and without a usable
// one finds the position by a binary search over the stream's chunks.

const positionMagic = "lexbench-stream-position/1"

func positionName(t uint64) string { return fmt.Sprintf("stream-%010d", t) }

func positionText(run *Run, t uint64, p Position) string {
	return fmt.Sprintf("%s run=%s tick=%d seq=%d skip=%d ordinal=%d", positionMagic, run.ID(), t, p.Seq, p.Skip, p.Ordinal)
}

// writePosition writes the stream position of tick t into dir.
func writePosition(dir string, run *Run, t uint64, p Position, durable bool) error {
	line := positionText(run, t, p)
	data := fmt.Sprintf("%s xxh=%016x\n", line, xxhash.Sum64String(line))
	if err := snapshot.WriteAtomic(dir, positionName(t), []byte(data), durable); err != nil {
		return fmt.Errorf("replica: stream position: %w", err)
	}
	return nil
}

// readPosition reads the stream position of tick t from dir.
func readPosition(dir string, run *Run, t uint64) (Position, error) {
	path := filepath.Join(dir, positionName(t))
	b, err := os.ReadFile(path)
	if err != nil {
		return Position{}, err
	}
	s, ok := strings.CutSuffix(string(b), "\n")
	i := strings.LastIndex(s, " xxh=")
	if !ok || i < 0 || fmt.Sprintf("%016x", xxhash.Sum64String(s[:i])) != s[i+5:] {
		return Position{}, fmt.Errorf("%s: damaged", path)
	}
	var p Position
	var id string
	var tick uint64
	if _, err := fmt.Sscanf(s[:i], positionMagic+" run=%s tick=%d seq=%d skip=%d ordinal=%d", &id, &tick, &p.Seq, &p.Skip, &p.Ordinal); err != nil ||
		positionText(run, tick, p) != s[:i] {
		return Position{}, fmt.Errorf("%s: damaged", path)
	}
	if id != run.ID() || tick != t {
		return Position{}, fmt.Errorf("%s: for run %s tick %d, not run %s tick %d", path, id, tick, run.ID(), t)
	}
	return p, nil
}

// prunePositions removes the stream positions in dir that no snapshot
// has any more (the snapshot directory keeps the newest snapshots only),
// and, with all set, every one (a new run at this journal).
func prunePositions(dir string, all bool) error {
	ents, err := os.ReadDir(dir)
	if errors.Is(err, fs.ErrNotExist) {
		return nil
	}
	if err != nil {
		return fmt.Errorf("replica: %w", err)
	}
	have := map[string]bool{}
	for _, e := range ents {
		if t, ok := strings.CutPrefix(e.Name(), "tick-"); ok {
			have[strings.TrimSuffix(t, ".lxs")] = true
		}
	}
	for _, e := range ents {
		name := strings.TrimSuffix(strings.TrimPrefix(e.Name(), "."), ".tmp")
		t, ok := strings.CutPrefix(name, "stream-")
		if _, err := strconv.ParseUint(t, 10, 64); !ok || err != nil || len(t) != 10 || (have[t] && !all && name == e.Name()) {
			continue
		}
		if err := os.Remove(filepath.Join(dir, e.Name())); err != nil {
			return fmt.Errorf("replica: %w", err)
		}
	}
	return nil
}

// startPosition is where a replica that continues at tick t (0: from the
// start) begins reading the stream, and how it was found.
func startPosition(ctx context.Context, s jetstream.Stream, run *Run, dir string, t uint64) (Position, string, error) {
	if t == 0 {
		return Position{Seq: 2}, "the start", nil
	}
	p, err := readPosition(dir, run, t)
	if err == nil {
		if err = checkPosition(ctx, s, p, t); err == nil {
			return p, "the snapshot", nil
		}
	}
	p, lerr := locate(ctx, s, t)
	if lerr != nil {
		return Position{}, "", lerr
	}
	return p, fmt.Sprintf("a search of the stream (%v)", err), nil
}
