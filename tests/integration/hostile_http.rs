//! Hostile peers over Streamable HTTP: a scripted server on a raw tokio
//! `TcpListener`, speaking just enough HTTP/1.1, that answers `initialize`
//! properly and then misbehaves in one way per test. Each run must end by
//! itself with the misbehaviour classified in the result file (an error kind,
//! a protocol violation or both), its memory bounded and no panic.

use crate::harness::RequestHead;
use crate::hostile::{errors_of, one_second, run_hostile_echo, BY_COUNT};
use serde_json::{json, Value};
use std::collections::HashMap;
use std::sync::atomic::{AtomicU32, Ordering};
use std::sync::{Arc, Mutex};
use tokio::io::{AsyncBufReadExt, AsyncReadExt, AsyncWriteExt, BufReader};
use tokio::net::tcp::{OwnedReadHalf, OwnedWriteHalf};
use tokio::net::{TcpListener, TcpStream};

#[derive(Clone, Copy, PartialEq)]
enum Misbehaviour {
    MalformedJson,
    WrongId,
    DuplicateId,
    NeverAnswers,
    ClosesMidStream,
    /// The first reply comes after one event longer than the client keeps.
    EndlessEvent,
    EndlessHeaderLine,
    NotificationFlood,
    ServerError,
    /// Every session is forgotten after this many requests (404 on it).
    ForgetsSessionsAfter(u32),
}

/// What the script keeps across connections.
struct Script {
    mode: Misbehaviour,
    initializes: AtomicU32,
    requests: AtomicU32,
    /// Requests each live session has had.
    sessions: Mutex<HashMap<String, u32>>,
}

/// The scripted server; its runtime (and every connection) stops when dropped.
struct HostileHttp {
    url: String,
    script: Arc<Script>,
    runtime: Option<tokio::runtime::Runtime>,
}

impl Drop for HostileHttp {
    fn drop(&mut self) {
        if let Some(runtime) = self.runtime.take() {
            runtime.shutdown_background();
        }
    }
}

fn hostile_http(mode: Misbehaviour) -> HostileHttp {
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(1)
        .enable_all()
        .build()
        .expect("runtime");
    let listener = runtime
        .block_on(TcpListener::bind("127.0.0.1:0"))
        .expect("bind");
    let port = listener.local_addr().expect("addr").port();
    let script = Arc::new(Script {
        mode,
        initializes: AtomicU32::new(0),
        requests: AtomicU32::new(0),
        sessions: Mutex::new(HashMap::new()),
    });
    let serving = script.clone();
    runtime.spawn(async move {
        while let Ok((stream, _)) = listener.accept().await {
            tokio::spawn(converse(stream, serving.clone()));
        }
    });
    HostileHttp {
        url: format!("http://127.0.0.1:{port}/mcp"),
        script,
        runtime: Some(runtime),
    }
}

async fn read_request(reader: &mut BufReader<OwnedReadHalf>) -> Option<(RequestHead, String)> {
    let mut line = String::new();
    if reader.read_line(&mut line).await.ok()? == 0 {
        return None;
    }
    let mut head = RequestHead::start(&line)?;
    loop {
        line.clear();
        reader.read_line(&mut line).await.ok()?;
        if !head.add(&line)? {
            break;
        }
    }
    let mut body = vec![0u8; head.content_length()];
    reader.read_exact(&mut body).await.ok()?;
    Some((head, String::from_utf8_lossy(&body).into_owned()))
}

async fn respond(
    out: &mut OwnedWriteHalf,
    status: &str,
    headers: &str,
    body: &str,
) -> std::io::Result<()> {
    let head = format!(
        "HTTP/1.1 {status}\r\n{headers}Content-Length: {}\r\n\r\n",
        body.len()
    );
    out.write_all(format!("{head}{body}").as_bytes()).await
}

async fn json_reply(out: &mut OwnedWriteHalf, body: &str) -> std::io::Result<()> {
    respond(out, "200 OK", "Content-Type: application/json\r\n", body).await
}

/// Event-stream head; the body is chunked.
const SSE_HEAD: &[u8] =
    b"HTTP/1.1 200 OK\r\nContent-Type: text/event-stream\r\nTransfer-Encoding: chunked\r\n\r\n";

fn chunk(data: &str) -> String {
    format!("{:x}\r\n{data}\r\n", data.len())
}

fn event(message: &str) -> String {
    format!("event: message\ndata: {message}\n\n")
}

async fn converse(stream: TcpStream, script: Arc<Script>) -> std::io::Result<()> {
    stream.set_nodelay(true)?;
    let (reader, mut out) = stream.into_split();
    let mut reader = BufReader::new(reader);
    while let Some((request, body)) = read_request(&mut reader).await {
        if request.method != "POST" {
            // No GET stream; DELETE is welcome.
            let status = if request.method == "GET" {
                "405 Method Not Allowed"
            } else {
                "200 OK"
            };
            respond(&mut out, status, "", "").await?;
            continue;
        }
        let message: Value = serde_json::from_str(&body).unwrap_or_default();
        let Some(id) = message.get("id").and_then(Value::as_u64) else {
            respond(&mut out, "202 Accepted", "", "").await?;
            continue;
        };
        if message["method"] == "initialize" {
            let n = script.initializes.fetch_add(1, Ordering::SeqCst) + 1;
            let session = format!("s{n}");
            script
                .sessions
                .lock()
                .expect("lock")
                .insert(session.clone(), 0);
            let body = json!({"jsonrpc": "2.0", "id": id, "result": {
                "protocolVersion": "2025-06-18", "capabilities": {},
                "serverInfo": {"name": "hostile-http", "version": "0"}}});
            let headers =
                format!("Content-Type: application/json\r\nMcp-Session-Id: {session}\r\n");
            respond(&mut out, "200 OK", &headers, &body.to_string()).await?;
            continue;
        }
        let nth = script.requests.fetch_add(1, Ordering::SeqCst);
        let ok = json!({"jsonrpc": "2.0", "id": id, "result": {"content": []}}).to_string();
        match script.mode {
            Misbehaviour::MalformedJson => {
                json_reply(&mut out, &format!("{{not json, id {id}")).await?
            }
            Misbehaviour::WrongId => {
                let wrong = json!({"jsonrpc": "2.0", "id": id + 1_000_000, "result": {}});
                json_reply(&mut out, &wrong.to_string()).await?;
            }
            Misbehaviour::DuplicateId => {
                // Both in one chunk, so the client reads them together.
                let twice = format!("{}{}", event(&ok), event(&ok));
                let body = format!("{}0\r\n\r\n", chunk(&twice));
                out.write_all(&[SSE_HEAD, body.as_bytes()].concat()).await?;
            }
            Misbehaviour::NeverAnswers => out.write_all(SSE_HEAD).await?,
            Misbehaviour::ClosesMidStream => {
                let half = &event(&ok)[..20];
                let body = format!("{:x}\r\n{half}", event(&ok).len());
                out.write_all(&[SSE_HEAD, body.as_bytes()].concat()).await?;
                return Ok(());
            }
            Misbehaviour::EndlessEvent => {
                out.write_all(SSE_HEAD).await?;
                if nth == 0 {
                    // 160 MiB in one event: more than twice what the client
                    // keeps (64 MiB), so keeping it all would show.
                    out.write_all(chunk("data: ").as_bytes()).await?;
                    let piece = chunk(&"x".repeat(1024 * 1024));
                    for _ in 0..160 {
                        out.write_all(piece.as_bytes()).await?;
                    }
                    out.write_all(chunk("\n\n").as_bytes()).await?;
                }
                let end = format!("{}0\r\n\r\n", chunk(&event(&ok)));
                out.write_all(end.as_bytes()).await?;
            }
            Misbehaviour::EndlessHeaderLine => {
                out.write_all(b"HTTP/1.1 200 OK\r\nX-Endless: ").await?;
                let piece = vec![b'a'; 64 * 1024];
                // 8 MiB without a line end (the client gives up at 64 KiB).
                for _ in 0..128 {
                    out.write_all(&piece).await?;
                }
                return Ok(());
            }
            Misbehaviour::NotificationFlood => {
                let note = r#"{"jsonrpc":"2.0","method":"notifications/message","params":{"level":"info","data":"flood"}}"#;
                let mut body = String::new();
                for _ in 0..200 {
                    body.push_str(&chunk(&event(note)));
                }
                body.push_str(&chunk(&event(&ok)));
                body.push_str("0\r\n\r\n");
                out.write_all(&[SSE_HEAD, body.as_bytes()].concat()).await?;
            }
            Misbehaviour::ServerError => {
                respond(&mut out, "500 Internal Server Error", "", "boom").await?;
            }
            Misbehaviour::ForgetsSessionsAfter(n) => {
                let known = {
                    let mut sessions = script.sessions.lock().expect("lock");
                    let session = request.header("mcp-session-id").unwrap_or_default();
                    match sessions.get_mut(session) {
                        Some(count) if *count < n => {
                            *count += 1;
                            true
                        }
                        Some(_) => {
                            sessions.remove(session);
                            false
                        }
                        None => false,
                    }
                };
                if known {
                    json_reply(&mut out, &ok).await?;
                } else {
                    respond(&mut out, "404 Not Found", "", "no such session").await?;
                }
            }
        }
    }
    Ok(())
}

/// Runs the hostile echo workload against the peer (2025-06-18, so there
/// is no stateless probe to script); it must end by itself, and exit 1
/// exactly when the default error-rate threshold failed.
fn run_against(server: &HostileHttp, timeout: &str) -> Value {
    run_stopped(server, &one_second(timeout))
}

fn run_stopped(server: &HostileHttp, stop: &str) -> Value {
    let (r, code) = run_hostile_echo(&server.url, stop, "protocol = \"2025-06-18\"");
    let passed = r["passed"].as_bool().expect("passed");
    assert_eq!(code, if passed { 0 } else { 1 }, "{}", r["thresholds"]);
    let reason = r["stopped_by"]["reason"].as_str().unwrap_or_default();
    assert!(
        reason == "completed" || reason == "request_limit",
        "ended by itself: {}",
        r["stopped_by"]
    );
    r
}

/// Nothing succeeded, and more than ten requests failed as `kind`.
fn all_failed_as(r: &Value, kind: &str) {
    assert_eq!(count(r, ["overall", "ok"]), 0, "{}", r["overall"]);
    assert!(errors_of(r, kind) > 10, "{}", r["overall"]);
}

fn violations(r: &Value) -> u64 {
    count(r, ["protocol", "violations"])
}

fn count(r: &Value, path: [&str; 2]) -> u64 {
    r[path[0]][path[1]].as_u64().unwrap_or(0)
}

/// The largest resident size mcptop reported while it ran.
fn peak_rss_mib(r: &Value) -> f64 {
    r["memory"]["history"]
        .as_array()
        .map(|h| h.iter().filter_map(|s| s[1].as_f64()).fold(0.0, f64::max))
        .unwrap_or(0.0)
        / (1024.0 * 1024.0)
}

#[test]
fn a_malformed_json_reply_is_a_protocol_error_and_a_violation() {
    let r = run_against(&hostile_http(Misbehaviour::MalformedJson), "300ms");
    all_failed_as(&r, "protocol");
    assert!(violations(&r) > 10, "{}", r["protocol"]);
}

#[test]
fn a_reply_with_the_wrong_id_is_a_protocol_error_and_a_violation() {
    let r = run_against(&hostile_http(Misbehaviour::WrongId), "300ms");
    all_failed_as(&r, "protocol");
    assert!(violations(&r) > 10, "{}", r["protocol"]);
}

#[test]
fn a_duplicate_reply_counts_once_and_is_a_violation() {
    let r = run_against(&hostile_http(Misbehaviour::DuplicateId), "300ms");
    assert!(count(&r, ["overall", "ok"]) > 10, "{}", r["overall"]);
    assert_eq!(r["overall"]["errors"], 0, "{}", r["overall"]);
    assert!(violations(&r) > 0, "{}", r["protocol"]);
}

#[test]
fn a_stream_that_never_answers_times_out_per_request() {
    let r = run_against(&hostile_http(Misbehaviour::NeverAnswers), "300ms");
    assert_eq!(count(&r, ["overall", "ok"]), 0);
    assert!(errors_of(&r, "timeout") >= 4, "{}", r["overall"]);
}

#[test]
fn a_stream_closed_mid_event_is_a_transport_error() {
    let r = run_against(&hostile_http(Misbehaviour::ClosesMidStream), "300ms");
    all_failed_as(&r, "transport");
}

#[test]
fn an_endless_event_is_dropped_with_bounded_memory() {
    let r = run_stopped(&hostile_http(Misbehaviour::EndlessEvent), BY_COUNT);
    assert!(count(&r, ["overall", "ok"]) >= 40, "{}", r["overall"]);
    assert!(violations(&r) >= 1, "{}", r["protocol"]);
    // 160 MiB went through; the client kept at most its 64 MiB limit of it,
    // reserved once at the limit (no doubling: growing 32 -> 64 MiB held
    // both buffers, 96 MiB, for a moment), over a debug build's own 40-60
    // MiB among parallel tests: at most about 125 MiB. Had it kept the whole
    // event it would be past 200 MiB. The peak is the 250 ms sampler's
    // highest reading: 82-97 MiB over ten runs with the buffer reserved at
    // once, 87-135 MiB before (doubling).
    let peak = peak_rss_mib(&r);
    eprintln!("an endless event: mcptop's peak RSS {peak:.0} MiB");
    assert!(peak > 0.0 && peak < 150.0, "peak RSS {peak:.0} MiB");
}

#[test]
fn an_endless_header_line_is_a_transport_error() {
    let r = run_against(&hostile_http(Misbehaviour::EndlessHeaderLine), "300ms");
    all_failed_as(&r, "transport");
}

#[test]
fn a_notification_flood_on_the_stream_is_counted_not_fatal() {
    let r = run_against(&hostile_http(Misbehaviour::NotificationFlood), "300ms");
    assert_eq!(r["overall"]["errors"], 0, "{}", r["overall"]);
    let ok = count(&r, ["overall", "ok"]);
    let notes = count(&r, ["protocol", "notifications"]);
    assert!(
        ok > 10 && notes >= 200 * ok,
        "{notes} notifications, {ok} ok"
    );
}

#[test]
fn http_500_is_a_transport_error() {
    let r = run_against(&hostile_http(Misbehaviour::ServerError), "300ms");
    all_failed_as(&r, "transport");
}

#[test]
fn http_404_on_the_session_starts_a_new_one() {
    let server = hostile_http(Misbehaviour::ForgetsSessionsAfter(100));
    let r = run_against(&server, "300ms");
    assert_eq!(r["overall"]["errors"], 0, "{}", r["overall"]);
    let ok = count(&r, ["overall", "ok"]);
    assert!(ok > 200, "{}", r["overall"]);
    // Two sessions, each renewed every 100 requests.
    let initializes = u64::from(server.script.initializes.load(Ordering::SeqCst));
    assert!(
        initializes > 2,
        "{initializes} initializes for {ok} requests"
    );
    assert!(violations(&r) >= 1, "{}", r["protocol"]);
}
