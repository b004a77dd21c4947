//go:build !invariants

package engine

import "github.com/lexbench/lexbench/trace"

// Without the invariants build tag the engine's costly self-checks are
// empty and compile away; invariants_on.go has them.

const invariantsOn = false

func invOutbox(*Outbox, []trace.Entry)                    {}
func invStream(*run, *shard, []trace.Entry, uint64)       {}
func invLate(*lateQueue, uint64)                          {}
func invEntryHash(*trace.Entry, uint64)                   {}
func invBlockHash(uint32, uint64, uint64, uint64, uint64) {}
