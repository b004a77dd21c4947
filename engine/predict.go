package engine

import (
	"fmt"
	"sort"

	"github.com/lexbench/lexbench/trace"
)

// Prediction is PredictShards's choice and what it is based on.
type Prediction struct {
	Shards int
	Msgs   uint64  // messages the probe delivered
	Ticks  uint64  // ticks it ran
	Cross  float64 // at the best count above 1: the share of messages delivered on another shard than their src's
	Why    string  // one line, for a `# ` comment
}

// The cost model's constants, in units of the work of one message on its
// own shard. Measured on the project's machine (BENCHMARKS.md, "Shards = 2
// on this machine"): a message written on one core and read on another
// costs about 2.3× one that stays (6.9 vs 3.0 ns/entry), and a second
// shard that gets no work still costs the tick barrier, about 12 % of
// banking's 4097-message tick (12.1 vs 10.8 ns/msg).
const (
	crossCost   = 2.0 // extra cost of a message delivered on another shard than its src's
	barrierCost = 512 // cost of one tick's barrier with more than one shard
	// a count above 1 is chosen only if it is predicted this much faster:
	// the model is coarse, and one shard runs none of the parallel machinery
	predictMargin = 0.85
	// probeMsgsMin: a run smaller than this many messages is not worth
	// more than one shard (nor a probe)
	probeMsgsMin = 1 << 14
	// probeStateWords bounds the state the probe allocates (a second
	// arena): above it the prediction is 1 shard, without a probe.
	probeStateWords = 1 << 24
)

// PredictShards predicts the fastest shard count, 1..cpus, for the
// workload newWorkload makes (a fresh instance each call) with the given
// params. The shard count never changes a result (SPEC §6: any count
// gives the same trace), so the prediction only decides speed.
//
// It runs a short probe on one shard, without journal or detection, of
// probeMsgs messages (the caller's budget: about 1 % of the run), and
// looks at the second half of its ticks (the first are often a ramp-up
// unlike the rest of the run). For each count S it cuts the domains as a
// run would and computes, from those messages, each shard's deliveries and
// the messages whose src and dst fall on different shards, and predicts
// the time of S shards as the busiest shard's deliveries + crossCost ×
// crossing messages + barrierCost per tick (none for S = 1). The probe is
// deterministic (counts, not clocks), so the choice depends only on the
// workload, its params, cpus and the budget.
func PredictShards(newWorkload func() Workload, params string, cpus int, probeMsgs uint64) (Prediction, error) {
	p := Prediction{Shards: 1}
	switch {
	case cpus <= 1:
		p.Why = fmt.Sprintf("%d CPU", cpus)
		return p, nil
	case probeMsgs < probeMsgsMin:
		p.Why = "a small run"
		return p, nil
	}
	w := newWorkload()
	if w.StateWords() > probeStateWords {
		p.Why = "the state is too large to probe"
		return p, nil
	}
	pr := probe{tick: make([]uint32, 0, probeMsgs+1<<16), src: make([]uint32, 0, probeMsgs+1<<16), dst: make([]uint32, 0, probeMsgs+1<<16)}
	res, err := Run(w, Config{Params: params, Shards: 1, MaxTicks: -1, MaxMsgs: int64(min(probeMsgs, 1<<40)), NoDetect: true, Journal: &pr})
	if err != nil {
		return p, err
	}
	pr.take()
	// the second half of the ticks
	half := uint32(res.Ticks / 2)
	i := sort.Search(len(pr.tick), func(i int) bool { return pr.tick[i] >= half })
	src, dst := pr.src[i:], pr.dst[i:]
	ticks := res.Ticks - uint64(half)
	p.Msgs, p.Ticks = uint64(len(src)), ticks
	if len(src) == 0 {
		p.Why = "the probe delivered no message"
		return p, nil
	}
	d := w.Domains()
	best := float64(len(src)) // S = 1
	var table []uint16
	for s := 2; s <= cpus && s <= int(d) && s <= 1<<16; s = next(s, cpus) {
		cuts := cutShards(w, 0, d, s)
		shardOf := func(x uint32) int { return sort.Search(s, func(k int) bool { return cuts[k+1] > x }) }
		if d <= 1<<22 { // a table: a binary search per message would cost more than the probe
			table = table[:0]
			for k := 0; k < s; k++ {
				for x := cuts[k]; x < cuts[k+1]; x++ {
					table = append(table, uint16(k))
				}
			}
			shardOf = func(x uint32) int { return int(table[x]) }
		}
		load := make([]uint64, s)
		var cross uint64
		for i, to := range dst {
			k := shardOf(to)
			load[k]++
			if shardOf(src[i]) != k {
				cross++
			}
		}
		busiest := uint64(0)
		for _, l := range load {
			busiest = max(busiest, l)
		}
		cost := float64(busiest) + crossCost*float64(cross) + barrierCost*float64(ticks)
		if cost < best*predictMargin {
			best, p.Shards, p.Cross = cost, s, float64(cross)/float64(len(src))
		}
	}
	p.Why = fmt.Sprintf("predicted fastest of 1..%d for this workload: probe of %d msgs in %d ticks", cpus, res.Msgs, res.Ticks)
	if p.Shards > 1 {
		p.Why += fmt.Sprintf(", %.0f%% of them cross shards at %d", 100*p.Cross, p.Shards)
	}
	return p, nil
}

// next is the shard count PredictShards tries after s: powers of two, and
// cpus itself.
func next(s, cpus int) int {
	if s < cpus && 2*s > cpus {
		return cpus
	}
	return 2 * s
}

// probe is a Journal that keeps the tick, src and dst of every message.
type probe struct {
	buf            []byte
	tick, src, dst []uint32
}

func (p *probe) Reserve(n int) ([]byte, error) {
	p.take()
	if cap(p.buf) < n {
		p.buf = make([]byte, n)
	}
	p.buf = p.buf[:n]
	return p.buf, nil
}

// take reads the previous region's blocks.
func (p *probe) take() {
	b := p.buf
	for len(b) >= trace.BlockHeaderSize {
		size := trace.BlockSize(trace.HeaderCount(b))
		for e := b[trace.BlockHeaderSize:size]; len(e) >= trace.EntrySize; e = e[trace.EntrySize:] {
			m := trace.DecodeEntry(e)
			p.tick, p.src, p.dst = append(p.tick, m.Tick), append(p.src, m.Src), append(p.dst, m.Dst)
		}
		b = b[size:]
	}
	p.buf = p.buf[:0]
}
