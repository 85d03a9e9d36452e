"""The hostile tests' peers as catalog rows: the cases of
tests/integration/stdio.rs, hostile.rs and hostile_http.rs, against scripted
peers run as separate processes.

Expectations that depend on the default error-rate threshold (issue 9,
items 5 and 7: errors and protocol violations count toward it) are built so
that the rate is far from any sensible default: either zero, or 10 % and up.
"""
from catalog import Case, Expect
from common import (ONE_SECOND, TEN_REQUESTS, errors, field, flaky, need, ok, violations,
                    workload)

# ---------------------------------------------------------------- stdio

STDIO = [
    Case("stdio: crashes after 300 calls", [
        "run", "echo", "--target", flaky("crash", " 300"), "--sessions", "1", "--concurrency", "1",
        "--duration", "20s", "--warmup", "0s", "--out", "r.json", "--quiet"],
        Expect(exit=2, timeout_s=60),
        check=lambda ctx, o: need(
            field(o.result, "stopped_by", "reason") == "target_exited" and ok(o.result) == 300,
            "want stopped_by target_exited and 300 ok: %s, %s ok" % (o.result.get("stopped_by"), ok(o.result)))),
    Case("stdio: garbage for initialize", [
        "run", "echo", "--target", flaky("garbage"), "--duration", "1s", "--out", "r.json"],
        Expect(exit=2, result="none"),
        check=lambda ctx, o: need(b"not json-rpc" in o.stderr, "stderr does not quote the garbage")),
    Case("stdio: never answers initialize", [
        "run", "echo", "--target", flaky("silent"), "--duration", "1s", "--out", "r.json"],
        Expect(exit=2, result="none", timeout_s=40),
        check=lambda ctx, o: need(b"initialize" in o.stderr, "stderr does not name initialize")),
    Case("stdio: missing command", [
        "run", "echo", "--target", "stdio:/no/such/server --flag", "--duration", "1s", "--out", "r.json"],
        Expect(exit=2, result="none"),
        check=lambda ctx, o: need(b"/no/such/server" in o.stderr, "stderr does not name the command")),
]

# ---------------------------------------------------------------- tcp


def tcp_case(mode, expect, check, stop=ONE_SECOND):
    def setup(ctx):
        ctx.write("w.toml", workload(stop))
        ctx.values["port"] = ctx.peer(["python3", ctx.fixture("tcp_peer.py"), mode])
    return Case("tcp: " + mode, [
        "run", "w.toml", "--target", lambda ctx: "tcp://127.0.0.1:%s" % ctx.values["port"],
        "--out", "r.json", "--quiet"], expect, setup=setup, check=check)


TCP = [
    tcp_case("garbage", Expect(exit=1), lambda ctx, o: need(
        violations(o.result) > 0 and errors(o.result, "timeout") > 0 and ok(o.result) == 0,
        "want violations, timeouts, no ok: %s" % o.result.get("overall"))),
    tcp_case("wrong-ids", Expect(exit=1), lambda ctx, o: need(
        violations(o.result) > 0 and errors(o.result, "timeout") > 0, "want violations and timeouts")),
    tcp_case("duplicate-ids", Expect(exit=1), lambda ctx, o: need(
        ok(o.result) > 10 and violations(o.result) > 0, "want >10 ok and violations")),
    tcp_case("never-answers", Expect(exit=1), lambda ctx, o: need(
        ok(o.result) == 0 and errors(o.result, "timeout") >= 4, "want timeouts only")),
    tcp_case("closes-after-20", Expect(exit=2), lambda ctx, o: need(
        ok(o.result) >= 20 and errors(o.result, "transport") > 0, "want >=20 ok, then transport errors")),
    tcp_case("endless-line", Expect(exit=1, rss_mib=150, timeout_s=60), lambda ctx, o: need(
        ok(o.result) >= 10 and violations(o.result) > 0, "want 10 ok and a violation"), stop=TEN_REQUESTS),
    tcp_case("notification-flood", Expect(exit=0), lambda ctx, o: need(
        ok(o.result) > 10 and (field(o.result, "protocol", "notifications") or 0) >= 200 * ok(o.result),
        "want every notification counted")),
]

# ---------------------------------------------------------------- http


def http_case(mode, expect, check, stop=ONE_SECOND):
    def setup(ctx):
        ctx.write("w.toml", workload(stop, extra='protocol = "2025-06-18"'))
        ctx.values["url"] = ctx.peer(["python3", ctx.fixture("http_peer.py"), mode])
    return Case("http: " + mode, [
        "run", "w.toml", "--target", lambda ctx: ctx.values["url"], "--out", "r.json", "--quiet"],
        expect, setup=setup, check=check)


def all_failed_as(kind):
    return lambda ctx, o: need(ok(o.result) == 0 and errors(o.result, kind) > 10,
                               "want every request failed as %s: %s" % (kind, o.result.get("overall")))


HTTP = [
    http_case("malformed-json", Expect(exit=1), all_failed_as("protocol")),
    http_case("wrong-id", Expect(exit=1), all_failed_as("protocol")),
    http_case("duplicate-id", Expect(exit=1), lambda ctx, o: need(
        ok(o.result) > 10 and violations(o.result) > 0, "want >10 ok and violations")),
    http_case("never-answers", Expect(exit=1), lambda ctx, o: need(
        ok(o.result) == 0 and errors(o.result, "timeout") >= 4, "want timeouts only")),
    http_case("closes-mid-stream", Expect(exit=1), all_failed_as("transport")),
    http_case("endless-event", Expect(exit=1, rss_mib=150, timeout_s=60), lambda ctx, o: need(
        ok(o.result) >= 10 and violations(o.result) >= 1, "want 10 ok and a violation"), stop=TEN_REQUESTS),
    http_case("endless-header-line", Expect(exit=1), all_failed_as("transport")),
    http_case("notification-flood", Expect(exit=0), lambda ctx, o: need(
        ok(o.result) > 10 and (field(o.result, "protocol", "notifications") or 0) >= 200 * ok(o.result),
        "want every notification counted")),
    http_case("server-error", Expect(exit=1), all_failed_as("transport")),
    # Every sixth request meets a forgotten session: a new one is started
    # (no error), and the 404 is a violation (17 %).
    http_case("forgets-sessions", Expect(exit=1), lambda ctx, o: need(
        (field(o.result, "overall", "errors") or 0) == 0 and ok(o.result) > 20 and violations(o.result) >= 2,
        "want no errors, sessions renewed, violations: %s" % o.result.get("overall"))),
]

CASES = STDIO + TCP + HTTP
