package engine

import (
	"runtime"
	"sync"
	"sync/atomic"
)

// barrier is the tick barrier: every shard arrives once per tick; the last
// to arrive runs the serial section (chain, journal headers, boundary
// checks) and then releases the others by advancing the epoch.
//
// A waiter spins briefly, then yields, then parks on a condition variable.
// Spinning long is not free even on an otherwise idle core: measured on the
// project's 2-vCPU VM, a goroutine spinning on an atomic load slows the
// other vCPU's compute loop by ~45%, and banking --shards 2 (where one
// shard has nothing to do) ran 10× slower with a pure spin barrier.
//
// Memory ordering: every shard's writes of tick t happen before its
// arrived.Add; the last arriver's Add observes all of them, and its
// epoch.Store happens before any waiter's epoch.Load that sees the new
// value, so tick t+1 starts with all of tick t and the serial section
// visible (sync/atomic operations are sequentially consistent). A parking
// waiter increments sleepers before it rechecks the epoch under mu; the
// releaser stores the epoch before it reads sleepers, so either it sees the
// sleeper and broadcasts under mu, or the sleeper sees the new epoch.
type barrier struct {
	_        [64]byte
	arrived  atomic.Int32
	_        [60]byte
	epoch    atomic.Uint32
	_        [60]byte
	sleepers atomic.Int32
	_        [60]byte
	mu       sync.Mutex
	cond     *sync.Cond
	parties  int32
	spins    int
	yields   int
	_        [64]byte
}

func newBarrier(parties int) *barrier {
	b := &barrier{parties: int32(parties), spins: 256, yields: 32}
	if parties > runtime.GOMAXPROCS(0) {
		b.spins = 0
	}
	b.cond = sync.NewCond(&b.mu)
	return b
}

// wait blocks until every party has arrived; the last runs serial first.
func (b *barrier) wait(serial func()) {
	e := b.epoch.Load()
	if b.arrived.Add(1) == b.parties {
		b.arrived.Store(0)
		serial()
		b.epoch.Store(e + 1)
		if b.sleepers.Load() > 0 {
			b.mu.Lock()
			b.cond.Broadcast()
			b.mu.Unlock()
		}
		return
	}
	for i := 0; i < b.spins; i++ {
		if b.epoch.Load() != e {
			return
		}
	}
	for i := 0; i < b.yields; i++ {
		runtime.Gosched()
		if b.epoch.Load() != e {
			return
		}
	}
	b.sleepers.Add(1)
	b.mu.Lock()
	for b.epoch.Load() == e {
		b.cond.Wait()
	}
	b.mu.Unlock()
	b.sleepers.Add(-1)
}
