// Package divisor divides uint64 values by a divisor fixed at run start
// with a multiply and shift instead of a hardware division (libdivide's
// unsigned 64-bit algorithm). The native generators divide by runtime
// parameters (banks, accounts, groups, …) several times per operation, and
// the Lexum interpreter by static values of a program; a 64-bit DIV costs
// more than the rest of a banking transfer.
package divisor

import "math/bits"

// Divisor is a precomputed divisor D. Its fields are exported for
// interpreters that inline the division; the zero Divisor (D = 0) stands
// for a division by zero, which the caller must check for.
type Divisor struct {
	D     uint64
	Magic uint64 // 0: D is a power of two, divide by shifting
	Shift uint8
	Add   bool
}

// New precomputes d; New(0) is the zero Divisor.
func New(d uint64) Divisor {
	if d == 0 {
		return Divisor{}
	}
	l := uint8(63 - bits.LeadingZeros64(d))
	if d&(d-1) == 0 {
		return Divisor{D: d, Shift: l}
	}
	m, rem := bits.Div64(uint64(1)<<l, 0, d)
	v := Divisor{D: d, Shift: l}
	if e := d - rem; e < uint64(1)<<l {
		v.Magic = m + 1
		return v
	}
	m += m
	twice := rem + rem
	if twice >= d || twice < rem {
		m++
	}
	v.Magic = m + 1
	v.Add = true
	return v
}

// Div is n / D (D != 0).
func (v *Divisor) Div(n uint64) uint64 {
	if v.Magic == 0 {
		return n >> v.Shift
	}
	q, _ := bits.Mul64(n, v.Magic)
	if v.Add {
		return (((n - q) >> 1) + q) >> v.Shift
	}
	return q >> v.Shift
}

// DivMod is (n / D, n % D).
func (v *Divisor) DivMod(n uint64) (q, r uint64) {
	q = v.Div(n)
	return q, n - q*v.D
}

// Mod is n % D.
func (v *Divisor) Mod(n uint64) uint64 { return n - v.Div(n)*v.D }
