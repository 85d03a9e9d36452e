#!/usr/bin/env bash
# What measuring costs: echo throughput on the builtin target (release build)
#   1. CPU profiler on at 99 Hz (`mcptop profile`) vs off (`mcptop run`);  goal <= 5 %
#   2. memory sampling + allocation counting on vs off (`--no-memory-stats`); goal <= 3 %
#   3. what the profiler adds to mcptop's RSS: mcptop's peak RSS (VmHWM) of a
#      PROFILE_SECONDS (default 30) profile at 99 Hz vs the same run unprofiled, and the step
#      the result file records when the profiler starts (memory.profiler_rss_bytes); goal <= 32 MiB
# Runs alternate so drift hits both sides; the median of ROUNDS runs is compared.
# usage: benches/profile_overhead.sh [SECONDS] [ROUNDS] [WORKLOAD]
set -euo pipefail
SECONDS_PER_RUN=${1:-10}
ROUNDS=${2:-3}
WORKLOAD=${3:-echo}
cd "$(dirname "$0")/.."
[ -n "${NO_BUILD:-}" ] || cargo build --release --quiet
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
PS=${PROFILE_SECONDS:-30}
# mcptop's own peak (VmHWM, read from /proc every 20 ms until it exits): /usr/bin/time's %M
# would be the largest of the process and its children, and a profile's names are found by a
# child `mcptop __symbolize` (its peak is printed apart).
peak() {
  python3 - "$OUT/tree" "$@" <<'PY'
import subprocess, sys, time
p = subprocess.Popen(["/usr/bin/time", "-f", "%M", "-o", sys.argv[1]] + sys.argv[2:],
                     stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
hwm = 0
while p.poll() is None:
    try:
        kids = open(f"/proc/{p.pid}/task/{p.pid}/children").read().split()
        for kid in kids[:1]:
            for line in open(f"/proc/{kid}/status"):
                if line.startswith("VmHWM:"):
                    hwm = max(hwm, int(line.split()[1]))
    except OSError:
        pass
    time.sleep(0.02)
print(hwm)
PY
}
RUN_KB=$(peak "$BIN" run "$WORKLOAD" -q -d "${PS}s" -o "$OUT/mem-run.json")
PROF_KB=$(peak "$BIN" profile "$WORKLOAD" -q -F 99 --duration "$PS" --svg "$OUT/mem.svg" \
  -o "$OUT/mem-prof.json")
TREE_KB=$(cat "$OUT/tree")
STEP=$(python3 -c 'import json,sys; m=json.load(open(sys.argv[1]))["memory"] or {}; print(m.get("profiler_rss_bytes", 0))' "$OUT/mem-prof.json")
python3 - "$RUN_KB" "$PROF_KB" "$STEP" "$PS" "$TREE_KB" <<'PY'
import sys
run, prof, step, secs, tree = int(sys.argv[1]), int(sys.argv[2]), int(sys.argv[3]), sys.argv[4], int(sys.argv[5])
print(f"peak RSS over {secs} s: run {run / 1024:.1f} MiB, profile at 99 Hz {prof / 1024:.1f} MiB: "
      f"the profiler adds {(prof - run) / 1024:+.1f} MiB (goal <= 32 MiB); "
      f"step when it started {step / 2**20:.1f} MiB")
print(f"largest process of the profile's tree (mcptop or its symbolizer child, /usr/bin/time %M): "
      f"{tree / 1024:.1f} MiB")
PY
python3 - "$P" "$F" "$N" <<'PY'
import sys
plain, prof, nostats = map(float, sys.argv[1:])
print(f"median req/s: stats off {nostats:.0f}, stats on {plain:.0f}, stats on + profiler 99 Hz {prof:.0f}")
print(f"profiler cost:          {100 * (plain - prof) / plain:+.1f} % (goal <= 5 %)")
print(f"memory/allocator stats: {100 * (nostats - plain) / nostats:+.1f} % (goal <= 3 %)")
PY
