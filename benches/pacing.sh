#!/usr/bin/env bash
# Pacing acceptance (issue 17), release builds, before (main) and after (this
# tree), alternated in one script run so both see the same machine load:
#   1. open loop at 500 and 5,000 req/s, one session, pipeline 1, echo tool,
#      against the tiny instant server of issue 17 (tests/fixtures/
#      instant_server.c, compiled here with cc; instant_server.py without cc)
#      and against `mcptop serve --stdio` (rmcp, a full server), each row
#      labelled: corrected p50 - service p50 (goal <= 100 µs) and the send lag;
#      SERVERS="instant serve" picks (also instant-py);
#   2. the builtin sleep mixture (90 % ms=2, 10 % ms=20, 8 in flight):
#      p50 within 2.0-2.3 ms, p95 within 20.0-20.4 ms;
#      2b. sleep_us {us = 1000}, one in flight: the client-side overshoot
#      (mcptop's service time - 1 ms - the no-op's p50), builtin and stdio;
#      2c. the server-side overshoot (`slept_us` in the reply - 1 ms,
#      examples/sleep_overshoot.rs), stdio child and in-process builtin;
#   3. the closed-loop ceilings of benches/run.sh (builtin echo at 1, 16, 64
#      in flight; stdio at 16 and at 1): after/before ratios (closed loop
#      never waits on the pacer); CASES=stdio,stdio-1 picks cases.
#
#   4. (ONLY=4, after only) where a 5,000/s send's time goes, step by step
#      (MCPTOP_SEND_TRACE and benches/send_steps.py), against each server,
#      with the vCPUs' halts per send.
#
#   bash benches/pacing.sh                 # builds main in target/pacing-before
#   BEFORE=/path/to/main/mcptop AFTER=/path/to/this/mcptop bash benches/pacing.sh
#   REPEATS=3 SECONDS_EACH=5 bash benches/pacing.sh
set -euo pipefail
cd "$(dirname "$0")/.."
repeats=${REPEATS:-3}
only=${ONLY:-123}   # sections to run, e.g. ONLY=2 for the sleep mixture alone
secs=${SECONDS_EACH:-5}
after=${AFTER:-}
if [ -z "$after" ]; then
    cargo build --release --quiet --bin mcptop
    after=$PWD/target/release/mcptop
fi
before=${BEFORE:-}
if [ -z "$before" ]; then
    tree=$(mktemp -d)
    git worktree add --quiet --detach "$tree" main
    (cd "$tree" && CARGO_TARGET_DIR="$OLDPWD/target/pacing-before" cargo build --release --quiet --bin mcptop)
    git worktree remove --force "$tree"
    before=$PWD/target/pacing-before/release/mcptop
fi
out=$(mktemp -d)
trap 'rm -rf "$out"' EXIT
servers=${SERVERS:-instant serve}
instant_py="python3 $PWD/tests/fixtures/instant_server.py"
if cc -O2 -o "$out/instant_server" tests/fixtures/instant_server.c 2>/dev/null; then
    instant_c=$out/instant_server
else
    echo "(cc failed or missing: the instant server is the Python one)"
    instant_c=$instant_py
fi
# The stdio command of server $1 for mcptop binary $2.
server_cmd() {
    case $1 in
        instant) echo "$instant_c" ;;
        instant-py) echo "$instant_py" ;;
        serve) echo "$2 serve --stdio" ;;
        *) echo "unknown server $1 (instant, instant-py, serve)" >&2; exit 2 ;;
    esac
}

field() { python3 -c "import json,sys; r=json.load(open(sys.argv[1])); print(eval(sys.argv[2]))" "$@"; }

open_workload() {
    cat > "$out/open-$1.toml" <<TOML
name = "pacing-open"
sessions = 1
pipeline = 1
rate = $1
duration = "${secs}s"
warmup = "1s"
timeout = "5s"

[[ops]]
method = "tools/call"
tool = "echo"
arguments = { message = "hello" }
TOML
}

cat > "$out/sleep-mix.toml" <<TOML
name = "pacing-sleep-mix"
target = "builtin"
sessions = 4
concurrency = 8
duration = "${secs}s"
warmup = "1s"

[[ops]]
method = "tools/call"
name = "sleep-2ms"
tool = "sleep"
weight = 90
arguments = { ms = 2 }

[[ops]]
method = "tools/call"
name = "sleep-20ms"
tool = "sleep"
weight = 10
arguments = { ms = 20 }
TOML

lag() {
    field "$1" "('send lag p50 %d p99 %d max %d µs, late %d' % (r['send_lag']['p50_us'], r['send_lag']['p99_us'], r['send_lag']['max_us'], r['send_lag']['late'])) if 'send_lag' in r else 'send lag: not measured (max %d µs, late>2ms %d)' % (r['max_send_lag_us'], r['late_sends'])"
}

echo "== machine: $(nproc) CPUs, load average $(cut -d' ' -f1-3 /proc/loadavg)"
if [[ $only == *1* ]]; then
echo "== 1. open loop, one session, pipeline 1, echo against stdio servers: $servers (${secs}s each, $repeats rounds)"
for server in $servers; do
for rate in 500 5000; do
    open_workload "$rate"
    for i in $(seq "$repeats"); do
        for side in before after; do
            bin=${!side}
            $bin run "$out/open-$rate.toml" --quiet --target "stdio:$(server_cmd "$server" "$bin")" --out "$out/o.json" >/dev/null || true
            echo "$server $rate/s $side #$i: corrected p50 - service p50 = $(field "$out/o.json" "r['overall']['latency_p50_us'] - r['overall']['service_p50_us']") µs (p50 $(field "$out/o.json" "r['overall']['latency_p50_us']"), svc p50 $(field "$out/o.json" "r['overall']['service_p50_us']"), p99 $(field "$out/o.json" "r['overall']['latency_p99_us']")); sent $(field "$out/o.json" "'%.1f' % r['sent_rate']")/s; $(lag "$out/o.json")"
        done
    done
done
done

fi
if [[ $only == *2* ]]; then
echo "== 2. builtin sleep mixture: 90 % ms=2, 10 % ms=20, 8 in flight (${secs}s each)"
for i in $(seq "$repeats"); do
    for side in before after; do
        bin=${!side}
        $bin run "$out/sleep-mix.toml" --quiet --out "$out/s.json" >/dev/null || true
        echo "$side #$i: $(field "$out/s.json" "'p50 %.3f ms  p95 %.3f ms  p99 %.3f ms' % (r['overall']['latency_p50_us']/1e3, r['overall']['latency_p95_us']/1e3, r['overall']['latency_p99_us']/1e3)")"
    done
done

echo "== 2b. sleep_us {us = 1000}, one in flight, against the no-op (ping) round trip: client-side (mcptop's service time), after only (${secs}s each)"
cat > "$out/sleep-us.toml" <<TOML
name = "pacing-sleep-us"
sessions = 1
concurrency = 1
duration = "${secs}s"
warmup = "1s"

[[ops]]
method = "tools/call"
tool = "sleep_us"
arguments = { us = 1000 }
TOML
sed -e 's/pacing-sleep-us/pacing-ping/' -e 's/"tools\/call"/"ping"/' -e '/^tool =/d' -e '/^arguments =/d' "$out/sleep-us.toml" > "$out/ping.toml"
for i in $(seq "$repeats"); do
    for target in builtin "stdio:$after serve --stdio"; do
        $after run "$out/sleep-us.toml" --quiet --target "$target" --out "$out/su.json" >/dev/null || true
        $after run "$out/ping.toml" --quiet --target "$target" --out "$out/p.json" >/dev/null || true
        echo "#$i ${target%% *}: sleep_us 1000: service p50 $(field "$out/su.json" "r['overall']['service_p50_us']") p99 $(field "$out/su.json" "r['overall']['service_p99_us']") µs; no-op: p50 $(field "$out/p.json" "r['overall']['service_p50_us']") p99 $(field "$out/p.json" "r['overall']['service_p99_us']") µs; client-side overshoot beyond 1000 µs + no-op p50: p50 $(python3 -c "import json; a=json.load(open('$out/su.json'))['overall']; b=json.load(open('$out/p.json'))['overall']; print(a['service_p50_us']-1000-b['service_p50_us'], 'p99', a['service_p99_us']-1000-b['service_p50_us'])") µs"
    done
done

echo "== 2c. sleep_us {us = 1000}, one in flight: server-side overshoot (slept_us - 1000), after only (${secs}s each)"
cargo build --release --quiet --example sleep_overshoot
for i in $(seq "$repeats"); do
    echo "#$i $(python3 benches/sleep_overshoot.py "$after" 1000 "$secs")"
    echo "#$i $(target/release/examples/sleep_overshoot builtin 1000 "$secs")"
done

fi
if [[ $only == *3* ]]; then
# CASES=stdio,stdio-1 picks cases, comma-separated (stdio: 16 in flight, stdio-1: one).
IFS=, read -r -a cases <<< "${CASES:-echo --concurrency 1,echo --concurrency 16,echo --concurrency 64,stdio,stdio-1}"
echo "== 3. ceilings (benches/run.sh's closed loops), ${secs}s each: after/before"
ceiling() { # side name args...
    local bin=${!1} name=$2; shift 2
    $bin run "$@" --quiet --duration "${secs}s" --out "$out/c.json" >/dev/null || true
    field "$out/c.json" "r['overall']['throughput_msg_per_s']"
}
for i in $(seq "$repeats"); do
    for case in "${cases[@]}"; do
        if [ "$case" = stdio ] || [ "$case" = stdio-1 ]; then
            depth=16; [ "$case" = stdio-1 ] && depth=1
            b=$(ceiling before stdio echo --concurrency $depth --target "stdio:$before serve --stdio")
            a=$(ceiling after stdio echo --concurrency $depth --target "stdio:$after serve --stdio")
        else
            # shellcheck disable=SC2086
            b=$(ceiling before x $case)
            # shellcheck disable=SC2086
            a=$(ceiling after x $case)
        fi
        python3 -c "import sys; b,a=float(sys.argv[2]),float(sys.argv[3]); print('#%s %-26s before %8.0f/s  after %8.0f/s  ratio %.3f' % (sys.argv[4], sys.argv[1], b, a, a/b if b else 0))" "$case" "$b" "$a" "$i"
    done
done
fi
if [[ $only == *4* ]]; then
echo "== 4. where a 5,000/s send's time goes (after only, MCPTOP_SEND_TRACE, ${secs}s)"
open_workload 5000
# Idle-state entries (halts) of every vCPU: how often a core went idle.
halts() { cat /sys/devices/system/cpu/cpu*/cpuidle/state*/usage 2>/dev/null | awk '{s+=$1} END {print s+0}'; }
for server in $servers; do
    h0=$(halts)
    MCPTOP_SEND_TRACE="$out/trace.csv" $after run "$out/open-5000.toml" --quiet --target "stdio:$(server_cmd "$server" "$after")" --out "$out/o.json" >/dev/null || true
    h1=$(halts)
    echo "-- $server: corrected p50 - service p50 = $(field "$out/o.json" "r['overall']['latency_p50_us'] - r['overall']['service_p50_us']") µs; $(lag "$out/o.json"); vCPU halts per send $(python3 -c "import sys; print('%.2f' % ((int(sys.argv[1]) - int(sys.argv[2])) / max(1, int(sys.argv[3]))))" "$h1" "$h0" "$(field "$out/o.json" "r['sends']")")"
    python3 benches/send_steps.py "$out/trace.csv"
done
fi
