package sim

import "github.com/lexbench/lexbench/engine"

// swarmSalt separates the swarm's random stream from the workload's,
// which starts from the same seed: "SWARM_V1" in ASCII.
const swarmSalt = 0x5357_4152_4D5F_5631

// Swarm is the fault profile that seed draws under --swarm (swarm
// testing: every seed tests a different mix of faults, so faults that
// hide each other at one fixed mix are still tried apart). It is a pure
// function of the seed — never of the worker, the order of the runs or
// the time — so a seed's profile is the same in every simulation:
//
//	rng   SplitMix64 (SPEC §2's next()) with state = seed XOR 0x5357_4152_4D5F_5631
//	on    1 + next() % 7: bit 0 drop, bit 1 dup, bit 2 delay — one of the
//	      seven non-empty sets of faults, each as likely
//	rate  for drop, dup, delay in that order, when on: v = next();
//	      rate = (1 + (v/6) % 9) · 10^(v % 6) ppm — 1 to 900000 ppm, each
//	      decade as likely; then at most 1000000 minus the rates before it
//	delay max-delay = 2^(next() % 11) ticks: 1, 2, 4, …, 1024
//
// and the fault seed is the seed.
func Swarm(seed uint64) engine.FaultParams {
	x := seed ^ swarmSalt
	next := func() uint64 {
		x += golden
		z := x
		z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9
		z = (z ^ (z >> 27)) * 0x94D049BB133111EB
		return z ^ (z >> 31)
	}
	on := 1 + next()%7
	var rates [3]uint64
	left := uint64(engine.FaultRateMax)
	for i := range rates {
		if on>>i&1 == 0 {
			continue
		}
		v := next()
		r := 1 + (v/6)%9
		for range v % 6 {
			r *= 10
		}
		rates[i] = min(r, left)
		left -= rates[i]
	}
	return engine.FaultParams{Drop: uint32(rates[0]), Dup: uint32(rates[1]), Delay: uint32(rates[2]),
		MaxDelay: 1 << (next() % 11), Seed: seed}
}

const golden = 0x9E3779B97F4A7C15
