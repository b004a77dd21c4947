//go:build race

package workloads_test

// raceEnabled: the race detector allocates on its own, so allocation
// counts are not the engine's.
const raceEnabled = true
