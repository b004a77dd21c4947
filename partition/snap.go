package partition

import (
	"encoding/binary"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"

	"github.com/cespare/xxhash/v2"
	"github.com/lexbench/lexbench/engine"
	"github.com/lexbench/lexbench/snapshot"
	"github.com/lexbench/lexbench/trace"
)

// A partition's snapshot, J.snapshots/part-TTTTTTTTTT.lxp beside its
// journal J: everything a killed partition process needs to continue at
// tick T. All integers little-endian.
//
//	header (64 bytes)
//	    0   [8]byte magic "LEXPSNP1"
//	    8   u32     version = 1
//	    12  u32     zero
//	    16  u64     tick T
//	    24  u64     body length L
//	    32  u64     xxhash64 of the body
//	    40  u64     xxhash64 of header[0:40]
//	    48  [16]byte zero
//	body
//	    u64 run identity, u64 journal size (where the journal continues)
//	    u64 the node's next round, u64 its transport position
//	    chain: u64 head, blocks chained, blocks laid out; per block not
//	        chained yet: u32 count, u32 known, u64 content hash; waiting
//	        pieces: u64 block, i64 next holder, u64 n, n entries; digests
//	        to send: u64 block, i64 to, u64 length, state (padded to 8);
//	        hashes to send: u64 block, u64 hash (each list after its u64
//	        count)
//	    u64 length + the engine's checkpoint as a snapshot file
//	        (package snapshot's format; its words are this partition's)
//	    partition checkpoint: u64 index, u64 count + cuts (u64 each), u64
//	        count + inbound entries, u64 count + mirrored entries, u64 count
//	        + cycle domains (u64 each)

var snapMagic = [8]byte{'L', 'E', 'X', 'P', 'S', 'N', 'P', '1'}

const (
	snapVersion    = 1
	snapHeaderSize = 64
	// snapKeep is how many snapshots a partition keeps.
	snapKeep = 2
)

// partSnapshot is a partition's snapshot, decoded.
type partSnapshot struct {
	run         uint64
	journalSize int64
	round       uint64
	position    uint64
	chain       *chain
	snap        *snapshot.Snapshot // the engine's checkpoint (Part set)
}

func snapName(t uint64) string { return fmt.Sprintf("part-%010d.lxp", t) }

func encodeSnapshot(s *partSnapshot) []byte {
	b := make([]byte, snapHeaderSize)
	u := func(v uint64) { b = binary.LittleEndian.AppendUint64(b, v) }
	entries := func(es []trace.Entry) {
		u(uint64(len(es)))
		for i := range es {
			b = trace.AppendEntry(b, &es[i])
		}
	}
	u(s.run)
	u(uint64(s.journalSize))
	u(s.round)
	u(s.position)
	c := s.chain
	u(c.prev)
	u(c.next)
	u(c.laid)
	for i := range c.counts {
		b = binary.LittleEndian.AppendUint32(b, c.counts[i])
		b = binary.LittleEndian.AppendUint32(b, uint32(b2u8(c.known[i])))
		u(c.hashes[i])
	}
	u(uint64(len(c.wait)))
	for _, p := range c.wait {
		u(p.block)
		u(uint64(int64(p.to)))
		entries(p.entries)
	}
	u(uint64(len(c.digOut)))
	for _, d := range c.digOut {
		u(d.block)
		u(uint64(int64(d.to)))
		u(uint64(len(d.state)))
		b = append(b, d.state...)
		b = append(b, make([]byte, pad8(len(d.state)))...)
	}
	u(uint64(len(c.hashOut)))
	for _, h := range c.hashOut {
		u(h.block)
		u(h.hash)
	}
	es := snapshot.Encode(nil, s.snap)
	u(uint64(len(es)))
	b = append(b, es...)
	pc := s.snap.CP.Part
	u(uint64(pc.Index))
	u(uint64(len(pc.Cuts)))
	for _, x := range pc.Cuts {
		u(uint64(x))
	}
	entries(pc.Inbound)
	entries(pc.Mirrors)
	u(uint64(len(pc.Cycle)))
	for _, x := range pc.Cycle {
		u(uint64(x))
	}
	sealSnapshot(b, s.snap.CP.Tick)
	return b
}

// sealSnapshot fills the header of b, a snapshot of tick t whose body
// follows the header: magic, version, tick, the body's length and
// checksum, and the header's checksum.
func sealSnapshot(b []byte, t uint64) {
	h := b[:snapHeaderSize]
	clear(h)
	copy(h, snapMagic[:])
	binary.LittleEndian.PutUint32(h[8:], snapVersion)
	binary.LittleEndian.PutUint64(h[16:], t)
	binary.LittleEndian.PutUint64(h[24:], uint64(len(b)-snapHeaderSize))
	binary.LittleEndian.PutUint64(h[32:], xxhash.Sum64(b[snapHeaderSize:]))
	binary.LittleEndian.PutUint64(h[40:], xxhash.Sum64(h[:40]))
}

type snapDecoder struct {
	b   []byte
	err error
}

func (d *snapDecoder) u64() uint64 {
	if d.err != nil || len(d.b) < 8 {
		d.fail("truncated")
		return 0
	}
	v := binary.LittleEndian.Uint64(d.b)
	d.b = d.b[8:]
	return v
}

func (d *snapDecoder) fail(what string) {
	if d.err == nil {
		d.err = fmt.Errorf("damaged partition snapshot: %s", what)
	}
}

// count reads a count of items of at least size bytes each, checked
// against what is left.
func (d *snapDecoder) count(size uint64) int {
	n := d.u64()
	if d.err == nil && n > uint64(len(d.b))/size {
		d.fail("a count does not fit")
	}
	if d.err != nil {
		return 0
	}
	return int(n)
}

func (d *snapDecoder) bytes(n uint64) []byte {
	if d.err != nil || n > uint64(len(d.b)) {
		d.fail("truncated")
		return nil
	}
	v := d.b[:n]
	d.b = d.b[n:]
	return v
}

func (d *snapDecoder) entries() []trace.Entry {
	n := d.count(trace.EntrySize)
	raw := d.bytes(uint64(n) * trace.EntrySize)
	es := make([]trace.Entry, n)
	for i := range es {
		es[i] = trace.DecodeEntry(raw[i*trace.EntrySize:])
	}
	return es
}

func decodeSnapshot(b []byte, k int, params string) (*partSnapshot, error) {
	if len(b) < snapHeaderSize || [8]byte(b[:8]) != snapMagic {
		return nil, errors.New("not a partition snapshot")
	}
	h := b[:snapHeaderSize]
	if xxhash.Sum64(h[:40]) != binary.LittleEndian.Uint64(h[40:]) {
		return nil, errors.New("partition snapshot header checksum mismatch")
	}
	if v := binary.LittleEndian.Uint32(h[8:]); v != snapVersion {
		return nil, fmt.Errorf("unsupported partition snapshot version %d", v)
	}
	body := b[snapHeaderSize:]
	if binary.LittleEndian.Uint64(h[24:]) != uint64(len(body)) || xxhash.Sum64(body) != binary.LittleEndian.Uint64(h[32:]) {
		return nil, errors.New("partition snapshot body length or checksum mismatch")
	}
	d := &snapDecoder{b: body}
	s := &partSnapshot{run: d.u64(), journalSize: int64(d.u64()), round: d.u64(), position: d.u64()}
	c := newChain(k, params)
	c.prev, c.next, c.laid = d.u64(), d.u64(), d.u64()
	if d.err == nil && (c.next > c.laid || c.laid-c.next > uint64(len(d.b))/16) {
		d.fail("chain counts")
	}
	for i := c.next; d.err == nil && i < c.laid; i++ {
		w := d.u64()
		c.counts = append(c.counts, uint32(w))
		c.known = append(c.known, w>>32 != 0)
		c.hashes = append(c.hashes, d.u64())
		if uint32(w) == 0 || uint32(w) > trace.BlockEntriesMax || w>>32 > 1 {
			d.fail("block count")
		}
	}
	for n := d.count(24); n > 0; n-- {
		c.wait = append(c.wait, piece{block: d.u64(), to: int(int64(d.u64())), entries: d.entries()})
	}
	for n := d.count(24); n > 0; n-- {
		di := digestItem{block: d.u64(), to: int(int64(d.u64()))}
		l := d.u64()
		di.state = slices.Clone(d.bytes(l))
		d.bytes(uint64(pad8(int(l))))
		c.digOut = append(c.digOut, di)
	}
	for n := d.count(16); n > 0; n-- {
		c.hashOut = append(c.hashOut, hashItem{d.u64(), d.u64()})
	}
	s.chain = c
	es := d.bytes(d.u64())
	if d.err != nil {
		return nil, d.err
	}
	snap, err := snapshot.Decode(es)
	if err != nil {
		return nil, err
	}
	if snap.Params != params {
		return nil, fmt.Errorf("partition snapshot of params %q, not %q", snap.Params, params)
	}
	pc := &engine.PartCheckpoint{Index: int(d.u64())}
	for n := d.count(8); n > 0; n-- {
		pc.Cuts = append(pc.Cuts, uint32(d.u64()))
	}
	pc.Inbound = d.entries()
	pc.Mirrors = d.entries()
	for n := d.count(8); n > 0; n-- {
		pc.Cycle = append(pc.Cycle, uint32(d.u64()))
	}
	if d.err == nil && len(d.b) != 0 {
		d.fail("bytes after the end")
	}
	if d.err != nil {
		return nil, d.err
	}
	if snap.CP.Tick != binary.LittleEndian.Uint64(h[16:]) || pc.Index != k {
		return nil, errors.New("partition snapshot's tick or partition does not match its header")
	}
	snap.CP.Part = pc
	s.snap = snap
	return s, nil
}

// listSnapshots lists dir's partition snapshots, newest first.
func listSnapshots(dir string) ([]string, error) {
	ents, err := os.ReadDir(dir)
	if err != nil {
		if os.IsNotExist(err) {
			return nil, nil
		}
		return nil, err
	}
	var names []string
	for _, e := range ents {
		n := e.Name()
		if t, ok := strings.CutPrefix(n, "part-"); ok && strings.HasSuffix(t, ".lxp") {
			if _, err := strconv.ParseUint(strings.TrimSuffix(t, ".lxp"), 10, 64); err == nil && len(t) == 14 {
				names = append(names, filepath.Join(dir, n))
			}
		}
	}
	slices.Sort(names)
	slices.Reverse(names)
	return names, nil
}

// writeSnapshot writes a partition's snapshot into dir and removes all
// but the newest snapKeep.
func writeSnapshot(dir string, t uint64, data []byte, durable bool) error {
	if err := snapshot.WriteAtomic(dir, snapName(t), data, durable); err != nil {
		return fmt.Errorf("partition snapshot: %w", err)
	}
	names, err := listSnapshots(dir)
	if err != nil {
		return fmt.Errorf("partition snapshot: %w", err)
	}
	for _, old := range names[min(snapKeep, len(names)):] {
		if err := os.Remove(old); err != nil {
			return fmt.Errorf("partition snapshot: %w", err)
		}
	}
	return nil
}
