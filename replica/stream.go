package replica

import (
	"context"
	"errors"
	"fmt"
	"sort"
	"sync"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"
)

// Conn is a connection to a NATS server or cluster with JetStream.
type Conn struct {
	nc *nats.Conn
	js jetstream.JetStream
}

// Connect connects to the NATS server(s) at url (comma-separated URLs of
// one cluster). A lost connection is retried without limit: a replica
// waits for the server rather than failing, and goes on where it was.
func Connect(url, name string) (*Conn, error) {
	nc, err := nats.Connect(url, nats.Name(name), nats.MaxReconnects(-1), nats.ReconnectWait(250*time.Millisecond))
	if err != nil {
		return nil, fmt.Errorf("cannot connect to NATS at %s: %w", url, err)
	}
	js, err := jetstream.New(nc, jetstream.WithDefaultTimeout(30*time.Second))
	if err != nil {
		nc.Close()
		return nil, fmt.Errorf("nats: %w", err)
	}
	return &Conn{nc: nc, js: js}, nil
}

// Close closes the connection.
func (c *Conn) Close() { c.nc.Close() }

// streamConfig is the configuration of a run's input stream. The stream
// keeps every chunk (limits retention, no limits set, discard new): a
// replica may start, or restart from a snapshot, at any time, so no input
// may ever be dropped; if the account's limits are reached the publisher
// gets an error instead.
func streamConfig(run *Run, chunkBytes, replicas int) jetstream.StreamConfig {
	return jetstream.StreamConfig{
		Name:        run.StreamName(),
		Description: "lexbench input stream: " + run.Params(),
		Subjects:    []string{run.Subject()},
		Retention:   jetstream.LimitsPolicy,
		Discard:     jetstream.DiscardNew,
		Storage:     jetstream.FileStorage,
		Replicas:    replicas,
		MaxMsgSize:  int32(chunkMaxBytes(chunkBytes)),
		Duplicates:  2 * time.Minute,
	}
}

// chunkMaxBytes is the largest chunk a publisher with target size target
// seals: it seals after the segment that reaches target.
func chunkMaxBytes(target int) int {
	return target + segHeaderSize + segmentEmitsMax*emitBytesMax + 8 + 8*stateWordsMax + 8 + faultTextMax + chunkHeaderSize + 8
}

// bucketConfig is the configuration of a run's checkpoint bucket.
func bucketConfig(run *Run, replicas int) jetstream.KeyValueConfig {
	return jetstream.KeyValueConfig{
		Bucket:       run.BucketName(),
		Description:  "lexbench replica checkpoints: " + run.Params(),
		History:      1,
		Storage:      jetstream.FileStorage,
		Replicas:     replicas,
		MaxValueSize: int32(batchBytes(batchBlocks)) + 4096,
	}
}

// createStream creates the run's input stream, or opens it if it exists.
func (c *Conn) createStream(ctx context.Context, run *Run, chunkBytes, replicas int) (jetstream.Stream, error) {
	s, err := c.js.CreateStream(ctx, streamConfig(run, chunkBytes, replicas))
	if errors.Is(err, jetstream.ErrStreamNameAlreadyInUse) {
		s, err = c.js.Stream(ctx, run.StreamName())
	}
	if err != nil {
		return nil, fmt.Errorf("nats: input stream %s: %w", run.StreamName(), err)
	}
	return s, nil
}

// pollEvery is how often a replica or agree looks for a stream or bucket
// that does not exist yet.
const pollEvery = 100 * time.Millisecond

// openStream opens the run's input stream and reads its header, waiting
// until both exist (a replica may start before the publisher).
func (c *Conn) openStream(ctx context.Context, run *Run) (jetstream.Stream, *header, error) {
	for {
		s, err := c.js.Stream(ctx, run.StreamName())
		if err == nil {
			var m *jetstream.RawStreamMsg
			if m, err = s.GetMsg(ctx, 1); err == nil {
				h, err := parseHeader(m.Data)
				if err != nil {
					return nil, nil, fmt.Errorf("input stream %s: %w", run.StreamName(), err)
				}
				return s, h, nil
			}
		}
		if !errors.Is(err, jetstream.ErrStreamNotFound) && !errors.Is(err, jetstream.ErrMsgNotFound) {
			return nil, nil, fmt.Errorf("nats: input stream %s: %w", run.StreamName(), err)
		}
		select {
		case <-ctx.Done():
			return nil, nil, fmt.Errorf("input stream %s (%s): not published yet: %w", run.StreamName(), run.Params(), ctx.Err())
		case <-time.After(pollEvery):
		}
	}
}

// natsSink publishes chunks asynchronously, at most maxPending unacked.
// Each carries Nats-Msg-Id <run>/<ordinal> (the server drops a chunk
// published again within the duplicate window) and
// Nats-Expected-Last-Sequence (a publisher that is not at the stream's end,
// because another one got there first, is refused instead of interleaving
// its chunks).
type natsSink struct {
	c          *Conn
	run        *Run
	next       uint64 // stream sequence of the next chunk
	pending    []jetstream.PubAckFuture
	maxPending int
	free       [][]byte
}

func (s *natsSink) put(ord uint64, chunk []byte) error {
	for len(s.pending) >= s.maxPending {
		if err := s.wait(); err != nil {
			return err
		}
	}
	m := &nats.Msg{Subject: s.run.Subject(), Data: chunk}
	f, err := s.c.js.PublishMsgAsync(m, jetstream.WithMsgID(fmt.Sprintf("%s/%d", s.run.ID(), ord)),
		jetstream.WithExpectLastSequence(s.next-1))
	if err != nil {
		return fmt.Errorf("publish: chunk at segment %d: %w", ord, err)
	}
	s.next++
	s.pending = append(s.pending, f)
	return nil
}

// wait waits for the oldest pending chunk's acknowledgement.
func (s *natsSink) wait() error {
	f := s.pending[0]
	s.pending = s.pending[1:]
	select {
	case ack := <-f.Ok():
		if ack.Duplicate {
			return fmt.Errorf("publish: the stream had the chunk at sequence %d already", ack.Sequence)
		}
		s.free = append(s.free, f.Msg().Data)
		return nil
	case err := <-f.Err():
		return fmt.Errorf("publish: %w", err)
	}
}

func (s *natsSink) flush() error {
	for len(s.pending) > 0 {
		if err := s.wait(); err != nil {
			return err
		}
	}
	return nil
}

func (s *natsSink) spare() []byte {
	if n := len(s.free); n > 0 {
		b := s.free[n-1]
		s.free = s.free[:n-1]
		return b
	}
	return nil
}

// natsSource reads a run's input stream with an ordered consumer (an
// ephemeral consumer the client recreates, at the next sequence, when it
// sees a gap or loses its server).
type natsSource struct {
	it     jetstream.MessagesContext
	closed chan struct{}
	once   sync.Once
}

// source starts reading the run's input stream at sequence seq.
func (c *Conn) source(ctx context.Context, run *Run, seq uint64) (*natsSource, error) {
	cons, err := c.js.OrderedConsumer(ctx, run.StreamName(), jetstream.OrderedConsumerConfig{
		FilterSubjects: []string{run.Subject()},
		DeliverPolicy:  jetstream.DeliverByStartSequencePolicy,
		OptStartSeq:    seq,
	})
	if err != nil {
		return nil, fmt.Errorf("nats: input stream %s: %w", run.StreamName(), err)
	}
	it, err := cons.Messages(jetstream.PullMaxBytes(16 << 20))
	if err != nil {
		return nil, fmt.Errorf("nats: input stream %s: %w", run.StreamName(), err)
	}
	s := &natsSource{it: it, closed: make(chan struct{})}
	go func() { // a cancelled context ends a wait for the next chunk
		select {
		case <-ctx.Done():
			it.Stop()
		case <-s.closed:
		}
	}()
	return s, nil
}

func (s *natsSource) Next() (uint64, []byte, error) {
	m, err := s.it.Next()
	if err != nil {
		return 0, nil, fmt.Errorf("nats: %w", err)
	}
	md, err := m.Metadata()
	if err != nil {
		return 0, nil, fmt.Errorf("nats: %w", err)
	}
	return md.Sequence.Stream, m.Data(), nil
}

func (s *natsSource) Close() {
	s.once.Do(func() {
		close(s.closed)
		s.it.Stop()
	})
}

// chunkAt reads and opens the chunk at stream sequence seq.
func chunkAt(ctx context.Context, s jetstream.Stream, seq uint64) (*chunkReader, error) {
	m, err := s.GetMsg(ctx, seq)
	if err != nil {
		return nil, fmt.Errorf("nats: input stream message %d: %w", seq, err)
	}
	cr, err := openChunk(m.Data)
	if err != nil {
		return nil, fmt.Errorf("input stream message %d: %w", seq, err)
	}
	return cr, nil
}

// segmentTicks returns the ticks and tick-end flags of a chunk's segments.
func segmentTicks(cr *chunkReader) (ticks []uint32, ends []bool, err error) {
	var s Segment
	for {
		var ok bool
		if _, ok, err = cr.next(&s, nil); err != nil || !ok {
			return ticks, ends, err
		}
		ticks, ends = append(ticks, s.Tick), append(ends, s.TickEnd)
	}
}

// checkPosition checks that p is where the input of the first tick ≥ t
// starts in the stream (a stream position recorded with a snapshot).
func checkPosition(ctx context.Context, s jetstream.Stream, p Position, t uint64) error {
	cr, err := chunkAt(ctx, s, p.Seq)
	if err != nil {
		return err
	}
	if p.Ordinal != cr.H.Ordinal+uint64(p.Skip) || p.Skip > cr.H.Segments {
		return fmt.Errorf("position %+v does not fit message %d (segments %d..%d)", p, p.Seq, cr.H.Ordinal, cr.H.Ordinal+uint64(cr.H.Segments))
	}
	ticks, ends, err := segmentTicks(cr)
	if err != nil {
		return err
	}
	next := uint64(0) // the tick of the segment at p, 0 if unknown
	if p.Skip < uint32(len(ticks)) {
		next = uint64(ticks[p.Skip]) + 1
	} else if !cr.H.End {
		// the segment at p starts the next chunk, if there is one yet
		after, err := chunkAt(ctx, s, p.Seq+1)
		if err == nil && after.H.Segments > 0 {
			next = uint64(after.H.First) + 1
		} else if err != nil && !errors.Is(err, jetstream.ErrMsgNotFound) {
			return err
		}
	}
	if next != 0 && next-1 < t {
		return fmt.Errorf("position %+v holds tick %d, before tick %d", p, next-1, t)
	}
	if p.Skip > 0 && (uint64(ticks[p.Skip-1]) >= t || !ends[p.Skip-1]) {
		return fmt.Errorf("position %+v is not where tick %d's input starts", p, t)
	}
	if p.Skip == 0 && p.Seq > 2 {
		prev, err := chunkAt(ctx, s, p.Seq-1)
		if err != nil {
			return err
		}
		if prev.H.Segments > 0 && uint64(prev.H.Last) >= t {
			return fmt.Errorf("position %+v is not where tick %d's input starts", p, t)
		}
	}
	return nil
}

// locate finds where the input of the first tick ≥ t starts, by a binary
// search over the chunks' first ticks (the fallback when a snapshot's
// stream position is missing or does not check).
func locate(ctx context.Context, s jetstream.Stream, t uint64) (Position, error) {
	info, err := s.Info(ctx)
	if err != nil {
		return Position{}, fmt.Errorf("nats: %w", err)
	}
	last := info.State.LastSeq
	if last < 2 {
		return Position{Seq: 2}, nil
	}
	var searchErr error
	// the first chunk whose first tick is ≥ t (or that is empty: the end)
	n := int(last - 1)
	k := sort.Search(n, func(i int) bool {
		if searchErr != nil {
			return true
		}
		cr, err := chunkAt(ctx, s, uint64(i)+2)
		if err != nil {
			searchErr = err
			return true
		}
		return cr.H.Segments == 0 || uint64(cr.H.First) >= t
	})
	if searchErr != nil {
		return Position{}, searchErr
	}
	if k == 0 {
		return Position{Seq: 2}, nil
	}
	seq := uint64(k-1) + 2 // the last chunk starting before t: t's input may start inside it
	cr, err := chunkAt(ctx, s, seq)
	if err != nil {
		return Position{}, err
	}
	ticks, _, err := segmentTicks(cr)
	if err != nil {
		return Position{}, err
	}
	i := sort.Search(len(ticks), func(i int) bool { return uint64(ticks[i]) >= t })
	return Position{Seq: seq, Skip: uint32(i), Ordinal: cr.H.Ordinal + uint64(i)}, nil
}

// JetStream is the connection's JetStream context (for the exchange of a
// partitioned run, package partition).
func (c *Conn) JetStream() jetstream.JetStream { return c.js }
