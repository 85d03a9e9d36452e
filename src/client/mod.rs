//! The MCP client: one session over a newline-delimited JSON-RPC stream
//! (stdio pipes, an in-memory duplex, a TCP socket). Many requests may be in
//! flight; replies are matched by id. Server pings are answered, notifications
//! counted, and anything malformed is classified instead of crashing the run.
//!
//! A load generator needs control that a general SDK client hides (raw ids,
//! exact send and receive instants, counting protocol violations), so the
//! client is written here; the server side uses rmcp.

pub mod handshake;
mod outcome;
pub mod wire_bytes;
pub mod writer;

pub use outcome::{judge, rpc_error};

use crate::protocol::escape;
use crate::protocol::jsonrpc::{self as wire, Incoming, Messages, PreparedRequest, ResultProbe};
use crate::protocol::lines::{LineRead, LineReader, MAX_LINE_BYTES};
use crate::protocol::Era;
pub use handshake::ServerIdentity;
use std::collections::HashMap;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;
use tokio::io::{AsyncRead, AsyncWrite};
use tokio::sync::oneshot;
use tokio::time::Instant;

/// The read buffer per session: small, as it is zeroed (all resident) and
/// idle sessions must stay cheap; long lines are assembled piecewise. Writes
/// are `writer`'s.
const READ_BUFFER_BYTES: usize = 4 * 1024;

/// One request of a JSON-RPC batch, with how long its reply may take.
#[derive(Debug, Clone, Copy)]
pub struct BatchItem<'a> {
    pub request: &'a PreparedRequest,
    pub timeout: Duration,
}

/// Why one request did not succeed. Grouped by kind, never by message text.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum CallError {
    #[error("timed out")]
    Timeout,
    #[error("transport: {0}")]
    Transport(String),
    #[error("JSON-RPC error {code}: {message}")]
    JsonRpc { code: i64, message: String },
    /// `isError` on a tool result, with the tool's message (its first text).
    #[error("tool returned isError: {0}")]
    ToolError(String),
    #[error("protocol violation: {0}")]
    Protocol(String),
    /// Refused for want of credentials (HTTP 401), or no token to be had.
    #[error("auth: {0}")]
    Auth(String),
    /// Sent, and its connection died before the reply (a fault, a crash).
    #[error("lost: {0}")]
    Lost(String),
    /// Never sent: its session was down (reconnecting, or dead for good).
    #[error("not sent: {0}")]
    NotSent(String),
}

impl CallError {
    /// What the server (or the connection) said, without the kind: the
    /// JSON-RPC message, the tool's text, what was wrong. `None` for a
    /// timeout, which has no message.
    pub fn detail(&self) -> Option<&str> {
        match self {
            CallError::Timeout => None,
            CallError::Transport(m)
            | CallError::JsonRpc { message: m, .. }
            | CallError::ToolError(m)
            | CallError::Protocol(m)
            | CallError::Auth(m)
            | CallError::Lost(m)
            | CallError::NotSent(m) => Some(m),
        }
    }
}

/// Why a session could not be set up.
#[derive(Debug, thiserror::Error)]
pub enum ConnectError {
    #[error("no reply to {1} within {0:?} (connect_timeout){2}")]
    Timeout(Duration, &'static str, String),
    #[error("{0} failed: {1}")]
    Call(&'static str, CallError),
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
    /// Counts a violation; `what` may quote the server, so it is escaped.
    pub fn violation(&self, what: String) {
        self.violations.fetch_add(1, Ordering::Relaxed);
        if let Ok(mut last) = self.last_violation.lock() {
            *last = Some(escape::escape_bounded(&what, wire::MAX_MESSAGE_CHARS));
        }
    }

    pub fn last_violation(&self) -> Option<String> {
        self.last_violation.lock().ok().and_then(|l| l.clone())
    }
}

type Reply = (Instant, Result<ResultProbe, CallError>);
/// A reply and the bytes its line took on the wire (0 when none came).
type Delivered = (Reply, usize);

/// Who waits for a reply, and the batch its request went out in.
struct Waiter {
    tx: oneshot::Sender<Delivered>,
    batch: Option<BatchIds>,
}

/// The ids of one batch: consecutive, so a start and a count name them.
#[derive(Debug, Clone, Copy, PartialEq)]
struct BatchIds {
    first: u64,
    count: u64,
}

struct Shared {
    pending: Mutex<HashMap<u64, Waiter>>,
    next_id: AtomicU64,
    closed: AtomicBool,
    close_reason: Mutex<Option<String>>,
    initialized: AtomicBool,
    /// Once a batch went out, an array from the server is its reply.
    batch_sent: AtomicBool,
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
            let _ =
                w.tx.send(((now, Err(CallError::Transport(reason.clone()))), 0));
        }
    }

    fn fail_pending(&self, error: CallError) {
        let waiters: Vec<Waiter> = match self.pending.lock() {
            Ok(mut p) => p.drain().map(|(_, w)| w).collect(),
            Err(_) => Vec::new(),
        };
        let now = Instant::now();
        for w in waiters {
            let _ = w.tx.send(((now, Err(error.clone())), 0));
        }
    }

    /// Hands a reply (which took `wire_len` bytes) to whoever waits for
    /// `id`; the batch it belonged to, if any. An id nobody waits for is a
    /// violation.
    fn resolve(&self, id: u64, reply: Reply, wire_len: usize) -> Option<BatchIds> {
        let waiter = self.pending.lock().ok().and_then(|mut p| p.remove(&id));
        match waiter {
            Some(w) => {
                let _ = w.tx.send((reply, wire_len));
                w.batch
            }
            None => {
                let not_awaited = format!(
                    "response for id {id}, which is not awaited (unknown, late or duplicate)"
                );
                on_violation(
                    self,
                    match reply.1 {
                        // A malformed one says what was wrong with it too.
                        Err(CallError::Protocol(what)) => format!("{not_awaited}; {what}"),
                        _ => not_awaited,
                    },
                );
                None
            }
        }
    }

    /// Fails the request `id` at once, if it is still awaited.
    fn fail_one(&self, id: u64, error: CallError) -> bool {
        let waiter = self.pending.lock().ok().and_then(|mut p| p.remove(&id));
        match waiter {
            Some(w) => w.tx.send(((Instant::now(), Err(error)), 0)).is_ok(),
            None => false,
        }
    }

    /// After a batch reply: its requests that it did not answer fail now
    /// instead of waiting for their timeout.
    fn fail_unanswered(&self, batch: BatchIds, at: Instant) {
        for id in batch.first..batch.first + batch.count {
            let waiter = self.pending.lock().ok().and_then(|mut p| p.remove(&id));
            if let Some(w) = waiter {
                let why = format!("the batch reply has no response for id {id}");
                let _ = w.tx.send(((at, Err(CallError::Protocol(why))), 0));
            }
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

/// One MCP session. Cheap to share: calls take `&self`.
pub struct McpSession {
    shared: Arc<Shared>,
    out: Arc<writer::Outbox>,
    pub server: ServerIdentity,
    /// The stateless era's per-request `_meta`, serialized.
    meta: Option<Vec<u8>>,
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
    /// Starts the reader and writer tasks and performs the handshake:
    /// `initialize` offering `era`, or `server/discover` when it is the
    /// stateless era.
    pub async fn connect<R, W>(
        reader: R,
        writer: W,
        era: Era,
        handshake_timeout: Duration,
    ) -> Result<McpSession, ConnectError>
    where
        R: AsyncRead + Unpin + Send + 'static,
        W: AsyncWrite + Unpin + Send + 'static,
    {
        Self::connect_with_limit(reader, writer, era, handshake_timeout, MAX_LINE_BYTES).await
    }

    /// `connect` with a chosen longest accepted line.
    pub async fn connect_with_limit<R, W>(
        reader: R,
        writer: W,
        era: Era,
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
            batch_sent: AtomicBool::new(false),
            counters: Arc::new(SessionCounters::default()),
        });
        let out_tx = Arc::new(writer::Outbox::new(Box::new(writer)));
        let writer_task = tokio::spawn(write_loop(out_tx.clone(), shared.clone()));
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
            meta: None,
            tasks: vec![writer_task, reader_task],
        };
        session.server = if era.is_stateless() {
            session.meta = Some(handshake::stateless_meta());
            session.discover(handshake_timeout).await?
        } else {
            session.initialize(era, handshake_timeout).await?
        };
        Ok(session)
    }

    /// Sends one request and waits for its reply; returns when it arrived.
    pub async fn call(&self, req: &PreparedRequest) -> Result<Instant, CallError> {
        let (at, outcome) = self.send(req).await;
        judge(req, at, outcome)
    }

    /// Sends one request and returns what its result holds (a listing's
    /// names, for example) instead of when it arrived.
    pub async fn request(&self, req: &PreparedRequest) -> Result<ResultProbe, CallError> {
        self.send(req).await.1
    }

    /// Sends the requests as one JSON-RPC batch and waits for each reply (or
    /// its own timeout); one outcome per request, in order.
    pub async fn call_batch(&self, items: &[BatchItem<'_>]) -> Vec<Result<Instant, CallError>> {
        let count = items.len() as u64;
        let first = self.shared.next_id.fetch_add(count, Ordering::Relaxed);
        let batch = BatchIds { first, count };
        let mut receivers = Vec::with_capacity(items.len());
        let mut guards = Vec::with_capacity(items.len());
        {
            let mut pending = self
                .shared
                .pending
                .lock()
                .unwrap_or_else(|poisoned| poisoned.into_inner());
            for id in first..first + count {
                let (tx, rx) = oneshot::channel();
                let batch = Some(batch);
                pending.insert(id, Waiter { tx, batch });
                receivers.push(rx);
                guards.push(PendingGuard {
                    shared: &self.shared,
                    id,
                });
            }
        }
        self.shared.batch_sent.store(true, Ordering::SeqCst);
        let body = wire::encode_batch(
            items
                .iter()
                .zip(first..)
                .map(|(item, id)| self.encode(item.request, id)),
        );
        let body_len = body.len();
        let sent = !self.shared.closed.load(Ordering::Relaxed) && self.post(body, false).is_ok();
        if sent {
            wire_bytes::add_sent(body_len);
        }
        let waits = items.iter().zip(receivers).map(|(item, rx)| async move {
            if !sent {
                return Err(CallError::Transport(self.shared.close_reason()));
            }
            match tokio::time::timeout(item.timeout, rx).await {
                Ok(Ok(((at, outcome), wire_len))) => {
                    wire_bytes::add_received(wire_len);
                    judge(item.request, at, outcome)
                }
                Ok(Err(_)) => Err(CallError::Transport(self.shared.close_reason())),
                Err(_) => Err(CallError::Timeout),
            }
        });
        let outcomes = futures_util::future::join_all(waits).await;
        drop(guards);
        outcomes
    }

    async fn send(&self, req: &PreparedRequest) -> Reply {
        if self.shared.closed.load(Ordering::Relaxed) {
            return (
                Instant::now(),
                Err(CallError::Transport(self.shared.close_reason())),
            );
        }
        let id = self.shared.next_id.fetch_add(1, Ordering::Relaxed);
        let (tx, rx) = oneshot::channel();
        // Alone in flight: written by this task (see `writer`).
        let mut alone = false;
        if let Ok(mut p) = self.shared.pending.lock() {
            p.insert(id, Waiter { tx, batch: None });
            alone = p.len() == 1;
        }
        let _guard = PendingGuard {
            shared: &self.shared,
            id,
        };
        let body = self.encode(req, id);
        let body_len = body.len();
        if self.post(body, alone).is_err() {
            return (
                Instant::now(),
                Err(CallError::Transport(self.shared.close_reason())),
            );
        }
        wire_bytes::add_sent(body_len);
        match rx.await {
            Ok((reply, wire_len)) => {
                wire_bytes::add_received(wire_len);
                reply
            }
            Err(_) => (
                Instant::now(),
                Err(CallError::Transport(self.shared.close_reason())),
            ),
        }
    }

    /// Hands `body` to the stream; a write that failed closes the session.
    fn post(&self, body: Vec<u8>, direct: bool) -> Result<(), ()> {
        post(&self.shared, &self.out, body, direct)
    }

    fn encode(&self, req: &PreparedRequest, id: u64) -> Vec<u8> {
        match &self.meta {
            Some(meta) => req.encode_with_meta(id, meta),
            None => req.encode(id),
        }
    }

    pub fn counters(&self) -> Arc<SessionCounters> {
        self.shared.counters.clone()
    }

    pub fn is_closed(&self) -> bool {
        self.shared.closed.load(Ordering::Relaxed)
    }
}

/// Writes `body` (by this task when `direct` and the stream is idle); a
/// failed write closes the session with its reason.
fn post(shared: &Shared, out: &writer::Outbox, body: Vec<u8>, direct: bool) -> Result<(), ()> {
    match out.send(body, direct) {
        Ok(writer::Sent::Written(at)) => {
            writer::note_written(at);
            Ok(())
        }
        Ok(writer::Sent::Queued) => Ok(()),
        Err(writer::SendError::Closed) => Err(()),
        Err(writer::SendError::Failed(why)) => {
            shared.close(why);
            Err(())
        }
    }
}

async fn write_loop(out: Arc<writer::Outbox>, shared: Arc<Shared>) {
    if let Err(why) = out.run().await {
        shared.close(why);
    }
}

async fn read_loop<R: AsyncRead + Unpin>(
    reader: R,
    shared: Arc<Shared>,
    out: Arc<writer::Outbox>,
    max_line_bytes: usize,
) {
    let reader = tokio::io::BufReader::with_capacity(READ_BUFFER_BYTES, reader);
    let mut lines = LineReader::new(reader, max_line_bytes);
    loop {
        match lines.next().await {
            Ok(LineRead::Eof) => {
                shared.close("connection closed by the server".into());
                return;
            }
            Ok(LineRead::TooLong) => {
                on_too_long(&shared, &lines);
                continue;
            }
            Ok(LineRead::Line) => {}
            Err(e) => {
                shared.close(format!("read failed: {e}"));
                return;
            }
        }
        let at = Instant::now();
        let line = lines.line();
        if line.trim_ascii().is_empty() {
            continue;
        }
        // The line's bytes go to the reply it holds; a batch reply's to its
        // first, so a batch's shares add up to the line.
        let mut wire_len = lines.wire_len();
        match wire::classify_bytes(line, shared.batch_sent.load(Ordering::Relaxed)) {
            Messages::One(message) => {
                on_message(&shared, &out, message, (at, wire_len));
            }
            Messages::Batch(messages) => {
                let mut batches = Vec::new();
                for message in messages {
                    let read = (at, std::mem::take(&mut wire_len));
                    if let Some(b) = on_message(&shared, &out, message, read) {
                        if !batches.contains(&b) {
                            batches.push(b);
                        }
                    }
                }
                for b in batches {
                    shared.fail_unanswered(b, at);
                }
            }
        }
    }
}

/// A line over the limit (or over the shared budget) was skipped: always a
/// violation, and when its start names an awaited request, that request
/// fails now rather than at its timeout.
fn on_too_long<R>(shared: &Shared, lines: &LineReader<R>) {
    let what = format!(
        "line longer than {} bytes (skipped{})",
        lines.max(),
        if lines.over_budget() {
            "; the shared line budget was in use by other sessions"
        } else {
            ""
        }
    );
    if let Some(id) = wire::salvage_id(lines.head()) {
        shared.fail_one(id, CallError::Protocol(format!("reply to id {id}: {what}")));
    }
    on_violation(shared, what);
}

/// Handles one message from the server; for a reply to a batched request,
/// returns its batch.
fn on_message(
    shared: &Shared,
    out: &writer::Outbox,
    message: Incoming,
    (at, wire_len): (Instant, usize),
) -> Option<BatchIds> {
    match message {
        Incoming::Response { id, outcome } => {
            return shared.resolve(id, (at, outcome.map_err(rpc_error)), wire_len);
        }
        Incoming::ServerRequest { id, method } => {
            shared
                .counters
                .server_requests
                .fetch_add(1, Ordering::Relaxed);
            let _ = post(shared, out, wire::reply_to_server(&id, &method), false);
        }
        Incoming::Notification { .. } => {
            shared
                .counters
                .notifications
                .fetch_add(1, Ordering::Relaxed);
        }
        Incoming::Invalid(what) => on_violation(shared, what),
    }
    None
}

fn on_violation(shared: &Shared, what: String) {
    shared.counters.violation(what.clone());
    // Before the handshake completes nothing else can be trusted: fail fast.
    if !shared.initialized.load(Ordering::Relaxed) {
        shared.fail_pending(CallError::Protocol(what));
    }
}

#[cfg(test)]
mod tests;
