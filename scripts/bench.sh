#!/usr/bin/env bash
# bench.sh: every workload at its 1e8 configuration (--quick: 1e6), shards 1
# and 2, --count K rounds interleaved (round-robin over workloads and shard
# counts, so machine noise hits all alike). Writes one benchstat-format file
# to results/<yyyy-mm-dd>-<git short sha>.txt and prints its path.
#
#   scripts/bench.sh [--count K] [--quick] [--workloads "banking storm"] [--extra "--no-oscillation-detect"]
set -euo pipefail
cd "$(dirname "$0")/.."
count=10 n=1e8 workloads="banking storm sync conflict oscillation" extra="" tag=""
while [ $# -gt 0 ]; do
  case "$1" in
    --count) count=$2; shift ;;
    --quick) n=1e6 ;;
    --workloads) workloads=$2; shift ;;
    --extra) extra=$2; tag="-$(echo "$2" | tr -cd 'a-z-')"; shift ;;
    *) echo "bench.sh: unknown flag $1" >&2; exit 1 ;;
  esac
  shift
done
bin=$(mktemp -d)/lexbench
go build -o "$bin" ./cmd/lexbench
mkdir -p results
out="results/$(date -u +%Y-%m-%d)-$(git rev-parse --short HEAD)${tag}.txt"
k=2
while [ -e "$out" ]; do # never overwrite an earlier result
  out="results/$(date -u +%Y-%m-%d)-$(git rev-parse --short HEAD)${tag}-$k.txt"; k=$((k + 1))
done
{
  echo "# scripts/bench.sh --count $count -n $n ${extra:+--extra \"$extra\"}"
  echo "# $(go version) nproc=$(nproc) $(uname -r)"
} >"$out"
for i in $(seq "$count"); do
  for w in $workloads; do
    for s in 1 2; do
      # shellcheck disable=SC2086
      /usr/bin/env time -f "# maxrss_kb=%M workload=$w shards=$s" "$bin" "$w" -n "$n" --shards "$s" $extra >>"$out" 2>>"$out.rss" || true
    done
  done
done
grep '^# maxrss' "$out.rss" >>"$out" || true
rm -f "$out.rss"
echo "$out"
