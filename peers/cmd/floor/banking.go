package main

import (
	"sync"
)

// SPEC §5.1 banking. Domain 0 is the driver (remaining, rng), domains 1..K
// the banks (balance[0..A-1], applied, rejected). The driver boots at tick 0;
// the batch it emits while processing its Tick at tick t-1 is delivered at
// tick t, followed by its next Tick if work remains.
//
// The default shape (1 bank, 2 accounts) has its own loops with constant
// divisors, as someone writing this one program by hand would; other shapes
// divide by the runtime parameters.

// newBanks returns the banks' state, bank k at [k*(A+2) : (k+1)*(A+2)].
func newBanks(K, A uint64) []uint64 {
	s := make([]uint64, K*(A+2))
	for k := uint64(0); k < K; k++ {
		for i := uint64(0); i < A; i++ {
			s[k*(A+2)+i] = 1_000_000
		}
	}
	return s
}

// router computes an operation's bank (0-based), from and to from r1,
// dividing by the runtime K, A and A-1 with multiply-shift (divisor.go), as
// lexbench does: a hardware 64-bit DIV costs more than the rest of a
// transfer.
type router struct {
	A           uint64
	dK, dA, dA1 divisor
}

func newRouter(K, A uint64) router {
	return router{A: A, dK: newDivisor(K), dA: newDivisor(A), dA1: newDivisor(A - 1)}
}

func (r *router) route(r1 uint64) (bank, from, to uint64) {
	q, bank := r.dK.divmod(r1)
	q, from = r.dA.divmod(q)
	to = from + 1 + r.dA1.mod(q)            // 1 ≤ to ≤ 2A-2
	to -= r.A & uint64(int64(r.A-1-to)>>63) // to ≥ A is a coin flip: wrap without a branch
	return bank, from, to
}

// apply is a bank's Transfer: s is its balance[0..A-1], applied, rejected.
func apply(s []uint64, A, from, to, amount uint64) {
	if int64(s[from]) >= int64(amount) {
		s[from] -= amount
		s[to] += amount
		s[A]++
	} else {
		s[A+1]++
	}
}

// bankingCounts returns the messages delivered (boot Tick, transfers, the
// driver's Ticks) and the boundary where the run ends.
func bankingCounts(n, batch uint64) (msgs, ticks uint64) {
	t := (n + batch - 1) / batch // ticks that deliver transfers: 1..t
	msgs, ticks = 1+n, 1+t
	if t > 0 {
		msgs += t - 1
	}
	return
}

func bankingResult(c *config, remaining, rng uint64, banks []uint64, trace uint64, hasTrace bool) result {
	msgs, ticks := bankingCounts(c.n, c.batch)
	words := append([]uint64{remaining, rng}, banks...)
	return result{
		state: stateHash(words), words: words,
		trace: trace, hasTrace: hasTrace, msgs: msgs, ticks: ticks,
	}
}

// bankingLoop: generation and arithmetic only.
func bankingLoop(c *config) result {
	K, A, batch := c.banks, c.accounts, c.batch
	rt := newRouter(K, A)
	banks := newBanks(K, A)
	rng := c.seed + 1*golden
	remaining := c.n
	if K == 1 && A == 2 {
		bal := [2]int64{1_000_000, 1_000_000}
		var applied, rejected uint64
		for remaining > 0 {
			k := min(batch, remaining)
			remaining -= k
			for ; k > 0; k-- {
				r1, r2 := mix(rng+golden), mix(rng+golden2)
				rng += golden2
				from := r1 & 1
				amount := int64(1 + r2%1000)
				if bal[from] >= amount {
					bal[from] -= amount
					bal[from^1] += amount
					applied++
				} else {
					rejected++
				}
			}
		}
		banks[0], banks[1], banks[2], banks[3] = uint64(bal[0]), uint64(bal[1]), applied, rejected
		return bankingResult(c, remaining, rng, banks, 0, false)
	}
	for remaining > 0 {
		k := min(batch, remaining)
		remaining -= k
		for ; k > 0; k-- {
			r1, r2 := mix(rng+golden), mix(rng+golden2)
			rng += golden2
			bank, from, to := rt.route(r1)
			apply(banks[bank*(A+2):], A, from, to, 1+r2%1000)
		}
	}
	return bankingResult(c, remaining, rng, banks, 0, false)
}

// bankingHash: the loop plus every delivered message (boot Tick, transfers,
// the driver's Ticks) written as its canonical entry and the exact block
// chain of SPEC §3.
func bankingHash(c *config) result {
	K, A, batch := c.banks, c.accounts, c.batch
	rt := newRouter(K, A)
	banks := newBanks(K, A)
	ch := newChain(c.params())
	rng := c.seed + 1*golden
	remaining := c.n
	ch.put(0, 0, 0, kindTick, 0, 0) // boot
	ch.flush()
	fast := K == 1 && A == 2
	bal := [2]int64{1_000_000, 1_000_000}
	var applied, rejected uint64
	for tick := uint64(1); remaining > 0; tick++ {
		k := min(batch, remaining)
		remaining -= k
		tickSrc := tick // src 0
		for k > 0 {
			free := ch.room()
			m := min(k, uint64(len(free)/entrySize))
			buf := free[:m*entrySize]
			if fast {
				dstKind := uint64(1) | kindTransfer<<32
				for len(buf) >= entrySize {
					r1, r2 := mix(rng+golden), mix(rng+golden2)
					rng += golden2
					from := r1 & 1
					amount := 1 + r2%1000
					putEntry((*[entrySize]byte)(buf), tickSrc, dstKind, from|(from^1)<<32, amount)
					if bal[from] >= int64(amount) {
						bal[from] -= int64(amount)
						bal[from^1] += int64(amount)
						applied++
					} else {
						rejected++
					}
					buf = buf[entrySize:]
				}
			} else {
				for len(buf) >= entrySize {
					r1, r2 := mix(rng+golden), mix(rng+golden2)
					rng += golden2
					bank, from, to := rt.route(r1)
					amount := 1 + r2%1000
					putEntry((*[entrySize]byte)(buf), tickSrc, (1+bank)|kindTransfer<<32, from|to<<32, amount)
					apply(banks[bank*(A+2):], A, from, to, amount)
					buf = buf[entrySize:]
				}
			}
			ch.commit(int(m))
			k -= m
		}
		if remaining > 0 {
			ch.put(uint32(tick), 0, 0, kindTick, 0, 0)
		}
		ch.flush() // a block never spans two ticks
	}
	if fast {
		banks[0], banks[1], banks[2], banks[3] = uint64(bal[0]), uint64(bal[1]), applied, rejected
	}
	return bankingResult(c, remaining, rng, banks, ch.prev, true)
}

// transferMsg is a Transfer's payload: a = from | to<<32, b = amount.
type transferMsg struct{ a, b uint64 }

// bankingChan: the driver (this goroutine) sends each transfer as one
// message on its bank's channel; each bank is a goroutine that owns its
// balances. One sender per channel, so every bank sees its transfers in
// generation order and the result is deterministic.
func bankingChan(c *config) result {
	K, A, batch := c.banks, c.accounts, c.batch
	rt := newRouter(K, A)
	banks := newBanks(K, A)
	chs := make([]chan transferMsg, K)
	var wg sync.WaitGroup
	for k := range chs {
		chs[k] = make(chan transferMsg, c.chanBuf)
		wg.Add(1)
		go func(q <-chan transferMsg, s []uint64) {
			defer wg.Done()
			for m := range q {
				apply(s, A, m.a&0xFFFFFFFF, m.a>>32, m.b)
			}
		}(chs[k], banks[uint64(k)*(A+2):uint64(k+1)*(A+2)])
	}
	rng := c.seed + 1*golden
	remaining := c.n
	if K == 1 && A == 2 {
		q := chs[0]
		for remaining > 0 {
			k := min(batch, remaining)
			remaining -= k
			for ; k > 0; k-- {
				r1, r2 := mix(rng+golden), mix(rng+golden2)
				rng += golden2
				from := r1 & 1
				q <- transferMsg{from | (from^1)<<32, 1 + r2%1000}
			}
		}
	} else {
		for remaining > 0 {
			k := min(batch, remaining)
			remaining -= k
			for ; k > 0; k-- {
				r1, r2 := mix(rng+golden), mix(rng+golden2)
				rng += golden2
				bank, from, to := rt.route(r1)
				chs[bank] <- transferMsg{from | to<<32, 1 + r2%1000}
			}
		}
	}
	for _, q := range chs {
		close(q)
	}
	wg.Wait()
	return bankingResult(c, remaining, rng, banks, 0, false)
}
