#!/usr/bin/env bash
# The throughput cost of reading the target's GC report: the same closed-loop
# workload against the real peers (the TypeScript reference server on Node,
# the Python SDK server) with GC reporting on (the default) and off
# (`--no-gc-report`), alternating on/off so load drifts over both alike.
# Prints each run's req/s and the median per side, and the cost
# (1 - on/off). Goal (issue 13): at most 3 %.
#
#   eval "$(../shared/peers/install.sh)"
#   bash benches/gc_report_cost.sh [PAIRS] [SECONDS]    # defaults: 5 pairs of 5 s runs per peer
set -euo pipefail
pairs=${1:-5}
secs=${2:-5}
cd "$(dirname "$0")/.."
cargo build --release --quiet --bin mcptop
bin=$PWD/target/release/mcptop
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
rate() { python3 -c "import json,sys; print(json.load(open(sys.argv[1]))['overall']['throughput_msg_per_s'])" "$1"; }
median() { python3 -c "import statistics,sys; print(statistics.median(float(x) for x in sys.argv[1:]))" "$@"; }
for peer in PEER_EVERYTHING_STDIO PEER_PY_STDIO; do
    command=${!peer:?"$peer is not set: eval \"\$(../shared/peers/install.sh)\""}
    on=() off=()
    for i in $(seq "$pairs"); do
        for side in on off; do
            flag=(); [ "$side" = off ] && flag=(--no-gc-report)
            "$bin" run "$work/w.toml" --target "stdio:$command" --duration "${secs}s" \
                --warmup 1s --quiet --out "$work/r.json" "${flag[@]}" >/dev/null
            r=$(rate "$work/r.json")
            if [ "$side" = on ]; then on+=("$r"); else off+=("$r"); fi
            echo "$peer pair $i gc-report $side: $r req/s"
        done
    done
    m_on=$(median "${on[@]}")
    m_off=$(median "${off[@]}")
    python3 -c "import sys; on,off=float(sys.argv[2]),float(sys.argv[3]); print(f'{sys.argv[1]}: median on {on:.1f} req/s, off {off:.1f} req/s, cost {100*(1-on/off):+.1f} %')" "$peer" "$m_on" "$m_off"
done
