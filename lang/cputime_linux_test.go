//go:build linux

package lang

import "syscall"

// threadCPU is the CPU time (user + system) of the calling OS thread, in
// ns: on a shared machine it counts only the time the benchmark ran, not
// the time other processes had the core.
func threadCPU() (int64, bool) {
	var ru syscall.Rusage
	if err := syscall.Getrusage(1 /* RUSAGE_THREAD */, &ru); err != nil {
		return 0, false
	}
	return ru.Utime.Nano() + ru.Stime.Nano(), true
}
