package refmodel

import (
	"fmt"

	"github.com/lexbench/lexbench/trace"
)

const golden = 0x9E3779B97F4A7C15

// splitmix is the SplitMix64 generator of SPEC §2; its state is the word.
type splitmix struct{ state uint64 }

func seedFor(seed uint64, d uint32) splitmix {
	return splitmix{state: seed + (uint64(d)+1)*golden}
}

func (r *splitmix) next() uint64 {
	r.state += golden
	z := r.state
	z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9
	z = (z ^ (z >> 27)) * 0x94D049BB133111EB
	return z ^ (z >> 31)
}

// driver is the generator state of §5: remaining operations and the PRNG.
type driver struct {
	remaining uint64
	rng       splitmix
}

// tick runs a driver's Tick: min(batch, remaining) operations, each
// decrementing remaining, then a Tick to itself if remaining > 0.
func (d *driver) tick(self uint32, batch uint64, emit emitFunc, op func()) {
	k := min(batch, d.remaining)
	for range k {
		d.remaining--
		op()
	}
	if d.remaining > 0 {
		emit(self, trace.KindTick, 0, 0)
	}
}

func mustKind(m message, want uint16) {
	if m.kind != want {
		panic(fmt.Sprintf("refmodel: domain %d got kind %d, want %d", m.dst, m.kind, want))
	}
}

// ---------------------------------------------------------------- banking §5.1

type bank struct {
	balance           []int64
	applied, rejected uint64
}

type banking struct {
	batch, n uint64
	k, a     uint64
	drv      driver
	banks    []bank // bank i is domain 1+i
}

func newBanking(p Params) *banking {
	w := &banking{batch: p.Batch, n: p.N, k: p.K1, a: p.K2}
	w.drv = driver{remaining: p.N, rng: seedFor(p.Seed, 0)}
	w.banks = make([]bank, p.K1)
	for i := range w.banks {
		w.banks[i].balance = make([]int64, p.K2)
		for j := range w.banks[i].balance {
			w.banks[i].balance[j] = 1_000_000
		}
	}
	return w
}

func (w *banking) domains() int    { return 1 + len(w.banks) }
func (w *banking) boots() []uint32 { return []uint32{0} }

func (w *banking) deliver(m message, emit emitFunc) {
	if m.dst == 0 {
		mustKind(m, trace.KindTick)
		w.drv.tick(0, w.batch, emit, func() {
			r1 := w.drv.rng.next()
			r2 := w.drv.rng.next()
			b := 1 + r1%w.k
			from := (r1 / w.k) % w.a
			to := (from + 1 + (r1/w.k/w.a)%(w.a-1)) % w.a
			amount := 1 + r2%1000
			emit(uint32(b), trace.KindTransfer, from|to<<32, amount)
		})
		return
	}
	mustKind(m, trace.KindTransfer)
	bk := &w.banks[m.dst-1]
	from, to := m.a&0xFFFFFFFF, m.a>>32
	amount := int64(m.b)
	if bk.balance[from] >= amount {
		bk.balance[from] -= amount
		bk.balance[to] += amount
		bk.applied++
	} else {
		bk.rejected++
	}
}

func (w *banking) canonical() []uint64 {
	c := []uint64{w.drv.remaining, w.drv.rng.state}
	for _, bk := range w.banks {
		for _, v := range bk.balance {
			c = append(c, uint64(v))
		}
		c = append(c, bk.applied, bk.rejected)
	}
	return c
}

func (w *banking) goals() bool {
	var total uint64
	for _, bk := range w.banks {
		var sum int64
		for _, v := range bk.balance {
			if v < 0 {
				return false
			}
			sum += v
		}
		if sum != int64(w.a)*1_000_000 {
			return false
		}
		total += bk.applied + bk.rejected
	}
	return total == w.n
}

func (w *banking) figures() []string {
	var applied, rejected uint64
	for _, bk := range w.banks {
		applied += bk.applied
		rejected += bk.rejected
	}
	return []string{fmt.Sprintf("applied: %d", applied), fmt.Sprintf("rejected: %d", rejected)}
}

// ------------------------------------------------------------------ storm §5.2

type producer struct {
	drv  driver
	sent uint64
}

type consumer struct{ count, acc uint64 }

type storm struct {
	batch, n  uint64
	producers []producer // producer p is domain p
	consumers []consumer // consumer i is domain P+i
}

func newStorm(p Params) *storm {
	w := &storm{batch: p.Batch, n: p.N}
	w.producers = make([]producer, p.K1)
	for i := range w.producers {
		rem := p.N / p.K1
		if uint64(i) < p.N%p.K1 {
			rem++
		}
		w.producers[i].drv = driver{remaining: rem, rng: seedFor(p.Seed, uint32(i))}
	}
	w.consumers = make([]consumer, p.K2)
	return w
}

func (w *storm) domains() int { return len(w.producers) + len(w.consumers) }

func (w *storm) boots() []uint32 {
	var b []uint32
	for i := range w.producers {
		b = append(b, uint32(i))
	}
	return b
}

func (w *storm) deliver(m message, emit emitFunc) {
	P, C := uint64(len(w.producers)), uint64(len(w.consumers))
	if uint64(m.dst) < P {
		mustKind(m, trace.KindTick)
		pr := &w.producers[m.dst]
		pr.drv.tick(m.dst, w.batch, emit, func() {
			r := pr.drv.rng.next()
			emit(uint32(P+r%C), trace.KindData, r, pr.sent)
			pr.sent++
		})
		return
	}
	mustKind(m, trace.KindData)
	c := &w.consumers[uint64(m.dst)-P]
	c.count++
	c.acc = (c.acc^m.a)*0x100000001B3 + m.b
}

func (w *storm) canonical() []uint64 {
	var c []uint64
	for _, pr := range w.producers {
		c = append(c, pr.drv.remaining, pr.sent, pr.drv.rng.state)
	}
	for _, cs := range w.consumers {
		c = append(c, cs.count, cs.acc)
	}
	return c
}

func (w *storm) delivered() uint64 {
	var s uint64
	for _, cs := range w.consumers {
		s += cs.count
	}
	return s
}

func (w *storm) goals() bool { return w.delivered() == w.n }

func (w *storm) figures() []string {
	return []string{fmt.Sprintf("delivered: %d", w.delivered())}
}

// ------------------------------------------------------------------- sync §5.3

type register struct{ value, ver uint64 }

type replica struct {
	l    uint64
	regs []register
}

type syncW struct {
	batch    uint64
	g, r     uint64
	drv      driver
	replicas []replica // replica i is domain 1+i; group i/3, rep i%3
}

func newSync(p Params) *syncW {
	w := &syncW{batch: p.Batch, g: p.K1, r: p.K2}
	w.drv = driver{remaining: p.N, rng: seedFor(p.Seed, 0)}
	w.replicas = make([]replica, 3*p.K1)
	for i := range w.replicas {
		w.replicas[i].regs = make([]register, p.K2)
	}
	return w
}

func (w *syncW) domains() int    { return 1 + len(w.replicas) }
func (w *syncW) boots() []uint32 { return []uint32{0} }

func (w *syncW) deliver(m message, emit emitFunc) {
	if m.dst == 0 {
		mustKind(m, trace.KindTick)
		w.drv.tick(0, w.batch, emit, func() {
			r1 := w.drv.rng.next()
			r2 := w.drv.rng.next()
			g := r1 % w.g
			rep := (r1 / w.g) % 3
			reg := (r1 / w.g / 3) % w.r
			emit(uint32(1+3*g+rep), trace.KindWrite, reg, r2)
		})
		return
	}
	i := uint64(m.dst - 1)
	rp := &w.replicas[i]
	g, rep := i/3, i%3
	switch m.kind {
	case trace.KindWrite:
		rp.l++
		ver := rp.l<<2 | rep
		rp.regs[m.a] = register{value: m.b, ver: ver}
		for o := uint64(0); o < 3; o++ {
			if o != rep {
				emit(uint32(1+3*g+o), trace.KindSync, ver<<16|m.a, m.b)
			}
		}
	case trace.KindSync:
		ver, reg := m.a>>16, m.a&0xFFFF
		rp.l = max(rp.l, ver>>2)
		if ver > rp.regs[reg].ver {
			rp.regs[reg] = register{value: m.b, ver: ver}
		}
	default:
		mustKind(m, trace.KindSync)
	}
}

func (w *syncW) canonical() []uint64 {
	c := []uint64{w.drv.remaining, w.drv.rng.state}
	for _, rp := range w.replicas {
		c = append(c, rp.l)
		for _, rg := range rp.regs {
			c = append(c, rg.value, rg.ver)
		}
	}
	return c
}

func (w *syncW) goals() bool {
	for g := uint64(0); g < w.g; g++ {
		a := w.replicas[3*g].regs
		for o := uint64(1); o < 3; o++ {
			b := w.replicas[3*g+o].regs
			for j := range a {
				if a[j] != b[j] {
					return false
				}
			}
		}
	}
	return true
}

func (w *syncW) figures() []string { return nil }

// --------------------------------------------------------------- conflict §5.4

const (
	statusIdle       = 0
	statusPending    = 1
	statusSatisfied  = 2
	statusSuppressed = 3
	hpNone           = 255
)

type resource struct{ x, hp, holder uint64 }

type controller struct{ target, status uint64 }

type conflictGroup struct {
	res  resource
	ctls []controller
}

type conflict struct {
	batch  uint64
	g, k   uint64
	drv    driver
	groups []conflictGroup // group g: R is 1+g(k+1), controller c is 2+g(k+1)+c
}

func newConflict(p Params) *conflict {
	w := &conflict{batch: p.Batch, g: p.K1, k: p.K2}
	w.drv = driver{remaining: p.N, rng: seedFor(p.Seed, 0)}
	w.groups = make([]conflictGroup, p.K1)
	for i := range w.groups {
		w.groups[i].res = resource{x: 0, hp: hpNone, holder: 0}
		w.groups[i].ctls = make([]controller, p.K2)
	}
	return w
}

func (w *conflict) domains() int    { return 1 + int(w.g*(w.k+1)) }
func (w *conflict) boots() []uint32 { return []uint32{0} }

func (w *conflict) resourceID(g uint64) uint32      { return uint32(1 + g*(w.k+1)) }
func (w *conflict) controllerID(g, c uint64) uint32 { return uint32(2 + g*(w.k+1) + c) }

func (w *conflict) deliver(m message, emit emitFunc) {
	if m.dst == 0 {
		mustKind(m, trace.KindTick)
		w.drv.tick(0, w.batch, emit, func() {
			r1 := w.drv.rng.next()
			r2 := w.drv.rng.next()
			g := r1 % w.g
			c := (r1 / w.g) % w.k
			emit(w.controllerID(g, c), trace.KindSetGoal, r2%1000, 0)
		})
		return
	}
	g := uint64(m.dst-1) / (w.k + 1)
	pos := uint64(m.dst-1) % (w.k + 1)
	grp := &w.groups[g]
	if pos == 0 {
		mustKind(m, trace.KindClaim)
		r := &grp.res
		p, t, s := m.a, m.b, uint64(m.src)
		if p <= r.hp {
			prev := r.holder
			r.x, r.hp, r.holder = t, p, s
			emit(uint32(s), trace.KindGranted, t, 0)
			if prev != 0 && prev != s {
				emit(uint32(prev), trace.KindPreempted, p, 0)
			}
		} else {
			emit(uint32(s), trace.KindDenied, r.hp, t)
		}
		return
	}
	c := pos - 1
	ct := &grp.ctls[c]
	switch m.kind {
	case trace.KindSetGoal:
		ct.target = m.a
		ct.status = statusPending
		emit(w.resourceID(g), trace.KindClaim, c, m.a)
	case trace.KindGranted:
		if ct.status == statusPending && m.a == ct.target {
			ct.status = statusSatisfied
		}
	case trace.KindDenied:
		if ct.status == statusPending && m.b == ct.target {
			ct.status = statusSuppressed
		}
	case trace.KindPreempted:
		if ct.status == statusSatisfied {
			ct.status = statusSuppressed
		}
	default:
		mustKind(m, trace.KindSetGoal)
	}
}

func (w *conflict) canonical() []uint64 {
	c := []uint64{w.drv.remaining, w.drv.rng.state}
	for _, grp := range w.groups {
		c = append(c, grp.res.x, grp.res.hp, grp.res.holder)
		for _, ct := range grp.ctls {
			c = append(c, ct.target, ct.status)
		}
	}
	return c
}

func (w *conflict) goals() bool {
	for g, grp := range w.groups {
		star := -1
		for c, ct := range grp.ctls {
			if ct.status != statusIdle {
				star = c
				break
			}
		}
		if star < 0 {
			if grp.res.hp != hpNone || grp.res.holder != 0 {
				return false
			}
			continue
		}
		if grp.res.hp != uint64(star) || grp.res.holder != uint64(w.controllerID(uint64(g), uint64(star))) {
			return false
		}
		if grp.ctls[star].status != statusSatisfied || grp.res.x != grp.ctls[star].target {
			return false
		}
		for c, ct := range grp.ctls {
			if c != star && ct.status != statusIdle && ct.status != statusSuppressed {
				return false
			}
		}
	}
	return true
}

func (w *conflict) figures() []string { return nil }

// ------------------------------------------------------------ oscillation §5.5

type oscController struct{ target, seen uint64 }

type oscGroup struct {
	x    uint64
	a, b oscController
}

type oscillation struct {
	batch  uint64
	g, t   uint64
	drv    driver
	groups []oscGroup // group g: R 1+3g, A 2+3g, B 3+3g
}

func newOscillation(p Params) *oscillation {
	w := &oscillation{batch: p.Batch, g: p.K1, t: p.K2}
	w.drv = driver{remaining: p.N, rng: seedFor(p.Seed, 0)}
	w.groups = make([]oscGroup, p.K1)
	return w
}

func (w *oscillation) domains() int    { return 1 + 3*len(w.groups) }
func (w *oscillation) boots() []uint32 { return []uint32{0} }

func (w *oscillation) deliver(m message, emit emitFunc) {
	if m.dst == 0 {
		mustKind(m, trace.KindTick)
		w.drv.tick(0, w.batch, emit, func() {
			r1 := w.drv.rng.next()
			r2 := w.drv.rng.next()
			g := r1 % w.g
			c := (r1 / w.g) % 2
			emit(uint32(2+3*g+c), trace.KindSetGoal, r2%w.t, 0)
		})
		return
	}
	g := uint64(m.dst-1) / 3
	pos := uint64(m.dst-1) % 3
	grp := &w.groups[g]
	rID, aID, bID := uint32(1+3*g), uint32(2+3*g), uint32(3+3*g)
	if pos == 0 {
		mustKind(m, trace.KindSet)
		if m.a != grp.x {
			grp.x = m.a
			emit(aID, trace.KindChanged, grp.x, 0)
			emit(bID, trace.KindChanged, grp.x, 0)
		}
		return
	}
	ct := &grp.a
	if pos == 2 {
		ct = &grp.b
	}
	switch m.kind {
	case trace.KindSetGoal:
		ct.target = m.a
		if m.a != ct.seen {
			emit(rID, trace.KindSet, m.a, 0)
		}
	case trace.KindChanged:
		ct.seen = m.a
		if m.a != ct.target {
			emit(rID, trace.KindSet, ct.target, 0)
		}
	default:
		mustKind(m, trace.KindSetGoal)
	}
}

func (w *oscillation) canonical() []uint64 {
	c := []uint64{w.drv.remaining, w.drv.rng.state}
	for _, grp := range w.groups {
		c = append(c, grp.x, grp.a.target, grp.a.seen, grp.b.target, grp.b.seen)
	}
	return c
}

func (w *oscillation) goals() bool {
	for _, grp := range w.groups {
		if grp.a.target == grp.b.target && grp.x != grp.a.target {
			return false
		}
	}
	return true
}

func (w *oscillation) figures() []string { return nil }
