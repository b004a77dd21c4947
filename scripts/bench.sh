#!/usr/bin/env bash
# bench.sh: every workload at its 1e8 configuration (--quick: 1e6), shards 1
# and 2, without and with --journal, --count K rounds interleaved
# (round-robin over workloads, shard counts and journal, so machine noise
# hits all alike). Writes one benchstat-format file to
# results/<yyyy-mm-dd>-<git short sha>.txt and prints its path.
#
#   scripts/bench.sh [--count K] [--quick] [--workloads "banking storm"] [--extra "--no-oscillation-detect"]
#                    [--no-journal] [--journal-dir DIR]
#
# A journaled run writes its journal (default --sync end: its time includes
# the final msync+fsync) into a temp dir (--journal-dir: one on another
# disk), which is deleted after each run; its benchmark name gets the key
# /journal=on, so benchstat shows it as its own row next to the run without.
# At 1e8 the journals are 3.2 GB (banking, storm), 9.6 GB (sync, conflict)
# and 21 GB (oscillation), one at a time, and take most of the sweep's time.
set -euo pipefail
cd "$(dirname "$0")/.."
count=10 n=1e8 workloads="banking storm sync conflict oscillation" extra="" tag="" journals="off on" jdir=""
while [ $# -gt 0 ]; do
  case "$1" in
    --count) count=$2; shift ;;
    --quick) n=1e6 ;;
    --workloads) workloads=$2; shift ;;
    --extra) extra=$2; tag="-$(echo "$2" | tr -cd 'a-z-')"; shift ;;
    --no-journal) journals="off" ;;
    --journal-dir) jdir=$2; shift ;;
    *) echo "bench.sh: unknown flag $1" >&2; exit 1 ;;
  esac
  shift
done
tmp=$(mktemp -d)
jdir=$(mktemp -d "${jdir:-${TMPDIR:-/tmp}}/lexbench-journal.XXXX")
trap 'rm -rf "$tmp" "$jdir"' EXIT
bin=$tmp/lexbench
go build -o "$bin" ./cmd/lexbench
mkdir -p results
out="results/$(date -u +%Y-%m-%d)-$(git rev-parse --short HEAD)${tag}.txt"
k=2
while [ -e "$out" ]; do # never overwrite an earlier result
  out="results/$(date -u +%Y-%m-%d)-$(git rev-parse --short HEAD)${tag}-$k.txt"; k=$((k + 1))
done
{
  echo "# scripts/bench.sh --count $count -n $n ${extra:+--extra \"$extra\"} journal: $journals${jdir:+ (in $(df --output=source "$jdir" | tail -1))}"
  # Build facts are comments (SPEC §6): a commit: configuration line would
  # put two results files in different benchstat tables, never side by side.
  echo "# commit: $(git rev-parse --short HEAD)$(git diff --quiet HEAD 2>/dev/null || echo +dirty)"
  echo "# $(go version) nproc=$(nproc) $(uname -r)"
} >"$out"
# append: add $tmp/run.txt to the results file. benchstat carries a
# configuration key forward until it is set again, so a key an earlier run
# printed and this one does not (another workload's figures, oscillation:)
# is first cleared with a blank value; otherwise the first round's runs and
# the later ones would land in different benchstat tables.
: >"$tmp/keys"
append() {
  grep -oE '^[a-z][A-Za-z0-9_.-]*:' "$tmp/run.txt" | sort -u >"$tmp/now" || true
  sort -u "$tmp/keys" | comm -23 - "$tmp/now" >>"$out"
  sort -u "$tmp/keys" "$tmp/now" -o "$tmp/keys"
  cat "$tmp/run.txt" >>"$out"
}
for i in $(seq "$count"); do
  for w in $workloads; do
    for s in 1 2; do
      for j in $journals; do
        if [ "$j" = off ]; then
          # shellcheck disable=SC2086
          /usr/bin/env time -f "# maxrss_kb=%M workload=$w shards=$s" "$bin" "$w" -n "$n" --shards "$s" $extra >"$tmp/run.txt" 2>>"$tmp/rss" || true
        else
          # shellcheck disable=SC2086
          { /usr/bin/env time -f "# maxrss_kb=%M workload=$w shards=$s journal=on" "$bin" "$w" -n "$n" --shards "$s" $extra --journal "$jdir/j.lxj" 2>>"$tmp/rss" || true; } |
            sed -E 's#^(Benchmark[^[:space:]]*)#\1/journal=on#' >"$tmp/run.txt"
          rm -f "$jdir/j.lxj"
        fi
        append
      done
    done
  done
done
grep '^# maxrss' "$tmp/rss" >>"$out" || true
echo "$out"
