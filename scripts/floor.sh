#!/usr/bin/env bash
# floor.sh: lexbench against its compute floors (peers/cmd/floor), interleaved
# in one run so the noisy machine affects all alike.
#
#   scripts/floor.sh [--workload banking|storm] [-n 1e8] [--count 5] [--out FILE]
#
# Each round runs: floor loop, floor loop+hash, lexbench --shards 1, lexbench
# --shards 2. Prints benchmark lines (append to a results/ file with --out)
# and the medians and ratios to loop+hash.
set -euo pipefail
cd "$(dirname "$0")/.."
workload=banking n=1e8 count=5 out=""
while [ $# -gt 0 ]; do
  case "$1" in
    --workload) workload=$2; shift ;;
    -n) n=$2; shift ;;
    --count) count=$2; shift ;;
    --out) out=$2; shift ;;
    *) echo "floor.sh: unknown flag $1" >&2; exit 1 ;;
  esac
  shift
done
bin=$(mktemp -d)
trap 'rm -rf "$bin"' EXIT
go build -o "$bin/lexbench" ./cmd/lexbench
(cd peers && go build -o "$bin/floor" ./cmd/floor)
log=$bin/log.txt
{
  echo "# scripts/floor.sh --workload $workload -n $n --count $count"
  echo "# $(date -u +%Y-%m-%d) $(git rev-parse --short HEAD) $(go version | cut -d' ' -f3) nproc=$(nproc)"
} >"$log"
for i in $(seq "$count"); do
  "$bin/floor" -workload "$workload" -n "$n" -mode loop,loophash | grep '^Benchmark' >>"$log"
  for s in 1 2; do
    "$bin/lexbench" "$workload" -n "$n" --shards $s | grep '^Benchmark' >>"$log"
  done
done
cat "$log"
[ -n "$out" ] && cp "$log" "$out"
echo
echo "medians (ns/msg), ratio to loop+hash:"
names=$(grep '^Benchmark' "$log" | awk '{print $1}' | sort -u)
median() { # ns/msg values of benchmark $1
  grep -F "$1 " "$log" | awk '{for (i = 1; i <= NF; i++) if ($(i+1) == "ns/msg") print $i}' | sort -g |
    awk '{a[NR] = $1} END {print (NR % 2) ? a[(NR+1)/2] : (a[NR/2] + a[NR/2+1]) / 2}'
}
base=$(median "$(echo "$names" | grep mode=loophash)")
for nm in $names; do
  m=$(median "$nm")
  awk -v n="$nm" -v m="$m" -v b="$base" 'BEGIN {printf "  %-52s %7.2f ns/msg  %5.2fx loop+hash\n", n, m, m / b}'
done
