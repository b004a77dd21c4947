package replica

import (
	"fmt"
	"slices"
	"time"

	"github.com/lexbench/lexbench/engine"
)

// chunkSink stores a publisher's chunks, in order.
type chunkSink interface {
	// put stores chunk (which it may keep) as the chunk whose first
	// segment has ordinal ord; it may return before the chunk is stored.
	put(ord uint64, chunk []byte) error
	// flush waits until every chunk put is stored.
	flush() error
	// spare returns a chunk buffer the sink is done with, or nil.
	spare() []byte
}

// pubCore turns the recorder's segments into chunks. Segments below
// ordinal have are in the stream already (a restarted publisher): they
// are not published again, and those from ordinal tailFrom on are
// compared with the stream's last chunk, tail.
type pubCore struct {
	enc      encoder
	sink     chunkSink
	target   int           // seal a chunk once it has this many bytes
	flushAge time.Duration // seal a chunk at a tick's end once it is this old (0: never)
	rate     float64       // emissions per second (0: no pacing)

	ord      uint64 // ordinal of the next segment
	have     uint64
	tail     []Segment
	tailFrom uint64

	start   time.Time
	opened  time.Time // when the current chunk got its first segment
	Ops     uint64    // emissions recorded
	Bytes   uint64    // chunk bytes published
	Chunks  uint64    // chunks published
	Skipped uint64    // segments already in the stream
}

func (c *pubCore) onTick(segs []Segment) error {
	for i := range segs {
		s := &segs[i]
		o := c.ord
		c.ord++
		c.Ops += uint64(len(s.Emits))
		if o < c.have {
			c.Skipped++
			if o >= c.tailFrom {
				if t := &c.tail[o-c.tailFrom]; !segEqual(t, s) {
					return fmt.Errorf("publish: segment %d (tick %d, domain %d) differs from the one in the stream: the stream holds another run's input", o, s.Tick, s.Domain)
				}
			}
			continue
		}
		if c.enc.nseg == 0 {
			c.opened = time.Now()
		}
		if err := c.enc.add(s); err != nil {
			return err
		}
		if c.enc.size() >= c.target {
			if err := c.seal(false, 0); err != nil {
				return err
			}
		}
	}
	if c.enc.nseg > 0 && c.flushAge > 0 && time.Since(c.opened) >= c.flushAge {
		if err := c.seal(false, 0); err != nil {
			return err
		}
	}
	if c.rate > 0 {
		due := c.start.Add(time.Duration(float64(c.Ops) / c.rate * float64(time.Second)))
		if wait := time.Until(due); wait > 0 {
			if c.enc.nseg > 0 { // what is recorded goes out before the pause
				if err := c.seal(false, 0); err != nil {
					return err
				}
			}
			time.Sleep(wait)
		}
	}
	return nil
}

func (c *pubCore) seal(end bool, endTick uint32) error {
	ord := c.enc.ordinal
	b := c.enc.seal(end, endTick, c.sink.spare())
	c.Bytes += uint64(len(b))
	c.Chunks++
	return c.sink.put(ord, b)
}

// finish publishes the end chunk, after every segment, and waits until
// the stream has stored everything.
func (c *pubCore) finish(endTick uint32) error {
	if c.ord < c.have {
		return fmt.Errorf("publish: the stream holds %d segments, this run records %d: the stream holds another run's input", c.have, c.ord)
	}
	if err := c.seal(true, endTick); err != nil {
		return err
	}
	return c.sink.flush()
}

// record runs the input domains of run to their end with the recorder,
// publishing through c. It returns the boundary at which the publisher's
// run ended.
func (c *pubCore) record(run *Run) (uint32, error) {
	w := run.New()
	in, err := InputsOf(w)
	if err != nil {
		return 0, err
	}
	rec := newRecorder(w, in, c.onTick)
	c.start = time.Now()
	cfg := engine.Config{Params: run.Params(), Shards: 1, MaxTicks: run.Opts.MaxTicks, MaxMsgs: -1, NoDetect: true}
	res, err := engine.Run(rec, cfg)
	if err != nil {
		// A faulting input domain's segments go into the stream (the
		// replicas end with the same error); no end chunk follows.
		if c.enc.nseg > 0 {
			if serr := c.seal(false, 0); serr != nil {
				return 0, serr
			}
		}
		if ferr := c.sink.flush(); ferr != nil {
			return 0, ferr
		}
		return 0, err
	}
	if res.Ticks >= 1<<32-1 {
		return 0, fmt.Errorf("publish: the input domains run past tick %d", res.Ticks)
	}
	if err := c.finish(uint32(res.Ticks)); err != nil {
		return 0, err
	}
	return uint32(res.Ticks), nil
}

func segEqual(a, b *Segment) bool {
	return a.Tick == b.Tick && a.Domain == b.Domain && a.Final == b.Final && a.TickEnd == b.TickEnd &&
		a.Received == b.Received && a.Fault == b.Fault && a.FaultAt == b.FaultAt &&
		slices.Equal(a.Emits, b.Emits) && slices.Equal(a.State, b.State)
}
