package lang

import "math/bits"

// divisor divides by a value fixed for the run with a multiply and shift
// (libdivide's unsigned 64-bit algorithm), as workloads/divisor.go does for
// the native generators: the interpreter uses it for / and % by static
// values (keys and expressions of keys). d = 0 is kept so the operation
// can fault with a clear message.
type divisor struct {
	d     uint64
	magic uint64 // 0: d is a power of two, divide by shifting
	shift uint8
	add   bool
}

func newDivisor(d uint64) divisor {
	if d == 0 {
		return divisor{}
	}
	l := uint8(63 - bits.LeadingZeros64(d))
	if d&(d-1) == 0 {
		return divisor{d: d, shift: l}
	}
	m, rem := bits.Div64(uint64(1)<<l, 0, d)
	v := divisor{d: d, shift: l}
	if e := d - rem; e < uint64(1)<<l {
		v.magic = m + 1
		return v
	}
	m += m
	twice := rem + rem
	if twice >= d || twice < rem {
		m++
	}
	v.magic = m + 1
	v.add = true
	return v
}

// div is n / d (d != 0).
func (v *divisor) div(n uint64) uint64 {
	if v.magic == 0 {
		return n >> v.shift
	}
	q, _ := bits.Mul64(n, v.magic)
	if v.add {
		return (((n - q) >> 1) + q) >> v.shift
	}
	return q >> v.shift
}
