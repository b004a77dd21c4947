// Package golden reads the module's golden rows (testdata/golden.tsv):
// reference results computed by an independent implementation of the
// specification, one run per row. It is for tests only: every package that
// checks results against the rows reads them through it.
package golden

import (
	"bufio"
	"fmt"
	"math"
	"math/big"
	"os"
	"path/filepath"
	"runtime"
	"strings"
	"testing"
)

// Row is one golden row: the command line after `lexbench` (Args), the
// params text it must print, its trace, state and outcome, and the further
// result lines it must print (Extra, "key: value" each, in the row's
// order).
type Row struct {
	Name, Args, Params, Trace, State, Outcome string
	Extra                                     []string
}

// Path is the golden file: testdata/golden.tsv at the module's root.
func Path() string {
	_, file, _, _ := runtime.Caller(0)
	return filepath.Join(filepath.Dir(file), "..", "..", "testdata", "golden.tsv")
}

// Read returns every row of the golden file; a missing, empty or
// malformed file fails the test.
func Read(t testing.TB) []Row {
	t.Helper()
	rows, err := parse(Path())
	if err != nil {
		t.Fatalf("golden: %v", err)
	}
	return rows
}

func parse(path string) ([]Row, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	var rows []Row
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		line := sc.Text()
		if line == "" || strings.HasPrefix(line, "#") || strings.HasPrefix(line, "name\t") {
			continue
		}
		c := strings.Split(line, "\t")
		if len(c) < 6 {
			return nil, fmt.Errorf("malformed row %q", line)
		}
		r := Row{Name: c[0], Args: c[1], Params: c[2], Trace: c[3], State: c[4], Outcome: c[5]}
		if len(c) > 6 {
			for _, e := range strings.Split(c[6], ";") {
				if e = strings.TrimSpace(e); e != "" {
					r.Extra = append(r.Extra, e)
				}
			}
		}
		rows = append(rows, r)
	}
	if err := sc.Err(); err != nil {
		return nil, err
	}
	if len(rows) == 0 {
		return nil, fmt.Errorf("%s: no rows", path)
	}
	return rows, nil
}

// ExtraMap is Extra as key → value.
func (r Row) ExtraMap() map[string]string {
	m := map[string]string{}
	for _, e := range r.Extra {
		k, v, _ := strings.Cut(e, ": ")
		m[k] = v
	}
	return m
}

// Flag is the value of flag name (without dashes: "max-ticks", "n") in the
// row's args, and whether it is there.
func (r Row) Flag(name string) (string, bool) {
	f := strings.Fields(r.Args)
	for i := 0; i+1 < len(f); i++ {
		if f[i] == "--"+name || len(name) == 1 && f[i] == "-"+name {
			return f[i+1], true
		}
	}
	return "", false
}

// N is the row's -n (SPEC §6's default 1e8 if it has none).
func (r Row) N() uint64 {
	if v, ok := r.Flag("n"); ok {
		if n, err := Number(v); err == nil {
			return n
		}
	}
	return 100_000_000
}

// Controls are a row's run controls (SPEC §3): they are not in the params.
type Controls struct {
	MaxTicks, MaxMsgs int64 // -1: none
	Damp              bool  // --on-oscillation damp
	Local             bool  // --detect local
}

// Controls parses the row's run controls.
func (r Row) Controls() (Controls, error) {
	c := Controls{MaxTicks: -1, MaxMsgs: -1}
	for name, p := range map[string]*int64{"max-ticks": &c.MaxTicks, "max-msgs": &c.MaxMsgs} {
		if v, ok := r.Flag(name); ok {
			n, err := Number(v)
			if err != nil || n > math.MaxInt64 {
				return c, fmt.Errorf("row %s: --%s %s: %v", r.Name, name, v, err)
			}
			*p = int64(n)
		}
	}
	v, _ := r.Flag("on-oscillation")
	c.Damp = v == "damp"
	v, _ = r.Flag("detect")
	c.Local = v == "local"
	return c, nil
}

// Number parses a non-negative whole number as SPEC §6 writes it:
// 100000000, 100_000_000, 1e8, 1.5e3, 100M, 4k, 2G.
func Number(s string) (uint64, error) {
	t := strings.ReplaceAll(s, "_", "")
	mult := int64(1)
	switch {
	case strings.HasSuffix(t, "k"):
		mult, t = 1_000, strings.TrimSuffix(t, "k")
	case strings.HasSuffix(t, "M"):
		mult, t = 1_000_000, strings.TrimSuffix(t, "M")
	case strings.HasSuffix(t, "G"):
		mult, t = 1_000_000_000, strings.TrimSuffix(t, "G")
	}
	r, ok := new(big.Rat).SetString(t)
	if !ok || r.Sign() < 0 {
		return 0, fmt.Errorf("not a number: %q", s)
	}
	r.Mul(r, big.NewRat(mult, 1))
	if !r.IsInt() || !r.Num().IsUint64() {
		return 0, fmt.Errorf("not a whole uint64: %q", s)
	}
	return r.Num().Uint64(), nil
}
