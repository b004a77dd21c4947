package replica

import (
	"errors"
	"fmt"
	"sort"
	"strconv"
	"strings"

	"github.com/lexbench/lexbench/engine"
)

// InputMarker is implemented by a workload that names its input domains
// itself. Without it, a run's input domains are its booting domains
// (engine.Workload.Boots): the drivers of the native workloads (SPEC §5)
// and a program's booting generator domains.
type InputMarker interface {
	Input(d uint32) bool
}

// Inputs is the set of a run's input domains: the domains whose
// transitions are the run's input from outside (the paper's "external
// effects"). Their transitions run once, in the publisher; every replica
// takes their emissions and their state from the stream. An input domain
// may receive messages only from input domains (in practice from itself:
// a driver's Tick), so that the publisher can run the input domains alone;
// a replica checks this at run time.
type Inputs struct {
	r [][2]uint32 // [lo, hi) ranges, ascending, disjoint and not adjacent
}

// ErrEndOfTick is wrapped by the error for a workload with end-of-tick work
// (engine.TickEnder): its domains act without receiving a message, so an
// input domain's transitions are no longer the messages it receives, which
// is what a publisher records. Such a run cannot be replicated (yet).
var ErrEndOfTick = errors.New("replicated execution does not support workloads with end-of-tick work (engine.TickEnder): their domains act without a message, which the input stream cannot carry")

// InputsOf returns w's input domains (see InputMarker). It is an error for
// a run to have none (there would be nothing to replicate), and for a
// workload with end-of-tick work (ErrEndOfTick).
func InputsOf(w engine.Workload) (*Inputs, error) {
	if _, ok := w.(engine.TickEnder); ok {
		return nil, ErrEndOfTick
	}
	is := func(d uint32) bool { return w.Boots(d) }
	if m, ok := w.(InputMarker); ok {
		is = m.Input
	}
	s := &Inputs{}
	n := w.Domains()
	for d := uint32(0); d < n; d++ {
		if !is(d) {
			continue
		}
		if k := len(s.r); k > 0 && s.r[k-1][1] == d {
			s.r[k-1][1] = d + 1
		} else {
			s.r = append(s.r, [2]uint32{d, d + 1})
		}
	}
	if len(s.r) == 0 {
		return nil, errors.New("the workload has no input domains (no domain boots)")
	}
	return s, nil
}

// Has reports whether d is an input domain.
func (s *Inputs) Has(d uint32) bool {
	if len(s.r) == 1 {
		return d >= s.r[0][0] && d < s.r[0][1]
	}
	i := sort.Search(len(s.r), func(i int) bool { return s.r[i][1] > d })
	return i < len(s.r) && d >= s.r[i][0]
}

// String is the set as ranges, "0-0" for domain 0, "0-2,7-7" for 0, 1, 2
// and 7 (inclusive bounds): the form in the stream's header.
func (s *Inputs) String() string {
	var b strings.Builder
	for i, r := range s.r {
		if i > 0 {
			b.WriteByte(',')
		}
		fmt.Fprintf(&b, "%d-%d", r[0], r[1]-1)
	}
	return b.String()
}

// parseInputs parses String's form.
func parseInputs(text string) (*Inputs, error) {
	s := &Inputs{}
	for _, part := range strings.Split(text, ",") {
		a, b, ok := strings.Cut(part, "-")
		lo, err1 := strconv.ParseUint(a, 10, 32)
		hi, err2 := strconv.ParseUint(b, 10, 32)
		if !ok || err1 != nil || err2 != nil || hi < lo || hi == 1<<32-1 {
			return nil, fmt.Errorf("bad input domain range %q", part)
		}
		if k := len(s.r); k > 0 && uint32(lo) <= s.r[k-1][1] {
			return nil, fmt.Errorf("input domain ranges %q are not ascending and apart", text)
		}
		s.r = append(s.r, [2]uint32{uint32(lo), uint32(hi) + 1})
	}
	return s, nil
}
