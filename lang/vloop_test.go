package lang

import (
	"path/filepath"
	"strings"
	"testing"

	"github.com/lexbench/lexbench/engine"
	"github.com/lexbench/lexbench/workloads"
)

// runBoth runs p linked with pr twice, with its vectorized loops and with
// them disabled (the scalar code), and returns both results and errors.
func runBoth(t *testing.T, p *Program, pr workloads.Params, shards int) (vec, sc engine.Result, verr, serr error) {
	t.Helper()
	cfg := engine.Config{Params: p.Spec().Text(pr), Shards: shards, MaxTicks: -1, MaxMsgs: -1}
	w := p.link(pr)
	if len(w.vprogs) == 0 || w.vprogs[0] == nil {
		t.Fatalf("%s: no vectorized loop", p.File)
	}
	vec, verr = engine.Run(w, cfg)
	w = p.link(pr)
	for i := range w.vprogs {
		w.vprogs[i] = nil
	}
	sc, serr = engine.Run(w, cfg)
	return
}

func TestVectorizedLoopsEqualTheScalarCode(t *testing.T) {
	files, _ := filepath.Glob("../workloads/lxm/*.lxm")
	for _, f := range files {
		p := compileFile(t, f)
		for _, batch := range []uint64{1, 63, 64, 65, 1000} {
			pr := params(p, 2000, 3)
			pr.Batch = batch
			vec, sc, verr, serr := runBoth(t, p, pr, 2)
			if verr != nil || serr != nil || vec.Trace != sc.Trace || vec.State != sc.State || vec.Msgs != sc.Msgs {
				t.Errorf("%s batch=%d: vectorized %016x %016x %v, scalar %016x %016x %v", f, batch, vec.Trace, vec.State, verr, sc.Trace, sc.State, serr)
			}
		}
	}
}

// A fault or the budget running out inside a vectorized loop is reported
// as the scalar code reports it: same message, same position.
func TestVectorizedLoopFaultsAsTheScalarCode(t *testing.T) {
	const prog = `workload v
key sinks = 10 in 1..100 "sinks"
key step = 1 in 0..1000 "iterations per sink"
BUDGET
type Src {
    rng: rng
    on Tick() {
        for i in 0..batch {
            let r = rng()
            emit(sink(r % sinks), Data, r, i)
            emit(1 + i / step, Data, r, 0)
        }
    }
}
type Sink {
    n: u64
    on Data(a, b) { n += 1 }
}
domains {
    source: Src boots
    sink: Sink[sinks]
}
`
	for _, c := range []struct {
		name, budget string
		step, batch  uint64
		want         string
	}{
		{"no fault", "", 1000, 200, ""},
		{"emit to a nonexistent domain in the first chunk", "", 1, 200, "v.lxm:11:13: tick 0, domain 0 (source), Src.on Tick: emit to nonexistent domain 11 (domains: 11)"},
		{"emit to a nonexistent domain in the sixth chunk", "", 37, 400, "v.lxm:11:13: tick 0, domain 0 (source), Src.on Tick: emit to nonexistent domain 11 (domains: 11)"},
		{"division by zero", "", 0, 200, "v.lxm:11:24: tick 0, domain 0 (source), Src.on Tick: division by zero"},
		{"budget in the second chunk", "budget 1000", 1000, 200, "v.lxm:8:9: tick 0, domain 0 (source), Src.on Tick: instruction budget exceeded (1000 instructions per message)"},
	} {
		src := strings.Replace(prog, "BUDGET", c.budget, 1)
		p, err := Compile("v.lxm", src)
		if err != nil {
			t.Fatal(err)
		}
		pr := p.Spec().Defaults()
		pr.N, pr.Batch, pr.K = 1, c.batch, []uint64{10, c.step}
		_, _, verr, serr := runBoth(t, p, pr, 1)
		if verr == nil || serr == nil {
			if c.want != "" || verr != serr {
				t.Errorf("%s: vectorized %v, scalar %v, want %q", c.name, verr, serr, c.want)
			}
			continue
		}
		if verr.Error() != serr.Error() || (c.want != "" && verr.Error() != c.want) {
			t.Errorf("%s: vectorized %q, scalar %q, want %q", c.name, verr, serr, c.want)
		}
	}
}
