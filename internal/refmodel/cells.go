package refmodel

// Cells and per-domain state sizes of the five workloads, for local
// oscillation detection (SPEC §5.7), written from the spec's lists.

// cellOf is the cell of domain d: banking has the driver and each bank as
// a cell, storm each domain; sync, conflict and oscillation the driver
// (cell 0) and each group g (cell g+1).
func cellOf(p Params, d uint32) int {
	switch p.Workload {
	case "banking", "storm":
		return int(d)
	case "sync", "oscillation":
		if d == 0 {
			return 0
		}
		return 1 + int((d-1)/3)
	case "conflict":
		if d == 0 {
			return 0
		}
		return 1 + int(uint64(d-1)/(p.K2+1))
	}
	panic("refmodel: unknown workload " + p.Workload)
}

// stateSize is the number of canonical words (§4) of domain d.
func stateSize(p Params, d uint32) int {
	switch p.Workload {
	case "banking":
		if d == 0 {
			return 2
		}
		return int(p.K2) + 2
	case "storm":
		if uint64(d) < p.K1 {
			return 3
		}
		return 2
	case "sync":
		if d == 0 {
			return 2
		}
		return 1 + 2*int(p.K2)
	case "conflict":
		if d == 0 {
			return 2
		}
		if (uint64(d)-1)%(p.K2+1) == 0 {
			return 3
		}
		return 2
	case "oscillation":
		if d == 0 {
			return 2
		}
		if (d-1)%3 == 0 {
			return 1
		}
		return 2
	}
	panic("refmodel: unknown workload " + p.Workload)
}

// cellSearch is one cell's Brent search (§5.7), kept naively: the full
// configuration saved at its last checkpoint.
type cellSearch struct {
	r         uint64 // last input tick (0 if none)
	saved     []uint64
	savedTick uint64
	receivers map[uint32]bool // domains of the cell that received since savedTick
	silent    bool            // damped, waiting for an input tick
}

// localConfs returns C_K(t) of every cell K, flattened: the states of K's
// domains in id order, then (tick − t, src, dst, kind, a, b) of each of its
// pending messages in ≺ order; and whether t is an input tick of K.
func localConfs(lay layout, w world, pending []message, t uint64) (confs [][]uint64, input []bool, hasMsgs []bool) {
	n := lay.cell(uint32(w.domains()-1)) + 1
	confs = make([][]uint64, n)
	input = make([]bool, n)
	hasMsgs = make([]bool, n)
	state := w.canonical()
	for d := 0; d < w.domains(); d++ {
		sz := lay.size(uint32(d))
		k := lay.cell(uint32(d))
		confs[k] = lay.appendKept(confs[k], uint32(d), state[:sz])
		state = state[sz:]
	}
	if len(state) != 0 {
		panic("refmodel: state sizes do not add up to the canonical state")
	}
	for _, m := range pending {
		k := lay.cell(m.dst)
		confs[k] = append(confs[k], uint64(m.tick)-t, uint64(m.src), uint64(m.dst), uint64(m.kind), m.a, m.b)
		hasMsgs[k] = true
		if uint64(m.tick) == t && lay.cell(m.src) != k {
			input[k] = true
		}
	}
	return confs, input, hasMsgs
}
