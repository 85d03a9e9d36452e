//! The Streamable HTTP target: every request is a POST whose reply comes back
//! as one JSON body or as a `text/event-stream`. The session id the server
//! hands out at `initialize` rides on every later request, a 404 on it starts
//! a new session, and the session is DELETEd when it ends. In the stateless
//! 2026-07-28 era there is no `initialize`: every request carries its version
//! in `_meta` and in headers.

pub mod conn;
mod deaths;
pub mod pool;
mod post;
mod resume;
mod stream;

use super::{setup_failed, ConnectOptions, Connected, Connector, TargetError};
use crate::client::handshake;
use crate::client::{judge, BatchItem, CallError, ConnectError, ServerIdentity, SessionCounters};
use crate::protocol::jsonrpc::{self as wire, PreparedRequest, ResultProbe};
use crate::protocol::{Era, ProtocolChoice};
use crate::workload::target::Endpoint;
use conn::RequestBytes;
use futures_util::future::BoxFuture;
use pool::Pool;
use post::{Posted, Replies};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, RwLock};
use std::time::Duration;
use tokio::time::Instant;

const ACCEPT_BOTH: &str = "application/json, text/event-stream";
const SESSION_HEADER: &str = "Mcp-Session-Id";
const VERSION_HEADER: &str = "MCP-Protocol-Version";
/// New sessions one request may start after 404s: a server may forget a
/// session again while a request waits, but not without end.
const MAX_RENEWALS: u32 = 3;

pub struct HttpConnector {
    pub endpoint: Endpoint,
    pub options: ConnectOptions,
}

impl Connector for HttpConnector {
    fn connect(&self, session: u32) -> BoxFuture<'_, Result<Connected, TargetError>> {
        Box::pin(async move {
            let url = self.endpoint.url("http");
            let client = HttpSession::open(&self.endpoint, &self.options)
                .await
                .map_err(|e| setup_failed(session, &url)(e.to_string()))?;
            Ok(Connected {
                server_name: client.server.name.clone(),
                era: client.server.era,
                session: Arc::new(client),
                pid: None,
                keep_alive: Box::new(()),
            })
        })
    }
}

/// How requests are framed, fixed when the session opens.
#[derive(Debug, Clone, Copy, PartialEq)]
enum SessionMode {
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
    mode: SessionMode,
    /// The serialized `_meta` object for stateless requests.
    meta: Vec<u8>,
    state: RwLock<State>,
    renew: tokio::sync::Mutex<()>,
    next_id: AtomicU64,
    counters: Arc<SessionCounters>,
    offered: Era,
    handshake_timeout: Duration,
    /// Whether the session is seen dead, once a wrapper asks to know.
    deaths: deaths::Deaths,
}

/// One MCP session over Streamable HTTP.
pub struct HttpSession {
    inner: Arc<Inner>,
    pub server: ServerIdentity,
    /// The GET stream for server messages, when asked for.
    listener: Option<tokio::task::JoinHandle<()>>,
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
        let stateless = options.protocol.is_stateless();
        let meta = handshake::stateless_meta();
        let inner = Inner {
            pool: Pool::new(
                endpoint.clone(),
                options.http_connections,
                options.deployed.clone(),
            ),
            host,
            path,
            mode: if stateless {
                SessionMode::Stateless
            } else {
                SessionMode::Initialized
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
            offered: options.offered(),
            handshake_timeout: options.handshake_timeout,
            deaths: deaths::Deaths::default(),
        };
        // The first connection before the handshake, so each is timed alone.
        inner
            .pool
            .prewarm()
            .await
            .map_err(|e| ConnectError::Other(e.to_string()))?;
        let started = Instant::now();
        let phases = options.deployed.phases.clone();
        let session = Self::handshake(inner, options).await?;
        phases.initialize(started.elapsed());
        Ok(session)
    }

    /// `server/discover` or `initialize`, as the protocol setting says.
    async fn handshake(
        mut inner: Inner,
        options: &ConnectOptions,
    ) -> Result<HttpSession, ConnectError> {
        let stateless = options.protocol.is_stateless();
        let auto = options.protocol == ProtocolChoice::Auto;
        if stateless || auto {
            inner.mode = SessionMode::Stateless;
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
                        "server/discover",
                        String::new(),
                    ))
                }
                _ => {}
            }
            // `auto`: the server does not speak the stateless era.
            let mut inner = Arc::into_inner(inner)
                .ok_or_else(|| ConnectError::Other("session still shared".into()))?;
            inner.mode = SessionMode::Initialized;
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
        if let Some(ask) = &req.resume {
            // Boxed: the rare path would otherwise swell every call's future.
            return Box::pin(self.inner.call_resuming(req, ask)).await;
        }
        let (at, outcome) = self.exchange(req).await?;
        judge(req, at, outcome)
    }

    /// Sends one request and returns what its result holds (a listing).
    pub async fn request(&self, req: &PreparedRequest) -> Result<ResultProbe, CallError> {
        self.exchange(req).await?.1
    }

    /// One request and its reply (when and what), renewing an expired session.
    async fn exchange(&self, req: &PreparedRequest) -> Result<post::Reply, CallError> {
        let inner = &self.inner;
        let mut renewals = 0;
        loop {
            let generation = inner.generation();
            let id = inner.next_id.fetch_add(1, Ordering::Relaxed);
            let body = match inner.mode {
                SessionMode::Initialized => req.encode(id),
                SessionMode::Stateless => req.encode_with_meta(id, &inner.meta),
            };
            let mut replies = Replies::one(id);
            let name = req.target_name.as_deref();
            match inner.post(body, &mut replies, req.method, name).await {
                Posted::Answered => {
                    let reply = replies.into_replies().pop().flatten();
                    return Ok(reply.unwrap_or_else(|| (Instant::now(), Err(no_reply()))));
                }
                Posted::Failed(e) => return Err(e),
                Posted::SessionExpired if renewals < MAX_RENEWALS => {
                    renewals += 1;
                    inner.renew(generation).await?;
                }
                Posted::SessionExpired => return Err(expired_again()),
            }
        }
    }

    /// Sends the requests as one JSON-RPC batch in one POST; one outcome per
    /// request, in order, each within its own timeout.
    pub async fn call_batch(&self, items: &[BatchItem<'_>]) -> Vec<Result<Instant, CallError>> {
        let inner = &self.inner;
        let all = |e: CallError| items.iter().map(|_| Err(e.clone())).collect();
        if inner.mode == SessionMode::Stateless {
            return all(CallError::Protocol(
                "the stateless era has no JSON-RPC batches".into(),
            ));
        }
        let sent = Instant::now();
        let longest = items.iter().map(|i| i.timeout).max().unwrap_or_default();
        let mut renewals = 0;
        loop {
            let generation = inner.generation();
            let count = items.len() as u64;
            let first = inner.next_id.fetch_add(count, Ordering::Relaxed);
            let body = wire::encode_batch(
                items
                    .iter()
                    .zip(first..)
                    .map(|(item, id)| item.request.encode(id)),
            );
            let mut replies = Replies::batch(first, items.len());
            let method = items.first().map_or("batch", |i| i.request.method);
            let posted = inner.post(body, &mut replies, method, None);
            match tokio::time::timeout_at(sent + longest, posted).await {
                Ok(Posted::Failed(e)) => return all(e),
                Ok(Posted::SessionExpired) if renewals < MAX_RENEWALS => {
                    renewals += 1;
                    if let Err(e) = inner.renew(generation).await {
                        return all(e);
                    }
                    continue;
                }
                Ok(Posted::SessionExpired) => return all(expired_again()),
                // Timed out: what arrived in time still counts.
                Ok(Posted::Answered) | Err(_) => {}
            }
            return items
                .iter()
                .zip(replies.into_replies())
                .map(|(item, reply)| match reply {
                    Some((at, outcome)) if at.duration_since(sent) <= item.timeout => {
                        judge(item.request, at, outcome)
                    }
                    _ => Err(CallError::Timeout),
                })
                .collect();
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

    fn request<'a>(
        &'a self,
        req: &'a PreparedRequest,
    ) -> BoxFuture<'a, Result<ResultProbe, CallError>> {
        Box::pin(HttpSession::request(self, req))
    }

    fn call_batch<'a>(
        &'a self,
        items: &'a [BatchItem<'a>],
    ) -> BoxFuture<'a, Vec<Result<Instant, CallError>>> {
        Box::pin(HttpSession::call_batch(self, items))
    }

    fn counters(&self) -> Option<Arc<SessionCounters>> {
        Some(HttpSession::counters(self))
    }

    fn report_deaths(&self) {
        self.inner.deaths.report();
    }

    fn is_down(&self) -> bool {
        self.inner.deaths.is_down()
    }
}

/// The result of a handshake request, or why there is none.
fn handshake_reply(
    posted: Posted,
    replies: Replies,
    method: &'static str,
) -> Result<ResultProbe, ConnectError> {
    match posted {
        Posted::Answered => match replies.into_replies().pop().flatten() {
            Some((_, Ok(probe))) => Ok(probe),
            Some((_, Err(e))) => Err(ConnectError::Call(method, e)),
            None => Err(ConnectError::Call(method, no_reply())),
        },
        Posted::Failed(e) => Err(ConnectError::Call(method, e)),
        Posted::SessionExpired => Err(ConnectError::Other(format!("{method} answered 404"))),
    }
}

fn no_reply() -> CallError {
    CallError::Protocol("no reply".into())
}

fn expired_again() -> CallError {
    CallError::Transport(format!("HTTP 404 again after {MAX_RENEWALS} new sessions"))
}

impl Inner {
    fn state(&self) -> State {
        self.with_state(State::clone)
    }

    /// Reads the state in place, without the copy `state` makes.
    fn with_state<T>(&self, read: impl FnOnce(&State) -> T) -> T {
        match self.state.read() {
            Ok(s) => read(&s),
            Err(p) => read(&p.into_inner()),
        }
    }

    fn generation(&self) -> u64 {
        self.with_state(|s| s.generation)
    }

    async fn initialize(&self) -> Result<ServerIdentity, ConnectError> {
        let req = handshake::initialize_request(self.offered);
        let id = self.next_id.fetch_add(1, Ordering::Relaxed);
        let mut replies = Replies::one(id);
        let (posted, session_id) = tokio::time::timeout(
            self.handshake_timeout,
            self.post_raw(req.encode(id), &mut replies, req.method, None, false),
        )
        .await
        .map_err(|_| ConnectError::Timeout(self.handshake_timeout, req.method, String::new()))?;
        let server = handshake::initialized(handshake_reply(posted, replies, req.method)?)?;
        {
            let mut state = self
                .state
                .write()
                .map_err(|_| ConnectError::Other("poisoned".into()))?;
            state.session_id = session_id;
            state.version = Some(server.era.to_string());
            state.generation += 1;
        }
        let note = wire::encode_notification("notifications/initialized");
        let method = "notifications/initialized";
        if let Posted::Failed(e) = self.post(note, &mut Replies::none(), method, None).await {
            return Err(ConnectError::Other(format!("{method} was refused: {e}")));
        }
        Ok(server)
    }

    /// `server/discover`, the stateless era's way to learn about the server.
    async fn discover(&self) -> Result<ServerIdentity, ConnectError> {
        if let Ok(mut state) = self.state.write() {
            state.version = Some(Era::STATELESS.to_string());
        }
        let req = handshake::discover_request();
        let id = self.next_id.fetch_add(1, Ordering::Relaxed);
        let body = req.encode_with_meta(id, &self.meta);
        let mut replies = Replies::one(id);
        let posted = self.post(body, &mut replies, req.method, None).await;
        handshake::discovered(handshake_reply(posted, replies, req.method)?)
    }

    /// Starts a new session after a 404, once for all the requests that saw it.
    async fn renew(&self, seen_generation: u64) -> Result<(), CallError> {
        let _one_at_a_time = self.renew.lock().await;
        if self.generation() != seen_generation {
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
        self.pool.deployed().decorate_now(&mut request).await;
        if let Ok((_, body)) = self.pool.send(&request.finish(b"")).await {
            let _ = body.collect(64 * 1024).await;
        }
    }
}

#[cfg(test)]
mod tests;
