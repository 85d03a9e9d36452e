# shellcheck shell=bash
# Shared by benches/check_gate.sh and benches/check_gate_ab.sh (sourced):
# `gate US` writes workloads/cpu-gate.toml in the current directory, the
# CPU-bound workload both judge (the cpu tool burning US µs per call, one
# call in flight, 1 s).
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
