#!/usr/bin/env bash
# mcptop's rate next to the fastest plain client on each transport, against
# `mcptop serve` (issue 14): the user's plain command,
#     mcptop run echo --target T --concurrency C
# (the shipped echo workload: 4 sessions, C/4 in flight each), alternated with
#   stdio: examples/minimal_client.rs over 4 `mcptop serve --stdio` children;
#   ws:    the same client over 4 WebSocket connections to `mcptop serve --ws`;
#   http:  wrk -t1 -cC on `mcptop serve --http --json-response --stateless`
#          (oha too, when installed).
# The reference clients send mcptop's own bytes: the stdio and WebSocket
# lines are captured from a mcptop run through `tee` (its handshake, then
# its tools/call with the id renumbered), the HTTP request is the one in
# benches/lib/vs_wrk.sh. Each of REPEATS rounds runs the reference, mcptop,
# the reference again; a round's ratio is mcptop over the mean of the two.
#
# Usage: [REPEATS=3] [TRANSPORTS="stdio ws http"] [MCPTOP_ARGS="--threads 2"] bash benches/transport_ceiling.sh [CONCURRENCY=8] [SECONDS=5]
set -euo pipefail
cd "$(dirname "$0")/.."
C=${1:-8}
SECS=${2:-5}
REPEATS=${REPEATS:-3}
TRANSPORTS=${TRANSPORTS:-stdio ws http}
nice -n 10 cargo build --release --quiet --bin mcptop --example minimal_client
BIN=${MCPTOP_BIN:-$PWD/${CARGO_TARGET_DIR:-target}/release/mcptop}
MIN=$PWD/${CARGO_TARGET_DIR:-target}/release/examples/minimal_client
# shellcheck source=benches/lib/servers.sh
. benches/lib/servers.sh
# shellcheck source=benches/lib/vs_wrk.sh
. benches/lib/vs_wrk.sh
vs_wrk_files

# mcptop's rate with the plain command on TARGET.
mcptop_plain() {
    # shellcheck disable=SC2086 # MCPTOP_ARGS: words of extra flags, e.g. "--threads 2"
    "$BIN" run echo --target "$1" --concurrency "$C" --duration "${SECS}s" --warmup 1s \
        --quiet --out "$WORK/m.json" ${MCPTOP_ARGS:-} >/dev/null
    python3 -c "import json,sys; print(round(json.load(open(sys.argv[1]))['overall']['throughput_msg_per_s']))" "$WORK/m.json"
}

# What mcptop sends on one stdio session: its handshake and first tools/call.
"$BIN" run echo --sessions 1 --concurrency 1 --duration 1s --warmup 0s --quiet \
    --target "stdio:sh -c 'tee $WORK/sent.jsonl | $BIN serve --stdio'" --out "$WORK/capture.json" >/dev/null
python3 - "$WORK" <<'PY'
import sys
work = sys.argv[1]
lines = [l for l in open(f"{work}/sent.jsonl") if l.strip()]
first = next(i for i, l in enumerate(lines) if '"tools/call"' in l)
open(f"{work}/handshake.jsonl", "w").writelines(lines[:first])
open(f"{work}/request.json", "w").write(lines[first])
PY
echo "mcptop's stdio handshake: $(wc -l <"$WORK/handshake.jsonl") lines; request: $(cat "$WORK/request.json")"

: >"$WORK/table"
# compare LABEL REFERENCE_NAME REF_CMD... -- TARGET: REPEATS rounds.
compare() {
    local label=$1 refname=$2
    shift 2
    local ref=()
    while [ "$1" != -- ]; do ref+=("$1"); shift; done
    local target=$2 i r1 m r2
    for i in $(seq "$REPEATS"); do
        r1=$("${ref[@]}")
        m=$(mcptop_plain "$target")
        r2=$("${ref[@]}")
        echo "$label round $i: $refname $r1, mcptop $m, $refname $r2 req/s"
        echo "$label $refname $r1 $m $r2" >>"$WORK/table"
    done
}

minimal() { "$MIN" "$@" "$WORK/handshake.jsonl" "$WORK/request.json" | awk '{print $1}'; }
wrk_ref() { wrk -t1 -c"$C" -d"${SECS}s" -s "$WORK/echo.lua" "$URL" | awk '/Requests\/sec/ {print int($2)}'; }
oha_ref() { oha -z "${SECS}s" -c "$C" --no-tui -m POST -D "$WORK/body.json" -H 'Accept: application/json, text/event-stream' -H 'MCP-Protocol-Version: 2026-07-28' -H 'Mcp-Method: tools/call' -H 'Mcp-Name: echo' -T application/json "$URL" | awk '/Requests\/sec/ {print int($2)}'; }

for t in $TRANSPORTS; do
    case $t in
        stdio)
            compare stdio minimal_client minimal stdio "$BIN serve --stdio" 4 "$C" "$SECS" -- "stdio:$BIN serve --stdio"
            ;;
        ws)
            serve --ws 127.0.0.1:0
            compare ws minimal_client minimal ws "$URL" 4 "$C" "$SECS" -- "$URL"
            kill "$SERVER_PID"
            ;;
        http)
            serve --http 127.0.0.1:0 --json-response --stateless
            compare http wrk wrk_ref -- "$URL"
            if command -v oha >/dev/null; then
                sed -n "s/^wrk.body = '\\(.*\\)\\\\n'$/\\1/p" "$WORK/echo.lua" >"$WORK/body.json"
                compare http oha oha_ref -- "$URL"
            fi
            kill "$SERVER_PID"
            ;;
    esac
done

python3 - "$WORK/table" "$C" <<'PY'
import statistics, sys
from collections import defaultdict
rows = defaultdict(list)
for line in open(sys.argv[1]):
    t, ref, r1, m, r2 = line.split()
    rows[(t, ref)].append((float(m), (float(r1) + float(r2)) / 2))
best = {}
for (t, ref), v in rows.items():
    r = statistics.median(x[1] for x in v)
    if t not in best or r > best[t][1]:
        best[t] = (ref, r, statistics.median(x[0] for x in v), [x[0] / x[1] for x in v])
print(f"\nconcurrency {sys.argv[2]}, medians over rounds:")
print(f"{'transport':<10} {'mcptop req/s':>13} {'best plain client':>18} {'req/s':>9} {'mcptop/best':>12}  per round")
for t, (ref, r, m, ratios) in best.items():
    per = ", ".join(f"{100*x:.0f} %" for x in ratios)
    print(f"{t:<10} {m:>13.0f} {ref:>18} {r:>9.0f} {100*statistics.median(ratios):>11.1f} %  {per}")
PY
