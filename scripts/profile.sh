#!/usr/bin/env bash
# profile.sh WORKLOAD [lexbench flags…]: CPU and allocation profiles of one
# run via --profile, and `go tool pprof -top` summaries of both.
#   scripts/profile.sh banking -n 1e8 --shards 1
set -euo pipefail
cd "$(dirname "$0")/.."
[ $# -ge 1 ] || { echo "usage: scripts/profile.sh WORKLOAD [flags]" >&2; exit 1; }
dir=$(mktemp -d)
go build -o "$dir/lexbench" ./cmd/lexbench
"$dir/lexbench" "$@" --profile cpu --profile-dir "$dir" | grep -E '^(trace|state|outcome|Benchmark)'
"$dir/lexbench" "$@" --profile allocs --profile-dir "$dir" >/dev/null
echo "== CPU ($dir/cpu.pprof)"
go tool pprof -top -nodecount=25 "$dir/lexbench" "$dir/cpu.pprof" 2>/dev/null | sed -n '1,35p'
echo "== allocations ($dir/mem.pprof)"
go tool pprof -top -sample_index=alloc_space -nodecount=15 "$dir/lexbench" "$dir/mem.pprof" 2>/dev/null | sed -n '1,25p'
