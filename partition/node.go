package partition

import (
	"bytes"
	"fmt"
	"time"

	"github.com/lexbench/lexbench/engine"
	"github.com/lexbench/lexbench/trace"
)

// Transport moves a run's chunks between its partitions. It is the only
// part of the exchange that does I/O; its timing never reaches a result:
// a node waits for a round's chunks, in whatever order they come.
type Transport interface {
	// Send sends a chunk of round from this partition to dst (chunk
	// index i); it may return before the chunk is stored. The transport
	// owns chunk from then on.
	Send(round uint64, dst, i int, chunk []byte) error
	// Flush waits until every chunk sent is stored.
	Flush() error
	// Next returns the next chunk addressed to this partition (the
	// caller's from then on; it does not change it) and its position
	// (positions ascend; a restart's position is one of them).
	Next() (chunk []byte, pos uint64, err error)
	// Close stops the transport; a waiting Next returns an error.
	Close()
}

// Node is a partition's side of the exchange (engine.Link): it encodes the
// engine's rounds, sends them through its Transport, assembles the other
// partitions', hashes the trace across partitions (chain) and writes the
// partition's journal.
type Node struct {
	k, P  int
	run   uint64
	tr    Transport
	round uint64
	ch    *chain
	j     *journalWriter // nil: no journal

	pending map[uint64]*roundBuf // rounds being gathered, this one and later ones
	next    uint64               // position after the last chunk taken from the transport
	wire    []wireMsg            // the last round's messages (all points into it)
	all     []*engine.PartMsg
	dwire   []wireMsg // a drain round's (the end round's stay valid)
	dall    []*engine.PartMsg
	body    []byte
	heads   []trace.BlockHeader
	delivd  []uint64

	// Stats: what the exchange cost (benchmarks).
	Stats Stats
	// Waiting, if set, is told when a round has waited long for another
	// partition (a stall: it goes on when the partition comes back).
	Waiting func(what string)
}

// Stats counts a node's exchange.
type Stats struct {
	Rounds     uint64
	BytesSent  uint64 // chunk bytes sent
	ChunksSent uint64
	Wait       time.Duration // time spent waiting for the other partitions
}

// roundBuf gathers one round's chunks.
type roundBuf struct {
	src  []srcBuf
	done int    // sources complete
	min  uint64 // least position of its chunks
}

type srcBuf struct {
	chunks [][]byte
	have   uint32
	n      uint32
	length uint64
}

// NewNode returns partition k of P's node for the run with identity run
// and params (the chain's first link), over tr, journaling to j (nil: no
// journal). The node starts at round 0 with the chain at its start; a
// restarted partition's node is set from its snapshot (restore).
func newNode(k, P int, run uint64, params string, tr Transport, j *journalWriter) *Node {
	n := &Node{k: k, P: P, run: run, tr: tr, ch: newChain(k, params), j: j, pending: map[uint64]*roundBuf{},
		wire: make([]wireMsg, P), all: make([]*engine.PartMsg, P), dwire: make([]wireMsg, P), dall: make([]*engine.PartMsg, P),
		delivd: make([]uint64, P)}
	return n
}

// Chain implements engine.Link.
func (n *Node) Chain() (head, blocks uint64) { return n.ch.prev, n.ch.next }

// Exchange implements engine.Link.
func (n *Node) Exchange(m *engine.PartMsg) ([]*engine.PartMsg, error) {
	all, err := n.exchange(uint8(m.Kind), m, n.wire, n.all)
	if err != nil {
		return nil, err
	}
	if m.Kind == engine.RoundEnd {
		if err := n.drain(); err != nil {
			return nil, err
		}
	}
	return all, nil
}

// drain runs rounds after the end until every partition's chain is
// complete: a round in which no partition has chain work left exchanged
// nothing, so all agree when to stop.
func (n *Node) drain() error {
	var empty engine.PartMsg
	for {
		busy := n.ch.busy()
		if _, err := n.exchange(kindDrain, &empty, n.dwire, n.dall); err != nil {
			return err
		}
		idle := !busy
		for i := range n.dwire {
			if i != n.k {
				idle = idle && !n.dwire[i].busy
			}
		}
		if idle {
			break
		}
	}
	if !n.ch.complete() {
		return fmt.Errorf("partition %d: the chain stops at block %d of %d after the last round", n.k, n.ch.next, n.ch.laid)
	}
	return nil
}

// exchange runs one round: this partition's message out, the others' in,
// then the chain's work and the journal's.
func (n *Node) exchange(kind uint8, m *engine.PartMsg, wire []wireMsg, all []*engine.PartMsg) ([]*engine.PartMsg, error) {
	r := n.round
	busy := n.ch.busy()
	for j := 0; j < n.P; j++ {
		if j == n.k {
			continue
		}
		n.body = encodeBody(n.body[:0], kind, m, busy, n.ch.digOut, n.ch.hashOut, j)
		h := chunkHead{run: n.run, round: r, src: n.k, dst: j}
		err := appendChunks(n.body, h, chunkBytesMax, nil, func(i int, c []byte) error {
			n.Stats.BytesSent += uint64(len(c))
			n.Stats.ChunksSent++
			return n.tr.Send(r, j, i, c)
		})
		if err != nil {
			return nil, err
		}
	}
	n.ch.digOut, n.ch.hashOut = n.ch.digOut[:0], n.ch.hashOut[:0]
	start := time.Now()
	rb, err := n.gather(r)
	n.Stats.Wait += time.Since(start)
	if err != nil {
		return nil, err
	}
	for i := range all {
		if i == n.k {
			all[i] = m
			wire[i].kind = kind
			continue
		}
		sb := &rb.src[i]
		body := sb.chunks[0]
		if len(sb.chunks) > 1 {
			body = bytes.Join(sb.chunks, nil)
		}
		w := &wire[i]
		if err := decodeBody(body, w); err != nil {
			return nil, fmt.Errorf("partition %d's message of round %d: %w", i, r, err)
		}
		if w.kind != kind || w.Tick != m.Tick {
			return nil, fmt.Errorf("round %d: partition %d is at a %s round of tick %d, partition %d at a %s round of tick %d: the partitions disagree (were they started with the same run?)",
				r, i, kindName(w.kind), w.Tick, n.k, kindName(kind), m.Tick)
		}
		all[i] = &w.PartMsg
	}
	delete(n.pending, r)
	n.round++
	n.Stats.Rounds++
	if kind == uint8(engine.RoundTick) && m.Tick > 0 {
		base := uint64(0)
		for i, a := range all {
			n.delivd[i] = a.Delivered
			if i < n.k {
				base += a.Delivered
			}
		}
		if err := n.ch.layout(n.delivd, m.Segment); err != nil {
			return nil, err
		}
		if n.j != nil {
			if err := n.j.segment(m.Tick-1, base, m.Segment); err != nil {
				return nil, err
			}
		}
	}
	for i := range wire {
		if i == n.k {
			continue
		}
		for _, d := range wire[i].digs {
			if err := n.ch.digest(d.block, d.state); err != nil {
				return nil, err
			}
		}
		for _, h := range wire[i].hashes {
			n.ch.learn(h.block, h.hash)
		}
	}
	n.heads = n.ch.advance(n.heads[:0])
	if n.j != nil && len(n.heads) > 0 {
		if err := n.j.headers(n.heads); err != nil {
			return nil, err
		}
	}
	if err := n.tr.Flush(); err != nil {
		return nil, err
	}
	return all, nil
}

func kindName(k uint8) string {
	switch k {
	case uint8(engine.RoundTick):
		return "tick"
	case uint8(engine.RoundDecide):
		return "decide"
	case uint8(engine.RoundEnd):
		return "end"
	}
	return "drain"
}

// gather takes chunks from the transport until round r is complete.
// Chunks of earlier rounds (sent again by a restarted partition) are
// passed over; a chunk that repeats one of this or a later round must be
// the same bytes, else a partition is not deterministic.
func (n *Node) gather(r uint64) (*roundBuf, error) {
	if n.P == 1 { // a run of one partition exchanges nothing
		return &roundBuf{}, nil
	}
	for {
		if rb := n.pending[r]; rb != nil && rb.done == n.P-1 {
			return rb, nil
		}
		c, pos, err := n.tr.Next()
		if err == errStill {
			n.still(r)
			continue
		}
		if err != nil {
			return nil, err
		}
		n.next = pos + 1
		h, part, err := openChunk(c)
		if err != nil {
			return nil, fmt.Errorf("partition %d: %w", n.k, err)
		}
		switch {
		case h.run != n.run:
			return nil, fmt.Errorf("partition %d got a message of another run (%016x, not %016x)", n.k, h.run, n.run)
		case h.dst != n.k || h.src < 0 || h.src >= n.P || h.src == n.k:
			return nil, fmt.Errorf("partition %d got a message from %d to %d", n.k, h.src, h.dst)
		case h.round < r:
			continue
		}
		rb := n.pending[h.round]
		if rb == nil {
			rb = &roundBuf{src: make([]srcBuf, n.P), min: pos}
			n.pending[h.round] = rb
		}
		sb := &rb.src[h.src]
		if sb.chunks == nil {
			sb.chunks, sb.n, sb.length = make([][]byte, h.n), h.n, h.bodyLen
		}
		if h.n != sb.n || h.bodyLen != sb.length {
			return nil, fmt.Errorf("partition %d sent round %d twice, differently (nondeterminism)", h.src, h.round)
		}
		if old := sb.chunks[h.index]; old != nil {
			if !bytes.Equal(old, part) {
				return nil, fmt.Errorf("partition %d sent round %d twice, differently (nondeterminism)", h.src, h.round)
			}
			continue
		}
		sb.chunks[h.index] = part // the transport's chunk is ours
		sb.have++
		if sb.have == sb.n {
			rb.done++
		}
	}
}

// still tells Waiting which partitions round r waits for.
func (n *Node) still(r uint64) {
	if n.Waiting == nil {
		return
	}
	var missing []int
	rb := n.pending[r]
	for i := 0; i < n.P; i++ {
		if i != n.k && (rb == nil || rb.src[i].n == 0 || rb.src[i].have < rb.src[i].n) {
			missing = append(missing, i)
		}
	}
	n.Waiting(fmt.Sprintf("partition %d: round %d: waiting for partition(s) %v", n.k, r, missing))
}

// position is where a partition restarted at the next round must start
// taking chunks from the transport: the first chunk of any later round it
// holds, else the next it has not taken.
func (n *Node) position() uint64 {
	p := n.next
	for r, rb := range n.pending { // a minimum: order does not matter
		if r >= n.round && rb.min < p {
			p = rb.min
		}
	}
	return p
}
