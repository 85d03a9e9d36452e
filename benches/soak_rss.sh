#!/usr/bin/env bash
# Does mcptop stay small over a long run? An open-loop echo load on the builtin
# target (release build) for DURATION; mcptop's RSS (VmRSS from /proc) and its
# allocator's live bytes (jemalloc `allocated`, from the run's own --prometheus
# endpoint on loopback) every STEP seconds, then the least-squares slope of each
# and how far RSS moved: RSS growing with `allocated` flat is the allocator's
# pages (dirty, fragmented), not live memory.
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

PORT=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')
"$BIN" run echo-open --rate "$RATE" -d "${DURATION}s" -q -o "$OUT/soak.json" \
  --prometheus "127.0.0.1:$PORT" >"$OUT/run.log" 2>&1 &
PID=$!
echo "mcptop run echo-open --rate $RATE -d ${DURATION}s (pid $PID); RSS and jemalloc every ${STEP}s"
printf '%8s %10s %14s\n' "t s" "RSS MiB" "allocated MiB" | tee "$OUT/rss.txt"
# jemalloc's live bytes as the run's /metrics says them ("-" when unreadable).
allocated() {
  python3 - "$PORT" <<'PY' 2>/dev/null || echo "-"
import sys, urllib.request
text = urllib.request.urlopen(f"http://127.0.0.1:{sys.argv[1]}/metrics", timeout=5).read().decode()
line = next(l for l in text.splitlines() if l.startswith("mcptop_allocator_bytes") and 'kind="allocated"' in l)
print(f"{float(line.split()[-1]) / 2**20:.2f}")
PY
}
# Warm-up (1 s) first; then one reading per step, bounded by the duration. The time
# column is the time read (a step also spends the readings' own time, seconds on a busy box).
sleep 2
T0=$(date +%s.%N)
for i in $(seq 0 $((DURATION / STEP))); do
  kb=$(awk '/^VmRSS:/ {print $2}' "/proc/$PID/status" 2>/dev/null || true)
  [ -z "$kb" ] && break
  printf '%8.0f %10.1f %14s\n' "$(echo "$(date +%s.%N) - $T0" | bc -l)" "$(echo "$kb / 1024" | bc -l)" "$(allocated)" \
    | tee -a "$OUT/rss.txt"
  [ "$i" -lt $((DURATION / STEP)) ] && sleep "$STEP"
done
wait "$PID" || true
PID=""
python3 - "$OUT/rss.txt" "$OUT/soak.json" <<'PY'
import json, sys
lines = [l.split() for l in open(sys.argv[1]).read().splitlines()[1:] if l.strip()]
rows = [(float(l[0]), float(l[1])) for l in lines]
heap = [(float(l[0]), float(l[2])) for l in lines if len(l) == 3 and l[2] != "-"]
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
if len(heap) >= 3:
    ht = [h[0] for h in heap]; hy = [h[1] for h in heap]
    hmt = sum(ht) / len(ht); hmy = sum(hy) / len(hy)
    hs = sum((a - hmt) * (b - hmy) for a, b in zip(ht, hy)) / sum((a - hmt) ** 2 for a in ht)
    print(f"jemalloc allocated: mean {hmy:.1f} MiB, slope {hs * 60:+.3f} MiB/min, "
          f"fitted change {hs * (ht[-1] - ht[0]):+.2f} MiB; first {hy[0]:.1f}, last {hy[-1]:.1f} MiB")
else:
    print("jemalloc allocated: not read (no --prometheus answer)")
try:
    m = json.load(open(sys.argv[2]))
    print(f"achieved {m['achieved_rate']:.0f} req/s over {m['duration_s']:.0f} s, "
          f"{len(m['intervals'])} intervals in the result file")
except (OSError, KeyError, ValueError) as e:
    print(f"(no result file: {e})")
print("flat within ±5 %" if flat else "NOT flat within ±5 %")
PY
