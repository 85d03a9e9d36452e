#!/usr/bin/env bash
# What counting bytes on the wire costs (issue 14, goal 6): two builds of
# mcptop, A and B (e.g. the branch and a local build with the counting in
# src/client/wire_bytes.rs bypassed), alternated on the closed-loop
# ceilings: the shipped `echo` workload (4 sessions, 16 in flight) against
# builtin and against `mcptop serve --stdio` (each build serving its own).
# Prints every run, then per build and target the median of mcptop's CPU
# per request (`generator_cpu_us_per_request`) and of req/s.
#
# Usage: bash benches/count_cost.sh BIN_A BIN_B [ROUNDS=5] [DURATION=3s]
# Nothing is built here; build both binaries first (release).
set -euo pipefail
cd "$(dirname "$0")/.."
A=${1:?BIN_A}
B=${2:?BIN_B}
ROUNDS=${3:-5}
DURATION=${4:-3s}
WORK=$(mktemp -d "${TMPDIR:-/tmp}/mcptop-count-cost.XXXXXX")
trap 'rm -rf "$WORK"' EXIT

# one NAME BIN TARGET ROUND: one run, one line "NAME TARGET us_per_req req_per_s".
one() {
    local name=$1 bin=$2 target=$3 round=$4 t=$3
    [ "$target" = stdio ] && t="stdio:$bin serve --stdio"
    local out="$WORK/$name-$target-$round.json"
    if "$bin" run echo --target "$t" --duration "$DURATION" --warmup 1s --quiet \
        --out "$out" >/dev/null 2>&1; then
        python3 - "$out" "$name" "$target" <<'PY'
import json, sys
r = json.load(open(sys.argv[1]))
print(sys.argv[2], sys.argv[3], r.get("generator_cpu_us_per_request"), r["overall"]["throughput_msg_per_s"])
PY
    else
        echo "$name $target failed None None"
    fi
}

for round in $(seq "$ROUNDS"); do
    for target in builtin stdio; do
        # Alternate which build goes first, so a trend in the machine's load
        # falls on both.
        if [ $((round % 2)) = 1 ]; then
            one A "$A" "$target" "$round"; one B "$B" "$target" "$round"
        else
            one B "$B" "$target" "$round"; one A "$A" "$target" "$round"
        fi
    done
done | tee "$WORK/runs.txt"

python3 - "$WORK/runs.txt" <<'PY'
import statistics, sys
rows = {}
for line in open(sys.argv[1]):
    name, target, us, rate = line.split()
    if us == "None":
        continue
    rows.setdefault((target, name), []).append((float(us), float(rate)))
print(f"{'target':<8} {'build':<5} {'runs':>4} {'CPU us/req (median)':>20} {'req/s (median)':>15}")
for (target, name), v in sorted(rows.items()):
    print(f"{target:<8} {name:<5} {len(v):>4} {statistics.median(u for u, _ in v):>20.2f} {statistics.median(r for _, r in v):>15.0f}")
PY
