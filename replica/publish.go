package replica

import (
	"context"
	"fmt"
	"slices"
	"time"

	"github.com/lexbench/lexbench/engine"
	"github.com/nats-io/nats.go/jetstream"
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
	ctx      context.Context // nil: never cancelled
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
	if c.ctx != nil && c.ctx.Err() != nil {
		return fmt.Errorf("publish: %w", c.ctx.Err())
	}
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
			if c.ctx == nil {
				time.Sleep(wait)
			} else {
				select {
				case <-c.ctx.Done():
				case <-time.After(wait):
				}
			}
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
	// The input domains run as in the run itself, with its fault layer
	// (SPEC §7: a message between two input domains is faulted alike),
	// but without detection: the other domains never move here.
	cfg := engine.Config{Params: run.Params(), Shards: 1, MaxTicks: run.Opts.MaxTicks, MaxMsgs: -1, NoDetect: true,
		Faults: run.P.Faults, MaxInFlight: run.MaxInFlight}
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

// PublishOptions are a publisher's settings. None of them changes what is
// published, only how fast and in what pieces.
type PublishOptions struct {
	ChunkBytes     int           // chunk size (0: ChunkBytesDefault); a stream that exists keeps its own
	Rate           float64       // emissions per second (0: as fast as possible), to feed replicas live
	FlushAge       time.Duration // publish a chunk at a tick's end once it is this old (0: 20 ms)
	StreamReplicas int           // JetStream replicas of the stream and bucket (0: 1)
	MaxPending     int           // chunks in flight (0: 32)
}

// PublishReport is what a publisher did.
type PublishReport struct {
	Stream   string
	Resumed  bool   // the stream had part of the input: the publisher went on after it
	Complete bool   // the stream had all of it: nothing was published
	Ops      uint64 // emissions of the input domains, whole run
	Bytes    uint64 // chunk bytes published
	Chunks   uint64
	Skipped  uint64 // segments the stream had already
	EndTick  uint32
	Elapsed  time.Duration
}

// Publish records the run's input (its input domains' transitions) and
// publishes it to the run's input stream, creating the stream and the
// checkpoint bucket if needed. A stream that holds part of the input (a
// publisher that was killed) is continued after its last chunk, whose
// segments are compared with what this run records; a stream that holds
// another run's header, other run controls, or a complete input is left
// as it is. Errors: the server's, a stream that does not fit the run, and
// the run's own (a faulting input domain, after its segments).
func Publish(ctx context.Context, c *Conn, run *Run, o PublishOptions) (*PublishReport, error) {
	start := time.Now()
	in, err := InputsOf(run.New())
	if err != nil {
		return nil, err
	}
	if o.ChunkBytes == 0 {
		o.ChunkBytes = ChunkBytesDefault
	}
	if o.ChunkBytes < chunkBytesMin || o.ChunkBytes > chunkBytesMax {
		return nil, fmt.Errorf("chunk size %d out of range %d..%d", o.ChunkBytes, chunkBytesMin, chunkBytesMax)
	}
	if o.FlushAge == 0 {
		o.FlushAge = 20 * time.Millisecond
	}
	o.StreamReplicas = max(o.StreamReplicas, 1)
	if o.MaxPending <= 0 {
		o.MaxPending = 32
	}
	s, err := c.createStream(ctx, run, o.ChunkBytes, o.StreamReplicas)
	if err != nil {
		return nil, err
	}
	if _, err := c.createBucket(ctx, run, o.StreamReplicas); err != nil {
		return nil, err
	}
	info, err := s.Info(ctx)
	if err != nil {
		return nil, fmt.Errorf("nats: %w", err)
	}
	rep := &PublishReport{Stream: run.StreamName()}
	last := info.State.LastSeq
	h := &header{Params: run.Params(), Program: run.Program, Inputs: in.String(), ChunkBytes: o.ChunkBytes, Opts: run.Opts}
	if last == 0 {
		_, err := c.js.Publish(ctx, run.Subject(), []byte(h.text()), jetstream.WithMsgID(run.ID()+"/header"), jetstream.WithExpectLastSequence(0))
		if err != nil {
			return nil, fmt.Errorf("publish: header: %w", err)
		}
		last = 1
	} else {
		m, err := s.GetMsg(ctx, 1)
		if err != nil {
			return nil, fmt.Errorf("nats: input stream header: %w", err)
		}
		got, err := parseHeader(m.Data)
		if err == nil {
			err = got.check(run, in.String())
		}
		if err == nil && !sameControls(got.Opts, run.Opts) {
			err = fmt.Errorf("it was published with other run controls (max-ticks %d, max-msgs %d, damp %t, detect local %t), not (%d, %d, %t, %t)",
				got.Opts.MaxTicks, got.Opts.MaxMsgs, got.Opts.Damp, got.Opts.Local, run.Opts.MaxTicks, run.Opts.MaxMsgs, run.Opts.Damp, run.Opts.Local)
		}
		if err != nil {
			return nil, fmt.Errorf("input stream %s: %w", run.StreamName(), err)
		}
		h = got
	}
	core := &pubCore{ctx: ctx, target: h.ChunkBytes, flushAge: o.FlushAge, rate: o.Rate}
	if last >= 2 {
		cr, err := chunkAt(ctx, s, last)
		if err != nil {
			return nil, err
		}
		if cr.H.End {
			rep.Complete, rep.EndTick, rep.Elapsed = true, cr.H.EndTick, time.Since(start)
			return rep, nil
		}
		rep.Resumed = true
		core.have, core.tailFrom = cr.H.Ordinal+uint64(cr.H.Segments), cr.H.Ordinal
		for {
			var seg Segment
			emits, ok, err := cr.next(&seg, nil)
			if err != nil {
				return nil, fmt.Errorf("input stream message %d: %w", last, err)
			}
			if !ok {
				break
			}
			seg.Emits = emits
			core.tail = append(core.tail, seg)
		}
	}
	core.enc.ordinal = core.have
	sink := &natsSink{c: c, run: run, next: last + 1, maxPending: o.MaxPending}
	core.sink = sink
	end, err := core.record(run)
	rep.Ops, rep.Bytes, rep.Chunks, rep.Skipped, rep.EndTick = core.Ops, core.Bytes, core.Chunks, core.Skipped, end
	rep.Elapsed = time.Since(start)
	return rep, err
}
