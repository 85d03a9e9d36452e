//! Transports: how requests reach a target. A `TargetSpec` is parsed from the command line
//! or a workload; a `Connector` opens sessions to it. The engine only sees
//! `Session`s, so a scripted test session and a real child process are driven
//! by the same scheduler.

pub mod builtin;
pub mod endpoint;
pub mod group;
pub mod http;
pub mod legacy_sse;
pub mod limits;
pub mod stdio;
pub mod tcp;
pub mod ws;

use crate::client::wire::{PreparedRequest, ResultProbe};
use crate::client::{BatchItem, CallError, McpSession, SessionCounters};
use endpoint::Endpoint;
use futures_util::future::BoxFuture;
use std::sync::Arc;
use std::time::Duration;
use tokio::sync::mpsc;
use tokio::time::Instant;

#[derive(Debug, Clone, PartialEq)]
pub enum TargetSpec {
    /// The embedded rmcp server, in-process.
    Builtin,
    /// One child process per session, speaking MCP on stdin/stdout.
    Stdio { program: String, args: Vec<String> },
    /// Streamable HTTP: `http://host:port/path`.
    Http(Endpoint),
    /// Newline-delimited JSON-RPC over one TCP connection per session.
    Tcp(Endpoint),
    /// WebSocket (subprotocol `mcp`), one text message per JSON-RPC message.
    Ws(Endpoint),
    /// The 2024-11-05 HTTP+SSE transport: GET an event stream, POST to the
    /// endpoint it names.
    LegacySse(Endpoint),
}

#[derive(Debug, thiserror::Error)]
pub enum TargetError {
    #[error("unknown target {0:?}: expected `builtin`, `stdio:COMMAND ARGS...`, `http://HOST:PORT/PATH`, `tcp://HOST:PORT`, `ws://HOST:PORT/PATH` or `sse://HOST:PORT/PATH` (2024-11-05 HTTP+SSE)")]
    Unknown(String),
    #[error("target {0:?}: {1}")]
    BadCommand(String, String),
    #[error("cannot start `{program}`: {reason}")]
    Spawn { program: String, reason: String },
    #[error("session {session}: {reason}")]
    Handshake { session: u32, reason: String },
}

impl TargetSpec {
    pub fn parse(text: &str) -> Result<TargetSpec, TargetError> {
        let text = text.trim();
        if text == "builtin" {
            return Ok(TargetSpec::Builtin);
        }
        if let Some(cmd) = text.strip_prefix("stdio:") {
            let words = shell_words::split(cmd)
                .map_err(|e| TargetError::BadCommand(text.into(), format!("cannot split: {e}")))?;
            let mut words = words.into_iter();
            let program = words
                .next()
                .ok_or_else(|| TargetError::BadCommand(text.into(), "no command given".into()))?;
            return Ok(TargetSpec::Stdio {
                program,
                args: words.collect(),
            });
        }
        let url = |rest: &str, default_port: u16| {
            Endpoint::parse(rest, default_port).map_err(|e| TargetError::BadCommand(text.into(), e))
        };
        if let Some(rest) = text.strip_prefix("http://") {
            return Ok(TargetSpec::Http(url(rest, 80)?));
        }
        if let Some(rest) = text.strip_prefix("tcp://") {
            let e = url(rest, 0)?;
            if e.port == 0 || e.path != "/" {
                return Err(TargetError::BadCommand(
                    text.into(),
                    "expected tcp://HOST:PORT".into(),
                ));
            }
            return Ok(TargetSpec::Tcp(e));
        }
        if let Some(rest) = text.strip_prefix("ws://") {
            return Ok(TargetSpec::Ws(url(rest, 80)?));
        }
        if let Some(rest) = text.strip_prefix("sse://") {
            return Ok(TargetSpec::LegacySse(url(rest, 80)?));
        }
        if text.starts_with("https://") || text.starts_with("wss://") {
            return Err(TargetError::BadCommand(
                text.into(),
                "TLS is not supported; measure on loopback with http:// or ws://".into(),
            ));
        }
        Err(TargetError::Unknown(text.into()))
    }

    pub fn describe(&self) -> String {
        match self {
            TargetSpec::Builtin => "builtin".into(),
            TargetSpec::Stdio { program, args } => {
                let mut words = vec![program.clone()];
                words.extend(args.iter().cloned());
                format!("stdio:{}", shell_words::join(words))
            }
            TargetSpec::Http(e) => e.url("http"),
            TargetSpec::Tcp(e) => format!("tcp://{}", e.authority()),
            TargetSpec::Ws(e) => e.url("ws"),
            TargetSpec::LegacySse(e) => e.url("sse"),
        }
    }
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
    pub protocol_version: String,
    pub keep_alive: Box<dyn std::any::Any + Send + Sync>,
}

pub trait Connector: Send + Sync {
    fn connect(&self, session: u32) -> BoxFuture<'_, Result<Connected, TargetError>>;
}

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
    /// A version from `KNOWN_PROTOCOLS`, or `auto`.
    pub protocol: String,
    /// Bounds opening the connection (TCP connect for `tcp://` and `ws://`)
    /// and, separately, the MCP handshake.
    pub handshake_timeout: Duration,
    /// HTTP connections per session, opened as needed.
    pub http_connections: u32,
    /// Streamable HTTP sessions: also listen on the GET stream.
    pub server_stream: bool,
}

impl ConnectOptions {
    /// The version a session opens with: the forced one (the stateless era
    /// by `server/discover`, the others by `initialize`), or for `auto` the
    /// newest with an `initialize` handshake.
    pub fn offered_version(&self) -> &str {
        if self.protocol == crate::workload::AUTO_PROTOCOL {
            crate::workload::NEWEST_INITIALIZE_PROTOCOL
        } else {
            &self.protocol
        }
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
            protocol_version: client.server.protocol_version.clone(),
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
    offered: &str,
    options: &ConnectOptions,
    session: u32,
    context: &str,
) -> Result<Connected, TargetError> {
    let lines = tokio::io::split(client_io);
    let keep_alive = Box::new(bridge);
    connect_lines(lines, offered, options, session, context, None, keep_alive).await
}

/// The next message the client wrote to a bridge (a line, without its end;
/// blank lines skipped); `None` once the client is gone.
pub async fn next_message<'a, R>(lines: &mut R, buf: &'a mut String) -> Option<&'a str>
where
    R: tokio::io::AsyncBufRead + Unpin,
{
    use tokio::io::AsyncBufReadExt;
    loop {
        buf.clear();
        match lines.read_line(buf).await {
            Ok(0) | Err(_) => return None,
            Ok(_) if buf.trim_end().is_empty() => continue,
            Ok(_) => return Some(buf.trim_end()),
        }
    }
}

/// One message as one line for the client: raw newlines in a JSON message
/// can only be whitespace, so they become spaces.
pub fn message_line(mut message: Vec<u8>) -> Vec<u8> {
    for b in message.iter_mut() {
        if *b == b'\n' || *b == b'\r' {
            *b = b' ';
        }
    }
    message.push(b'\n');
    message
}

/// Opens an MCP session on a line stream (a socket, a pipe or a bridge's
/// end) offering `offered`; a failed handshake is reported for `session` as
/// `context: why`.
pub async fn connect_lines<R, W>(
    (reader, writer): (R, W),
    offered: &str,
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
    match spec {
        TargetSpec::Builtin => Box::new(builtin::BuiltinConnector { options }),
        TargetSpec::Stdio { program, args } => Box::new(stdio::StdioConnector {
            program: program.clone(),
            args: args.clone(),
            options,
            events,
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_targets_like_a_shell() {
        assert_eq!(
            TargetSpec::parse("builtin").expect("ok"),
            TargetSpec::Builtin
        );
        assert_eq!(
            TargetSpec::parse("stdio:node 'my server.js' --flag \"a b\"").expect("ok"),
            TargetSpec::Stdio {
                program: "node".into(),
                args: vec!["my server.js".into(), "--flag".into(), "a b".into()]
            }
        );
        let err = TargetSpec::parse("stdio:").expect_err("empty");
        assert!(err.to_string().contains("no command"), "{err}");
        let err = TargetSpec::parse("stdio:node 'unterminated").expect_err("bad quote");
        assert!(err.to_string().contains("cannot split"), "{err}");
        let err = TargetSpec::parse("gopher://x").expect_err("unknown");
        assert!(err.to_string().contains("expected `builtin`"), "{err}");
    }

    #[test]
    fn describe_round_trips() {
        for text in [
            "stdio:python3 -m 'my mod'",
            "http://127.0.0.1:3001/mcp",
            "tcp://127.0.0.1:9000",
            "ws://localhost:80/",
            "sse://127.0.0.1:8000/sse",
        ] {
            let spec = TargetSpec::parse(text).expect("ok");
            assert_eq!(TargetSpec::parse(&spec.describe()).expect("ok"), spec);
        }
    }

    #[test]
    fn parses_network_targets() {
        let TargetSpec::Http(e) = TargetSpec::parse("http://127.0.0.1:3001/mcp").expect("ok")
        else {
            panic!("not http");
        };
        assert_eq!((e.port, e.path.as_str()), (3001, "/mcp"));
        assert!(matches!(
            TargetSpec::parse("tcp://127.0.0.1:9").expect("ok"),
            TargetSpec::Tcp(_)
        ));
        let err = TargetSpec::parse("tcp://127.0.0.1").expect_err("no port");
        assert!(err.to_string().contains("tcp://HOST:PORT"), "{err}");
        let err = TargetSpec::parse("https://x/mcp").expect_err("tls");
        assert!(err.to_string().contains("TLS"), "{err}");
    }
}
