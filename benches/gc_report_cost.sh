#!/usr/bin/env bash
# The cost of reading the target's GC report: the same closed-loop workload
# against the real peers (the TypeScript reference server on Node, the Python
# SDK server) with GC reporting on (the default) and off (`--no-gc-report`),
# alternating on/off so load drifts over both alike. Two figures per run:
#   - throughput (req/s), what the issue's goal is about (cost = 1 - on/off);
#   - the server's own CPU time per request (µs), taken as a slope between a
#     short and a long run of
#     the same side (so start-up is not counted), read by benches/child_cpu.py
#     wrapped around the server. On a shared, busy machine
#     throughput swings with whatever else runs, while CPU per request moves
#     much less: it is the steadier estimate of what the report costs the
#     server.
# Prints each run and the medians per side. Goal (issue 13): at most 3 %.
#
#   eval "$(../shared/peers/install.sh)"
#   bash benches/gc_report_cost.sh [PAIRS] [REQUESTS]   # defaults: 5 pairs, 20000 requests per long run
set -euo pipefail
pairs=${1:-5}
requests=${2:-20000}
short=$((requests / 10))
cd "$(dirname "$0")/.."
cargo build --release --quiet --bin mcptop
bin=$PWD/target/release/mcptop
# The server's CPU time, written when it ends (see the script's own doc).
wrap="python3 -S -E $PWD/benches/child_cpu.py"
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
cat > "$work/w.toml" <<'TOML'
name = "gc-cost"
description = "echoes and tool listings, closed loop"
sessions = 1
concurrency = 8
[[ops]]
method = "tools/call"
tool = "echo"
arguments = { message = "a message the server copies into its reply" }
[[ops]]
method = "tools/list"
TOML
field() { python3 -c "import json,sys; print(json.load(open(sys.argv[1]))['overall'][sys.argv[2]])" "$1" "$2"; }
cpu_s() { cat "$1"; }
median() { python3 -c "import statistics,sys; print(statistics.median(float(x) for x in sys.argv[1:]))" "$@"; }
# One run of N requests; prints "req/s cpu_seconds".
one() {
    local command=$1 runtime=$2 n=$3; shift 3
    rm -f "$work/cpu"
    "$bin" run "$work/w.toml" --target "stdio:$wrap $work/cpu $command" \
        --runtime "$runtime" --requests "$n" --warmup 0s --quiet --out "$work/r.json" "$@" >/dev/null
    echo "$(field "$work/r.json" throughput_msg_per_s) $(cpu_s "$work/cpu")"
}
for peer in PEER_EVERYTHING_STDIO:node PEER_PY_STDIO:python; do
    var=${peer%%:*} runtime=${peer##*:}
    command=${!var:?"$var is not set: eval \"\$(../shared/peers/install.sh)\""}
    rate_on=() rate_off=() cpu_on=() cpu_off=()
    for i in $(seq "$pairs"); do
        for side in on off; do
            flag=(); [ "$side" = off ] && flag=(--no-gc-report)
            read -r rate long < <(one "$command" "$runtime" "$requests" "${flag[@]}")
            read -r _ brief < <(one "$command" "$runtime" "$short" "${flag[@]}")
            us=$(python3 -c "import sys; print((float(sys.argv[1])-float(sys.argv[2]))/(int(sys.argv[3])-int(sys.argv[4]))*1e6)" "$long" "$brief" "$requests" "$short")
            if [ "$side" = on ]; then rate_on+=("$rate"); cpu_on+=("$us"); else rate_off+=("$rate"); cpu_off+=("$us"); fi
            printf '%s pair %s gc-report %-3s: %8.1f req/s  server CPU %7.1f us/request\n' "$var" "$i" "$side" "$rate" "$us"
        done
    done
    python3 - "$var" "${rate_on[*]}" "${rate_off[*]}" "${cpu_on[*]}" "${cpu_off[*]}" <<'PY'
import statistics, sys
peer = sys.argv[1]
r_on, r_off, c_on, c_off = ([float(x) for x in a.split()] for a in sys.argv[2:])
m = statistics.median
print(f"{peer}: median throughput on {m(r_on):.1f} off {m(r_off):.1f} req/s, cost {100*(1-m(r_on)/m(r_off)):+.1f} %; "
      f"server CPU on {m(c_on):.1f} off {m(c_off):.1f} us/request, cost {100*(m(c_on)/m(c_off)-1):+.1f} %")
# Each pair ran back to back: the median of the pairs' own ratios drifts less with the machine.
pairs_r = [1 - a / b for a, b in zip(r_on, r_off)]
pairs_c = [a / b - 1 for a, b in zip(c_on, c_off)]
print(f"{peer}: paired cost, median (min..max): throughput {100*m(pairs_r):+.1f} % "
      f"({100*min(pairs_r):+.1f}..{100*max(pairs_r):+.1f}), server CPU {100*m(pairs_c):+.1f} % "
      f"({100*min(pairs_c):+.1f}..{100*max(pairs_c):+.1f})")
PY
done
