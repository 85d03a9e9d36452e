#!/usr/bin/env bash
# SSE resumption: replay latency for 100 and 1000 events, against the builtin
# server (`mcptop serve --http`, its `events` tool) and the TypeScript
# reference server (when $PEER_EVERYTHING_HTTP is set: eval
# "$(../shared/peers/install.sh)"; its `trigger-long-running-operation` with
# duration 0). One session, one call at a time; each call's stream is dropped
# after half its events and resumed with Last-Event-ID.
#   backlog: resumed after `resume_delay` (long enough for the tool to have
#            sent everything), so the replay is the stored second half + reply;
#   live:    resumed at once while the tool still streams (builtin only: the
#            TypeScript server's replay does not follow the stream, so mcptop
#            resumes it again after 1 s of silence, which would be measured).
# Replay latency = resume GET sent -> the reply (the last replayed event).
# usage: benches/sse_resume.sh [CALLS_100] [CALLS_1000]   (default 30 10)
set -euo pipefail
CALLS_100=${1:-30}
CALLS_1000=${2:-10}
cd "$(dirname "$0")/.."
cargo build --release --quiet
BIN=$(pwd)/${CARGO_TARGET_DIR:-target}/release/mcptop
OUT=$(mktemp -d)
SERVER=
cleanup() {
  if [ -n "$SERVER" ]; then kill "$SERVER" 2>/dev/null || true; wait "$SERVER" 2>/dev/null || true; fi
  rm -rf "$OUT"
}
trap cleanup EXIT

free_port() { python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'; }
wait_port() {
  for _ in $(seq 300); do
    if python3 -c "import socket; socket.create_connection(('127.0.0.1',$1),0.2)" 2>/dev/null; then return 0; fi
    sleep 0.1
  done
  echo "nothing listens on $1" >&2; return 1
}
stop_server() { kill "$SERVER" 2>/dev/null || true; wait "$SERVER" 2>/dev/null || true; SERVER=; }

# run URL LABEL TOOL ARGS EVENTS CALLS DELAY
run() {
  local url=$1 label=$2 tool=$3 args=$4 events=$5 calls=$6 delay=$7
  local half=$((events / 2))
  cat > "$OUT/w.toml" <<TOML
name = "sse-resume-bench"
protocol = "2025-11-25"
sessions = 1
concurrency = 1
requests = $calls
timeout = "30s"

[[ops]]
method = "tools/call"
tool = "$tool"
arguments = $args
resume_after = $half
resume_delay = "$delay"
TOML
  "$BIN" run "$OUT/w.toml" --headless -q --warmup 0s --target "$url" --out "$OUT/r.json" >/dev/null 2>&1 || true
  python3 - "$OUT/r.json" "$label" "$tool" <<'PY'
import json, sys
r = json.load(open(sys.argv[1])); label = sys.argv[2]
s = r.get("sse_resume", {}).get(sys.argv[3])
o = r["overall"]
if not s or not s.get("replay"):
    print(f"{label:34} no replay measured; errors {o['errors']} {o.get('first_error_messages')}")
    sys.exit(0)
p = s["replay"]
print(f"{label:34} replay p50 {p['p50_us']/1000:7.2f} ms  p99 {p['p99_us']/1000:7.2f} ms  "
      f"max {p['max_us']/1000:7.2f} ms | replayed {s['replayed_events_per_s']:9.0f} ev/s | "
      f"call {s['events_per_s']:8.0f} ev/s | resumed {s['resumed']}/{s['calls']} "
      f"({s['resume_requests']} GETs) dup {s['duplicates']} gaps {s['gaps']} errors {o['errors']}")
PY
}

echo "== builtin: mcptop serve --http (release), tool events {count, interval_us = 0}"
port=$(free_port)
"$BIN" serve --http "127.0.0.1:$port" >/dev/null 2>&1 &
SERVER=$!
wait_port "$port"
url="http://127.0.0.1:$port/mcp"
run "$url" "builtin 100 events, backlog"  events "{ count = 100 }"  100  "$CALLS_100"  "200ms"
run "$url" "builtin 1000 events, backlog" events "{ count = 1000 }" 1000 "$CALLS_1000" "500ms"
run "$url" "builtin 100 events, live"     events "{ count = 100 }"  100  "$CALLS_100"  "0s"
run "$url" "builtin 1000 events, live"    events "{ count = 1000 }" 1000 "$CALLS_1000" "0s"
stop_server

if [ -n "${PEER_EVERYTHING_HTTP:-}" ]; then
  echo "== TypeScript reference server (server-everything, Streamable HTTP, in-memory event store)"
  port=$(free_port)
  # shellcheck disable=SC2086
  PORT=$port $PEER_EVERYTHING_HTTP >/dev/null 2>&1 &
  SERVER=$!
  wait_port "$port"
  url="http://127.0.0.1:$port/mcp"
  tool=trigger-long-running-operation
  run "$url" "typescript 100 events, backlog"  $tool "{ duration = 0, steps = 100 }"  100  "$CALLS_100"  "1s"
  run "$url" "typescript 1000 events, backlog" $tool "{ duration = 0, steps = 1000 }" 1000 "$CALLS_1000" "3s"
  stop_server
else
  echo "== TypeScript reference server: skipped (PEER_EVERYTHING_HTTP not set)"
fi
