#!/usr/bin/env bash
# What the live screen costs: the same closed-loop `echo` run (builtin target)
# with the TUI on, inside a detached tmux terminal 120x40, and with
# --headless, alternating, N pairs. Compares overall.throughput_msg_per_s of
# the result files, and mcptop's CPU time per request (user + sys, from the
# shell's `times`), which a busy shared machine disturbs less than req/s.
# Goal: the TUI costs at most 3 %.
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
    ( "$bin" run echo --headless --duration "${secs}s" --out "$out/headless-$1.json" >/dev/null 2>&1
      times >"$out/headless-$1.times" )
}

live() {
    tmux send-keys -t bench "( '$bin' run echo --duration ${secs}s --out '$out/tui-$1.json' >/dev/null; times >'$out/tui-$1.times' ); touch '$out/done-$1'" Enter
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
import json, re, statistics, sys
out, pairs, secs = sys.argv[1], int(sys.argv[2]), sys.argv[3]
def result(kind, i):
    with open(f"{out}/{kind}-{i}.json") as f:
        r = json.load(f)
    return r["overall"]["throughput_msg_per_s"], r["overall"]["operations"]
def cpu_s(kind, i):
    # `times`: the subshell's own line, then its children's: "0m1.2s 0m0.3s".
    lines = open(f"{out}/{kind}-{i}.times").read().split("\n")
    return sum(int(m) * 60 + float(s) for m, s in re.findall(r"(\d+)m([\d.]+)s", lines[1]))
def runs(kind):
    return [(*result(kind, i), cpu_s(kind, i)) for i in range(1, pairs + 1)]
head, tui = runs("headless"), runs("tui")
print(f"echo, closed loop, builtin target, {secs}s measured, {pairs} pairs alternating")
for i, (h, t) in enumerate(zip(head, tui), 1):
    print(f"  pair {i}: headless {h[0]:8.0f} req/s {1e6 * h[2] / h[1]:6.2f} µs CPU/req"
          f"   tui {t[0]:8.0f} req/s {1e6 * t[2] / t[1]:6.2f} µs CPU/req   req/s ratio {t[0] / h[0]:.3f}")
h_rate, t_rate = statistics.mean(r[0] for r in head), statistics.mean(r[0] for r in tui)
h_cpu = sum(r[2] for r in head) / sum(r[1] for r in head)
t_cpu = sum(r[2] for r in tui) / sum(r[1] for r in tui)
print(f"throughput: headless {h_rate:.0f} req/s, tui {t_rate:.0f} req/s, tui/headless {t_rate / h_rate:.3f}"
      f" (TUI cost {100 * (1 - t_rate / h_rate):+.1f} %)")
print(f"CPU per request: headless {1e6 * h_cpu:.2f} µs, tui {1e6 * t_cpu:.2f} µs"
      f" (TUI cost {100 * (t_cpu / h_cpu - 1):+.1f} %)")
PY
