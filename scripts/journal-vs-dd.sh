#!/usr/bin/env bash
# journal-vs-dd.sh: lexbench with --journal against dd writing the same byte
# count with conv=fdatasync, interleaved, in DIR (default: a temp dir on the
# project's disk). Prints wall seconds and peak RSS of each; removes the files.
#   scripts/journal-vs-dd.sh [--count K] [-n N] [--shards S] [--dir DIR]
set -euo pipefail
cd "$(dirname "$0")/.."
count=3 n=1e8 shards=1 dir=""
while [ $# -gt 0 ]; do
  case "$1" in
    --count) count=$2; shift ;;
    -n) n=$2; shift ;;
    --shards) shards=$2; shift ;;
    --dir) dir=$2; shift ;;
    *) echo "journal-vs-dd.sh: unknown flag $1" >&2; exit 1 ;;
  esac
  shift
done
made=""
[ -n "$dir" ] || { dir=$(mktemp -d ./.journal-bench.XXXX); made=$dir; }
tmpbin=$(mktemp -d)
trap 'rm -rf "$tmpbin" ${made:+"$made"}; rm -f "$dir/j.lxj" "$dir/j.lxj.run" "$dir/dd.out"' EXIT
bin=$tmpbin/lexbench
go build -o "$bin" ./cmd/lexbench
echo "# scripts/journal-vs-dd.sh --count $count -n $n --shards $shards; $(go version) nproc=$(nproc); dir $dir on $(df --output=source "$dir" | tail -1)"
for i in $(seq "$count"); do
  /usr/bin/time -f "# journal wall_s=%e maxrss_kb=%M" "$bin" banking -n "$n" --shards "$shards" --journal "$dir/j.lxj" 2>&1 | grep -E '^Benchmark|^# journal'
  bytes=$(stat -c %s "$dir/j.lxj")
  rm -f "$dir/j.lxj" "$dir/j.lxj.run"
  /usr/bin/time -f "# dd wall_s=%e maxrss_kb=%M bytes=$bytes" dd if=/dev/zero of="$dir/dd.out" bs=1M count=$((bytes / 1048576)) conv=fdatasync 2>&1 | grep '^# dd'
  rm -f "$dir/dd.out"
done
rmdir "$dir" 2>/dev/null || true
