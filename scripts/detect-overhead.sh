#!/usr/bin/env bash
# detect-overhead.sh: oscillation detection on vs off (hidden flag
# --no-oscillation-detect), interleaved, for banking and storm at n=1e8.
#   scripts/detect-overhead.sh [--count K] [-n N] [--shards S]
set -euo pipefail
cd "$(dirname "$0")/.."
count=5 n=1e8 shards=1
while [ $# -gt 0 ]; do
  case "$1" in
    --count) count=$2; shift ;;
    -n) n=$2; shift ;;
    --shards) shards=$2; shift ;;
    *) echo "detect-overhead.sh: unknown flag $1" >&2; exit 1 ;;
  esac
  shift
done
tmpbin=$(mktemp -d)
trap 'rm -rf "$tmpbin"' EXIT
bin=$tmpbin/lexbench
go build -o "$bin" ./cmd/lexbench
echo "# scripts/detect-overhead.sh --count $count -n $n --shards $shards; $(go version) nproc=$(nproc)"
for i in $(seq "$count"); do
  for w in banking storm; do
    "$bin" $w -n "$n" --shards "$shards" | grep '^Benchmark' | sed 's/^Benchmark\([A-Za-z]*\)/Benchmark\1Detect/'
    "$bin" $w -n "$n" --shards "$shards" --no-oscillation-detect | grep '^Benchmark' | sed 's/^Benchmark\([A-Za-z]*\)/Benchmark\1NoDetect/'
  done
done
