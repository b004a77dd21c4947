package lang

import (
	"fmt"
	"strings"
)

// Explanations. When an assert or an invariant fails, its message gives
// the value of every sub-expression of the condition, with the source
// text as written. The condition is generated twice: once as a branch
// (the fast path), and once, out of line after the failure's op, as an
// explanation: the same evaluation, short-circuits included, that notes
// (opNote) each sub-expression's value and ends with opEndX. It runs only
// after the condition failed, on the same registers, so it costs nothing
// until then. Sub-expressions never evaluated (the right of a decided &&
// or ||) are shown as such.

// notesMax bounds the sub-expressions an explanation shows.
const notesMax = 32

// explain generates the explanation of condition e at the current
// position (the caller jumps over it) and returns the sub-expressions it
// notes, in source order: every one but the whole and the number
// literals, each text once.
func (c *codegen) explain(e *Expr) []subExpr {
	var subs []subExpr
	idx := map[string]int{}
	c.notes = map[*Expr]int{}
	var walk func(x *Expr, root bool)
	walk = func(x *Expr, root bool) {
		if x == nil {
			return
		}
		if !root && x.Kind != eInt && len(subs) < notesMax {
			text := c.r.text(x)
			k, seen := idx[text]
			if !seen {
				k = len(subs)
				idx[text] = k
				subs = append(subs, subExpr{text: text, t: x.T})
			}
			c.notes[x] = k
		}
		walk(x.X, false)
		walk(x.Y, false)
		for _, a := range x.Args {
			walk(a, false)
		}
	}
	walk(e, true)
	mark := c.nextReg
	c.explaining = true
	c.expr(e, -1)
	c.explaining = false
	c.nextReg = mark
	c.notes = nil
	c.emit(opEndX, 0, 0, 0, 0, e.Pos)
	return subs
}

// formatValue prints a value of type t.
func formatValue(v uint64, t vtype) string {
	switch t {
	case tBool:
		if v != 0 {
			return "true"
		}
		return "false"
	case tI64:
		return fmt.Sprint(int64(v))
	}
	return fmt.Sprint(v)
}

// explanation formats the noted values of subs (noted: bit k set if
// subs[k] was evaluated) and the variables vars not already shown:
// "a + b = 7, a = 3, b = 4 (k = 2)".
func explanation(subs []subExpr, notes *[notesMax]uint64, noted uint64, vars []namedReg, regs *[regsMax]uint64) string {
	var b strings.Builder
	shown := map[string]bool{}
	for k, s := range subs {
		if b.Len() > 0 {
			b.WriteString(", ")
		}
		shown[s.text] = true
		if noted&(1<<k) == 0 {
			fmt.Fprintf(&b, "%s not evaluated", s.text)
			continue
		}
		fmt.Fprintf(&b, "%s = %s", s.text, formatValue(notes[k], s.t))
	}
	var vs []string
	for _, v := range vars {
		if !shown[v.name] {
			vs = append(vs, fmt.Sprintf("%s = %s", v.name, formatValue(regs[v.reg], v.t)))
		}
	}
	if len(vs) > 0 {
		if b.Len() > 0 {
			b.WriteByte(' ')
		}
		fmt.Fprintf(&b, "(%s)", strings.Join(vs, ", "))
	}
	return b.String()
}
