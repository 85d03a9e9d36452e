#!/usr/bin/env bash
# HTTPS client cost, measured on loopback against mcptop's own servers
# (release build): the echo tool over Streamable HTTP, one session, C
# connections with C requests in flight, against
#   `mcptop serve --https --self-signed --json-response --stateless` and
#   `mcptop serve --http --json-response --stateless`,
# each next to `wrk` posting the same JSON-RPC request on the same endpoint
# (wrk before and after mcptop; their mean is the reference). Reports each
# rate, mcptop's rate as a share of wrk's (the HTTP goal, >= 90 %, also for
# HTTPS), and mcptop's CPU time per request (user + system, from the kernel's
# rusage of the `mcptop run` process, over every request it sent, warm-up
# included). Connections are kept alive, so TLS costs handshakes once per
# connection and then record encryption per request.
#
# Usage: benches/https_vs_wrk.sh [CONNECTIONS=16] [SECONDS=10]
# Needs wrk (apt-get install -y wrk). Every server started here is killed on exit.
set -euo pipefail
cd "$(dirname "$0")/.."
C=${1:-16}
SECS=${2:-10}
cargo build --release --quiet
BIN=${CARGO_TARGET_DIR:-target}/release/mcptop
WORK=$(mktemp -d)
PIDS=()
cleanup() {
    for p in "${PIDS[@]+"${PIDS[@]}"}"; do kill "$p" 2>/dev/null || true; done
    wait 2>/dev/null || true
    rm -rf "$WORK"
}
trap cleanup EXIT

# Starts `mcptop serve ARGS`; sets SERVER_PID and URL.
serve() {
    rm -f "$WORK/serve.out"
    "$BIN" serve "$@" >"$WORK/serve.out" 2>/dev/null &
    SERVER_PID=$!
    PIDS+=("$SERVER_PID")
    for _ in $(seq 100); do
        if [ -s "$WORK/serve.out" ]; then break; fi
        sleep 0.05
    done
    URL=$(head -1 "$WORK/serve.out" | sed 's/^listening on //')
}

cat >"$WORK/echo.toml" <<TOML
name = "echo-https-bench"
description = "echo only, one session, $C connections, $C in flight"
sessions = 1
concurrency = $C
connections = $C
duration = "${SECS}s"
warmup = "2s"
timeout = "5s"
[[ops]]
method = "tools/call"
tool = "echo"
arguments = { message = "hello from mcptop" }
TOML
# The request mcptop sends in the stateless era it negotiates with this server.
cat >"$WORK/echo.lua" <<'LUA'
wrk.method = "POST"
wrk.body = '{"jsonrpc":"2.0","id":1,"method":"tools/call","params":{"_meta":{"io.modelcontextprotocol/clientCapabilities":{},"io.modelcontextprotocol/clientInfo":{"name":"mcptop","version":"0.1.0"},"io.modelcontextprotocol/protocolVersion":"2026-07-28"},"name":"echo","arguments":{"message":"hello from mcptop"}}}\n'
wrk.headers["Content-Type"] = "application/json"
wrk.headers["Accept"] = "application/json, text/event-stream"
wrk.headers["MCP-Protocol-Version"] = "2026-07-28"
wrk.headers["Mcp-Method"] = "tools/call"
wrk.headers["Mcp-Name"] = "echo"
LUA

wrk_rate() {
    local out
    out=$(wrk -t1 -c"$C" -d"${SECS}s" -s "$WORK/echo.lua" "$URL")
    echo "$out" | sed 's/^/   wrk | /' >&2
    echo "$out" | awk '/Requests\/sec/ {print $2}'
}

# mcptop's rate and CPU per request on $URL; prints "RATE CPU_US".
mcptop_run() {
    python3 - "$BIN" "$WORK/echo.toml" "$URL" "$WORK/r.json" "$@" <<'PY'
import json, resource, subprocess, sys
bin_, workload, url, out, *extra = sys.argv[1:]
subprocess.run([bin_, "run", workload, "--target", url, "--quiet", "--out", out, *extra],
               check=True, stdout=subprocess.DEVNULL)
ru = resource.getrusage(resource.RUSAGE_CHILDREN)
r = json.load(open(out))
sent = r["overall"]["operations"] + r.get("warmup_samples", 0)
cpu_us = (ru.ru_utime + ru.ru_stime) * 1e6 / max(sent, 1)
print(f"{r['overall']['throughput_msg_per_s']:.0f} {cpu_us:.1f}")
PY
}

measure() {
    local label=$1
    shift
    wrk -t1 -c"$C" -d2s -s "$WORK/echo.lua" "$URL" >/dev/null # warm-up
    local w1 w2 m
    w1=$(wrk_rate)
    m=$(mcptop_run "$@")
    w2=$(wrk_rate)
    python3 - "$label" "$m" "$w1" "$w2" <<'PY'
import sys
label, m, w1, w2 = sys.argv[1], sys.argv[2].split(), float(sys.argv[3]), float(sys.argv[4])
rate, cpu = float(m[0]), float(m[1])
w = (w1 + w2) / 2
print(f"{label}: mcptop {rate:.0f} req/s ({cpu:.1f} us CPU/request), wrk {w:.0f} req/s "
      f"(before {w1:.0f}, after {w2:.0f}) -> {100*rate/w:.1f} % of wrk")
PY
}

serve --https 127.0.0.1:0 --self-signed --cert "$WORK/cert.pem" --json-response --stateless
echo "== HTTPS: $URL, $C connections, ${SECS}s"
measure HTTPS --ca-cert "$WORK/cert.pem"
kill "$SERVER_PID"

serve --http 127.0.0.1:0 --json-response --stateless
echo "== HTTP: $URL, $C connections, ${SECS}s"
measure HTTP
