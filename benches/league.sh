#!/usr/bin/env bash
# The league table (issue 14): the shipped `echo` workload (closed loop, 4
# sessions, 16 in flight, 10 s after 1 s of warm-up) against
#   builtin; `mcptop serve` over stdio, http, tcp and ws;
#   the TypeScript SDK's reference server (server-everything) over stdio and http;
#   the Python SDK server (../shared/peers) over stdio and http;
# one `mcptop run echo --target T` each, in that order (one run per target,
# not one run with `--target` repeated, so each network server's pid can go
# with `--target-pid` and its CPU be read). Prints req/s, p50, p99, memory per
# session (mcptop + target RSS rise per session while sessions connect),
# the target's CPU per request (from its process, over the measured window;
# for builtin the server is mcptop, see mcptop's figure) and mcptop's CPU per
# request, all read back from the result files.
#
# Sessions get CONNECT_TIMEOUT (default 30s) to open, up to the reply to
# `initialize`: the Python SDK server takes seconds to start on a loaded
# machine (about 3.5 s here, four children at once), past the default 10 s.
#
# Usage: bash benches/league.sh [DURATION=10s]   (NO_BUILD=1: use the release binary as built)
# Peers: eval "$(../shared/peers/install.sh)" first; without them their rows say "skipped".
# Every server started here is killed on exit.
set -euo pipefail
cd "$(dirname "$0")/.."
DURATION=${1:-10s}
CONNECT_TIMEOUT=${CONNECT_TIMEOUT:-30s}
[ -n "${NO_BUILD:-}" ] || nice -n 10 cargo build --release --quiet
BIN=$PWD/${CARGO_TARGET_DIR:-target}/release/mcptop
# shellcheck source=benches/lib/servers.sh
. benches/lib/servers.sh

# run LABEL TARGET [ARGS...]: one run of the shipped echo workload.
run() {
    local label=$1 target=$2
    shift 2
    run_row "$label" echo "$target" --connect-timeout "$CONNECT_TIMEOUT" "$@"
}

# serve LABEL URL_PREFIX URL_SUFFIX CMD...: starts a server on a free port
# (CMD gets the port where it says PORT), runs against it, stops it.
serve() {
    local label=$1 prefix=$2 suffix=$3
    shift 3
    local port
    port=$(free_port)
    local cmd=()
    for a in "$@"; do cmd+=("${a//PORT/$port}"); done
    PORT=$port "${cmd[@]}" >/dev/null 2>&1 &
    local pid=$!
    PIDS+=("$pid")
    wait_port "$port"
    run "$label" "$prefix$port$suffix" --target-pid "$pid"
    kill "$pid" 2>/dev/null || true
    wait "$pid" 2>/dev/null || true
}

run builtin builtin
run serve-stdio "stdio:$BIN serve --stdio"
serve serve-http http://127.0.0.1: /mcp "$BIN" serve --http 127.0.0.1:PORT
serve serve-tcp tcp://127.0.0.1: "" "$BIN" serve --tcp 127.0.0.1:PORT
serve serve-ws ws://127.0.0.1: /mcp "$BIN" serve --ws 127.0.0.1:PORT
if [ -n "${PEER_EVERYTHING_STDIO:-}" ]; then
    run ts-stdio "stdio:$PEER_EVERYTHING_STDIO"
    # shellcheck disable=SC2086
    serve ts-http http://127.0.0.1: /mcp $PEER_EVERYTHING_HTTP
else
    ROWS+=("ts-stdio:skipped" "ts-http:skipped")
fi
if [ -n "${PEER_PY_STDIO:-}" ]; then
    run py-stdio "stdio:$PEER_PY_STDIO"
    # shellcheck disable=SC2086
    serve py-http http://127.0.0.1: /mcp $PEER_PY_HTTP PORT
else
    ROWS+=("py-stdio:skipped" "py-http:skipped")
fi

python3 - "$WORK" "${ROWS[@]}" <<'PY'
import json, sys
work, rows = sys.argv[1], sys.argv[2:]
def us(v):
    return "-" if v is None else (f"{v/1000:.2f} ms" if v >= 1000 else f"{v:.0f} µs")
print(f"{'target':<12} {'req/s':>9} {'p50':>9} {'p99':>9} {'mem/session':>12} {'target CPU/req':>15} {'mcptop CPU/req':>15} errors")
for row in rows:
    label, _, state = row.partition(":")
    if state:
        print(f"{label:<12} {state}")
        continue
    r = json.load(open(f"{work}/{label}.json"))
    o = r["overall"]
    mem = r.get("memory") or {}
    per_session = mem.get("bytes_per_session")
    target_cpu = mem.get("target_cpu_us_per_request")
    own = r.get("generator_cpu_us_per_request")
    note = " (+server)" if (r.get("generator_cpu") or {}).get("includes_target") else ""
    print(f"{label:<12} {o['throughput_msg_per_s']:>9.0f} {us(o['latency_p50_us']):>9} {us(o['latency_p99_us']):>9} "
          f"{'-' if per_session is None else f'{per_session/1024:.0f} KiB':>12} "
          f"{'-' if target_cpu is None else f'{target_cpu:.1f} µs':>15} "
          f"{'-' if own is None else f'{own:.1f} µs':>15}{note} {o['errors']}")
PY
