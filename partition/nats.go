package partition

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"
)

// The exchange on NATS JetStream (docs/distributed.md §5). One stream per
// run, LEXBENCH_X_<identity>, subjects lexbench.x.<identity>.<src>.<dst>,
// file storage, nothing discarded (a restarted partition reads the rounds
// it missed from it). Each chunk is published with Nats-Msg-Id
// <identity>/<round>/<src>/<dst>/<chunk>, so a chunk sent again by a
// restarted partition within the duplicate window is stored once (and a
// later copy is passed over by its receiver). A partition reads the chunks
// addressed to it with an ordered consumer filtered on
// lexbench.x.<identity>.*.<k>, from the stream sequence its snapshot
// recorded.

// StreamName is the exchange stream of the run with identity id.
func StreamName(id uint64) string { return fmt.Sprintf("LEXBENCH_X_%016x", id) }

func subjectPrefix(id uint64) string { return fmt.Sprintf("lexbench.x.%016x", id) }

// NATSOptions are the exchange's settings on NATS.
type NATSOptions struct {
	StreamReplicas int // JetStream replicas of the stream (0: 1)
	// Waiting, if set, is told when a partition has waited long for
	// chunks or for the server (a stall: the run goes on when they come).
	Waiting func(what string)
}

// waitNotice is how long a wait lasts before Waiting is told.
const waitNotice = 5 * time.Second

// NATSDial returns the Dial of the run with identity id on the JetStream js
// (creating the exchange stream if needed).
func NATSDial(ctx context.Context, js jetstream.JetStream, id uint64, o NATSOptions) (Dial, error) {
	cfg := jetstream.StreamConfig{
		Name:        StreamName(id),
		Description: "lexbench partitioned run: rounds between partitions",
		Subjects:    []string{subjectPrefix(id) + ".>"},
		Retention:   jetstream.LimitsPolicy,
		Discard:     jetstream.DiscardNew,
		Storage:     jetstream.FileStorage,
		Replicas:    max(o.StreamReplicas, 1),
		MaxMsgSize:  chunkBytesMax + 4096,
		Duplicates:  2 * time.Minute,
	}
	if _, err := js.CreateStream(ctx, cfg); err != nil && !errors.Is(err, jetstream.ErrStreamNameAlreadyInUse) {
		return nil, fmt.Errorf("nats: exchange stream %s: %w", cfg.Name, err)
	}
	return func(k int, pos uint64) (Transport, error) {
		t := &natsTransport{ctx: ctx, js: js, id: id, k: k, waiting: o.Waiting,
			in: make(chan natsChunk, 64), stop: make(chan struct{}), done: make(chan struct{})}
		go t.read(max(pos, 1))
		return t, nil
	}, nil
}

type natsChunk struct {
	data []byte
	seq  uint64
	err  error
}

type natsTransport struct {
	ctx     context.Context
	js      jetstream.JetStream
	id      uint64
	k       int
	waiting func(string)
	pending []natsPub
	in      chan natsChunk
	stop    chan struct{}
	done    chan struct{}
}

type natsPub struct {
	msg *nats.Msg
	id  string
	f   jetstream.PubAckFuture // nil: publish again
}

func (t *natsTransport) notify(format string, a ...any) {
	if t.waiting != nil {
		t.waiting(fmt.Sprintf(format, a...))
	}
}

func (t *natsTransport) Send(round uint64, dst, i int, chunk []byte) error {
	m := nats.NewMsg(fmt.Sprintf("%s.%d.%d", subjectPrefix(t.id), t.k, dst))
	m.Data = chunk
	p := natsPub{msg: m, id: fmt.Sprintf("%016x/%d/%d/%d/%d", t.id, round, t.k, dst, i)}
	f, err := t.js.PublishMsgAsync(m, jetstream.WithMsgID(p.id))
	if err == nil {
		p.f = f
	}
	t.pending = append(t.pending, p)
	return nil
}

// Flush waits for every chunk's acknowledgement; a chunk the server did
// not acknowledge (a lost connection) is published again until it is: the
// run stalls while the server is out of reach, it never skips a chunk.
func (t *natsTransport) Flush() error {
	for _, p := range t.pending {
		if p.f != nil {
			select {
			case <-p.f.Ok():
				continue
			case <-p.f.Err():
			case <-time.After(waitNotice):
			case <-t.ctx.Done():
				return t.ctx.Err()
			}
		}
		for wait := 50 * time.Millisecond; ; wait = min(2*wait, time.Second) {
			ctx, cancel := context.WithTimeout(t.ctx, waitNotice)
			_, err := t.js.PublishMsg(ctx, p.msg, jetstream.WithMsgID(p.id))
			cancel()
			if err == nil {
				break
			}
			if t.ctx.Err() != nil {
				return t.ctx.Err()
			}
			t.notify("partition %d: publishing %s: %v; trying again", t.k, p.id, err)
			select {
			case <-time.After(wait):
			case <-t.ctx.Done():
				return t.ctx.Err()
			}
		}
	}
	t.pending = t.pending[:0]
	return nil
}

// read takes the chunks addressed to this partition from the stream, from
// sequence seq on, and hands them to Next; a consumer that fails (a lost
// connection, a server restart) is made again after the last chunk taken.
func (t *natsTransport) read(seq uint64) {
	defer close(t.done)
	subject := fmt.Sprintf("%s.*.%d", subjectPrefix(t.id), t.k)
	for {
		cons, err := t.js.OrderedConsumer(t.ctx, StreamName(t.id), jetstream.OrderedConsumerConfig{
			FilterSubjects: []string{subject}, DeliverPolicy: jetstream.DeliverByStartSequencePolicy, OptStartSeq: seq})
		var it jetstream.MessagesContext
		if err == nil {
			it, err = cons.Messages(jetstream.PullMaxBytes(8 << 20))
		}
		if err != nil {
			if t.stopped() {
				return
			}
			t.notify("partition %d: reading the exchange stream: %v; trying again", t.k, err)
			select {
			case <-time.After(250 * time.Millisecond):
				continue
			case <-t.stop:
				return
			case <-t.ctx.Done():
				return
			}
		}
		go func() { // Stop ends a wait in Next
			select {
			case <-t.stop:
			case <-t.ctx.Done():
			}
			it.Stop()
		}()
		for {
			m, err := it.Next()
			if err != nil {
				break
			}
			md, err := m.Metadata()
			if err != nil {
				continue
			}
			s := md.Sequence.Stream
			if s < seq {
				continue
			}
			seq = s + 1
			select {
			case t.in <- natsChunk{data: m.Data(), seq: s}:
			case <-t.stop:
				return
			case <-t.ctx.Done():
				return
			}
		}
		it.Stop()
		if t.stopped() {
			return
		}
	}
}

func (t *natsTransport) stopped() bool {
	select {
	case <-t.stop:
		return true
	case <-t.ctx.Done():
		return true
	default:
		return false
	}
}

func (t *natsTransport) Next() ([]byte, uint64, error) {
	for {
		select {
		case c := <-t.in:
			return c.data, c.seq, c.err
		case <-t.ctx.Done():
			return nil, 0, t.ctx.Err()
		case <-t.stop:
			return nil, 0, errors.New("transport closed")
		case <-time.After(waitNotice):
			return nil, 0, errStill
		}
	}
}

// errStill is Next's answer after waitNotice without a chunk: the node
// says what it waits for and asks again.
var errStill = errors.New("no chunk yet")

func (t *natsTransport) Close() {
	select {
	case <-t.stop:
	default:
		close(t.stop)
	}
	<-t.done
}
