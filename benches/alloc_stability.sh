#!/usr/bin/env bash
# Allocations per request of a workload across runs: how stable the figure is
# as a regression metric. Prints each run and the spread (max-min)/mean.
# usage: benches/alloc_stability.sh [RUNS] [SECONDS] [WORKLOAD] [release|debug]
set -euo pipefail
RUNS=${1:-3}
SECONDS_PER_RUN=${2:-10}
WORKLOAD=${3:-echo}
PROFILE=${4:-release}
cd "$(dirname "$0")/.."
if [ "$PROFILE" = release ]; then cargo build --release --quiet; else cargo build --quiet; fi
BIN=${CARGO_TARGET_DIR:-target}/$PROFILE/mcptop
OUT=$(mktemp -d)
trap 'rm -rf "$OUT"' EXIT
for i in $(seq "$RUNS"); do
  "$BIN" run "$WORKLOAD" -q -d "${SECONDS_PER_RUN}s" -o "$OUT/run$i.json" >/dev/null
done
python3 - "$OUT"/run*.json <<'PY'
import json, sys
rows = [json.load(open(p))["overall"] for p in sys.argv[1:]]
allocs = [r["allocs_per_request"] for r in rows]
bytes_ = [r["bytes_per_request"] for r in rows]
for i, (a, b, r) in enumerate(zip(allocs, bytes_, rows), 1):
    print(f"run {i}: {a:.2f} allocations/request, {b:.0f} bytes/request, {r['throughput_msg_per_s']:.0f} req/s")
def spread(xs):
    return 100 * (max(xs) - min(xs)) / (sum(xs) / len(xs))
print(f"spread (max-min)/mean: allocations {spread(allocs):.2f} %, bytes {spread(bytes_):.2f} %")
PY
