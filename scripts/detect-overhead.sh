#!/usr/bin/env bash
# detect-overhead.sh: the cost of oscillation detection, interleaved, for
# banking and storm: global detection (the default) vs none (hidden flag
# --no-oscillation-detect) vs local detection (--detect local, SPEC §5.7).
# The Benchmark lines are renamed ...Detect, ...NoDetect and ...DetectLocal,
# so benchstat compares them; the target is local ≤ 10 % over global at
# n = 1e8, shards 1.
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
rename() { grep '^Benchmark' | sed "s/^Benchmark\([A-Za-z]*\)/Benchmark\1$1/"; }
for i in $(seq "$count"); do
  for w in banking storm; do
    "$bin" $w -n "$n" --shards "$shards" | rename Detect
    "$bin" $w -n "$n" --shards "$shards" --no-oscillation-detect | rename NoDetect
    "$bin" $w -n "$n" --shards "$shards" --detect local | rename DetectLocal
  done
done
