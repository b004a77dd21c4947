#!/usr/bin/env bash
# local-damp.sh: the oscillation workload with many groups, local detection
# with damp (SPEC §5.7) against global detection: ticks, damp events
# (stderr lines), wall time and peak RSS (GNU time). Global detection finds
# nothing before the driver is done and the fights then fill every tick
# (every group's messages, every tick: at 10^6 groups a run of the local
# run's ticks would take hours), so the global run is cut at the local
# run's message count with --max-msgs: both runs then deliver the same
# messages, and the global one's memory is its peak over them. The target
# is local peak RSS ≤ 1.5× global's.
#   scripts/local-damp.sh [--groups G] [-n N] [--batch B] [--shards S]
set -euo pipefail
cd "$(dirname "$0")/.."
groups=1000000 n=1e7 batch=64 shards=1
while [ $# -gt 0 ]; do
  case "$1" in
    --groups) groups=$2; shift ;;
    -n) n=$2; shift ;;
    --batch) batch=$2; shift ;;
    --shards) shards=$2; shift ;;
    *) echo "local-damp.sh: unknown flag $1" >&2; exit 1 ;;
  esac
  shift
done
[ -x /usr/bin/time ] || { echo "local-damp.sh: needs GNU time at /usr/bin/time" >&2; exit 1; }
dir=$(mktemp -d)
bin=$dir/lexbench
go build -o "$bin" ./cmd/lexbench
args="oscillation --groups $groups -n $n --batch $batch --shards $shards --on-oscillation damp"
echo "# scripts/local-damp.sh --groups $groups -n $n --batch $batch --shards $shards; $(go version) nproc=$(nproc)"
/usr/bin/time -f 'peak-rss-kb %M wall-s %e' -o "$dir/time.local" "$bin" $args --detect local >"$dir/out.local" 2>"$dir/err.local" || true # exit 2 (violated) is a result
msgs=$(sed -n 's/^msgs: //p' "$dir/out.local")
grep -E '^(outcome|ticks|msgs|dropped|oscillation):|^Benchmark' "$dir/out.local" | sed 's/^/local: /'
echo "local: damp events (stderr lines): $(grep -c ' oscillates at tick ' "$dir/err.local" || true)"
echo "local: $(grep peak-rss-kb "$dir/time.local")"
/usr/bin/time -f 'peak-rss-kb %M wall-s %e' -o "$dir/time.global" "$bin" $args --detect global --max-msgs "$msgs" >"$dir/out.global" 2>"$dir/err.global" || true # exit 4 (budget)
grep -E '^(outcome|ticks|msgs|dropped|oscillation):|^Benchmark' "$dir/out.global" | sed 's/^/global: /'
echo "global (--max-msgs $msgs): $(grep peak-rss-kb "$dir/time.global")"
l=$(sed -n 's/^peak-rss-kb \([0-9]*\).*/\1/p' "$dir/time.local")
g=$(sed -n 's/^peak-rss-kb \([0-9]*\).*/\1/p' "$dir/time.global")
awk -v l="$l" -v g="$g" 'BEGIN { printf "peak RSS local/global: %.2f (target <= 1.5)\n", l / g }'
rm -rf "$dir"
