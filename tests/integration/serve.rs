//! `mcptop serve`'s bounds against raw loopback sockets: the Origin/Host
//! policy on HTTP and WebSocket, TCP's refusal of what is not JSON-RPC, the
//! default loopback address and the warning for any other, HTTP's header,
//! body and idle timeouts, and the connection cap. Every wait is on a
//! condition (a reply, a close) under a generous read timeout.

use crate::harness::{mcptop_bin, TestDir};
use crate::net::{serve, Server};
use std::io::{ErrorKind, Read, Write};
use std::net::TcpStream;
use std::process::{Command, Stdio};
use std::time::Duration;

/// Longest any single read may wait before the test fails.
const GUARD: Duration = Duration::from_secs(30);

/// `127.0.0.1:PORT` of a served URL.
fn authority(server: &Server) -> String {
    let rest = server.url.split_once("://").map_or("", |(_, r)| r);
    rest.split('/').next().unwrap_or_default().to_string()
}

fn connect(authority: &str) -> TcpStream {
    let s = TcpStream::connect(authority).expect("connect");
    s.set_read_timeout(Some(GUARD)).expect("timeout");
    s
}

/// Reads what comes until the server closes; fails the test if it does not
/// within the guard.
fn read_until_closed(s: &mut TcpStream) -> String {
    let mut out = Vec::new();
    let mut buf = [0u8; 4096];
    loop {
        match s.read(&mut buf) {
            Ok(0) => return String::from_utf8_lossy(&out).into_owned(),
            Ok(n) => out.extend_from_slice(&buf[..n]),
            Err(e) if e.kind() == ErrorKind::ConnectionReset => {
                return String::from_utf8_lossy(&out).into_owned()
            }
            Err(e) => panic!(
                "the server did not close the connection within {GUARD:?} ({e}); read so far: {:?}",
                String::from_utf8_lossy(&out)
            ),
        }
    }
}

/// Reads one HTTP response head (up to the blank line).
fn read_head(s: &mut TcpStream) -> String {
    let mut head = Vec::new();
    let mut byte = [0u8; 1];
    while !head.ends_with(b"\r\n\r\n") {
        match s.read(&mut byte) {
            Ok(1) => head.push(byte[0]),
            Ok(_) => break,
            Err(e) => panic!("no response head within {GUARD:?}: {e}"),
        }
    }
    String::from_utf8_lossy(&head).into_owned()
}

fn content_length(head: &str) -> usize {
    head.lines()
        .find_map(|l| {
            let (k, v) = l.split_once(':')?;
            k.eq_ignore_ascii_case("content-length")
                .then(|| v.trim().parse().ok())?
        })
        .unwrap_or(0)
}

/// POSTs a JSON-RPC ping on a kept-alive connection; returns the head.
fn ping(s: &mut TcpStream, authority: &str) -> String {
    let body = r#"{"jsonrpc":"2.0","id":1,"method":"ping"}"#;
    write!(
        s,
        "POST /mcp HTTP/1.1\r\nHost: {authority}\r\nContent-Type: application/json\r\n\
         Accept: application/json, text/event-stream\r\nContent-Length: {}\r\n\r\n{body}",
        body.len()
    )
    .expect("write");
    let head = read_head(s);
    let mut body = vec![0u8; content_length(&head)];
    s.read_exact(&mut body).expect("body");
    head
}

/// A WebSocket upgrade with these extra header lines; the reply's first line.
fn upgrade(authority: &str, host: &str, extra: &str) -> String {
    let mut s = connect(authority);
    write!(
        s,
        "GET / HTTP/1.1\r\nHost: {host}\r\n{extra}Upgrade: websocket\r\nConnection: Upgrade\r\n\
         Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\n\
         Sec-WebSocket-Protocol: mcp\r\n\r\n"
    )
    .expect("write");
    read_head(&mut s)
        .lines()
        .next()
        .unwrap_or_default()
        .to_string()
}

/// A POST ping with these extra header lines; the reply's first line.
fn post_with(authority: &str, host: &str, extra: &str) -> String {
    let mut s = connect(authority);
    let body = r#"{"jsonrpc":"2.0","id":1,"method":"ping"}"#;
    write!(
        s,
        "POST /mcp HTTP/1.1\r\nHost: {host}\r\n{extra}Content-Type: application/json\r\n\
         Accept: application/json, text/event-stream\r\nContent-Length: {}\r\n\r\n{body}",
        body.len()
    )
    .expect("write");
    read_head(&mut s)
        .lines()
        .next()
        .unwrap_or_default()
        .to_string()
}

#[test]
fn websocket_refuses_a_foreign_origin_or_host_before_the_upgrade() {
    let server = serve(&["--ws", "127.0.0.1:0"]);
    let a = authority(&server);
    let evil = upgrade(&a, &a, "Origin: http://evil.example\r\n");
    assert!(evil.starts_with("HTTP/1.1 403"), "{evil}");
    let rebound = upgrade(&a, "evil.example", "");
    assert!(rebound.starts_with("HTTP/1.1 403"), "{rebound}");
    for extra in [
        "",
        "Origin: http://localhost:5173\r\n",
        "Origin: http://127.0.0.1\r\n",
    ] {
        let ok = upgrade(&a, &a, extra);
        assert!(ok.starts_with("HTTP/1.1 101"), "{extra:?}: {ok}");
    }
}

#[test]
fn http_refuses_a_rebound_host_and_a_foreign_origin() {
    let server = serve(&["--http", "127.0.0.1:0", "--json-response", "--stateless"]);
    let a = authority(&server);
    let rebound = post_with(&a, "evil.example:80", "");
    assert!(rebound.starts_with("HTTP/1.1 403"), "{rebound}");
    let evil = post_with(&a, &a, "Origin: http://evil.example\r\n");
    assert!(evil.starts_with("HTTP/1.1 403"), "{evil}");
    let ok = post_with(&a, "localhost", "Origin: http://localhost:8080\r\n");
    assert!(ok.starts_with("HTTP/1.1 200"), "{ok}");
}

#[test]
fn allow_origin_and_allow_host_let_a_named_site_in() {
    let allow = [
        "--allow-origin",
        "https://app.example",
        "--allow-host",
        "mybox.lan",
    ];
    let http = serve(
        &[
            &["--http", "127.0.0.1:0", "--json-response", "--stateless"],
            &allow[..],
        ]
        .concat(),
    );
    let ws = serve(&[&["--ws", "127.0.0.1:0"], &allow[..]].concat());
    let (h, w) = (authority(&http), authority(&ws));
    let site = "Origin: https://app.example\r\n";
    assert!(post_with(&h, &h, site).starts_with("HTTP/1.1 200"));
    assert!(upgrade(&w, &w, site).starts_with("HTTP/1.1 101"));
    assert!(post_with(&h, "mybox.lan:3001", "").starts_with("HTTP/1.1 200"));
    assert!(upgrade(&w, "mybox.lan", "").starts_with("HTTP/1.1 101"));
    let other = "Origin: https://other.example\r\n";
    assert!(post_with(&h, &h, other).starts_with("HTTP/1.1 403"));
    assert!(upgrade(&w, &w, other).starts_with("HTTP/1.1 403"));
}

#[test]
fn an_unusable_allow_origin_is_a_usage_error() {
    TestDir::new()
        .mcptop()
        .args([
            "serve",
            "--ws",
            "127.0.0.1:0",
            "--allow-origin",
            "evil.example",
        ])
        .timeout(GUARD)
        .assert()
        .code(2)
        .stderr(predicates::str::contains("--allow-origin \"evil.example\""));
}

#[test]
fn a_zero_timeout_and_an_idle_timeout_off_http_are_usage_errors() {
    TestDir::new()
        .mcptop()
        .args(["serve", "--http", "127.0.0.1:0", "--header-timeout", "0s"])
        .timeout(GUARD)
        .assert()
        .code(2)
        .stderr(predicates::str::contains("must be more than 0"));
    TestDir::new()
        .mcptop()
        .args(["serve", "--ws", "127.0.0.1:0", "--idle-timeout", "5s"])
        .timeout(GUARD)
        .assert()
        .code(2)
        .stderr(predicates::str::contains(
            "cannot be used with '--idle-timeout",
        ));
}

#[test]
fn a_browser_post_to_the_tcp_port_runs_nothing() {
    let server = serve(&["--tcp", "127.0.0.1:0"]);
    let a = authority(&server);
    // What a web page's cross-site form POST looks like on the wire: an
    // HTTP head, then a body of JSON-RPC lines.
    let init = r#"{"jsonrpc":"2.0","id":1,"method":"initialize","params":{"protocolVersion":"2025-06-18","capabilities":{},"clientInfo":{"name":"page","version":"1"}}}"#;
    let call = r#"{"jsonrpc":"2.0","id":2,"method":"tools/call","params":{"name":"echo","arguments":{"message":"from a web page"}}}"#;
    let body = format!(
        "\n{init}\n{{\"jsonrpc\":\"2.0\",\"method\":\"notifications/initialized\"}}\n{call}\n"
    );
    let mut s = connect(&a);
    write!(
        s,
        "POST / HTTP/1.1\r\nHost: {a}\r\nOrigin: http://evil.example\r\nContent-Type: text/plain\r\n\
         Content-Length: {}\r\n\r\n{body}",
        body.len()
    )
    .expect("write");
    let reply = read_until_closed(&mut s);
    assert!(!reply.contains("from a web page"), "the tool ran: {reply}");
    assert!(reply.contains("not JSON-RPC"), "{reply}");
}

#[test]
fn a_non_loopback_bind_is_warned_about_on_stderr() {
    // Holding the port on 127.0.0.1 makes the bind on 0.0.0.0 fail, so the
    // test never listens beyond loopback; the warning comes before binding.
    let held = std::net::TcpListener::bind("127.0.0.1:0").expect("bind");
    let port = held.local_addr().expect("addr").port();
    let output = TestDir::new()
        .mcptop()
        .args(["serve", "--tcp", &format!("0.0.0.0:{port}")])
        .timeout(GUARD)
        .output()
        .expect("run");
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(
        stderr.contains(&format!(
            "warning: mcptop serve binds 0.0.0.0:{port}, which is not a loopback address"
        )),
        "{stderr}"
    );
    assert!(stderr.contains("cannot listen on"), "{stderr}");
    assert_eq!(output.status.code(), Some(2));
}

#[test]
fn a_loopback_bind_says_nothing_on_stderr() {
    let dir = TestDir::new();
    let err = std::fs::File::create(dir.join("stderr")).expect("file");
    let mut child = Command::new(mcptop_bin())
        .args(["serve", "--http", "0"])
        .stdout(Stdio::piped())
        .stderr(err)
        .spawn()
        .expect("serve");
    let mut line = String::new();
    let stdout = child.stdout.take().expect("stdout");
    std::io::BufRead::read_line(&mut std::io::BufReader::new(stdout), &mut line).expect("line");
    let _ = child.kill();
    let _ = child.wait();
    assert!(line.starts_with("listening on http://127.0.0.1:"), "{line}");
    let stderr = std::fs::read_to_string(dir.join("stderr")).expect("stderr");
    assert!(stderr.is_empty(), "{stderr}");
}

#[test]
fn serve_without_an_address_binds_loopback_on_the_default_port() {
    // Another process may hold 3003; either way the address tried shows.
    let mut child = Command::new(mcptop_bin())
        .args(["serve", "--ws"])
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("serve");
    let mut line = String::new();
    let stdout = child.stdout.take().expect("stdout");
    std::io::BufRead::read_line(&mut std::io::BufReader::new(stdout), &mut line).expect("line");
    let _ = child.kill();
    let output = child.wait_with_output().expect("wait");
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(
        line.trim() == "listening on ws://127.0.0.1:3003/"
            || stderr.contains("cannot listen on 127.0.0.1:3003"),
        "stdout {line:?}, stderr {stderr:?}"
    );
}

#[test]
fn a_half_sent_request_head_is_cut_off_while_a_good_client_is_served() {
    let server = serve(&[
        "--http",
        "127.0.0.1:0",
        "--json-response",
        "--stateless",
        "--header-timeout",
        "300ms",
    ]);
    let a = authority(&server);
    let mut half = connect(&a);
    half.write_all(b"POST /mcp HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Ty")
        .expect("write");
    let mut good = connect(&a);
    assert!(ping(&mut good, &a).starts_with("HTTP/1.1 200"));
    assert_eq!(read_until_closed(&mut half), "", "no reply, just closed");
    // The good client's kept-alive connection goes on (well inside the idle
    // timeout), and new ones are served.
    assert!(ping(&mut good, &a).starts_with("HTTP/1.1 200"));
    assert!(ping(&mut connect(&a), &a).starts_with("HTTP/1.1 200"));
}

#[test]
fn many_half_sent_heads_do_not_block_a_good_client_and_are_all_cut_off() {
    let server = serve(&[
        "--http",
        "127.0.0.1:0",
        "--json-response",
        "--stateless",
        "--header-timeout",
        "500ms",
    ]);
    let a = authority(&server);
    let mut halves: Vec<TcpStream> = (0..200)
        .map(|_| {
            let mut s = connect(&a);
            s.write_all(b"POST /mcp HTTP/1.1\r\nHost: 127.0.0.1\r\n")
                .expect("write");
            s
        })
        .collect();
    assert!(ping(&mut connect(&a), &a).starts_with("HTTP/1.1 200"));
    for half in &mut halves {
        assert_eq!(read_until_closed(half), "");
    }
}

#[test]
fn a_withheld_request_body_gets_408() {
    let server = serve(&[
        "--http",
        "127.0.0.1:0",
        "--json-response",
        "--stateless",
        "--header-timeout",
        "300ms",
    ]);
    let a = authority(&server);
    let mut s = connect(&a);
    write!(
        s,
        "POST /mcp HTTP/1.1\r\nHost: {a}\r\nContent-Type: application/json\r\n\
         Accept: application/json, text/event-stream\r\nContent-Length: 100\r\n\r\n{{\"jsonrpc\""
    )
    .expect("write");
    let reply = read_until_closed(&mut s);
    assert!(reply.starts_with("HTTP/1.1 408"), "{reply}");
}

/// `initialize` on a stateful server; the session id.
fn open_session(a: &str) -> String {
    let body = r#"{"jsonrpc":"2.0","id":1,"method":"initialize","params":{"protocolVersion":"2025-06-18","capabilities":{},"clientInfo":{"name":"t","version":"1"}}}"#;
    let mut s = connect(a);
    write!(
        s,
        "POST /mcp HTTP/1.1\r\nHost: {a}\r\nContent-Type: application/json\r\n\
         Accept: application/json, text/event-stream\r\nContent-Length: {}\r\n\r\n{body}",
        body.len()
    )
    .expect("write");
    let head = read_head(&mut s);
    head.lines()
        .find_map(|l| {
            let (k, v) = l.split_once(':')?;
            k.eq_ignore_ascii_case("mcp-session-id")
                .then(|| v.trim().to_string())
        })
        .unwrap_or_else(|| panic!("no session id in {head}"))
}

#[test]
fn an_idle_connection_is_closed_but_an_open_event_stream_is_not() {
    let server = serve(&["--http", "127.0.0.1:0", "--idle-timeout", "500ms"]);
    let a = authority(&server);
    let session = open_session(&a);
    let mut stream = connect(&a);
    write!(
        stream,
        "GET /mcp HTTP/1.1\r\nHost: {a}\r\nAccept: text/event-stream\r\nMcp-Session-Id: {session}\r\n\
         MCP-Protocol-Version: 2025-06-18\r\n\r\n"
    )
    .expect("write");
    assert!(read_head(&mut stream).starts_with("HTTP/1.1 200"));
    // A connection that had its answer and then waits is closed by the
    // idle clock, which has then run out for the stream too.
    let mut idle = connect(&a);
    assert!(any_post(&mut idle, &a).starts_with("HTTP/1.1 "));
    read_until_closed(&mut idle);
    stream.set_nonblocking(true).expect("nonblocking");
    let mut buf = [0u8; 1024];
    loop {
        match stream.read(&mut buf) {
            Ok(0) => panic!("the event stream was closed by the idle timeout"),
            Ok(_) => continue,
            Err(e) if e.kind() == ErrorKind::WouldBlock => break,
            Err(e) => panic!("event stream: {e}"),
        }
    }
}

/// A ping without a session on `s`: whatever the answer (a refusal is
/// fine), the connection is idle afterwards.
fn any_post(s: &mut TcpStream, a: &str) -> String {
    let body = r#"{"jsonrpc":"2.0","id":1,"method":"ping"}"#;
    write!(
        s,
        "POST /mcp HTTP/1.1\r\nHost: {a}\r\nContent-Type: application/json\r\n\
         Accept: application/json, text/event-stream\r\nContent-Length: {}\r\n\r\n{body}",
        body.len()
    )
    .expect("write");
    read_head(s)
}

#[test]
fn past_max_connections_a_new_connection_is_told_busy_at_once() {
    let server = serve(&[
        "--http",
        "127.0.0.1:0",
        "--json-response",
        "--stateless",
        "--max-connections",
        "2",
    ]);
    let a = authority(&server);
    let mut first = connect(&a);
    let mut second = connect(&a);
    assert!(ping(&mut first, &a).starts_with("HTTP/1.1 200"));
    assert!(ping(&mut second, &a).starts_with("HTTP/1.1 200"));
    // Nothing written, so the refusal is read whole before the close.
    let reply = read_until_closed(&mut connect(&a));
    assert!(reply.starts_with("HTTP/1.1 503"), "{reply}");
    drop(first);
    // The slot frees once the server has seen the close.
    let deadline = std::time::Instant::now() + GUARD;
    loop {
        let answer = try_ping(&a);
        if answer
            .as_deref()
            .is_some_and(|l| l.starts_with("HTTP/1.1 200"))
        {
            break;
        }
        assert!(
            std::time::Instant::now() < deadline,
            "no slot came free after a client left: {answer:?}"
        );
        std::thread::sleep(Duration::from_millis(20));
    }
}

/// A ping on a new connection that asks to be closed: the status line, or
/// `None` when the server closed first (it was busy).
fn try_ping(a: &str) -> Option<String> {
    let mut s = connect(a);
    let body = r#"{"jsonrpc":"2.0","id":1,"method":"ping"}"#;
    write!(
        s,
        "POST /mcp HTTP/1.1\r\nHost: {a}\r\nContent-Type: application/json\r\nConnection: close\r\n\
         Accept: application/json, text/event-stream\r\nContent-Length: {}\r\n\r\n{body}",
        body.len()
    )
    .ok()?;
    let mut reply = String::new();
    s.read_to_string(&mut reply).ok()?;
    reply.lines().next().map(str::to_string)
}
