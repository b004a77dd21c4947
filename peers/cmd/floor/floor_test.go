package main

import "testing"

// Golden hashes from ../../../testdata/golden.tsv (an independent implementation).
func TestFloorsMatchGoldenRows(t *testing.T) {
	for _, c := range []struct {
		cfg          config
		trace, state uint64
		msgs         uint64
	}{
		{config{workload: "banking", n: 1000, seed: 1, batch: 4096, banks: 1, accounts: 2}, 0x6097f598d15db6ea, 0x1e2fad2616dc61c4, 1001},
		{config{workload: "banking", n: 10000, seed: 1, batch: 7, banks: 1, accounts: 2}, 0x12dc6cd856326d74, 0x31e16588ba7cccf2, 11429},
		{config{workload: "banking", n: 20000, seed: 5, batch: 4096, banks: 3, accounts: 3}, 0x821b23c3c8e43219, 0x1d1d971944eca540, 20005},
		{config{workload: "storm", n: 1000, seed: 1, batch: 4096, producers: 2, consumers: 1024}, 0xdec68a722f1a0494, 0x6b5eb9caac9e47fb, 1002},
		{config{workload: "storm", n: 100000, seed: 42, batch: 4096, producers: 2, consumers: 1024}, 0x501a6b78a1566296, 0xf5e013cd77a81878, 100026},
		{config{workload: "storm", n: 10001, seed: 1, batch: 4096, producers: 3, consumers: 7}, 0x44523e72c1250e90, 0xed151e574b376fe2, 10004},
	} {
		for _, mode := range []string{"loop", "loophash", "chan"} {
			c.cfg.mode = mode
			r := run(c.cfg)
			if r.state != c.state || r.msgs != c.msgs || mode == "loophash" && r.trace != c.trace {
				t.Errorf("%s: state %016x trace %016x msgs %d; want %016x %016x %d", c.cfg.params()+" mode="+mode, r.state, r.trace, r.msgs, c.state, c.trace, c.msgs)
			}
		}
	}
}
