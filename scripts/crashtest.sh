#!/usr/bin/env bash
# crashtest.sh: for each workload, run with a journal and snapshots, kill
# the run with SIGKILL at a random moment, `lexbench resume` it, and compare
# trace, state, outcome, ticks and msgs with an uninterrupted run (and the
# resumed journal with `lexbench verify`). Shards alternate between the
# killed run and the resume. Prints `N passed, M failed`; exits 1 on any
# failure.
#
#   scripts/crashtest.sh [--kills N] [--scale F] [--sync none|snapshot|end] [--keep]
#
# --kills: total kills, spread over the workloads (default 20).
# --scale: multiplies every n (default 1: runs of a few seconds here).
set -euo pipefail
cd "$(dirname "$0")/.."
kills=20 scale=1 sync=end keep=0
while [ $# -gt 0 ]; do
  case "$1" in
    --kills) kills=$2; shift ;;
    --scale) scale=$2; shift ;;
    --sync) sync=$2; shift ;;
    --keep) keep=1 ;;
    *) echo "crashtest.sh: unknown flag $1" >&2; exit 1 ;;
  esac
  shift
done
work=$(mktemp -d)
[ "$keep" = 1 ] || trap 'rm -rf "$work"' EXIT
bin=$work/lexbench
go build -o "$bin" ./cmd/lexbench
n() { awk -v a="$1" -v s="$scale" 'BEGIN { printf "%d", a * s }'; }
cases=(
  "banking -n $(n 2e7) --snapshot-every 2000"
  "storm -n $(n 2e7) --snapshot-every 1000"
  "sync -n $(n 5e6) --snapshot-every 1000"
  "conflict -n $(n 5e6) --snapshot-every 1000"
  "oscillation -n $(n 2e6) --groups 2000 --on-oscillation damp --snapshot-every 2000"
)
keys='^(trace|state|outcome|ticks|msgs):'
passed=0 failed=0 i=0
for k in $(seq "$kills"); do
  c=${cases[$(( (k - 1) % ${#cases[@]} ))]}
  w=${c%% *}
  ref=$work/$w.ref
  if [ ! -e "$ref" ]; then # the uninterrupted run, timed
    t0=$(date +%s%N)
    # shellcheck disable=SC2086
    "$bin" $c --shards 1 --journal "$work/$w-ref.lxj" --sync "$sync" | grep -E "$keys" >"$ref"
    echo $(( ($(date +%s%N) - t0) / 1000000 )) >"$ref.ms"
    rm -rf "$work/$w-ref.lxj"*
  fi
  ms=$(cat "$ref.ms")
  delay=$(( RANDOM * 32768 + RANDOM ))
  delay=$(( 20 + delay % (ms > 40 ? ms - 20 : 20) ))
  j=$work/$w-$k.lxj s1=$(( 1 + k % 2 )) s2=$(( 2 - k % 2 ))
  # shellcheck disable=SC2086
  "$bin" $c --shards "$s1" --journal "$j" --sync "$sync" >/dev/null 2>&1 &
  pid=$!
  # the random moment counts from when the journal exists (before it there
  # is nothing to resume)
  for _ in $(seq 1000); do [ -e "$j" ] && break; sleep 0.01; done
  sleep "$(awk -v d="$delay" 'BEGIN { printf "%.3f", d / 1000 }')"
  kill -9 "$pid" 2>/dev/null || true
  wait "$pid" 2>/dev/null || true
  out=$("$bin" resume "$j" --shards "$s2" 2>&1) || true
  from=$(echo "$out" | sed -n 's/^resume: //p')
  vout=$("$bin" verify "$j" 2>/dev/null) || true # not piped into grep -q: SIGPIPE would fail it
  if diff -q <(echo "$out" | grep -E "$keys") "$ref" >/dev/null &&
     echo "$vout" | grep -q "^$(grep '^trace:' "$ref")$"; then
    passed=$((passed + 1))
    printf 'PASS %-12s kill at %5d of %5d ms, shards %d→%d, resume %s\n' "$w" "$delay" "$ms" "$s1" "$s2" "$from"
  else
    failed=$((failed + 1))
    printf 'FAIL %-12s kill at %5d of %5d ms, shards %d→%d\n%s\n' "$w" "$delay" "$ms" "$s1" "$s2" "$out"
  fi
  rm -rf "$j" "$j.run" "$j.snapshots"
done
echo "$passed passed, $failed failed"
[ "$failed" = 0 ]
