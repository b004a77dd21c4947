package replica

import (
	"context"
	"encoding/binary"
	"encoding/json"
	"errors"
	"fmt"
	"regexp"

	"github.com/cespare/xxhash/v2"
	"github.com/lexbench/lexbench/engine"
	"github.com/lexbench/lexbench/trace"
	"github.com/nats-io/nats.go/jetstream"
)

// A replica publishes its checkpoints to the run's key-value bucket:
//
//	NAME.blocks.FFFFFFFFFFFF   the hashes of blocks F .. F+k-1 (k ≤ batchBlocks,
//	                           F a multiple of batchBlocks): "LXCK", u32 k,
//	                           u64 F, k × u64 block hash, u64 xxhash64 of
//	                           everything before it; little-endian
//	NAME.end                   the replica's result (JSON, EndRecord)
//
// A batch is put when it is full, at every snapshot (before the snapshot
// is written, so a snapshot never refers to hashes the bucket lacks) and
// at the end. A block's hash is its chain hash (SPEC §3), so two replicas
// that agree on block b agree on every block before it.

// batchBlocks is the number of block hashes per bucket entry.
const batchBlocks = 1024

func batchBytes(k int) int { return 4 + 4 + 8 + 8*k + 8 }

var batchMagic = [4]byte{'L', 'X', 'C', 'K'}

func encodeBatch(first uint64, hashes []uint64) []byte {
	b := make([]byte, 0, batchBytes(len(hashes)))
	b = append(b, batchMagic[:]...)
	b = binary.LittleEndian.AppendUint32(b, uint32(len(hashes)))
	b = binary.LittleEndian.AppendUint64(b, first)
	for _, h := range hashes {
		b = binary.LittleEndian.AppendUint64(b, h)
	}
	return binary.LittleEndian.AppendUint64(b, xxhash.Sum64(b))
}

func decodeBatch(b []byte) (first uint64, hashes []uint64, err error) {
	if len(b) < batchBytes(0) || [4]byte(b[:4]) != batchMagic {
		return 0, nil, errors.New("not a checkpoint batch")
	}
	k := binary.LittleEndian.Uint32(b[4:])
	if k == 0 || k > batchBlocks || len(b) != batchBytes(int(k)) || xxhash.Sum64(b[:len(b)-8]) != binary.LittleEndian.Uint64(b[len(b)-8:]) {
		return 0, nil, errors.New("damaged checkpoint batch")
	}
	first = binary.LittleEndian.Uint64(b[8:])
	if first%batchBlocks != 0 {
		return 0, nil, errors.New("checkpoint batch not aligned")
	}
	hashes = make([]uint64, k)
	for i := range hashes {
		hashes[i] = binary.LittleEndian.Uint64(b[16+8*i:])
	}
	return first, hashes, nil
}

func batchKey(name string, first uint64) string { return fmt.Sprintf("%s.blocks.%012d", name, first) }
func endKey(name string) string                 { return name + ".end" }

// nameRE is what a replica may be called: it is a token of bucket keys.
var nameRE = regexp.MustCompile(`^[A-Za-z0-9_-]{1,64}$`)

// CheckName checks a replica name.
func CheckName(name string) error {
	if !nameRE.MatchString(name) {
		return fmt.Errorf("replica name %q: want 1..64 of A-Z a-z 0-9 _ -", name)
	}
	return nil
}

// EndRecord is a replica's result, as it puts it into the bucket.
type EndRecord struct {
	Name        string              `json:"name"`
	Params      string              `json:"params"`
	Trace       string              `json:"trace"`
	State       string              `json:"state"`
	Outcome     string              `json:"outcome"`
	Ticks       uint64              `json:"ticks"`
	Msgs        uint64              `json:"msgs"`
	Blocks      uint64              `json:"blocks"`
	Dropped     uint64              `json:"dropped"`
	Oscillation *engine.Oscillation `json:"oscillation,omitempty"`
	Violation   string              `json:"violation,omitempty"`
	Shards      int                 `json:"shards"`
}

func endRecord(name, params string, shards int, res engine.Result) *EndRecord {
	e := &EndRecord{Name: name, Params: params, Trace: fmt.Sprintf("%016x", res.Trace), State: fmt.Sprintf("%016x", res.State),
		Outcome: res.Outcome.String(), Ticks: res.Ticks, Msgs: res.Msgs, Blocks: res.Blocks, Dropped: res.Dropped,
		Oscillation: res.Oscillation, Shards: shards}
	if res.Violation != nil {
		e.Violation = res.Violation.Error()
	}
	return e
}

// createBucket creates the run's checkpoint bucket, or opens it.
func (c *Conn) createBucket(ctx context.Context, run *Run, replicas int) (jetstream.KeyValue, error) {
	kv, err := c.js.CreateKeyValue(ctx, bucketConfig(run, replicas))
	if errors.Is(err, jetstream.ErrBucketExists) {
		kv, err = c.js.KeyValue(ctx, run.BucketName())
	}
	if err != nil {
		return nil, fmt.Errorf("nats: checkpoint bucket %s: %w", run.BucketName(), err)
	}
	return kv, nil
}

// checkpointer collects a replica's block hashes and puts them into the
// bucket from its own goroutine, so the engine does not wait for the
// server except at snapshots and the end.
type checkpointer struct {
	ctx    context.Context
	kv     jetstream.KeyValue
	name   string
	first  uint64   // index of hashes[0]
	hashes []uint64 // the batch being filled
	puts   chan kvPut
	done   chan struct{}
	err    error // the writer's first error (read after a sync)
}

type kvPut struct {
	key   string
	val   []byte
	reply chan error // a sync marker when set
}

func newCheckpointer(ctx context.Context, kv jetstream.KeyValue, name string) *checkpointer {
	c := &checkpointer{ctx: ctx, kv: kv, name: name, puts: make(chan kvPut, 64), done: make(chan struct{})}
	go c.write()
	return c
}

func (c *checkpointer) write() {
	defer close(c.done)
	for p := range c.puts {
		if p.reply != nil {
			p.reply <- c.err
			continue
		}
		if c.err == nil {
			if _, err := c.kv.Put(c.ctx, p.key, p.val); err != nil {
				c.err = fmt.Errorf("nats: checkpoint %s: %w", p.key, err)
			}
		}
	}
}

// resume continues a replica that restarts at block index blocks, whose
// last block has hash prev: the bucket has the hashes of its batch before
// blocks (a snapshot puts them before it is written).
func (c *checkpointer) resume(blocks, prev uint64) error {
	c.first = blocks / batchBlocks * batchBlocks
	c.hashes = c.hashes[:0]
	if blocks == c.first {
		return nil
	}
	key := batchKey(c.name, c.first)
	e, err := c.kv.Get(c.ctx, key)
	if err != nil {
		return fmt.Errorf("checkpoint %s: %w (the replica's snapshot needs the block hashes before it)", key, err)
	}
	first, hashes, err := decodeBatch(e.Value())
	switch {
	case err != nil:
		return fmt.Errorf("checkpoint %s: %w", key, err)
	case first != c.first || uint64(len(hashes)) < blocks-first || hashes[blocks-first-1] != prev:
		return fmt.Errorf("checkpoint %s does not continue into the snapshot's block %d (hash %016x)", key, blocks-1, prev)
	}
	c.hashes = append(c.hashes, hashes[:blocks-first]...)
	return nil
}

// add records block index's hash; indexes come in order.
func (c *checkpointer) add(index, hash uint64) error {
	if index != c.first+uint64(len(c.hashes)) {
		return fmt.Errorf("replica: block %d after block %d", index, c.first+uint64(len(c.hashes))-1)
	}
	c.hashes = append(c.hashes, hash)
	if len(c.hashes) == batchBlocks {
		c.puts <- kvPut{key: batchKey(c.name, c.first), val: encodeBatch(c.first, c.hashes)}
		c.first += batchBlocks
		c.hashes = c.hashes[:0]
	}
	return nil
}

// sync puts the partial batch and waits until every put is done.
func (c *checkpointer) sync() error {
	if len(c.hashes) > 0 {
		c.puts <- kvPut{key: batchKey(c.name, c.first), val: encodeBatch(c.first, c.hashes)}
	}
	reply := make(chan error, 1)
	c.puts <- kvPut{reply: reply}
	return <-reply
}

// close puts everything left and, if end is set, the end record.
func (c *checkpointer) close(end *EndRecord) error {
	err := c.sync()
	if err == nil && end != nil {
		b, _ := json.Marshal(end)
		if _, err = c.kv.Put(c.ctx, endKey(c.name), b); err != nil {
			err = fmt.Errorf("nats: checkpoint %s: %w", endKey(c.name), err)
		}
	}
	close(c.puts)
	<-c.done
	return err
}

// hashTap is an engine.Journal that passes each tick's region on to j (or,
// with j nil, to a scratch buffer) and reads the block headers the engine
// wrote into it: every block's index and chain hash.
type hashTap struct {
	j       engine.Journal
	region  []byte
	scratch []byte
	add     func(index, hash uint64) error
	err     error
}

func (h *hashTap) Reserve(n int) ([]byte, error) {
	if err := h.flush(); err != nil {
		return nil, err
	}
	var b []byte
	var err error
	if h.j == nil {
		if cap(h.scratch) < n {
			h.scratch = make([]byte, n)
		}
		b = h.scratch[:n]
	} else if b, err = h.j.Reserve(n); err != nil {
		return nil, err
	}
	h.region = b
	return b, nil
}

// flush reads the headers of the last region (complete at a tick boundary).
func (h *hashTap) flush() error {
	b := h.region
	h.region = nil
	for off := 0; off+trace.BlockHeaderSize <= len(b) && h.err == nil; {
		hd, ok := trace.DecodeBlockHeader(b[off:])
		if !ok {
			h.err = errors.New("replica: a journal region without a block header")
			break
		}
		h.err = h.add(hd.Index, hd.Hash)
		off += trace.BlockHeaderSize + int(hd.Count)*trace.EntrySize
	}
	return h.err
}
