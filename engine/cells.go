package engine

import (
	"fmt"
	"slices"
)

// cellLayout is the partition of the domains into cells (SPEC §5.7), as the
// local detector reads it.
type cellLayout struct {
	of     []uint32 // per domain: its cell
	starts []uint32 // cell k is domains [starts[k], starts[k+1]); len = cells + 1
}

// newCellLayout asks w for its cells (one per domain if it does not say)
// and checks that they are contiguous id ranges numbered in id order.
func newCellLayout(w Workload, d uint32) (*cellLayout, error) {
	c := &cellLayout{of: make([]uint32, d)}
	if cw, ok := w.(Celled); ok {
		cw.CellOf(c.of)
		if c.of[0] != 0 {
			return nil, fmt.Errorf("engine: workload cells: domain 0 is in cell %d, want 0", c.of[0])
		}
		for i := uint32(1); i < d; i++ {
			if k := c.of[i]; k != c.of[i-1] && k != c.of[i-1]+1 {
				return nil, fmt.Errorf("engine: workload cells: domain %d is in cell %d after domain %d in cell %d (cells are contiguous id ranges numbered in id order)",
					i, k, i-1, c.of[i-1])
			}
		}
	} else {
		for i := range c.of {
			c.of[i] = uint32(i)
		}
	}
	n := c.of[d-1] + 1
	c.starts = make([]uint32, n+1)
	for i := d; i > 0; i-- {
		c.starts[c.of[i-1]] = i - 1
	}
	c.starts[n] = d
	return c, nil
}

func (c *cellLayout) cells() uint32 { return uint32(len(c.starts) - 1) }

// alignCuts moves every shard cut down to the start of the cell it falls
// in, so that each cell lies in one shard: a cell's internal messages are
// then emitted, marked and dropped by one shard only. Cuts never change a
// result (SPEC §1), only which core does the work.
func (c *cellLayout) alignCuts(cuts []uint32) {
	for k := 1; k < len(cuts)-1; k++ {
		if cuts[k] < uint32(len(c.of)) {
			cuts[k] = c.starts[c.of[cuts[k]]]
		}
	}
}

// sameState reports whether a and b, two copies of domain d's span, are
// equal in every word detection compares (Projector; all if proj is nil).
func sameState(proj Projector, d uint32, a, b []uint64) bool {
	if proj == nil {
		return slices.Equal(a, b)
	}
	mask := proj.Kept(d)
	if mask == nil {
		return slices.Equal(a, b)
	}
	return sameKept(mask, a, b)
}

// sameKept compares a and b in the words whose bit is set in mask; words
// beyond the mask, and all words if mask is nil, are compared.
func sameKept(mask []uint64, a, b []uint64) bool {
	if len(a) != len(b) {
		return false
	}
	for i := range a {
		if w := i >> 6; w < len(mask) && mask[w]>>(i&63)&1 == 0 {
			continue
		}
		if a[i] != b[i] {
			return false
		}
	}
	return true
}
