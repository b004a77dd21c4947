#!/usr/bin/env bash
# goals-bench.sh: issue 16's three performance numbers (docs/language.md,
# Performance), --count K rounds interleaved, journal off:
#
#   literal   workloads/lxm/paper/banking.lxm at -n N (1e8), shards 1: the
#             paper's banking written literally, one transfer per strategy
#             message, so N ticks of one message; ns per tick (target ≤ 100)
#   batched   workloads/lxm/paper/banking_batched.lxm (a strategy moves a
#             batch) against the handler-style workloads/lxm/banking.lxm,
#             same N, shards 1: ratio of run times (target ≤ 1.5×)
#   programs  the five programs without goals (workloads/lxm/{banking,
#             storm,sync,conflict,oscillation}.lxm) against their native
#             workloads at -n R (1e8), shards LIST ("1 2"): ratio of
#             ns/msg, interpreted over native (BENCHMARKS.md's table; goals
#             must cost them nothing)
#
# and, for reading the literal number, the engine alone at one message a
# tick (go test ./lang -bench Tick: TickFloor, TickFloorEnder, and the
# literal banking through the same harness), with CPU time per tick too.
#
# Writes results/<yyyy-mm-dd>-goals.txt (never overwriting) and prints the
# medians.
#
#   scripts/goals-bench.sh [--count K] [-n N] [--ratio-n R] [--shards LIST]
#   scripts/goals-bench.sh --summarize FILE    (the medians of a results file again)
#
# Each run is preceded by a `variant:` line (literal, batched, handlers,
# native, lxm): a configuration key of its own, since lexbench prints its
# own `impl:` line (native or interpreted) after it.
set -euo pipefail
cd "$(dirname "$0")/.."
count=5 n=1e8 rn=1e8 shards="1 2"
summarize=""
while [ $# -gt 0 ]; do
  case "$1" in
    --summarize) summarize=$2; shift ;;
    --count) count=$2; shift ;;
    -n) n=$2; shift ;;
    --ratio-n) rn=$2; shift ;;
    --shards) shards=$2; shift ;;
    *) echo "goals-bench.sh: unknown flag $1" >&2; exit 1 ;;
  esac
  shift
done
if [ -n "$summarize" ]; then
  out=$summarize
else
bin=$(mktemp -d)/lexbench
go build -o "$bin" ./cmd/lexbench
mkdir -p results
out="results/$(date -u +%Y-%m-%d)-goals.txt"
k=2
while [ -e "$out" ]; do
  out="results/$(date -u +%Y-%m-%d)-goals-$k.txt"; k=$((k + 1))
done
{
  echo "# scripts/goals-bench.sh --count $count -n $n --ratio-n $rn --shards \"$shards\""
  echo "# $(go version) nproc=$(nproc) $(uname -r) commit $(git rev-parse --short HEAD) load $(cut -d' ' -f1-3 /proc/loadavg)"
} >"$out"
ticks=$(awk -v n="$n" 'BEGIN { printf "%d", n }')
for i in $(seq "$count"); do
  echo "variant: literal" >>"$out"
  "$bin" run workloads/lxm/paper/banking.lxm -n "$n" --shards 1 >>"$out"
  echo "variant: batched" >>"$out"
  "$bin" run workloads/lxm/paper/banking_batched.lxm -n "$n" --shards 1 >>"$out"
  echo "variant: handlers" >>"$out"
  "$bin" run workloads/lxm/banking.lxm -n "$n" --shards 1 >>"$out"
  for w in banking storm sync conflict oscillation; do
    for s in $shards; do
      echo "variant: native" >>"$out"
      "$bin" "$w" -n "$rn" --shards "$s" >>"$out"
      echo "variant: lxm" >>"$out"
      "$bin" run "workloads/lxm/$w.lxm" -n "$rn" --shards "$s" >>"$out"
    done
  done
done
echo "# load after the runs $(cut -d' ' -f1-3 /proc/loadavg)" >>"$out"
go test ./lang -run '^$' -bench 'Tick' -benchtime "$(awk -v t="$ticks" 'BEGIN { printf "%d", (t < 2e7 ? t : 2e7) }')x" -count "$count" >>"$out"
fi
# medians (a shared machine's noise comes in bursts)
awk '
  function sort(arr, key, n,   i, j, x) { for (i = 1; i <= n; i++) s[i] = arr[key, i]; for (i = 1; i <= n; i++) for (j = i + 1; j <= n; j++) if (s[j] + 0 < s[i] + 0) { x = s[i]; s[i] = s[j]; s[j] = x } }
  function med(arr, key, n) { sort(arr, key, n); return n % 2 ? s[(n + 1) / 2] : (s[n / 2] + s[n / 2 + 1]) / 2 }
  /^variant: / { impl = $2; next }
  /^ticks: / { t = $2 }
  /^Benchmark/ && !/^BenchmarkTick/ && impl != "" {
    for (f = 1; f <= NF; f++) { if ($(f) == "ns/op") ns = $(f-1); if ($(f) == "ns/msg") nm = $(f-1) }
    if (impl == "native" || impl == "lxm") { split($1, a, "/"); key = a[1] "/" a[3] " " impl; r[key, ++rc[key]] = nm; rk[a[1] "/" a[3]] = 1 }
    else { v[impl, ++c[impl]] = ns; tk[impl] = t }
    impl = ""
  }
  /^BenchmarkTick/ { for (f = 1; f <= NF; f++) if ($(f) == "ns/tick" || $(f) == "cpu-ns/tick") { split($1, a, "-"); h[a[1] " " $(f), ++hc[a[1] " " $(f)]] = $(f-1); hs[a[1] " " $(f)] = 1 } }
  END {
    lit = med(v, "literal", c["literal"])
    printf "# literal banking: %.1f ns per tick (median of %d runs of %d ticks; target <= 100)\n", lit / tk["literal"], c["literal"], tk["literal"]
    b = med(v, "batched", c["batched"]); hd = med(v, "handlers", c["handlers"])
    printf "# batched %.3f s, handler-style %.3f s: ratio %.2fx (target <= 1.5)\n", b / 1e9, hd / 1e9, b / hd
    for (k in rk) {
      nv = med(r, k " native", rc[k " native"]); l = med(r, k " lxm", rc[k " lxm"])
      printf "# %s: native %.2f ns/msg, lxm %.2f ns/msg, ratio %.2fx\n", k, nv, l, l / nv | "sort"
    }
    close("sort")
    for (k in hs) printf "# %s: %.1f (median of %d)\n", k, med(h, k, hc[k]), hc[k] | "sort"
  }' "$out" | tee -a "$out"
echo "$out"
