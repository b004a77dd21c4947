package lang

import (
	"reflect"
	"slices"
	"strings"
	"testing"

	"github.com/lexbench/lexbench/engine"
)

// platform: an autoscaler (hpa) and a GitOps sync (git) fight over a
// Deployment's replicas, three singletons next to each other, while
// `workers` workers tick n times. cells is spliced in at the end.
const platform = `workload platform
key nworkers = 3 in 0..100 "workers"
type Worker {
    done: u64
    on Tick() {
        done += 1
        if done < n { emit(self, Tick, 0, 0) }
    }
}
type Deploy {
    replicas: u64
    on Set(v) {
        if v != replicas {
            replicas = v
            emit(hpa(), Changed, v, 0)
            emit(git(), Changed, v, 0)
        }
    }
}
type Hpa {
    on Tick() { emit(deploy(), Set, 5, 0) }
    on Changed(v) { if v != 5 { emit(deploy(), Set, 5, 0) } }
}
type Git {
    on Tick() { emit(deploy(), Set, 3, 0) }
    on Changed(v) { if v != 3 { emit(deploy(), Set, 3, 0) } }
}
domains {
    workers: Worker[nworkers] boots
    deploy: Deploy
    hpa: Hpa boots
    git: Git boots
}
`

func cellsOf(t *testing.T, p *Program, keys ...uint64) []uint32 {
	t.Helper()
	pr := p.Spec().Defaults()
	copy(pr.K, keys)
	w := p.Spec().New(pr)
	c := make([]uint32, w.Domains())
	w.(engine.Celled).CellOf(c)
	return c
}

// A program's cells: by default each domain on its own (each group
// instance: the other tests); `cell NAME { … }` makes entries one cell.
func TestDeclaredCellsGroupEntries(t *testing.T) {
	for _, c := range []struct {
		cells string
		keys  []uint64
		want  []uint32
	}{
		{"", nil, []uint32{0, 1, 2, 3, 4, 5}},
		{"cell fight { deploy, hpa, git }", nil, []uint32{0, 1, 2, 3, 3, 3}},
		{"cell fight { git hpa deploy }", nil, []uint32{0, 1, 2, 3, 3, 3}}, // any order, newlines or commas
		{"cell pool { workers }\ncell fight { deploy, hpa, git }", nil, []uint32{0, 0, 0, 1, 1, 1}},
		{"cell pool { workers }", []uint64{0}, []uint32{0, 1, 2}}, // an empty entry takes no number
		{"cell pool { workers, deploy }", []uint64{1}, []uint32{0, 0, 1, 2}},
		{"cell a { hpa, git }", nil, []uint32{0, 1, 2, 3, 4, 4}},
	} {
		p := compileSrc(t, platform+c.cells)
		if got := cellsOf(t, p, c.keys...); !slices.Equal(got, c.want) {
			t.Errorf("%q keys %v: cells %v, want %v", c.cells, c.keys, got, c.want)
		}
	}
	// a group named in a cell: all its instances are one cell
	src := `workload g
type R { on Tick() { } }
domains {
    d: R boots
    grp[3] { a: R  b: R }
    e: R
}
`
	for _, c := range []struct {
		cells string
		want  []uint32
	}{
		{"", []uint32{0, 1, 1, 2, 2, 3, 3, 4}},
		{"cell all { grp }", []uint32{0, 1, 1, 1, 1, 1, 1, 2}},
		{"cell all { d, grp, e }", []uint32{0, 0, 0, 0, 0, 0, 0, 0}},
	} {
		if got := cellsOf(t, compileSrc(t, src+c.cells)); !slices.Equal(got, c.want) {
			t.Errorf("%q: cells %v, want %v", c.cells, got, c.want)
		}
	}
}

// Explicit cells change which cells local detection reports: the fight
// spans three singletons, each of which receives its messages from the
// others (inputs), so by default no cell ever repeats after its input;
// declared one cell, the three are caught at tick 5 (C(5) = C(3): the Sets
// of both controllers pending, replicas 3), period 2, while the workers
// still run. Global detection needs the workers to finish.
func TestDeclaredCellsChangeWhatLocalDetectionReports(t *testing.T) {
	for _, c := range []struct {
		cells   string
		outcome engine.Outcome
		events  []engine.CellEvent
	}{
		{"", engine.Budget, nil},
		{"cell fight { deploy, hpa, git }", engine.Oscillating,
			[]engine.CellEvent{{Cell: 3, First: 3, End: 6, Tick: 5, Period: 2, Domains: []uint32{3, 4, 5}}}},
		{"cell pool { workers }\ncell fight { deploy, hpa, git }", engine.Oscillating,
			[]engine.CellEvent{{Cell: 1, First: 3, End: 6, Tick: 5, Period: 2, Domains: []uint32{3, 4, 5}}}},
		// one cell for everything: found only once the workers are done,
		// at the first checkpoint after (127) plus the period, as globally
		{"cell all { workers, deploy, hpa, git }", engine.Oscillating,
			[]engine.CellEvent{{Cell: 0, First: 0, End: 6, Tick: 129, Period: 2, Domains: []uint32{3, 4, 5}}}},
	} {
		p := compileSrc(t, platform+c.cells)
		pr := p.Spec().Defaults()
		pr.N = 100
		for s := 1; s <= 7; s++ {
			r := runCells(t, p, pr, engine.Config{Shards: s, MaxTicks: 300, MaxMsgs: -1, Detect: engine.DetectLocal})
			if r.res.Outcome != c.outcome || !reflect.DeepEqual(r.events, c.events) {
				t.Fatalf("%q shards %d: %v %+v, events %+v; want %v %+v", c.cells, s, r.res.Outcome, r.res.Oscillation, r.events, c.outcome, c.events)
			}
		}
		cfg := engine.Config{Params: p.Spec().Text(pr), Shards: 2, MaxTicks: 300, MaxMsgs: -1}
		if res, err := engine.Run(p.Spec().New(pr), cfg); err != nil || res.Oscillation == nil || res.Oscillation.Tick < 100 {
			t.Fatalf("%q global: %v %+v, want an oscillation after the workers' 100 ticks", c.cells, err, res.Oscillation)
		}
	}
}

// In the prototype's shape each domain is a cell unless a cell groups it.
func TestDeclaredCellsInThePrototypeShape(t *testing.T) {
	src := `domain Clock {
  state { ticks: int }
  goal Run { priority 1 target ticks == 1000 strategy { Step } }
  transition Step { step { ticks = ticks + 1 } }
}
domain Ping {
  capability { send_to:Pong }
  state { flag: int }
  goal Started { priority 1 target flag == 1 strategy { Serve } }
  transition Serve { step { flag = 1  send("Pong", "Hit") } }
  transition Hit { step { send("Pong", "Hit") } }
}
domain Pong {
  capability { send_to:Ping }
  transition Hit { step { send("Ping", "Hit") } }
}
`
	for _, c := range []struct {
		cells  string
		want   []uint32
		events []engine.CellEvent
	}{
		{"", []uint32{0, 1, 2}, nil},
		{"cell rally { Ping, Pong }", []uint32{0, 1, 1},
			// Serve at tick 1 (from the boot's reconciliation), then Hit
			// back and forth: C(2) = Hit→Pong, C(3) = Hit→Ping, C(4) = C(2)
			// with checkpoints 0, 1, 3: found at 5 = C(3)'s repetition
			[]engine.CellEvent{{Cell: 1, First: 1, End: 3, Tick: 5, Period: 2, Domains: []uint32{1, 2}}}},
	} {
		p := compileSrc(t, src+c.cells)
		if got := cellsOf(t, p); !slices.Equal(got, c.want) {
			t.Fatalf("%q: cells %v, want %v", c.cells, got, c.want)
		}
		r := runCells(t, p, p.Spec().Defaults(), engine.Config{Shards: 1, MaxTicks: 100, MaxMsgs: -1, Detect: engine.DetectLocal})
		if !reflect.DeepEqual(r.events, c.events) {
			t.Fatalf("%q: %v %+v events %+v, want %+v", c.cells, r.res.Outcome, r.res.Oscillation, r.events, c.events)
		}
	}
}

// A cell that is not a contiguous id range, or names what is not an
// entry, is an error at its position.
func TestBadCellsAreCompileErrors(t *testing.T) {
	for _, c := range []struct{ cells, want string }{
		{"cell a { hpa, workers }", "t.lxm:34:1: cell a: its domains are not a contiguous range: deploy is declared between workers and hpa but is not in the cell (declare a cell's entries next to each other)"},
		{"cell a { nothing }", "t.lxm:34:10: cell a: no domain entry nothing"},
		{"cell a { }", "t.lxm:34:1: cell a names no domains"},
		{"cell a { hpa, hpa }", "t.lxm:34:15: cell a: hpa named twice"},
		{"cell a { hpa }\ncell b { git, hpa }", "t.lxm:35:15: cell b: hpa is already in cell a"},
		{"cell a { hpa }\ncell a { git }", "t.lxm:35:1: cell a declared twice"},
		{"cell a { hpa, 3 }", "t.lxm:34:15: expected domain entry name, found number 3"},
		// a cell in error still claims its entries; a cell declared
		// twice still has its names checked
		{"cell a { hpa, workers }\ncell b { hpa }", "t.lxm:34:1: cell a: its domains are not a contiguous range: deploy is declared between workers and hpa but is not in the cell (declare a cell's entries next to each other)\n" +
			"t.lxm:35:10: cell b: hpa is already in cell a"},
		{"cell a { hpa, nothing }\ncell b { hpa }", "t.lxm:34:15: cell a: no domain entry nothing\nt.lxm:35:10: cell b: hpa is already in cell a"},
		{"cell a { hpa }\ncell a { nothing }", "t.lxm:35:1: cell a declared twice\nt.lxm:35:10: cell a: no domain entry nothing"},
	} {
		_, err := Compile("t.lxm", platform+c.cells)
		if err == nil || err.Error() != c.want {
			t.Errorf("%q: error %v, want %s", c.cells, err, c.want)
		}
	}
	src := `workload g
type R { on Tick() { } }
domains {
    grp[3] { a: R  b: R }
}
cell x { a }
`
	want := "t.lxm:6:10: cell x: a is a member of group grp; a cell names whole entries (each instance of grp is a cell already)"
	if _, err := Compile("t.lxm", src); err == nil || err.Error() != want {
		t.Errorf("group member: error %v, want %s", err, want)
	}
	// cell is a keyword only where a declaration starts: still a name elsewhere
	if _, err := Compile("t.lxm", strings.Replace(platform, "done", "cell", -1)); err != nil {
		t.Errorf("a field named cell: %v", err)
	}
}
