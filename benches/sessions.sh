#!/usr/bin/env bash
# Many idle TCP sessions against `mcptop serve --tcp` (release build, loopback):
# how long connecting takes and what each idle session costs mcptop and the server.
#   procs          : mcptop clients (and servers) the count is split over, one pair per shard
#   connect s      : from the common start to the last shard connected (its first "warm-up" line)
#   client KiB/sess: sum over shards of (mcptop RSS once connected - its RSS before) / sessions
#   slope KiB/sess : the result file's memory.bytes_per_session (least squares while connecting;
#                    with shards, the mean of theirs)
#   server KiB/sess: sum over servers of (RSS once connected - RSS idle) / sessions
#   established    : the servers' established connections (`ss`) once the last shard connected:
#                    the sessions that were all open at the same moment
#   shard I: connect / initialize: the result file's connection_phases (each session's TCP connect,
#                    its initialize round trip), p50, p99 and max; and the CPU time mcptop and
#                    its server spent per session until connected (/proc/PID/stat, user/system)
# Each process needs a descriptor per session, and the hard open-file limit is per process:
# a count above what one process may hold is split over P = ceil(count / per-process) mcptop
# clients (`--shard i/P`, started together), each against its own `mcptop serve --tcp` on its
# own port (so each destination also has its own ephemeral port range), and the shards' result
# files are merged with `mcptop merge`. The script says how many processes and why.
# The soft limit is raised to the hard one here (mcptop raises its own too).
# Each count gets fresh servers on fresh ports: the last run's client ports (in TIME_WAIT for
# a minute) are to other addresses, so they neither slow connecting nor fill the port range,
# and the servers' RSS per session is measured from idle servers every time.
# usage: benches/sessions.sh [COUNTS...]   (default: 10000 50000)
#   MCPTOP_BIN=PATH (mcptop to run), SERVE_BIN=PATH (the servers' mcptop, default MCPTOP_BIN),
#   NO_BUILD=1 (no cargo build first)
set -euo pipefail
COUNTS=("${@:-10000 50000}")
# shellcheck disable=SC2206
COUNTS=(${COUNTS[*]})
cd "$(dirname "$0")/.."
[ -n "${NO_BUILD:-}" ] || nice -n 10 cargo build --release --quiet
BIN=$(realpath "${MCPTOP_BIN:-${CARGO_TARGET_DIR:-target}/release/mcptop}")
# The servers' binary (default the same): another build's, to tell the client's changes apart.
SERVE_BIN=$(realpath "${SERVE_BIN:-$BIN}")
MAX=$(printf '%s\n' "${COUNTS[@]}" | sort -n | tail -1)
# Raising the hard limit needs CAP_SYS_RESOURCE; what the shell says when it is refused is kept.
RAISE=$( (ulimit -Hn $((MAX + 100))) 2>&1 || true)
ulimit -Hn $((MAX + 100)) 2>/dev/null || true
ulimit -n "$(ulimit -Hn)" 2>/dev/null || true
HARD=$(ulimit -Hn)
read -r PORT_LO PORT_HI </proc/sys/net/ipv4/ip_local_port_range
PORTS=$((PORT_HI - PORT_LO + 1))
OUT=$(mktemp -d)
SERVERS=()
stop_servers() {
  for s in "${SERVERS[@]+"${SERVERS[@]}"}"; do kill "$s" 2>/dev/null || true; done
  for s in "${SERVERS[@]+"${SERVERS[@]}"}"; do wait "$s" 2>/dev/null || true; done
  SERVERS=()
}
cleanup() { stop_servers; rm -rf "$OUT"; }
trap cleanup EXIT

# Sessions one process pair may hold: a descriptor each below the hard limit (1,000 kept for
# the runtime, the listener and stdio), and an ephemeral port each to one destination from
# the first half of the range: Linux's connect() takes ports of one parity first, so past
# half the range every connect scans the used half first (measured: 16,667 sessions to one
# port cost mcptop 510-560 us of system time per session, 12,500 cost 105-118 us).
PER=$((HARD - 1000))
[ "$PORTS" -gt 4000 ] && [ $((PORTS / 2 - 1000)) -lt "$PER" ] && PER=$((PORTS / 2 - 1000))
[ "$PER" -lt 100 ] && PER=100
# PER_PROCESS=N: at most N sessions per process pair (fewer than the limits allow).
[ -n "${PER_PROCESS:-}" ] && [ "$PER_PROCESS" -lt "$PER" ] && PER=$PER_PROCESS

free_port() { python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'; }
# start_server I: server I on a fresh port, into SERVERS and SERVER_PORTS.
start_server() {
  local port log=$OUT/serve-$1.log
  port=$(free_port)
  "$SERVE_BIN" serve --tcp "127.0.0.1:$port" --max-connections 200000 >"$log" 2>&1 &
  SERVERS+=($!)
  SERVER_PORTS+=("$port")
  for _ in $(seq 100); do grep -q listening "$log" && break; sleep 0.1; done
  grep -q listening "$log" || { echo "serve did not start:"; cat "$log"; exit 2; }
}

echo "open-file hard limit $HARD (ulimit -Hn); loopback port range $PORT_LO-$PORT_HI ($PORTS ports per destination)"
for N in "${COUNTS[@]}"; do
  P=$(((N + PER - 1) / PER))
  if [ "$P" -gt 1 ]; then
    echo "$N sessions: $P client processes and $P servers ($((N / P))-$(((N + P - 1) / P)) sessions each)."
    echo "  Why: a process holds one descriptor per session and the hard open-file limit is $HARD per"
    echo "  process (raising it was refused: ${RAISE:-no message}); a destination has $PORTS ephemeral"
    echo "  ports, and connect() slows past half of them (one parity first). One pair holds at most"
    echo "  $PER here, so each shard (mcptop run --shard i/$P) gets its own"
    echo "  server on its own port, all shards start together, and mcptop merge adds their results."
  fi
done
printf '%8s %6s %10s %16s %15s %16s %12s\n' sessions procs "connect s" "client KiB/sess" \
  "slope KiB/sess" "server KiB/sess" established
for N in "${COUNTS[@]}"; do
  P=$(((N + PER - 1) / PER))
  SERVER_PORTS=()
  for i in $(seq 0 $((P - 1))); do start_server "$i"; done
  # Shards stay connected until the slowest has connected: their measured time covers it.
  DURATION=3s
  [ "$P" -gt 1 ] && DURATION=20s
  cat >"$OUT/idle.toml" <<EOF
name = "idle-sessions"
target = "tcp://127.0.0.1:${SERVER_PORTS[0]}"
sessions = $N
rate = 10
duration = "$DURATION"
warmup = "1s"
timeout = "30s"

[[ops]]
method = "ping"
EOF
  python3 - "$BIN" "$OUT" "$N" "${SERVERS[*]}" "${SERVER_PORTS[*]}" <<'PY'
import json, subprocess, sys, threading, time
bin_, out, n = sys.argv[1], sys.argv[2], int(sys.argv[3])
servers = [int(s) for s in sys.argv[4].split()]
ports = sys.argv[5].split()
shards = len(servers)
def rss(pid):
    try:
        for line in open(f"/proc/{pid}/status"):
            if line.startswith("VmRSS:"):
                return int(line.split()[1])  # KiB
    except OSError:
        return None
def established():
    # The servers' side of each connection: its source port is a server's.
    filt = "( " + " or ".join(f"sport = :{p}" for p in ports) + " )"
    r = subprocess.run(["ss", "-Htn", "state", "established", filt],
                       capture_output=True, text=True, timeout=60)
    return r.stdout.count("\n")
def cpu(pid):
    # user and system seconds so far (clock ticks of /proc/PID/stat)
    try:
        fields = open(f"/proc/{pid}/stat").read().rsplit(")", 1)[1].split()
        return int(fields[11]) / 100, int(fields[12]) / 100
    except (OSError, IndexError, ValueError):
        return 0.0, 0.0
servers_before = [rss(s) for s in servers]
servers_cpu_before = [cpu(s) for s in servers]
def command(i):
    cmd = [bin_, "run", f"{out}/idle.toml", "-o", f"{out}/idle-{i}.json"]
    if shards > 1:
        cmd += ["--shard", f"{i}/{shards}", "-t", f"tcp://127.0.0.1:{ports[i]}"]
    return cmd
t0 = time.monotonic()
procs = [subprocess.Popen(command(i), stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
         for i in range(shards)]
time.sleep(0.05)
before = [rss(p.pid) for p in procs]
connected = [dict() for _ in procs]
lock = threading.Lock()
state = {}
def watch(i):
    for line in procs[i].stderr:
        c = connected[i]
        if "connect" not in c and ("warm-up" in line or "measuring" in line):
            c["connect"] = time.monotonic() - t0
            c["client"] = rss(procs[i].pid)
            c["server"] = rss(servers[i])
            c["client_cpu"] = cpu(procs[i].pid)
            c["server_cpu"] = cpu(servers[i])
            with lock:
                if all("connect" in x for x in connected) and "established" not in state:
                    state["established"] = established()
watchers = [threading.Thread(target=watch, args=(i,), daemon=True) for i in range(shards)]
for w in watchers:
    w.start()
codes = []
try:
    deadline = t0 + 300
    for p in procs:
        codes.append(p.wait(timeout=max(1, deadline - time.monotonic())))
except subprocess.TimeoutExpired:
    print(f"{n:>8}  did not finish in 300 s"); sys.exit(0)
finally:
    for p in procs:
        if p.poll() is None:
            p.kill(); p.wait()
for w in watchers:
    w.join(timeout=10)
if not all("connect" in c for c in connected):
    print(f"{n:>8}  never connected (exit {codes})"); sys.exit(0)
slopes = [(json.load(open(f"{out}/idle-{i}.json")).get("memory") or {}).get("bytes_per_session")
          for i in range(shards)]
slopes = [s for s in slopes if s]
slope = f"{sum(slopes) / len(slopes) / 1024:.1f}" if slopes else "-"
last = max(c["connect"] for c in connected)
client = sum(c["client"] - b for c, b in zip(connected, before)) / n
server_per = sum(c["server"] - b for c, b in zip(connected, servers_before)) / n
print(f"{n:>8} {shards:>6} {last:>10.2f} {client:>16.2f} {slope:>15} {server_per:>16.2f} "
      f"{state.get('established', 0):>12}")
def phases(i):
    ph = json.load(open(f"{out}/idle-{i}.json")).get("connection_phases") or {}
    return "; ".join(f"{k} p50 {v['p50_us'] / 1000:.1f} p99 {v['p99_us'] / 1000:.1f} "
                     f"max {v['max_us'] / 1000:.0f} ms" for k, v in ph.items() if v)
for i in range(shards):
    c, part = connected[i], n // shards + (i < n % shards)
    us = lambda t, t0=(0.0, 0.0): "/".join(f"{(a - b) * 1e6 / part:.0f}" for a, b in zip(t, t0))
    print(f"{'':>8}   shard {i}: {phases(i)}; CPU us/session (user/sys) mcptop "
          f"{us(c['client_cpu'])}, server {us(c['server_cpu'], servers_cpu_before[i])}")
if shards > 1:
    first = min(c["connect"] for c in connected)
    print(f"{'':>8}   shards connected between {first:.2f} and {last:.2f} s; each: "
          + ", ".join(f"{c['connect']:.2f}" for c in connected))
    files = [f"{out}/idle-{i}.json" for i in range(shards)]
    m = subprocess.run([bin_, "merge", *files, "-o", f"{out}/merged.json"],
                       stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True, timeout=120)
    if m.returncode not in (0, 1):
        print(f"{'':>8}   mcptop merge failed ({m.returncode}): {m.stderr.strip()}"); sys.exit(0)
    merged = json.load(open(f"{out}/merged.json"))
    overall = merged.get("overall") or {}
    print(f"{'':>8}   mcptop merge: {merged['load']['sessions']} sessions in "
          f"{merged['merged_shards']['count']} shards, {overall.get('operations', '?')} requests, "
          f"{overall.get('errors', '?')} errors")
PY
  stop_servers
done
