#!/usr/bin/env bash
# snapshot-bench.sh: the cost of snapshots and of a resume (issue 7).
#  1. banking -n N --journal F, with and without --snapshot-every E,
#     interleaved, --count K rounds (benchstat format; the snapshot runs'
#     names get /snapshots=E).
#  2. A run with snapshots killed with SIGKILL once its journal holds 90%
#     of an uninterrupted run's journal (90% of the work), then
#     `lexbench resume` timed; its output says from which tick it resumed
#     and how many ticks it re-executed.
# Writes results/<date>-snapshots.txt and prints its path.
#
#   scripts/snapshot-bench.sh [--count K] [-n N] [--every E] [--shards S] [--dir DIR]
set -euo pipefail
cd "$(dirname "$0")/.."
count=5 n=1e8 every=10000 shards=1 dir=""
while [ $# -gt 0 ]; do
  case "$1" in
    --count) count=$2; shift ;;
    -n) n=$2; shift ;;
    --every) every=$2; shift ;;
    --shards) shards=$2; shift ;;
    --dir) dir=$2; shift ;;
    *) echo "snapshot-bench.sh: unknown flag $1" >&2; exit 1 ;;
  esac
  shift
done
work=$(mktemp -d ${dir:+-p "$dir"})
trap 'rm -rf "$work"' EXIT
bin=$work/lexbench
go build -o "$bin" ./cmd/lexbench
mkdir -p results
out="results/$(date -u +%Y-%m-%d)-snapshots.txt"
k=2
while [ -e "$out" ]; do out="results/$(date -u +%Y-%m-%d)-snapshots-$k.txt"; k=$((k + 1)); done
j=$work/j.lxj
{
  echo "# scripts/snapshot-bench.sh --count $count -n $n --every $every --shards $shards"
  echo "# commit: $(git rev-parse --short HEAD)$(git diff --quiet || echo +dirty) $(go version) nproc=$(nproc) load: $(cut -d' ' -f1-3 /proc/loadavg)"
} >"$out"
ms=0
for i in $(seq "$count"); do
  for snap in no yes; do
    rm -rf "$j" "$j.run" "$j.snapshots"
    t0=$(date +%s%N)
    if [ $snap = yes ]; then
      "$bin" banking -n "$n" --shards "$shards" --journal "$j" --snapshot-every "$every" |
        sed "s|^\(BenchmarkBanking/[^ \t]*\)|\1/snapshots=$every|" >>"$out"
    else
      "$bin" banking -n "$n" --shards "$shards" --journal "$j" >>"$out"
      ms=$(( ($(date +%s%N) - t0) / 1000000 ))
      size=$(stat -c %s "$j")
    fi
  done
done
rm -rf "$j" "$j.run" "$j.snapshots"
at=$(( size / 10 * 9 ))
t0=$(date +%s%N)
"$bin" banking -n "$n" --shards "$shards" --journal "$j" --snapshot-every "$every" >/dev/null 2>&1 &
pid=$!
# the file grows in 64 MiB steps ahead of the data: wait for 90% plus a step
while [ "$(stat -c %s "$j" 2>/dev/null || echo 0)" -lt $(( at + (64 << 20) )) ] && kill -0 "$pid" 2>/dev/null; do
  sleep 0.01
done
kill -9 "$pid" 2>/dev/null || true
echo "# killed after $(( ($(date +%s%N) - t0) / 1000000 )) ms, journal file at $(stat -c %s "$j") of $size bytes (an uninterrupted run: ${ms} ms)" >>"$out"
wait "$pid" 2>/dev/null || true
echo "# snapshots at the kill: $(ls "$j.snapshots" | tr '\n' ' ')" >>"$out"
t0=$(date +%s%N)
"$bin" resume "$j" --shards "$shards" | grep -E '^(resume|trace|state|outcome|ticks|msgs)' | sed 's/^/# /' >>"$out"
echo "# resume wall time: $(( ($(date +%s%N) - t0) / 1000000 )) ms" >>"$out"
echo "# load at end: $(cut -d' ' -f1-3 /proc/loadavg)" >>"$out"
echo "$out"
