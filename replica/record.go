package replica

import (
	"slices"

	"github.com/lexbench/lexbench/engine"
	"github.com/lexbench/lexbench/trace"
	"github.com/lexbench/lexbench/workloads"
)

// recorder wraps a workload in the publisher. It runs the transitions of
// the input domains only and hands, at the end of every tick in which an
// input domain received a message, that tick's segments to onTick: each
// receiving input domain's emissions in emission order, how many messages
// it received, its state after the tick, and its fault if one faulted.
// Messages to the other domains are not delivered: they run in the
// replicas. The engine must run it with one shard (one Deliver per tick,
// in ≺ order) and without oscillation detection (the other domains never
// move, so their configuration is no run's).
type recorder struct {
	workloads.Workload
	in     *Inputs
	words  []uint64
	onTick func(segs []Segment) error

	doms []recDom
	at   map[uint32]int // doms index by domain (lookup only, never iterated)
	segs []Segment
}

type recDom struct {
	d        uint32
	emits    []trace.Entry
	received uint32
	fault    error
	faultAt  uint32
}

func newRecorder(w workloads.Workload, in *Inputs, onTick func([]Segment) error) *recorder {
	return &recorder{Workload: w, in: in, onTick: onTick, at: map[uint32]int{}}
}

func (w *recorder) Init(words []uint64) {
	w.words = words
	w.Workload.Init(words)
}

// Goals: the recorder's run is not the run; its goals are the replicas'.
func (w *recorder) Goals() error { return nil }

func (w *recorder) dom(d uint32) *recDom {
	i, ok := w.at[d]
	if !ok {
		i = len(w.doms)
		w.at[d] = i
		if i < cap(w.doms) {
			w.doms = w.doms[:i+1]
			w.doms[i] = recDom{d: d, emits: w.doms[i].emits[:0]}
		} else {
			w.doms = append(w.doms, recDom{d: d})
		}
	}
	return &w.doms[i]
}

func (w *recorder) Deliver(out *engine.Outbox, msgs []trace.Entry) {
	if len(msgs) == 0 {
		return
	}
	t := msgs[0].Tick
	w.doms = w.doms[:0]
	clear(w.at)
	for i := 0; i < len(msgs); {
		d := msgs[i].Dst
		if !w.in.Has(d) {
			i++
			continue
		}
		j := i + 1
		for j < len(msgs) && msgs[j].Dst == d {
			j++
		}
		rd := w.dom(d)
		mark := out.Len()
		w.Workload.Deliver(out, msgs[i:j])
		rd.emits = append(rd.emits, out.Since(mark)...)
		if k, err := out.Faulted(); err != nil {
			rd.fault, rd.faultAt = err, rd.received+uint32(k)
			rd.received += uint32(k) + 1
			out.MoveFault(i + k)
			w.flush(t)
			return
		}
		rd.received += uint32(j - i)
		i = j
	}
	if err := w.flush(t); err != nil {
		out.Fault(0, err)
	}
}

// flush hands the tick's segments to onTick, domains ascending.
func (w *recorder) flush(t uint32) error {
	if len(w.doms) == 0 {
		return nil
	}
	slices.SortFunc(w.doms, func(a, b recDom) int { return int(int64(a.d) - int64(b.d)) })
	w.segs = w.segs[:0]
	for i := range w.doms {
		rd := &w.doms[i]
		es := rd.emits
		for {
			k := min(len(es), segmentEmitsMax)
			s := Segment{Tick: t, Domain: rd.d, Emits: es[:k]}
			es = es[k:]
			if len(es) == 0 {
				off, n := w.Span(rd.d)
				s.Final, s.Received, s.State = true, rd.received, w.words[off:off+n]
				if rd.fault != nil {
					s.Fault, s.FaultAt = truncate(rd.fault.Error(), faultTextMax), rd.faultAt
					if s.Fault == "" {
						s.Fault = "fault"
					}
				}
			}
			w.segs = append(w.segs, s)
			if len(es) == 0 {
				break
			}
		}
	}
	w.segs[len(w.segs)-1].TickEnd = true
	return w.onTick(w.segs)
}

func truncate(s string, n int) string {
	if len(s) > n {
		return s[:n]
	}
	return s
}
