#!/usr/bin/env bash
# Many idle TCP sessions against `mcptop serve --tcp` (release build, loopback):
# how long connecting takes and what each idle session costs mcptop and the server.
#   connect s      : from the run's start to the end of connecting (first "warm-up" line)
#   client KiB/sess: (mcptop RSS once connected - mcptop RSS before connecting) / sessions
#   slope KiB/sess : the result file's memory.bytes_per_session (least squares while connecting)
#   server KiB/sess: (server RSS once connected - its RSS idle) / sessions
# Both processes need a descriptor per session: the soft limit is raised to the hard one here
# (mcptop raises its own too). Counts past the hard limit are not capped quietly: the script
# says so before it starts, names the largest count the limit allows, and skips them.
# Each count gets a fresh server on a fresh port: the last run's client ports (in TIME_WAIT for
# a minute) are to another address, so they neither slow connecting nor fill the port range,
# and the server's RSS per session is measured from an idle server every time.
# usage: benches/sessions.sh [COUNTS...]   (default: 10000 50000)
set -euo pipefail
COUNTS=("${@:-10000 50000}")
# shellcheck disable=SC2206
COUNTS=(${COUNTS[*]})
cd "$(dirname "$0")/.."
[ -n "${NO_BUILD:-}" ] || nice -n 10 cargo build --release --quiet
BIN=$(realpath "${MCPTOP_BIN:-${CARGO_TARGET_DIR:-target}/release/mcptop}")
MAX=$(printf '%s\n' "${COUNTS[@]}" | sort -n | tail -1)
# Raising the hard limit needs CAP_SYS_RESOURCE; what the shell says when it is refused is kept.
RAISE=$( (ulimit -Hn $((MAX + 100))) 2>&1 || true)
ulimit -Hn $((MAX + 100)) 2>/dev/null || true
ulimit -n "$(ulimit -Hn)" 2>/dev/null || true
HARD=$(ulimit -Hn)
OUT=$(mktemp -d)
SERVER=""
cleanup() { [ -n "$SERVER" ] && kill "$SERVER" 2>/dev/null; rm -rf "$OUT"; }
trap cleanup EXIT

free_port() { python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'; }
start_server() {
  PORT=$(free_port)
  "$BIN" serve --tcp "127.0.0.1:$PORT" --max-connections 200000 >"$OUT/serve.log" 2>&1 &
  SERVER=$!
  for _ in $(seq 100); do grep -q listening "$OUT/serve.log" && break; sleep 0.1; done
  grep -q listening "$OUT/serve.log" || { echo "serve did not start:"; cat "$OUT/serve.log"; exit 2; }
}
stop_server() { kill "$SERVER" 2>/dev/null || true; wait "$SERVER" 2>/dev/null || true; SERVER=""; }

LARGEST=$((HARD - 100))
echo "open-file hard limit $HARD (ulimit -Hn); loopback port range $(tr '\t' - </proc/sys/net/ipv4/ip_local_port_range)"
for N in "${COUNTS[@]}"; do
  if [ "$N" -gt "$LARGEST" ]; then
    echo "NOT RUN: $N sessions need $N open files in mcptop and $N in the server, but the hard"
    echo "  open-file limit here is $HARD and raising it was refused (ulimit -Hn $((MAX + 100)): ${RAISE:-no message})."
    echo "  The largest count this limit allows is $LARGEST: benches/sessions.sh $LARGEST"
  fi
done
printf '%8s %10s %16s %15s %16s\n' sessions "connect s" "client KiB/sess" "slope KiB/sess" "server KiB/sess"
for N in "${COUNTS[@]}"; do
  if [ "$N" -gt "$LARGEST" ]; then
    printf '%8s  not run: needs %s open files in each process, the hard limit is %s\n' "$N" "$N" "$HARD"
    continue
  fi
  start_server
  cat >"$OUT/idle.toml" <<EOF
name = "idle-sessions"
target = "tcp://127.0.0.1:$PORT"
sessions = $N
rate = 10
duration = "3s"
warmup = "1s"
timeout = "30s"

[[ops]]
method = "ping"
EOF
  python3 - "$BIN" "$OUT" "$N" "$SERVER" <<'PY'
import json, subprocess, sys, threading, time
bin_, out, n, server = sys.argv[1], sys.argv[2], int(sys.argv[3]), int(sys.argv[4])
def rss(pid):
    try:
        for line in open(f"/proc/{pid}/status"):
            if line.startswith("VmRSS:"):
                return int(line.split()[1])  # KiB
    except OSError:
        return None
server_before = rss(server)
t0 = time.monotonic()
p = subprocess.Popen([bin_, "run", f"{out}/idle.toml", "-o", f"{out}/idle.json"],
                     stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
time.sleep(0.05)
before = rss(p.pid)
connected = {}
def watch():
    for line in p.stderr:
        if "connect" not in connected and ("warm-up" in line or "measuring" in line):
            connected["connect"] = time.monotonic() - t0
            connected["client"] = rss(p.pid)
            connected["server"] = rss(server)
threading.Thread(target=watch, daemon=True).start()
try:
    code = p.wait(timeout=300)
except subprocess.TimeoutExpired:
    p.kill(); print(f"{n:>8}  did not finish in 300 s"); sys.exit(0)
time.sleep(0.2)
if "connect" not in connected:
    print(f"{n:>8}  never connected (exit {code})"); sys.exit(0)
slope = (json.load(open(f"{out}/idle.json")).get("memory") or {}).get("bytes_per_session")
slope = f"{slope / 1024:.1f}" if slope else "-"
client = (connected["client"] - before) / n
server_per = (connected["server"] - server_before) / n
print(f"{n:>8} {connected['connect']:>10.2f} {client:>16.2f} {slope:>15} {server_per:>16.2f}")
PY
  stop_server
done
