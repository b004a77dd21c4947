package partition

import (
	"context"
	"fmt"
	"os"
	"sync"
	"testing"
	"time"

	"github.com/cespare/xxhash/v2"
	"github.com/lexbench/lexbench/engine"
	"github.com/lexbench/lexbench/internal/natsembed"
	"github.com/lexbench/lexbench/replica"
	"github.com/lexbench/lexbench/trace"
)

// BenchmarkExchange measures the exchange alone, one round per tick, on
// loopback: P partitions (goroutines, each with its own connection to an
// embedded JetStream server, or the in-process MemNet for the protocol's
// floor) each send B messages to every other partition per round, and
// hash their part of the previous tick (B·(P−1) messages) into the chain,
// as a partition whose every message crosses partitions does. Metrics:
// µs/round (the time a tick boundary costs a partition), B/round (bytes
// one partition sends), ns/crossing-msg. `scripts/partition-bench.sh`
// runs it with the full runs the model of docs/distributed.md rests on.
func BenchmarkExchange(b *testing.B) {
	var srv *natsembed.Server
	for _, tr := range []string{"nats", "mem"} {
		for _, P := range []int{2, 3, 4} {
			for _, B := range []int{0, 64, 4096, 65536} {
				if tr == "mem" && (P == 4 || B == 64) {
					continue
				}
				b.Run(fmt.Sprintf("%s/P=%d/B=%d", tr, P, B), func(b *testing.B) {
					if tr == "nats" && srv == nil {
						var err error
						if srv, err = natsembed.Start("", ""); err != nil {
							b.Fatal(err)
						}
					}
					benchExchange(b, tr, srv, P, B)
				})
			}
		}
	}
	if srv != nil {
		srv.Shutdown()
	}
}

func benchExchange(b *testing.B, tr string, srv *natsembed.Server, P, B int) {
	id := xxhash.Sum64String(fmt.Sprintf("bench %s %d %d %d %d", tr, P, B, os.Getpid(), time.Now().UnixNano()))
	dials := make([]Dial, P)
	net := NewMemNet(P)
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	for k := range P {
		dials[k] = net.Dial
		if tr == "nats" {
			conn, err := replica.Connect(srv.URL(), "bench")
			if err != nil {
				b.Fatal(err)
			}
			defer conn.Close()
			if dials[k], err = NATSDial(ctx, conn.JetStream(), id, NATSOptions{}); err != nil {
				b.Fatal(err)
			}
		}
	}
	nodes := make([]*Node, P)
	for k := range P {
		t, err := dials[k](k, 0)
		if err != nil {
			b.Fatal(err)
		}
		defer t.Close()
		nodes[k] = newNode(k, P, id, "bench", t, nil)
	}
	msgs := make([]trace.Entry, B)
	for i := range msgs {
		msgs[i] = trace.Entry{Src: 1, Dst: 2, Kind: 2, A: uint64(i), B: uint64(i) * 7}
	}
	seg := make([]trace.Entry, B*(P-1))
	b.ResetTimer()
	start := time.Now()
	var wg sync.WaitGroup
	errs := make([]error, P)
	for k := range P {
		wg.Add(1)
		go func() {
			defer wg.Done()
			m := &engine.PartMsg{Kind: engine.RoundTick, To: make([][]trace.Entry, P), Notices: make([][]trace.Entry, P)}
			for j := range P {
				if j != k {
					m.To[j] = msgs
				}
			}
			for i := 0; i < b.N; i++ {
				m.Tick = uint64(i + 1)
				m.N, m.Delivered = uint64(len(msgs)*(P-1)), uint64(len(seg))
				m.Segment = [][]trace.Entry{seg}
				if i == 0 {
					m.Delivered, m.Segment = 0, nil // nothing delivered before the first round
				}
				if _, err := nodes[k].Exchange(m); err != nil {
					errs[k] = err
					cancel()
					return
				}
			}
		}()
	}
	wg.Wait()
	el := time.Since(start)
	b.StopTimer()
	for _, err := range errs {
		if err != nil {
			b.Fatal(err)
		}
	}
	s := nodes[0].Stats
	b.ReportMetric(float64(el.Microseconds())/float64(b.N), "µs/round")
	b.ReportMetric(float64(s.BytesSent)/float64(s.Rounds), "B/round")
	if B > 0 {
		b.ReportMetric(float64(el.Nanoseconds())/float64(b.N*B*(P-1)), "ns/crossing-msg")
	}
}
