//! Where a workload's requests go, as the user names it (`builtin`,
//! `stdio:COMMAND ARGS...`, `http(s)://`, `tcp://`, `ws(s)://`, `sse://`): parsed
//! and described here, so a workload file's `target` is checked with the
//! rest of the file. The transports open sessions to it.

pub use super::endpoint::Endpoint;

#[derive(Debug, Clone, PartialEq)]
pub enum TargetSpec {
    /// The embedded rmcp server, in-process.
    Builtin,
    /// One child process per session, speaking MCP on stdin/stdout.
    Stdio { program: String, args: Vec<String> },
    /// Streamable HTTP: `http://host:port/path` (`https://`: over TLS).
    Http(Endpoint),
    /// Newline-delimited JSON-RPC over one TCP connection per session.
    Tcp(Endpoint),
    /// WebSocket (subprotocol `mcp`), one text message per JSON-RPC message
    /// (`wss://`: over TLS).
    Ws(Endpoint),
    /// The 2024-11-05 HTTP+SSE transport: GET an event stream, POST to the
    /// endpoint it names.
    LegacySse(Endpoint),
}

impl TargetSpec {
    pub fn parse(text: &str) -> Result<TargetSpec, TargetSpecError> {
        let text = text.trim();
        if text == "builtin" {
            return Ok(TargetSpec::Builtin);
        }
        if let Some(cmd) = text.strip_prefix("stdio:") {
            let words = shell_words::split(cmd).map_err(|e| {
                TargetSpecError::BadCommand(text.into(), format!("cannot split: {e}"))
            })?;
            let mut words = words.into_iter();
            let program = words.next().ok_or_else(|| {
                TargetSpecError::BadCommand(text.into(), "no command given".into())
            })?;
            return Ok(TargetSpec::Stdio {
                program,
                args: words.collect(),
            });
        }
        let url = |rest: &str, default_port: u16| {
            Endpoint::parse(rest, default_port)
                .map_err(|e| TargetSpecError::BadCommand(text.into(), e))
        };
        if let Some(rest) = text.strip_prefix("http://") {
            return Ok(TargetSpec::Http(url(rest, 80)?));
        }
        if let Some(rest) = text.strip_prefix("https://") {
            return Ok(TargetSpec::Http(Endpoint {
                tls: true,
                ..url(rest, 443)?
            }));
        }
        if let Some(rest) = text.strip_prefix("wss://") {
            return Ok(TargetSpec::Ws(Endpoint {
                tls: true,
                ..url(rest, 443)?
            }));
        }
        if let Some(rest) = text.strip_prefix("tcp://") {
            let e = url(rest, 0)?;
            if e.port == 0 || e.path != "/" {
                return Err(TargetSpecError::BadCommand(
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
        Err(TargetSpecError::Unknown(text.into()))
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

#[derive(Debug, thiserror::Error)]
pub enum TargetSpecError {
    #[error("unknown target {0:?}: expected `builtin`, `stdio:COMMAND ARGS...`, `http(s)://HOST:PORT/PATH`, `tcp://HOST:PORT`, `ws(s)://HOST:PORT/PATH` or `sse://HOST:PORT/PATH` (2024-11-05 HTTP+SSE)")]
    Unknown(String),
    #[error("target {0:?}: {1}")]
    BadCommand(String, String),
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
            "https://127.0.0.1:8443/mcp",
            "wss://localhost:443/",
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
        let TargetSpec::Http(e) = TargetSpec::parse("https://x/mcp").expect("tls") else {
            panic!("not http");
        };
        assert_eq!(
            (e.tls, e.port, e.url("http")),
            (true, 443, "https://x:443/mcp".into())
        );
        let TargetSpec::Ws(e) = TargetSpec::parse("wss://x:9/").expect("tls") else {
            panic!("not ws");
        };
        assert!(e.tls);
    }
}
