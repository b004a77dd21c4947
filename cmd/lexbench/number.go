package main

import (
	"fmt"
	"math/big"
	"regexp"
	"strconv"
	"strings"
)

// number is a pflag value for a non-negative whole number written as
// 100000000, 100_000_000, 1e8, 1.5e3 or with a decimal suffix k, M, G
// (SPEC §6; docs/cli.md).
type number struct {
	v   uint64
	set bool
}

func (n *number) String() string { return strconv.FormatUint(n.v, 10) }
func (n *number) Type() string   { return "number" }

func (n *number) Set(s string) error {
	v, err := parseNumber(s)
	if err != nil {
		return err
	}
	n.v, n.set = v, true
	return nil
}

var suffixes = map[byte]int64{'k': 1e3, 'M': 1e6, 'G': 1e9}

// numberForm is every form a number may take (docs/cli.md): decimal
// digits, with underscores only between digits as in Go literals; an
// optional fraction; then either an exponent (e or E, optionally signed)
// or one decimal suffix k, M or G — not both.
var numberForm = regexp.MustCompile(`^([0-9]+(?:_[0-9]+)*(?:\.[0-9]+(?:_[0-9]+)*)?)(?:[eE]([+-]?[0-9]+)|([kMG]))?$`)

// parseNumber parses a human number exactly: the forms of numberForm whose
// value is a whole number in uint64. Errors name which: "is not a number"
// (another form: a sign, hex, a suffix with an exponent), "is not a whole
// number" (1.5, 1e-3), "is out of range".
func parseNumber(s string) (uint64, error) {
	t := strings.TrimSpace(s)
	if t == "" {
		return 0, fmt.Errorf("empty number")
	}
	if strings.HasPrefix(t, "-") {
		return 0, fmt.Errorf("%q is negative", s)
	}
	m := numberForm.FindStringSubmatch(t)
	if m == nil {
		return 0, fmt.Errorf("%q is not a number (want digits, 100_000, 1e8, 1.5e3 or 100M)", s)
	}
	r, ok := new(big.Rat).SetString(strings.ReplaceAll(m[1], "_", ""))
	if !ok {
		return 0, fmt.Errorf("%q is not a number", s)
	}
	if m[2] != "" {
		// bound the exponent before big.Rat expands it
		e, err := strconv.Atoi(m[2])
		switch {
		case err != nil || e > 30:
			return 0, fmt.Errorf("%q is out of range", s)
		case e < -30:
			return 0, fmt.Errorf("%q is not a whole number", s)
		}
		p := new(big.Rat).SetInt(new(big.Int).Exp(big.NewInt(10), big.NewInt(int64(max(e, -e))), nil))
		if e >= 0 {
			r.Mul(r, p)
		} else {
			r.Quo(r, p)
		}
	}
	if m[3] != "" {
		r.Mul(r, new(big.Rat).SetInt64(suffixes[m[3][0]]))
	}
	if !r.IsInt() {
		return 0, fmt.Errorf("%q is not a whole number", s)
	}
	i := r.Num()
	if !i.IsUint64() {
		return 0, fmt.Errorf("%q is out of range", s)
	}
	return i.Uint64(), nil
}

func isDigit(c byte) bool { return c >= '0' && c <= '9' }

// formatN writes n compactly for benchmark names: 1e8, 2e4, 1000, 10001.
func formatN(n uint64) string {
	if n == 0 {
		return "0"
	}
	m, e := n, 0
	for m%10 == 0 {
		m /= 10
		e++
	}
	if e >= 4 && m < 10 {
		return fmt.Sprintf("%de%d", m, e)
	}
	return strconv.FormatUint(n, 10)
}
