#!/usr/bin/env bash
# replica-bench.sh: replicated execution's speed on loopback (issue 19):
# the input stream's publish rate and a replica's apply rate (ops/s) for
# banking, and the replica's ns/op against the single-node run, each round
# interleaved; then a publisher and a replica at the same time, in separate
# processes, against one embedded NATS server (`lexbench nats`).
#   scripts/replica-bench.sh [--count K] [-n N] [--shards S] > results/DATE-replica.txt
# Benchmarks are not tests: run it on a quiet machine.
set -euo pipefail
cd "$(dirname "$0")/.."
count=3 n=1e7 shards=1
while [ $# -gt 0 ]; do
  case "$1" in
    --count) count=$2; shift ;;
    -n) n=$2; shift ;;
    --shards) shards=$2; shift ;;
    *) echo "replica-bench.sh: unknown flag $1" >&2; exit 1 ;;
  esac
  shift
done
tmp=$(mktemp -d)
trap 'kill $srv 2>/dev/null || true; rm -rf "$tmp"' EXIT
bin=$tmp/lexbench
go build -o "$bin" ./cmd/lexbench
go test -c -o "$tmp/replica.test" ./replica
echo "# scripts/replica-bench.sh --count $count -n $n --shards $shards; $(go version) nproc=$(nproc)"
echo "# in-process (embedded server in the benchmark process): BenchmarkStreamPublish, BenchmarkReplicaApply (a complete stream), BenchmarkSingleNode"
for i in $(seq "$count"); do
  LEXBENCH_BENCH_N=$n "$tmp/replica.test" -test.run '^$' -test.bench 'StreamPublish|ReplicaApply|SingleNode' -test.benchtime 1x |
    grep '^Benchmark'
done
echo "# separate processes: lexbench nats; publish; then replica (a complete stream); single-node run"
"$bin" nats --listen 127.0.0.1:0 --store "$tmp/store" > "$tmp/nats.out" 2>/dev/null &
srv=$!
for _ in $(seq 100); do grep -q '^nats: ' "$tmp/nats.out" 2>/dev/null && break; sleep 0.1; done
url=$(sed -n 's/^nats: //p' "$tmp/nats.out")
for i in $(seq "$count"); do
  seed=$((100 + i)) # a new stream per round
  "$bin" publish banking -n "$n" --seed $seed --nats "$url" | grep '^Benchmark'
  "$bin" replica banking -n "$n" --seed $seed --nats "$url" --name "bench$i" --shards "$shards" | grep '^Benchmark' |
    sed 's/^BenchmarkBanking/BenchmarkReplicaBanking/'
  "$bin" banking -n "$n" --seed $seed --shards "$shards" | grep '^Benchmark'
done
