#!/usr/bin/env bash
# Installs the optional tools the tests need when they are missing: tmux (the
# live-screen tests), perf (profiling a stdio target), java (the JVM GC test),
# chromium (the HTML report opened in a headless browser) and
# kubernetes-validate (the schema check of deploy/kubernetes/, from PyPI). Tests never install
# anything; with MCPTOP_REQUIRE_PEERS=1 a missing tool fails them instead.
# Uses apt-get as root, or through sudo when that is available.
set -euo pipefail
as_root() {
    if [ "$(id -u)" -eq 0 ]; then
        "$@"
    elif command -v sudo >/dev/null && sudo -n true 2>/dev/null; then
        sudo -n "$@"
    else
        echo "install-tools: need root or password-less sudo to run: $*" >&2
        return 1
    fi
}
missing=()
command -v tmux >/dev/null || missing+=(tmux)
command -v perf >/dev/null || missing+=(perf)
# The JVM GC test runs tests/fixtures/JavaEchoServer.java with the JDK's launcher.
command -v java >/dev/null || missing+=(java)
command -v chromium >/dev/null || missing+=(chromium)
# kubectl apply --dry-run=client needs a cluster for its schema; this ships them.
if ! command -v kubernetes-validate >/dev/null; then
    echo "install-tools: installing kubernetes-validate (pip)" >&2
    python3 -m pip install -q kubernetes-validate
    command -v kubernetes-validate >/dev/null || { echo "install-tools: kubernetes-validate is still missing" >&2; exit 1; }
fi
[ ${#missing[@]} -eq 0 ] && exit 0
command -v apt-get >/dev/null || {
    echo "install-tools: missing ${missing[*]} and no apt-get; install them by hand" >&2
    exit 1
}
echo "install-tools: installing ${missing[*]}" >&2
as_root env DEBIAN_FRONTEND=noninteractive apt-get update -qq
for tool in "${missing[@]}"; do
    case "$tool" in
        tmux) as_root env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq tmux ;;
        # Debian names it linux-perf; Ubuntu ships it per kernel.
        perf) as_root env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq linux-perf \
            || as_root env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "linux-tools-$(uname -r)" ;;
        java) as_root env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq openjdk-17-jdk-headless ;;
        chromium) as_root env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium ;;
    esac
done
for tool in "${missing[@]}"; do
    command -v "$tool" >/dev/null || { echo "install-tools: $tool is still missing" >&2; exit 1; }
done
