"""What the catalog's rows share: the hostile echo workload, readers of a
result file, the stdio peers' target strings, and the steps a row takes
while mcptop runs (wait for a condition, signal, talk to `mcptop serve`).
"""
import hashlib
import os
import socket
import time

from catalog import ROOT

FIXTURES = os.path.join(ROOT, "tests", "fixtures")


def workload(stop, extra="", tool="echo", sessions=2, concurrency=4):
    return """name = "hostile"
%s
sessions = %d
concurrency = %d
warmup = "0s"
%s
[[ops]]
method = "tools/call"
tool = "%s"
arguments = { message = "hi" }
""" % (extra, sessions, concurrency, stop, tool)


ONE_SECOND = 'duration = "1s"\ntimeout = "300ms"'
# Ten requests, generous timeouts: the case is about the peer, not the clock;
# one violation in ten requests is 10 %.
TEN_REQUESTS = 'requests = 10\nduration = "60s"\ntimeout = "20s"'


def write_workload(name, text):
    def setup(ctx):
        ctx.write(name, text)
    return setup


def field(r, *path):
    for key in path:
        r = r.get(key, {}) if isinstance(r, dict) else {}
    return r if not isinstance(r, dict) else 0


def errors(r, kind):
    return field(r, "overall", "errors_by_kind", kind) or 0


def violations(r):
    return field(r, "protocol", "violations") or 0


def ok(r):
    return field(r, "overall", "ok") or 0


def need(cond, what):
    return None if cond else what


def flaky(mode, extra=""):
    return "stdio:python3 %s %s%s" % (os.path.join(FIXTURES, "flaky_server.py"), mode, extra)


def peer_target(ctx, mode):
    return "stdio:python3 %s %s %s" % (ctx.fixture("stdio_peer.py"), mode, ctx.marker)


def wait_until(cond, max_s, step=0.05):
    deadline = time.monotonic() + max_s
    while time.monotonic() < deadline:
        if cond():
            return True
        time.sleep(step)
    return False


def read(path):
    try:
        with open(path, "rb") as f:
            return f.read()
    except OSError:
        return b""


def output(ctx):
    return read(ctx.path("stdout")) + read(ctx.path("stderr"))


def signal_when(sig, cond, max_s, what, extra_s=0.0):
    """Sends `sig` to mcptop once `cond` holds (or after `max_s`, noted)."""
    def during(ctx, proc, out):
        if not wait_until(lambda: cond(ctx), max_s):
            out.figures.append("did not see %s within %.0f s; signalled anyway" % (what, max_s))
        time.sleep(extra_s)
        ctx.values["signalled"] = time.monotonic()
        os.kill(proc.pid, sig)
    return during


def since_signal(ctx, o):
    return ctx.values["start"] + o.wall_s - ctx.values.get("signalled", ctx.values["start"])


def sha256(path):
    return hashlib.sha256(read(path)).hexdigest()


def marked(ctx):
    """How many processes (besides mcptop, whose --target names it) carry
    this case's marker."""
    n = 0
    for entry in os.listdir("/proc"):
        if entry.isdigit() and int(entry) != ctx.values.get("pid"):
            try:
                with open("/proc/%s/cmdline" % entry, "rb") as f:
                    n += ctx.marker.encode() in f.read()
            except OSError:
                pass
    return n


def listening(ctx):
    """(host, port) from `mcptop serve`'s first line."""
    if not wait_until(lambda: b"\n" in read(ctx.path("stdout")), 20):
        raise RuntimeError("serve printed no listening line")
    line = read(ctx.path("stdout")).split(b"\n")[0].decode()
    authority = line.split("://", 1)[1].split("/", 1)[0]
    host, port = authority.rsplit(":", 1)
    return host, int(port)


def exchange(addr, data, timeout=10):
    """Sends `data`, reads until the server closes or `timeout` passes."""
    try:
        s = socket.create_connection(addr, timeout=timeout)
    except OSError:
        return ""
    got = b""
    try:
        s.sendall(data)
        while True:
            chunk = s.recv(65536)
            if not chunk:
                break
            got += chunk
            if b"HTTP/1.1 101" in got and b"\r\n\r\n" in got:
                break
    except OSError:
        pass
    finally:
        s.close()
    return got.decode(errors="replace")


def upgrade_request(host, port, origin):
    return ("GET / HTTP/1.1\r\nHost: %s:%d\r\n%sUpgrade: websocket\r\nConnection: Upgrade\r\n"
            "Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\n"
            "Sec-WebSocket-Protocol: mcp\r\n\r\n" % (host, port, origin)).encode()


def nofile(soft):
    """In the child: an open-file soft limit of `soft`, as a default shell has."""
    import resource

    def apply():
        hard = resource.getrlimit(resource.RLIMIT_NOFILE)[1]
        resource.setrlimit(resource.RLIMIT_NOFILE, (min(soft, hard), hard))
    return apply
