#!/usr/bin/env python3
"""Hostile MCP servers over Streamable HTTP (127.0.0.1, just enough
HTTP/1.1), the cases of tests/integration/hostile_http.rs as a separate
process, for benches/hostile_catalog.sh. Prints the URL on the first line.

usage: http_peer.py MODE
  malformed-json       a JSON reply that is not JSON
  wrong-id             a JSON reply with an id nobody asked for
  duplicate-id         an event stream with the reply twice
  never-answers        an event stream that never says anything
  closes-mid-stream    half an event, then the connection closes
  endless-event        a 160 MiB event before the first reply
  endless-header-line  an 8 MiB response header line
  notification-flood   200 notifications on the stream before each reply
  server-error         500 for every request
  forgets-sessions     a session is forgotten after 5 requests (404 on it)
Every mode answers initialize properly, with a session id.
"""
import json
import socket
import sys
import threading

SSE_HEAD = b"HTTP/1.1 200 OK\r\nContent-Type: text/event-stream\r\nTransfer-Encoding: chunked\r\n\r\n"
lock = threading.Lock()
sessions = {}
replies = [0]  # answers given so far (endless-event: only the first is endless)
inits = [0]


def chunk(data):
    if isinstance(data, str):
        data = data.encode()
    return b"%x\r\n" % len(data) + data + b"\r\n"


def event(message):
    return "event: message\ndata: %s\n\n" % message


def respond(out, status, headers, body):
    if isinstance(body, str):
        body = body.encode()
    out.write(b"HTTP/1.1 %s\r\n%sContent-Length: %d\r\n\r\n" % (status.encode(), headers.encode(), len(body)) + body)


def read_request(reader):
    line = reader.readline()
    if not line:
        return None
    method = line.split(b" ", 1)[0].decode()
    headers = {}
    while True:
        line = reader.readline()
        if not line:
            return None
        line = line.strip()
        if not line:
            break
        k, _, v = line.partition(b":")
        headers[k.strip().lower().decode()] = v.strip().decode()
    body = reader.read(int(headers.get("content-length", "0")))
    return method, headers, body


def answer(out, mode, headers, message):
    rid = message["id"]
    ok = json.dumps({"jsonrpc": "2.0", "id": rid, "result": {"content": []}})
    if mode == "malformed-json":
        respond(out, "200 OK", "Content-Type: application/json\r\n", "{not json, id %d" % rid)
    elif mode == "wrong-id":
        wrong = json.dumps({"jsonrpc": "2.0", "id": rid + 1000000, "result": {}})
        respond(out, "200 OK", "Content-Type: application/json\r\n", wrong)
    elif mode == "duplicate-id":
        out.write(SSE_HEAD + chunk(event(ok) + event(ok)) + b"0\r\n\r\n")
    elif mode == "never-answers":
        out.write(SSE_HEAD)
    elif mode == "closes-mid-stream":
        whole = event(ok).encode()
        out.write(SSE_HEAD + b"%x\r\n" % len(whole) + whole[:20])
        return False
    elif mode == "endless-event":
        out.write(SSE_HEAD)
        with lock:
            replies[0] += 1
            first = replies[0] == 1
        if first:
            out.write(chunk("data: "))
            piece = chunk("x" * (1024 * 1024))
            for _ in range(160):
                out.write(piece)
            out.write(chunk("\n\n"))
        out.write(chunk(event(ok)) + b"0\r\n\r\n")
    elif mode == "endless-header-line":
        out.write(b"HTTP/1.1 200 OK\r\nX-Endless: ")
        piece = b"a" * (64 * 1024)
        for _ in range(128):
            out.write(piece)
        return False
    elif mode == "notification-flood":
        note = '{"jsonrpc":"2.0","method":"notifications/message","params":{"level":"info","data":"flood"}}'
        out.write(SSE_HEAD + chunk(event(note)) * 200 + chunk(event(ok)) + b"0\r\n\r\n")
    elif mode == "server-error":
        respond(out, "500 Internal Server Error", "", "boom")
    elif mode == "forgets-sessions":
        session = headers.get("mcp-session-id", "")
        with lock:
            count = sessions.get(session)
            known = count is not None and count < 5
            if known:
                sessions[session] = count + 1
            else:
                sessions.pop(session, None)
        if known:
            respond(out, "200 OK", "Content-Type: application/json\r\n", ok)
        else:
            respond(out, "404 Not Found", "", "no such session")
    return True


def converse(conn, mode):
    conn.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
    reader = conn.makefile("rb")
    out = conn.makefile("wb")
    while True:
        request = read_request(reader)
        if request is None:
            return
        method, headers, body = request
        if method != "POST":
            respond(out, "405 Method Not Allowed" if method == "GET" else "200 OK", "", "")
            out.flush()
            continue
        try:
            message = json.loads(body)
        except ValueError:
            message = {}
        if not isinstance(message, dict) or not isinstance(message.get("id"), int):
            respond(out, "202 Accepted", "", "")
            out.flush()
            continue
        if message.get("method") == "initialize":
            with lock:
                inits[0] += 1
                session = "s%d" % inits[0]
                sessions[session] = 0
            init = json.dumps({"jsonrpc": "2.0", "id": message["id"], "result": {
                "protocolVersion": "2025-06-18", "capabilities": {},
                "serverInfo": {"name": "hostile-http", "version": "0"}}})
            respond(out, "200 OK", "Content-Type: application/json\r\nMcp-Session-Id: %s\r\n" % session, init)
            out.flush()
            continue
        go_on = answer(out, mode, headers, message)
        out.flush()
        if not go_on:
            conn.shutdown(socket.SHUT_RDWR)
            return


def guarded(conn, mode):
    try:
        converse(conn, mode)
    except OSError:
        pass
    finally:
        conn.close()


def main():
    mode = sys.argv[1]
    listener = socket.socket()
    listener.bind(("127.0.0.1", 0))
    listener.listen(128)
    print("http://127.0.0.1:%d/mcp" % listener.getsockname()[1], flush=True)
    while True:
        conn, _ = listener.accept()
        threading.Thread(target=guarded, args=(conn, mode), daemon=True).start()


if __name__ == "__main__":
    main()
