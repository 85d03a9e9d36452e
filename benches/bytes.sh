#!/usr/bin/env bash
# Bytes, not only requests (issue 14, goal 6): the shipped `resource-10mb`
# workload (closed loop, 2 sessions, 4 in flight, reads of
# mcptop://payload/10485760) against
#   builtin (in process: bytes are the serialized lines through the duplex),
#   `mcptop serve --http` (HTTP/1.1 on loopback: head and body bytes),
#   the TypeScript SDK's reference server (server-everything) over HTTP.
# server-everything has no 10 MB resource (its resources are small test
# texts), so its row sends its `echo` tool a message of ECHO_BYTES (default
# 1 MiB; with 10 MiB every request failed) instead: about
# that much each way per request, so read both columns.
# Prints per target: req/s, received MB/s and MiB/s, sent MB/s, p50, p99,
# read back from the result files (overall.bytes_*_per_s).
#
# Usage: bash benches/bytes.sh [DURATION=10s]   (NO_BUILD=1: use the release binary as built)
# Peers: eval "$(../shared/peers/install.sh 2>/dev/null)" first; without them
# the TypeScript row says "skipped". Every server started here is killed on exit.
set -euo pipefail
cd "$(dirname "$0")/.."
DURATION=${1:-10s}
ECHO_BYTES=${ECHO_BYTES:-1048576}
[ -n "${NO_BUILD:-}" ] || nice -n 10 cargo build --release --quiet --bin mcptop
BIN=$PWD/${CARGO_TARGET_DIR:-target}/release/mcptop
# shellcheck source=benches/lib/servers.sh
. benches/lib/servers.sh

# serve LABEL WORKLOAD CMD...: a server on a free port (PORT in CMD and in
# its environment), one run against http://127.0.0.1:PORT/mcp, then stopped.
serve() {
    local label=$1 workload=$2
    shift 2
    local port cmd=()
    port=$(free_port)
    for a in "$@"; do cmd+=("${a//PORT/$port}"); done
    PORT=$port "${cmd[@]}" >/dev/null 2>&1 &
    local pid=$!
    PIDS+=("$pid")
    wait_port "$port"
    run_row "$label" "$workload" "http://127.0.0.1:$port/mcp"
    kill "$pid" 2>/dev/null || true
    wait "$pid" 2>/dev/null || true
}

run_row builtin resource-10mb builtin
serve serve-http resource-10mb "$BIN" serve --http 127.0.0.1:PORT
if [ -n "${PEER_EVERYTHING_HTTP:-}" ]; then
    # The same load shape as resource-10mb, the echo tool carrying ECHO_BYTES.
    python3 - "$WORK/echo-big.toml" "$ECHO_BYTES" <<'PY'
import sys
open(sys.argv[1], "w").write(f'''name = "echo-big"
description = "echo with a large message (server-everything has no 10 MB resource)"
sessions = 2
concurrency = 4
warmup = "1s"
timeout = "10s"

[[ops]]
method = "tools/call"
tool = "echo"
name = "echo-big"
arguments = {{ message = "{'x' * int(sys.argv[2])}" }}
''')
PY
    # shellcheck disable=SC2086
    serve ts-http-echo "$WORK/echo-big.toml" $PEER_EVERYTHING_HTTP
else
    ROWS+=("ts-http-echo:skipped")
fi

python3 - "$WORK" "${ROWS[@]}" <<'PY'
import json, sys
work, rows = sys.argv[1], sys.argv[2:]
def us(v):
    return f"{v/1000:.1f} ms" if v >= 1000 else f"{v:.0f} µs"
print(f"{'target':<13} {'req/s':>7} {'recv MB/s':>10} {'recv MiB/s':>11} {'sent MB/s':>10} {'p50':>9} {'p99':>9} errors")
for row in rows:
    label, _, state = row.partition(":")
    if state:
        print(f"{label:<13} {state}")
        continue
    o = json.load(open(f"{work}/{label}.json"))["overall"]
    rx, tx = o["bytes_received_per_s"], o["bytes_sent_per_s"]
    print(f"{label:<13} {o['throughput_msg_per_s']:>7.1f} {rx/1e6:>10.1f} {rx/2**20:>11.1f} {tx/1e6:>10.2f} "
          f"{us(o['latency_p50_us']):>9} {us(o['latency_p99_us']):>9} {o['errors']}")
PY
