#!/usr/bin/env bash
# Does mcptop stay small over a long run? An open-loop echo load on the builtin
# target (release build) for DURATION; mcptop's RSS (VmRSS from /proc) every
# STEP seconds, then the least-squares slope and how far RSS moved.
#   flat: the fitted change over the run, and every reading, within ±5 % of the mean.
# usage: benches/soak_rss.sh [DURATION_S=600] [RATE=20000] [STEP_S=30]
set -euo pipefail
DURATION=${1:-600}
RATE=${2:-20000}
STEP=${3:-30}
cd "$(dirname "$0")/.."
[ -n "${NO_BUILD:-}" ] || nice -n 10 cargo build --release --quiet
BIN=$(realpath "${MCPTOP_BIN:-${CARGO_TARGET_DIR:-target}/release/mcptop}")
OUT=$(mktemp -d)
PID=""
cleanup() { [ -n "$PID" ] && kill "$PID" 2>/dev/null; rm -rf "$OUT"; }
trap cleanup EXIT

"$BIN" run echo-open --rate "$RATE" -d "${DURATION}s" -q -o "$OUT/soak.json" >"$OUT/run.log" 2>&1 &
PID=$!
echo "mcptop run echo-open --rate $RATE -d ${DURATION}s (pid $PID); RSS every ${STEP}s"
printf '%8s %10s\n' "t s" "RSS MiB" | tee "$OUT/rss.txt"
# Warm-up (1 s) first; then one reading per step, bounded by the duration.
sleep 2
for i in $(seq 0 $((DURATION / STEP))); do
  kb=$(awk '/^VmRSS:/ {print $2}' "/proc/$PID/status" 2>/dev/null || true)
  [ -z "$kb" ] && break
  printf '%8d %10.1f\n' $((i * STEP)) "$(echo "$kb / 1024" | bc -l)" | tee -a "$OUT/rss.txt"
  [ "$i" -lt $((DURATION / STEP)) ] && sleep "$STEP"
done
wait "$PID" || true
PID=""
python3 - "$OUT/rss.txt" "$OUT/soak.json" <<'PY'
import json, sys
rows = [tuple(map(float, l.split())) for l in open(sys.argv[1]).read().splitlines()[1:] if l.strip()]
if len(rows) < 3:
    sys.exit("too few readings")
t = [r[0] for r in rows]; y = [r[1] for r in rows]
n = len(rows); mt = sum(t) / n; my = sum(y) / n
slope = sum((a - mt) * (b - my) for a, b in zip(t, y)) / sum((a - mt) ** 2 for a in t)
span = t[-1] - t[0]
fitted = slope * span
worst = max(abs(v - my) for v in y)
print(f"readings {n} over {span:.0f} s; mean RSS {my:.1f} MiB")
print(f"slope {slope * 60:+.3f} MiB/min; fitted change over the run {fitted:+.1f} MiB "
      f"({100 * fitted / my:+.2f} % of the mean); furthest reading {100 * worst / my:.2f} % from the mean")
flat = abs(fitted) <= 0.05 * my and worst <= 0.05 * my
try:
    m = json.load(open(sys.argv[2]))
    print(f"achieved {m['achieved_rate']:.0f} req/s over {m['duration_s']:.0f} s, "
          f"{len(m['intervals'])} intervals in the result file")
except (OSError, KeyError, ValueError) as e:
    print(f"(no result file: {e})")
print("flat within ±5 %" if flat else "NOT flat within ±5 %")
PY
