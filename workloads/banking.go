package workloads

import (
	"github.com/lexbench/lexbench/internal/divisor"

	"github.com/lexbench/lexbench/engine"
	"github.com/lexbench/lexbench/trace"
)

// BankingSpec is SPEC §5.1: a driver sends n transfers to K banks of A
// accounts each.
var BankingSpec = Spec{
	Name: "banking",
	Keys: []Key{
		{Name: "banks", Default: 1, Min: 1, Max: 1 << 24, Usage: "number of banks K"},
		{Name: "accounts", Default: 2, Min: 2, Max: 1 << 20, Usage: "accounts per bank A (≥ 2)"},
	},
	New: func(p Params) Workload { return newBanking(p) },
}

const bankingStartBalance = 1_000_000

// Banking layout: driver (domain 0) [remaining, rng]; bank k (domains
// 1..K) at 2+(k-1)·(A+2): [balance[0..A-1], applied, rejected].
type Banking struct {
	p        Params
	banks    uint64
	accounts uint64
	stride   int
	divK     divisor.Divisor
	divA     divisor.Divisor
	divA1    divisor.Divisor
	st       []uint64
}

func newBanking(p Params) *Banking {
	k, a := p.K[0], p.K[1]
	return &Banking{p: p, banks: k, accounts: a, stride: int(a) + 2,
		divK: divisor.New(k), divA: divisor.New(a), divA1: divisor.New(a - 1)}
}

func (w *Banking) Domains() uint32     { return uint32(w.banks) + 1 }
func (w *Banking) StateWords() int     { return 2 + int(w.banks)*w.stride }
func (w *Banking) Boots(d uint32) bool { return d == 0 }

func (w *Banking) Init(words []uint64) {
	w.st = words
	words[0] = w.p.N
	words[1] = seedFor(w.p.Seed, 0)
	for k := 0; k < int(w.banks); k++ {
		base := 2 + k*w.stride
		for i := 0; i < int(w.accounts); i++ {
			words[base+i] = bankingStartBalance
		}
	}
}

func (w *Banking) Span(d uint32) (off, n int) {
	if d == 0 {
		return 0, 2
	}
	return 2 + int(d-1)*w.stride, w.stride
}

// Weight: every transfer flows from the driver to a bank, so any cut
// between them makes every message cross cores, which costs more than
// applying it (see the performance floor). The driver carries all the
// weight: the banks stay with it, and further shards take the block
// hashing (the engine's tasks) instead.
func (w *Banking) Weight(d uint32) uint64 {
	if d == 0 {
		return 1
	}
	return 0
}

func (w *Banking) Deliver(out *engine.Outbox, msgs []trace.Entry) {
	for i := 0; i < len(msgs); {
		d := msgs[i].Dst
		if d == 0 {
			w.drive(out)
			i++
			continue
		}
		i = w.apply(msgs, i, d)
	}
}

// apply runs bank d's transitions for the run of messages to it starting at
// msgs[i] and returns the index after the run. The counters live in locals
// for the run; only the balances go through memory.
func (w *Banking) apply(msgs []trace.Entry, i int, d uint32) int {
	base := 2 + int(d-1)*w.stride
	bal := w.st[base : base+w.stride]
	a := uint64(len(bal) - 2)
	applied, rejected := bal[a], bal[a+1]
	for ; i < len(msgs) && msgs[i].Dst == d; i++ {
		m := &msgs[i]
		from, to, amount := m.A&0xFFFFFFFF, m.A>>32, m.B
		if m.Kind != trace.KindTransfer || from >= a || to >= a {
			continue // not a transfer this bank can apply; the goals will tell
		}
		if f := bal[from]; int64(f) >= int64(amount) {
			bal[from] = f - amount
			bal[to] += amount
			applied++
		} else {
			rejected++
		}
	}
	bal[a], bal[a+1] = applied, rejected
	return i
}

// drive is the driver's Tick: emit min(batch, remaining) transfers, then a
// Tick to itself if work remains.
func (w *Banking) drive(out *engine.Outbox) {
	st := w.st
	remaining := st[0]
	k := min(w.p.Batch, remaining)
	remaining -= k
	more := 0
	if remaining > 0 {
		more = 1
	}
	es := out.Reserve(int(k) + more)
	tick := out.Tick()
	rng := st[1]
	// Locals, not fields: the compiler cannot keep w's fields in registers
	// across the stores into es.
	a, dK, dA, dA1 := w.accounts, w.divK, w.divA, w.divA1
	for i := range es[:k] {
		r1 := next(&rng)
		r2 := next(&rng)
		q, bank := dK.DivMod(r1)
		q, from := dA.DivMod(q)
		to := from + 1 + dA1.Mod(q)
		to -= a & uint64(int64(a-1-to)>>63) // branchless "if to >= a": a coin flip for A = 2
		e := &es[i]
		e.Tick, e.Src, e.Dst, e.Kind, e.Flags = tick, 0, uint32(1+bank), trace.KindTransfer, 0
		e.A, e.B = from|to<<32, 1+r2%1000
	}
	if more == 1 {
		es[k] = trace.Entry{Tick: tick, Src: 0, Dst: 0, Kind: trace.KindTick}
	}
	st[0] = remaining
	st[1] = rng
}

func (w *Banking) Goals() error {
	var ops uint64
	want := int64(w.accounts) * bankingStartBalance
	for k := uint64(0); k < w.banks; k++ {
		bal := w.st[2+int(k)*w.stride:]
		sum := int64(0)
		for i := uint64(0); i < w.accounts; i++ {
			if int64(bal[i]) < 0 {
				return goalErr("banking.nonnegative", "bank %d (domain %d): account %d has negative balance %d", k+1, k+1, i, int64(bal[i]))
			}
			sum += int64(bal[i])
		}
		if sum != want {
			return goalErr("banking.conserved", "bank %d (domain %d): balances sum to %d, want %d", k+1, k+1, sum, want)
		}
		ops += bal[w.accounts] + bal[w.accounts+1]
	}
	if ops != w.p.N {
		return goalErr("banking.accounted", "banks: applied + rejected = %d, want n = %d", ops, w.p.N)
	}
	return nil
}

func (w *Banking) Figures() []Figure {
	var applied, rejected uint64
	for k := 0; k < int(w.banks); k++ {
		base := 2 + k*w.stride + int(w.accounts)
		applied += w.st[base]
		rejected += w.st[base+1]
	}
	return []Figure{{"applied", applied}, {"rejected", rejected}}
}
