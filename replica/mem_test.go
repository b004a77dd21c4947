package replica

import (
	"errors"
	"sync"
)

// memStream is an in-memory input stream: chunk i has stream sequence
// i+2 (sequence 1 is a stream's header), as in JetStream.
type memStream struct {
	mu     sync.Mutex
	cond   *sync.Cond
	chunks [][]byte
}

func newMemStream() *memStream {
	m := &memStream{}
	m.cond = sync.NewCond(&m.mu)
	return m
}

func (m *memStream) put(ord uint64, chunk []byte) error {
	m.mu.Lock()
	m.chunks = append(m.chunks, chunk)
	m.mu.Unlock()
	m.cond.Broadcast()
	return nil
}

func (m *memStream) flush() error  { return nil }
func (m *memStream) spare() []byte { return nil }

// source reads from seq on.
func (m *memStream) source(seq uint64) *memSource { return &memSource{m: m, next: seq} }

type memSource struct {
	m      *memStream
	next   uint64
	closed bool
}

func (s *memSource) Next() (uint64, []byte, error) {
	m := s.m
	m.mu.Lock()
	defer m.mu.Unlock()
	for !s.closed && s.next-2 >= uint64(len(m.chunks)) {
		m.cond.Wait()
	}
	if s.closed {
		return 0, nil, errors.New("closed")
	}
	seq := s.next
	s.next++
	return seq, append([]byte(nil), m.chunks[seq-2]...), nil
}

func (s *memSource) Close() {
	s.m.mu.Lock()
	s.closed = true
	s.m.mu.Unlock()
	s.m.cond.Broadcast()
}
