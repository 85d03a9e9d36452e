//! Targets: where requests go. A `TargetSpec` is parsed from the command line
//! or a workload; a `Connector` opens sessions to it. The engine only sees
//! `Session`s, so a scripted test session and a real child process are driven
//! by the same scheduler.

pub mod builtin;
pub mod stdio;

use crate::client::wire::PreparedRequest;
use crate::client::{CallError, McpSession, SessionCounters};
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
}

#[derive(Debug, thiserror::Error)]
pub enum TargetError {
    #[error("unknown target {0:?}: expected `builtin` or `stdio:COMMAND ARGS...`")]
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
    pub protocol: String,
    pub handshake_timeout: Duration,
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
        let spec = TargetSpec::parse("stdio:python3 -m 'my mod'").expect("ok");
        assert_eq!(TargetSpec::parse(&spec.describe()).expect("ok"), spec);
    }
}
