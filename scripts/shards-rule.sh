#!/usr/bin/env bash
# shards-rule.sh: measures the default --shards rule (engine.PredictShards)
# on every workload. For each workload it asks lexbench which count it picks
# by default (the `# shards:` comment), then runs every count from 1 to
# nproc, --count rounds interleaved (round-robin over workloads and counts,
# so machine noise hits all alike), and prints per workload the median
# ns/msg of each count, the fastest, the default, and whether the default
# was within 5 % of the fastest. Writes results/<date>-shards-rule.txt
# (benchstat format) and prints the table.
#
#   scripts/shards-rule.sh [-n 1e8] [--count 5] [--workloads "banking storm sync conflict oscillation"]
set -euo pipefail
cd "$(dirname "$0")/.."
n=1e8 count=5 workloads="banking storm sync conflict oscillation"
while [ $# -gt 0 ]; do
  case "$1" in
    -n) n=$2; shift ;;
    --count) count=$2; shift ;;
    --workloads) workloads=$2; shift ;;
    *) echo "shards-rule.sh: unknown flag $1" >&2; exit 1 ;;
  esac
  shift
done
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
bin=$work/lexbench
go build -o "$bin" ./cmd/lexbench
mkdir -p results
out="results/$(date -u +%Y-%m-%d)-shards-rule.txt"
k=2
while [ -e "$out" ]; do out="results/$(date -u +%Y-%m-%d)-shards-rule-$k.txt"; k=$((k + 1)); done
cpus=$(nproc)
{
  echo "# scripts/shards-rule.sh -n $n --count $count --workloads \"$workloads\""
  echo "# commit: $(git rev-parse --short HEAD)$(git diff --quiet HEAD 2>/dev/null || echo +dirty) $(go version | cut -d' ' -f3) nproc=$cpus load: $(cut -d' ' -f1-3 /proc/loadavg)"
} >"$out"
for w in $workloads; do
  # the default's choice, from a run small enough to be quick: the probe
  # does not depend on n beyond its budget (1/64 of n, at most 2^18 msgs)
  { "$bin" "$w" -n "$n" --max-ticks 1 || true; } | sed -n 's/^# shards: \([0-9]*\) .*/\1/p' >"$work/$w.default"
  echo "# default $w: $(cat "$work/$w.default") shards" >>"$out"
done
for i in $(seq "$count"); do
  for w in $workloads; do
    for s in $(seq "$cpus"); do
      "$bin" "$w" -n "$n" --shards "$s" | grep -E '^(Benchmark|workload:|shards:)' >>"$out" || true
    done
  done
done
echo "$out"
echo
printf '%-12s %s\n' workload "median ns/msg by shards; fastest; default; default within 5%?"
for w in $workloads; do
  name="Benchmark$(echo "$w" | sed 's/./\U&/')/"
  line="" best="" bestv=""
  for s in $(seq "$cpus"); do
    m=$(grep -F "$name" "$out" | grep -F "/shards=$s " |
      awk '{for (i = 1; i <= NF; i++) if ($(i+1) == "ns/msg") print $i}' | sort -g |
      awk '{a[NR] = $1} END {if (NR) print (NR % 2) ? a[(NR+1)/2] : (a[NR/2] + a[NR/2+1]) / 2}')
    line="$line $s:$m"
    if [ -n "$m" ] && { [ -z "$bestv" ] || awk -v a="$m" -v b="$bestv" 'BEGIN {exit !(a < b)}'; }; then best=$s bestv=$m; fi
    eval "v$s=$m"
  done
  d=$(cat "$work/$w.default")
  dv=$(eval echo "\${v$d:-}")
  ok=$(awk -v a="$dv" -v b="$bestv" 'BEGIN {print (a != "" && a <= 1.05 * b) ? "yes" : "NO"}')
  printf '%-12s%s; fastest %s; default %s; %s\n' "$w" "$line" "$best" "$d" "$ok"
done
