package engine

import "github.com/lexbench/lexbench/trace"

// sortBySrc orders es by src, stably (emission order within a src is its seq
// order), using scratch (grown as needed) as the other buffer of an LSD radix
// sort on bytes. bits is the number of significant bits of the largest src.
// It returns the sorted slice, which is either es or scratch's storage, and
// the other buffer for reuse.
func sortBySrc(es []trace.Entry, scratch []trace.Entry, bits uint) (sorted, spare []trace.Entry) {
	n := len(es)
	if n == 0 {
		return es, scratch[:0]
	}
	if cap(scratch) < n {
		scratch = make([]trace.Entry, n, n+n/4)
	}
	src, dst := es, scratch[:n]
	var count [256]int
	for shift := uint(0); shift < bits; shift += 8 {
		count = [256]int{}
		for i := range src {
			count[(src[i].Src>>shift)&0xff]++
		}
		if count[(src[0].Src>>shift)&0xff] == n {
			continue // every entry has this digit; the pass would be the identity
		}
		sum := 0
		for i := range count {
			c := count[i]
			count[i] = sum
			sum += c
		}
		for i := range src {
			k := (src[i].Src >> shift) & 0xff
			dst[count[k]] = src[i]
			count[k]++
		}
		src, dst = dst, src
	}
	return src, dst[:0]
}

// bitsFor is the number of bits needed for values < d.
func bitsFor(d uint32) uint {
	b := uint(0)
	for v := d - 1; v > 0; v >>= 1 {
		b++
	}
	if b == 0 {
		b = 1
	}
	return b
}
