#!/usr/bin/env bash
# Does mcptop stay small over a long run? An open-loop echo load on the builtin
# target (release build) for DURATION. mcptop's RSS (VmRSS, and its anonymous and
# file parts, from /proc) is read every second; each STEP seconds the script also
# reads its allocator's live and resident bytes (jemalloc `allocated`/`resident`,
# from the run's own --prometheus endpoint on loopback) and prints one row: the
# median, least and largest RSS of that step's one-second readings. Then the
# least-squares slope over every reading, and the verdict:
#   flat: the fitted change over the run, and the median of every step, within
#   ±5 % of the mean RSS. A step's median and not a single reading: RSS also
#   moves for a second or two when a stall of the machine queues requests and
#   their memory is freed after (the step's least and largest show it), which is
#   not growth. The furthest single reading is printed beside it.
# RSS growing with `allocated` flat is the allocator's pages (dirty, fragmented),
# not live memory.
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
echo "mcptop run echo-open --rate $RATE -d ${DURATION}s (pid $PID); RSS every second, a row and jemalloc every ${STEP}s"
# Warm-up (1 s) first; then readings while the run measures.
sleep 2
python3 - "$PID" "$PORT" "$STEP" "$DURATION" "$OUT/rss.txt" "$OUT/samples.txt" <<'PY'
import statistics, sys, time, urllib.request
pid, port, step, duration = sys.argv[1], sys.argv[2], float(sys.argv[3]), float(sys.argv[4])
rows, samples = open(sys.argv[5], "w"), open(sys.argv[6], "w")

def status():
    try:
        text = open(f"/proc/{pid}/status").read()
    except OSError:
        return None
    kb = {l.split(":")[0]: int(l.split()[1]) for l in text.splitlines()
          if l.split(":")[0] in ("VmRSS", "RssAnon", "RssFile")}
    return {k: v / 1024 for k, v in kb.items()}

def allocator():
    try:
        text = urllib.request.urlopen(f"http://127.0.0.1:{port}/metrics", timeout=5).read().decode()
        def kind(k):
            line = next(l for l in text.splitlines()
                        if l.startswith("mcptop_allocator_bytes") and f'kind="{k}"' in l)
            return f"{float(line.split()[-1]) / 2**20:.2f}"
        return kind("allocated"), kind("resident")
    except (OSError, StopIteration, ValueError):
        return "-", "-"

head = ("t s", "RSS MiB", "least", "largest", "anon MiB", "file MiB", "allocated MiB", "resident MiB")
line = "%8s %9s %7s %8s %9s %9s %14s %13s"
print(line % head, flush=True)
rows.write(line % head + "\n")
t0 = time.monotonic()
window, ended = [], False
# Readings stop 2 s before the run's end, so its last second (writing the results) is not one.
while not ended and time.monotonic() - t0 <= duration - 2:
    now = time.monotonic() - t0
    s = status()
    if s is None:
        ended = True
    else:
        window.append(s)
        samples.write(f"{now:.2f} {s['VmRSS']:.2f}\n")
    last = time.monotonic() - t0 + 1 > duration - 2
    if window and (ended or last or len(window) >= step):
        live, resident = allocator() if not ended else ("-", "-")
        rss = [w["VmRSS"] for w in window]
        row = line % (f"{now:.0f}", f"{statistics.median(rss):.1f}", f"{min(rss):.1f}", f"{max(rss):.1f}",
                      f"{statistics.median(w['RssAnon'] for w in window):.1f}",
                      f"{statistics.median(w['RssFile'] for w in window):.1f}", live, resident)
        print(row, flush=True)
        rows.write(row + "\n")
        window = []
    time.sleep(max(0.0, 1.0 - (time.monotonic() - t0 - now)))
PY
wait "$PID" || true
PID=""
python3 - "$OUT/rss.txt" "$OUT/samples.txt" "$OUT/soak.json" <<'PY'
import json, sys
steps = [l.split() for l in open(sys.argv[1]).read().splitlines()[1:] if l.strip()]
samples = [tuple(map(float, l.split())) for l in open(sys.argv[2]) if l.strip()]
if len(samples) < 3 or len(steps) < 2:
    sys.exit("too few readings")
t = [s[0] for s in samples]; y = [s[1] for s in samples]
n = len(samples); mt = sum(t) / n; my = sum(y) / n
slope = sum((a - mt) * (b - my) for a, b in zip(t, y)) / sum((a - mt) ** 2 for a in t)
span = t[-1] - t[0]
fitted = slope * span
medians = [float(s[1]) for s in steps]
worst_step = max(abs(v - my) for v in medians)
worst = max(abs(v - my) for v in y)
print(f"readings {n} (one a second) over {span:.0f} s in {len(steps)} steps; mean RSS {my:.1f} MiB")
print(f"slope {slope * 60:+.3f} MiB/min; fitted change over the run {fitted:+.1f} MiB "
      f"({100 * fitted / my:+.2f} % of the mean); furthest step median {100 * worst_step / my:.2f} % "
      f"from the mean (furthest single reading {100 * worst / my:.2f} %)")
flat = abs(fitted) <= 0.05 * my and worst_step <= 0.05 * my
heap = [(i, float(s[6])) for i, s in enumerate(steps) if s[6] != "-"]
if len(heap) >= 3:
    ht = [h[0] for h in heap]; hy = [h[1] for h in heap]
    hmt = sum(ht) / len(ht); hmy = sum(hy) / len(hy)
    hs = sum((a - hmt) * (b - hmy) for a, b in zip(ht, hy)) / sum((a - hmt) ** 2 for a in ht)
    print(f"jemalloc allocated: mean {hmy:.1f} MiB, fitted change {hs * (ht[-1] - ht[0]):+.2f} MiB "
          f"over the steps; first {hy[0]:.1f}, last {hy[-1]:.1f} MiB")
else:
    print("jemalloc allocated: not read (no --prometheus answer)")
try:
    m = json.load(open(sys.argv[3]))
    print(f"achieved {m['achieved_rate']:.0f} req/s over {m['duration_s']:.0f} s, "
          f"{len(m['intervals'])} intervals in the result file")
except (OSError, KeyError, ValueError) as e:
    print(f"(no result file: {e})")
print("flat within ±5 %" if flat else "NOT flat within ±5 %")
PY
