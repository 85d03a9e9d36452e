//! The least a client can do to drive an MCP server over stdio or WebSocket:
//! the ceiling mcptop's own rate is compared with in
//! `benches/transport_ceiling.sh` (wrk plays this part for HTTP). It sends
//! the very lines mcptop sends (a handshake captured from mcptop, then its
//! request with the id changed), keeps IN_FLIGHT requests in flight over
//! SESSIONS sessions, counts the replies whose line carries `"result"` and
//! checks nothing else: no latency histogram, no JSON parse beyond the id.
//!
//! cargo run --release --example minimal_client -- \
//!     stdio|ws TARGET SESSIONS IN_FLIGHT SECONDS HANDSHAKE_FILE REQUEST_FILE
//!
//! TARGET is a command line (stdio) or a ws:// URL. HANDSHAKE_FILE holds
//! the JSON-RPC lines to send first, in order (requests are answered before
//! the next line goes); REQUEST_FILE one request whose `"id":N` is replaced.
//! Prints `RATE replies/s`.

use futures_util::{SinkExt, StreamExt};
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};
use tokio::io::{AsyncBufReadExt, AsyncWriteExt, BufReader};
use tokio_tungstenite::tungstenite::Message;

type Error = Box<dyn std::error::Error + Send + Sync>;

/// The request with its id set: `"id":<n>` in place of the template's id.
struct Template {
    before: String,
    after: String,
}

impl Template {
    fn parse(line: &str) -> Result<Template, Error> {
        let at = line.find("\"id\":").ok_or("the request has no \"id\":")? + 5;
        let end = at
            + line[at..]
                .find(|c: char| !c.is_ascii_digit())
                .ok_or("the request's id does not end")?;
        Ok(Template {
            before: line[..at].to_string(),
            after: line[end..].trim_end().to_string(),
        })
    }

    fn with_id(&self, id: u64) -> String {
        format!("{}{id}{}", self.before, self.after)
    }
}

fn is_request(line: &str) -> bool {
    line.contains("\"id\":")
}

struct Shared {
    template: Template,
    handshake: Vec<String>,
    replies: AtomicU64,
    stop: AtomicBool,
}

/// One stdio session: a child running `command`, `in_flight` requests kept on it.
async fn stdio_session(command: String, in_flight: u64, shared: Arc<Shared>) -> Result<(), Error> {
    let words = shell_words::split(&command)?;
    let (program, args) = words.split_first().ok_or("empty command")?;
    let mut child = tokio::process::Command::new(program)
        .args(args)
        .stdin(std::process::Stdio::piped())
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::null())
        .kill_on_drop(true)
        .spawn()?;
    let mut stdin = child.stdin.take().ok_or("no stdin")?;
    let mut lines = BufReader::new(child.stdout.take().ok_or("no stdout")?).lines();
    for line in &shared.handshake {
        stdin.write_all(format!("{line}\n").as_bytes()).await?;
        if is_request(line) {
            lines.next_line().await?.ok_or("closed in the handshake")?;
        }
    }
    let mut id = 1000u64;
    let mut out = String::new();
    for _ in 0..in_flight {
        id += 1;
        out.push_str(&shared.template.with_id(id));
        out.push('\n');
    }
    stdin.write_all(out.as_bytes()).await?;
    while let Some(line) = lines.next_line().await? {
        if line.contains("\"result\"") {
            shared.replies.fetch_add(1, Ordering::Relaxed);
        }
        if shared.stop.load(Ordering::Relaxed) {
            break;
        }
        id += 1;
        let mut next = shared.template.with_id(id);
        next.push('\n');
        stdin.write_all(next.as_bytes()).await?;
    }
    Ok(())
}

/// One WebSocket session: `in_flight` requests kept on one connection.
async fn ws_session(url: String, in_flight: u64, shared: Arc<Shared>) -> Result<(), Error> {
    use tokio_tungstenite::tungstenite::client::IntoClientRequest;
    let mut request = url.as_str().into_client_request()?;
    // MCP over WebSocket is the `mcp` subprotocol; servers refuse others.
    request.headers_mut().insert(
        "Sec-WebSocket-Protocol",
        tokio_tungstenite::tungstenite::http::HeaderValue::from_static("mcp"),
    );
    let (mut ws, _) = tokio_tungstenite::connect_async(request).await?;
    for line in &shared.handshake {
        ws.send(Message::text(line.clone())).await?;
        if is_request(line) {
            ws.next().await.ok_or("closed in the handshake")??;
        }
    }
    let mut id = 1000u64;
    for _ in 0..in_flight {
        id += 1;
        ws.feed(Message::text(shared.template.with_id(id))).await?;
    }
    ws.flush().await?;
    while let Some(message) = ws.next().await {
        let Message::Text(text) = message? else {
            continue;
        };
        if text.as_str().contains("\"result\"") {
            shared.replies.fetch_add(1, Ordering::Relaxed);
        }
        if shared.stop.load(Ordering::Relaxed) {
            break;
        }
        id += 1;
        ws.send(Message::text(shared.template.with_id(id))).await?;
    }
    Ok(())
}

fn main() -> Result<(), Error> {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let [kind, target, sessions, in_flight, secs, handshake, request] = args.as_slice() else {
        return Err("usage: minimal_client stdio|ws TARGET SESSIONS IN_FLIGHT SECONDS HANDSHAKE_FILE REQUEST_FILE".into());
    };
    let sessions: u64 = sessions.parse()?;
    let in_flight: u64 = in_flight.parse()?;
    let secs: f64 = secs.parse()?;
    let shared = Arc::new(Shared {
        template: Template::parse(std::fs::read_to_string(request)?.trim())?,
        handshake: std::fs::read_to_string(handshake)?
            .lines()
            .filter(|l| !l.trim().is_empty())
            .map(String::from)
            .collect(),
        replies: AtomicU64::new(0),
        stop: AtomicBool::new(false),
    });
    // One thread: the least CPU taken from the server it measures.
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()?;
    runtime.block_on(async {
        for s in 0..sessions {
            // The in-flight requests spread over the sessions as mcptop spreads them.
            let mine = in_flight / sessions + u64::from(s < in_flight % sessions);
            let shared = shared.clone();
            let target = target.clone();
            let kind = kind.clone();
            tokio::spawn(async move {
                let result = match kind.as_str() {
                    "ws" => ws_session(target, mine, shared).await,
                    _ => stdio_session(target, mine, shared).await,
                };
                if let Err(e) = result {
                    eprintln!("session {s}: {e}");
                }
            });
        }
        // One second of warm-up, then the measured window.
        tokio::time::sleep(Duration::from_secs(1)).await;
        let (t0, n0) = (Instant::now(), shared.replies.load(Ordering::Relaxed));
        tokio::time::sleep(Duration::from_secs_f64(secs)).await;
        let n = shared.replies.load(Ordering::Relaxed) - n0;
        let rate = n as f64 / t0.elapsed().as_secs_f64();
        shared.stop.store(true, Ordering::Relaxed);
        println!("{rate:.0} replies/s");
    });
    runtime.shutdown_timeout(Duration::from_millis(200));
    Ok(())
}
