package main

import (
	"io"
	"log/slog"
	"sync"
	"time"

	"github.com/asynkron/protoactor-go/actor"
)

// protoactor: the domains as github.com/asynkron/protoactor-go actors, each
// message one Send to an actor's default (unbounded) mailbox. The framework
// alone bounds nothing and orders messages only per sender, so the modes add
// the flow control that keeps them correct and bounded: the driver waits,
// at the end of each of its Ticks, until the receivers have processed that
// tick's messages. In-flight messages then stay within SPEC's bound (one
// tick's), and every mailbox receives from one sender at a time, in
// generation order: the result is deterministic.

// actorWait bounds every wait for an actor's answer; reaching it is a bug.
const actorWait = 5 * time.Minute

func newActorSystem() *actor.ActorSystem {
	// The framework logs to stderr by default; stdout stays data, and a run
	// has nothing to say.
	quiet := func(*actor.ActorSystem) *slog.Logger { return slog.New(slog.NewTextHandler(io.Discard, nil)) }
	return actor.NewActorSystem(actor.WithLoggerFactory(quiet))
}

// tickDone asks an actor to answer once it has processed everything sent to
// it before.
type tickDone struct{}

// bankingProtoactor: each bank is an actor; the driver is this goroutine
// (the root context). After each Tick's transfers the driver asks every bank
// for a tickDone answer (RequestFuture) and waits for all of them.
func bankingProtoactor(c *config) result {
	K, A := c.banks, c.accounts
	g := newBankGen(c)
	banks := newBanks(K, A)
	sys := newActorSystem()
	defer sys.Shutdown()
	root := sys.Root
	pids := make([]*actor.PID, K)
	for k := range pids {
		s := banks[uint64(k)*(A+2) : uint64(k+1)*(A+2)]
		pids[k] = root.Spawn(actor.PropsFromFunc(func(ctx actor.Context) {
			switch m := ctx.Message().(type) {
			case transferMsg:
				applyTransfer(s, A, m.a, m.b)
			case tickDone:
				ctx.Respond(tickDone{})
			}
		}))
	}
	futures := make([]*actor.Future, K)
	for k := g.tick(c.batch); k > 0; k = g.tick(c.batch) {
		for ; k > 0; k-- {
			bank, a, b := g.next()
			root.Send(pids[bank], transferMsg{a, b})
		}
		for i, pid := range pids {
			futures[i] = root.RequestFuture(pid, tickDone{}, actorWait)
		}
		for _, f := range futures {
			if _, err := f.Result(); err != nil {
				panic("protoactor: bank did not answer: " + err.Error())
			}
		}
	}
	for _, pid := range pids {
		if err := root.PoisonFuture(pid).Wait(); err != nil {
			panic("protoactor: stop: " + err.Error())
		}
	}
	return bankingResult(c, g.remaining, g.rng, banks, 0, false)
}

// produce is a producer's Tick: emit this tick's batch, then answer with
// the producer's remaining.
type produce struct{}

// flushed asks a consumer to mark wg done once it has processed everything
// sent to it before.
type flushed struct{ wg *sync.WaitGroup }

// stormProtoactor: producers and consumers are actors. This goroutine (the
// root context) delivers each tick: it sends producer 0 its produce and
// waits for the answer (by then producer 0's whole batch is in the
// consumers' mailboxes), then producer 1, …, so every consumer receives in
// delivery order. It then sends every consumer a flushed and waits for all,
// which bounds the mailboxes to one tick's messages. (A RequestFuture per
// consumer per tick would cost a registered process each; the WaitGroup is
// the cheaper way to collect 1024 answers.)
func stormProtoactor(c *config) result {
	ps, cs := newProducers(c), make([]consumer, c.consumers)
	g := newStormGen(c)
	sys := newActorSystem()
	defer sys.Shutdown()
	root := sys.Root
	cpids := make([]*actor.PID, len(cs))
	for i := range cs {
		d := &cs[i]
		cpids[i] = root.Spawn(actor.PropsFromFunc(func(ctx actor.Context) {
			switch m := ctx.Message().(type) {
			case transferMsg: // a Data's payload: a = r, b = sent
				d.receive(m.a, m.b)
			case flushed:
				m.wg.Done()
			}
		}))
	}
	ppids := make([]*actor.PID, len(ps))
	for i := range ps {
		p := &ps[i]
		ppids[i] = root.Spawn(actor.PropsFromFunc(func(ctx actor.Context) {
			if _, ok := ctx.Message().(produce); ok {
				for k := tickShare(&p.remaining, c.batch); k > 0; k-- {
					ci, a, b := g.next(p)
					ctx.Send(cpids[ci], transferMsg{a, b})
				}
				ctx.Respond(p.remaining)
			}
		}))
	}
	var wg sync.WaitGroup
	active := make([]bool, len(ps))
	for i := range ps {
		active[i] = ps[i].remaining > 0
	}
	for more := true; more; {
		more = false
		for i, pid := range ppids {
			if !active[i] {
				continue
			}
			left, err := root.RequestFuture(pid, produce{}, actorWait).Result()
			if err != nil {
				panic("protoactor: producer did not answer: " + err.Error())
			}
			active[i] = left.(uint64) > 0
			more = more || active[i]
		}
		wg.Add(len(cpids))
		for _, pid := range cpids {
			root.Send(pid, flushed{&wg})
		}
		wg.Wait()
	}
	for _, pid := range append(ppids, cpids...) {
		root.Poison(pid)
	}
	return stormResult(c, ps, cs, 0, false)
}
