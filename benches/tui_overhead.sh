#!/usr/bin/env bash
# What the live screen costs: the same closed-loop `echo` run (builtin target)
# with the TUI on, inside a detached tmux terminal 120x40, and with
# --headless, alternating, N pairs. Compares overall.throughput_msg_per_s of
# the result files. Goal: the TUI costs at most 3 %.
#
#   bash benches/tui_overhead.sh [SECONDS] [PAIRS]      # default 10 s, 3 pairs
set -euo pipefail
cd "$(dirname "$0")/.."
secs=${1:-10}
pairs=${2:-3}
command -v tmux >/dev/null || { echo "tmux is needed (apt-get install tmux)" >&2; exit 2; }
cargo build --release --quiet --bin mcptop
bin=$(realpath "${CARGO_TARGET_DIR:-target}/release/mcptop")
out=$(mktemp -d)
sock="mcptop-bench-$$"
tmux() { command tmux -L "$sock" -f /dev/null "$@"; }
trap 'tmux kill-server 2>/dev/null || true; rm -rf "$out"' EXIT
tmux new-session -d -s bench -x 120 -y 40 -c "$out" "bash --norc --noprofile"

headless() {
    "$bin" run echo --headless --duration "${secs}s" --out "$out/headless-$1.json" >/dev/null 2>&1
}

live() {
    tmux send-keys -t bench "'$bin' run echo --duration ${secs}s --out '$out/tui-$1.json' >/dev/null; touch '$out/done-$1'" Enter
    local waited=0
    until [ -e "$out/done-$1" ]; do
        sleep 0.5
        waited=$((waited + 1))
        if [ "$waited" -gt $(( (secs + 60) * 2 )) ]; then
            echo "the TUI run $1 did not end; screen:" >&2
            tmux capture-pane -p -t bench >&2
            exit 1
        fi
    done
}

for i in $(seq 1 "$pairs"); do
    # Alternate which goes first, so drift on a shared machine hits both.
    if [ $((i % 2)) -eq 1 ]; then headless "$i"; live "$i"; else live "$i"; headless "$i"; fi
done

python3 - "$out" "$pairs" "$secs" <<'PY'
import json, statistics, sys
out, pairs, secs = sys.argv[1], int(sys.argv[2]), sys.argv[3]
def rate(kind, i):
    with open(f"{out}/{kind}-{i}.json") as f:
        return json.load(f)["overall"]["throughput_msg_per_s"]
head = [rate("headless", i) for i in range(1, pairs + 1)]
tui = [rate("tui", i) for i in range(1, pairs + 1)]
print(f"echo, closed loop, builtin target, {secs}s measured, {pairs} pairs alternating")
for i, (h, t) in enumerate(zip(head, tui), 1):
    print(f"  pair {i}: headless {h:10.0f} req/s   tui {t:10.0f} req/s   ratio {t / h:.3f}")
h, t = statistics.mean(head), statistics.mean(tui)
print(f"mean: headless {h:.0f} req/s, tui {t:.0f} req/s, tui/headless {t / h:.3f}, TUI cost {100 * (1 - t / h):+.1f} %")
PY
