package sim

import (
	"fmt"
	"strings"
)

// Range is an inclusive range of seeds, Lo ≤ Hi.
type Range struct{ Lo, Hi uint64 }

// Seeds is the list of seeds a simulation runs: ranges, in the order
// given. The i-th seed of the list is At(i); every report lists seeds in
// this order, whatever order the workers ran them in.
type Seeds struct {
	ranges []Range
	ends   []uint64 // ends[k]: seeds in ranges[0..k]
}

// SeedsMax bounds the number of seeds of one simulation.
const SeedsMax = 1 << 40

// NewSeeds builds a list from ranges. It refuses an empty list, a range
// with Lo > Hi, ranges that overlap (a seed run twice says nothing new)
// and more than SeedsMax seeds.
func NewSeeds(rs []Range) (Seeds, error) {
	if len(rs) == 0 {
		return Seeds{}, fmt.Errorf("no seeds")
	}
	var s Seeds
	var n uint64
	for i, r := range rs {
		if r.Lo > r.Hi {
			return Seeds{}, fmt.Errorf("range %d..%d is empty", r.Lo, r.Hi)
		}
		for _, q := range rs[:i] {
			if r.Lo <= q.Hi && q.Lo <= r.Hi {
				return Seeds{}, fmt.Errorf("%s and %s overlap", r, q)
			}
		}
		c := r.Hi - r.Lo + 1
		if c == 0 || c > SeedsMax || n+c > SeedsMax {
			return Seeds{}, fmt.Errorf("more than %d seeds", uint64(SeedsMax))
		}
		n += c
		s.ranges = append(s.ranges, r)
		s.ends = append(s.ends, n)
	}
	return s, nil
}

// Len is the number of seeds.
func (s Seeds) Len() uint64 {
	if len(s.ends) == 0 {
		return 0
	}
	return s.ends[len(s.ends)-1]
}

// At is the i-th seed (0 ≤ i < Len).
func (s Seeds) At(i uint64) uint64 {
	k := 0
	for i >= s.ends[k] {
		k++
	}
	start := uint64(0)
	if k > 0 {
		start = s.ends[k-1]
	}
	return s.ranges[k].Lo + (i - start)
}

func (r Range) String() string {
	if r.Lo == r.Hi {
		return fmt.Sprint(r.Lo)
	}
	return fmt.Sprintf("%d..%d", r.Lo, r.Hi)
}

// String is the list as --seeds takes it: 1..100,200,300..310.
func (s Seeds) String() string {
	var b strings.Builder
	for i, r := range s.ranges {
		if i > 0 {
			b.WriteByte(',')
		}
		b.WriteString(r.String())
	}
	return b.String()
}

// ParseSeeds parses A..B, a single seed, or a comma-separated list of
// both; num parses one number (the CLI's number syntax).
func ParseSeeds(text string, num func(string) (uint64, error)) (Seeds, error) {
	var rs []Range
	for _, part := range strings.Split(text, ",") {
		lo, hi, isRange := strings.Cut(part, "..")
		a, err := num(lo)
		if err != nil {
			return Seeds{}, err
		}
		b := a
		if isRange {
			if b, err = num(hi); err != nil {
				return Seeds{}, err
			}
		}
		rs = append(rs, Range{a, b})
	}
	return NewSeeds(rs)
}
