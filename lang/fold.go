package lang

// Folding: the resolver computes every static expression that does not
// depend on the run's parameters (numbers, true, false and constants of
// them) as it resolves it, and reports there the faults linking would
// find in it with any parameters: a division by zero (also by a folded
// zero whatever the dividend) and a u64 subtraction that would wrap. The
// values are those of the static code (link.go: runStatic), which still
// computes them at link; folding only moves the errors to compile time,
// so `lexbench check` reports them with every other error. A division
// that is not static by a folded zero is reported too: it faults
// whenever it runs.

// fold sets e.Folded and e.Value for the resolved static expression e,
// its operands already folded, and reports a fault of its operation.
func (c *resolver) fold(e *Expr) {
	if e.T == tInvalid {
		return
	}
	var v uint64
	switch e.Kind {
	case eInt:
		v = e.Val
	case eName:
		switch k := c.consts[e.Name]; {
		case k != nil:
			if !k.x.Folded {
				return
			}
			v = k.x.Value
		case e.Name == "true":
			v = 1
		case e.Name == "false":
			v = 0
		default:
			return // a key, n, seed, batch
		}
	case eUnary:
		if !e.X.Folded {
			return
		}
		switch e.Op {
		case "-":
			v = arith(opNeg, e.X.Value, 0)
		case "^":
			v = arith(opBNot, e.X.Value, 0)
		default:
			return
		}
	case eBinary:
		x, y := e.X, e.Y
		signed := e.T == tI64
		if (e.Op == "/" || e.Op == "%") && y.Folded && y.Value == 0 {
			c.errs.add(e.Pos, "division by zero in a static expression")
			return
		}
		if !x.Folded || !y.Folded {
			return
		}
		var op opcode
		switch e.Op {
		case "/", "%":
			op = map[string]opcode{"/": opDivU, "%": opModU}[e.Op]
			if signed {
				op += 2
			}
		case "-":
			if e.T == tU64 && y.Value > x.Value {
				c.errs.add(e.Pos, "static expression: "+wrapFault, x.Value, y.Value)
				return
			}
			op = opSub
		case ">>":
			op = opShr
			if signed {
				op = opSar
			}
		default:
			o, ok := arithOps[e.Op]
			if !ok {
				return
			}
			op = o[0]
		}
		v = arith(op, x.Value, y.Value)
	case eCall:
		for _, a := range e.Args {
			if !a.Folded {
				return
			}
		}
		switch e.Name {
		case "i64", "u64":
			v = e.Args[0].Value
		case "min", "max":
			op := map[string]opcode{"min": opMinU, "max": opMaxU}[e.Name]
			if e.T == tI64 {
				op += 2
			}
			v = arith(op, e.Args[0].Value, e.Args[1].Value)
		default:
			return
		}
	default:
		return
	}
	e.Folded, e.Value = true, v
}

// divByZero reports a division (op / or %, also /= and %=) that is not
// static by y when y is a folded zero: it would fault whenever it runs.
func (c *resolver) divByZero(op string, y *Expr, pos Pos) {
	if (op == "/" || op == "%") && y.Folded && y.Value == 0 {
		c.errs.add(pos, "division by zero")
	}
}
