//! The Streamable HTTP target: every request is a POST whose reply comes back
//! as one JSON body or as a `text/event-stream`. The session id the server
//! hands out at `initialize` rides on every later request, a 404 on it starts
//! a new session, and the session is DELETEd when it ends. In the stateless
//! 2026-07-28 era there is no `initialize`: every request carries its version
//! in `_meta` and in headers.

pub mod conn;
pub mod pool;
pub mod sse;
mod stream;

use super::endpoint::Endpoint;
use super::{ConnectOptions, Connected, Connector, TargetError};
use crate::client::wire::{self, Incoming, PreparedRequest, ResultProbe};
use crate::client::MAX_LINE_BYTES;
use crate::client::{rpc_error, CallError, ConnectError, ServerIdentity, SessionCounters};
use crate::workload::{KNOWN_PROTOCOLS, STATELESS_PROTOCOL};
use conn::RequestBytes;
use futures_util::future::BoxFuture;
use pool::{Body, Pool};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, RwLock};
use std::time::Duration;
use tokio::time::Instant;

const ACCEPT_BOTH: &str = "application/json, text/event-stream";
const SESSION_HEADER: &str = "Mcp-Session-Id";
const VERSION_HEADER: &str = "MCP-Protocol-Version";

pub struct HttpConnector {
    pub endpoint: Endpoint,
    pub options: ConnectOptions,
}

impl Connector for HttpConnector {
    fn connect(&self, session: u32) -> BoxFuture<'_, Result<Connected, TargetError>> {
        Box::pin(async move {
            let client = HttpSession::open(&self.endpoint, &self.options)
                .await
                .map_err(|e| TargetError::Handshake {
                    session,
                    reason: format!(
                        "http://{}{}: {e}",
                        self.endpoint.authority(),
                        self.endpoint.path
                    ),
                })?;
            Ok(Connected {
                server_name: client.server.name.clone(),
                protocol_version: client.server.protocol_version.clone(),
                session: Arc::new(client),
                pid: None,
                keep_alive: Box::new(()),
            })
        })
    }
}

/// How requests are framed, fixed when the session opens.
#[derive(Debug, Clone, Copy, PartialEq)]
enum Era {
    /// `initialize` first, then `Mcp-Session-Id` (when the server gives one).
    Initialized,
    /// 2026-07-28: no handshake; `_meta` and headers on every request.
    Stateless,
}

#[derive(Clone)]
struct State {
    session_id: Option<String>,
    version: Option<String>,
    /// Bumped on every new session, so concurrent 404s start only one.
    generation: u64,
}

struct Inner {
    pool: Arc<Pool>,
    host: String,
    path: String,
    era: Era,
    /// The serialized `_meta` object for stateless requests.
    meta: Vec<u8>,
    state: RwLock<State>,
    renew: tokio::sync::Mutex<()>,
    next_id: AtomicU64,
    counters: Arc<SessionCounters>,
    offered_version: String,
    handshake_timeout: Duration,
}

/// One MCP session over Streamable HTTP.
pub struct HttpSession {
    inner: Arc<Inner>,
    pub server: ServerIdentity,
    /// The GET stream for server messages, when asked for.
    listener: Option<tokio::task::JoinHandle<()>>,
}

/// What one POST came to.
enum Posted {
    Reply(Instant, Result<ResultProbe, CallError>),
    /// 404 on a session id: the server forgot the session.
    SessionExpired,
}

impl HttpSession {
    pub async fn open(
        endpoint: &Endpoint,
        options: &ConnectOptions,
    ) -> Result<HttpSession, ConnectError> {
        let host = endpoint.authority();
        let path = endpoint.path.clone();
        if path.bytes().any(|b| b <= b' ' || b == 0x7f) {
            return Err(ConnectError::Other(format!("bad path {path:?}")));
        }
        let stateless = options.protocol == STATELESS_PROTOCOL;
        let meta = serde_json::to_vec(&serde_json::json!({
            "io.modelcontextprotocol/protocolVersion": STATELESS_PROTOCOL,
            "io.modelcontextprotocol/clientInfo": { "name": "mcptop", "version": env!("CARGO_PKG_VERSION") },
            "io.modelcontextprotocol/clientCapabilities": {},
        }))
        .unwrap_or_default();
        let mut inner = Inner {
            pool: Pool::new(endpoint.clone(), options.http_connections),
            host,
            path,
            era: if stateless {
                Era::Stateless
            } else {
                Era::Initialized
            },
            meta,
            state: RwLock::new(State {
                session_id: None,
                version: None,
                generation: 0,
            }),
            renew: tokio::sync::Mutex::new(()),
            next_id: AtomicU64::new(1),
            counters: Arc::new(SessionCounters::default()),
            offered_version: options.initialize_version().to_string(),
            handshake_timeout: options.handshake_timeout,
        };
        let auto = options.protocol == "auto";
        if stateless || auto {
            inner.era = Era::Stateless;
            let inner = Arc::new(inner);
            match tokio::time::timeout(options.handshake_timeout, inner.discover()).await {
                Ok(Ok(server)) => {
                    return Ok(HttpSession {
                        inner,
                        server,
                        listener: None,
                    })
                }
                Ok(Err(e)) if stateless => return Err(e),
                Err(_) if stateless => {
                    return Err(ConnectError::Timeout(
                        options.handshake_timeout,
                        String::new(),
                    ))
                }
                _ => {}
            }
            // `auto`: the server does not speak the stateless era.
            let mut inner = Arc::into_inner(inner)
                .ok_or_else(|| ConnectError::Other("session still shared".into()))?;
            inner.era = Era::Initialized;
            inner.counters = Arc::new(SessionCounters::default());
            let inner = Arc::new(inner);
            let server = inner.initialize().await?;
            return Ok(HttpSession::started(inner, server, options.server_stream));
        }
        let inner = Arc::new(inner);
        let server = inner.initialize().await?;
        Ok(HttpSession::started(inner, server, options.server_stream))
    }

    fn started(inner: Arc<Inner>, server: ServerIdentity, server_stream: bool) -> HttpSession {
        let listener = server_stream.then(|| tokio::spawn(stream::listen(inner.clone())));
        HttpSession {
            inner,
            server,
            listener,
        }
    }

    pub async fn call(&self, req: &PreparedRequest) -> Result<Instant, CallError> {
        let inner = &self.inner;
        let mut renewed = false;
        loop {
            let generation = inner.state().generation;
            let id = inner.next_id.fetch_add(1, Ordering::Relaxed);
            let body = match inner.era {
                Era::Initialized => req.encode(id),
                Era::Stateless => req.encode_with_meta(id, &inner.meta),
            };
            match inner
                .post(body, Some(id), req.method, req.target_name.as_deref())
                .await
            {
                Posted::Reply(at, Ok(probe)) => {
                    return if req.is_tool_call && probe.is_error == Some(true) {
                        Err(CallError::ToolError)
                    } else {
                        Ok(at)
                    };
                }
                Posted::Reply(_, Err(e)) => return Err(e),
                Posted::SessionExpired if !renewed => {
                    renewed = true;
                    inner.renew(generation).await?;
                }
                Posted::SessionExpired => {
                    return Err(CallError::Transport(
                        "HTTP 404 again right after a new session".into(),
                    ))
                }
            }
        }
    }

    pub fn counters(&self) -> Arc<SessionCounters> {
        self.inner.counters.clone()
    }
}

impl Drop for HttpSession {
    /// Ends the session on the server, as the transport asks of clients.
    fn drop(&mut self) {
        if let Some(listener) = self.listener.take() {
            listener.abort();
        }
        let Some(session_id) = self.inner.state().session_id else {
            return;
        };
        let Ok(runtime) = tokio::runtime::Handle::try_current() else {
            return;
        };
        let inner = self.inner.clone();
        runtime.spawn(async move {
            let _ = tokio::time::timeout(Duration::from_secs(2), inner.delete(session_id)).await;
        });
    }
}

impl super::Session for HttpSession {
    fn call<'a>(&'a self, req: &'a PreparedRequest) -> BoxFuture<'a, Result<Instant, CallError>> {
        Box::pin(HttpSession::call(self, req))
    }

    fn counters(&self) -> Option<Arc<SessionCounters>> {
        Some(HttpSession::counters(self))
    }
}

impl Inner {
    fn state(&self) -> State {
        match self.state.read() {
            Ok(s) => s.clone(),
            Err(p) => p.into_inner().clone(),
        }
    }

    async fn initialize(&self) -> Result<ServerIdentity, ConnectError> {
        let params = serde_json::json!({
            "protocolVersion": self.offered_version,
            "capabilities": {},
            "clientInfo": { "name": "mcptop", "version": env!("CARGO_PKG_VERSION") },
        });
        let req = PreparedRequest::new("initialize", &params);
        let id = self.next_id.fetch_add(1, Ordering::Relaxed);
        let posted = tokio::time::timeout(
            self.handshake_timeout,
            self.post_raw(req.encode(id), Some(id), "initialize", None, false),
        )
        .await
        .map_err(|_| ConnectError::Timeout(self.handshake_timeout, String::new()))?;
        let (probe, session_id) = match posted {
            (Posted::Reply(_, Ok(probe)), session_id) => (probe, session_id),
            (Posted::Reply(_, Err(e)), _) => return Err(ConnectError::Call(e)),
            (Posted::SessionExpired, _) => {
                return Err(ConnectError::Other("initialize answered 404".into()))
            }
        };
        let version = probe.protocol_version.unwrap_or_default();
        if !KNOWN_PROTOCOLS.contains(&version.as_str()) || version == STATELESS_PROTOCOL {
            return Err(ConnectError::Version(version, KNOWN_PROTOCOLS.join(", ")));
        }
        {
            let mut state = self
                .state
                .write()
                .map_err(|_| ConnectError::Other("poisoned".into()))?;
            state.session_id = session_id;
            state.version = Some(version.clone());
            state.generation += 1;
        }
        let note = wire::encode_notification("notifications/initialized");
        if let Posted::Reply(_, Err(e)) = self
            .post(note, None, "notifications/initialized", None)
            .await
        {
            return Err(ConnectError::Other(format!(
                "notifications/initialized was refused: {e}"
            )));
        }
        let info = probe.server_info.unwrap_or_default();
        Ok(ServerIdentity {
            name: info.name,
            version: info.version,
            protocol_version: version,
        })
    }

    /// `server/discover`, the stateless era's way to learn about the server.
    async fn discover(&self) -> Result<ServerIdentity, ConnectError> {
        if let Ok(mut state) = self.state.write() {
            state.version = Some(STATELESS_PROTOCOL.to_string());
        }
        let req = PreparedRequest::new("server/discover", &serde_json::json!({}));
        let id = self.next_id.fetch_add(1, Ordering::Relaxed);
        let body = req.encode_with_meta(id, &self.meta);
        let probe = match self.post(body, Some(id), "server/discover", None).await {
            Posted::Reply(_, Ok(probe)) => probe,
            Posted::Reply(_, Err(e)) => return Err(ConnectError::Call(e)),
            Posted::SessionExpired => {
                return Err(ConnectError::Other("server/discover answered 404".into()))
            }
        };
        let versions = probe.supported_versions.unwrap_or_default();
        if !versions.iter().any(|v| v == STATELESS_PROTOCOL) {
            return Err(ConnectError::Version(
                versions.join(", "),
                STATELESS_PROTOCOL.into(),
            ));
        }
        let info = probe
            .meta
            .and_then(|m| m.server_info)
            .or(probe.server_info)
            .unwrap_or_default();
        Ok(ServerIdentity {
            name: info.name,
            version: info.version,
            protocol_version: STATELESS_PROTOCOL.into(),
        })
    }

    /// Starts a new session after a 404, once for all the requests that saw it.
    async fn renew(&self, seen_generation: u64) -> Result<(), CallError> {
        let _one_at_a_time = self.renew.lock().await;
        if self.state().generation != seen_generation {
            return Ok(());
        }
        self.counters
            .violation("session expired (HTTP 404); started a new one".into());
        self.initialize()
            .await
            .map(|_| ())
            .map_err(|e| CallError::Transport(format!("cannot start a new session: {e}")))
    }

    async fn delete(&self, session_id: String) {
        let mut request = RequestBytes::new("DELETE", &self.path, &self.host);
        request.header(SESSION_HEADER, &session_id);
        if let Some(v) = self.state().version {
            request.header(VERSION_HEADER, &v);
        }
        if let Ok((_, body)) = self.pool.send(&request.finish(b"")).await {
            let _ = body.collect(64 * 1024).await;
        }
    }

    async fn post(
        &self,
        body: Vec<u8>,
        want: Option<u64>,
        method: &str,
        name: Option<&str>,
    ) -> Posted {
        self.post_raw(body, want, method, name, true).await.0
    }

    /// One POST; also returns the `Mcp-Session-Id` the server sent.
    async fn post_raw(
        &self,
        body: Vec<u8>,
        want: Option<u64>,
        method: &str,
        name: Option<&str>,
        with_session: bool,
    ) -> (Posted, Option<String>) {
        let state = self.state();
        let mut request = RequestBytes::new("POST", &self.path, &self.host);
        request
            .header("Content-Type", "application/json")
            .header("Accept", ACCEPT_BOTH);
        let sent_session = with_session && state.session_id.is_some();
        if with_session {
            if let Some(id) = &state.session_id {
                request.header(SESSION_HEADER, id);
            }
            if let Some(v) = &state.version {
                request.header(VERSION_HEADER, v);
            }
        }
        if self.era == Era::Stateless {
            request.header("Mcp-Method", method);
            if let Some(value) = name.map(header_text) {
                request.header("Mcp-Name", &value);
            }
        }
        let (head, reply) = match self.pool.send(&request.finish(&body)).await {
            Ok(r) => r,
            Err(e) => return (fail(e), None),
        };
        let status = head.status;
        let ok = (200..300).contains(&status);
        let session_id = head.session_id;
        if status == 404 && sent_session {
            reply.drain_later();
            return (Posted::SessionExpired, session_id);
        }
        if status == 202 || (ok && want.is_none()) {
            reply.drain_later();
            return match want {
                None => (
                    Posted::Reply(Instant::now(), Ok(ResultProbe::default())),
                    session_id,
                ),
                Some(_) => (
                    fail(CallError::Protocol(format!(
                        "HTTP {status} and no reply to a request"
                    ))),
                    session_id,
                ),
            };
        }
        if head.event_stream && ok {
            return (self.read_events(reply, want).await, session_id);
        }
        let bytes = match reply.collect(MAX_LINE_BYTES).await {
            Ok(b) => b,
            Err(e) => return (fail(e), session_id),
        };
        let at = Instant::now();
        let mut found = None;
        if let Ok(text) = std::str::from_utf8(&bytes) {
            self.on_body(text, want, at, &mut found, ok);
        }
        let posted = match (found, ok) {
            (Some(outcome), _) => Posted::Reply(at, outcome),
            (None, true) => fail(CallError::Protocol(format!(
                "HTTP {status} without the reply: {}",
                wire::snippet(&String::from_utf8_lossy(&bytes))
            ))),
            (None, false) => fail(CallError::Transport(format!(
                "HTTP {status}: {}",
                wire::snippet(String::from_utf8_lossy(&bytes).trim())
            ))),
        };
        (posted, session_id)
    }

    /// Reads an event stream until the reply to `want` arrives; the rest of
    /// the stream is read in the background before the connection is reused.
    async fn read_events(&self, mut body: Body, want: Option<u64>) -> Posted {
        let mut parser = sse::SseParser::new(MAX_LINE_BYTES);
        let mut found = None;
        let mut chunk = Vec::with_capacity(4096);
        loop {
            chunk.clear();
            match body.chunk(&mut chunk).await {
                Ok(true) => {}
                Ok(false) => break,
                Err(e) => return fail(e),
            }
            let mut parsed = sse::Parsed::default();
            parser.push(&chunk, &mut parsed);
            let at = Instant::now();
            for _ in 0..parsed.oversized {
                self.counters.violation(format!(
                    "event longer than {MAX_LINE_BYTES} bytes (dropped)"
                ));
            }
            for event in parsed.events {
                self.on_body(&event.data, want, at, &mut found, true);
            }
            if let Some(outcome) = found.take() {
                body.drain_later();
                return Posted::Reply(at, outcome);
            }
        }
        fail(CallError::Protocol(
            "the event stream ended without the reply".into(),
        ))
    }

    /// Handles one JSON body or event: a message or a batch of them.
    fn on_body(
        &self,
        text: &str,
        want: Option<u64>,
        at: Instant,
        found: &mut Option<Result<ResultProbe, CallError>>,
        expect_message: bool,
    ) {
        let trimmed = text.trim_start();
        if trimmed.starts_with('[') {
            match serde_json::from_str::<Vec<serde_json::Value>>(trimmed) {
                Ok(items) => {
                    for item in items {
                        self.on_message(&item.to_string(), want, at, found, expect_message);
                    }
                }
                Err(e) => self.counters.violation(format!("invalid JSON batch: {e}")),
            }
        } else {
            self.on_message(trimmed, want, at, found, expect_message);
        }
    }

    fn on_message(
        &self,
        text: &str,
        want: Option<u64>,
        _at: Instant,
        found: &mut Option<Result<ResultProbe, CallError>>,
        expect_message: bool,
    ) {
        match wire::classify(text) {
            Incoming::Response { id, outcome } if Some(id) == want && found.is_none() => {
                *found = Some(outcome.map_err(rpc_error));
            }
            Incoming::Response { id, .. } => self.counters.violation(format!(
                "response for id {id}, which this request did not send (unknown or duplicate)"
            )),
            Incoming::ServerRequest { id, method } => {
                self.counters
                    .server_requests
                    .fetch_add(1, Ordering::Relaxed);
                let reply = if method == "ping" {
                    wire::encode_reply(&id, Ok(serde_json::json!({})))
                } else {
                    wire::encode_reply(&id, Err((-32601, "mcptop does not handle this request")))
                };
                self.answer_server(reply);
            }
            Incoming::Notification { .. } => {
                self.counters.notifications.fetch_add(1, Ordering::Relaxed);
            }
            Incoming::Invalid(what) => {
                // An error body without JSON (a proxy page) is a transport
                // matter, reported with the status by the caller.
                if expect_message {
                    self.counters.violation(what);
                }
            }
        }
    }

    /// Replies to a server's request with a POST of its own.
    fn answer_server(&self, reply: Vec<u8>) {
        let Ok(runtime) = tokio::runtime::Handle::try_current() else {
            return;
        };
        let state = self.state();
        let mut request = RequestBytes::new("POST", &self.path, &self.host);
        request
            .header("Content-Type", "application/json")
            .header("Accept", ACCEPT_BOTH);
        if let Some(id) = &state.session_id {
            request.header(SESSION_HEADER, id);
        }
        if let Some(v) = &state.version {
            request.header(VERSION_HEADER, v);
        }
        let request = request.finish(&reply);
        let pool = self.pool.clone();
        runtime.spawn(async move {
            if let Ok((_, body)) = pool.send(&request).await {
                let _ = body.collect(64 * 1024).await;
            }
        });
    }
}

fn fail(e: CallError) -> Posted {
    Posted::Reply(Instant::now(), Err(e))
}

/// A header value for a name: as is when it is plain printable ASCII, else
/// in the `=?base64?...?=` form the 2026-07-28 transport defines.
fn header_text(name: &str) -> String {
    let plain = !name.is_empty()
        && name.bytes().all(|b| (0x20..0x7f).contains(&b))
        && !name.starts_with(' ')
        && !name.ends_with(' ')
        && !name.starts_with("=?base64?");
    if plain {
        return name.to_string();
    }
    use base64::Engine;
    let encoded = base64::engine::general_purpose::STANDARD.encode(name.as_bytes());
    format!("=?base64?{encoded}?=")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_become_header_values() {
        assert_eq!(header_text("echo"), "echo");
        assert_eq!(header_text("héllo"), "=?base64?aMOpbGxv?=");
        assert!(header_text(" lead").starts_with("=?base64?"));
    }
}
