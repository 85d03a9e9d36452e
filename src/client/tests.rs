//! The client against scripted servers on an in-memory duplex: correlation,
//! server requests, and every kind of bad behaviour classified, not panicked on.

use super::*;
use crate::protocol::Era;
use serde_json::{json, Value};
use tokio::io::{AsyncBufReadExt, AsyncWriteExt, BufReader, DuplexStream};
use tokio::sync::mpsc;

const T: Duration = Duration::from_secs(2);

fn init_reply(id: &Value, version: &str) -> String {
    json!({"jsonrpc": "2.0", "id": id, "result": {
        "protocolVersion": version, "capabilities": {}, "serverInfo": {"name": "fake", "version": "9"}
    }})
    .to_string()
}

/// A server that answers `initialize` with `version`, then hands every other
/// message to `handle`, writing back the lines it returns.
async fn fake_server(
    io: DuplexStream,
    version: &'static str,
    mut handle: impl FnMut(Value) -> Vec<String> + Send + 'static,
) {
    let (r, mut w) = tokio::io::split(io);
    let mut lines = BufReader::new(r).lines();
    while let Ok(Some(line)) = lines.next_line().await {
        let msg: Value = serde_json::from_str(&line).expect("client sends JSON");
        let out = if msg["method"] == "initialize" {
            vec![init_reply(&msg["id"], version)]
        } else {
            handle(msg)
        };
        for l in out {
            if w.write_all(format!("{l}\n").as_bytes()).await.is_err() {
                return;
            }
        }
    }
}

async fn connect_to(
    version: &'static str,
    handle: impl FnMut(Value) -> Vec<String> + Send + 'static,
) -> Result<McpSession, ConnectError> {
    let (client, server) = tokio::io::duplex(1 << 20);
    tokio::spawn(fake_server(server, version, handle));
    let (r, w) = tokio::io::split(client);
    McpSession::connect(r, w, Era::V2025_11_25, T).await
}

fn ping() -> PreparedRequest {
    PreparedRequest::new("ping", &json!({}))
}

#[tokio::test]
async fn handshake_records_the_server_and_sends_initialized() {
    let (tx, mut rx) = mpsc::unbounded_channel::<Value>();
    let session = connect_to("2025-06-18", move |m| {
        let _ = tx.send(m);
        vec![]
    })
    .await
    .expect("connect");
    assert_eq!(session.server.name, "fake");
    assert_eq!(session.server.era, Era::V2025_06_18);
    let first = rx.recv().await.expect("a message after initialize");
    assert_eq!(first["method"], "notifications/initialized");
    assert!(first.get("id").is_none());
}

#[tokio::test]
async fn replies_in_any_order_reach_their_own_callers() {
    // Holds ten requests, then answers them in reverse, each with an error
    // whose code is the request id: every caller must get its own code.
    let mut held: Vec<Value> = Vec::new();
    let session = connect_to("2025-11-25", move |m| {
        if m.get("id").is_none() {
            return vec![];
        }
        held.push(m["id"].clone());
        if held.len() < 10 {
            return vec![];
        }
        held.drain(..)
            .rev()
            .map(|id| {
                json!({"jsonrpc": "2.0", "id": id, "error": {"code": id, "message": "m"}})
                    .to_string()
            })
            .collect()
    })
    .await
    .expect("connect");
    let req = ping();
    let calls = (0..10).map(|_| session.call(&req));
    let results = futures_util::future::join_all(calls).await;
    let mut codes: Vec<i64> = results
        .into_iter()
        .map(|r| match r {
            Err(CallError::JsonRpc { code, .. }) => code,
            other => panic!("unexpected {other:?}"),
        })
        .collect();
    codes.sort_unstable();
    assert_eq!(codes, (2..=11).collect::<Vec<i64>>());
    assert_eq!(session.counters().violations.load(Ordering::Relaxed), 0);
}

#[tokio::test]
async fn tool_is_error_is_a_tool_error() {
    let session = connect_to("2025-11-25", |m| {
        if m.get("id").is_none() {
            return vec![];
        }
        vec![json!({"jsonrpc": "2.0", "id": m["id"], "result": {
            "content": [{"type": "text", "text": "no \u{1b}]0;title\u{7}"}], "isError": true
        }})
        .to_string()]
    })
    .await
    .expect("connect");
    let req = PreparedRequest::new("tools/call", &json!({"name": "fail"}));
    // The tool's own message comes along, escaped.
    assert_eq!(
        session.call(&req).await,
        Err(CallError::ToolError("no \\x1b]0;title\\x07".into()))
    );
}

#[tokio::test]
async fn server_ping_is_answered_and_notifications_counted() {
    let (tx, mut rx) = mpsc::unbounded_channel::<Value>();
    let session = connect_to("2025-11-25", move |m| {
        let _ = tx.send(m.clone());
        if m["method"] == "ping" {
            vec![
                json!({"jsonrpc": "2.0", "method": "notifications/message", "params": {}})
                    .to_string(),
                json!({"jsonrpc": "2.0", "id": "srv-1", "method": "ping"}).to_string(),
                json!({"jsonrpc": "2.0", "id": m["id"], "result": {}}).to_string(),
            ]
        } else {
            vec![]
        }
    })
    .await
    .expect("connect");
    session.call(&ping()).await.expect("ping answered");
    // initialized, our ping, then our answer to the server's ping.
    let mut seen = Vec::new();
    while seen.len() < 3 {
        seen.push(
            tokio::time::timeout(T, rx.recv())
                .await
                .expect("in time")
                .expect("msg"),
        );
    }
    assert_eq!(
        seen[2],
        json!({"jsonrpc": "2.0", "id": "srv-1", "result": {}})
    );
    let c = session.counters();
    assert_eq!(c.notifications.load(Ordering::Relaxed), 1);
    assert_eq!(c.server_requests.load(Ordering::Relaxed), 1);
}

#[tokio::test]
async fn garbage_during_handshake_fails_fast_with_what_was_sent() {
    let (client, server) = tokio::io::duplex(1 << 16);
    tokio::spawn(async move {
        let (r, mut w) = tokio::io::split(server);
        let mut lines = BufReader::new(r).lines();
        let _ = lines.next_line().await;
        let _ = w
            .write_all(b"Traceback (most recent call last): oops\n")
            .await;
        std::future::pending::<()>().await;
    });
    let (r, w) = tokio::io::split(client);
    let started = std::time::Instant::now();
    let err = McpSession::connect(r, w, Era::V2025_11_25, Duration::from_secs(30))
        .await
        .err()
        .expect("garbage is an error");
    assert!(
        started.elapsed() < Duration::from_secs(5),
        "fails fast, not by timeout"
    );
    let text = err.to_string();
    assert!(
        text.contains("invalid JSON") && text.contains("Traceback"),
        "{text}"
    );
}

#[tokio::test]
async fn silence_during_handshake_times_out_clearly() {
    let (client, _server) = tokio::io::duplex(1 << 16);
    let (r, w) = tokio::io::split(client);
    let err = McpSession::connect(r, w, Era::V2025_11_25, Duration::from_millis(100))
        .await
        .err()
        .expect("timeout");
    assert!(
        err.to_string().contains("no reply to initialize within"),
        "{err}"
    );
}

#[tokio::test]
async fn unknown_version_is_refused() {
    let err = connect_to("1999-01-01", |_| vec![])
        .await
        .err()
        .expect("refused");
    assert!(err.to_string().contains("\"1999-01-01\""), "{err}");
}

#[tokio::test]
async fn wrong_and_duplicate_ids_are_counted_not_fatal() {
    let session = connect_to("2025-11-25", |m| {
        if m.get("id").is_none() {
            return vec![];
        }
        let ok = json!({"jsonrpc": "2.0", "id": m["id"], "result": {}}).to_string();
        vec![
            json!({"jsonrpc": "2.0", "id": 999_999, "result": {}}).to_string(),
            ok.clone(),
            ok,
            "{not json".to_string(),
        ]
    })
    .await
    .expect("connect");
    session
        .call(&ping())
        .await
        .expect("the right reply still arrives");
    // The duplicate and the garbage line after it.
    session.call(&ping()).await.expect("second call");
    let c = session.counters();
    // The last reply's trailing garbage may still be on its way.
    let deadline = Instant::now() + T;
    while c.violations.load(Ordering::Relaxed) < 6 && Instant::now() < deadline {
        tokio::time::sleep(Duration::from_millis(5)).await;
    }
    assert_eq!(c.violations.load(Ordering::Relaxed), 6);
    assert!(c
        .last_violation()
        .is_some_and(|v| v.contains("invalid JSON")));
}

#[tokio::test]
async fn a_closed_connection_fails_pending_and_later_calls() {
    let session = connect_to("2025-11-25", |m| {
        if m["method"] == "ping" {
            // Dropping the server: returning a line is impossible after this.
            panic!("server task ends here");
        }
        vec![]
    })
    .await
    .expect("connect");
    let first = session.call(&ping()).await;
    assert!(
        matches!(first, Err(CallError::Transport(ref m)) if m.contains("closed")),
        "{first:?}"
    );
    assert!(session.is_closed());
    let second = session.call(&ping()).await;
    assert!(matches!(second, Err(CallError::Transport(_))), "{second:?}");
}

#[tokio::test]
async fn an_endless_line_is_dropped_with_bounded_memory() {
    let (client, server) = tokio::io::duplex(1 << 16);
    tokio::spawn(fake_server(server, "2025-11-25", |m| {
        if m.get("id").is_none() {
            return vec![];
        }
        vec![
            "x".repeat(100_000),
            json!({"jsonrpc": "2.0", "id": m["id"], "result": {}}).to_string(),
        ]
    }));
    let (r, w) = tokio::io::split(client);
    let session = McpSession::connect_with_limit(r, w, Era::V2025_11_25, T, 4096)
        .await
        .expect("connect");
    session
        .call(&ping())
        .await
        .expect("the reply after the long line arrives");
    let c = session.counters();
    assert_eq!(c.violations.load(Ordering::Relaxed), 1);
    assert!(c
        .last_violation()
        .is_some_and(|v| v.contains("longer than 4096")));
}

/// A server that answers each JSON-RPC batch with what `answer` makes of
/// its request ids (lines to write back).
async fn batch_server(
    mut answer: impl FnMut(Vec<Value>) -> Vec<String> + Send + 'static,
) -> McpSession {
    connect_to(wire_batch_version(), move |m| match m.as_array() {
        Some(items) => answer(items.iter().map(|i| i["id"].clone()).collect()),
        None => vec![],
    })
    .await
    .expect("connect")
}

fn wire_batch_version() -> &'static str {
    Era::BATCHES.version()
}

fn error_reply(id: &Value) -> Value {
    json!({"jsonrpc": "2.0", "id": id, "error": {"code": id, "message": "m"}})
}

fn batch_of(req: &PreparedRequest, n: usize) -> Vec<BatchItem<'_>> {
    (0..n)
        .map(|_| BatchItem {
            request: req,
            timeout: T,
        })
        .collect()
}

/// Each outcome's error code, which the servers below set to the request id.
fn codes(outcomes: Vec<Result<Instant, CallError>>) -> Vec<i64> {
    outcomes
        .into_iter()
        .map(|r| match r {
            Err(CallError::JsonRpc { code, .. }) => code,
            other => panic!("unexpected {other:?}"),
        })
        .collect()
}

#[tokio::test]
async fn a_batch_goes_out_as_one_array_and_replies_in_any_order_find_their_request() {
    let (tx, mut rx) = mpsc::unbounded_channel::<usize>();
    let session = batch_server(move |ids| {
        let _ = tx.send(ids.len());
        // One array, in reverse order.
        let reversed: Vec<Value> = ids.iter().rev().map(error_reply).collect();
        vec![Value::Array(reversed).to_string()]
    })
    .await;
    let req = ping();
    let outcomes = session.call_batch(&batch_of(&req, 5)).await;
    // initialize took id 1; the batch's ids follow in order.
    assert_eq!(codes(outcomes), vec![2, 3, 4, 5, 6]);
    assert_eq!(rx.recv().await, Some(5), "one array of five requests");
    assert_eq!(session.counters().violations.load(Ordering::Relaxed), 0);
}

#[tokio::test]
async fn batch_replies_may_come_as_separate_messages() {
    let session =
        batch_server(|ids| ids.iter().map(|id| error_reply(id).to_string()).collect()).await;
    let req = ping();
    let outcomes = session.call_batch(&batch_of(&req, 3)).await;
    assert_eq!(codes(outcomes), vec![2, 3, 4]);
}

#[tokio::test]
async fn a_batch_reply_without_an_id_fails_that_request_at_once() {
    let session = batch_server(|ids| {
        // The middle request goes unanswered.
        let answered: Vec<Value> = ids
            .iter()
            .enumerate()
            .filter(|(i, _)| *i != 1)
            .map(|(_, id)| json!({"jsonrpc": "2.0", "id": id, "result": {}}))
            .collect();
        vec![Value::Array(answered).to_string()]
    })
    .await;
    let req = ping();
    // A timeout far longer than the test: a hang would fail it as Timeout.
    let items: Vec<BatchItem> = (0..3)
        .map(|_| BatchItem {
            request: &req,
            timeout: Duration::from_secs(60),
        })
        .collect();
    let outcomes = session.call_batch(&items).await;
    assert!(outcomes[0].is_ok() && outcomes[2].is_ok(), "{outcomes:?}");
    assert!(
        matches!(&outcomes[1], Err(CallError::Protocol(m)) if m.contains("no response for id 3")),
        "{outcomes:?}"
    );
}

#[tokio::test]
async fn an_array_reply_to_a_single_request_is_a_violation() {
    let session = connect_to("2025-11-25", |m| match m.get("id") {
        Some(id) => vec![json!([{"jsonrpc": "2.0", "id": id, "result": {}}]).to_string()],
        None => vec![],
    })
    .await
    .expect("connect");
    let req = ping();
    let call = session.call(&req);
    tokio::pin!(call);
    let counters = session.counters();
    let deadline = Instant::now() + T;
    while counters.last_violation().is_none() {
        assert!(Instant::now() < deadline, "no violation within {T:?}");
        tokio::select! {
            r = &mut call => panic!("the array was taken as the reply: {r:?}"),
            _ = tokio::time::sleep(Duration::from_millis(5)) => {}
        }
    }
    assert!(counters
        .last_violation()
        .is_some_and(|v| v.contains("mcptop sent no batch")));
}

fn discover_reply(id: &Value, versions: &[&str]) -> String {
    json!({"jsonrpc": "2.0", "id": id, "result": {
        "supportedVersions": versions, "capabilities": {},
        "_meta": {"io.modelcontextprotocol/serverInfo": {"name": "modern", "version": "2"}}
    }})
    .to_string()
}

#[tokio::test]
async fn the_stateless_era_discovers_and_puts_meta_on_every_request() {
    let (tx, mut rx) = mpsc::unbounded_channel::<Value>();
    let (client, server) = tokio::io::duplex(1 << 16);
    tokio::spawn(fake_server(server, "unused", move |m| {
        let _ = tx.send(m.clone());
        match m["method"].as_str() {
            Some("server/discover") => vec![discover_reply(&m["id"], &["2026-07-28"])],
            _ => vec![json!({"jsonrpc": "2.0", "id": m["id"], "result": {}}).to_string()],
        }
    }));
    let (r, w) = tokio::io::split(client);
    let session = McpSession::connect(r, w, Era::V2026_07_28, T)
        .await
        .expect("connect");
    assert_eq!(session.server.name, "modern");
    assert_eq!(session.server.era, Era::V2026_07_28);
    session.call(&ping()).await.expect("ping");
    let discover = rx.recv().await.expect("discover");
    let call = rx
        .recv()
        .await
        .expect("the call, with no initialized in between");
    assert_eq!(discover["method"], "server/discover");
    assert_eq!(call["method"], "ping");
    for m in [&discover, &call] {
        let meta = &m["params"]["_meta"];
        assert_eq!(
            meta["io.modelcontextprotocol/protocolVersion"],
            "2026-07-28"
        );
        assert_eq!(meta["io.modelcontextprotocol/clientInfo"]["name"], "mcptop");
    }
}

#[tokio::test]
async fn a_server_without_the_stateless_era_is_refused_by_name() {
    let (client, server) = tokio::io::duplex(1 << 16);
    tokio::spawn(fake_server(server, "unused", |m| {
        vec![discover_reply(&m["id"], &["2025-11-25"])]
    }));
    let (r, w) = tokio::io::split(client);
    let err = McpSession::connect(r, w, Era::V2026_07_28, T)
        .await
        .err()
        .expect("refused");
    assert!(
        matches!(err, ConnectError::Version(ref v, _) if v == "2025-11-25"),
        "{err}"
    );
}

/// `connect_to` for a server whose replies are raw bytes (not always UTF-8).
async fn connect_raw(
    limit: usize,
    mut handle: impl FnMut(&Value) -> Vec<Vec<u8>> + Send + 'static,
) -> McpSession {
    let (client, server) = tokio::io::duplex(1 << 16);
    tokio::spawn(async move {
        let (r, mut w) = tokio::io::split(server);
        let mut lines = BufReader::new(r).lines();
        while let Ok(Some(line)) = lines.next_line().await {
            let msg: Value = serde_json::from_str(&line).expect("client sends JSON");
            let out = if msg["method"] == "initialize" {
                vec![init_reply(&msg["id"], "2025-11-25").into_bytes()]
            } else if msg.get("id").is_some() {
                handle(&msg)
            } else {
                vec![]
            };
            for mut l in out {
                l.push(b'\n');
                if w.write_all(&l).await.is_err() {
                    return;
                }
            }
        }
    });
    let (r, w) = tokio::io::split(client);
    McpSession::connect_with_limit(r, w, Era::V2025_11_25, T, limit)
        .await
        .expect("connect")
}

/// A reply that names its request but is no valid response fails that
/// request at once: on the paused clock no time passes, although the call
/// may wait an hour.
#[tokio::test(start_paused = true)]
async fn a_malformed_reply_with_an_id_fails_its_request_at_once() {
    let session = connect_raw(4096, |m| {
        let id = m["id"].as_u64().unwrap_or_default();
        vec![match id % 3 {
            // No result, no error.
            2 => format!(r#"{{"jsonrpc":"2.0","id":{id}}}"#).into_bytes(),
            // Not UTF-8, with a valid id.
            0 => format!(r#"{{"jsonrpc":"2.0","id":{id},"result":{{"t":"#)
                .into_bytes()
                .into_iter()
                .chain(*b"\"\xff\xfe\"}}")
                .collect(),
            // Over the limit: only its start names the request.
            _ => format!(
                r#"{{"jsonrpc":"2.0","id":{id},"result":{{"t":"{}"}}}}"#,
                "x".repeat(8000)
            )
            .into_bytes(),
        }]
    })
    .await;
    let hour = Duration::from_secs(3600);
    for expected in ["neither result nor error", "not UTF-8", "longer than 4096"] {
        let started = Instant::now();
        let outcome = tokio::time::timeout(hour, session.call(&ping()))
            .await
            .expect("an answer, not the hour's timeout");
        assert!(
            matches!(&outcome, Err(CallError::Protocol(m)) if m.contains(expected)),
            "{outcome:?}"
        );
        assert_eq!(
            started.elapsed(),
            Duration::ZERO,
            "no waiting for a timeout"
        );
    }
    // Only the over-long line is a violation; the other two were the
    // failures of the requests they named.
    assert_eq!(session.counters().violations.load(Ordering::Relaxed), 1);
}

#[tokio::test]
async fn a_request_alone_in_flight_is_written_by_its_own_task() {
    // Answers everything but `hold`, which stays in flight.
    let session = connect_to("2025-06-18", |m| {
        if m["method"] == "hold" || m.get("id").is_none() {
            return vec![];
        }
        vec![json!({"jsonrpc": "2.0", "id": m["id"], "result": {}}).to_string()]
    })
    .await
    .expect("connect");
    // The initialized notification may still queue: one round trip first.
    session.call(&ping()).await.expect("first ping");
    let (alone, written) = writer::traced(session.call(&ping())).await;
    assert!(alone.is_ok(), "{alone:?}");
    let written = written.expect("alone in flight: written by its own task");
    assert!(written <= alone.expect("answered"));
    // With another request in flight it queues for the writer task.
    let held = PreparedRequest::new("hold", &json!({}));
    let hold = session.request(&held);
    tokio::pin!(hold);
    assert!(futures_util::poll!(&mut hold).is_pending());
    let (second, written) = writer::traced(session.call(&ping())).await;
    assert!(second.is_ok(), "{second:?}");
    assert_eq!(written, None, "queued behind the writer task");
}
