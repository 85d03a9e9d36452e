#!/usr/bin/env bash
# Does the pre-commit check cry wolf, and does it catch a 20 % slowdown?
# On this machine, with a CPU-bound builtin workload (the cpu tool burning
# 100 µs per call): save a quick baseline, then run `mcptop check --quick`
# N times unchanged and N times with the tool made 20 % slower (120 µs).
#
#   bash benches/check_gate.sh [N] [OLD_MCPTOP]   # N defaults to 20; ~8 s per check
#
# With OLD_MCPTOP (another build of mcptop), each binary saves its own
# baseline and every check is made by both, back to back, so the machine's
# load drifts over both alike (benches/check_gate_ab.sh judges the very
# same runs with both instead).
set -euo pipefail
cd "$(dirname "$0")/.."
lib=$PWD/benches/lib
n=${1:-20}
old=${2:+$(realpath "$2")}
cargo build --release --quiet --bin mcptop
bin=$PWD/target/release/mcptop
# label=binary pairs, the new one first.
bins=("new=$bin")
[ -n "$old" ] && bins+=("old=$old")
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
cd "$work"
mkdir workloads
# shellcheck source=benches/lib/cpu_gate.sh
. "$lib/cpu_gate.sh"
gate 100
for b in "${bins[@]}"; do
    start=$(date +%s)
    ${b#*=} baseline save cpu-gate --quick --baseline "baseline-${b%%=*}.json" 2>/dev/null > /dev/null
    echo "baseline (${b%%=*}) saved in $(( $(date +%s) - start )) s"
done
run_checks() {
    local label=$1 b name
    declare -A pass fail other worst
    for i in $(seq 1 "$n"); do
        for b in "${bins[@]}"; do
            name=${b%%=*}
            t0=$(date +%s.%N)
            set +e
            ${b#*=} check --quick --baseline "baseline-$name.json" > "check-$label-$name-$i.txt" 2>/dev/null
            rc=$?
            set -e
            secs=$(echo "$(date +%s.%N) - $t0" | bc)
            worst[$name]=$(echo "if ($secs > ${worst[$name]:-0}) $secs else ${worst[$name]:-0}" | bc)
            case $rc in
                0) pass[$name]=$((${pass[$name]:-0} + 1)) ;;
                1) fail[$name]=$((${fail[$name]:-0} + 1)) ;;
                *) other[$name]=$((${other[$name]:-0} + 1)) ;;
            esac
        done
    done
    for b in "${bins[@]}"; do
        name=${b%%=*}
        echo "$label ($name): $n checks: ${pass[$name]:-0} passed, ${fail[$name]:-0} failed (regression), ${other[$name]:-0} errors; slowest check ${worst[$name]}s"
        # Which metrics decided the failures (for an unchanged workload: false alarms).
        grep -hE '^  \S.* REGRESSED$' "check-$label-$name-"*.txt | awk '{print "  regressed:", $1}' | sort | uniq -c || true
    done
}
run_checks unchanged
gate 120
run_checks "20%-slower"
echo "example verdict (20 % slower):"
cat "check-20%-slower-new-1.txt"
