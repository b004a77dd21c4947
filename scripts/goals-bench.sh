#!/usr/bin/env bash
# goals-bench.sh: the cost of goal-directed programs (docs/language.md,
# Performance), --count K rounds interleaved, shards 1, journal off:
#
#   literal   workloads/lxm/paper/banking.lxm: the paper's banking written
#             literally, one transfer per strategy message (n ticks of one
#             message); reported as ns per tick (target ≤ 100)
#   batched   workloads/lxm/paper/banking_batched.lxm (a strategy moves a
#             batch) against the handler-style workloads/lxm/banking.lxm,
#             same n: ratio of run times (target ≤ 1.5×)
#   floor     the engine alone, one message a tick (go test ./lang -bench
#             TickFloor), with and without a TickEnder, and the literal
#             banking through the same harness (-bench TickLiteralBanking)
#
# Writes results/<yyyy-mm-dd>-goals.txt (never overwriting) and prints the
# medians.
#
#   scripts/goals-bench.sh [--count K] [-n N]
set -euo pipefail
cd "$(dirname "$0")/.."
count=5 n=1e8
while [ $# -gt 0 ]; do
  case "$1" in
    --count) count=$2; shift ;;
    -n) n=$2; shift ;;
    *) echo "goals-bench.sh: unknown flag $1" >&2; exit 1 ;;
  esac
  shift
done
bin=$(mktemp -d)/lexbench
go build -o "$bin" ./cmd/lexbench
mkdir -p results
out="results/$(date -u +%Y-%m-%d)-goals.txt"
k=2
while [ -e "$out" ]; do
  out="results/$(date -u +%Y-%m-%d)-goals-$k.txt"; k=$((k + 1))
done
{
  echo "# scripts/goals-bench.sh --count $count -n $n"
  echo "# $(go version) nproc=$(nproc) $(uname -r) commit $(git rev-parse --short HEAD) load $(cut -d' ' -f1-3 /proc/loadavg)"
} >"$out"
ticks=$(awk -v n="$n" 'BEGIN { printf "%d", n }')
for i in $(seq "$count"); do
  echo "impl: literal" >>"$out"
  "$bin" run workloads/lxm/paper/banking.lxm -n "$n" --shards 1 >>"$out"
  echo "impl: batched" >>"$out"
  "$bin" run workloads/lxm/paper/banking_batched.lxm -n "$n" --shards 1 >>"$out"
  echo "impl: handlers" >>"$out"
  "$bin" run workloads/lxm/banking.lxm -n "$n" --shards 1 >>"$out"
done
go test ./lang -run '^$' -bench 'Tick' -benchtime "${ticks}x" -count "$count" >>"$out"
# medians: ns per tick of the literal banking, run time of batched over
# handler-style, and the harness's ns/tick
awk '
  /^impl: / { impl = $2 }
  /^ticks: / { t = $2 }
  /^Benchmark/ && !/^BenchmarkTick/ && impl != "" { ns = $3; v[impl, ++c[impl]] = ns; tk[impl, c[impl]] = t }
  /^BenchmarkTick/ { for (f = 1; f <= NF; f++) if ($(f) == "ns/tick") { split($1, a, "-"); h[a[1], ++hc[a[1]]] = $(f-1); hs[a[1]] = 1 } }
  function sort(arr, key, n,   i, j, x) { for (i = 1; i <= n; i++) s[i] = arr[key, i]; for (i = 1; i <= n; i++) for (j = i + 1; j <= n; j++) if (s[j] + 0 < s[i] + 0) { x = s[i]; s[i] = s[j]; s[j] = x } }
  function med(arr, key, n) { sort(arr, key, n); return n % 2 ? s[(n + 1) / 2] : (s[n / 2] + s[n / 2 + 1]) / 2 }
  END {
    lit = med(v, "literal", c["literal"]); printf "# literal banking: %.1f ns per tick (median of %d, %d ticks)\n", lit / tk["literal", 1], c["literal"], tk["literal", 1]
    b = med(v, "batched", c["batched"]); hd = med(v, "handlers", c["handlers"])
    printf "# batched %.3f s, handler-style %.3f s: ratio %.2fx\n", b / 1e9, hd / 1e9, b / hd
    for (k in hs) printf "# %s: %.1f ns/tick (median of %d)\n", k, med(h, k, hc[k]), hc[k]
  }' "$out" | tee -a "$out"
echo "$out"
