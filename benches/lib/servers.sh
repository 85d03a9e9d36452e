# shellcheck shell=bash
# Shared by the benches that start servers (sourced, not run, after BIN is
# set): a scratch directory WORK, an array PIDS of everything the script
# starts, and an exit trap that kills each of them and removes WORK, so no
# server outlives its bench. `serve` starts `mcptop serve` under that trap;
# `free_port` and `wait_port` pick and wait for a loopback port; `run_row`
# runs one row of a table into ROWS.
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

# Prints a loopback port that was free a moment ago (for servers that must be
# told their port, such as peers and `serve --http PORT`).
free_port() { python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'; }
# Waits until something accepts on loopback port $1 (200 tries, 0.1 s apart).
wait_port() {
    for _ in $(seq 200); do
        if python3 -c 'import socket,sys; socket.create_connection(("127.0.0.1", int(sys.argv[1])), 0.2)' "$1" 2>/dev/null; then
            return 0
        fi
        sleep 0.1
    done
    echo "port $1 never opened" >&2
    return 1
}

# run_row LABEL WORKLOAD TARGET [ARGS...]: one `mcptop run` of DURATION, its
# result kept as $WORK/LABEL.json and its output as $WORK/LABEL.txt; LABEL
# goes into ROWS, as LABEL:failed (with the output's tail on stderr) when
# the run failed.
ROWS=()
run_row() {
    local label=$1 workload=$2 target=$3
    shift 3
    echo "== $label: $workload -> $target" >&2
    if "$BIN" run "$workload" --target "$target" --duration "$DURATION" --quiet \
        --out "$WORK/$label.json" "$@" >"$WORK/$label.txt" 2>&1; then
        ROWS+=("$label")
    else
        echo "$label: run failed (exit $?):" >&2
        tail -5 "$WORK/$label.txt" >&2
        ROWS+=("$label:failed")
    fi
}
