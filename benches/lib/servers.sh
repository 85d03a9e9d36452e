# shellcheck shell=bash
# Shared by the benches that start servers (sourced, not run, after BIN is
# set): a scratch directory WORK, an array PIDS of everything the script
# starts, and an exit trap that kills each of them and removes WORK, so no
# server outlives its bench. `serve` starts `mcptop serve` under that trap.
WORK=$(mktemp -d)
PIDS=()
cleanup() {
    for p in "${PIDS[@]+"${PIDS[@]}"}"; do kill "$p" 2>/dev/null || true; done
    wait 2>/dev/null || true
    rm -rf "$WORK"
}
trap cleanup EXIT

# Starts `mcptop serve ARGS` (in this shell, so cleanup can kill it); sets
# SERVER_PID and URL.
serve() {
    rm -f "$WORK/serve.out"
    "$BIN" serve "$@" >"$WORK/serve.out" 2>/dev/null &
    SERVER_PID=$!
    PIDS+=("$SERVER_PID")
    for _ in $(seq 100); do
        if [ -s "$WORK/serve.out" ]; then break; fi
        sleep 0.05
    done
    URL=$(head -1 "$WORK/serve.out" | sed 's/^listening on //')
}
