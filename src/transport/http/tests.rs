//! Batches over Streamable HTTP against a scripted server: replies filed by
//! id whatever their order, from a JSON array or an event stream, and a
//! request the reply leaves out fails as a protocol error, not a timeout.

use super::*;
use crate::client::wire_bytes::{self, WireBytes};
use crate::protocol::jsonrpc::PreparedRequest;
use crate::protocol::{Era, ProtocolChoice};
use serde_json::{json, Value};
use tokio::io::{AsyncBufReadExt, AsyncReadExt, AsyncWriteExt, BufReader};
use tokio::net::TcpListener;

/// How the scripted server answers a batch: the replies to all but the
/// middle request, in reverse order.
#[derive(Clone, Copy)]
enum Answer {
    JsonArray,
    EventPerReply,
}

/// Serves one connection: `initialize`, then batches answered as `answer`.
async fn scripted(answer: Answer) -> Endpoint {
    let listener = TcpListener::bind("127.0.0.1:0").await.expect("bind");
    let port = listener.local_addr().expect("addr").port();
    tokio::spawn(async move {
        while let Ok((socket, _)) = listener.accept().await {
            tokio::spawn(serve(socket, answer));
        }
    });
    Endpoint::parse(&format!("127.0.0.1:{port}/mcp"), 80).expect("endpoint")
}

async fn serve(socket: tokio::net::TcpStream, answer: Answer) -> Option<()> {
    let (reader, mut out) = socket.into_split();
    let mut reader = BufReader::new(reader);
    loop {
        let mut length = 0;
        loop {
            let mut line = String::new();
            if reader.read_line(&mut line).await.ok()? == 0 {
                return None;
            }
            if let Some(v) = line.to_ascii_lowercase().strip_prefix("content-length:") {
                length = v.trim().parse().ok()?;
            }
            if line == "\r\n" {
                break;
            }
        }
        let mut body = vec![0u8; length];
        reader.read_exact(&mut body).await.ok()?;
        let message: Value = serde_json::from_slice(&body).ok()?;
        let reply = match (&message, answer) {
            (Value::Array(items), _) => {
                let replies: Vec<Value> = items
                    .iter()
                    .enumerate()
                    .filter(|(i, _)| *i != 1)
                    .rev()
                    .map(|(_, m)| json!({"jsonrpc": "2.0", "id": m["id"], "result": {}}))
                    .collect();
                match answer {
                    Answer::JsonArray => json_reply(&Value::Array(replies).to_string()),
                    Answer::EventPerReply => {
                        let events: String =
                            replies.iter().map(|r| format!("data: {r}\n\n")).collect();
                        format!(
                            "HTTP/1.1 200 OK\r\nContent-Type: text/event-stream\r\nContent-Length: {}\r\n\r\n{events}",
                            events.len()
                        )
                    }
                }
            }
            (m, _) if m["method"] == "initialize" => json_reply(
                &json!({"jsonrpc": "2.0", "id": m["id"], "result": {
                    "protocolVersion": "2025-03-26", "capabilities": {},
                    "serverInfo": {"name": "scripted", "version": "0"}}})
                .to_string(),
            ),
            _ => "HTTP/1.1 202 Accepted\r\nContent-Length: 0\r\n\r\n".to_string(),
        };
        out.write_all(reply.as_bytes()).await.ok()?;
    }
}

fn json_reply(body: &str) -> String {
    format!(
        "HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nMcp-Session-Id: s1\r\nContent-Length: {}\r\n\r\n{body}",
        body.len()
    )
}

async fn batch_of_three(answer: Answer) -> Vec<Result<Instant, CallError>> {
    let endpoint = scripted(answer).await;
    let options = ConnectOptions {
        protocol: ProtocolChoice::Forced(Era::V2025_03_26),
        handshake_timeout: Duration::from_secs(5),
        http_connections: 1,
        server_stream: false,
        deployed: Default::default(),
    };
    let session = HttpSession::open(&endpoint, &options).await.expect("open");
    assert_eq!(session.server.era, Era::V2025_03_26);
    let ping = PreparedRequest::new("ping", &json!({}));
    // Far longer than the test: a hang would show as Timeout.
    let timeout = Duration::from_secs(60);
    let items: Vec<BatchItem> = (0..3)
        .map(|_| BatchItem {
            request: &ping,
            timeout,
        })
        .collect();
    session.call_batch(&items).await
}

#[tokio::test]
async fn a_json_array_reply_is_filed_by_id_and_a_missing_reply_fails_at_once() {
    let outcomes = batch_of_three(Answer::JsonArray).await;
    assert!(outcomes[0].is_ok() && outcomes[2].is_ok(), "{outcomes:?}");
    assert!(
        matches!(&outcomes[1], Err(CallError::Protocol(m)) if m.contains("no response for id")),
        "{outcomes:?}"
    );
}

#[tokio::test]
async fn replies_as_separate_events_are_filed_and_a_missing_one_fails_at_the_end() {
    let outcomes = batch_of_three(Answer::EventPerReply).await;
    assert!(outcomes[0].is_ok() && outcomes[2].is_ok(), "{outcomes:?}");
    assert!(
        matches!(&outcomes[1], Err(CallError::Protocol(m)) if m.contains("stream ended")),
        "{outcomes:?}"
    );
}

/// Serves `initialize` and then one `ping`, answered with a 5000-byte
/// result as JSON or as an event; reports the bytes of the ping's request
/// (head and body) and of its whole reply, as they crossed the socket.
async fn counting(events: bool, seen: tokio::sync::oneshot::Sender<(usize, usize)>) -> Endpoint {
    let listener = TcpListener::bind("127.0.0.1:0").await.expect("bind");
    let port = listener.local_addr().expect("addr").port();
    tokio::spawn(async move {
        let (socket, _) = listener.accept().await.ok()?;
        let (reader, mut out) = socket.into_split();
        let mut reader = BufReader::new(reader);
        let mut seen = Some(seen);
        loop {
            let mut raw = Vec::new();
            let mut length = 0;
            loop {
                let mut line = String::new();
                if reader.read_line(&mut line).await.ok()? == 0 {
                    return None::<()>;
                }
                raw.extend_from_slice(line.as_bytes());
                if let Some(v) = line.to_ascii_lowercase().strip_prefix("content-length:") {
                    length = v.trim().parse().ok()?;
                }
                if line == "\r\n" {
                    break;
                }
            }
            let mut body = vec![0u8; length];
            reader.read_exact(&mut body).await.ok()?;
            let m: Value = serde_json::from_slice(&body).ok()?;
            let reply = if m["method"] == "initialize" {
                json_reply(
                    &json!({"jsonrpc": "2.0", "id": m["id"], "result": {
                        "protocolVersion": "2025-03-26", "capabilities": {},
                        "serverInfo": {"name": "scripted", "version": "0"}}})
                    .to_string(),
                )
            } else if m["method"] == "ping" {
                let result =
                    json!({"jsonrpc": "2.0", "id": m["id"], "result": {"pad": "x".repeat(5000)}});
                if events {
                    let event = format!("event: message\ndata: {result}\n\n");
                    format!(
                        "HTTP/1.1 200 OK\r\nContent-Type: text/event-stream\r\nContent-Length: {}\r\n\r\n{event}",
                        event.len()
                    )
                } else {
                    json_reply(&result.to_string())
                }
            } else {
                "HTTP/1.1 202 Accepted\r\nContent-Length: 0\r\n\r\n".to_string()
            };
            out.write_all(reply.as_bytes()).await.ok()?;
            if m["method"] == "ping" {
                let _ = seen.take()?.send((raw.len() + body.len(), reply.len()));
            }
        }
    });
    Endpoint::parse(&format!("127.0.0.1:{port}/mcp"), 80).expect("endpoint")
}

async fn counted_ping(events: bool) -> (WireBytes, WireBytes) {
    let (tx, rx) = tokio::sync::oneshot::channel();
    let endpoint = counting(events, tx).await;
    let options = ConnectOptions {
        protocol: ProtocolChoice::Forced(Era::V2025_03_26),
        handshake_timeout: Duration::from_secs(5),
        http_connections: 1,
        server_stream: false,
        deployed: Default::default(),
    };
    let session = HttpSession::open(&endpoint, &options).await.expect("open");
    let ping = PreparedRequest::new("ping", &json!({}));
    let (outcome, counted) = wire_bytes::measure(session.call(&ping)).await;
    outcome.expect("the ping is answered");
    let (sent, received) = rx.await.expect("the server saw the ping");
    let seen = WireBytes {
        sent: sent as u64,
        received: received as u64,
    };
    (counted, seen)
}

#[tokio::test]
async fn a_json_reply_is_counted_to_the_byte_with_its_headers() {
    let (counted, seen) = counted_ping(false).await;
    assert!(seen.received > 5000, "{seen:?}");
    assert_eq!(counted, seen);
}

#[tokio::test]
async fn an_event_stream_reply_is_counted_with_its_framing() {
    let (counted, seen) = counted_ping(true).await;
    assert_eq!(counted, seen);
}
