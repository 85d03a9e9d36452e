//! Scripted HTTP servers. The Streamable HTTP GET stream: the first
//! stream sends two events and drops; mcptop must reopen it with
//! `Last-Event-ID` of the last event it saw, and count the replayed events.
//! And the 2024-11-05 HTTP+SSE transport, replies travelling on the stream.

use crate::harness::{read_json, RequestHead, TestDir};
use std::io::{BufRead, BufReader, Read, Write};
use std::net::{TcpListener, TcpStream};
use std::sync::{Arc, Mutex};
use std::time::Duration;

/// What the scripted server saw.
#[derive(Default)]
struct Seen {
    gets: Vec<Option<String>>,
    deletes: u32,
}

/// Method, lower-cased headers, body.
type Scripted = (String, Vec<(String, String)>, String);

fn read_request(reader: &mut BufReader<TcpStream>) -> Option<Scripted> {
    let mut line = String::new();
    if reader.read_line(&mut line).ok()? == 0 {
        return None;
    }
    let mut head = RequestHead::start(&line)?;
    loop {
        line.clear();
        reader.read_line(&mut line).ok()?;
        if !head.add(&line)? {
            break;
        }
    }
    let mut body = vec![0u8; head.content_length()];
    reader.read_exact(&mut body).ok()?;
    let body = String::from_utf8_lossy(&body).into_owned();
    Some((head.method, head.headers, body))
}

fn json_reply(out: &mut TcpStream, body: &str) -> std::io::Result<()> {
    write!(
        out,
        "HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nMcp-Session-Id: s1\r\nContent-Length: {}\r\n\r\n{body}",
        body.len()
    )
}

fn connection(stream: TcpStream, seen: Arc<Mutex<Seen>>) -> std::io::Result<()> {
    let mut out = stream.try_clone()?;
    let mut reader = BufReader::new(stream);
    while let Some((method, headers, body)) = read_request(&mut reader) {
        let header = |name: &str| {
            headers
                .iter()
                .find(|(k, _)| k == name)
                .map(|(_, v)| v.clone())
        };
        match method.as_str() {
            "GET" => {
                let last = header("last-event-id");
                let first = {
                    let mut s = seen.lock().expect("lock");
                    s.gets.push(last.clone());
                    s.gets.len() == 1
                };
                out.write_all(b"HTTP/1.1 200 OK\r\nContent-Type: text/event-stream\r\nConnection: close\r\n\r\n")?;
                let note = r#"{"jsonrpc":"2.0","method":"notifications/message","params":{"level":"info","data":"x"}}"#;
                if first {
                    write!(out, "id: e1\ndata: {note}\n\nid: e2\ndata: {note}\n\n")?;
                    return Ok(()); // dropped mid-session
                }
                // Replays what followed the last event the client saw.
                write!(out, "id: e3\ndata: {note}\n\n")?;
                out.flush()?;
                std::thread::sleep(Duration::from_secs(30));
                return Ok(());
            }
            "DELETE" => {
                seen.lock().expect("lock").deletes += 1;
                out.write_all(b"HTTP/1.1 200 OK\r\nContent-Length: 0\r\n\r\n")?;
            }
            _ => {
                let v: serde_json::Value = serde_json::from_str(&body).unwrap_or_default();
                let Some(id) = v.get("id").cloned() else {
                    out.write_all(b"HTTP/1.1 202 Accepted\r\nContent-Length: 0\r\n\r\n")?;
                    continue;
                };
                let result = if v["method"] == "initialize" {
                    serde_json::json!({"protocolVersion": "2025-06-18", "capabilities": {}, "serverInfo": {"name": "scripted", "version": "0"}})
                } else {
                    assert_eq!(header("mcp-session-id").as_deref(), Some("s1"));
                    serde_json::json!({"content": []})
                };
                let reply = serde_json::json!({"jsonrpc": "2.0", "id": id, "result": result});
                json_reply(&mut out, &reply.to_string())?;
            }
        }
    }
    Ok(())
}

#[test]
fn the_get_stream_resumes_with_last_event_id_and_the_session_is_deleted() {
    let listener = TcpListener::bind("127.0.0.1:0").expect("bind");
    let port = listener.local_addr().expect("addr").port();
    let seen = Arc::new(Mutex::new(Seen::default()));
    let server_seen = seen.clone();
    std::thread::spawn(move || {
        for stream in listener.incoming().flatten() {
            let seen = server_seen.clone();
            std::thread::spawn(move || connection(stream, seen));
        }
    });
    let dir = TestDir::new();
    dir.write(
        "w.toml",
        r#"name = "stream"
sessions = 1
concurrency = 1
duration = "1s"
warmup = "0s"
server_stream = true
[[ops]]
method = "tools/call"
tool = "echo"
arguments = { message = "hi" }
"#,
    );
    dir.mcptop()
        .args(["run", "w.toml", "--target"])
        .arg(format!("http://127.0.0.1:{port}/mcp"))
        .args(["--out", "r.json", "--quiet"])
        .timeout(Duration::from_secs(30))
        .assert()
        .success();
    let r = read_json(&dir.join("r.json"));
    assert_eq!(r["overall"]["errors"], 0, "{}", r["overall"]);
    assert_eq!(r["protocol"]["notifications"], 3, "{}", r["protocol"]);
    // DELETE is sent as the session ends and may land after mcptop exits
    // (the server thread reads it): wait for it, bounded.
    let deadline = std::time::Instant::now() + Duration::from_secs(10);
    while seen.lock().expect("lock").deletes == 0 && std::time::Instant::now() < deadline {
        std::thread::sleep(Duration::from_millis(10));
    }
    let seen = seen.lock().expect("lock");
    assert_eq!(seen.gets, vec![None, Some("e2".to_string())]);
    assert_eq!(seen.deletes, 1);
}

/// A 2024-11-05 HTTP+SSE server: GET /sse names /messages; replies to the
/// POSTs travel on the stream.
fn legacy_connection(stream: TcpStream, sse: Arc<Mutex<Option<TcpStream>>>) -> std::io::Result<()> {
    let mut out = stream.try_clone()?;
    let mut reader = BufReader::new(stream);
    while let Some((method, _, body)) = read_request(&mut reader) {
        if method == "GET" {
            out.write_all(
                b"HTTP/1.1 200 OK\r\nContent-Type: text/event-stream\r\nConnection: close\r\n\r\n",
            )?;
            // The stream is where replies go before the client may POST:
            // set after the `endpoint` event, a POST could come first and
            // its reply be lost (the client then times out initializing).
            *sse.lock().expect("lock") = Some(out.try_clone()?);
            out.write_all(b"event: endpoint\ndata: /messages?session_id=1\n\n")?;
            std::thread::sleep(Duration::from_secs(30));
            return Ok(());
        }
        out.write_all(b"HTTP/1.1 202 Accepted\r\nContent-Length: 8\r\n\r\nAccepted")?;
        let v: serde_json::Value = serde_json::from_str(&body).unwrap_or_default();
        let Some(id) = v.get("id").cloned() else {
            continue;
        };
        let result = if v["method"] == "initialize" {
            serde_json::json!({"protocolVersion": "2024-11-05", "capabilities": {}, "serverInfo": {"name": "legacy", "version": "0"}})
        } else {
            serde_json::json!({"content": []})
        };
        let reply = serde_json::json!({"jsonrpc": "2.0", "id": id, "result": result});
        if let Some(s) = sse.lock().expect("lock").as_mut() {
            write!(s, "event: message\ndata: {reply}\n\n")?;
        }
    }
    Ok(())
}

#[test]
fn the_legacy_http_sse_transport_carries_a_run() {
    let listener = TcpListener::bind("127.0.0.1:0").expect("bind");
    let port = listener.local_addr().expect("addr").port();
    std::thread::spawn(move || {
        // One session: one event stream shared by every POST connection.
        let sse = Arc::new(Mutex::new(None));
        for stream in listener.incoming().flatten() {
            let sse = sse.clone();
            std::thread::spawn(move || legacy_connection(stream, sse));
        }
    });
    let dir = TestDir::new();
    dir.mcptop()
        .args(["run", "transport-tcp", "--target"])
        .arg(format!("sse://127.0.0.1:{port}/sse"))
        .args(["--sessions", "1", "--concurrency", "4", "--duration", "1s"])
        .args(["--warmup", "0s", "--out", "r.json", "--quiet"])
        .timeout(Duration::from_secs(30))
        .assert()
        .success();
    let r = read_json(&dir.join("r.json"));
    assert_eq!(r["overall"]["errors"], 0, "{}", r["overall"]);
    assert!(
        r["overall"]["ok"].as_u64().unwrap_or(0) > 20,
        "{}",
        r["overall"]
    );
    assert_eq!(r["environment"]["protocol_version"], "2024-11-05");
}
