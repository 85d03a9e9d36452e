#!/usr/bin/env bash
# Detection and recovery after kill / stop / drop_connections, against the
# builtin server over TCP (`mcptop serve --tcp`) and the TypeScript reference
# server over Streamable HTTP (when $PEER_EVERYTHING_HTTP is set: eval
# "$(../shared/peers/install.sh)"). Each server runs under a small supervisor
# that starts it again when it dies (a kill needs someone to bring it back);
# mcptop reconnects with `reconnect = true` and is pointed at the server with
# --target-pid. 100 req/s on 4 sessions, fault at 4 s, 12 s measured.
# Then a failover row: the shipped `failover` workload between two
# `mcptop serve --http` servers, the first killed.
# usage: benches/faults.sh [release|debug]   (NO_BUILD=1: use the binary already built)
set -euo pipefail
PROFILE=${1:-release}
cd "$(dirname "$0")/.."
if [ -z "${NO_BUILD:-}" ]; then
  if [ "$PROFILE" = release ]; then cargo build --release --quiet; else cargo build --quiet; fi
fi
BIN=$(pwd)/${CARGO_TARGET_DIR:-target}/$PROFILE/mcptop
OUT=$(mktemp -d)
SUPERVISOR=
cleanup() {
  touch "$OUT/stop"
  if [ -n "$SUPERVISOR" ]; then kill "$SUPERVISOR" 2>/dev/null || true; fi
  if [ -f "$OUT/pid" ]; then kill "$(cat "$OUT/pid")" 2>/dev/null || true; fi
  wait 2>/dev/null || true
  rm -rf "$OUT"
}
trap cleanup EXIT

free_port() { python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'; }

# supervise CMD...: runs CMD again each time it exits, its pid in $OUT/pid.
supervise() {
  rm -f "$OUT/stop" "$OUT/pid"
  ( while [ ! -f "$OUT/stop" ]; do
      "$@" >/dev/null 2>&1 &
      echo $! > "$OUT/pid"
      wait $! || true
    done ) &
  SUPERVISOR=$!
}

wait_port() {
  for _ in $(seq 300); do
    if python3 -c "import socket,sys; socket.create_connection(('127.0.0.1',$1),0.2)" 2>/dev/null; then return 0; fi
    sleep 0.1
  done
  echo "nothing listens on $1" >&2; return 1
}

stop_server() {
  touch "$OUT/stop"
  kill "$(cat "$OUT/pid")" 2>/dev/null || true
  kill "$SUPERVISOR" 2>/dev/null || true
  wait "$SUPERVISOR" 2>/dev/null || true
  SUPERVISOR=
}

workload() { # NAME FAULT_LINE
  cat > "$OUT/$1.toml" <<TOML
name = "$1"
description = "faults bench"
sessions = 4
rate = 100
duration = "12s"
warmup = "1s"
timeout = "1s"
reconnect = true

[[faults]]
at = "4s"
$2
sessions = "all"

[[ops]]
method = "tools/call"
tool = "echo"
arguments = { message = "hello from mcptop" }

[[thresholds]]
metric = "error_rate"
max = 1.0
TOML
}

workload kill "kill = true"
workload stop "stop = \"2s\""
workload drop "drop_connections = true"

run_case() { # LABEL TARGET_URL FAULT
  local label=$1 url=$2 fault=$3
  "$BIN" run "$OUT/$fault.toml" --headless -q --target "$url" \
    --target-pid "$(cat "$OUT/pid")" -o "$OUT/$label-$fault.json" >/dev/null || true
  python3 - "$OUT/$label-$fault.json" "$label" "$fault" <<'PY'
import json, sys
r = json.load(open(sys.argv[1]))
f = r["faults"][0]; a = r["accounting"]
fmt = lambda v: "-" if v is None else f"{v:.3f}s"
print(f"{sys.argv[2]:<14} {sys.argv[3]:<5} detection {fmt(f['detection_s']):>8}  recovery {fmt(f['recovery_s']):>8}"
      f"  lost {f['requests_lost']:>3}  not sent {f['requests_not_sent']:>4}  timed out {a['timed_out']:>4}"
      f"  sessions back {f['sessions_reestablished_pct'] if f['sessions_reestablished_pct'] is not None else '-'}"
      f"  p99 x{(f['p99_ratio'] or 0):.1f}  planned {a['planned']} = sum {a['sum']}")
PY
}

for fault in kill stop drop; do
  port=$(free_port)
  supervise "$BIN" serve --tcp "127.0.0.1:$port"
  wait_port "$port"
  run_case builtin-tcp "tcp://127.0.0.1:$port" "$fault"
  stop_server
done

# Failover: the shipped `failover` workload (4 sessions, 100 req/s, kill
# of the first target at 3 s of 8 s) between two builtin servers over
# Streamable HTTP; the first is not brought back.
failover_case() {
  local p0 p1 pid0 pid1
  p0=$(free_port); p1=$(free_port)
  "$BIN" serve --http "127.0.0.1:$p0" >/dev/null 2>&1 & pid0=$!
  "$BIN" serve --http "127.0.0.1:$p1" >/dev/null 2>&1 & pid1=$!
  wait_port "$p0"; wait_port "$p1"
  "$BIN" run failover --headless -q --failover \
    --target "http://127.0.0.1:$p0/mcp" --target "http://127.0.0.1:$p1/mcp" \
    --target-pid "$pid0" --target-pid "$pid1" -o "$OUT/failover.json" >/dev/null || true
  kill "$pid0" "$pid1" 2>/dev/null || true
  wait "$pid0" "$pid1" 2>/dev/null || true
  python3 - "$OUT/failover.json" <<'PY'
import json, sys
r = json.load(open(sys.argv[1]))
f = r["failover"]; a = r["accounting"]
fmt = lambda v: "-" if v is None else f"{v:.3f}s"
shares = " / ".join(f"{t['share_pct']:.1f}%" for t in f["answered"])
print(f"{'builtin-http':<14} {'failover':<8} migrated {f['migrated_pct']:.1f}%  failover p50 {fmt(f['failover_p50_s'])}"
      f" max {fmt(f['failover_max_s'])}  lost {f['requests_lost']:>3}  not sent {f['requests_not_sent']:>3}"
      f"  replies a/b {shares}  planned {a['planned']} = sum {a['sum']}")
PY
}
failover_case

if [ -n "${PEER_EVERYTHING_HTTP:-}" ]; then
  for fault in kill stop drop; do
    port=$(free_port)
    # shellcheck disable=SC2086
    supervise env PORT="$port" $PEER_EVERYTHING_HTTP
    wait_port "$port"
    run_case ts-http "http://127.0.0.1:$port/mcp" "$fault"
    stop_server
  done
else
  echo "ts-http: skipped (PEER_EVERYTHING_HTTP is not set; eval \"\$(../shared/peers/install.sh)\")"
fi
