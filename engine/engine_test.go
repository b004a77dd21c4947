package engine_test

import (
	"fmt"
	"testing"

	"github.com/lexbench/lexbench/engine"
	"github.com/lexbench/lexbench/trace"
)

// counter is a test workload of D domains; domain 0 boots. On a Tick a
// domain adds 1 to its counter x modulo mod (mod 0: no modulo) and, while
// x < stop (stop 0: forever), sends a Tick with payload a = x*payload to
// domain (d+1) % D.
type counter struct {
	d       uint32
	mod     uint64
	stop    uint64
	payload uint64
	st      []uint64
}

func (w *counter) Domains() uint32          { return w.d }
func (w *counter) StateWords() int          { return int(w.d) }
func (w *counter) Init(words []uint64)      { w.st = words }
func (w *counter) Span(d uint32) (int, int) { return int(d), 1 }
func (w *counter) Boots(d uint32) bool      { return d == 0 }
func (w *counter) Weight(uint32) uint64     { return 1 }
func (w *counter) Goals() error             { return nil }
func (w *counter) Deliver(out *engine.Outbox, msgs []trace.Entry) {
	for _, m := range msgs {
		x := w.st[m.Dst] + 1
		if w.mod != 0 {
			x %= w.mod
		}
		w.st[m.Dst] = x
		if w.stop == 0 || x < w.stop {
			out.Emit(m.Dst, (m.Dst+1)%w.d, trace.KindTick, x*w.payload, 0)
		}
	}
}

func cfg(shards int) engine.Config {
	return engine.Config{Params: "test", Shards: shards, MaxTicks: -1, MaxMsgs: -1}
}

// brent is SPEC §5.6 computed naively over the first ticks of a sequence of
// configurations given as strings: the first t > 0 whose configuration
// equals that of the largest checkpoint 2^k-1 below t.
func brent(conf func(t uint64) string) (h, period uint64) {
	saved, c := conf(0), uint64(0)
	for t := uint64(1); t < 1<<20; t++ {
		if conf(t) == saved {
			return t, t - c
		}
		if t&(t+1) == 0 { // t = 2^k - 1
			saved, c = conf(t), t
		}
	}
	return 0, 0
}

func TestSelfLoopOscillatesWithPeriodOne(t *testing.T) {
	for _, s := range []int{1, 2, 3, 7} {
		res, err := engine.Run(&counter{d: 1, mod: 1}, cfg(s))
		if err != nil {
			t.Fatal(err)
		}
		o := res.Oscillation
		if res.Outcome != engine.Oscillating || o == nil || o.Tick != 1 || o.Period != 1 || o.Domains != 1 {
			t.Fatalf("shards %d: outcome %v oscillation %+v, want oscillating at tick 1 period 1 domains 1", s, res.Outcome, o)
		}
		if res.Ticks != 1 || res.Msgs != 1 {
			t.Fatalf("shards %d: ticks %d msgs %d, want 1 and 1", s, res.Ticks, res.Msgs)
		}
	}
}

func TestPeriodSixCycleIsDetectedAtTheSpecTick(t *testing.T) {
	// Three domains pass a token around; each counts modulo 2, so the
	// configuration (token position, three counters) has period 6.
	w := func() *counter { return &counter{d: 3, mod: 2} }
	conf := func(t uint64) string {
		var x [3]uint64
		for i := uint64(0); i < t; i++ {
			x[i%3] = (x[i%3] + 1) % 2
		}
		return fmt.Sprint(x, t%3)
	}
	wantH, wantP := brent(conf)
	if wantP != 6 {
		t.Fatalf("test model: period %d, want 6", wantP)
	}
	for _, damp := range []bool{false, true} {
		for _, s := range []int{1, 2, 3, 7} {
			c := cfg(s)
			c.Damp = damp
			res, err := engine.Run(w(), c)
			if err != nil {
				t.Fatal(err)
			}
			o := res.Oscillation
			if o == nil || o.Tick != wantH || o.Period != 6 || o.Domains != 3 {
				t.Fatalf("shards %d damp %v: oscillation %+v, want tick %d period 6 domains 3", s, damp, o, wantH)
			}
			wantOutcome, wantTicks := engine.Oscillating, wantH
			if damp {
				wantOutcome, wantTicks = engine.Damped, wantH+1
				if res.Dropped != 1 {
					t.Fatalf("damp: dropped %d, want 1", res.Dropped)
				}
			}
			if res.Outcome != wantOutcome || res.Ticks != wantTicks || res.Msgs != wantH {
				t.Fatalf("shards %d damp %v: outcome %v ticks %d msgs %d", s, damp, res.Outcome, res.Ticks, res.Msgs)
			}
		}
	}
}

func TestConvergentTransientIsNeverReported(t *testing.T) {
	// The message never changes (a = 0) while the counter counts to 1e5: every
	// boundary's fingerprint matches, only the state comparison rejects it.
	res, err := engine.Run(&counter{d: 1, stop: 100_000}, cfg(1))
	if err != nil {
		t.Fatal(err)
	}
	if res.Outcome != engine.Converged || res.Oscillation != nil || res.Ticks != 100_000 || res.Msgs != 100_000 {
		t.Fatalf("outcome %v oscillation %+v ticks %d msgs %d; want converged after 1e5 ticks", res.Outcome, res.Oscillation, res.Ticks, res.Msgs)
	}
}

func TestFingerprintCollisionIsRejectedByFullComparison(t *testing.T) {
	for _, s := range []int{1, 2} {
		plain, err := engine.Run(&counter{d: 3, stop: 5000, payload: 1}, cfg(s))
		if err != nil {
			t.Fatal(err)
		}
		c := cfg(s)
		engine.ForceFingerprintMatch(&c)
		forced, err := engine.Run(&counter{d: 3, stop: 5000, payload: 1}, c)
		if err != nil {
			t.Fatal(err)
		}
		if forced.Oscillation != nil || forced.Outcome != engine.Converged || forced.Trace != plain.Trace || forced.State != plain.State {
			t.Fatalf("shards %d: forced fingerprint changed the run: %+v vs %+v", s, forced, plain)
		}
	}
}

func TestBudgetsEndAtTheBoundary(t *testing.T) {
	for _, s := range []int{1, 2} {
		c := cfg(s)
		c.MaxTicks = 0
		res, _ := engine.Run(&counter{d: 2, stop: 100}, c)
		if res.Outcome != engine.Budget || res.Ticks != 0 || res.Msgs != 0 || res.Trace != trace.ParamsHash("test") {
			t.Fatalf("max-ticks 0: %+v", res)
		}
		c = cfg(s)
		c.MaxMsgs = 10
		res, _ = engine.Run(&counter{d: 2, stop: 100}, c)
		if res.Outcome != engine.Budget || res.Ticks != 10 || res.Msgs != 10 {
			t.Fatalf("max-msgs 10: %+v", res)
		}
	}
}

// badEmitter emits to a domain that does not exist.
type badEmitter struct{ counter }

func (w *badEmitter) Deliver(out *engine.Outbox, msgs []trace.Entry) {
	out.Emit(msgs[0].Dst, 99, trace.KindTick, 0, 0)
}

func TestEmitToNonexistentDomainIsAnError(t *testing.T) {
	for _, s := range []int{1, 2} {
		_, err := engine.Run(&badEmitter{counter{d: 2}}, cfg(s))
		if err == nil {
			t.Fatalf("shards %d: no error for an emit to domain 99 of 2", s)
		}
	}
}
