package main

import (
	"bufio"
	"errors"
	"fmt"
	"os"
	"strconv"
	"strings"

	"github.com/spf13/pflag"

	"github.com/lexbench/lexbench/engine"
)

// faultFlags are the fault layer's flags (SPEC §7) and the in-flight bound.
type faultFlags struct {
	drop, dup, delay number
	maxDelay         number
	faultSeed        number
	maxInFlight      number
}

func addFaultFlags(fs *pflag.FlagSet, f *faultFlags) {
	f.maxDelay.v = engine.DefaultMaxDelay
	fs.Var(&f.drop, "drop", "drop network messages at this rate, in parts per million (0..1000000; 1k = 0.1 %)")
	fs.Var(&f.dup, "dup", "duplicate network messages at this rate (ppm); the copy arrives 1..max-delay ticks late")
	fs.Var(&f.delay, "delay", "delay network messages by 1..max-delay ticks at this rate (ppm); drop+dup+delay ≤ 1000000")
	fs.Var(&f.maxDelay, "max-delay", "largest delay of a delayed message or a duplicate's copy, in ticks (1..1024)")
	fs.Var(&f.faultSeed, "fault-seed", "seed of the fault decisions (any uint64; default: --seed)")
	addMaxInFlightFlag(fs, &f.maxInFlight, false)
}

// addMaxInFlightFlag adds --max-inflight; for resume and replay (recover)
// its default is the run's own bound, recorded in the run file.
func addMaxInFlightFlag(fs *pflag.FlagSet, n *number, recover bool) {
	def := fmt.Sprintf("default %d: from the machine's memory", defaultMaxInFlight())
	if recover {
		def = fmt.Sprintf("default: the run's, from JOURNAL.run, else %d from the machine's memory", defaultMaxInFlight())
	}
	fs.Var(n, "max-inflight", fmt.Sprintf("end the run with an error when more messages than this are in flight, 1..%d (%s); never changes a result", engine.InFlightMax, def))
}

// params checks the flags (each error names its flag) and returns the
// fault parameters; seed is the run's --seed, the fault seed's default.
// --max-delay is checked even when faults are off (SPEC §7).
func (f *faultFlags) params(seed uint64) (engine.FaultParams, error) {
	for _, r := range []struct {
		name string
		v    uint64
	}{{"drop", f.drop.v}, {"dup", f.dup.v}, {"delay", f.delay.v}} {
		if r.v > engine.FaultRateMax {
			return engine.FaultParams{}, fmt.Errorf("invalid value %d for --%s: must be 0..%d ppm", r.v, r.name, engine.FaultRateMax)
		}
	}
	if f.maxDelay.v < 1 || f.maxDelay.v > engine.MaxDelayMax {
		return engine.FaultParams{}, fmt.Errorf("invalid value %d for --max-delay: must be 1..%d ticks", f.maxDelay.v, engine.MaxDelayMax)
	}
	p := engine.FaultParams{Drop: uint32(f.drop.v), Dup: uint32(f.dup.v), Delay: uint32(f.delay.v), MaxDelay: uint32(f.maxDelay.v), Seed: seed}
	if f.faultSeed.set {
		p.Seed = f.faultSeed.v
	}
	if err := p.Check(); err != nil {
		return engine.FaultParams{}, err
	}
	if !p.On() { // off: nothing of it reaches params or the engine
		return engine.FaultParams{}, nil
	}
	return p, nil
}

// maxInFlight is the run's in-flight bound: the flag's value, or the
// default for this machine.
func maxInFlight(n number) (int64, error) {
	if !n.set {
		return defaultMaxInFlight(), nil
	}
	if n.v < 1 || n.v > engine.InFlightMax {
		return 0, fmt.Errorf("invalid value %d for --max-inflight: must be 1..%d messages", n.v, engine.InFlightMax)
	}
	return int64(n.v), nil
}

// inFlightHint adds to a run's error for exceeding the in-flight bound
// (engine.ErrInFlight) which flag raises it.
func inFlightHint(err error) error {
	if errors.Is(err, engine.ErrInFlight) {
		return fmt.Errorf("%w (--max-inflight raises the bound, if the machine has the memory)", err)
	}
	return err
}

// inFlightBytes is the memory budgeted per message in flight: a pending
// message is a 32-byte entry, held in two or three buffers at once (the
// outbox that becomes the tick's stream, a sort or merge buffer, the
// detector's saved tick), so the default bound, MemTotal / 128 (about 200
// million messages on a 24 GiB machine), keeps a run inside the machine's
// memory while letting e.g. banking -n 1e8 --batch 1e8 (10^8 messages in
// one tick) run.
const inFlightBytes = 128

// defaultMaxInFlight is the default in-flight bound, from MemTotal in
// /proc/meminfo (1 GiB assumed if it cannot be read).
func defaultMaxInFlight() int64 {
	mem := uint64(1 << 30)
	if f, err := os.Open("/proc/meminfo"); err == nil {
		sc := bufio.NewScanner(f)
		for sc.Scan() {
			if v, ok := strings.CutPrefix(sc.Text(), "MemTotal:"); ok {
				if kb, err := strconv.ParseUint(strings.TrimSuffix(strings.TrimSpace(v), " kB"), 10, 64); err == nil && kb > 0 {
					mem = kb << 10
				}
				break
			}
		}
		f.Close()
	}
	return int64(min(max(mem/inFlightBytes, 1<<20), engine.InFlightMax))
}

// faultsLine is the `faults:` result line of SPEC §7.
func faultsLine(c engine.FaultCounts) string {
	return fmt.Sprintf("dropped=%d duplicated=%d delayed=%d", c.Dropped, c.Duplicated, c.Delayed)
}
