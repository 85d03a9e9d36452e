#!/usr/bin/env bash
# Two client-side speed targets, measured on loopback against mcptop's own
# servers (release build):
#
#  1. HTTP rate: the user's plain command, `mcptop run echo --target URL
#     --concurrency C` (the shipped echo workload: 4 sessions, C/4 connections
#     each, so C connections), against `mcptop serve --http --json-response
#     --stateless`, alternated REPEATS times with `wrk -t1 -cC` posting the same
#     JSON-RPC request (same body, same headers, same connection count).
#     Goal (issue 14): mcptop >= 95 % of wrk's rate.
#  2. Client memory per idle session: mcptop holding N TCP sessions
#     (`mcptop serve --tcp`) at 1 req/s; (peak RSS at N - peak RSS at 1) / N.
#
# Figures and the commands that measured them: docs/PERFORMANCE.md. The box's
# load moves wrk's own rate by 20 % between runs; compare within one run.
#
# Usage: [REPEATS=3] [BASE_BIN=other/mcptop] benches/http_vs_wrk.sh [CONNECTIONS=16] [SECONDS=10] [SESSIONS=10000, 0 for none]
# (the wrk/mcptop alternation is benches/lib/vs_wrk.sh, shared with https_vs_wrk.sh;
# BASE_BIN adds a second mcptop binary to every round, for before/after.)
# Needs wrk (apt-get install -y wrk). Every server started here is killed on exit.
set -euo pipefail
cd "$(dirname "$0")/.."
C=${1:-16}
SECS=${2:-10}
N=${3:-10000}
if [ "${NO_BUILD:-0}" != 1 ]; then cargo build --release --quiet; fi
BIN=${CARGO_TARGET_DIR:-target}/release/mcptop
# shellcheck source=benches/lib/servers.sh
. benches/lib/servers.sh
ulimit -n 65536 2>/dev/null || ulimit -n "$(ulimit -Hn)"

# shellcheck source=benches/lib/vs_wrk.sh
. benches/lib/vs_wrk.sh
vs_wrk_files
# The user's plain command (issue 14): `mcptop run echo --concurrency C`.
VS_WRK_PLAIN=1

serve --http 127.0.0.1:0 --json-response --stateless
echo "== HTTP: $URL, $C connections, ${SECS}s, ${REPEATS:-3} rounds"
vs_wrk_measure HTTP
kill "$SERVER_PID"

# SESSIONS=0: the HTTP rate only.
if [ "$N" = 0 ]; then exit 0; fi
serve --tcp 127.0.0.1:0
TCP=$URL
# Peak resident memory of `mcptop run` holding $1 idle TCP sessions, in KiB.
peak_rss() {
    cat >"$WORK/idle.toml" <<TOML
name = "idle-sessions"
description = "$1 idle sessions at 1 req/s"
sessions = $1
rate = 1.0
duration = "3s"
warmup = "0s"
[[ops]]
method = "tools/call"
tool = "echo"
arguments = { message = "x" }
TOML
    "$BIN" run "$WORK/idle.toml" --target "$TCP" --quiet --out "$WORK/idle.json" >/dev/null &
    local pid=$! peak=0 rss
    while kill -0 "$pid" 2>/dev/null; do
        rss=$(awk '/^VmRSS/ {print $2}' "/proc/$pid/status" 2>/dev/null || echo 0)
        if [ "${rss:-0}" -gt "$peak" ]; then peak=$rss; fi
        sleep 0.1
    done
    wait "$pid"
    echo "$peak"
}
ONE=$(peak_rss 1)
MANY=$(peak_rss "$N")
python3 - "$ONE" "$MANY" "$N" <<'PY'
import sys
one, many, n = int(sys.argv[1]), int(sys.argv[2]), int(sys.argv[3])
print(f"TCP sessions: peak RSS {one} KiB at 1 session, {many} KiB at {n} -> {(many-one)/n:.2f} KiB per idle session (goal <= 16 KiB)")
PY
