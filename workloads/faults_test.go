package workloads_test

import (
	"cmp"
	"fmt"
	"slices"
	"testing"

	"github.com/lexbench/lexbench/engine"
	"github.com/lexbench/lexbench/internal/refmodel"
	"github.com/lexbench/lexbench/workloads"
)

// faultCase draws a small run with a fault profile from seed x: every
// workload, rates from none to all (drop up to 100 %), delays up to 1024,
// sometimes a budget.
func faultCase(x uint64) (runCase, engine.FaultParams, int64) {
	next := func() uint64 {
		x += 0x9E3779B97F4A7C15
		z := x
		z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9
		z = (z ^ (z >> 27)) * 0x94D049BB133111EB
		return z ^ (z >> 31)
	}
	spec := workloads.All[next()%uint64(len(workloads.All))]
	p := spec.Defaults()
	p.N = next() % 3000
	p.Seed = next() % 100
	p.Batch = 1 + next()%700
	for i, k := range spec.Keys {
		p.K[i] = k.Min + next()%min(k.Max-k.Min+1, 40)
	}
	rate := func() uint32 {
		switch next() % 4 {
		case 0:
			return 0
		case 1:
			return uint32(next() % 2000)
		case 2:
			return uint32(next() % 200_000)
		}
		return uint32(next() % 1_000_001)
	}
	f := engine.FaultParams{Drop: rate(), Dup: rate(), Delay: rate(), MaxDelay: uint32(1 + next()%16), Seed: next()}
	if next()%4 == 0 {
		f.MaxDelay = uint32(1 + next()%1024)
	}
	for uint64(f.Drop)+uint64(f.Dup)+uint64(f.Delay) > 1_000_000 {
		f.Drop, f.Dup, f.Delay = f.Drop/2, f.Dup/2, f.Delay/2
	}
	if !f.On() {
		f.Delay = 1 + uint32(next()%1000)
	}
	budget, maxMsgs := int64(-1), int64(-1)
	if spec == &workloads.OscillationSpec || next()%4 == 0 {
		budget = int64(next() % 400) // a faulty oscillation run ends only by a budget
	}
	if next()%5 == 0 {
		maxMsgs = int64(next() % 5000)
	}
	return runCase{spec: spec, p: p, maxMsgs: maxMsgs}, f, budget
}

// TestFaultsMatchTheReferenceModel runs drawn fault profiles on every
// workload and compares the engine at several shard counts with the naive
// reference model (internal/refmodel), which implements SPEC §7 on its own,
// fault decisions (Config.OnFault) included.
func TestFaultsMatchTheReferenceModel(t *testing.T) {
	cases := 150
	if testing.Short() {
		cases = 30
	}
	for x := uint64(0); x < uint64(cases); x++ {
		c, f, budget := faultCase(x)
		c.p.Faults = f
		ref := refmodel.Run(refmodel.Params{Workload: c.spec.Name, N: c.p.N, Seed: c.p.Seed, Batch: c.p.Batch,
			K1: c.p.K[0], K2: c.p.K[1], MaxTicks: budget, MaxMsgs: c.maxMsgs,
			Drop: uint64(f.Drop), Dup: uint64(f.Dup), Delay: uint64(f.Delay), MaxDelay: uint64(f.MaxDelay),
			FaultSeed: f.Seed, FaultSeedSet: true})
		name := fmt.Sprintf("case %d: %s --drop %d --dup %d --delay %d --max-delay %d --fault-seed %d --max-ticks %d",
			x, c, f.Drop, f.Dup, f.Delay, f.MaxDelay, f.Seed, budget) // c prints --max-msgs
		refLog := slices.Clone(ref.FaultLog)
		slices.SortStableFunc(refLog, func(x, y refmodel.Fault) int {
			return cmp.Or(cmp.Compare(x.Emitted, y.Emitted), cmp.Compare(x.Src, y.Src), cmp.Compare(x.Index, y.Index))
		})
		for _, s := range []int{1, 2, 3, 7} {
			w := c.spec.New(c.p)
			var events []string
			got, err := engine.Run(w, engine.Config{Params: c.spec.Text(c.p), Shards: s, MaxTicks: budget, MaxMsgs: c.maxMsgs, Faults: f,
				OnFault: func(e *engine.FaultEvent) {
					events = append(events, fmt.Sprintf("%d %d %d %d %d %d %d %s %d", e.Tick, e.Src, e.Dst, e.Kind, e.A, e.B, e.Index, e.Fault, e.At))
				}})
			if err != nil {
				t.Fatalf("%s --shards %d: %v", name, s, err)
			}
			if len(events) != len(refLog) {
				t.Fatalf("%s --shards %d: %d fault events, reference %d", name, s, len(events), len(refLog))
			}
			kinds := map[string]string{"drop": "dropped", "dup": "duplicated", "delay": "delayed"}
			for i, r := range refLog {
				if want := fmt.Sprintf("%d %d %d %d %d %d %d %s %d", r.Tick, r.Src, r.Dst, r.Kind, r.A, r.B, r.Index, kinds[r.Fault], r.At); events[i] != want {
					t.Fatalf("%s --shards %d: fault event %d: %s, reference %s", name, s, i, events[i], want)
				}
			}
			faults := fmt.Sprintf("dropped=%d duplicated=%d delayed=%d", got.Faults.Dropped, got.Faults.Duplicated, got.Faults.Delayed)
			if got.Trace != ref.Trace || got.State != ref.State || got.Outcome.String() != ref.Outcome ||
				got.Ticks != ref.Ticks || got.Msgs != ref.Msgs || got.Blocks != ref.Blocks || faults != ref.Faults || got.Oscillation != nil {
				t.Fatalf("%s --shards %d: engine %016x %016x %v ticks %d msgs %d blocks %d faults %s; reference %016x %016x %s ticks %d msgs %d blocks %d faults %s",
					name, s, got.Trace, got.State, got.Outcome, got.Ticks, got.Msgs, got.Blocks, faults,
					ref.Trace, ref.State, ref.Outcome, ref.Ticks, ref.Msgs, ref.Blocks, ref.Faults)
			}
			var figs []string
			for _, fg := range w.Figures() {
				figs = append(figs, fmt.Sprintf("%s: %d", fg.Name, fg.Value))
			}
			if fmt.Sprint(figs) != fmt.Sprint(ref.Figures) {
				t.Fatalf("%s --shards %d: figures %v, reference %v", name, s, figs, ref.Figures)
			}
		}
	}
}
