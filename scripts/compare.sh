#!/usr/bin/env bash
# compare.sh OLD NEW: benchstat comparison of two results files. Installs the
# pinned benchstat into $(go env GOPATH)/bin if it is not on PATH.
set -euo pipefail
[ $# -eq 2 ] || { echo "usage: scripts/compare.sh OLD.txt NEW.txt" >&2; exit 1; }
for f in "$1" "$2"; do [ -r "$f" ] || { echo "compare.sh: cannot read $f" >&2; exit 1; }; done
benchstat=$(command -v benchstat || true)
if [ -z "$benchstat" ]; then
  go install golang.org/x/perf/cmd/benchstat@v0.0.0-20260908200009-22c9c6c9d4da >&2
  benchstat="$(go env GOPATH)/bin/benchstat"
fi
"$benchstat" "$1" "$2"
