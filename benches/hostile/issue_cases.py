"""One or more catalog rows per item of issue 9, with the behaviour the
issue asks for. Rows of items fixed on other branches fail until those
branches are merged; that is their point. Rows whose exit code depends on
the default error-rate threshold keep the rate far from any sensible
default: zero, or 10 % and up.
"""
import json
import os
import re
import select
import signal
import socket
import time

from catalog import Case, Expect
from common import (ONE_SECOND, errors, exchange, flaky, listening, marked, need, nofile, ok,
                    output, peer_target, read, sha256, signal_when, since_signal, upgrade_request,
                    violations, workload, write_workload)

# ---------------------------------------------------------------- items 1-3: the gate

def two_runs(ctx):
    for workload_name, out in (("echo", "a.json"), ("mixed", "b.json")):
        ctx.mcptop_setup(["run", workload_name, "--duration", "1s", "--warmup", "0s", "--quiet", "--out", out])


def memory_dropped(ctx):
    """b.json is a.json with the memory figures 30 % lower: the comparator's
    input for a pure memory improvement (everything else equal)."""
    ctx.mcptop_setup(["run", "echo", "--duration", "1s", "--warmup", "0s", "--quiet", "--out", "a.json"])
    r = json.load(open(ctx.path("a.json")))
    for side in ("mcptop", "target"):
        reading = (r.get("memory") or {}).get(side)
        if isinstance(reading, dict) and "rss_bytes" in reading:
            reading["rss_bytes"] = int(reading["rss_bytes"] * 0.7)
    json.dump(r, open(ctx.path("b.json"), "w"))


GATE = [
    Case("1-3 compare of two different workloads", ["compare", "a.json", "b.json"],
         Expect(exit=2, result="none", timeout_s=60), setup=two_runs,
         check=lambda ctx, o: need(b"echo" in o.stderr and b"mixed" in o.stderr,
                                   "the error does not name both workloads")),
    Case("1-3 a memory drop is an improvement", ["compare", "a.json", "b.json"],
         Expect(exit=0, result="none", timeout_s=60), setup=memory_dropped,
         check=lambda ctx, o: need(re.search(rb"(?i)improv", o.stdout) and b"REGRESSED" not in o.stdout,
                                   "the memory drop is not labelled an improvement")),
]

# ---------------------------------------------------------------- item 4: signals during check


def baseline_first(ctx):
    ctx.mcptop_setup(["baseline", "save", "echo", "--quick", "--repeats", "2", "--baseline", "base.json"])
    ctx.values["baseline"] = sha256(ctx.path("base.json"))


def baseline_unchanged(ctx, o):
    return need(sha256(ctx.path("base.json")) == ctx.values["baseline"], "the baseline file changed")


def check_stopped_by(sig, code):
    return Case("4 %s during check --update-baseline" % signal.Signals(sig).name,
                ["check", "echo", "--quick", "--baseline", "base.json", "--update-baseline"],
                Expect(exit=code, result="json", timeout_s=60), setup=baseline_first,
                during=signal_when(sig, lambda ctx: b"run 1/" in read(ctx.path("stderr")), 20, "run 1"),
                check=baseline_unchanged, result_file="base.json")


SIGNALS = [check_stopped_by(signal.SIGINT, 130), check_stopped_by(signal.SIGTERM, 143)]

# ---------------------------------------------------------------- items 5-7: loud failures

SIX_MISTAKES = """name = "six-mistakes"
sessions = 0
concurrency = 4
duration = "ten seconds"
timeout = "soon"
warmup = "0s"
[[ops]]
method = "tools/run"
[[ops]]
method = "ping"
weight = 0
[[ops]]
method = "tools/call"
"""
SIX_KEYS = [b"sessions", b"duration", b"timeout", b"ops[0].method", b"ops[1].weight", b"ops[2].tool"]

FAST_FAIL = 'requests = 20\nduration = "120s"\ntimeout = "30s"'

LOUD = [
    Case("5 a workload calling tool \"ech\"", ["run", "w.toml", "--out", "r.json", "--quiet"],
         Expect(exit=1), setup=write_workload("w.toml", workload('duration = "1s"', tool="ech")),
         check=lambda ctx, o: need(o.result.get("passed") is False, "passed is not false")),
    Case("6 validate reports all six mistakes", ["validate", "six.toml"],
         Expect(exit=2, result="none"), setup=write_workload("six.toml", SIX_MISTAKES),
         check=lambda ctx, o: need(all(k in o.stdout + o.stderr for k in SIX_KEYS),
                                   "missing: %s" % [k.decode() for k in SIX_KEYS if k not in o.stdout + o.stderr])),
    Case("7 unmatched ids fail the run", [
        "run", "w.toml", "--target", flaky("wrong-id"), "--out", "r.json", "--quiet"],
        Expect(exit=1), setup=write_workload("w.toml", workload(ONE_SECOND)),
        check=lambda ctx, o: need(violations(o.result) > 0 and o.result.get("passed") is False,
                                  "want violations and passed false")),
]
for mode in ("id-only", "bad-utf8"):
    LOUD.append(Case(
        "7 a %s reply with a valid id fails fast" % mode,
        ["run", "w.toml", "--target", lambda ctx, m=mode: peer_target(ctx, m), "--out", "r.json", "--quiet"],
        # Twenty requests that each waited out their 30 s timeout would take 600 s.
        Expect(exit=1, timeout_s=25),
        setup=write_workload("w.toml", workload(FAST_FAIL, sessions=1, concurrency=1)),
        check=lambda ctx, o: need(errors(o.result, "protocol") >= 20 and o.wall_s < 10,
                                  "want 20 protocol errors within 10 s: %s in %.1f s" % (
                                      o.result.get("overall", {}).get("errors_by_kind"), o.wall_s))))

# ---------------------------------------------------------------- items 8-12, 16: lifecycle


def busy_loops(ctx):
    for _ in range(2):
        ctx.background(["python3", "-c", "while True: pass"])


def link_to_real(ctx):
    os.mkdir(ctx.path("real"))
    os.symlink(os.path.join("real", "r.json"), ctx.path("link.json"))


def hold_port(ctx):
    s = socket.socket()
    s.bind(("127.0.0.1", 0))
    s.listen(1)
    ctx.closables.append(s)
    ctx.values["held"] = s.getsockname()[1]


def never_accepting(ctx):
    ctx.write("w.toml", workload(ONE_SECOND))
    ctx.values["port"] = ctx.peer(["python3", ctx.fixture("tcp_peer.py"), "never-accepts"])


LIFECYCLE = [
    Case("8 a 1 s run under two busy loops ends in < 1.5 s", [
        "run", "echo", "--headless", "--duration", "1s", "--warmup", "0s", "--out", "r.json"],
        Expect(exit=0), setup=busy_loops,
        check=lambda ctx, o: need(o.wall_s < 1.5, "took %.2f s" % o.wall_s)),
    Case("9 SIGTERM while 100 stdio sessions hang in connect", [
        "run", "w.toml", "--target", lambda ctx: peer_target(ctx, "hang"), "--out", "r.json", "--quiet"],
        # Whether a run stopped before it measured anything writes a file is
        # not said by the issue: either is accepted.
        Expect(exit=143, result="any", timeout_s=40),
        setup=write_workload("w.toml", workload('duration = "5s"', sessions=100, concurrency=100)),
        during=signal_when(signal.SIGTERM, lambda ctx: marked(ctx) >= 1, 10, "a child", extra_s=1.0),
        check=lambda ctx, o: need(since_signal(ctx, o) < 5, "exited %.1f s after SIGTERM" % since_signal(ctx, o))),
    Case("9 tcp:// to a listener that never accepts", [
        "run", "w.toml", "--target", lambda ctx: "tcp://127.0.0.1:%s" % ctx.values["port"], "--out", "r.json"],
        Expect(exit=2, result="none", timeout_s=40),
        setup=never_accepting,
        check=lambda ctx, o: need(o.wall_s < 20 and b"connect" in o.stderr,
                                  "want a connect error within 20 s: %.1f s" % o.wall_s)),
    Case("10 a launcher's children are gone after the run", [
        "run", "w.toml", "--target", lambda ctx: "stdio:python3 %s %s" % (ctx.fixture("launcher.py"), ctx.marker),
        "--out", "r.json", "--quiet"],
        Expect(exit=0, timeout_s=60), setup=write_workload("w.toml", workload(ONE_SECOND)),
        check=lambda ctx, o: need(ok(o.result) > 10, "want >10 ok")),
    Case("11 --out /proc/nope/r.json fails before any load", [
        "run", "echo", "--duration", "5s", "--warmup", "0s", "--out", "/proc/nope/r.json"],
        Expect(exit=2, result="none"), result_file="/proc/nope/r.json",
        check=lambda ctx, o: need(o.wall_s < 2, "took %.1f s: the load ran" % o.wall_s)),
    Case("11 --out link.json writes through the link", [
        "run", "echo", "--duration", "1s", "--warmup", "0s", "--out", "link.json", "--quiet"],
        Expect(exit=0), setup=link_to_real, result_file="link.json",
        check=lambda ctx, o: need(os.path.islink(ctx.path("link.json")) and os.path.isfile(ctx.path("real/r.json")),
                                  "the link was replaced")),
    Case("11 --out - puts the result on stdout", [
        "run", "echo", "--duration", "1s", "--warmup", "0s", "--out", "-", "--quiet"],
        Expect(exit=0, result="any"),
        check=lambda ctx, o: need(json.loads(o.stdout).get("schema") == "mcptop.run", "stdout is not the result")),
    Case("12 SIGINT stops a multi-target run", [
        "run", "echo", "--target", "builtin", "--target", "builtin", "--target", "builtin",
        "--duration", "3s", "--warmup", "0s", "--headless", "--out", "r.json"],
        Expect(exit=130, timeout_s=40), result_file="r-1.json",
        during=signal_when(signal.SIGINT, lambda ctx: len(output(ctx)) > 0, 10, "output", extra_s=0.5),
        check=lambda ctx, o: need(not os.path.exists(ctx.path("r-2.json")) and not os.path.exists(ctx.path("r-3.json"))
                                  and since_signal(ctx, o) < 3,
                                  "the other targets ran (%.1f s after SIGINT)" % since_signal(ctx, o))),
]

# ---------------------------------------------------------------- items 14, 15: what a target controls


def no_escape(ctx, o):
    seen = o.stdout + o.stderr
    if b"\x1b" in seen:
        return "an ESC byte reached mcptop's output"
    return need(b"evil" in seen and b"giving up" in seen,
                "the server's name or stderr tail is not shown at all")


TARGET_TEXT = [
    Case("14 escape sequences in a server's name and stderr", [
        "run", "w.toml", "--target", lambda ctx: peer_target(ctx, "escapes"), "--out", "r.json"],
        Expect(exit=2, timeout_s=60),
        setup=write_workload("w.toml", workload('duration = "10s"', sessions=1, concurrency=1)),
        check=no_escape),
    Case("15 16 sessions against 200 MB lines", [
        "run", "w.toml", "--target", lambda ctx: peer_target(ctx, "long-line"), "--out", "r.json", "--quiet"],
        # 16 over-long lines in 160 requests: a 10 % violation rate. Line
        # buffers share one 256 MiB budget (src/client/lines.rs), plus up to
        # half a growing buffer while it is copied: bounded near 400 MiB,
        # where each session's own 64 MiB limit alone came to ~960 MiB.
        Expect(exit=1, rss_mib=400, timeout_s=240),
        setup=write_workload("w.toml", workload('requests = 160\nduration = "200s"\ntimeout = "120s"',
                                                sessions=16, concurrency=16)),
        check=lambda ctx, o: need(violations(o.result) >= 16 and ok(o.result) >= 144,
                                  "want 16 violations counted and the run completed: %s" % o.result.get("protocol"))),
]

# ---------------------------------------------------------------- item 13: serve


def then_sigterm(step):
    """A serve case's client step; the server is told to stop whatever happens."""
    def during(ctx, proc, out):
        try:
            step(ctx, out)
        finally:
            os.kill(proc.pid, signal.SIGTERM)
    return during


def ws_origins(ctx, out):
    addr = listening(ctx)
    ctx.values["evil"] = exchange(addr, upgrade_request(*addr, "Origin: http://evil.example\r\n"))
    ctx.values["local"] = exchange(addr, upgrade_request(*addr, "Origin: http://localhost:5173\r\n"))
    ctx.values["none"] = exchange(addr, upgrade_request(*addr, ""))


def ws_checked(ctx, o):
    got = {k: ctx.values[k].split("\r\n", 1)[0] for k in ("evil", "local", "none")}
    want = {"evil": "HTTP/1.1 403", "local": "HTTP/1.1 101", "none": "HTTP/1.1 101"}
    return need(all(got[k].startswith(want[k]) for k in want), "got %s" % got)


BROWSER_POST_BODY = "\n".join([
    "",
    json.dumps({"jsonrpc": "2.0", "id": 1, "method": "initialize", "params": {
        "protocolVersion": "2025-06-18", "capabilities": {}, "clientInfo": {"name": "page", "version": "1"}}}),
    json.dumps({"jsonrpc": "2.0", "method": "notifications/initialized"}),
    json.dumps({"jsonrpc": "2.0", "id": 2, "method": "tools/call",
                "params": {"name": "echo", "arguments": {"message": "from a web page"}}}),
    ""])


def browser_post(ctx, out):
    addr = listening(ctx)
    head = ("POST / HTTP/1.1\r\nHost: %s:%d\r\nOrigin: http://evil.example\r\nContent-Type: text/plain\r\n"
            "Content-Length: %d\r\n\r\n" % (addr[0], addr[1], len(BROWSER_POST_BODY)))
    ctx.values["reply"] = exchange(addr, (head + BROWSER_POST_BODY).encode())


HALF_SENT = 3000
HEADER_TIMEOUT_S = 10  # serve's default


def ping_request(addr):
    body = '{"jsonrpc":"2.0","id":1,"method":"ping"}'
    return ("POST /mcp HTTP/1.1\r\nHost: %s:%d\r\nContent-Type: application/json\r\n"
            "Accept: application/json, text/event-stream\r\nConnection: close\r\nContent-Length: %d\r\n\r\n%s"
            % (addr[0], addr[1], len(body), body)).encode()


def half_sent_heads(ctx, out):
    """3000 connections each holding half a request head, then one good
    client; then how long until the server has closed all 3000."""
    addr = listening(ctx)
    held = []
    opened = time.monotonic()
    for _ in range(HALF_SENT):
        try:
            s = socket.create_connection(addr, timeout=2)
            s.sendall(b"POST /mcp HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: appl")
            s.setblocking(False)
            held.append(s)
        except OSError:
            break
    ctx.closables.extend(held)
    ctx.values["opening_s"] = time.monotonic() - opened
    t0 = time.monotonic()
    reply = exchange(addr, ping_request(addr), timeout=20)
    good_ms = (time.monotonic() - t0) * 1000
    ctx.values["good"] = reply.split("\r\n", 1)[0]
    ctx.values["good_ms"] = good_ms
    ctx.values["opened"] = len(held)
    # poll, not select: these descriptors go past FD_SETSIZE.
    open_left = {s.fileno(): s for s in held}
    poller = select.poll()
    for fd in open_left:
        poller.register(fd, select.POLLIN)
    deadline = opened + HEADER_TIMEOUT_S + 20
    while open_left and time.monotonic() < deadline:
        for fd, _ in poller.poll(500):
            try:
                gone = open_left[fd].recv(4096) == b""
            except BlockingIOError:
                gone = False
            except OSError:
                gone = True
            if gone:
                poller.unregister(fd)
                del open_left[fd]
    ctx.values["closed_after"] = time.monotonic() - opened
    ctx.values["still_open"] = len(open_left)
    out.figures.append(
        "%d half-sent heads opened in %.1f s: a good client's ping then answered %s in %.0f ms; "
        "the server closed %d of them by %.1f s after the first was opened (header timeout %d s)" % (
            len(held), ctx.values["opening_s"], ctx.values["good"] or "(nothing)", good_ms,
            len(held) - len(open_left), ctx.values["closed_after"], HEADER_TIMEOUT_S))


def half_sent_checked(ctx, o):
    v = ctx.values
    problems = []
    if v["opened"] < HALF_SENT:
        problems.append("only %d of %d half-sent connections opened" % (v["opened"], HALF_SENT))
    if not v["good"].startswith("HTTP/1.1 200") or v["good_ms"] > 1000:
        problems.append("the good client got %r after %.0f ms" % (v["good"], v["good_ms"]))
    if v["still_open"]:
        problems.append("%d half-sent connections still open after %.0f s" % (v["still_open"], v["closed_after"]))
    return "; ".join(problems) or None


SERVE = [
    Case("13 serve --ws: Origin http://evil.example", ["serve", "--ws", "127.0.0.1:0"],
         Expect(exit=143, result="none"), during=then_sigterm(ws_origins), check=ws_checked),
    Case("13 serve --tcp: a browser's cross-site POST", ["serve", "--tcp", "127.0.0.1:0"],
         Expect(exit=143, result="none"), during=then_sigterm(browser_post),
         check=lambda ctx, o: need("from a web page" not in ctx.values["reply"], "the tool ran: %r" % ctx.values["reply"][:300])),
    Case("13 serve --tcp 0.0.0.0: a warning on stderr", [
        "serve", "--tcp", lambda ctx: "0.0.0.0:%d" % ctx.values["held"]],
        # The port is held on 127.0.0.1, so the bind fails: nothing listens
        # beyond loopback, and the warning (said before binding) still shows.
        Expect(exit=2, result="none"), setup=hold_port,
        check=lambda ctx, o: need(b"not a loopback address" in o.stderr, "no warning: %r" % o.stderr[:300])),
    Case("13 serve --http: 3000 half-sent heads, one good client", [
        "serve", "--http", "127.0.0.1:0", "--json-response", "--stateless"],
        # A shell's default open-file limit; serve raises it to fit its cap.
        Expect(exit=143, result="none", rss_mib=150, timeout_s=90), preexec=nofile(1024),
        during=then_sigterm(half_sent_heads), check=half_sent_checked),
]

PIDS = [
    Case("16 --target-pid 999999", [
        "run", "echo", "--target-pid", "999999", "--duration", "1s", "--out", "r.json"],
        Expect(exit=2, result="none")),
]

CASES = GATE + SIGNALS + LOUD + LIFECYCLE + SERVE + TARGET_TEXT + PIDS
