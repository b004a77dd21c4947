package engine

import (
	"math/rand/v2"
	"slices"
	"testing"

	"github.com/lexbench/lexbench/trace"
)

// TestAssembleEqualsTheNaiveMerge: assemble against a plain
// filter-then-merge, on random streams (srcs with runs, gone indexes,
// late messages before, between and after the fresh srcs).
func TestAssembleEqualsTheNaiveMerge(t *testing.T) {
	rng := rand.New(rand.NewPCG(1, 2))
	var out []trace.Entry
	for it := 0; it < 20000; it++ {
		n, l := rng.IntN(40), rng.IntN(6)
		es := make([]trace.Entry, n)
		for i := range es {
			es[i] = trace.Entry{Src: uint32(rng.IntN(8)), A: uint64(i)}
		}
		slices.SortStableFunc(es, func(a, b trace.Entry) int { return int(a.Src) - int(b.Src) })
		var gone []int32
		for i := range es {
			if rng.IntN(5) == 0 {
				gone = append(gone, int32(i))
			}
		}
		late := make([]trace.Entry, l)
		for i := range late {
			late[i] = trace.Entry{Src: uint32(rng.IntN(10)), A: 1000 + uint64(i), Flags: 1}
		}
		slices.SortStableFunc(late, func(a, b trace.Entry) int { return int(a.Src) - int(b.Src) })
		var want []trace.Entry
		kept := []trace.Entry{}
		for i := range es {
			if !slices.Contains(gone, int32(i)) {
				kept = append(kept, es[i])
			}
		}
		i, j := 0, 0
		for i < len(kept) || j < len(late) {
			if j < len(late) && (i == len(kept) || late[j].Src <= kept[i].Src) {
				want = append(want, late[j])
				j++
			} else {
				want = append(want, kept[i])
				i++
			}
		}
		out = assemble(out, es, gone, late)
		if !slices.Equal(out, want) {
			t.Fatalf("es %v gone %v late %v:\n got %v\nwant %v", es, gone, late, out, want)
		}
	}
}
