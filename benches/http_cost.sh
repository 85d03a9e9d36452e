#!/usr/bin/env bash
# What one HTTP request costs the client, mcptop next to wrk, on one
# `mcptop serve --http --json-response --stateless` (release build): CPU time
# (user + system) and context switches (voluntary: the thread slept, e.g. a
# parked worker; involuntary: preempted) per request, from the kernel's rusage
# of each client process, and the same for the server over each client's run
# (/proc). On a loaded box these move much less than the rates do, which is
# why they are the figures to compare before and after a change.
#
# mcptop runs the user's plain command, `mcptop run echo --concurrency C`
# (4 sessions, C connections), warm-up included in its figures; wrk runs
# `-t1 -cC` posting the same request bytes (benches/lib/vs_wrk.sh's script).
#
# Usage: [REPEATS=3] [BIN=mcptop] [BASE_BIN=other/mcptop] [NO_BUILD=1] benches/http_cost.sh [CONNECTIONS=8] [SECONDS=5]
# Needs wrk. Every server started here is killed on exit.
set -euo pipefail
cd "$(dirname "$0")/.."
C=${1:-8}
SECS=${2:-5}
if [ "${NO_BUILD:-0}" != 1 ]; then cargo build --release --quiet --bin mcptop; fi
BIN=${BIN:-${CARGO_TARGET_DIR:-target}/release/mcptop}
# shellcheck source=benches/lib/servers.sh
. benches/lib/servers.sh
# shellcheck source=benches/lib/vs_wrk.sh
. benches/lib/vs_wrk.sh
vs_wrk_files

serve --http 127.0.0.1:0 --json-response --stateless
echo "== HTTP client cost: $URL, $C connections, ${SECS}s, ${REPEATS:-3} rounds, load $(cut -d' ' -f1-3 /proc/loadavg)"

# LABEL COMMAND...: runs the client, prints one line of its figures.
cost() {
    python3 - "$SERVER_PID" "$WORK/r.json" "$@" <<'PY'
import glob, json, os, re, resource, subprocess, sys
server, out, label, *cmd = sys.argv[1:]
tick = os.sysconf("SC_CLK_TCK")
def server_now():
    cpu = sum(int(x) for x in open(f"/proc/{server}/stat").read().rsplit(")", 1)[1].split()[11:13]) / tick
    cs = 0
    for status in glob.glob(f"/proc/{server}/task/*/status"):
        try:
            text = open(status).read()
        except OSError:
            continue
        cs += sum(int(v) for v in re.findall(r"ctxt_switches:\s+(\d+)", text))
    return cpu, cs
s0 = server_now()
done = subprocess.run(cmd, check=True, capture_output=True, text=True)
s1 = server_now()
ru = resource.getrusage(resource.RUSAGE_CHILDREN)
if label == "wrk":
    n = int(re.search(r"(\d+) requests in", done.stdout).group(1))
    rate = float(re.search(r"Requests/sec:\s+([\d.]+)", done.stdout).group(1))
else:
    r = json.load(open(out))
    n = r["overall"]["operations"] + r.get("warmup_samples", 0)
    rate = r["overall"]["throughput_msg_per_s"]
n = max(n, 1)
print(f"{label:>6}: {rate:8.0f} req/s | client {(ru.ru_utime + ru.ru_stime) * 1e6 / n:5.1f} us CPU, "
      f"{ru.ru_nvcsw / n:5.2f} vol + {ru.ru_nivcsw / n:5.2f} invol switches per request | "
      f"server {(s1[0] - s0[0]) * 1e6 / n:5.1f} us CPU, {(s1[1] - s0[1]) / n:5.2f} switches per request")
PY
}

mcptop_cmd() {
    echo "$1" run echo --target "$URL" --concurrency "$C" --duration "${SECS}s" --warmup 1s --quiet --out "$WORK/r.json"
}

wrk -t1 -c"$C" -d2s -s "$WORK/echo.lua" "$URL" >/dev/null # warm-up
for i in $(seq "${REPEATS:-3}"); do
    echo "-- round $i"
    cost wrk wrk -t1 -c"$C" -d"${SECS}s" -s "$WORK/echo.lua" "$URL"
    # shellcheck disable=SC2046
    cost mcptop $(mcptop_cmd "$BIN")
    if [ -n "${BASE_BIN:-}" ]; then
        # shellcheck disable=SC2046
        cost base $(mcptop_cmd "$BASE_BIN")
    fi
done
