#!/usr/bin/env bash
# What the builtin server's SSE event store (`server/event_store.rs`, kept
# for `Last-Event-ID` replays) costs plain `serve --http` throughput: the
# user's command `mcptop run echo --target URL --concurrency C` against
# `mcptop serve --http` with the store and with `--no-event-store`,
# alternated ROUNDS times (a fresh server each measurement) so the shared
# machine's drifting load hits both alike. Release build; every process
# runs under `nice -n 10`. Prints each measurement, then per round the
# ratio store / no store and the median ratio.
# usage: [ROUNDS=3] benches/event_store_cost.sh [CONCURRENCY=8] [SECONDS=10]
set -euo pipefail
C=${1:-8}
SECS=${2:-10}
ROUNDS=${ROUNDS:-3}
cd "$(dirname "$0")/.."
if [ "${NO_BUILD:-0}" != 1 ]; then nice -n 10 cargo build --release --quiet; fi
BIN=$(pwd)/${CARGO_TARGET_DIR:-target}/release/mcptop
WORK=$(mktemp -d)
SERVER=
cleanup() {
  if [ -n "$SERVER" ]; then kill "$SERVER" 2>/dev/null || true; wait "$SERVER" 2>/dev/null || true; fi
  rm -rf "$WORK"
}
trap cleanup EXIT

# MODE (store | nostore): one measurement on a fresh server; prints its
# successful replies per second.
measure() {
  local extra=()
  if [ "$1" = nostore ]; then extra=(--no-event-store); fi
  rm -f "$WORK/serve.out"
  nice -n 10 "$BIN" serve --http 127.0.0.1:0 "${extra[@]}" >"$WORK/serve.out" 2>/dev/null &
  SERVER=$!
  for _ in $(seq 100); do
    if [ -s "$WORK/serve.out" ]; then break; fi
    sleep 0.05
  done
  local url
  url=$(head -1 "$WORK/serve.out" | sed 's/^listening on //')
  nice -n 10 "$BIN" run echo --target "$url" --concurrency "$C" --duration "${SECS}s" \
    --warmup 2s --quiet --out "$WORK/r.json" >/dev/null 2>&1 || true
  kill "$SERVER" 2>/dev/null || true
  wait "$SERVER" 2>/dev/null || true
  SERVER=
  python3 - "$WORK/r.json" <<'PY'
import json, sys
o = json.load(open(sys.argv[1]))["overall"]
print(f"{o['throughput_msg_per_s']:.0f} {o['errors']}")
PY
}

echo "== run echo --concurrency $C, ${SECS}s (+2s warm-up), serve --http with and without the event store, $ROUNDS rounds"
: >"$WORK/rounds"
for i in $(seq "$ROUNDS"); do
  # Alternate which goes first, so neither always meets the warmer machine.
  if [ $((i % 2)) = 1 ]; then order=(store nostore); else order=(nostore store); fi
  declare -A got=()
  for mode in "${order[@]}"; do
    read -r rate errors < <(measure "$mode")
    got[$mode]=$rate
    echo "round $i  $mode  ${rate} req/s  errors $errors"
  done
  echo "$i ${got[store]} ${got[nostore]}" >>"$WORK/rounds"
  unset got
done
python3 - "$WORK/rounds" <<'PY'
import statistics, sys
rows = [l.split() for l in open(sys.argv[1]) if l.strip()]
ratios = []
for i, store, nostore in rows:
    r = float(store) / float(nostore)
    ratios.append(r)
    print(f"round {i}: store {float(store):8.0f}  no store {float(nostore):8.0f}  ratio {r:.3f}")
print(f"median ratio store / no store: {statistics.median(ratios):.3f} "
      f"(min {min(ratios):.3f}, max {max(ratios):.3f})")
PY
