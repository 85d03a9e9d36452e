//! Targets: where requests go. A `TargetSpec` is parsed from the command line
//! or a workload; a `Connector` opens sessions to it. The engine only sees
//! `Session`s, so a scripted test session and a real child process are driven
//! by the same scheduler.

pub mod builtin;
pub mod endpoint;
pub mod http;
pub mod legacy_sse;
pub mod stdio;
pub mod tcp;
pub mod ws;

use crate::client::wire::PreparedRequest;
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
            TargetSpec::Http(e) => format!("http://{}{}", e.authority(), e.path),
            TargetSpec::Tcp(e) => format!("tcp://{}", e.authority()),
            TargetSpec::Ws(e) => format!("ws://{}{}", e.authority(), e.path),
            TargetSpec::LegacySse(e) => format!("sse://{}{}", e.authority(), e.path),
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

/// Settings every connector needs.
#[derive(Debug, Clone)]
pub struct ConnectOptions {
    /// A version from `KNOWN_PROTOCOLS`, or `auto`.
    pub protocol: String,
    pub handshake_timeout: Duration,
    /// HTTP connections per session, opened as needed.
    pub http_connections: u32,
    /// Streamable HTTP sessions: also listen on the GET stream.
    pub server_stream: bool,
}

impl ConnectOptions {
    /// The version to offer in `initialize`: the forced one, or the newest
    /// with a handshake for `auto` (and for the stateless era, whose servers
    /// answer `initialize` with a handshake era).
    pub fn initialize_version(&self) -> &str {
        if self.protocol == "auto" || self.protocol == crate::workload::STATELESS_PROTOCOL {
            crate::workload::NEWEST_INITIALIZE_PROTOCOL
        } else {
            &self.protocol
        }
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
