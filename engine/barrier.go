package engine

import (
	"runtime"
	"sync/atomic"
)

// barrier is the tick barrier: every shard arrives once per tick; the last
// to arrive runs the serial section (chain, journal headers, boundary
// checks) and then releases the others by advancing the epoch. Waiters spin
// and, when there are more shards than processors or the wait is long,
// yield to the scheduler so that shards > cores still make progress.
//
// Memory ordering: every shard's writes of tick t happen before its
// arrived.Add; the last arriver's Add observes all of them, and its
// epoch.Store happens before any waiter's epoch.Load that sees the new
// value, so tick t+1 starts with all of tick t and the serial section
// visible (sync/atomic operations are sequentially consistent).
type barrier struct {
	_       [64]byte
	arrived atomic.Int32
	_       [60]byte
	epoch   atomic.Uint32
	_       [60]byte
	parties int32
	spin    int
}

func newBarrier(parties int) *barrier {
	b := &barrier{parties: int32(parties), spin: 1 << 12}
	if parties > runtime.GOMAXPROCS(0) {
		b.spin = 0
	}
	return b
}

// wait blocks until every party has arrived; the last runs serial first.
func (b *barrier) wait(serial func()) {
	e := b.epoch.Load()
	if b.arrived.Add(1) == b.parties {
		b.arrived.Store(0)
		serial()
		b.epoch.Store(e + 1)
		return
	}
	for i := 0; b.epoch.Load() == e; i++ {
		if i >= b.spin {
			runtime.Gosched()
		}
	}
}
