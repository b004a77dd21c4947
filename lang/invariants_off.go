//go:build !invariants

package lang

import "github.com/lexbench/lexbench/trace"

// invariants is true in builds with `-tags invariants`: compiled programs
// are checked (Program.checkCode) before use.
const invariants = false

func invMemo(*instance, []trace.Entry, *shardScratch, []uint64) {}
