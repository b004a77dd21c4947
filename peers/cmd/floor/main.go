// Command floor measures what lexbench's banking and storm workloads (SPEC
// §5.1, §5.2) cost without an engine, as stand-alone programs:
//
//	loop      the generation and the domains' arithmetic alone (the compute floor)
//	loophash  the same, plus every delivered message (Ticks included) written
//	          as its 32-byte canonical entry into one reused 128 KiB block and
//	          the exact SPEC §3 block chain (xxhash64 per block and header)
//	chan      the same work as goroutines talking over Go channels, one send
//	          per message
//	queue     one goroutine, one FIFO of all messages (Ticks included): the
//	          natural single-threaded actor loop
//	disruptor an LMAX Disruptor ring (single writer, batch publish, sequence
//	          barrier, padded sequences) between the goroutines
//	workiva   github.com/Workiva/go-datastructures queue.RingBuffer in place
//	          of chan's channels
//	protoactor github.com/asynkron/protoactor-go actors, with the per-tick
//	          flow control that keeps them correct and bounded
//
// Every mode computes the SPEC §4 state hash; loophash also computes the
// trace hash. Both must equal lexbench's for the same parameters. Before
// the measured runs floor computes the reference state with loop (untimed)
// and prints, per run, "# check: mode=… state=… match" or MISMATCH (with the
// first differing state word). Output is Go benchmark format (benchstat reads
// it); msgs counts every delivered message, Ticks included, as lexbench's
// msgs: line does.
//
//	floor -workload banking -mode loop,loophash,queue,disruptor -n 1e8 --count 3
package main

import (
	"bufio"
	"flag"
	"fmt"
	"math"
	"os"
	"runtime"
	"strconv"
	"strings"
	"time"
)

type config struct {
	workload, mode       string
	n, seed, batch       uint64
	banks, accounts      uint64
	producers, consumers uint64
	chanBuf              int
}

type result struct {
	state, trace uint64
	hasTrace     bool
	msgs, ticks  uint64
	words        []uint64 // the state the hash covers (SPEC §4 order)
}

// modes lists every mode. All are deterministic by construction: each
// receiver hears one sender at a time, in generation order (see each mode's
// comment). A mode that could not be would be marked here; its runs would
// then print "deterministic: no" and whether they matched, instead of
// failing.
var modes = []string{"loop", "loophash", "chan", "queue", "disruptor", "workiva", "protoactor"}

var nondeterministic = map[string]bool{}

func (c *config) params() string {
	if c.workload == "banking" {
		return fmt.Sprintf("lexbench/1 workload=banking n=%d seed=%d batch=%d banks=%d accounts=%d",
			c.n, c.seed, c.batch, c.banks, c.accounts)
	}
	return fmt.Sprintf("lexbench/1 workload=storm n=%d seed=%d batch=%d producers=%d consumers=%d",
		c.n, c.seed, c.batch, c.producers, c.consumers)
}

// run executes c.workload in c.mode once.
func run(c *config) result {
	switch c.workload + "/" + c.mode {
	case "banking/loop":
		return bankingLoop(c)
	case "banking/loophash":
		return bankingHash(c)
	case "banking/chan":
		return bankingChan(c)
	case "storm/loop":
		return stormLoop(c)
	case "storm/loophash":
		return stormHash(c)
	case "storm/chan":
		return stormChan(c)
	case "banking/queue":
		return bankingQueue(c)
	case "storm/queue":
		return stormQueue(c)
	case "banking/disruptor":
		return bankingDisruptor(c)
	case "storm/disruptor":
		return stormDisruptor(c)
	case "banking/workiva":
		return bankingWorkiva(c)
	case "storm/workiva":
		return stormWorkiva(c)
	case "banking/protoactor":
		return bankingProtoactor(c)
	case "storm/protoactor":
		return stormProtoactor(c)
	}
	panic("floor: unknown workload/mode " + c.workload + "/" + c.mode)
}

func (c *config) validate() error {
	switch {
	case c.workload != "banking" && c.workload != "storm":
		return fmt.Errorf("-workload: %q is not banking or storm", c.workload)
	case c.batch < 1:
		return fmt.Errorf("--batch must be ≥ 1")
	case c.banks < 1:
		return fmt.Errorf("--banks must be ≥ 1")
	case c.accounts < 2:
		return fmt.Errorf("--accounts must be ≥ 2")
	case c.producers < 1:
		return fmt.Errorf("--producers must be ≥ 1")
	case c.consumers < 1:
		return fmt.Errorf("--consumers must be ≥ 1")
	case c.chanBuf < 0:
		return fmt.Errorf("--chanbuf must be ≥ 0")
	}
	return nil
}

func cpuModel() string {
	b, err := os.ReadFile("/proc/cpuinfo")
	if err == nil {
		for _, line := range strings.Split(string(b), "\n") {
			if k, v, ok := strings.Cut(line, ":"); ok && strings.TrimSpace(k) == "model name" {
				return strings.TrimSpace(v)
			}
		}
	}
	return "unknown"
}

func main() {
	c := config{n: 1e8, seed: 1, batch: 4096, banks: 1, accounts: 2, producers: 2, consumers: 1024}
	var modeList string
	var count int
	flag.StringVar(&c.workload, "workload", "banking", "banking or storm")
	flag.StringVar(&modeList, "mode", "loop", strings.Join(modes, ", ")+"; a comma-separated list runs them side by side")
	flag.Var((*number)(&c.n), "n", "operations the generator injects (1e8, 100M, 100_000_000)")
	flag.Var((*number)(&c.seed), "seed", "seed")
	flag.Var((*number)(&c.batch), "batch", "operations a driver emits per tick")
	flag.Var((*number)(&c.banks), "banks", "banking: banks")
	flag.Var((*number)(&c.accounts), "accounts", "banking: accounts per bank")
	flag.Var((*number)(&c.producers), "producers", "storm: producers")
	flag.Var((*number)(&c.consumers), "consumers", "storm: consumers")
	flag.IntVar(&c.chanBuf, "chanbuf", 1024, "chan: channel buffer (0 = unbuffered)")
	flag.IntVar(&count, "count", 1, "run each mode this many times")
	flag.Parse()
	fail := func(err error) {
		fmt.Fprintf(os.Stderr, "floor: %v\n", err)
		flag.Usage()
		os.Exit(1)
	}
	if flag.NArg() > 0 {
		fail(fmt.Errorf("unexpected argument %q", flag.Arg(0)))
	}
	if err := c.validate(); err != nil {
		fail(err)
	}
	if count < 1 {
		fail(fmt.Errorf("--count must be ≥ 1"))
	}
	var ms []string
	for _, m := range strings.Split(modeList, ",") {
		ok := false
		for _, k := range modes {
			ok = ok || m == k
		}
		if !ok {
			fail(fmt.Errorf("-mode: %q is not one of %s", m, strings.Join(modes, ", ")))
		}
		ms = append(ms, m)
	}

	w := bufio.NewWriter(os.Stdout)
	defer w.Flush()
	// Configuration lines hold only what every mode shares, so benchstat
	// keeps the modes of one workload in one table; the mode is in the name.
	fmt.Fprintf(w, "# floor %s GOMAXPROCS=%d chanbuf=%d\n", runtime.Version(), runtime.GOMAXPROCS(0), c.chanBuf)
	fmt.Fprintf(w, "goos: %s\ngoarch: %s\ncpu: %s\n", runtime.GOOS, runtime.GOARCH, cpuModel())
	fmt.Fprintf(w, "workload: %s\nparams: %s\nUnit msgs/s better=higher\n", c.workload, c.params())
	w.Flush()
	name := "BenchmarkFloor" + strings.ToUpper(c.workload[:1]) + c.workload[1:]
	// The reference every run is checked against: loop's result, untimed.
	c.mode = "loop"
	ref := run(&c)
	fmt.Fprintf(w, "ticks: %d\nmsgs: %d\nstate: %016x\n", ref.ticks, ref.msgs, ref.state)
	var trace *uint64
	for i := 0; i < count; i++ {
		for _, m := range ms {
			c.mode = m
			var ms0, ms1 runtime.MemStats
			runtime.GC()
			runtime.ReadMemStats(&ms0)
			start := time.Now()
			r := run(&c)
			el := time.Since(start)
			runtime.ReadMemStats(&ms1)
			verdict := check(&r, &ref)
			fmt.Fprintf(w, "# check: mode=%s state=%016x %s\n", m, r.state, verdict)
			if nondeterministic[m] {
				fmt.Fprintf(w, "# deterministic: no (mode=%s)\n", m)
			} else if verdict != "match" {
				w.Flush()
				fmt.Fprintf(os.Stderr, "floor: mode %s: state %016x msgs %d ticks %d, but loop has state %016x msgs %d ticks %d\n",
					m, r.state, r.msgs, r.ticks, ref.state, ref.msgs, ref.ticks)
				os.Exit(2)
			}
			if r.hasTrace {
				if trace == nil {
					// A comment, not a configuration line: most modes do not
					// compute it, and a key only some modes print would split
					// them into different benchstat groups.
					fmt.Fprintf(w, "# trace: %016x\n", r.trace)
					trace = &r.trace
				} else if r.trace != *trace {
					w.Flush()
					fmt.Fprintf(os.Stderr, "floor: trace %016x differs from the first run's %016x\n", r.trace, *trace)
					os.Exit(2)
				}
			}
			ns := el.Nanoseconds()
			msgs := max(r.msgs, 1)
			allocs := float64(ms1.Mallocs-ms0.Mallocs) / float64(msgs)
			// allocs/msg at a resolution of 0.001, as lexbench prints it.
			fmt.Fprintf(w, "%s/mode=%s/n=%s \t 1 \t %d ns/op \t %.4g msgs/s \t %.3f ns/msg \t %s allocs/msg\n",
				name, m, formatN(c.n), ns, float64(r.msgs)/el.Seconds(), float64(ns)/float64(msgs),
				strconv.FormatFloat(math.Floor(allocs*1000)/1000, 'g', 3, 64))
			w.Flush()
		}
	}
}

// check compares a run with the reference: "match", or "MISMATCH" and what
// differs first.
func check(r, ref *result) string {
	switch {
	case r.msgs != ref.msgs || r.ticks != ref.ticks:
		return fmt.Sprintf("MISMATCH msgs %d ticks %d, want %d %d", r.msgs, r.ticks, ref.msgs, ref.ticks)
	case r.state != ref.state:
		for i := range min(len(r.words), len(ref.words)) {
			if r.words[i] != ref.words[i] {
				return fmt.Sprintf("MISMATCH state word %d is %d, want %d (want state %016x)", i, int64(r.words[i]), int64(ref.words[i]), ref.state)
			}
		}
		return fmt.Sprintf("MISMATCH want state %016x", ref.state)
	}
	return "match"
}
