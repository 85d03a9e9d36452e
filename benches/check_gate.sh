#!/usr/bin/env bash
# Does the pre-commit check cry wolf, and does it catch a 20 % slowdown?
# On this machine, with a CPU-bound builtin workload (the cpu tool burning
# 100 µs per call): save a quick baseline, then run `mcptop check --quick`
# N times unchanged and N times with the tool made 20 % slower (120 µs).
#
#   bash benches/check_gate.sh [N]      # N defaults to 20; ~8 s per check
set -euo pipefail
cd "$(dirname "$0")/.."
n=${1:-20}
cargo build --release --quiet --bin mcptop
bin=$PWD/target/release/mcptop
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
cd "$work"
mkdir workloads
gate() {
    cat > workloads/cpu-gate.toml <<TOML
name = "cpu-gate"
description = "CPU-bound gate: the cpu tool, one call in flight"
sessions = 1
concurrency = 1
duration = "1s"
[[ops]]
method = "tools/call"
tool = "cpu"
arguments = { us = $1 }
TOML
}
gate 100
start=$(date +%s)
$bin baseline save cpu-gate --quick 2>/dev/null
echo "baseline saved in $(( $(date +%s) - start )) s"
run_checks() {
    local label=$1 pass=0 fail=0 other=0 worst=0
    for i in $(seq 1 "$n"); do
        t0=$(date +%s.%N)
        set +e
        $bin check --quick > "check-$label-$i.txt" 2>/dev/null
        rc=$?
        set -e
        secs=$(echo "$(date +%s.%N) - $t0" | bc)
        worst=$(echo "if ($secs > $worst) $secs else $worst" | bc)
        case $rc in 0) pass=$((pass + 1)) ;; 1) fail=$((fail + 1)) ;; *) other=$((other + 1)) ;; esac
    done
    echo "$label: $n checks: $pass passed, $fail failed (regression), $other errors; slowest check ${worst}s"
    # Which metrics decided the failures (for an unchanged workload: false alarms).
    grep -h "REGRESSED" "check-$label-"*.txt | awk '{print "  regressed:", $1}' | sort | uniq -c || true
}
run_checks unchanged
gate 120
run_checks "20%-slower"
echo "example verdict (20 % slower):"
cat "check-20%-slower-1.txt"
