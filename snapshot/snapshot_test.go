package snapshot_test

import (
	"bytes"
	"encoding/binary"
	"os"
	"path/filepath"
	"reflect"
	"strconv"
	"strings"
	"testing"

	"github.com/cespare/xxhash/v2"
	"github.com/lexbench/lexbench/engine"
	"github.com/lexbench/lexbench/journal/mmap"
	"github.com/lexbench/lexbench/snapshot"
	"github.com/lexbench/lexbench/trace"
)

func sample() *snapshot.Snapshot {
	return &snapshot.Snapshot{
		Run:         [16]byte{1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15, 16},
		Params:      "lexbench/1 workload=banking n=100 seed=1 batch=10 banks=1 accounts=2",
		Opts:        snapshot.Options{MaxTicks: -1, MaxMsgs: 5000, Damp: true, SnapshotEvery: 7, Sync: mmap.SyncSnapshot, MaxInFlight: 1 << 20},
		JournalSize: 12345,
		CP: engine.Checkpoint{
			Tick: 14, Prev: 0xfeedface, Blocks: 13, Entries: 99, Msgs: 99, Dropped: 0, LastCount: 9, LastTick: 13,
			Faults: engine.FaultCounts{Dropped: 3, Duplicated: 4, Delayed: 5},
			Words:  []uint64{1, 2, 3, 4, 5},
			// messages of tick 14, then late ones (a delayed one and a duplicate's copy)
			Pending: []trace.Entry{{Tick: 14, Src: 0, Dst: 1, Kind: 1, A: 7, B: 8}, {Tick: 14, Src: 1, Dst: 1, Kind: 0},
				{Tick: 16, Src: 0, Dst: 1, Kind: 2, Flags: trace.FlagDelayed, A: 9}, {Tick: 3000, Src: 1, Dst: 0, Kind: 2, Flags: trace.FlagCopy, B: 1}},
			Detect: true, SavedTick: 7, NextCheck: 15,
			Touched:    []uint32{1, 2, 3},
			SavedWords: []uint64{9, 9, 9, 9},
			SavedMsgs:  []trace.Entry{{Tick: 7, Src: 1, Dst: 2, Kind: 3, A: 1, B: 2}},
		},
	}
}

// sampleLocal is a snapshot of a run with --detect local and damp: a
// damped cell, one silent, two watched searches and two input ticks.
func sampleLocal() *snapshot.Snapshot {
	s := sample()
	s.Opts.Local = true
	cp := &s.CP
	cp.SavedTick, cp.NextCheck, cp.Touched, cp.SavedWords, cp.SavedMsgs = 0, 0, []uint32{}, []uint64{}, []trace.Entry{}
	cp.Local, cp.Found = true, &engine.Oscillation{Tick: 9, Period: 2, Domains: 1, Cells: 2}
	cp.Damped = []engine.CellDamp{{Cell: 1, Tick: 9}, {Cell: 3, Silent: true, Tick: 12}}
	cp.Inputs = []engine.CellInput{{Cell: 1, Tick: 10}, {Cell: 5, Tick: 2}}
	cp.Watched = []engine.CellSearch{
		{Cell: 2, R: 10, C: 11, Touched: []uint32{2}, Words: []uint64{5}, Msgs: []trace.Entry{{Src: 2, Dst: 2, Kind: 3, A: 1}}},
		{Cell: 4, R: 0, C: 7, Touched: []uint32{4, 5, 6}, Words: []uint64{1, 2, 3}, Msgs: []trace.Entry{{Src: 4, Dst: 6}, {Src: 6, Dst: 5, B: 9}}},
	}
	return s
}

func TestEncodeDecodeRoundTrip(t *testing.T) {
	for _, found := range []bool{false, true} {
		s := sample()
		if found {
			s.CP.Detect, s.CP.Found = false, &engine.Oscillation{Tick: 12, Period: 4, Domains: 3}
		}
		b := snapshot.Encode(nil, s)
		got, err := snapshot.Decode(b)
		if err != nil {
			t.Fatal(err)
		}
		if !reflect.DeepEqual(got, s) {
			t.Fatalf("round trip:\n got %+v\nwant %+v", got, s)
		}
		if tick, err := snapshot.Tick(b); err != nil || tick != 14 {
			t.Fatalf("Tick: %d %v", tick, err)
		}
	}
	s := sampleLocal()
	got, err := snapshot.Decode(snapshot.Encode(nil, s))
	if err != nil || !reflect.DeepEqual(got, s) {
		t.Fatalf("local round trip: %v\n got %+v\nwant %+v", err, got, s)
	}
}

func TestEveryByteFlipAndEveryTruncationIsAnError(t *testing.T) {
	for _, s := range []*snapshot.Snapshot{sample(), sampleLocal()} {
		checkDamage(t, snapshot.Encode(nil, s))
	}
}

func checkDamage(t *testing.T, b []byte) {
	t.Helper()
	for i := range b {
		for _, bit := range []byte{1, 0x80} {
			c := bytes.Clone(b)
			c[i] ^= bit
			if _, err := snapshot.Decode(c); err == nil {
				t.Fatalf("flip of bit %#x in byte %d accepted", bit, i)
			}
		}
	}
	for n := 0; n < len(b); n++ {
		if _, err := snapshot.Decode(b[:n]); err == nil {
			t.Fatalf("truncation to %d bytes accepted", n)
		}
	}
	if _, err := snapshot.Decode(append(bytes.Clone(b), 0)); err == nil {
		t.Fatal("extra byte accepted")
	}
}

func TestWriteKeepsTheNewestAndReadChecksTheName(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "j.snapshots")
	if err := snapshot.Clear(dir); err != nil { // a missing directory is fine
		t.Fatal(err)
	}
	if err := os.Mkdir(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	s := sample()
	for _, tick := range []uint64{14, 28, 42, 56} {
		s.CP.Tick = tick
		for i := range s.CP.Pending {
			s.CP.Pending[i].Tick = uint32(tick)
		}
		if _, err := snapshot.Write(dir, tick, snapshot.Encode(nil, s), true); err != nil {
			t.Fatal(err)
		}
	}
	names, err := snapshot.List(dir)
	if err != nil || len(names) != snapshot.Keep || filepath.Base(names[0]) != snapshot.Name(56) || filepath.Base(names[1]) != snapshot.Name(42) {
		t.Fatalf("after 4 writes: %v %v", names, err)
	}
	if got, err := snapshot.Read(names[0]); err != nil || got.CP.Tick != 56 {
		t.Fatalf("read: %v", err)
	}
	// a snapshot under another tick's name is rejected
	b, _ := os.ReadFile(names[0])
	os.WriteFile(filepath.Join(dir, snapshot.Name(99)), b, 0o644)
	if _, err := snapshot.Read(filepath.Join(dir, snapshot.Name(99))); err == nil {
		t.Fatal("misnamed snapshot accepted")
	}
	if err := snapshot.Clear(dir); err != nil {
		t.Fatal(err)
	}
	if names, _ := snapshot.List(dir); len(names) != 0 {
		t.Fatalf("Clear left %v", names)
	}
}

func TestOptionsTextRoundTripAndDamage(t *testing.T) {
	for _, want := range []snapshot.Options{
		snapshot.DefaultOptions(),
		{MaxTicks: 5, MaxMsgs: -1, NoDetect: true, SnapshotEvery: 100, Sync: mmap.SyncNone},
		{MaxTicks: -1, MaxMsgs: 1 << 62, Damp: true, Sync: mmap.SyncSnapshot},
		{MaxTicks: -1, MaxMsgs: -1, MaxInFlight: engine.InFlightMax},
		{MaxTicks: 5, MaxMsgs: -1, Local: true, Damp: true, SnapshotEvery: 1, Sync: mmap.SyncEnd, MaxInFlight: 1000},
	} {
		text := snapshot.FormatOptions(want)
		got, err := snapshot.ParseOptions(text)
		if err != nil || got != want {
			t.Fatalf("%q: %+v %v", text, got, err)
		}
		for i := range text {
			c := []byte(text)
			c[i] ^= 1
			if o, err := snapshot.ParseOptions(string(c)); err == nil && o == want {
				t.Fatalf("flip at %d of %q parsed as the same options", i, text)
			}
		}
	}
	for _, bad := range []string{"", "max-ticks=-2 max-msgs=-1 damp=0 no-detect=0 detect=global snapshot-every=0 sync=end max-inflight=0",
		"max-ticks=1 max-msgs=-1 damp=2 no-detect=0 detect=global snapshot-every=0 sync=end max-inflight=0",
		"max-ticks=1 max-msgs=-1 damp=0 no-detect=0 detect=global snapshot-every=0 sync=later max-inflight=0",
		"max-ticks=1 max-msgs=-1 damp=0 no-detect=0 detect=cells snapshot-every=0 sync=end max-inflight=0",
		"max-ticks=1 max-msgs=-1 damp=0 no-detect=0 detect= snapshot-every=0 sync=end max-inflight=0",
		"max-ticks=1 max-msgs=-1 damp=0 no-detect=0 snapshot-every=0 sync=end max-inflight=0",
		"max-ticks=1 max-msgs=-1 damp=0 no-detect=0 detect=global snapshot-every=0 sync=end max-inflight=-1",
		"max-ticks=1 max-msgs=-1 damp=0 no-detect=0 detect=global snapshot-every=0 sync=end max-inflight=2147483648",
		"max-ticks=1 max-msgs=-1 damp=0 no-detect=0 detect=global snapshot-every=0 sync=end"} {
		if _, err := snapshot.ParseOptions(bad); err == nil {
			t.Errorf("%q accepted", bad)
		}
	}
}

// seal wraps body in a header with valid checksums, so that fuzzed bodies
// reach the body parser.
func seal(tick uint64, body []byte) []byte {
	h := make([]byte, 64, 64+len(body))
	copy(h, "LEXSNAP1")
	binary.LittleEndian.PutUint32(h[8:], 4) // the format version
	binary.LittleEndian.PutUint64(h[16:], tick)
	binary.LittleEndian.PutUint64(h[24:], uint64(len(body)))
	binary.LittleEndian.PutUint64(h[32:], xxhash.Sum64(body))
	copy(h[48:], "run id, 16 bytes")
	binary.LittleEndian.PutUint64(h[40:], xxhash.Sum64(append(h[:40:40], h[48:64]...)))
	return append(h, body...)
}

// FuzzDecode: Decode never panics and never allocates beyond the input's
// size on hostile counts; whatever it accepts re-encodes to the same bytes.
// Each input is tried as a whole file and, sealed with valid checksums, as
// a body.
func FuzzDecode(f *testing.F) {
	full := snapshot.Encode(nil, sample())
	f.Add(full)
	f.Add(full[64:])
	local := snapshot.Encode(nil, sampleLocal())
	f.Add(local)
	f.Add(local[64:])
	f.Add([]byte("LEXSNAP1"))
	f.Fuzz(func(t *testing.T, b []byte) {
		for _, in := range [][]byte{b, seal(14, b)} {
			s, err := snapshot.Decode(in)
			if err != nil {
				continue
			}
			if again := snapshot.Encode(nil, s); !bytes.Equal(again, in) {
				t.Fatalf("accepted input does not re-encode to itself")
			}
		}
	})
}

// TestCommittedCorpusDecodes: the FuzzDecode seeds taken from real runs
// (testdata/fuzz/FuzzDecode/run-*) are snapshots of the current format, so
// the fuzzer starts from valid files (a format change must renew them).
func TestCommittedCorpusDecodes(t *testing.T) {
	names, _ := filepath.Glob("testdata/fuzz/FuzzDecode/run-*")
	n := 0
	for _, name := range names {
		b, err := os.ReadFile(name)
		if err != nil {
			t.Fatal(err)
		}
		text, ok := strings.CutPrefix(string(b), "go test fuzz v1\n[]byte(")
		text, ok2 := strings.CutSuffix(text, ")\n")
		v, err := strconv.Unquote(text)
		if !ok || !ok2 || err != nil {
			t.Fatalf("%s: not a []byte corpus entry: %v", name, err)
		}
		in := []byte(v)
		if strings.HasSuffix(name, "-body") {
			in = seal(1, in) // the header's tick does not matter for decoding a body
		}
		if _, err := snapshot.Decode(in); err != nil {
			t.Errorf("%s: %v", name, err)
		}
		n++
	}
	if n < 4 {
		t.Fatalf("only %d corpus seeds from runs", n)
	}
}
