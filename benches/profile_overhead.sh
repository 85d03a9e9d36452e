#!/usr/bin/env bash
# What measuring costs: echo throughput on the builtin target (release build)
#   1. CPU profiler on at 99 Hz (`mcptop profile`) vs off (`mcptop run`);  goal <= 5 %
#   2. memory sampling + allocation counting on vs off (`--no-memory-stats`); goal <= 3 %
# Runs alternate so drift hits both sides; the median of ROUNDS runs is compared.
# usage: benches/profile_overhead.sh [SECONDS] [ROUNDS] [WORKLOAD]
set -euo pipefail
SECONDS_PER_RUN=${1:-10}
ROUNDS=${2:-3}
WORKLOAD=${3:-echo}
cd "$(dirname "$0")/.."
cargo build --release --quiet
BIN=${CARGO_TARGET_DIR:-target}/release/mcptop
OUT=$(mktemp -d)
trap 'rm -rf "$OUT"' EXIT

rate() { python3 -c 'import json,sys; print(json.load(open(sys.argv[1]))["achieved_rate"])' "$1"; }
median() { python3 -c 'import sys,statistics; print(statistics.median(float(x) for x in sys.argv[1:]))' "$@"; }

declare -a plain profiled nostats
for i in $(seq "$ROUNDS"); do
  "$BIN" run "$WORKLOAD" -q -d "${SECONDS_PER_RUN}s" -o "$OUT/plain$i.json" >/dev/null
  plain+=("$(rate "$OUT/plain$i.json")")
  "$BIN" profile "$WORKLOAD" -q -F 99 --duration "$SECONDS_PER_RUN" --svg "$OUT/p$i.svg" \
    --out "$OUT/prof$i.json" >/dev/null
  profiled+=("$(rate "$OUT/prof$i.json")")
  "$BIN" run "$WORKLOAD" -q -d "${SECONDS_PER_RUN}s" --no-memory-stats -o "$OUT/nostats$i.json" >/dev/null
  nostats+=("$(rate "$OUT/nostats$i.json")")
  echo "round $i: stats on ${plain[-1]}/s, profiler on ${profiled[-1]}/s, stats off ${nostats[-1]}/s"
done
P=$(median "${plain[@]}"); F=$(median "${profiled[@]}"); N=$(median "${nostats[@]}")
python3 - "$P" "$F" "$N" <<'PY'
import sys
plain, prof, nostats = map(float, sys.argv[1:])
print(f"median req/s: stats off {nostats:.0f}, stats on {plain:.0f}, stats on + profiler 99 Hz {prof:.0f}")
print(f"profiler cost:          {100 * (plain - prof) / plain:+.1f} % (goal <= 5 %)")
print(f"memory/allocator stats: {100 * (nostats - plain) / nostats:+.1f} % (goal <= 3 %)")
PY
