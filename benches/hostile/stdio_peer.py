#!/usr/bin/env python3
"""Hostile MCP servers on stdio for benches/hostile_catalog.sh.

usage: stdio_peer.py MODE [--marker=TAG]
  echo       a well-behaved server: initialize, then a result for every request
  hang       reads requests and never answers, not even initialize
  id-only    answers every request with {"jsonrpc":"2.0","id":N}: no result, no error
  bad-utf8   answers every request with a line holding its id and invalid UTF-8
  escapes    a serverInfo name and stderr lines full of terminal escape
             sequences; exits with code 3 after 50 calls
  long-line  the first reply of each session comes after one 200 MB line
             (written in 1 MiB pieces, never held whole)
  helper     sleeps for two minutes, whatever happens to stdin (a launcher's
             worker process)
The marker only tags the command line, so the catalog can find leftovers.
"""
import json
import sys
import time

ESCAPES = "\x1b]0;pwned title\x07\x1b[2J\x1b]52;c;ZXZpbA==\x07\x1b[31m"


def send(obj):
    sys.stdout.write(json.dumps(obj) + "\n")
    sys.stdout.flush()


def init_result(req, name):
    return {
        "jsonrpc": "2.0",
        "id": req["id"],
        "result": {
            "protocolVersion": req["params"]["protocolVersion"],
            "capabilities": {"tools": {}},
            "serverInfo": {"name": name, "version": "0"},
        },
    }


def ok(req):
    return {"jsonrpc": "2.0", "id": req["id"], "result": {"content": [{"type": "text", "text": "ok"}]}}


def long_line():
    piece = "x" * (1024 * 1024)
    out = sys.stdout
    out.write('{"jsonrpc":"2.0","method":"notifications/message","params":{"data":"')
    for _ in range(200):
        out.write(piece)
    out.write('"}}\n')
    out.flush()


def main():
    mode = sys.argv[1]
    if mode == "helper":
        time.sleep(120)
        return 0
    name = "hostile-" + mode
    if mode == "escapes":
        name = "evil" + ESCAPES + "server"
        sys.stderr.write("starting" + ESCAPES + "\n")
        sys.stderr.flush()
    calls = 0
    for line in sys.stdin:
        try:
            req = json.loads(line)
        except ValueError:
            continue
        if "id" not in req or mode == "hang":
            continue
        if req.get("method") == "initialize":
            send(init_result(req, name))
            continue
        calls += 1
        if mode == "id-only":
            send({"jsonrpc": "2.0", "id": req["id"]})
        elif mode == "bad-utf8":
            head = '{"jsonrpc":"2.0","id":%s,"result":{"content":[{"type":"text","text":"' % json.dumps(req["id"])
            sys.stdout.buffer.write(head.encode() + b"\xff\xfe\xc3(" + b'"}]}}\n')
            sys.stdout.buffer.flush()
        elif mode == "escapes":
            if calls > 50:
                sys.stderr.write("giving up" + ESCAPES + "\n")
                sys.stderr.flush()
                return 3
            send(ok(req))
        elif mode == "long-line":
            if calls == 1:
                long_line()
            send(ok(req))
        else:
            send(ok(req))
    return 0


if __name__ == "__main__":
    sys.exit(main())
