package partition

import (
	"errors"
	"fmt"

	"github.com/cespare/xxhash/v2"
	"github.com/lexbench/lexbench/trace"
)

// The trace hash across partitions (SPEC §3; docs/distributed.md §3).
//
// A tick's messages in ≺ order are the concatenation, in partition order,
// of the partitions' parts; SPEC cuts them into blocks of at most 4096
// entries. Once a round has brought every partition's count of messages
// delivered at a tick, every partition knows where the blocks fall, which
// of them lie in its part and who holds each block's pieces. A block in one
// partition's part is hashed there. A block that spans partitions is hashed
// in pieces with xxhash64's streaming state: its first holder hashes its
// piece and hands the digest's state (MarshalBinary: 76 bytes; entries are
// 32 bytes, one xxhash stripe, so the state never holds a partial stripe)
// to the next holder in its next round; the last holder finishes it. This
// is exactly xxhash64 of the whole block. Every content hash is broadcast
// in the holder's next round, so every partition computes the whole
// 32-byte header chain itself, a few rounds behind the deliveries; at the
// run's end the partitions exchange rounds until the chain is complete.

// chain is one partition's side of the hash chain.
type chain struct {
	k       int
	prev    uint64 // the chain's head: the last block's hash (xxhash64(params) if none)
	next    uint64 // blocks chained
	laid    uint64 // blocks laid out (next ≤ laid)
	counts  []uint32
	hashes  []uint64 // content hashes of blocks next.., when known
	known   []bool
	wait    []piece      // pieces of this partition waiting for their block's digest
	digOut  []digestItem // digests to send in the next round
	hashOut []hashItem   // content hashes to broadcast in the next round
	d       *xxhash.Digest
	scratch []byte
}

// piece is this partition's piece of a block that started in an earlier
// partition's part: hashed when the digest of what precedes it arrives.
type piece struct {
	block   uint64
	entries []trace.Entry
	to      int // the next holder, -1 if this piece ends the block
}

type digestItem struct {
	block uint64
	to    int
	state []byte
}

type hashItem struct {
	block, hash uint64
}

func newChain(k int, params string) *chain {
	return &chain{k: k, prev: trace.ParamsHash(params), d: xxhash.New()}
}

// busy reports whether this partition still has chain work: pieces that
// wait for a digest, or items to send.
func (c *chain) busy() bool { return len(c.wait)+len(c.digOut)+len(c.hashOut) > 0 }

// complete reports whether every laid-out block is chained.
func (c *chain) complete() bool { return c.next == c.laid }

// layout lays out the blocks of one tick, given every partition's count
// of messages delivered at it, and hashes this partition's part (seg, its
// entries in ≺ order, possibly in several slices).
func (c *chain) layout(delivered []uint64, seg [][]trace.Entry) error {
	var total, base uint64
	for i, n := range delivered {
		if i < c.k {
			base += n
		}
		total += n
	}
	own := uint64(0)
	for _, s := range seg {
		own += uint64(len(s))
	}
	if own != delivered[c.k] {
		return fmt.Errorf("partition %d: %d messages delivered, its part holds %d", c.k, delivered[c.k], own)
	}
	first := c.laid
	const B = trace.BlockEntriesMax
	nb := (total + B - 1) / B
	for b := uint64(0); b < nb; b++ {
		c.counts = append(c.counts, uint32(min(B, total-b*B)))
		c.hashes = append(c.hashes, 0)
		c.known = append(c.known, false)
	}
	c.laid += nb
	end := base + own
	for b := base / B; own > 0 && b*B < end; b++ {
		lo, hi := b*B, min((b+1)*B, total)
		plo, phi := max(lo, base), min(hi, end)
		startsHere, endsHere := lo >= base, hi <= end
		block := first + b
		switch {
		case startsHere && endsHere:
			c.d.Reset()
			c.write(seg, plo-base, phi-base)
			h := c.d.Sum64()
			c.learn(block, h)
			c.hashOut = append(c.hashOut, hashItem{block, h})
		case startsHere:
			c.d.Reset()
			c.write(seg, plo-base, phi-base)
			st, err := c.d.MarshalBinary()
			if err != nil {
				return err
			}
			c.digOut = append(c.digOut, digestItem{block, nextHolder(delivered, c.k), st})
		default:
			p := piece{block: block, to: -1}
			if !endsHere {
				p.to = nextHolder(delivered, c.k)
			}
			p.entries = appendRange(nil, seg, plo-base, phi-base)
			c.wait = append(c.wait, p)
		}
	}
	return nil
}

// nextHolder is the partition that holds the next piece of a block that
// runs past the end of partition k's part: the first after k with
// messages in the tick (the parts are back to back).
func nextHolder(delivered []uint64, k int) int {
	for i := k + 1; i < len(delivered); i++ {
		if delivered[i] > 0 {
			return i
		}
	}
	return -1
}

// write hashes the SPEC §3 encoding of entries [lo, hi) of seg into c.d.
func (c *chain) write(seg [][]trace.Entry, lo, hi uint64) {
	for _, s := range seg {
		n := uint64(len(s))
		if lo < n && hi > 0 {
			_, _ = c.d.Write(trace.EntryBytes(s[lo:min(hi, n)], &c.scratch))
		}
		lo, hi = lo-min(lo, n), hi-min(hi, n)
	}
}

func appendRange(dst []trace.Entry, seg [][]trace.Entry, lo, hi uint64) []trace.Entry {
	for _, s := range seg {
		n := uint64(len(s))
		if lo < n && hi > 0 {
			dst = append(dst, s[lo:min(hi, n)]...)
		}
		lo, hi = lo-min(lo, n), hi-min(hi, n)
	}
	return dst
}

// learn records block's content hash.
func (c *chain) learn(block, h uint64) {
	if block >= c.next && block < c.laid {
		c.hashes[block-c.next], c.known[block-c.next] = h, true
	}
}

// digest continues this partition's waiting piece of block with the
// digest state st of what precedes it.
func (c *chain) digest(block uint64, st []byte) error {
	for i := range c.wait {
		p := &c.wait[i]
		if p.block != block {
			continue
		}
		d := xxhash.New()
		if err := d.UnmarshalBinary(st); err != nil {
			return fmt.Errorf("block %d: bad digest state: %w", block, err)
		}
		var scratch []byte
		_, _ = d.Write(trace.EntryBytes(p.entries, &scratch))
		if p.to < 0 {
			h := d.Sum64()
			c.learn(block, h)
			c.hashOut = append(c.hashOut, hashItem{block, h})
		} else {
			out, err := d.MarshalBinary()
			if err != nil {
				return err
			}
			c.digOut = append(c.digOut, digestItem{block, p.to, out})
		}
		c.wait = append(c.wait[:i], c.wait[i+1:]...)
		return nil
	}
	return fmt.Errorf("partition %d got the digest of block %d, which it does not wait for", c.k, block)
}

// advance chains every block whose content hash is known, in index order,
// and returns their headers.
func (c *chain) advance(dst []trace.BlockHeader) []trace.BlockHeader {
	n := 0
	for n < len(c.known) && c.known[n] {
		b := c.next + uint64(n)
		h := trace.BlockHash(c.counts[n], b, c.prev, c.hashes[n])
		dst = append(dst, trace.BlockHeader{Count: c.counts[n], Index: b, Prev: c.prev, Hash: h})
		c.prev = h
		n++
	}
	c.counts, c.hashes, c.known = c.counts[n:], c.hashes[n:], c.known[n:]
	c.next += uint64(n)
	return dst
}

// errChainState marks a chain state that does not decode.
var errChainState = errors.New("partition: damaged chain state")
