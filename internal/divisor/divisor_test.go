package divisor

import (
	"math"
	"testing"
)

func TestDivisorMatchesHardwareDivision(t *testing.T) {
	ds := []uint64{1, 2, 3, 5, 6, 7, 10, 999, 1000, 1023, 1024, 1025, 4095, 65536, 65537,
		1 << 32, 1<<32 + 1, 1<<63 - 1, 1 << 63, 1<<63 + 1, math.MaxUint64 - 1, math.MaxUint64}
	for d := uint64(1); d < 300; d++ {
		ds = append(ds, d)
	}
	ns := []uint64{0, 1, 2, 3, 999, 1000, 1 << 32, 1<<63 - 1, 1 << 63, math.MaxUint64 - 1, math.MaxUint64}
	s := uint64(12345)
	for i := 0; i < 2000; i++ {
		ns = append(ns, next(&s))
		ds = append(ds, next(&s)>>(i%64))
	}
	for _, d := range ds {
		if d == 0 {
			continue
		}
		v := New(d)
		for _, n := range ns {
			if q, r := v.DivMod(n); q != n/d || r != n%d {
				t.Fatalf("%d / %d: got (%d, %d), want (%d, %d)", n, d, q, r, n/d, n%d)
			}
			if got := v.Mod(n); got != n%d {
				t.Fatalf("%d %% %d: got %d", n, d, got)
			}
		}
	}
}

// next is SplitMix64, for test values.
func next(s *uint64) uint64 {
	*s += 0x9e3779b97f4a7c15
	z := *s
	z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9
	z = (z ^ (z >> 27)) * 0x94d049bb133111eb
	return z ^ (z >> 31)
}
