#!/usr/bin/env bash
# The spine's benchmarks, release build, builtin target. Every number printed
# is measured here and now; compare ratios within one run (the machine is shared).
#
#   bash benches/run.sh            # ~1 min
set -euo pipefail
cd "$(dirname "$0")/.."
cargo build --release --quiet --examples --bin mcptop
bin=target/release/mcptop
out=$(mktemp -d)
trap 'rm -rf "$out"' EXIT

field() { python3 -c "import json,sys; r=json.load(open(sys.argv[1])); print(eval(sys.argv[2]))" "$@"; }

echo "== recorder: cost of one sample"
target/release/examples/recorder_cost 20000000

echo "== closed loop, builtin echo, 10 s: the fastest mcptop + in-process server go"
for c in 1 16 64; do
    $bin run echo --quiet --duration 10s --concurrency "$c" --out "$out/closed-$c.json" >/dev/null
    echo "concurrency $c: $(field "$out/closed-$c.json" "'%.0f req/s  p50 %d µs  p99 %d µs' % (r['overall']['throughput_msg_per_s'], r['overall']['latency_p50_us'], r['overall']['latency_p99_us'])")"
done

echo "== open loop, builtin echo, 10 s: asked vs achieved, late sends"
for rate in 1000 10000 1000000; do
    $bin run echo-open --quiet --duration 10s --rate "$rate" --out "$out/open-$rate.json" >/dev/null || true
    echo "asked $rate/s: $(field "$out/open-$rate.json" "'sent %.0f/s  achieved %.0f/s  late sends %d  p99 %d µs  warnings: %s' % (r['sent_rate'], r['achieved_rate'], r['late_sends'], r['overall']['latency_p99_us'], '; '.join(r['warnings']) or 'none')")"
done

echo "== stdio: mcptop serve --stdio as a child, closed loop 16"
$bin run echo --quiet --duration 10s --target "stdio:$bin serve --stdio" --out "$out/stdio.json" >/dev/null
echo "stdio: $(field "$out/stdio.json" "'%.0f req/s  p50 %d µs  p99 %d µs' % (r['overall']['throughput_msg_per_s'], r['overall']['latency_p50_us'], r['overall']['latency_p99_us'])")"
