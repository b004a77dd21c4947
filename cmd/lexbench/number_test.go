package main

import (
	"strings"
	"testing"
)

func TestParseNumberAcceptsSpecForms(t *testing.T) {
	for s, want := range map[string]uint64{
		"100000000": 1e8, "100_000_000": 1e8, "1e8": 1e8, "1.5e3": 1500, "100M": 1e8,
		"0": 0, "5k": 5000, "2G": 2e9, "1.5k": 1500, "18446744073709551615": 1<<64 - 1, "1E3": 1000,
		"1e+3": 1000, "15000e-3": 15, "1_000.5e1": 10005, "0.5k": 500,
	} {
		got, err := parseNumber(s)
		if err != nil || got != want {
			t.Errorf("parseNumber(%q) = %d, %v; want %d", s, got, err, want)
		}
	}
}

func TestParseNumberRejectsBadForms(t *testing.T) {
	for _, s := range []string{"-5", "abc", "1.5", "1e-3", "", "1__0", "_1", "1_", "18446744073709551616",
		"1e400", "0x10", "1.2.3", "M", "e5", "1e8M5", "+5", "1 0",
		"1e3k", "1e3M", "5K", ".5e3", "1.", "1e", "1_e3", "1._5"} {
		if v, err := parseNumber(s); err == nil {
			t.Errorf("parseNumber(%q) = %d, want an error", s, v)
		}
	}
}

func TestFormatN(t *testing.T) {
	for n, want := range map[uint64]string{0: "0", 1: "1", 1000: "1000", 100000: "1e5", 100000000: "1e8", 20000: "2e4", 10001: "10001", 1500000: "1500000"} {
		if got := formatN(n); got != want {
			t.Errorf("formatN(%d) = %q, want %q", n, got, want)
		}
	}
}

// The error says what is wrong: a fraction is "not a whole number", even
// written with an exponent.
func TestParseNumberSaysWhatIsWrong(t *testing.T) {
	for s, want := range map[string]string{
		"1e-3": "is not a whole number", "1.5": "is not a whole number", "1.0001k": "is not a whole number",
		"1e3k": "is not a number", "abc": "is not a number", "1e31": "is out of range", "18446744073709551616": "is out of range",
	} {
		if _, err := parseNumber(s); err == nil || !strings.Contains(err.Error(), want) {
			t.Errorf("parseNumber(%q): %v; want %q", s, err, want)
		}
	}
}
