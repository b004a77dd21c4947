package lang

import (
	"fmt"
	"strings"
)

// Cells for local oscillation detection (SPEC §5.7, docs/language.md
// "Cells"). By default each instance of a group of `domains` is a cell and
// every other domain (a plain member, each domain of a member array, each
// `domain NAME { … }`) is its own cell. A declaration
//
//	cell NAME { a, b, … }
//
// makes the domains of the named entries one cell: entries of `domains`
// (a plain member, a member array, a group: all its instances), or, in
// the prototype's shape, domains. The named entries must be next to each
// other in declaration order, so that the cell is a contiguous id range
// whatever the keys; an entry is in at most one cell.

// cellInfo is a declared cell.
type cellInfo struct {
	name    string
	pos     Pos
	entries []*entry // in declaration order
}

// declareCells resolves the cell declarations against the program's
// entries (both shapes: run after every entry is declared).
func (c *resolver) declareCells() {
	index := map[*entry]int{}
	for i, e := range c.p.entries {
		index[e] = i
	}
	names := map[string]bool{}
	owner := map[*entry]string{} // the cell that names an entry, in error or not
	for _, d := range c.f.Cells {
		ok := true
		if names[d.Name] {
			c.errs.add(d.Pos, "cell %s declared twice", d.Name)
			ok = false // its names are still checked
		}
		names[d.Name] = true
		if len(d.Names) == 0 {
			c.errs.add(d.Pos, "cell %s names no domains", d.Name)
			continue
		}
		ci := &cellInfo{name: d.Name, pos: d.Pos}
		lo, hi := len(c.p.entries), -1
		mine := map[*entry]bool{}
		for _, n := range d.Names {
			e := c.entries[n.Name]
			if e == nil {
				ok = false
				if m := c.members[n.Name]; m != nil {
					c.errs.add(n.Pos, "cell %s: %s is a member of group %s; a cell names whole entries (each instance of %s is a cell already)",
						d.Name, n.Name, m.entry.name, m.entry.name)
				} else {
					c.errs.add(n.Pos, "cell %s: no domain entry %s", d.Name, n.Name)
				}
				continue
			}
			switch {
			case mine[e]:
				c.errs.add(n.Pos, "cell %s: %s named twice", d.Name, n.Name)
				ok = false
				continue
			case owner[e] != "":
				c.errs.add(n.Pos, "cell %s: %s is already in cell %s", d.Name, n.Name, owner[e])
				ok = false
				continue
			}
			mine[e] = true
			lo, hi = min(lo, index[e]), max(hi, index[e])
		}
		for e := range mine { // a cell in error still claims its entries, so a second claim is reported too
			owner[e] = d.Name
		}
		if !ok {
			continue
		}
		for i := lo; i <= hi; i++ {
			e := c.p.entries[i]
			if !mine[e] {
				c.errs.add(d.Pos, "cell %s: its domains are not a contiguous range: %s is declared between %s and %s but is not in the cell (declare a cell's entries next to each other)",
					d.Name, e.name, c.p.entries[lo].name, c.p.entries[hi].name)
				ok = false
				break
			}
		}
		if !ok {
			continue
		}
		for i := lo; i <= hi; i++ {
			e := c.p.entries[i]
			e.cell = ci
			ci.entries = append(ci.entries, e)
		}
		c.p.cells = append(c.p.cells, ci)
	}
}

// cellKey identifies the cell of a domain while the domains are walked
// in id order: a declared cell, or a group instance (entry, g), or a
// domain on its own (entry, g, j).
type cellKey struct {
	c    *cellInfo
	e    *entry
	g, j uint64
}

// CellOf gives a program's cells for local oscillation detection (SPEC
// §5.7): the declared cells (`cell NAME { … }`), each instance of any
// other group of `domains` and every other domain on its own, numbered in
// id order. An entry with no domains (a count of 0) takes no cell number.
func (w *instance) CellOf(cells []uint32) {
	var d uint64
	k := uint32(0)
	var last cellKey
	for i := range w.ents {
		e := &w.ents[i]
		for g := uint64(0); g < e.count; g++ {
			for j := uint64(0); j < e.per; j++ {
				key := cellKey{e: e.e, g: g, j: j}
				switch {
				case e.e.cell != nil:
					key = cellKey{c: e.e.cell}
				case e.e.group:
					key.j = 0
				}
				if d > 0 && key != last {
					k++
				}
				last = key
				cells[d] = k
				d++
			}
		}
	}
	for ; d < uint64(len(cells)); d++ { // a program that failed to link: one domain
		cells[d] = k
	}
}

// CellsText describes the program's cells, one line per entry of
// `domains` (or domain) in declaration order, for `lexbench check -v`:
//
//	driver: a cell
//	app[apps]: a cell per instance
//	cell fight: autoscaler, gitops, deploy
func (p *Program) CellsText() []string {
	var lines []string
	done := map[*cellInfo]bool{}
	for _, e := range p.entries {
		switch {
		case e.cell != nil:
			if done[e.cell] {
				continue
			}
			done[e.cell] = true
			var ns []string
			for _, x := range e.cell.entries {
				ns = append(ns, x.name)
			}
			lines = append(lines, fmt.Sprintf("cell %s: %s (one cell)", e.cell.name, strings.Join(ns, ", ")))
		case e.group:
			lines = append(lines, fmt.Sprintf("%s: a cell per instance", e.name))
		case e.countExpr != nil:
			lines = append(lines, fmt.Sprintf("%s: a cell per domain", e.name))
		default:
			lines = append(lines, fmt.Sprintf("%s: a cell", e.name))
		}
	}
	return lines
}
