// Package partition runs one partition of a partitioned run
// (docs/distributed.md): a contiguous range of domains in this process,
// the others in other processes or machines, the tick boundaries agreed
// through rounds exchanged over NATS JetStream. It carries the engine's
// rounds (engine.Partition), hashes the trace across partitions so that
// the trace hash is the single-process run's, journals the partition's
// part (the set of partition journals verifies as one trace), and
// snapshots the partition so that a killed process continues where it
// was from its snapshot and the stream.
package partition

import (
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"time"

	"github.com/cespare/xxhash/v2"
	"github.com/lexbench/lexbench/engine"
	"github.com/lexbench/lexbench/journal/mmap"
	"github.com/lexbench/lexbench/replica"
	"github.com/lexbench/lexbench/snapshot"
	"github.com/lexbench/lexbench/workloads"
)

// Options are one partition process's settings.
type Options struct {
	Index, Count  int    // this partition and P (1 ≤ P ≤ PartitionsMax)
	Shards        int    // shards of this partition (≥ 1); any count gives the same result
	Journal       string // the partition's journal ("": none, so no snapshots and no restart)
	SnapshotEvery uint64 // ticks between snapshots (needs Journal)
	Sync          mmap.Sync
	Progress      func(tick, msgs uint64)
	OnCell        func(ev *engine.CellEvent) // this partition's cells found oscillating
	Waiting       func(what string)          // told when a round waits long for another partition
}

// PartitionsMax bounds P.
const PartitionsMax = 256

// Report is how a partition's run went.
type Report struct {
	Run      *replica.Run
	Workload workloads.Workload // with the whole run's final state
	Result   engine.Result      // the whole run's
	Cuts     []uint32
	Elapsed  time.Duration
	From     uint64 // the tick it continued from (0: the start)
	Snaps    int    // snapshots written
	Stats    Stats
	Journal  string
}

// Dial makes partition k's transport, which takes chunks from position pos
// on (0: the start).
type Dial func(k int, pos uint64) (Transport, error)

// Cuts is the run's partition cuts: the engine's (engine.PartitionCuts),
// aligned to cells under local detection.
func Cuts(run *replica.Run, P int) ([]uint32, error) {
	detect := engine.DetectGlobal
	if run.Opts.Local {
		detect = engine.DetectLocal
	}
	return engine.PartitionCuts(run.New(), P, detect)
}

// Identity is a partitioned run's identity: its params, program, cuts and
// run controls. Every chunk carries it, so partitions started for
// different runs (or with different controls) refuse each other's rounds,
// and the exchange's stream is named after it.
func Identity(run *replica.Run, cuts []uint32) uint64 {
	o := run.Opts
	return xxhash.Sum64String(fmt.Sprintf("lexbench-partitions/1 %s program=%016x cuts=%v max-ticks=%d max-msgs=%d damp=%t no-detect=%t local=%t",
		run.Params(), run.Program, cuts, o.MaxTicks, o.MaxMsgs, o.Damp, o.NoDetect, o.Local))
}

// Run runs partition o.Index of o.Count of run to the run's end, over the
// transport dial makes. With a journal it journals its part and snapshots;
// if the journal exists (a partition that was killed), it continues from
// its newest usable snapshot, cutting the journal back to it (or starts
// over if it has none). Errors: bad options, a journal of another run, the
// transport's, and the run's own (every partition ends with the same).
func Run(run *replica.Run, o Options, dial Dial) (*Report, error) {
	switch {
	case o.Count < 1 || o.Count > PartitionsMax:
		return nil, fmt.Errorf("partitions must be 1..%d", PartitionsMax)
	case o.Index < 0 || o.Index >= o.Count:
		return nil, fmt.Errorf("partition index %d out of range 0..%d", o.Index, o.Count-1)
	case o.Shards < 1:
		return nil, engine.ErrShards
	case o.SnapshotEvery > 0 && o.Journal == "":
		return nil, errors.New("snapshots need a journal")
	}
	cuts, err := Cuts(run, o.Count)
	if err != nil {
		return nil, err
	}
	id := Identity(run, cuts)
	params := run.Params()
	hdr := &JournalHeader{Params: params, Program: run.Program, Index: o.Index, Cuts: cuts, Opts: run.Opts}
	rep := &Report{Run: run, Cuts: cuts, Journal: o.Journal}
	var (
		jw   *journalWriter
		snap *partSnapshot
	)
	durable := o.Sync == mmap.SyncSnapshot
	if o.Journal != "" {
		if snap, err = resumable(o.Journal, hdr, id); err != nil {
			return nil, err
		}
		if snap != nil {
			jw, err = openJournalAppend(o.Journal, snap.journalSize, durable)
		} else {
			jw, err = createJournal(o.Journal, hdr, durable)
			if err == nil {
				err = clearSnapshots(snapshot.Dir(o.Journal))
			}
		}
		if err != nil {
			return nil, err
		}
	}
	pos := uint64(0)
	if snap != nil {
		pos = snap.position
	}
	tr, err := dial(o.Index, pos)
	if err != nil {
		if jw != nil {
			jw.f.Close()
		}
		return nil, err
	}
	defer tr.Close()
	node := newNode(o.Index, o.Count, id, params, tr, jw)
	node.Waiting = o.Waiting
	w := run.New()
	rep.Workload = w
	cfg := run.Config(o.Shards)
	cfg.Partition = &engine.Partition{Index: o.Index, Cuts: cuts, Link: node}
	cfg.Progress, cfg.OnCell = o.Progress, o.OnCell
	if snap != nil {
		node.round, node.ch, node.next = snap.round, snap.chain, snap.position
		cfg.Resume = &snap.snap.CP
		rep.From = snap.snap.CP.Tick
	}
	if o.SnapshotEvery > 0 {
		dir := snapshot.Dir(o.Journal)
		if err := os.MkdirAll(dir, 0o755); err != nil {
			return nil, fmt.Errorf("partition snapshot: %w", err)
		}
		cfg.SnapshotEvery = o.SnapshotEvery
		cfg.Snapshot = func(cp *engine.Checkpoint) error {
			if err := jw.flush(); err != nil {
				return err
			}
			s := &partSnapshot{run: id, journalSize: jw.size, round: node.round, position: node.position(), chain: node.ch,
				snap: &snapshot.Snapshot{Params: params, Opts: run.Opts, CP: *cp}}
			if err := writeSnapshot(dir, cp.Tick, encodeSnapshot(s), durable); err != nil {
				return err
			}
			rep.Snaps++
			return nil
		}
	}
	start := time.Now()
	res, err := engine.Run(w, cfg)
	rep.Elapsed = time.Since(start)
	rep.Stats = node.Stats
	if err == nil {
		rep.Result = res
		if jw != nil {
			err = jw.end(End{Trace: res.Trace, State: res.State, Blocks: res.Blocks, Ticks: res.Ticks, Msgs: res.Msgs, Outcome: uint64(res.Outcome)})
		}
	}
	if jw != nil {
		if cerr := jw.close(); err == nil {
			err = cerr
		}
	}
	if err != nil {
		return rep, err
	}
	return rep, nil
}

// resumable returns the newest usable snapshot of the partition whose
// journal is at path, or nil to start over: no journal, an empty one, or
// one without a usable snapshot. A journal of another run (or another
// partition) is an error and is left untouched.
func resumable(path string, hdr *JournalHeader, id uint64) (*partSnapshot, error) {
	st, err := os.Stat(path)
	if errors.Is(err, fs.ErrNotExist) || err == nil && st.Size() == 0 {
		return nil, nil
	}
	if err != nil {
		return nil, fmt.Errorf("journal: %w", err)
	}
	r, err := OpenJournal(path)
	if err != nil {
		if errors.Is(err, ErrTorn) { // cut inside its header: nothing to keep
			return nil, nil
		}
		return nil, err
	}
	got := r.Header
	r.Close()
	if err := sameHeader(hdr, &got); err != nil || got.Index != hdr.Index {
		return nil, fmt.Errorf("journal: %s holds partition %d of another run (%q, program %016x, cuts %v, controls %+v), not partition %d of %q with program %016x, cuts %v and controls %+v",
			path, got.Index, got.Params, got.Program, got.Cuts, got.Opts, hdr.Index, hdr.Params, hdr.Program, hdr.Cuts, hdr.Opts)
	}
	names, err := listSnapshots(snapshot.Dir(path))
	if err != nil {
		return nil, fmt.Errorf("partition snapshot: %w", err)
	}
	for _, name := range names {
		b, err := os.ReadFile(name)
		if err != nil {
			continue
		}
		s, err := decodeSnapshot(b, hdr.Index, hdr.Params)
		if err != nil || s.run != id || s.journalSize > st.Size() || validPrefix(path, s.journalSize) != nil {
			continue
		}
		return s, nil
	}
	return nil, nil
}

// validPrefix checks that the first size bytes of the journal at path are
// whole records that check.
func validPrefix(path string, size int64) error {
	r, err := OpenJournal(path)
	if err != nil {
		return err
	}
	defer r.Close()
	buf := make([]byte, 1<<20)
	for r.Offset() < size {
		_, count, _, _, err := r.Next()
		if err != nil {
			return err
		}
		for left := count; left > 0; {
			got, err := r.Entries(buf)
			if err != nil {
				return err
			}
			left -= uint32(len(got) / 32)
		}
	}
	if r.Offset() != size {
		return fmt.Errorf("journal: %s: no record ends at %d", path, size)
	}
	return nil
}

// clearSnapshots removes a directory's partition snapshots (a journal
// created anew must not be continued from an earlier run's).
func clearSnapshots(dir string) error {
	names, err := listSnapshots(dir)
	if err != nil {
		return fmt.Errorf("partition snapshot: %w", err)
	}
	for _, n := range names {
		if err := os.Remove(n); err != nil {
			return fmt.Errorf("partition snapshot: %w", err)
		}
	}
	if len(names) > 0 {
		_ = os.Remove(filepath.Clean(dir)) // only if empty
	}
	return nil
}
