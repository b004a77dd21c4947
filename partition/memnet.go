package partition

import (
	"errors"
	"slices"
	"sync"
)

// MemNet is an in-process stand-in for the exchange's stream: it keeps
// every chunk sent to each partition, in order, so a partition's transport
// can start at any position, as a restarted process reads the stream. It
// does not drop a chunk sent twice (as a stream past its duplicate window
// would not): receivers must pass over rounds they have. For tests and
// benchmarks of the exchange without a server.
type MemNet struct {
	mu     sync.Mutex
	cond   *sync.Cond
	logs   [][][]byte // per destination partition
	closed bool
}

// NewMemNet returns a MemNet for P partitions.
func NewMemNet(P int) *MemNet {
	n := &MemNet{logs: make([][][]byte, P)}
	n.cond = sync.NewCond(&n.mu)
	return n
}

// Dial is partition k's transport, from position pos.
func (n *MemNet) Dial(k int, pos uint64) (Transport, error) {
	return &memTransport{n: n, k: k, pos: pos}, nil
}

// Close makes every waiting Next fail.
func (n *MemNet) Close() {
	n.mu.Lock()
	n.closed = true
	n.mu.Unlock()
	n.cond.Broadcast()
}

// Sent is how many chunks partition k has been sent.
func (n *MemNet) Sent(k int) int {
	n.mu.Lock()
	defer n.mu.Unlock()
	return len(n.logs[k])
}

type memTransport struct {
	n      *MemNet
	k      int
	pos    uint64
	closed bool
}

func (t *memTransport) Send(round uint64, dst, i int, chunk []byte) error {
	n := t.n
	n.mu.Lock()
	n.logs[dst] = append(n.logs[dst], slices.Clone(chunk))
	n.mu.Unlock()
	n.cond.Broadcast()
	return nil
}

func (t *memTransport) Flush() error { return nil }

func (t *memTransport) Next() ([]byte, uint64, error) {
	n := t.n
	n.mu.Lock()
	defer n.mu.Unlock()
	for t.pos >= uint64(len(n.logs[t.k])) && !n.closed && !t.closed {
		n.cond.Wait()
	}
	if n.closed || t.closed {
		return nil, 0, errors.New("transport closed")
	}
	c := n.logs[t.k][t.pos]
	t.pos++
	return c, t.pos - 1, nil
}

func (t *memTransport) Close() {
	t.n.mu.Lock()
	t.closed = true
	t.n.mu.Unlock()
	t.n.cond.Broadcast()
}
