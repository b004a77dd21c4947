package partition

import (
	"testing"

	"github.com/cespare/xxhash/v2"
	"pgregory.net/rapid"

	"github.com/lexbench/lexbench/trace"
)

// plainChain hashes ticks the plain way (SPEC §3).
func plainChain(params string, ticks [][]trace.Entry) (head, blocks uint64) {
	head = trace.ParamsHash(params)
	var scratch []byte
	for _, tick := range ticks {
		for len(tick) > 0 {
			n := min(len(tick), trace.BlockEntriesMax)
			head = trace.BlockHash(uint32(n), blocks, head, xxhash.Sum64(trace.EntryBytes(tick[:n], &scratch)))
			blocks++
			tick = tick[n:]
		}
	}
	return head, blocks
}

// TestChainAcrossPartitions: P partitions hash random ticks (empty parts,
// parts smaller than a block, blocks spanning several partitions, parts
// cut into several slices) by handing digests on in rounds, and each ends
// with the plain chain: same head, same headers in order.
func TestChainAcrossPartitions(t *testing.T) {
	rapid.Check(t, func(t *rapid.T) {
		P := rapid.IntRange(1, 5).Draw(t, "P")
		nticks := rapid.IntRange(0, 6).Draw(t, "ticks")
		chains := make([]*chain, P)
		for k := range chains {
			chains[k] = newChain(k, "test")
		}
		var ticks [][]trace.Entry
		headers := make([][]trace.BlockHeader, P)
		seq := uint64(0)
		round := func() {
			// what each partition sends, then what each receives
			type sent struct {
				dig  []digestItem
				hash []hashItem
			}
			out := make([]sent, P)
			for k, c := range chains {
				out[k] = sent{c.digOut, c.hashOut}
				c.digOut, c.hashOut = nil, nil
			}
			for k, c := range chains {
				for i := range out {
					for _, d := range out[i].dig {
						if d.to == k {
							if err := c.digest(d.block, d.state); err != nil {
								t.Fatal(err)
							}
						}
					}
					for _, h := range out[i].hash {
						c.learn(h.block, h.hash)
					}
				}
				headers[k] = c.advance(headers[k])
			}
		}
		for range nticks {
			delivered := make([]uint64, P)
			segs := make([][][]trace.Entry, P)
			var tick []trace.Entry
			for k := range P {
				n := rapid.SampledFrom([]int{0, 0, 1, 3, 100, 4095, 4096, 4097, 9000}).Draw(t, "n")
				delivered[k] = uint64(n)
				part := make([]trace.Entry, n)
				for i := range part {
					seq++
					part[i] = trace.Entry{Tick: uint32(len(ticks)), Src: uint32(k), Dst: uint32(seq % 7), A: seq, B: seq * 31}
				}
				tick = append(tick, part...)
				// cut the part into slices (a partition's shards)
				for len(part) > 0 {
					m := rapid.IntRange(1, len(part)).Draw(t, "slice")
					segs[k] = append(segs[k], part[:m])
					part = part[m:]
				}
			}
			ticks = append(ticks, tick)
			for k, c := range chains {
				if err := c.layout(delivered, segs[k]); err != nil {
					t.Fatal(err)
				}
			}
			round()
		}
		for rounds := 0; ; rounds++ {
			busy := false
			for _, c := range chains {
				busy = busy || c.busy()
			}
			if !busy {
				break
			}
			if rounds > P+1 {
				t.Fatalf("chain not complete after %d drain rounds", rounds)
			}
			round()
		}
		head, blocks := plainChain("test", ticks)
		for k, c := range chains {
			if !c.complete() || c.prev != head || c.next != blocks || uint64(len(headers[k])) != blocks {
				t.Fatalf("partition %d: head %016x after %d blocks (%d headers), want %016x after %d", k, c.prev, c.next, len(headers[k]), head, blocks)
			}
		}
	})
}
