#!/usr/bin/env bash
# scaling.sh: every workload at n = 1e6, 1e7 and 1e8 (shards 1 and 2, no
# journal), --count K rounds interleaved, with each run's peak RSS, to show
# time linear and memory flat in n. Writes results/<date>-scaling.txt
# (benchstat format; `# maxrss_kb=` comment lines) and prints a table of
# medians.
#
#   scripts/scaling.sh [--count K] [--workloads "banking storm"] [--sizes "1e6 1e7 1e8"]
set -euo pipefail
cd "$(dirname "$0")/.."
count=3 workloads="banking storm sync conflict oscillation" sizes="1e6 1e7 1e8"
while [ $# -gt 0 ]; do
  case "$1" in
    --count) count=$2; shift ;;
    --workloads) workloads=$2; shift ;;
    --sizes) sizes=$2; shift ;;
    *) echo "scaling.sh: unknown flag $1" >&2; exit 1 ;;
  esac
  shift
done
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
bin=$work/lexbench
go build -o "$bin" ./cmd/lexbench
mkdir -p results
out="results/$(date -u +%Y-%m-%d)-scaling.txt"
k=2
while [ -e "$out" ]; do out="results/$(date -u +%Y-%m-%d)-scaling-$k.txt"; k=$((k + 1)); done
{
  echo "# scripts/scaling.sh --count $count --workloads \"$workloads\" --sizes \"$sizes\""
  echo "# commit: $(git rev-parse --short HEAD)$(git diff --quiet || echo +dirty) $(go version) nproc=$(nproc) load: $(cut -d' ' -f1-3 /proc/loadavg)"
} >"$out"
for i in $(seq "$count"); do
  for w in $workloads; do
    for n in $sizes; do
      for s in 1 2; do
        /usr/bin/env time -f "%M" -o "$work/rss" "$bin" "$w" -n "$n" --shards "$s" >>"$out" || true
        echo "# maxrss_kb=$(cat "$work/rss") workload=$w n=$n shards=$s" >>"$out"
        echo >>"$out"
      done
    done
  done
done
echo "# load at end: $(cut -d' ' -f1-3 /proc/loadavg)" >>"$out"
# table: median ns/op (as seconds) and peak RSS per workload, n, shards
printf "%-42s %10s %10s\n" "benchmark" "median s" "RSS MB"
awk '
  /^Benchmark/ { split($1, p, "/"); name = p[1] "/" p[2] "/" p[3]; ns = $3 }
  /^# maxrss_kb=/ { split($2, r, "="); key = name; t[key] = t[key] " " ns / 1e9; m[key] = m[key] " " r[2]; keys[key] = 1 }
  function med(s,   a, n, i, j, x) { n = split(s, a, " "); for (i = 2; i <= n; i++) { x = a[i]; for (j = i - 1; j >= 1 && a[j] + 0 > x + 0; j--) a[j + 1] = a[j]; a[j + 1] = x } return a[int((n + 1) / 2)] }
  END { for (k in keys) printf "%-42s %10.3f %10.1f\n", k, med(t[k]), med(m[k]) / 1024 }
' "$out" | sort
echo "$out"
