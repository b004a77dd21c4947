package engine

import "fmt"

// FaultParams are the fault layer's inputs (SPEC §7): rates in parts per
// million, the largest delay in ticks, and the seed the decisions are
// drawn from. The layer is on when Drop+Dup+Delay > 0; then the params
// text carries them (workloads.Params), so replay and resume re-create
// the same faults.
type FaultParams struct {
	Drop, Dup, Delay uint32 // ppm each, sum ≤ FaultRateMax
	MaxDelay         uint32 // 1..MaxDelayMax ticks
	Seed             uint64 // the fault seed (the CLI's default is the run's --seed)
}

// Bounds of FaultParams (SPEC §7).
const (
	FaultRateMax = 1_000_000 // parts per million
	MaxDelayMax  = 1024
	// DefaultMaxDelay is --max-delay's default.
	DefaultMaxDelay = 8
)

// On reports whether the parameters inject any fault.
func (p FaultParams) On() bool { return p.Drop != 0 || p.Dup != 0 || p.Delay != 0 }

// Check reports parameters out of range (the error names the flag).
func (p FaultParams) Check() error {
	switch {
	case p.Drop > FaultRateMax:
		return fmt.Errorf("invalid value %d for --drop: must be 0..%d ppm", p.Drop, FaultRateMax)
	case p.Dup > FaultRateMax:
		return fmt.Errorf("invalid value %d for --dup: must be 0..%d ppm", p.Dup, FaultRateMax)
	case p.Delay > FaultRateMax:
		return fmt.Errorf("invalid value %d for --delay: must be 0..%d ppm", p.Delay, FaultRateMax)
	case uint64(p.Drop)+uint64(p.Dup)+uint64(p.Delay) > FaultRateMax:
		return fmt.Errorf("--drop + --dup + --delay = %d ppm: must be at most %d", uint64(p.Drop)+uint64(p.Dup)+uint64(p.Delay), FaultRateMax)
	case p.MaxDelay < 1 || p.MaxDelay > MaxDelayMax:
		return fmt.Errorf("invalid value %d for --max-delay: must be 1..%d ticks", p.MaxDelay, MaxDelayMax)
	}
	return nil
}

// FaultCounts counts fault decisions (SPEC §7 `faults:` line): every
// decision made by the end of the run, including those for messages due
// after it.
type FaultCounts struct {
	Dropped, Duplicated, Delayed uint64
}

func (c *FaultCounts) add(o FaultCounts) {
	c.Dropped += o.Dropped
	c.Duplicated += o.Duplicated
	c.Delayed += o.Delayed
}

// faultLayer is FaultParams prepared for the decisions.
type faultLayer struct {
	on                     bool
	drop, dupEnd, delayEnd uint64 // cumulative thresholds on r = u % 10^6
	maxDelay               uint64
	seed                   uint64
}

func newFaultLayer(p FaultParams) faultLayer {
	return faultLayer{on: p.On(), drop: uint64(p.Drop), dupEnd: uint64(p.Drop) + uint64(p.Dup),
		delayEnd: uint64(p.Drop) + uint64(p.Dup) + uint64(p.Delay), maxDelay: uint64(max(p.MaxDelay, 1)), seed: p.Seed}
}

const golden = 0x9E3779B97F4A7C15

// mix is SplitMix64's finalizer (SPEC §2, §7).
func mix(x uint64) uint64 {
	x = (x ^ (x >> 30)) * 0xBF58476D1CE4E5B9
	x = (x ^ (x >> 27)) * 0x94D049BB133111EB
	return x ^ (x >> 31)
}

// srcMix is the part of the decision hash shared by src's messages due at
// t: mix(mix(fseed + G·(t+1)) ^ G·(src+1)).
func (f *faultLayer) srcMix(t uint64, src uint32) uint64 {
	return mix(mix(f.seed+golden*(t+1)) ^ (golden * (uint64(src) + 1)))
}
