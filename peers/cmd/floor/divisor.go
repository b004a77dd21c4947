package main

import "math/bits"

// divisor divides uint64 values by a divisor fixed at run start with a
// multiply and shift instead of a hardware division (libdivide's unsigned
// 64-bit algorithm). The generators divide by runtime parameters (banks,
// accounts, groups, …) several times per operation; a 64-bit DIV costs more
// than the rest of a banking transfer.
type divisor struct {
	d     uint64
	magic uint64 // 0: d is a power of two, divide by shifting
	shift uint8
	add   bool
}

func newDivisor(d uint64) divisor {
	if d == 0 {
		panic("workloads: division by zero")
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

// div is n / d.
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

// divmod is (n / d, n % d).
func (v *divisor) divmod(n uint64) (q, r uint64) {
	q = v.div(n)
	return q, n - q*v.d
}

// mod is n % d.
func (v *divisor) mod(n uint64) uint64 { return n - v.div(n)*v.d }
