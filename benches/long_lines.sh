#!/usr/bin/env bash
# What long lines cost: mcptop's peak RSS (GNU time's "Maximum resident set
# size") when every one of SESSIONS stdio sessions gets one line of MB
# megabytes (over the 64 MiB limit) and then ordinary replies, and the same
# for `mcptop serve --tcp` fed SESSIONS such request lines at once. The
# shared line budget (256 MiB) bounds both; without it each session or
# connection could hold a 64 MiB buffer.
#
#   bash benches/long_lines.sh [SESSIONS] [MB]      # default 16 sessions, 200 MB
set -euo pipefail
cd "$(dirname "$0")/.."
sessions=${1:-16}
mb=${2:-200}
command -v /usr/bin/time >/dev/null || { echo "GNU time is needed (apt-get install time)" >&2; exit 2; }
cargo build --release --quiet --bin mcptop
bin=$(realpath "${CARGO_TARGET_DIR:-target}/release/mcptop")
fixture=$(realpath tests/fixtures/loud_server.py)
out=$(mktemp -d)
trap 'rm -rf "$out"' EXIT
cat >"$out/w.toml" <<EOF
name = "long-lines"
sessions = $sessions
concurrency = $sessions
requests = $((sessions * 4))
warmup = "0s"
timeout = "120s"
[[ops]]
method = "tools/call"
tool = "echo"
arguments = { message = "hi" }
EOF

start=$(date +%s.%N)
/usr/bin/time -f "%M" -o "$out/client.kb" "$bin" run "$out/w.toml" --quiet --no-memory-stats \
    --out "$out/r.json" --target "stdio:python3 $fixture long-lines $mb" >/dev/null || true
end=$(date +%s.%N)
python3 - "$out/r.json" "$out/client.kb" "$start" "$end" "$sessions" "$mb" <<'EOF'
import json, sys
r = json.load(open(sys.argv[1]))
kb = int(open(sys.argv[2]).read().split()[-1])
print(f"client: {sys.argv[5]} sessions x {sys.argv[6]} MB lines: peak RSS {kb / 1024:.1f} MiB, "
      f"{r['protocol']['violations']} violations, {r['overall']['ok']} ok, "
      f"errors {r['overall']['errors_by_kind']}, {float(sys.argv[4]) - float(sys.argv[3]):.1f} s")
EOF

/usr/bin/time -f "%M" -o "$out/serve.kb" "$bin" serve --tcp 127.0.0.1:0 >"$out/serve.out" 2>"$out/serve.err" &
pid=$!
for _ in $(seq 100); do grep -q listening "$out/serve.out" && break; sleep 0.1; done
addr=$(sed -n 's|listening on tcp://||p' "$out/serve.out")
python3 - "$addr" "$sessions" "$mb" <<'EOF'
import socket, sys, threading
host, port = sys.argv[1].rsplit(":", 1)
n, mb = int(sys.argv[2]), int(sys.argv[3])
def one(i):
    s = socket.create_connection((host, int(port)))
    s.sendall(b'{"jsonrpc":"2.0","id":%d,"method":"tools/call","params":{"name":"echo","arguments":{"message":"' % i)
    chunk = b"x" * (1 << 20)
    for _ in range(mb):
        s.sendall(chunk)
    s.sendall(b'"}}}\n')
    reply = s.makefile("rb").readline()
    assert b'"code":-32600' in reply, reply[:200]
threads = [threading.Thread(target=one, args=(i,)) for i in range(n)]
for t in threads: t.start()
for t in threads: t.join()
EOF
# GNU time ignores signals while it waits: stop the server it runs.
kill -TERM "$(pgrep -P "$pid")" 2>/dev/null || true
wait "$pid" 2>/dev/null || true
echo "serve --tcp: $sessions connections x $mb MB requests: peak RSS $(awk '{print $NF/1024}' "$out/serve.kb" | tail -1) MiB, $(grep -c 'skipped a line' "$out/serve.err") lines skipped"
