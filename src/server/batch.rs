//! JSON-RPC batches for the builtin server on line transports (the in-process
//! duplex, stdio, TCP, WebSocket). rmcp reads one message per line, but in
//! the 2025-03-26 era a client may send an array of them. This transport
//! stands where rmcp reads and writes lines: it splits an array into
//! messages for rmcp and gathers the responses to the batch's requests into
//! one array reply. In other eras an array is refused with one error.
//!
//! A line longer than the limit (or than the process's shared line budget
//! can hold, see `client::lines`) is skipped, counted in `SKIPPED_LINES`,
//! answered with an error when its start names a numeric request id, and,
//! when serving (`announcing`), said on stderr.

use crate::protocol::jsonrpc::top_level_id;
use crate::protocol::lines::MAX_LINE_BYTES;
use crate::protocol::lines::{LineRead, LineReader};
use crate::protocol::Era;
use rmcp::model::{ClientJsonRpcMessage, RequestId, ServerJsonRpcMessage, ServerResult};
use rmcp::service::RoleServer;
use rmcp::transport::Transport;
use serde_json::Value;
use std::collections::{HashSet, VecDeque};
use std::future::Future;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use tokio::io::{AsyncRead, AsyncWrite, AsyncWriteExt, BufReader};

/// JSON-RPC's "Invalid Request".
const INVALID_REQUEST: i64 = -32600;
/// Read buffer per session: zeroed, so all resident, and a server holds one
/// per idle session (tokio's default is 8 KiB); long lines are assembled
/// piecewise anyway.
const READ_BUFFER_BYTES: usize = 4 * 1024;

/// Lines skipped as too long by every builtin-server transport of the process.
pub static SKIPPED_LINES: AtomicU64 = AtomicU64::new(0);

/// A line transport for rmcp that understands batches.
pub struct BatchingTransport<R, W> {
    lines: LineReader<BufReader<R>>,
    /// Say each skipped line on stderr (`mcptop serve`).
    announce: bool,
    /// Messages of a split batch not yet handed to rmcp.
    queue: VecDeque<ClientJsonRpcMessage>,
    batches: Arc<Mutex<Batches>>,
    writer: Arc<tokio::sync::Mutex<Option<W>>>,
}

/// What the two directions share.
#[derive(Default)]
struct Batches {
    /// The negotiated version, read from the `initialize` result going out.
    version: Option<String>,
    open: Vec<OpenBatch>,
}

/// A batch whose requests are not all answered yet.
struct OpenBatch {
    waiting: HashSet<RequestId>,
    replies: Vec<Value>,
}

impl Batches {
    /// Files a response that belongs to an open batch; returns the whole
    /// reply once the batch is complete. `Err` gives back what is not a
    /// batch's.
    fn file(&mut self, message: &ServerJsonRpcMessage) -> Result<Option<Vec<u8>>, ()> {
        let id = match message {
            ServerJsonRpcMessage::Response(r) => &r.id,
            ServerJsonRpcMessage::Error(e) => e.id.as_ref().ok_or(())?,
            _ => return Err(()),
        };
        let i = self
            .open
            .iter()
            .position(|b| b.waiting.contains(id))
            .ok_or(())?;
        let batch = &mut self.open[i];
        batch.waiting.remove(id);
        batch
            .replies
            .push(serde_json::to_value(message).unwrap_or(Value::Null));
        if !batch.waiting.is_empty() {
            return Ok(None);
        }
        let done = self.open.swap_remove(i);
        Ok(Some(line_of(&Value::Array(done.replies))))
    }
}

fn line_of(value: &Value) -> Vec<u8> {
    let mut line = serde_json::to_vec(value).unwrap_or_default();
    line.push(b'\n');
    line
}

fn invalid_request(id: Option<&Value>, message: &str) -> Value {
    serde_json::json!({
        "jsonrpc": "2.0",
        "id": id.cloned().unwrap_or(Value::Null),
        "error": { "code": INVALID_REQUEST, "message": message },
    })
}

impl<R, W> BatchingTransport<R, W>
where
    R: AsyncRead + Unpin + Send,
    W: AsyncWrite + Unpin + Send + 'static,
{
    pub fn new(reader: R, writer: W) -> Self {
        Self::with_line_limit(reader, writer, MAX_LINE_BYTES)
    }

    /// A transport that skips lines longer than `max_line_bytes`.
    pub fn with_line_limit(reader: R, writer: W, max_line_bytes: usize) -> Self {
        BatchingTransport {
            lines: LineReader::new(
                BufReader::with_capacity(READ_BUFFER_BYTES, reader),
                max_line_bytes,
            ),
            announce: false,
            queue: VecDeque::new(),
            batches: Arc::new(Mutex::new(Batches::default())),
            writer: Arc::new(tokio::sync::Mutex::new(Some(writer))),
        }
    }

    /// Also reports each skipped line on stderr, for `mcptop serve`.
    pub fn announcing(mut self) -> Self {
        self.announce = true;
        self
    }

    /// A line that was too long: counted, and refused when it names its id.
    async fn skipped(&mut self) -> std::io::Result<()> {
        let count = SKIPPED_LINES.fetch_add(1, Ordering::Relaxed) + 1;
        let what = format!(
            "request longer than {} bytes{}",
            self.lines.max(),
            if self.lines.over_budget() {
                " (or than the shared line budget left)"
            } else {
                ""
            }
        );
        if self.announce {
            eprintln!("mcptop serve: skipped a line, {what} ({count} so far)");
        }
        match top_level_id(self.lines.head()) {
            (Some(id), true) => {
                let refusal = invalid_request(Some(&Value::from(id)), &what);
                self.write(line_of(&refusal)).await
            }
            _ => Ok(()),
        }
    }

    fn batches(&self) -> std::sync::MutexGuard<'_, Batches> {
        self.batches
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
    }

    async fn write(&mut self, line: Vec<u8>) -> std::io::Result<()> {
        write_line(&self.writer, line).await
    }

    /// Splits a batch into the queue; what cannot go to rmcp is answered.
    async fn split(&mut self, text: &[u8]) -> std::io::Result<()> {
        let era = self.batches().version.as_deref().and_then(Era::parse);
        if !era.is_some_and(Era::has_batches) {
            let refusal = format!(
                "JSON-RPC batches are accepted only in protocol {}",
                Era::BATCHES
            );
            return self.write(line_of(&invalid_request(None, &refusal))).await;
        }
        let items: Vec<Value> = match serde_json::from_slice(text) {
            Ok(items) => items,
            // Not JSON: nothing to answer, as for a single message.
            Err(_) => return Ok(()),
        };
        if items.is_empty() {
            let empty = invalid_request(None, "empty batch");
            return self.write(line_of(&empty)).await;
        }
        let mut batch = OpenBatch {
            waiting: HashSet::new(),
            replies: Vec::new(),
        };
        for item in items {
            match serde_json::from_value::<ClientJsonRpcMessage>(item.clone()) {
                Ok(message) => {
                    if let ClientJsonRpcMessage::Request(r) = &message {
                        batch.waiting.insert(r.id.clone());
                    }
                    self.queue.push_back(message);
                }
                Err(_) => batch
                    .replies
                    .push(invalid_request(item.get("id"), "Invalid request")),
            }
        }
        if !batch.waiting.is_empty() {
            self.batches().open.push(batch);
        } else if !batch.replies.is_empty() {
            // Nothing for rmcp to answer: the errors are the whole reply.
            return self.write(line_of(&Value::Array(batch.replies))).await;
        }
        Ok(())
    }
}

async fn write_line<W: AsyncWrite + Unpin>(
    writer: &tokio::sync::Mutex<Option<W>>,
    line: Vec<u8>,
) -> std::io::Result<()> {
    let mut writer = writer.lock().await;
    let Some(w) = writer.as_mut() else {
        return Err(std::io::Error::new(
            std::io::ErrorKind::NotConnected,
            "transport closed",
        ));
    };
    w.write_all(&line).await?;
    w.flush().await
}

impl<R, W> Transport<RoleServer> for BatchingTransport<R, W>
where
    R: AsyncRead + Unpin + Send,
    W: AsyncWrite + Unpin + Send + 'static,
{
    type Error = std::io::Error;

    fn send(
        &mut self,
        item: ServerJsonRpcMessage,
    ) -> impl Future<Output = Result<(), Self::Error>> + Send + 'static {
        let line = {
            let mut batches = self.batches();
            if let ServerJsonRpcMessage::Response(r) = &item {
                if let ServerResult::InitializeResult(init) = &r.result {
                    batches.version = Some(init.protocol_version.as_str().to_string());
                }
            }
            if batches.open.is_empty() {
                Some(line_of_message(&item))
            } else {
                match batches.file(&item) {
                    Ok(whole) => whole,
                    Err(()) => Some(line_of_message(&item)),
                }
            }
        };
        let writer = self.writer.clone();
        async move {
            match line {
                Some(line) => write_line(&writer, line).await,
                None => Ok(()),
            }
        }
    }

    async fn receive(&mut self) -> Option<ClientJsonRpcMessage> {
        loop {
            if let Some(message) = self.queue.pop_front() {
                return Some(message);
            }
            match self.lines.next().await {
                Ok(LineRead::Line) => {}
                Ok(LineRead::TooLong) => {
                    if self.skipped().await.is_err() {
                        return None;
                    }
                    continue;
                }
                Ok(LineRead::Eof) | Err(_) => return None,
            }
            let line = self.lines.line().trim_ascii();
            if line.first() == Some(&b'[') {
                let batch = line.to_vec();
                if self.split(&batch).await.is_err() {
                    return None;
                }
                continue;
            }
            if line.is_empty() {
                continue;
            }
            let refusal = match serde_json::from_slice::<ClientJsonRpcMessage>(line) {
                Ok(message) => return Some(message),
                // Well-formed JSON that is no message: refused, unless it is
                // a notification (those are never answered).
                Err(e) if e.is_data() => serde_json::from_slice::<Value>(line).ok().and_then(|v| {
                    v.get("id")
                        .map(|id| invalid_request(Some(id), "Invalid request"))
                }),
                // Unparsable input has no id to answer; ignored as rmcp does.
                Err(_) => None,
            };
            if let Some(refusal) = refusal {
                if self.write(line_of(&refusal)).await.is_err() {
                    return None;
                }
            }
        }
    }

    async fn close(&mut self) -> Result<(), Self::Error> {
        let mut writer = self.writer.lock().await;
        if let Some(mut w) = writer.take() {
            let _ = w.shutdown().await;
        }
        Ok(())
    }
}

fn line_of_message(message: &ServerJsonRpcMessage) -> Vec<u8> {
    let mut line = serde_json::to_vec(message).unwrap_or_default();
    line.push(b'\n');
    line
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::server::BuiltinServer;
    use rmcp::ServiceExt;
    use tokio::io::{AsyncBufReadExt, AsyncWriteExt};

    /// A builtin server behind the batching transport, and a raw line
    /// client: each `ask` writes a line and returns the next reply line.
    struct Raw {
        tx: tokio::io::WriteHalf<tokio::io::DuplexStream>,
        rx: tokio::io::Lines<BufReader<tokio::io::ReadHalf<tokio::io::DuplexStream>>>,
        _server: tokio::task::JoinHandle<()>,
    }

    impl Raw {
        async fn start(version: &str) -> Raw {
            Self::start_with_limit(version, MAX_LINE_BYTES).await
        }

        async fn start_with_limit(version: &str, limit: usize) -> Raw {
            let (client, server) = tokio::io::duplex(64 * 1024);
            let (sr, sw) = tokio::io::split(server);
            let task = tokio::spawn(async move {
                let transport = BatchingTransport::with_line_limit(sr, sw, limit);
                if let Ok(running) = BuiltinServer::new().serve(transport).await {
                    let _ = running.waiting().await;
                }
            });
            let (cr, cw) = tokio::io::split(client);
            let mut raw = Raw {
                tx: cw,
                rx: BufReader::new(cr).lines(),
                _server: task,
            };
            let init = format!(
                r#"{{"jsonrpc":"2.0","id":0,"method":"initialize","params":{{"protocolVersion":"{version}","capabilities":{{}},"clientInfo":{{"name":"t","version":"0"}}}}}}"#
            );
            let reply = raw.ask(&init).await;
            assert_eq!(reply["result"]["protocolVersion"], version, "{reply}");
            raw.say(r#"{"jsonrpc":"2.0","method":"notifications/initialized"}"#)
                .await;
            raw
        }

        async fn say(&mut self, line: &str) {
            self.tx
                .write_all(format!("{line}\n").as_bytes())
                .await
                .expect("write");
        }

        async fn ask(&mut self, line: &str) -> Value {
            self.say(line).await;
            let reply =
                tokio::time::timeout(std::time::Duration::from_secs(5), self.rx.next_line())
                    .await
                    .expect("a reply within 5 s")
                    .expect("read")
                    .expect("a line");
            serde_json::from_str(&reply).expect("JSON reply")
        }
    }

    fn ids(reply: &Value) -> Vec<i64> {
        let mut ids: Vec<i64> = reply
            .as_array()
            .expect("an array reply")
            .iter()
            .map(|m| m["id"].as_i64().unwrap_or(-1))
            .collect();
        ids.sort_unstable();
        ids
    }

    #[tokio::test]
    async fn a_batch_gets_one_array_reply_with_every_answer() {
        let mut raw = Raw::start(Era::BATCHES.version()).await;
        let reply = raw
            .ask(concat!(
                r#"[{"jsonrpc":"2.0","id":1,"method":"tools/call","params":{"name":"echo","arguments":{"message":"a"}}},"#,
                r#"{"jsonrpc":"2.0","method":"notifications/progress","params":{"progressToken":1,"progress":1}},"#,
                r#"{"jsonrpc":"2.0","id":2,"method":"ping"},"#,
                r#"{"jsonrpc":"2.0","id":3,"method":"no/such/method"},"#,
                r#"{"id":4}]"#
            ))
            .await;
        assert_eq!(ids(&reply), vec![1, 2, 3, 4], "{reply}");
        let by_id = |id: i64| {
            reply
                .as_array()
                .and_then(|a| a.iter().find(|m| m["id"] == id))
                .cloned()
                .unwrap_or_default()
        };
        assert_eq!(by_id(1)["result"]["content"][0]["text"], "Echo: a");
        assert!(by_id(3)["error"]["code"].is_i64(), "{reply}");
        assert_eq!(by_id(4)["error"]["code"], INVALID_REQUEST);
        // Single messages still work after a batch.
        let single = raw.ask(r#"{"jsonrpc":"2.0","id":9,"method":"ping"}"#).await;
        assert_eq!(single["id"], 9);
    }

    #[tokio::test]
    async fn batches_are_refused_in_other_eras_and_when_empty() {
        let mut raw = Raw::start("2025-06-18").await;
        let reply = raw
            .ask(r#"[{"jsonrpc":"2.0","id":1,"method":"ping"}]"#)
            .await;
        assert_eq!(reply["error"]["code"], INVALID_REQUEST, "{reply}");
        assert!(reply["error"]["message"]
            .as_str()
            .is_some_and(|m| m.contains(Era::BATCHES.version())));
        let mut raw = Raw::start(Era::BATCHES.version()).await;
        let reply = raw.ask("[]").await;
        assert_eq!(reply["error"]["message"], "empty batch");
    }

    #[tokio::test]
    async fn an_over_long_request_is_counted_and_refused_by_its_id() {
        let mut raw = Raw::start_with_limit("2025-06-18", 4096).await;
        let before = SKIPPED_LINES.load(Ordering::Relaxed);
        let long = format!(
            r#"{{"jsonrpc":"2.0","id":5,"method":"tools/call","params":{{"name":"echo","arguments":{{"message":"{}"}}}}}}"#,
            "x".repeat(10_000)
        );
        let reply = raw.ask(&long).await;
        assert_eq!(reply["id"], 5, "{reply}");
        assert_eq!(reply["error"]["code"], INVALID_REQUEST);
        assert!(reply["error"]["message"]
            .as_str()
            .is_some_and(|m| m.contains("longer than 4096")));
        assert!(SKIPPED_LINES.load(Ordering::Relaxed) > before);
        // The connection goes on.
        let single = raw.ask(r#"{"jsonrpc":"2.0","id":6,"method":"ping"}"#).await;
        assert_eq!(single["id"], 6);
    }
}
