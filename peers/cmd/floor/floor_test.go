package main

import (
	"fmt"
	"strings"
	"testing"
)

// Rows of the main module's testdata/golden.tsv (reference results of an
// independent implementation of SPEC.md), copied so this module stands alone.
var goldenRows = []struct {
	name         string
	cfg          config
	trace, state uint64
	msgs, ticks  uint64
}{
	{"banking-n0", banking(0, 1, 4096, 1, 2), 0xf434fab1860df90d, 0xef4210a8e596e8fd, 1, 1},
	{"banking-n1", banking(1, 1, 4096, 1, 2), 0x8cc4ff9f4d95268b, 0xc0e28ba3da2b6675, 2, 2},
	{"banking-1k", banking(1000, 1, 4096, 1, 2), 0x6097f598d15db6ea, 0x1e2fad2616dc61c4, 1001, 2},
	{"banking-100k", banking(100000, 1, 4096, 1, 2), 0x30ae8150e09bb6a5, 0x87186bbcae765660, 100025, 26},
	{"banking-batch7", banking(10000, 1, 7, 1, 2), 0x12dc6cd856326d74, 0x31e16588ba7cccf2, 11429, 1430},
	{"banking-k3a3", banking(20000, 5, 4096, 3, 3), 0x821b23c3c8e43219, 0x1d1d971944eca540, 20005, 6},
	{"banking-1M-seed3", banking(1000000, 3, 4096, 1, 2), 0xae8930139267af75, 0xb7f33377c50c4cfe, 1000245, 246},
	{"storm-n0", storm(0, 1, 4096, 2, 1024), 0x15c05ecdbac671d3, 0x645a73b15c0621c7, 2, 1},
	{"storm-1k", storm(1000, 1, 4096, 2, 1024), 0xdec68a722f1a0494, 0x6b5eb9caac9e47fb, 1002, 2},
	{"storm-seed42", storm(100000, 42, 4096, 2, 1024), 0x501a6b78a1566296, 0xf5e013cd77a81878, 100026, 14},
	{"storm-p3c7", storm(10001, 1, 4096, 3, 7), 0x44523e72c1250e90, 0xed151e574b376fe2, 10004, 2},
}

func banking(n, seed, batch, banks, accounts uint64) config {
	return config{workload: "banking", n: n, seed: seed, batch: batch, banks: banks, accounts: accounts, chanBuf: 1024}
}

func storm(n, seed, batch, producers, consumers uint64) config {
	return config{workload: "storm", n: n, seed: seed, batch: batch, producers: producers, consumers: consumers, chanBuf: 1024}
}

// TestGolden: every mode (loop, loophash, chan, queue, disruptor, workiva,
// protoactor) reaches the golden state hash, msgs and ticks; loophash also
// the golden trace hash. Every mode is deterministic by construction, so
// every mode must match exactly.
func TestGolden(t *testing.T) {
	for _, g := range goldenRows {
		for _, mode := range modes {
			for _, buf := range []int{0, 1024} {
				if buf == 0 && (mode != "chan" || g.cfg.n > 20000) {
					continue
				}
				c := g.cfg
				c.mode, c.chanBuf = mode, buf
				t.Run(fmt.Sprintf("%s/%s/chanbuf=%d", g.name, mode, buf), func(t *testing.T) {
					r := run(&c)
					if r.state != g.state {
						t.Errorf("state %016x, want %016x", r.state, g.state)
					}
					if r.msgs != g.msgs || r.ticks != g.ticks {
						t.Errorf("msgs %d ticks %d, want %d %d", r.msgs, r.ticks, g.msgs, g.ticks)
					}
					if r.hasTrace != (mode == "loophash") {
						t.Errorf("hasTrace %v", r.hasTrace)
					}
					if r.hasTrace && r.trace != g.trace {
						t.Errorf("trace %016x, want %016x", r.trace, g.trace)
					}
				})
			}
		}
	}
}

// TestBanking1e8 is the paper's scale (lexbench's golden row banking-1e8).
func TestBanking1e8(t *testing.T) {
	if testing.Short() {
		t.Skip("1e8 transfers")
	}
	c := banking(1e8, 1, 4096, 1, 2)
	c.mode = "loophash"
	r := run(&c)
	if r.state != 0xd4e716f1cc280a97 || r.trace != 0xbfc4988951183d64 || r.msgs != 100024415 || r.ticks != 24416 {
		t.Errorf("state %016x trace %016x msgs %d ticks %d; want d4e716f1cc280a97 bfc4988951183d64 100024415 24416",
			r.state, r.trace, r.msgs, r.ticks)
	}
}

func TestNumbers(t *testing.T) {
	for s, want := range map[string]uint64{"1e8": 1e8, "100M": 1e8, "100_000_000": 1e8, "1.5e3": 1500, "7": 7} {
		if v, err := parseNumber(s); err != nil || v != want {
			t.Errorf("parseNumber(%q) = %d, %v; want %d", s, v, err, want)
		}
	}
	for _, s := range []string{"-1", "1.5", "x", ""} {
		if _, err := parseNumber(s); err == nil {
			t.Errorf("parseNumber(%q) accepted", s)
		}
	}
	if s := formatN(1e8); s != "1e8" {
		t.Errorf("formatN(1e8) = %s", s)
	}
}

// TestRouter: multiply-shift routing equals SPEC §5.1's divisions.
func TestRouter(t *testing.T) {
	rng := uint64(7)
	for _, ka := range [][2]uint64{{1, 2}, {1, 3}, {3, 3}, {7, 2}, {1000, 1000}, {1 << 20, 5}, {3, 1<<32 + 1}} {
		K, A := ka[0], ka[1]
		rt := newRouter(K, A)
		for i := 0; i < 10000; i++ {
			r1 := next(&rng)
			if i < 4 {
				r1 = []uint64{0, 1, ^uint64(0), ^uint64(0) - 1}[i]
			}
			bank, from, to := rt.route(r1)
			wb, wf := r1%K, (r1/K)%A
			wt := (wf + 1 + (r1/K/A)%(A-1)) % A
			if bank != wb || from != wf || to != wt {
				t.Fatalf("K=%d A=%d r1=%d: route %d %d %d, want %d %d %d", K, A, r1, bank, from, to, wb, wf, wt)
			}
		}
	}
}

// TestModesDeterministic: no mode is marked nondeterministic, so a mismatch
// in any of them fails the run (and TestGolden) instead of being reported.
func TestModesDeterministic(t *testing.T) {
	for _, m := range modes {
		if nondeterministic[m] {
			t.Errorf("mode %s is marked nondeterministic; TestGolden would have to check it differently", m)
		}
	}
}

// TestCheckShowsMismatch: a run that differs from the reference says where.
func TestCheckShowsMismatch(t *testing.T) {
	c := banking(1000, 1, 4096, 1, 2)
	c.mode = "loop"
	ref := run(&c)
	r := run(&c)
	if v := check(&r, &ref); v != "match" {
		t.Fatalf("check of equal runs: %s", v)
	}
	r.words = append([]uint64(nil), r.words...)
	r.words[2]++ // bank 1's balance[0]
	r.state = stateHash(r.words)
	if v := check(&r, &ref); !strings.HasPrefix(v, "MISMATCH state word 2 ") {
		t.Errorf("check of a changed balance: %q", v)
	}
	r = ref
	r.msgs++
	if v := check(&r, &ref); !strings.HasPrefix(v, "MISMATCH msgs") {
		t.Errorf("check of a changed msgs: %q", v)
	}
}

// TestFIFOBound: the queue mode's ring refuses to exceed its bound.
func TestFIFOBound(t *testing.T) {
	q := newFIFO(3) // 4 slots
	for i := 0; i < 4; i++ {
		q.push(message{a: uint64(i)})
	}
	defer func() {
		if recover() == nil {
			t.Error("push beyond the bound did not panic")
		}
	}()
	q.push(message{})
}
