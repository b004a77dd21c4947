// Command floor measures what banking and storm (SPEC §5.1, §5.2) cost
// without an engine, the way a user would otherwise write them:
//
//	loop      the generation and arithmetic alone (the compute floor)
//	loophash  the same, plus each message built as its 32-byte canonical
//	          entry into a reused 128 KiB block, and every block hashed with
//	          xxhash64 into the exact SPEC §3 chain (prints trace:)
//	chan      the same work as goroutines and Go channels, one send per message
//
// Divisions by the runtime parameters use the same multiply-shift divisor
// as lexbench (a copy: this module does not depend on the main one), so the
// floor is not inflated by hardware divisions. Every mode prints the SPEC §4 state hash, so its result can be checked
// against lexbench's. Output is Go benchmark format.
package main

import (
	"bufio"
	"encoding/binary"
	"flag"
	"fmt"
	"os"
	"runtime"
	"strings"
	"time"

	"github.com/cespare/xxhash/v2"
)

const golden = 0x9E3779B97F4A7C15

func next(s *uint64) uint64 {
	*s += golden
	z := *s
	z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9
	z = (z ^ (z >> 27)) * 0x94D049BB133111EB
	return z ^ (z >> 31)
}

type config struct {
	workload, mode       string
	n, seed, batch       uint64
	banks, accounts      uint64
	producers, consumers uint64
}

type result struct {
	trace, state uint64
	msgs         uint64
	hasTrace     bool
}

// chain builds canonical blocks of one tick at a time and chains them (SPEC §3).
type chain struct {
	on    bool
	block []byte // reused 128 KiB block
	n     int
	tick  uint32
	prev  uint64
	index uint64
}

func newChain(on bool, params string) *chain {
	return &chain{on: on, block: make([]byte, 4096*32), prev: xxhash.Sum64String(params)}
}

// add writes one entry in place into the reused block.
func (c *chain) add(tick, src, dst uint32, kind uint16, a, b uint64) {
	if c.n == 4096 || c.n > 0 && tick != c.tick {
		c.flush()
	}
	c.tick = tick
	e := c.block[c.n*32 : c.n*32+32 : c.n*32+32]
	binary.LittleEndian.PutUint32(e[0:], tick)
	binary.LittleEndian.PutUint32(e[4:], src)
	binary.LittleEndian.PutUint32(e[8:], dst)
	binary.LittleEndian.PutUint32(e[12:], uint32(kind))
	binary.LittleEndian.PutUint64(e[16:], a)
	binary.LittleEndian.PutUint64(e[24:], b)
	c.n++
}

func (c *chain) flush() {
	if c.n == 0 {
		return
	}
	var h [32]byte
	copy(h[:4], "LXB1")
	binary.LittleEndian.PutUint32(h[4:], uint32(c.n))
	binary.LittleEndian.PutUint64(h[8:], c.index)
	binary.LittleEndian.PutUint64(h[16:], c.prev)
	binary.LittleEndian.PutUint64(h[24:], xxhash.Sum64(c.block[:c.n*32]))
	c.prev = xxhash.Sum64(h[:])
	c.index++
	c.n = 0
}

func stateHash(words []uint64) uint64 {
	b := make([]byte, 8*len(words))
	for i, w := range words {
		binary.LittleEndian.PutUint64(b[8*i:], w)
	}
	return xxhash.Sum64(b)
}

func (c config) params() string {
	if c.workload == "banking" {
		return fmt.Sprintf("lexbench/1 workload=banking n=%d seed=%d batch=%d banks=%d accounts=%d", c.n, c.seed, c.batch, c.banks, c.accounts)
	}
	return fmt.Sprintf("lexbench/1 workload=storm n=%d seed=%d batch=%d producers=%d consumers=%d", c.n, c.seed, c.batch, c.producers, c.consumers)
}

// banking runs SPEC §5.1 tick by tick: the boot Tick at tick 0, then each
// tick the driver's batch and its Tick; the bank applies transfers in order.
func banking(c config) result {
	K, A := c.banks, c.accounts
	bal := make([]uint64, K*(A+2))
	for k := uint64(0); k < K; k++ {
		for i := uint64(0); i < A; i++ {
			bal[k*(A+2)+i] = 1_000_000
		}
	}
	type transfer struct{ bank, from, to, amount uint64 }
	var q chan transfer
	done := make(chan bool)
	if c.mode == "chan" {
		q = make(chan transfer, 1024)
		go func() {
			for t := range q {
				s := bal[t.bank*(A+2):]
				if int64(s[t.from]) >= int64(t.amount) {
					s[t.from] -= t.amount
					s[t.to] += t.amount
					s[A]++
				} else {
					s[A+1]++
				}
			}
			done <- true
		}()
	}
	hashing := c.mode == "loophash"
	ch := newChain(hashing, c.params())
	// divisions by runtime values as multiply-shift, as lexbench does: a
	// hardware 64-bit DIV costs more than the rest of a transfer
	dK, dA, dA1 := newDivisor(K), newDivisor(A), newDivisor(A-1)
	rng := c.seed + golden
	remaining := c.n
	ch.add(0, 0, 0, 0, 0, 0) // boot Tick
	msgs := uint64(1)
	for tick := uint32(1); ; tick++ {
		k := min(c.batch, remaining)
		remaining -= k
		msgs += k
		for i := uint64(0); i < k; i++ {
			r1, r2 := next(&rng), next(&rng)
			x, bank := dK.divmod(r1)
			x, from := dA.divmod(x)
			to := from + 1 + dA1.mod(x)
			to -= A & uint64(int64(A-1-to)>>63) // branchless: to ≥ A is a coin flip
			amount := 1 + r2%1000
			if hashing {
				ch.add(tick, 0, uint32(1+bank), 1, from|to<<32, amount)
			}
			if q != nil {
				q <- transfer{bank, from, to, amount}
				continue
			}
			s := bal[bank*(A+2):]
			if int64(s[from]) >= int64(amount) {
				s[from] -= amount
				s[to] += amount
				s[A]++
			} else {
				s[A+1]++
			}
		}
		if remaining == 0 {
			break
		}
		if hashing {
			ch.add(tick, 0, 0, 0, 0, 0) // the driver's Tick to itself
		}
		msgs++
	}
	if q != nil {
		close(q)
		<-done
	}
	ch.flush()
	words := append([]uint64{remaining, rng}, bal...)
	return result{trace: ch.prev, state: stateHash(words), msgs: msgs, hasTrace: hashing}
}

// storm runs SPEC §5.2: each tick producer 0's batch, then producer 1's, …
// reach the consumers in that order.
func storm(c config) result {
	P, C := c.producers, c.consumers
	prod := make([]uint64, 3*P)
	for p := uint64(0); p < P; p++ {
		prod[3*p] = c.n / P
		if p < c.n%P {
			prod[3*p]++
		}
		prod[3*p+2] = c.seed + (p+1)*golden
	}
	cons := make([]uint64, 2*C)
	consume := func(ci, a, b uint64) {
		cons[2*ci]++
		cons[2*ci+1] = (cons[2*ci+1]^a)*0x100000001B3 + b
	}
	hashing := c.mode == "loophash"
	ch := newChain(hashing, c.params())
	var msgs uint64
	for p := uint64(0); p < P; p++ {
		ch.add(0, uint32(p), uint32(p), 0, 0, 0)
		msgs++
	}
	var q chan [3]uint64
	done := make(chan bool)
	if c.mode == "chan" {
		q = make(chan [3]uint64, 1024)
		go func() {
			for m := range q {
				consume(m[0], m[1], m[2])
			}
			done <- true
		}()
	}
	dC := newDivisor(C)
	active := P
	for tick := uint32(1); active > 0; tick++ {
		active = 0
		for p := uint64(0); p < P; p++ {
			s := prod[3*p : 3*p+3]
			if s[0] == 0 && tick > 1 {
				continue
			}
			k := min(c.batch, s[0])
			s[0] -= k
			for i := uint64(0); i < k; i++ {
				r := next(&s[2])
				ci := dC.mod(r)
				if hashing {
					ch.add(tick, uint32(p), uint32(P+ci), 2, r, s[1])
				}
				if q != nil {
					q <- [3]uint64{ci, r, s[1]}
				} else {
					consume(ci, r, s[1])
				}
				s[1]++
			}
			msgs += k
			if s[0] > 0 {
				ch.add(tick, uint32(p), uint32(p), 0, 0, 0)
				msgs++
				active++
			}
		}
	}
	if q != nil {
		close(q)
		<-done
	}
	ch.flush()
	return result{trace: ch.prev, state: stateHash(append(prod, cons...)), msgs: msgs, hasTrace: ch.on}
}

func parseN(s string) uint64 {
	var f float64
	mult := 1.0
	switch {
	case strings.HasSuffix(s, "M"):
		mult, s = 1e6, s[:len(s)-1]
	case strings.HasSuffix(s, "k"):
		mult, s = 1e3, s[:len(s)-1]
	}
	if _, err := fmt.Sscan(strings.ReplaceAll(s, "_", ""), &f); err != nil || f < 0 {
		fmt.Fprintf(os.Stderr, "floor: bad number %q\n", s)
		os.Exit(1)
	}
	return uint64(f * mult)
}

func cpuModel() string {
	b, _ := os.ReadFile("/proc/cpuinfo")
	for _, l := range strings.Split(string(b), "\n") {
		if k, v, ok := strings.Cut(l, ":"); ok && strings.TrimSpace(k) == "model name" {
			return strings.TrimSpace(v)
		}
	}
	return "unknown"
}

func run(c config) result {
	if c.workload == "storm" {
		return storm(c)
	}
	return banking(c)
}

func main() {
	var c config
	var n, modes string
	var count int
	flag.StringVar(&c.workload, "workload", "banking", "banking|storm")
	flag.StringVar(&modes, "mode", "loop,loophash", "comma-separated: loop, loophash, chan")
	flag.StringVar(&n, "n", "1e8", "operations")
	flag.Uint64Var(&c.seed, "seed", 1, "seed")
	flag.Uint64Var(&c.batch, "batch", 4096, "batch")
	flag.Uint64Var(&c.banks, "banks", 1, "banks")
	flag.Uint64Var(&c.accounts, "accounts", 2, "accounts")
	flag.Uint64Var(&c.producers, "producers", 2, "producers")
	flag.Uint64Var(&c.consumers, "consumers", 1024, "consumers")
	flag.IntVar(&count, "count", 1, "repetitions")
	flag.Parse()
	c.n = parseN(n)
	w := bufio.NewWriter(os.Stdout)
	defer w.Flush()
	fmt.Fprintf(w, "goos: %s\ngoarch: %s\ncpu: %s\nworkload: %s\nparams: %s\nUnit msgs/s better=higher\n",
		runtime.GOOS, runtime.GOARCH, cpuModel(), c.workload, c.params())
	for i := 0; i < count; i++ {
		for _, m := range strings.Split(modes, ",") {
			c.mode = m
			start := time.Now()
			r := run(c)
			el := time.Since(start)
			if i == 0 {
				fmt.Fprintf(w, "# mode=%s state: %016x", m, r.state)
				if r.hasTrace {
					fmt.Fprintf(w, " trace: %016x", r.trace)
				}
				fmt.Fprintf(w, " msgs: %d\n", r.msgs)
			}
			name := "Floor" + strings.ToUpper(c.workload[:1]) + c.workload[1:]
			fmt.Fprintf(w, "Benchmark%s/mode=%s/n=%d \t 1 \t %d ns/op \t %.4g msgs/s \t %.3g ns/msg\n",
				name, m, c.n, el.Nanoseconds(), float64(r.msgs)/el.Seconds(), float64(el.Nanoseconds())/float64(r.msgs))
			w.Flush()
		}
	}
}
