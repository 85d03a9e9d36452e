#!/usr/bin/env bash
# HTTPS client cost, measured on loopback against mcptop's own servers
# (release build): the echo tool over Streamable HTTP, one session, C
# connections with C requests in flight, against
#   `mcptop serve --https --self-signed --json-response --stateless` and
#   `mcptop serve --http --json-response --stateless`,
# each next to `wrk` posting the same JSON-RPC request on the same endpoint
# (wrk before and after mcptop; their mean is the reference). Reports each
# rate, mcptop's rate as a share of wrk's (the HTTP goal, >= 90 %, also for
# HTTPS), and mcptop's CPU time per request (user + system, from the kernel's
# rusage of the `mcptop run` process, over every request it sent, warm-up
# included). Connections are kept alive, so TLS costs handshakes once per
# connection and then record encryption per request.
#
# Usage: [REPEATS=3] [BASE_BIN=other/mcptop] benches/https_vs_wrk.sh [CONNECTIONS=16] [SECONDS=10]
# (the alternation is benches/lib/vs_wrk.sh, shared with http_vs_wrk.sh.)
# Needs wrk (apt-get install -y wrk). Every server started here is killed on exit.
set -euo pipefail
cd "$(dirname "$0")/.."
C=${1:-16}
SECS=${2:-10}
cargo build --release --quiet
BIN=${CARGO_TARGET_DIR:-target}/release/mcptop
# shellcheck source=benches/lib/servers.sh
. benches/lib/servers.sh

# shellcheck source=benches/lib/vs_wrk.sh
. benches/lib/vs_wrk.sh
vs_wrk_files

serve --https 127.0.0.1:0 --self-signed --cert "$WORK/cert.pem" --json-response --stateless
echo "== HTTPS: $URL, $C connections, ${SECS}s"
vs_wrk_measure HTTPS --ca-cert "$WORK/cert.pem"
kill "$SERVER_PID"

serve --http 127.0.0.1:0 --json-response --stateless
echo "== HTTP: $URL, $C connections, ${SECS}s"
vs_wrk_measure HTTP
