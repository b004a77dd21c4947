package workloads

// golden is SplitMix64's increment (SPEC §2).
const golden = 0x9E3779B97F4A7C15

// seedFor is domain d's SplitMix64 state at start: seed + (d+1)·golden.
func seedFor(seed uint64, d uint32) uint64 { return seed + (uint64(d)+1)*golden }

// next advances a SplitMix64 state and returns the next value (SPEC §2).
func next(state *uint64) uint64 {
	*state += golden
	z := *state
	z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9
	z = (z ^ (z >> 27)) * 0x94D049BB133111EB
	return z ^ (z >> 31)
}
