# shellcheck shell=bash
# Shared by benches/http_vs_wrk.sh and benches/https_vs_wrk.sh (sourced, not
# run): write the wrk script that posts the very request mcptop sends (same
# body, same headers), and alternate wrk and mcptop on one endpoint so the
# shared machine's drifting load hits both alike.
#
# The caller sources benches/lib/servers.sh first (WORK, PIDS, `serve`) and
# sets BIN (the mcptop binary), C (connections) and SECS (seconds per
# measurement). Optional: REPEATS (rounds, default 3), BASE_BIN
# (a second mcptop binary, e.g. main's, measured in the same rounds so a
# before/after comparison shares the load) and VS_WRK_PLAIN=1 (mcptop runs the
# user's plain command, `run echo --concurrency C`, the shipped workload's
# sessions and connection defaults: 4 sessions, C/4 connections each, so C
# connections like wrk's; else the one-session workload vs_wrk_files writes).

# The workload (echo only, one session, C connections with C in flight) and
# the request mcptop sends in the stateless era it negotiates with
# `serve --json-response --stateless`, as a wrk script.
vs_wrk_files() {
    cat >"$WORK/echo.toml" <<TOML
name = "echo-http-bench"
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
    cat >"$WORK/echo.lua" <<'LUA'
wrk.method = "POST"
wrk.body = '{"jsonrpc":"2.0","id":1,"method":"tools/call","params":{"_meta":{"io.modelcontextprotocol/clientCapabilities":{},"io.modelcontextprotocol/clientInfo":{"name":"mcptop","version":"0.1.0"},"io.modelcontextprotocol/protocolVersion":"2026-07-28"},"name":"echo","arguments":{"message":"hello from mcptop"}}}\n'
wrk.headers["Content-Type"] = "application/json"
wrk.headers["Accept"] = "application/json, text/event-stream"
wrk.headers["MCP-Protocol-Version"] = "2026-07-28"
wrk.headers["Mcp-Method"] = "tools/call"
wrk.headers["Mcp-Name"] = "echo"
LUA
}

# wrk's rate on URL over SECS seconds (its output on stderr, indented).
wrk_rate() {
    local out
    out=$(wrk -t1 -c"$C" -d"${SECS}s" -s "$WORK/echo.lua" "$URL")
    echo "$out" | sed 's/^/   wrk | /' >&2
    echo "$out" | awk '/Requests\/sec/ {print $2}'
}

# `MCPTOP_BIN run` of the workload on URL with extra ARGS; prints "RATE
# CPU_US": successful replies/s and CPU per request sent (user + system from
# the kernel's rusage of the run process, warm-up included).
mcptop_rate() {
    local bin=$1
    shift
    local run=("$WORK/echo.toml")
    if [ "${VS_WRK_PLAIN:-0}" = 1 ]; then
        run=(echo --concurrency "$C" --duration "${SECS}s" --warmup 2s)
    fi
    python3 - "$bin" "$URL" "$WORK/r.json" "${run[@]}" -- "$@" <<'PY'
import json, resource, subprocess, sys
bin_, url, out, *rest = sys.argv[1:]
cut = rest.index("--")
workload, extra = rest[:cut], rest[cut + 1:]
subprocess.run([bin_, "run", *workload, "--target", url, "--quiet", "--out", out, *extra],
               check=True, stdout=subprocess.DEVNULL)
ru = resource.getrusage(resource.RUSAGE_CHILDREN)
r = json.load(open(out))
sent = r["overall"]["operations"] + r.get("warmup_samples", 0)
cpu_us = (ru.ru_utime + ru.ru_stime) * 1e6 / max(sent, 1)
print(f"{r['overall']['throughput_msg_per_s']:.0f} {cpu_us:.1f}")
PY
}

# LABEL [ARGS...]: REPEATS rounds of wrk, mcptop (then BASE_BIN's mcptop, if
# set), wrk on URL; each round's mcptop rate as a share of the mean of the wrk
# runs around it, then the median round.
vs_wrk_measure() {
    local label=$1
    shift
    local rounds=${REPEATS:-3} i w1 w2 m b line
    wrk -t1 -c"$C" -d2s -s "$WORK/echo.lua" "$URL" >/dev/null # warm-up
    : >"$WORK/rounds"
    for i in $(seq "$rounds"); do
        w1=$(wrk_rate)
        m=$(mcptop_rate "$BIN" "$@")
        b="- -"
        if [ -n "${BASE_BIN:-}" ]; then b=$(mcptop_rate "$BASE_BIN" "$@"); fi
        w2=$(wrk_rate)
        line="$i $w1 $w2 $m $b"
        echo "$line" >>"$WORK/rounds"
    done
    python3 - "$label" "$WORK/rounds" <<'PY'
import statistics, sys
label, path = sys.argv[1], sys.argv[2]
ratios, base_ratios = [], []
for row in open(path):
    i, w1, w2, m, cpu, b, bcpu = row.split()
    w = (float(w1) + float(w2)) / 2
    r = float(m) / w
    ratios.append(r)
    text = (f"{label} round {i}: mcptop {float(m):.0f} req/s ({float(cpu):.1f} us CPU/request), "
            f"wrk {w:.0f} req/s (before {float(w1):.0f}, after {float(w2):.0f}) -> {100*r:.1f} % of wrk")
    if b != "-":
        br = float(b) / w
        base_ratios.append(br)
        text += f"; base {float(b):.0f} req/s ({float(bcpu):.1f} us CPU/request) -> {100*br:.1f} %"
    print(text)
summary = f"{label}: median {100*statistics.median(ratios):.1f} % of wrk over {len(ratios)} rounds"
if base_ratios:
    summary += f" (base binary {100*statistics.median(base_ratios):.1f} %)"
print(summary + " (goal >= 95 %)")
PY
}
