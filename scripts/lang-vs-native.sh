#!/usr/bin/env bash
# lang-vs-native.sh: native banking and storm against their interpreted
# programs (workloads/lxm/*.lxm), shards 1 and 2, --count K rounds
# interleaved (native and interpreted back to back, so machine noise hits
# both alike). Each run's output is the CLI's own, whose `impl: native` or
# `impl: interpreted` configuration line tells benchstat which is which:
#
#   benchstat -col impl results/<date>-lang.txt
#
# Writes results/<yyyy-mm-dd>-lang.txt (never overwriting) and prints the
# ratio interpreted/native per workload and shard count.
#
#   scripts/lang-vs-native.sh [--count K] [-n N]
set -euo pipefail
cd "$(dirname "$0")/.."
count=5 n=1e8
while [ $# -gt 0 ]; do
  case "$1" in
    --count) count=$2; shift ;;
    -n) n=$2; shift ;;
    *) echo "lang-vs-native.sh: unknown flag $1" >&2; exit 1 ;;
  esac
  shift
done
tmpbin=$(mktemp -d)
trap 'rm -rf "$tmpbin"' EXIT
bin=$tmpbin/lexbench
go build -o "$bin" ./cmd/lexbench
mkdir -p results
out="results/$(date -u +%Y-%m-%d)-lang.txt"
k=2
while [ -e "$out" ]; do
  out="results/$(date -u +%Y-%m-%d)-lang-$k.txt"; k=$((k + 1))
done
{
  echo "# scripts/lang-vs-native.sh --count $count -n $n"
  echo "# $(go version) nproc=$(nproc) $(uname -r) commit $(git rev-parse --short HEAD)"
} >"$out"
for i in $(seq "$count"); do
  for w in banking storm; do
    for s in 1 2; do
      "$bin" "$w" -n "$n" --shards "$s" >>"$out"
      "$bin" run "workloads/lxm/$w.lxm" -n "$n" --shards "$s" >>"$out"
    done
  done
done
# ratio of median ns/msg, interpreted over native (medians: a shared
# machine's noise comes in bursts)
awk '/^impl: / { impl = $2 } /^Benchmark/ { for (f = 1; f <= NF; f++) if ($(f) == "ns/msg") print $1, impl, $(f-1) }' "$out" |
  sort -k1,1 -k2,2 -k3,3g |
  awk '{ v[$1 " " $2, ++n[$1 " " $2]] = $3; keys[$1] = 1 }
    function med(k) { c = n[k]; return c % 2 ? v[k, (c + 1) / 2] : (v[k, c / 2] + v[k, c / 2 + 1]) / 2 }
    END { for (k in keys) if (n[k " native"] && n[k " interpreted"]) {
            a = med(k " native"); b = med(k " interpreted")
            printf "# %s native %.2f ns/msg, interpreted %.2f ns/msg (medians of %d), ratio %.2fx\n", k, a, b, n[k " interpreted"], b / a } }' |
  sort | tee -a "$out"
echo "$out"
