# shellcheck shell=bash
# Shared by the benches that start servers (sourced, not run, after BIN is
# set): a scratch directory WORK, an array PIDS of everything the script
# starts, and an exit trap that kills each of them and removes WORK, so no
# server outlives its bench. `serve` starts `mcptop serve` under that trap;
# `free_port` and `wait_port` pick and wait for a loopback port.
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
