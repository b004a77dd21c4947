#!/usr/bin/env bash
# partition-bench.sh: partitioned execution's cost on loopback (issue 19,
# docs/distributed.md §8), the numbers the model of when P machines beat
# one rests on:
#   1. the exchange alone (BenchmarkExchange): µs per round (x_P, the cost
#      of a tick boundary), bytes per round and ns per crossing message
#      (s/W), by P and messages per round B, on the embedded NATS server and
#      on the in-process MemNet (the protocol's floor without a server);
#   2. whole runs as P separate processes against `lexbench nats`, each
#      partition's Benchmark line (ns/msg, its rounds and bytes), next to the
#      single-process run of the same params (c, ns/msg at --shards 1);
#   3. with --ab REV DIR: the single-process engine at REV (before the
#      partition hooks) and here, interleaved, into DIR/old.txt and
#      DIR/new.txt, compared with scripts/compare.sh (benchstat).
#   scripts/partition-bench.sh [--count K] [-n N] [--benchtime D] [--ab REV DIR] > results/DATE-partition.txt
# (--benchtime: go test's, for BenchmarkExchange; default 2s; 20x to try
# the script quickly)
# Benchmarks are not tests: run it on a quiet machine.
set -euo pipefail
cd "$(dirname "$0")/.."
count=3 n=1e6 benchtime=2s ab="" abdir=""
while [ $# -gt 0 ]; do
  case "$1" in
    --count) count=$2; shift ;;
    -n) n=$2; shift ;;
    --benchtime) benchtime=$2; shift ;;
    --ab) ab=$2; abdir=$3; shift 2 ;;
    *) echo "partition-bench.sh: unknown flag $1" >&2; exit 1 ;;
  esac
  shift
done
tmp=$(mktemp -d)
srv=""
trap '[ -n "$srv" ] && kill $srv 2>/dev/null; rm -rf "$tmp"' EXIT
bin=$tmp/lexbench
go build -o "$bin" ./cmd/lexbench
go test -c -o "$tmp/partition.test" ./partition
echo "# scripts/partition-bench.sh --count $count -n $n --benchtime $benchtime${ab:+ --ab $ab $abdir}; $(go version) nproc=$(nproc)"
echo "# 1. the exchange alone: BenchmarkExchange/{nats,mem}/P=/B= (B messages to every other partition per round)"
"$tmp/partition.test" -test.run '^$' -test.bench 'BenchmarkExchange' -test.benchtime "$benchtime" -test.count "$count" | grep '^Benchmark'

echo "# 2. whole runs: P partition processes on lexbench nats; then the single-process run (--shards 1)"
"$bin" nats --listen 127.0.0.1:0 --store "$tmp/store" > "$tmp/nats.out" 2>/dev/null &
srv=$!
for _ in $(seq 100); do grep -q '^nats: ' "$tmp/nats.out" 2>/dev/null && break; sleep 0.1; done
url=$(sed -n 's/^nats: //p' "$tmp/nats.out")
runs=(
  "storm -n $n --batch 4096"
  "storm -n $n --batch 65536"
  "banking -n $n --banks 64 --batch 4096"
  "conflict -n $n --groups 4096 --batch 4096"
)
for i in $(seq "$count"); do
  for w in "${runs[@]}"; do
    for P in 2 3; do
      seed=$((1000 * i + P)) # a new exchange stream per run
      pids=()
      for k in $(seq 0 $((P - 1))); do
        # shellcheck disable=SC2086
        "$bin" partition $w --seed $seed --partitions "$P" --index "$k" --nats "$url" > "$tmp/p$k.out" 2>/dev/null &
        pids+=($!)
      done
      for p in "${pids[@]}"; do wait "$p" || true; done
      for k in $(seq 0 $((P - 1))); do
        grep '^# exchange' "$tmp/p$k.out" | sed "s/^# exchange/# P=$P k=$k $w: exchange/"
        grep '^Benchmark' "$tmp/p$k.out"
      done
    done
    # shellcheck disable=SC2086
    "$bin" $w --seed $((1000 * i + 2)) --shards 1 | grep '^Benchmark'
  done
done

if [ -n "$ab" ]; then
  echo "# 3. the single-process engine at $ab (old) and here (new), interleaved: $abdir/old.txt, $abdir/new.txt"
  mkdir -p "$abdir"
  git worktree add -q "$tmp/old" "$ab"
  (cd "$tmp/old" && go build -o "$tmp/old.bin" ./cmd/lexbench)
  git worktree remove --force "$tmp/old"
  : > "$abdir/old.txt"
  : > "$abdir/new.txt"
  for i in $(seq "$count"); do
    for w in "banking -n 1e8" "storm -n 1e8" "conflict -n 1e7"; do
      for s in 1 2; do
        # shellcheck disable=SC2086
        "$tmp/old.bin" $w --shards $s >> "$abdir/old.txt"
        # shellcheck disable=SC2086
        "$bin" $w --shards $s >> "$abdir/new.txt"
      done
    done
  done
  scripts/compare.sh "$abdir/old.txt" "$abdir/new.txt"
fi
