#!/usr/bin/env bash
# faults-bench.sh: the cost of the fault layer (docs/faults.md), interleaved.
#   scripts/faults-bench.sh [--count K] [-n N] [--shards "1 2"] [--rates "333 333 334"] [--base REV]
#                           [--workloads "storm banking sync conflict oscillation"]
# For each workload (default storm and banking), each round runs faults off and faults on (--drop
# --dup --delay from --rates, default 1000 ppm in all) with one binary and
# prints the Benchmark lines renamed …Off / …Faults (benchstat reads them),
# then the median ns/msg of each and the ratio on/off. With --base REV it
# also runs REV's build (faults off) in the same rounds, renamed …Base, and
# prints the ratio off/base: the fault layer must cost nothing when off.
set -euo pipefail
cd "$(dirname "$0")/.."
count=5 n=1e8 shards="1" rates="333 333 334" base="" workloads="storm banking"
while [ $# -gt 0 ]; do
  case "$1" in
    --count) count=$2; shift ;;
    -n) n=$2; shift ;;
    --shards) shards=$2; shift ;;
    --rates) rates=$2; shift ;;
    --base) base=$2; shift ;;
    --workloads) workloads=$2; shift ;;
    *) echo "faults-bench.sh: unknown flag $1" >&2; exit 1 ;;
  esac
  shift
done
read -r drop dup delay <<<"$rates"
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
bin=$tmp/lexbench
go build -o "$bin" ./cmd/lexbench
if [ -n "$base" ]; then
  mkdir "$tmp/base"
  git archive "$base" | tar -x -C "$tmp/base"
  (cd "$tmp/base" && go build -o "$tmp/lexbench-base" ./cmd/lexbench)
fi
echo "# scripts/faults-bench.sh --count $count -n $n --shards \"$shards\" --rates \"$rates\"${base:+ --base $base} --workloads \"$workloads\"; $(go version) nproc=$(nproc)"
echo "# commit $(git rev-parse --short HEAD)$(git diff --quiet || echo +dirty)${base:+, base $(git rev-parse --short "$base")}"
out=$tmp/out.txt
rename() { grep '^Benchmark' | sed "s/^Benchmark\([A-Za-z]*\)/Benchmark\1$1/"; }
run() { "$@" 2>/dev/null || true; } # faulty runs end violated (exit 2): a result, not a failure
for i in $(seq "$count"); do
  for w in $workloads; do
    for s in $shards; do
      if [ -n "$base" ]; then
        run "$tmp/lexbench-base" $w -n "$n" --shards "$s" | rename Base | tee -a "$out"
      fi
      run "$bin" $w -n "$n" --shards "$s" | rename Off | tee -a "$out"
      run "$bin" $w -n "$n" --shards "$s" --drop "$drop" --dup "$dup" --delay "$delay" | rename Faults | tee -a "$out"
    done
  done
done
echo "# medians of ns/msg over $count rounds"
declare -A med
for k in $(awk '{print $1}' "$out" | sort -u); do
  med[$k]=$(awk -v k="$k" '$1 == k { for (i = 1; i < NF; i++) if ($(i+1) == "ns/msg") print $i }' "$out" | sort -g |
    awk '{ a[NR] = $1 } END { if (NR % 2) print a[(NR+1)/2]; else print (a[NR/2] + a[NR/2+1]) / 2 }')
  echo "# $k ${med[$k]}"
done
for k in "${!med[@]}"; do
  case "$k" in
    *Faults/*) o=${k/Faults\//Off/}; [ -n "${med[$o]:-}" ] && awk -v k="$k" -v a="${med[$k]}" -v b="${med[$o]}" 'BEGIN { printf "# ratio faults/off %s: %.3f\n", k, a / b }' ;;
    *Off/*) b=${k/Off\//Base/}; [ -n "${med[$b]:-}" ] && awk -v k="$k" -v a="${med[$k]}" -v b="${med[$b]}" 'BEGIN { printf "# ratio off/base %s: %.3f\n", k, a / b }' ;;
  esac
done | sort
