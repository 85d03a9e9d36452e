//! The MCP client: one session over a newline-delimited JSON-RPC stream
//! (stdio pipes, an in-memory duplex, a TCP socket). Many requests may be in
//! flight; replies are matched by id. Server pings are answered, notifications
//! counted, and anything malformed is classified instead of crashing the run.
//!
//! A load generator needs control that a general SDK client hides (raw ids,
//! exact send and receive instants, counting protocol violations), so the
//! client is written here; the server side uses rmcp.

pub mod wire;

use crate::workload::KNOWN_PROTOCOLS;
use std::collections::HashMap;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;
use tokio::io::{AsyncBufRead, AsyncBufReadExt, AsyncRead, AsyncWrite, AsyncWriteExt};
use tokio::sync::{mpsc, oneshot};
use tokio::time::Instant;
use wire::{Incoming, PreparedRequest, ResultProbe, RpcError};

/// Longest line accepted from a server; longer ones are dropped and counted.
pub const MAX_LINE_BYTES: usize = 64 * 1024 * 1024;
/// Read and write buffers per session. Small, because ten thousand idle
/// sessions must stay cheap: the reader's buffer is zeroed, so all of it is
/// resident from the start, while the writer's pages are touched only as far
/// as a burst fills it. Long lines are assembled piecewise either way.
const READ_BUFFER_BYTES: usize = 4 * 1024;
const WRITE_BUFFER_BYTES: usize = 8 * 1024;

/// Why one request did not succeed. Grouped by kind, never by message text.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum CallError {
    #[error("timed out")]
    Timeout,
    #[error("transport: {0}")]
    Transport(String),
    #[error("JSON-RPC error {code}: {message}")]
    JsonRpc { code: i64, message: String },
    #[error("tool returned isError")]
    ToolError,
    #[error("protocol violation: {0}")]
    Protocol(String),
}

/// Why a session could not be set up.
#[derive(Debug, thiserror::Error)]
pub enum ConnectError {
    #[error("no reply to initialize within {0:?}{1}")]
    Timeout(Duration, String),
    #[error("initialize failed: {0}")]
    Call(CallError),
    #[error("server chose protocol version {0:?}, which mcptop does not speak (known: {1})")]
    Version(String, String),
    #[error("{0}")]
    Other(String),
}

/// Counters of what a session saw besides replies; summed by the engine.
#[derive(Debug, Default)]
pub struct SessionCounters {
    pub notifications: AtomicU64,
    pub server_requests: AtomicU64,
    pub violations: AtomicU64,
    pub last_violation: Mutex<Option<String>>,
}

impl SessionCounters {
    pub fn violation(&self, what: String) {
        self.violations.fetch_add(1, Ordering::Relaxed);
        if let Ok(mut last) = self.last_violation.lock() {
            *last = Some(what);
        }
    }

    pub fn last_violation(&self) -> Option<String> {
        self.last_violation.lock().ok().and_then(|l| l.clone())
    }
}

type Waiter = oneshot::Sender<(Instant, Result<ResultProbe, CallError>)>;

struct Shared {
    pending: Mutex<HashMap<u64, Waiter>>,
    next_id: AtomicU64,
    closed: AtomicBool,
    close_reason: Mutex<Option<String>>,
    initialized: AtomicBool,
    counters: Arc<SessionCounters>,
}

impl Shared {
    fn close(&self, reason: String) {
        if self.closed.swap(true, Ordering::SeqCst) {
            return;
        }
        if let Ok(mut r) = self.close_reason.lock() {
            *r = Some(reason.clone());
        }
        let waiters: Vec<Waiter> = match self.pending.lock() {
            Ok(mut p) => p.drain().map(|(_, w)| w).collect(),
            Err(_) => Vec::new(),
        };
        let now = Instant::now();
        for w in waiters {
            let _ = w.send((now, Err(CallError::Transport(reason.clone()))));
        }
    }

    fn fail_pending(&self, error: CallError) {
        let waiters: Vec<Waiter> = match self.pending.lock() {
            Ok(mut p) => p.drain().map(|(_, w)| w).collect(),
            Err(_) => Vec::new(),
        };
        let now = Instant::now();
        for w in waiters {
            let _ = w.send((now, Err(error.clone())));
        }
    }

    fn close_reason(&self) -> String {
        self.close_reason
            .lock()
            .ok()
            .and_then(|r| r.clone())
            .unwrap_or_else(|| "connection closed".into())
    }
}

/// What the server said about itself in `initialize`.
#[derive(Debug, Clone, Default)]
pub struct ServerIdentity {
    pub name: String,
    pub version: String,
    pub protocol_version: String,
}

/// One MCP session. Cheap to share: calls take `&self`.
pub struct McpSession {
    shared: Arc<Shared>,
    out: mpsc::UnboundedSender<Vec<u8>>,
    pub server: ServerIdentity,
    tasks: Vec<tokio::task::JoinHandle<()>>,
}

impl Drop for McpSession {
    fn drop(&mut self) {
        for t in &self.tasks {
            t.abort();
        }
    }
}

/// Removes a request from the pending table if its caller gives up (timeout).
struct PendingGuard<'a> {
    shared: &'a Shared,
    id: u64,
}

impl Drop for PendingGuard<'_> {
    fn drop(&mut self) {
        if let Ok(mut p) = self.shared.pending.lock() {
            p.remove(&self.id);
        }
    }
}

impl McpSession {
    /// Starts the reader and writer tasks and performs the `initialize` handshake.
    pub async fn connect<R, W>(
        reader: R,
        writer: W,
        protocol: &str,
        handshake_timeout: Duration,
    ) -> Result<McpSession, ConnectError>
    where
        R: AsyncRead + Unpin + Send + 'static,
        W: AsyncWrite + Unpin + Send + 'static,
    {
        Self::connect_with_limit(reader, writer, protocol, handshake_timeout, MAX_LINE_BYTES).await
    }

    /// `connect` with a chosen longest accepted line.
    pub async fn connect_with_limit<R, W>(
        reader: R,
        writer: W,
        protocol: &str,
        handshake_timeout: Duration,
        max_line_bytes: usize,
    ) -> Result<McpSession, ConnectError>
    where
        R: AsyncRead + Unpin + Send + 'static,
        W: AsyncWrite + Unpin + Send + 'static,
    {
        let shared = Arc::new(Shared {
            pending: Mutex::new(HashMap::new()),
            next_id: AtomicU64::new(1),
            closed: AtomicBool::new(false),
            close_reason: Mutex::new(None),
            initialized: AtomicBool::new(false),
            counters: Arc::new(SessionCounters::default()),
        });
        let (out_tx, out_rx) = mpsc::unbounded_channel::<Vec<u8>>();
        let writer_task = tokio::spawn(write_loop(writer, out_rx, shared.clone()));
        let reader_task = tokio::spawn(read_loop(
            reader,
            shared.clone(),
            out_tx.clone(),
            max_line_bytes,
        ));
        let mut session = McpSession {
            shared,
            out: out_tx,
            server: ServerIdentity::default(),
            tasks: vec![writer_task, reader_task],
        };
        session.server = session.initialize(protocol, handshake_timeout).await?;
        Ok(session)
    }

    async fn initialize(
        &self,
        protocol: &str,
        handshake_timeout: Duration,
    ) -> Result<ServerIdentity, ConnectError> {
        let params = serde_json::json!({
            "protocolVersion": protocol,
            "capabilities": {},
            "clientInfo": { "name": "mcptop", "version": env!("CARGO_PKG_VERSION") },
        });
        let req = PreparedRequest::new("initialize", &params);
        let reply = tokio::time::timeout(handshake_timeout, self.send(&req)).await;
        let probe = match reply {
            Err(_) => {
                let hint = self
                    .shared
                    .counters
                    .last_violation()
                    .map(|v| format!("; the server sent: {v}"))
                    .unwrap_or_default();
                return Err(ConnectError::Timeout(handshake_timeout, hint));
            }
            Ok((_, Err(e))) => return Err(ConnectError::Call(e)),
            Ok((_, Ok(p))) => p,
        };
        let version = probe.protocol_version.unwrap_or_default();
        if !KNOWN_PROTOCOLS.contains(&version.as_str()) {
            return Err(ConnectError::Version(version, KNOWN_PROTOCOLS.join(", ")));
        }
        self.shared.initialized.store(true, Ordering::SeqCst);
        self.out
            .send(wire::encode_notification("notifications/initialized"))
            .map_err(|_| ConnectError::Other("connection closed after initialize".into()))?;
        let info = probe.server_info.unwrap_or_default();
        Ok(ServerIdentity {
            name: info.name,
            version: info.version,
            protocol_version: version,
        })
    }

    /// Sends one request and waits for its reply; returns when it arrived.
    pub async fn call(&self, req: &PreparedRequest) -> Result<Instant, CallError> {
        let (at, outcome) = self.send(req).await;
        match outcome {
            Ok(probe) if req.is_tool_call && probe.is_error == Some(true) => {
                Err(CallError::ToolError)
            }
            Ok(_) => Ok(at),
            Err(e) => Err(e),
        }
    }

    async fn send(&self, req: &PreparedRequest) -> (Instant, Result<ResultProbe, CallError>) {
        if self.shared.closed.load(Ordering::Relaxed) {
            return (
                Instant::now(),
                Err(CallError::Transport(self.shared.close_reason())),
            );
        }
        let id = self.shared.next_id.fetch_add(1, Ordering::Relaxed);
        let (tx, rx) = oneshot::channel();
        if let Ok(mut p) = self.shared.pending.lock() {
            p.insert(id, tx);
        }
        let _guard = PendingGuard {
            shared: &self.shared,
            id,
        };
        if self.out.send(req.encode(id)).is_err() {
            return (
                Instant::now(),
                Err(CallError::Transport(self.shared.close_reason())),
            );
        }
        match rx.await {
            Ok(reply) => reply,
            Err(_) => (
                Instant::now(),
                Err(CallError::Transport(self.shared.close_reason())),
            ),
        }
    }

    pub fn counters(&self) -> Arc<SessionCounters> {
        self.shared.counters.clone()
    }

    pub fn is_closed(&self) -> bool {
        self.shared.closed.load(Ordering::Relaxed)
    }
}

async fn write_loop<W: AsyncWrite + Unpin>(
    writer: W,
    mut rx: mpsc::UnboundedReceiver<Vec<u8>>,
    shared: Arc<Shared>,
) {
    let mut writer = tokio::io::BufWriter::with_capacity(WRITE_BUFFER_BYTES, writer);
    while let Some(first) = rx.recv().await {
        let mut result = writer.write_all(&first).await;
        // Coalesce whatever else is queued into one flush.
        while result.is_ok() {
            match rx.try_recv() {
                Ok(more) => result = writer.write_all(&more).await,
                Err(_) => break,
            }
        }
        if result.is_ok() {
            result = writer.flush().await;
        }
        if let Err(e) = result {
            shared.close(format!("write failed: {e}"));
            return;
        }
    }
    let _ = writer.shutdown().await;
}

/// How reading one line ended.
enum LineRead {
    Line,
    /// Longer than the limit: skipped up to its newline, nothing kept.
    TooLong,
    Eof,
}

/// Reads one newline-terminated line into `buf` keeping at most `max` bytes,
/// so an endless line costs bounded memory and the stream stays usable.
async fn next_line<R: AsyncBufRead + Unpin>(
    reader: &mut R,
    buf: &mut Vec<u8>,
    max: usize,
) -> std::io::Result<LineRead> {
    buf.clear();
    let mut too_long = false;
    loop {
        let available = reader.fill_buf().await?;
        if available.is_empty() {
            return Ok(match (too_long, buf.is_empty()) {
                (true, _) => LineRead::TooLong,
                (false, true) => LineRead::Eof,
                (false, false) => LineRead::Line,
            });
        }
        let (chunk, used, done) = match available.iter().position(|&b| b == b'\n') {
            Some(i) => (&available[..i], i + 1, true),
            None => (available, available.len(), false),
        };
        if !too_long {
            if buf.len() + chunk.len() > max {
                too_long = true;
                buf.clear();
            } else {
                buf.extend_from_slice(chunk);
            }
        }
        reader.consume(used);
        if done {
            return Ok(if too_long {
                LineRead::TooLong
            } else {
                LineRead::Line
            });
        }
    }
}

async fn read_loop<R: AsyncRead + Unpin>(
    reader: R,
    shared: Arc<Shared>,
    out: mpsc::UnboundedSender<Vec<u8>>,
    max_line_bytes: usize,
) {
    let mut reader = tokio::io::BufReader::with_capacity(READ_BUFFER_BYTES, reader);
    let mut buf = Vec::new();
    loop {
        match next_line(&mut reader, &mut buf, max_line_bytes).await {
            Ok(LineRead::Eof) => {
                shared.close("connection closed by the server".into());
                return;
            }
            Ok(LineRead::TooLong) => {
                on_violation(
                    &shared,
                    format!("line longer than {max_line_bytes} bytes (dropped)"),
                );
                continue;
            }
            Ok(LineRead::Line) => {}
            Err(e) => {
                shared.close(format!("read failed: {e}"));
                return;
            }
        }
        let at = Instant::now();
        let Ok(line) = std::str::from_utf8(&buf) else {
            on_violation(&shared, "line is not UTF-8".into());
            continue;
        };
        if line.trim().is_empty() {
            continue;
        }
        match wire::classify(line) {
            Incoming::Response { id, outcome } => {
                let waiter = shared.pending.lock().ok().and_then(|mut p| p.remove(&id));
                match waiter {
                    Some(w) => {
                        let _ = w.send((at, outcome.map_err(rpc_error)));
                    }
                    None => on_violation(
                        &shared,
                        format!("response for id {id}, which is not awaited (unknown, late or duplicate)"),
                    ),
                }
            }
            Incoming::ServerRequest { id, method } => {
                shared
                    .counters
                    .server_requests
                    .fetch_add(1, Ordering::Relaxed);
                let reply = if method == "ping" {
                    wire::encode_reply(&id, Ok(serde_json::json!({})))
                } else {
                    wire::encode_reply(&id, Err((-32601, "mcptop does not handle this request")))
                };
                let _ = out.send(reply);
            }
            Incoming::Notification { .. } => {
                shared
                    .counters
                    .notifications
                    .fetch_add(1, Ordering::Relaxed);
            }
            Incoming::Invalid(what) => on_violation(&shared, what),
        }
    }
}

fn on_violation(shared: &Shared, what: String) {
    shared.counters.violation(what.clone());
    // Before the handshake completes nothing else can be trusted: fail fast.
    if !shared.initialized.load(Ordering::Relaxed) {
        shared.fail_pending(CallError::Protocol(what));
    }
}

pub fn rpc_error(e: RpcError) -> CallError {
    CallError::JsonRpc {
        code: e.code,
        message: e.message,
    }
}

#[cfg(test)]
mod tests;
