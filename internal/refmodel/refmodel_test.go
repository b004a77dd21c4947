package refmodel

import (
	"fmt"
	"slices"
	"strconv"
	"strings"
	"testing"

	"github.com/cespare/xxhash/v2"
	goldenrows "github.com/lexbench/lexbench/internal/golden"
)

// maxGoldenN bounds the rows this naive model runs; rows with a larger n
// (the paper-scale 1e8 runs) are left to the engine's tests.
const maxGoldenN = 1_000_000

// parseArgs turns a golden row's args (what follows `lexbench`) into Params.
func parseArgs(args string) (Params, error) {
	f := strings.Fields(args)
	if len(f) == 0 {
		return Params{}, fmt.Errorf("empty args")
	}
	if _, ok := keys[f[0]]; !ok {
		return Params{}, fmt.Errorf("unknown workload %q", f[0])
	}
	p := Defaults(f[0])
	k := keys[f[0]]
	for i := 1; i < len(f); i++ {
		name, val, hasVal := strings.Cut(strings.TrimLeft(f[i], "-"), "=")
		if !hasVal {
			if i+1 >= len(f) {
				return p, fmt.Errorf("flag %s has no value", f[i])
			}
			i++
			val = f[i]
		}
		if name == "detect" {
			switch val {
			case "global":
				p.Local = false
			case "local":
				p.Local = true
			default:
				return p, fmt.Errorf("bad --detect %q", val)
			}
			continue
		}
		if name == "on-oscillation" {
			switch val {
			case "halt":
				p.Damp = false
			case "damp":
				p.Damp = true
			default:
				return p, fmt.Errorf("bad --on-oscillation %q", val)
			}
			continue
		}
		v, err := goldenrows.Number(val)
		if err != nil {
			return p, fmt.Errorf("flag %s: %v", name, err)
		}
		switch name {
		case "n":
			p.N = v
		case "seed":
			p.Seed = v
		case "batch":
			p.Batch = v
		case k.k1:
			p.K1 = v
		case k.k2:
			p.K2 = v
		case "max-ticks":
			p.MaxTicks = int64(v)
		case "max-msgs":
			p.MaxMsgs = int64(v)
		case "drop":
			p.Drop = v
		case "dup":
			p.Dup = v
		case "delay":
			p.Delay = v
		case "max-delay":
			p.MaxDelay = v
		case "fault-seed":
			p.FaultSeed, p.FaultSeedSet = v, true
		default:
			return p, fmt.Errorf("unknown flag %q", name)
		}
	}
	return p, nil
}

// lines renders a result's configuration lines the way §6 prints them.
func (r Result) lines() []string {
	l := []string{
		fmt.Sprintf("ticks: %d", r.Ticks),
		fmt.Sprintf("msgs: %d", r.Msgs),
	}
	l = append(l, r.Figures...)
	if r.Oscillation != "" {
		l = append(l, "oscillation: "+r.Oscillation)
	}
	if r.Faults != "" {
		l = append(l, "faults: "+r.Faults)
	}
	return l
}

func TestGoldenRows(t *testing.T) {
	for _, row := range goldenrows.Read(t) {
		t.Run(row.Name, func(t *testing.T) {
			p, err := parseArgs(row.Args)
			if err != nil {
				t.Fatalf("lexbench %s: %v", row.Args, err)
			}
			if got := p.Text(); got != row.Params {
				t.Errorf("lexbench %s: params %q, want %q", row.Args, got, row.Params)
			}
			if p.N > maxGoldenN {
				t.Skipf("n=%d > %d: too large for the naive model; the engine tests cover it", p.N, maxGoldenN)
			}
			r := Run(p)
			if got := fmt.Sprintf("%016x", r.Trace); got != row.Trace {
				t.Errorf("lexbench %s: trace %s, want %s", row.Args, got, row.Trace)
			}
			if got := fmt.Sprintf("%016x", r.State); got != row.State {
				t.Errorf("lexbench %s: state %s, want %s", row.Args, got, row.State)
			}
			if r.Outcome != row.Outcome {
				t.Errorf("lexbench %s: outcome %s, want %s", row.Args, r.Outcome, row.Outcome)
			}
			lines := r.lines()
			for _, e := range row.Extra {
				if !slices.Contains(lines, e) {
					t.Errorf("lexbench %s: missing %q; got %q", row.Args, e, lines)
				}
			}
			// Every line the model reports must be one the row expects too.
			for _, l := range lines {
				if !slices.Contains(row.Extra, l) {
					t.Errorf("lexbench %s: unexpected %q; want %q", row.Args, l, row.Extra)
				}
			}
		})
	}
}

func TestParamsText(t *testing.T) {
	want := "lexbench/1 workload=banking n=100000000 seed=1 batch=4096 banks=1 accounts=2"
	if got := Defaults("banking").Text(); got != want {
		t.Errorf("Defaults(banking).Text() = %q, want %q", got, want)
	}
	if got := strconv.Quote(Defaults("oscillation").Text()); !strings.Contains(got, "groups=4096 targets=4") {
		t.Errorf("Defaults(oscillation).Text() = %s", got)
	}
}

func TestSplitMixKnownValue(t *testing.T) {
	// SplitMix64 from state 0: the reference sequence's first two outputs.
	r := splitmix{}
	if got := r.next(); got != 0xe220a8397b1dcdaf {
		t.Errorf("first output %#x", got)
	}
	if got := r.next(); got != 0x6e789e6aa1b965f4 {
		t.Errorf("second output %#x", got)
	}
}

func TestZeroBudgetsEndAtBoundaryZero(t *testing.T) {
	for _, w := range []string{"banking", "storm", "sync", "conflict", "oscillation"} {
		for _, budget := range []string{"ticks", "msgs"} {
			p := Defaults(w)
			p.N = 1000
			if budget == "ticks" {
				p.MaxTicks = 0
			} else {
				p.MaxMsgs = 0
			}
			// With no block, the trace hash is xxhash64(params) (§3).
			r := Run(p)
			if r.Outcome != "budget" || r.Ticks != 0 || r.Msgs != 0 || r.Blocks != 0 || r.Trace != xxhash.Sum64String(p.Text()) {
				t.Errorf("%s max-%s 0: %+v", w, budget, r)
			}
		}
	}
}

func TestBlocksAreCutAt4096PerTick(t *testing.T) {
	p := Defaults("banking")
	p.N = 5000
	r := Run(p)
	// tick 0: the boot Tick (1 block); tick 1: 4096 Transfers + Tick = 4097
	// entries (2 blocks); tick 2: 904 Transfers (1 block).
	if r.Blocks != 4 || r.Ticks != 3 || r.Msgs != 5002 {
		t.Errorf("banking -n 5000: blocks=%d ticks=%d msgs=%d, want 4, 3, 5002", r.Blocks, r.Ticks, r.Msgs)
	}
}

func TestMaxTicksEndsBeforeTickIsDelivered(t *testing.T) {
	p := Defaults("banking")
	p.N, p.Batch, p.MaxTicks = 100, 10, 3
	r := Run(p)
	// ticks 0, 1, 2 deliver 1, 11, 11 messages.
	if r.Outcome != "budget" || r.Ticks != 3 || r.Msgs != 23 {
		t.Errorf("banking -n 100 --batch 10 --max-ticks 3: %+v", r)
	}
}

func TestDampGivesHaltTraceAndState(t *testing.T) {
	for _, args := range []string{"oscillation -n 1", "oscillation -n 1000", "oscillation -n 1000 --groups 1 --seed 3", "oscillation -n 5000 --groups 64 --targets 3 --batch 100"} {
		p, err := parseArgs(args)
		if err != nil {
			t.Fatal(err)
		}
		halt := Run(p)
		p.Damp = true
		damp := Run(p)
		if halt.Outcome != "oscillating" || damp.Outcome != "damped" {
			t.Errorf("lexbench %s: outcomes %s / %s", args, halt.Outcome, damp.Outcome)
			continue
		}
		if damp.Trace != halt.Trace || damp.State != halt.State || damp.Msgs != halt.Msgs ||
			damp.Ticks != halt.Ticks+1 || damp.Oscillation != halt.Oscillation {
			t.Errorf("lexbench %s: halt %+v, damp %+v", args, halt, damp)
		}
	}
}

func TestWorkloadsConvergeOverSeeds(t *testing.T) {
	for _, w := range []string{"banking", "storm", "sync", "conflict"} {
		for seed := uint64(0); seed < 8; seed++ {
			p := Defaults(w)
			p.N, p.Seed, p.Batch = 3000, seed, 1+seed*97
			p.K1 = 1 + seed%3
			switch w {
			case "banking":
				p.K2 = 2 + seed%3
			case "storm":
				p.K2 = 1 + seed*5
			case "sync":
				p.K2 = 1 + seed
			case "conflict":
				p.K2 = 2 + seed%4
			}
			if r := Run(p); r.Outcome != "converged" {
				t.Errorf("%s: %s", p.Text(), r.Outcome)
			}
		}
	}
}
