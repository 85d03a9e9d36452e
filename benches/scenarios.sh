#!/usr/bin/env bash
# The scenario workloads' own figures (issue 11), release build:
#  1. sessions/s that `session-churn` reaches: its flow (connect + initialize,
#     tools/list, call, close) in closed loop at 4 sessions at once, against
#     the builtin server, `mcptop serve --http` (another process) and the
#     TypeScript reference server over HTTP (when `../shared/peers` is
#     installed: eval "$(../shared/peers/install.sh)");
#  2. the probe's p99 against `mcptop serve --http`, alone and beside the
#     flood (`priority-flood` without and with its flood scenario).
#
#   bash benches/scenarios.sh [SECONDS]   # SECONDS per run, default 5 (churn) and 2x that (probe)
set -euo pipefail
cd "$(dirname "$0")/.."
secs=${1:-5}
cargo build --release --quiet --bin mcptop
bin=$PWD/target/release/mcptop
work=$(mktemp -d)
pids=()
cleanup() {
    for p in "${pids[@]}"; do kill "$p" 2>/dev/null || true; wait "$p" 2>/dev/null || true; done
    rm -rf "$work"
}
trap cleanup EXIT
free_port() { python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'; }
wait_port() {
    for _ in $(seq 1 300); do
        (exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null && return 0
        sleep 0.1
    done
    echo "nothing listens on $1" >&2
    return 1
}

# The shipped flows, changed only in their load.
sed 's/^rate = 20$/concurrency = 4/' workloads/session-churn.toml > "$work/churn-closed.toml"
python3 - "$work/probe-only.toml" <<'PY'
import sys
text = open("workloads/priority-flood.toml").read()
# Everything from the flood scenario to the thresholds goes.
start = text.index('[[scenarios]]\nname = "flood"')
end = text.index("[[thresholds]]")
open(sys.argv[1], "w").write(text[:start] + text[end:])
PY

# mcptop serve --http, another process.
"$bin" serve --http 127.0.0.1:0 > "$work/serve.out" 2>/dev/null &
pids+=($!)
for _ in $(seq 1 100); do grep -q listening "$work/serve.out" && break; sleep 0.1; done
serve_url=$(sed -n 's/^listening on //p' "$work/serve.out" | head -1)

targets=("builtin=builtin" "serve-http=$serve_url")
if [ -n "${PEER_EVERYTHING_HTTP:-}" ]; then
    port=$(free_port)
    PORT=$port $PEER_EVERYTHING_HTTP > /dev/null 2>&1 &
    pids+=($!)
    wait_port "$port"
    targets+=("typescript-http=http://127.0.0.1:$port/mcp")
else
    echo "(PEER_EVERYTHING_HTTP not set: no TypeScript row; eval \"\$(../shared/peers/install.sh)\")"
fi

figures() {
    python3 - "$1" "$2" <<'PY'
import json, sys
r = json.load(open(sys.argv[1]))
op = {o["label"]: o for o in r["ops"]}
if sys.argv[2] == "churn":
    s = op["churn/session"]
    errors = sum(o["errors"] for o in r["ops"])
    init = (r.get("connection_phases") or {}).get("initialize") or {}
    p50 = init.get("p50_us")
    print(f'{s["throughput_msg_per_s"]:.0f} | {s["ok"]} | {errors} | '
          + (f'{p50/1000:.2f} ms' if p50 else "-"))
else:
    p = op["probe/ping"]
    sent = f' (sent as {p["sent_as"]})' if p.get("sent_as") else ""
    print(f'{p["latency_p99_us"]/1000:.2f} ms | {p["service_p99_us"]/1000:.2f} ms | {p["ok"]} | '
          f'{sum(o["errors"] for o in r["ops"])}{sent}')
PY
}

echo
echo "session-churn flow, closed loop 4, ${secs} s (release):"
echo "| target | sessions/s | sessions | errors | initialize p50 |"
echo "|---|---:|---:|---:|---:|"
for t in "${targets[@]}"; do
    "$bin" run "$work/churn-closed.toml" --headless -q --duration "${secs}s" --warmup 1s \
        --target "${t#*=}" --out "$work/churn.json" > /dev/null 2>&1 || true
    echo "| ${t%%=*} | $(figures "$work/churn.json" churn) |"
done

echo
echo "probe (ping at 20/s, own session) against mcptop serve --http, $((secs * 2)) s (release):"
echo "| run | probe p99 | probe service p99 | probes | errors |"
echo "|---|---:|---:|---:|---:|"
for w in "alone=$work/probe-only.toml" "beside the flood=workloads/priority-flood.toml"; do
    "$bin" run "${w#*=}" --headless -q --duration "$((secs * 2))s" --warmup 1s \
        --target "$serve_url" --out "$work/probe.json" > /dev/null 2>&1 || true
    echo "| ${w%%=*} | $(figures "$work/probe.json" probe) |"
done
