#!/usr/bin/env python3
"""Hostile MCP servers over newline-delimited JSON-RPC on TCP (127.0.0.1),
the cases of tests/integration/hostile.rs as a separate process, for
benches/hostile_catalog.sh. Prints the port on the first line of stdout.

usage: tcp_peer.py MODE
  garbage             a line that is not JSON for every request
  wrong-ids           every reply carries an id nobody asked for
  duplicate-ids       every reply is sent twice
  never-answers       initialize only
  closes-after-20     20 replies per connection, then half a message and close
  endless-line        an 80 MiB line before the first reply
  notification-flood  200 notifications before every reply
  never-accepts       listens with a backlog of 1, fills it, never accepts
Every mode answers initialize properly (except never-accepts).
"""
import json
import socket
import sys
import threading
import time


def init_reply(req):
    return json.dumps({"jsonrpc": "2.0", "id": req["id"], "result": {
        "protocolVersion": "2025-06-18", "capabilities": {},
        "serverInfo": {"name": "hostile", "version": "0"}}}) + "\n"


def converse(conn, mode):
    conn.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
    out = conn.makefile("wb")
    answered = 0
    for line in conn.makefile("rb"):
        try:
            req = json.loads(line)
        except ValueError:
            continue
        if not isinstance(req, dict) or "id" not in req:
            continue
        rid = req["id"]
        if req.get("method") == "initialize":
            out.write(init_reply(req).encode())
            out.flush()
            continue
        ok = (json.dumps({"jsonrpc": "2.0", "id": rid, "result": {"content": []}}) + "\n").encode()
        if mode == "garbage":
            out.write(b"{not json at all, id %d\n" % rid)
        elif mode == "wrong-ids":
            out.write(b'{"jsonrpc":"2.0","id":%d,"result":{}}\n' % (rid + 1000000))
        elif mode == "duplicate-ids":
            out.write(ok + ok)
        elif mode == "never-answers":
            pass
        elif mode == "closes-after-20":
            if answered == 20:
                out.write(b'{"jsonrpc":"2.0","id":')
                out.flush()
                conn.shutdown(socket.SHUT_RDWR)
                return
            out.write(ok)
        elif mode == "endless-line":
            if answered == 0:
                chunk = b"x" * (1024 * 1024)
                for _ in range(80):
                    out.write(chunk)
                out.write(b"\n")
            out.write(ok)
        elif mode == "notification-flood":
            note = b'{"jsonrpc":"2.0","method":"notifications/message","params":{"level":"info","data":"flood"}}\n'
            out.write(note * 200 + ok)
        out.flush()
        answered += 1


def serve(mode):
    listener = socket.socket()
    listener.bind(("127.0.0.1", 0))
    if mode == "never-accepts":
        listener.listen(1)
        held = []
        # Fill the accept queue; later SYNs are dropped and connects hang.
        for _ in range(4):
            s = socket.socket()
            s.setblocking(False)
            try:
                s.connect(listener.getsockname())
            except BlockingIOError:
                pass
            held.append(s)
    else:
        listener.listen(128)
    print(listener.getsockname()[1], flush=True)
    if mode == "never-accepts":
        while True:
            time.sleep(3600)
    while True:
        conn, _ = listener.accept()
        threading.Thread(target=guarded, args=(conn, mode), daemon=True).start()


def guarded(conn, mode):
    try:
        converse(conn, mode)
    except OSError:
        pass
    finally:
        conn.close()


if __name__ == "__main__":
    serve(sys.argv[1])
