//! Transports: how requests reach a target. A `Connector` opens sessions to
//! the target a `TargetSpec` names (stdio children, HTTP, TCP, WebSocket,
//! HTTP+SSE, the builtin server in-process). The engine only sees
//! `Session`s, so a scripted test session and a real child process are
//! driven by the same scheduler.

pub mod auth;
pub mod builtin;
pub mod deployed;
pub mod failover;
pub mod group;
/// Request headers and secrets are workload settings; transports send them.
pub use crate::workload::headers;
pub mod http;
pub mod legacy_sse;
pub mod limits;
pub mod phases;
pub mod resume_figures;
pub mod stdio;
pub mod tcp;
pub mod tls;
pub mod ws;

use crate::client::{BatchItem, CallError, McpSession, SessionCounters};
use crate::protocol::jsonrpc::{PreparedRequest, ResultProbe};
use crate::protocol::{Era, ProtocolChoice};
use crate::workload::TargetSpec;
use futures_util::future::BoxFuture;
use std::sync::Arc;
use std::time::Duration;
use tokio::sync::mpsc;
use tokio::time::Instant;

#[derive(Debug, thiserror::Error)]
pub enum TargetError {
    #[error("cannot start `{program}`: {reason}")]
    Spawn { program: String, reason: String },
    #[error("session {session}: {reason}")]
    Handshake { session: u32, reason: String },
}

/// Something that happened to the target outside any one request.
#[derive(Debug, Clone, PartialEq)]
pub enum TargetEvent {
    /// A session's server process ended while the run was going on.
    Exited {
        session: u32,
        status: String,
        stderr_tail: String,
    },
}

/// One MCP session, as the engine drives it.
pub trait Session: Send + Sync {
    /// Sends one request and resolves when its reply arrived (the instant it
    /// was read) or it failed.
    fn call<'a>(&'a self, req: &'a PreparedRequest) -> BoxFuture<'a, Result<Instant, CallError>>;

    /// Sends the requests as one JSON-RPC batch (the 2025-03-26 era); one
    /// outcome per request, in order, each within its own timeout.
    fn call_batch<'a>(
        &'a self,
        items: &'a [BatchItem<'a>],
    ) -> BoxFuture<'a, Vec<Result<Instant, CallError>>> {
        let refused = || {
            Err(CallError::Protocol(
                "this target sends no JSON-RPC batches".into(),
            ))
        };
        Box::pin(std::future::ready(
            items.iter().map(|_| refused()).collect(),
        ))
    }

    /// Sends one request and returns what its result holds (a listing's
    /// names): for `validate --target`, not for load.
    fn request<'a>(
        &'a self,
        req: &'a PreparedRequest,
    ) -> BoxFuture<'a, Result<ResultProbe, CallError>> {
        let _ = req;
        Box::pin(std::future::ready(Err(CallError::Protocol(
            "this target cannot be asked for listings".into(),
        ))))
    }

    /// Notifications, server requests and protocol violations seen so far.
    fn counters(&self) -> Option<Arc<SessionCounters>> {
        None
    }

    /// True once the session can carry no more requests.
    fn is_closed(&self) -> bool {
        false
    }

    /// From now on a failure that ends the session (its server gone, its
    /// connection reset, its session id forgotten) marks it down
    /// (`is_down`) instead of being retried inside the transport: asked by
    /// the `Resilient` wrapper, which counts the death and reconnects.
    fn report_deaths(&self) {}

    /// True once the session is seen dead: closed, or (after
    /// `report_deaths`) for HTTP, whose connections come and go, its server
    /// unreachable or its session forgotten.
    fn is_down(&self) -> bool {
        self.is_closed()
    }
}

impl Session for McpSession {
    fn call<'a>(&'a self, req: &'a PreparedRequest) -> BoxFuture<'a, Result<Instant, CallError>> {
        Box::pin(McpSession::call(self, req))
    }

    fn call_batch<'a>(
        &'a self,
        items: &'a [BatchItem<'a>],
    ) -> BoxFuture<'a, Vec<Result<Instant, CallError>>> {
        Box::pin(McpSession::call_batch(self, items))
    }

    fn request<'a>(
        &'a self,
        req: &'a PreparedRequest,
    ) -> BoxFuture<'a, Result<ResultProbe, CallError>> {
        Box::pin(McpSession::request(self, req))
    }

    fn counters(&self) -> Option<Arc<SessionCounters>> {
        Some(McpSession::counters(self))
    }

    fn is_closed(&self) -> bool {
        McpSession::is_closed(self)
    }
}

/// An open session plus whatever must live as long as it (a child process,
/// an in-process server task).
pub struct Connected {
    pub session: Arc<dyn Session>,
    /// The server process, when it is a separate one.
    pub pid: Option<u32>,
    pub server_name: String,
    /// The era the session speaks.
    pub era: Era,
    pub keep_alive: Box<dyn std::any::Any + Send + Sync>,
}

pub trait Connector: Send + Sync {
    fn connect(&self, session: u32) -> BoxFuture<'_, Result<Connected, TargetError>>;

    /// Opens a session to target `target` of a failover list
    /// (`failover::Targets`); a connector of one target opens its own.
    fn connect_to(
        &self,
        _target: usize,
        session: u32,
    ) -> BoxFuture<'_, Result<Connected, TargetError>> {
        self.connect(session)
    }

    /// Sessions this target may have opening at once while a run connects.
    fn connect_parallelism(&self) -> usize {
        CONNECT_PARALLELISM
    }
}

/// Sessions opened at once by default: a child process each (stdio), so
/// as many interpreters starting together as this, or HTTP requests.
pub const CONNECT_PARALLELISM: usize = 32;

/// Sessions opened at once over a raw socket (`tcp://`): a socket and one
/// `initialize` round trip each, so the bound only has to keep the
/// handshakes in flight within a server's accept queue: 128 is tokio's
/// (mio's) `listen` backlog, `mcptop serve`'s among them. Past it a busy
/// server's queue overflows, the kernel drops the SYN and retries it a
/// second later (measured with 256: `TcpExtListenOverflows`, connects of
/// 1.0-2.3 s). On a busy machine each wake-up of mcptop or the server
/// serves a batch of sessions, not a few.
pub const SOCKET_CONNECT_PARALLELISM: usize = 128;
// More than the default, and within a listen queue of 128.
const _: () = assert!(SOCKET_CONNECT_PARALLELISM > CONNECT_PARALLELISM);
const _: () = assert!(SOCKET_CONNECT_PARALLELISM <= 128);

/// How long opening a TCP connection may take where no handshake timeout
/// is at hand (HTTP connections, opened as requests need them).
pub const CONNECT_TIMEOUT: Duration = Duration::from_secs(10);

/// Opens a TCP connection within `timeout`. A server whose accept queue is
/// full drops the handshake and lets the kernel retry for minutes: this
/// says so after `timeout` instead.
pub async fn connect_tcp(
    authority: &str,
    timeout: Duration,
) -> std::io::Result<tokio::net::TcpStream> {
    match tokio::time::timeout(timeout, tokio::net::TcpStream::connect(authority)).await {
        Ok(Ok(stream)) => Ok(stream),
        Ok(Err(e)) => Err(std::io::Error::new(e.kind(), limits::describe_io_error(&e))),
        Err(_) => Err(std::io::Error::new(
            std::io::ErrorKind::TimedOut,
            format!(
                "connect timed out after {}s (the server does not accept connections: \
                 down, firewalled, or its accept queue is full)",
                timeout.as_secs_f64()
            ),
        )),
    }
}

/// Settings every connector needs.
#[derive(Debug, Clone)]
pub struct ConnectOptions {
    /// An era to force, or `auto`.
    pub protocol: ProtocolChoice,
    /// Bounds opening the connection (TCP connect for `tcp://` and `ws://`)
    /// and, separately, the MCP handshake.
    pub handshake_timeout: Duration,
    /// HTTP connections per session, opened as needed.
    pub http_connections: u32,
    /// Streamable HTTP sessions: also listen on the GET stream.
    pub server_stream: bool,
    /// TLS, headers, auth and phase timings, shared by every session.
    pub deployed: Arc<deployed::Deployed>,
}

impl ConnectOptions {
    /// The era a line session opens with: the forced one (the stateless era
    /// by `server/discover`, the others by `initialize`), or for `auto` the
    /// newest with an `initialize` handshake.
    pub fn offered(&self) -> Era {
        self.protocol.offered()
    }
}

impl Connected {
    /// Wraps a line-stream session for the engine.
    pub fn from_client(
        client: McpSession,
        pid: Option<u32>,
        keep_alive: Box<dyn std::any::Any + Send + Sync>,
    ) -> Connected {
        Connected {
            server_name: client.server.name.clone(),
            era: client.server.era,
            session: Arc::new(client),
            pid,
            keep_alive,
        }
    }
}

/// Stops a bridge task (and so closes its connection) with its session.
pub struct BridgeTask(pub tokio::task::JoinHandle<()>);

impl Drop for BridgeTask {
    fn drop(&mut self) {
        self.0.abort();
    }
}

/// Opens an MCP session through a bridge (WebSocket, legacy HTTP+SSE): the
/// client speaks lines on `client_io`, and `bridge` moves them to and from
/// the network for as long as the session lives.
pub async fn connect_bridged(
    client_io: tokio::io::DuplexStream,
    bridge: BridgeTask,
    offered: Era,
    options: &ConnectOptions,
    session: u32,
    context: &str,
) -> Result<Connected, TargetError> {
    let lines = tokio::io::split(client_io);
    let keep_alive = Box::new(bridge);
    connect_lines(lines, offered, options, session, context, None, keep_alive).await
}

/// Opens an MCP session on a line stream (a socket, a pipe or a bridge's
/// end) offering `offered`; a failed handshake is reported for `session` as
/// `context: why`.
pub async fn connect_lines<R, W>(
    (reader, writer): (R, W),
    offered: Era,
    options: &ConnectOptions,
    session: u32,
    context: &str,
    pid: Option<u32>,
    keep_alive: Box<dyn std::any::Any + Send + Sync>,
) -> Result<Connected, TargetError>
where
    R: tokio::io::AsyncRead + Unpin + Send + 'static,
    W: tokio::io::AsyncWrite + Unpin + Send + 'static,
{
    let client = McpSession::connect(reader, writer, offered, options.handshake_timeout)
        .await
        .map_err(|e| setup_failed(session, context)(e.to_string()))?;
    Ok(Connected::from_client(client, pid, keep_alive))
}

/// Reports that setting up `session` failed, as `context: why`.
pub fn setup_failed(session: u32, context: &str) -> impl Fn(String) -> TargetError + '_ {
    move |why| TargetError::Handshake {
        session,
        reason: format!("{context}: {why}"),
    }
}

/// Builds the connector for a spec. `events` receives target exits.
pub fn connector(
    spec: &TargetSpec,
    options: ConnectOptions,
    events: mpsc::UnboundedSender<TargetEvent>,
) -> Box<dyn Connector> {
    connector_with_runtime(spec, options, events, None)
}

/// `connector`, with the runtime settings stdio children start with (their
/// GC report, what a profiler needs: `crate::runtime`).
pub fn connector_with_runtime(
    spec: &TargetSpec,
    options: ConnectOptions,
    events: mpsc::UnboundedSender<TargetEvent>,
    runtime: Option<crate::runtime::ChildRuntime>,
) -> Box<dyn Connector> {
    match spec {
        TargetSpec::Builtin => Box::new(builtin::BuiltinConnector { options }),
        TargetSpec::Stdio { program, args } => Box::new(stdio::StdioConnector {
            program: program.clone(),
            args: args.clone(),
            options,
            events,
            runtime,
        }),
        TargetSpec::Http(endpoint) => Box::new(http::HttpConnector {
            endpoint: endpoint.clone(),
            options,
        }),
        TargetSpec::Tcp(endpoint) => Box::new(tcp::TcpConnector {
            endpoint: endpoint.clone(),
            options,
        }),
        TargetSpec::Ws(endpoint) => Box::new(ws::WsConnector {
            endpoint: endpoint.clone(),
            options,
        }),
        TargetSpec::LegacySse(endpoint) => Box::new(legacy_sse::LegacySseConnector {
            endpoint: endpoint.clone(),
            options,
        }),
    }
}
