#!/usr/bin/env python3
"""The builtin `sleep_us` tool's overshoot as the server measures it
(`slept_us` in its reply - the asked time), against `mcptop serve --stdio` as
its own process, one request at a time; next to this client's round trip
minus the asked time (what any client sees: the pipe hand-offs on top).

    python3 benches/sleep_overshoot.py target/release/mcptop [US] [SECONDS]
"""
import json
import subprocess
import sys
import time


def pct(values, q):
    values = sorted(values)
    return values[min(len(values) - 1, int(q * len(values)))] if values else 0


def main():
    binary = sys.argv[1]
    us = int(sys.argv[2]) if len(sys.argv) > 2 else 1000
    seconds = float(sys.argv[3]) if len(sys.argv) > 3 else 5.0
    child = subprocess.Popen([binary, "serve", "--stdio"], stdin=subprocess.PIPE,
                             stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, bufsize=0)

    def call(msg):
        child.stdin.write((json.dumps(msg) + "\n").encode())
        if "id" not in msg:
            return None
        while True:
            reply = json.loads(child.stdout.readline())
            if reply.get("id") == msg["id"]:
                return reply

    call({"jsonrpc": "2.0", "id": 0, "method": "initialize", "params": {
        "protocolVersion": "2025-06-18", "capabilities": {},
        "clientInfo": {"name": "sleep_overshoot", "version": "0"}}})
    call({"jsonrpc": "2.0", "method": "notifications/initialized"})
    server, client, exact = [], [], 0
    start = time.monotonic()
    end = start + 1.0 + seconds  # one second of warm-up
    i = 0
    while time.monotonic() < end:
        i += 1
        t0 = time.monotonic_ns()
        reply = call({"jsonrpc": "2.0", "id": i, "method": "tools/call",
                      "params": {"name": "sleep_us", "arguments": {"us": us}}})
        rtt = (time.monotonic_ns() - t0) // 1000
        if time.monotonic() - start < 1.0:
            continue
        content = reply["result"]["structuredContent"]
        server.append(content["slept_us"] - us)
        client.append(rtt - us)
        exact += content["exact"] is True
    child.stdin.close()
    child.wait(timeout=10)
    print(f"stdio: sleep_us {us}: server-side overshoot p50 {pct(server, .5)} p99 {pct(server, .99)} "
          f"max {max(server)} µs; this client's round trip - {us}: p50 {pct(client, .5)} p99 {pct(client, .99)} µs "
          f"({len(server)} calls, {exact} exact)")


if __name__ == "__main__":
    main()
