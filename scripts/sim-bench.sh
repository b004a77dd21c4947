#!/usr/bin/env bash
# sim-bench.sh: lexbench sim's seeds per second with one worker and with
# two, interleaved (docs/simulation.md). Issue 18's target: ≥ 1.8× with -j 2.
#   scripts/sim-bench.sh [--count K] [--seeds 1..2000] [-n 1e4] [--workload storm] [--jobs "1 2"] [-- extra sim flags]
# Each round runs `lexbench sim WORKLOAD -n N --seeds SEEDS -j J` for every J
# in turn and keeps its BenchmarkSim line, renamed without /j=J, in
# $out/j<J>.txt (benchstat j1.txt j2.txt compares them); then it prints the
# median seeds/s of each J and the ratio of each to the first.
set -euo pipefail
cd "$(dirname "$0")/.."
count=5 seeds=1..2000 n=1e4 workload=storm jobs="1 2" extra=()
while [ $# -gt 0 ]; do
  case "$1" in
    --count) count=$2; shift ;;
    --seeds) seeds=$2; shift ;;
    -n) n=$2; shift ;;
    --workload) workload=$2; shift ;;
    --jobs) jobs=$2; shift ;;
    --) shift; extra=("$@"); break ;;
    *) echo "sim-bench.sh: unknown flag $1" >&2; exit 1 ;;
  esac
  shift
done
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
bin=$tmp/lexbench
go build -o "$bin" ./cmd/lexbench
out=${SIM_BENCH_OUT:-$tmp}
mkdir -p "$out"
echo "# scripts/sim-bench.sh --count $count --seeds $seeds -n $n --workload $workload --jobs \"$jobs\"${extra:+ -- ${extra[*]}}; $(go version) nproc=$(nproc)"
echo "# commit $(git rev-parse --short HEAD)$(git diff --quiet || echo +dirty); load $(cut -d' ' -f1-3 /proc/loadavg)"
for j in $jobs; do : >"$out/j$j.txt"; done
for i in $(seq "$count"); do
  for j in $jobs; do
    # a simulation whose seeds violate goals exits 2: a result, not a failure
    "$bin" sim "$workload" -n "$n" --seeds "$seeds" -j "$j" --no-shrink --list 0 "${extra[@]}" 2>/dev/null |
      grep '^BenchmarkSim/' | sed 's|/j=[0-9]*||' | tee -a "$out/j$j.txt" || true
  done
done
median() { awk '{ for (i = 1; i < NF; i++) if ($(i+1) == "seeds/s") print $i }' "$1" | sort -g |
  awk '{ a[NR] = $1 } END { if (NR % 2) print a[(NR+1)/2]; else print (a[NR/2] + a[NR/2+1]) / 2 }'; }
first=""
for j in $jobs; do
  m=$(median "$out/j$j.txt")
  echo "# -j $j: median $m seeds/s over $count rounds"
  if [ -z "$first" ]; then first=$m; else awk -v a="$m" -v b="$first" -v j="$j" 'BEGIN { printf "# ratio -j %s / -j %s: %.2f\n", j, '"${jobs%% *}"', a / b }'; fi
done
echo "# benchstat: SIM_BENCH_OUT=DIR keeps j<J>.txt for benchstat DIR/j1.txt DIR/j2.txt"
