package main

// Copied from cmd/lexbench/number.go (this module does not depend on the
// main one): SPEC §6 numbers and the compact n of benchmark names.

import (
	"fmt"
	"math/big"
	"strconv"
	"strings"
)

// number is a flag.Value for a non-negative whole number written as
// 100000000, 100_000_000, 1e8, 1.5e3 or with a decimal suffix k, M, G
// (SPEC §6).
type number uint64

func (n *number) String() string { return strconv.FormatUint(uint64(*n), 10) }

func (n *number) Set(s string) error {
	v, err := parseNumber(s)
	if err != nil {
		return err
	}
	*n = number(v)
	return nil
}

var suffixes = map[byte]int64{'k': 1e3, 'K': 1e3, 'M': 1e6, 'G': 1e9}

// parseNumber parses a human number exactly; it rejects negatives,
// fractions and values beyond uint64.
func parseNumber(s string) (uint64, error) {
	t := strings.TrimSpace(s)
	if t == "" {
		return 0, fmt.Errorf("empty number")
	}
	if strings.HasPrefix(t, "-") {
		return 0, fmt.Errorf("%q is negative", s)
	}
	mult := int64(1)
	if m, ok := suffixes[t[len(t)-1]]; ok {
		mult = m
		t = t[:len(t)-1]
	}
	// underscores only between digits, as in Go literals
	for i := 0; i < len(t); i++ {
		if t[i] == '_' && (i == 0 || i == len(t)-1 || !isDigit(t[i-1]) || !isDigit(t[i+1])) {
			return 0, fmt.Errorf("%q is not a number", s)
		}
	}
	t = strings.ReplaceAll(t, "_", "")
	for i := 0; i < len(t); i++ {
		c := t[i]
		if !isDigit(c) && c != '.' && c != 'e' && c != 'E' && c != '+' {
			return 0, fmt.Errorf("%q is not a number", s)
		}
	}
	if t == "" || !isDigit(t[0]) && t[0] != '.' {
		return 0, fmt.Errorf("%q is not a number", s)
	}
	if i := strings.IndexAny(t, "eE"); i >= 0 {
		// bound the exponent before big.Rat expands it
		e, err := strconv.Atoi(strings.TrimPrefix(t[i+1:], "+"))
		if err != nil || e > 30 {
			return 0, fmt.Errorf("%q is not a number in range", s)
		}
	}
	r, ok := new(big.Rat).SetString(t)
	if !ok {
		return 0, fmt.Errorf("%q is not a number", s)
	}
	r.Mul(r, new(big.Rat).SetInt64(mult))
	if !r.IsInt() {
		return 0, fmt.Errorf("%q is not a whole number", s)
	}
	i := r.Num()
	if i.Sign() < 0 || !i.IsUint64() {
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
