#!/usr/bin/env bash
# verify-speed.sh: how fast a journal is checked — `lexbench verify` reads
# and checks every block exactly as `lexbench resume` does before it
# continues a run — against dd reading the same file, interleaved.
#
#   scripts/verify-speed.sh [--workload banking] [-n 1e8] [--count 3] [--dir DIR] [--cold]
#
# Writes one journal (banking at 1e8: 3.2 GB) into DIR (default: a temporary
# directory under .), then each round reads it with dd and with lexbench
# verify. With --cold (root only) the page cache is dropped before each
# read, so both read from the disk. Prints Benchmark lines (MB/s; benchstat
# reads them) and the median ratio verify/dd. Removes the journal at the end.
set -euo pipefail
cd "$(dirname "$0")/.."
workload=banking n=1e8 count=3 dir="" cold=0
while [ $# -gt 0 ]; do
  case "$1" in
    --workload) workload=$2; shift ;;
    -n) n=$2; shift ;;
    --count) count=$2; shift ;;
    --dir) dir=$2; shift ;;
    --cold) cold=1 ;;
    *) echo "verify-speed.sh: unknown flag $1" >&2; exit 1 ;;
  esac
  shift
done
work=$(mktemp -d ${dir:+-p "$dir"} ./.verify-speed.XXXX 2>/dev/null || mktemp -d -p "${dir:-.}")
trap 'rm -rf "$work"' EXIT
bin=$work/lexbench
go build -o "$bin" ./cmd/lexbench
j=$work/j.lxj
"$bin" "$workload" -n "$n" --shards 1 --journal "$j" | grep -E '^(trace|msgs):' >"$work/run.txt"
bytes=$(stat -c %s "$j")
echo "# scripts/verify-speed.sh --workload $workload -n $n --count $count$([ $cold = 1 ] && echo ' --cold')"
echo "# $(git rev-parse --short HEAD)$(git diff --quiet HEAD 2>/dev/null || echo +dirty) $(go version | cut -d' ' -f3) nproc=$(nproc) journal $bytes bytes on $(df --output=source "$work" | tail -1)"
echo "# $(tr '\n' ' ' <"$work/run.txt")"
drop() { if [ "$cold" = 1 ]; then sync; echo 3 >/proc/sys/vm/drop_caches; fi; }
name=$(echo "$workload" | sed 's/./\U&/')
: >"$work/ratios"
for i in $(seq "$count"); do
  drop
  t0=$(date +%s%N)
  dd if="$j" of=/dev/null bs=1M status=none
  t1=$(date +%s%N)
  drop
  t2=$(date +%s%N)
  "$bin" verify "$j" >"$work/verify.txt"
  t3=$(date +%s%N)
  grep -q "^$(grep '^trace:' "$work/run.txt")$" "$work/verify.txt" || { echo "verify printed another trace" >&2; exit 1; }
  dd_ns=$((t1 - t0)) v_ns=$((t3 - t2))
  awk -v b="$bytes" -v d="$dd_ns" -v v="$v_ns" -v w="$name" -v n="$n" 'BEGIN {
    printf "BenchmarkReadDD/%s/n=%s \t 1 \t %d ns/op \t %.1f MB/s\n", w, n, d, b / d * 1e3
    printf "BenchmarkVerify/%s/n=%s \t 1 \t %d ns/op \t %.1f MB/s\n", w, n, v, b / v * 1e3 }'
  awk -v d="$dd_ns" -v v="$v_ns" 'BEGIN { print v / d }' >>"$work/ratios"
done
sort -g "$work/ratios" | awk '{a[NR] = $1} END {printf "# median verify time / dd time: %.2f\n", (NR % 2) ? a[(NR+1)/2] : (a[NR/2] + a[NR/2+1]) / 2}'
