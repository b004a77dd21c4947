#!/usr/bin/env bash
# peers.sh: lexbench (--shards 1 and 2) against every peer of peers/cmd/floor
# (loop, loophash, queue, disruptor, chan, workiva, protoactor), banking and
# storm, alternating within each round so the noisy machine hits all alike.
# Writes one benchstat-format file, results/<yyyy-mm-dd>-peers[-quick].txt,
# checks every peer's final state against lexbench's for the same n, and
# prints medians and ratios to lexbench --shards 1 at the same n.
#
#   scripts/peers.sh [--quick] [--count K]
#
# Full: n=1e8 for lexbench and the fast peers (loop, loophash, queue,
# disruptor); the slow peers (chan, workiva, protoactor: 50-1500 ns/msg)
# run at n=1e7, and lexbench runs at 1e7 too so each ratio compares the same
# n (ns/msg does not depend on n for these workloads). --count default 5.
# --quick: every run at n=1e6, --count 1 unless given.
set -euo pipefail
cd "$(dirname "$0")/.."
quick=0 count=""
while [ $# -gt 0 ]; do
  case "$1" in
    --quick) quick=1 ;;
    --count) count=$2; shift ;;
    *) echo "peers.sh: unknown flag $1" >&2; exit 1 ;;
  esac
  shift
done
fast_modes="loop loophash queue disruptor"
slow_modes="chan workiva protoactor"
if [ $quick = 1 ]; then
  n_fast=1e6 n_slow=1e6 count=${count:-1} suffix="-quick"
else
  n_fast=1e8 n_slow=1e7 count=${count:-5} suffix=""
fi
cmdline="scripts/peers.sh --count $count"
if [ $quick = 1 ]; then cmdline="scripts/peers.sh --quick --count $count"; fi

bin=$(mktemp -d)
trap 'rm -rf "$bin"' EXIT
go build -o "$bin/lexbench" ./cmd/lexbench
(cd peers && go build -o "$bin/floor" ./cmd/floor)
mkdir -p results
out="results/$(date -u +%Y-%m-%d)-peers${suffix}.txt"
k=2
while [ -e "$out" ]; do # never overwrite an earlier result
  out="results/$(date -u +%Y-%m-%d)-peers${suffix}-$k.txt"; k=$((k + 1))
done
{
  echo "# $cmdline"
  echo "# commit $(git rev-parse --short HEAD)$(git diff --quiet HEAD -- . 2>/dev/null || echo +dirty) $(go version | cut -d' ' -f3) nproc=$(nproc) $(uname -r)"
  echo "# fast peers ($fast_modes) at n=$n_fast, slow peers ($slow_modes) at n=$n_slow; lexbench at both"
  echo "# loadavg at start: $(cut -d' ' -f1-3 /proc/loadavg) (other work on the machine shows here)"
  "$bin/lexbench" banking -n 0 --shards 1 | grep -E '^(goos|goarch|cpu):'
} >"$out"

# emit FILE: the run's workload/params/state configuration lines, its check
# comments and its benchmark lines. Other configuration lines (shards:,
# trace:, applied:, …) are left out: benchstat carries a key forward to later
# results, so lexbench's would be attributed to the peers.
emit() {
  grep -E '^(workload|params|state):|^# check:|^Benchmark' "$1" >>"$out" || true
}
state_of() { grep -m1 '^state:' "$1" | awk '{print $2}'; }

declare -A ref # lexbench --shards 1 state per workload and n (first round)
mismatch=0
for i in $(seq "$count"); do
  for w in banking storm; do
    for n in $(printf '%s\n' "$n_fast" "$n_slow" | sort -u); do
      for s in 1 2; do
        "$bin/lexbench" "$w" -n "$n" --shards "$s" >"$bin/run.txt"
        emit "$bin/run.txt"
        st=$(state_of "$bin/run.txt")
        if [ -z "${ref[$w/$n]:-}" ]; then ref[$w/$n]=$st; fi
        if [ "$st" != "${ref[$w/$n]}" ]; then
          echo "# peers.sh: MISMATCH lexbench $w n=$n shards=$s state $st, shards=1 had ${ref[$w/$n]}" | tee -a "$out" >&2
          mismatch=1
        fi
      done
    done
    for m in $fast_modes $slow_modes; do
      n=$n_fast
      case " $slow_modes " in *" $m "*) n=$n_slow ;; esac
      rc=0
      "$bin/floor" -workload "$w" -mode "$m" -n "$n" >"$bin/run.txt" || rc=$?
      emit "$bin/run.txt"
      st=$(state_of "$bin/run.txt")
      det=yes
      grep -q '^# deterministic: no' "$bin/run.txt" && det=no
      if [ "$rc" = 0 ] && [ "$st" = "${ref[$w/$n]}" ] && grep -q "^# check: mode=$m .* match$" "$bin/run.txt"; then
        echo "# peers.sh: $w mode=$m n=$n state $st = lexbench's: match (deterministic: $det)" >>"$out"
      else
        echo "# peers.sh: $w mode=$m n=$n exit $rc state ${st:-none}, lexbench ${ref[$w/$n]}: MISMATCH (deterministic: $det)" | tee -a "$out" >&2
        [ "$det" = no ] || mismatch=1
      fi
    done
  done
done

echo "# loadavg at end: $(cut -d' ' -f1-3 /proc/loadavg)" >>"$out"
echo "$out"
echo
echo "medians of $count round(s), ns/msg, ratio to lexbench --shards 1 at the same workload and n:"
awk '
  /^Benchmark/ {
    v = ""
    for (i = 2; i < NF; i++) if ($(i+1) == "ns/msg") v = $i
    name = $1; w = ""; n = ""; impl = ""
    if (name ~ /^BenchmarkFloor/) {
      w = tolower(substr(name, 15, 1)) substr(name, 16); sub(/\/.*/, "", w)
      impl = name; sub(/.*mode=/, "", impl); sub(/\/.*/, "", impl)
    } else {
      w = tolower(substr(name, 10, 1)) substr(name, 11); sub(/\/.*/, "", w)
      impl = name; sub(/.*shards=/, "lexbench shards=", impl)
    }
    n = name; sub(/.*\/n=/, "", n); sub(/\/.*/, "", n)
    key = w SUBSEP n SUBSEP impl
    if (!(key in cnt)) order[++nk] = key
    vals[key, ++cnt[key]] = v
  }
  function median(key,   m, j, k, t, a) {
    m = cnt[key]
    for (j = 1; j <= m; j++) a[j] = vals[key, j] + 0
    for (j = 2; j <= m; j++) { t = a[j]; for (k = j - 1; k >= 1 && a[k] > t; k--) a[k+1] = a[k]; a[k+1] = t }
    return (m % 2) ? a[(m+1)/2] : (a[m/2] + a[m/2+1]) / 2
  }
  END {
    printf "  %-8s %-5s %-20s %10s %14s\n", "workload", "n", "impl", "ns/msg", "x lexbench s1"
    for (j = 1; j <= nk; j++) {
      split(order[j], f, SUBSEP)
      base = f[1] SUBSEP f[2] SUBSEP "lexbench shards=1"
      b = (base in cnt) ? median(base) : 0
      m = median(order[j])
      if (b > 0) printf "  %-8s %-5s %-20s %10.2f %13.2fx\n", f[1], f[2], f[3], m, m / b
      else printf "  %-8s %-5s %-20s %10.2f %14s\n", f[1], f[2], f[3], m, "-"
    }
  }' "$out"
if [ $mismatch = 1 ]; then
  echo "peers.sh: a deterministic peer or lexbench run did not match (see MISMATCH above and in $out)" >&2
  exit 2
fi
echo "every peer's final state equals lexbench's (state hash; banking's covers every balance)"
