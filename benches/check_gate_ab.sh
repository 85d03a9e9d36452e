#!/usr/bin/env bash
# The same measured runs judged by two mcptop binaries: does a change to the
# gate's statistics cry wolf more often, or catch a 20 % slowdown less often?
# benches/check_gate.sh measures each binary on its own runs, so on a shared
# machine whose load drifts the two are never judged on the same data; this
# script separates the statistic from the measurement.
#
# With OLD's `baseline save --quick` (five plain runs, no outlier reruns) it
# collects N run sets of the CPU-bound cpu-gate workload (the cpu tool, 100 µs
# per call) and N with the tool 20 % slower (120 µs), alternating, so load
# drifts over both alike. Then each binary compares every ordered pair of
# unchanged sets (false alarms: N(N-1) pairs) and every unchanged set against
# every slower set (catches: N^2 pairs). The pairs share run sets, so the
# rates describe these runs; they are not independent trials.
#
#   bash benches/check_gate_ab.sh OLD_MCPTOP [N] [DIR]    # N defaults to 10; ~20 s per run set
#
# DIR keeps the run sets (same-I.json, slow-I.json); run sets already in it
# are judged again rather than measured again.
set -euo pipefail
old=$(realpath "$1")
n=${2:-10}
cd "$(dirname "$0")/.."
lib=$PWD/benches/lib
cargo build --release --quiet --bin mcptop
new=$PWD/target/release/mcptop
if [ -n "${3:-}" ]; then
    mkdir -p "$3"
    work=$(realpath "$3")
else
    work=$(mktemp -d)
    trap 'rm -rf "$work"' EXIT
fi
cd "$work"
mkdir -p workloads
# shellcheck source=benches/lib/cpu_gate.sh
. "$lib/cpu_gate.sh"
start=$(date +%s)
for i in $(seq 1 "$n"); do
    [ -f "slow-$i.json" ] && continue
    gate 100
    "$old" baseline save cpu-gate --quick --baseline "same-$i.json" > /dev/null 2>&1
    gate 120
    "$old" baseline save cpu-gate --quick --baseline "slow-$i.json" > /dev/null 2>&1
done
echo "collected $n + $n run sets of 5 quick runs in $(( $(date +%s) - start )) s (load average now: $(cut -d' ' -f1-3 /proc/loadavg))"
# judge LABEL BINARY EXTRA-ARGS: every pair, counted by verdict and by the
# metrics that regressed.
judge() {
    local label=$1 bin=$2 extra=$3 fa=0 pairs=0 caught=0 cpairs=0
    : > "metrics-$label.txt"
    for i in $(seq 1 "$n"); do
        for j in $(seq 1 "$n"); do
            if [ "$i" != "$j" ]; then
                pairs=$((pairs + 1))
                set +e
                "$bin" compare "same-$i.json" "same-$j.json" > out.txt 2>/dev/null
                rc=$?
                set -e
                if [ $rc = 1 ]; then
                    fa=$((fa + 1))
                    grep -E '^  \S.* REGRESSED$' out.txt | awk '{print "false alarm:", $1}' >> "metrics-$label.txt"
                fi
            fi
            cpairs=$((cpairs + 1))
            set +e
            # shellcheck disable=SC2086
            "$bin" compare "same-$i.json" "slow-$j.json" $extra > out.txt 2>/dev/null
            rc=$?
            set -e
            if [ $rc = 1 ]; then
                caught=$((caught + 1))
                grep -E '^  \S.* REGRESSED$' out.txt | awk '{print "caught by:", $1}' >> "metrics-$label.txt"
            fi
        done
    done
    echo "| $label | $fa of $pairs | $caught of $cpairs |"
    sort "metrics-$label.txt" | uniq -c | sed 's/^/    /'
}
echo "| statistic | false alarms (unchanged vs unchanged) | caught (unchanged vs 20 % slower) |"
echo "|---|---|---|"
judge old "$old" ""
# The new binary refuses to compare different workload files without --force.
judge new "$new" "--force"
echo "example (new): same-1 vs slow-1"
"$new" compare same-1.json slow-1.json --force || true
