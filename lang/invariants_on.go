//go:build invariants

package lang

import (
	"fmt"
	"slices"

	"github.com/lexbench/lexbench/trace"
)

// invariants is true in builds with `-tags invariants`: compiled programs
// are checked (Program.checkCode) before use.
const invariants = true

// invMemo checks what deliverMemo relies on, before it copies the memo
// in: the domain's state st is the one the trial started from, and the
// transition of msgs[0], run as a delivery runs it (the linked code, not
// the trial's) on that state, leaves exactly the state the trial left,
// and breaks no invariant if the trial found them true.
func invMemo(w *instance, msgs []trace.Entry, sc *shardScratch, st []uint64) {
	msg := &msgs[0]
	if !slices.Equal(st, sc.memoIn) {
		panic(fmt.Sprintf("lang: invariant violated: domain %d has %v at its strategy's delivery, its trial started from %v", msg.Dst, st, sc.memoIn))
	}
	_, _, s := w.locate(uint64(msg.Dst))
	c := &machine{w: w, code: w.code, budget: w.budget, now: uint64(msg.Tick)} // no msgs, no scratch: ret returns, mark is inert
	copy(c.r[w.gbase:], w.globals)
	c.st = append([]uint64(nil), sc.memoIn...)
	c.r[regSelf], c.r[regIndex], c.r[regMember] = uint64(msg.Dst), sc.memoIndex, sc.memoMember
	c.r[regA], c.r[regB], c.r[regSrc] = msg.A, msg.B, uint64(msg.Src)
	pc := int(s.disp[msg.Kind])
	switch _, st := w.exec(c, pc); {
	case st != execRet && st != execInvFail:
		panic(fmt.Sprintf("lang: invariant violated: the memoized transition at %d of domain %d does not end (status %d)", pc, msg.Dst, st))
	case st == execInvFail && sc.memoInv < 0:
		panic(fmt.Sprintf("lang: invariant violated: the transition at %d of domain %d breaks an invariant its trial found true", pc, msg.Dst))
	}
	if !slices.Equal(c.st, sc.cacheWords) {
		panic(fmt.Sprintf("lang: invariant violated: the transition at %d of domain %d leaves %v, its trial left %v", pc, msg.Dst, c.st, sc.cacheWords))
	}
}
