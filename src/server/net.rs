//! `mcptop serve` over the network: Streamable HTTP (rmcp's own service on
//! hyper), raw TCP (newline-delimited JSON-RPC) and WebSocket (subprotocol
//! `mcp`). Each prints `listening on URL` on stdout once it accepts, so a
//! caller that asked for port 0 learns the port.
//!
//! Bounds shared by the three: a loopback address unless told otherwise
//! (with a warning on stderr for any other), at most `max_connections`
//! connections at once (past that a new one is answered "busy" and closed
//! at once, so clients fail fast instead of hanging in the listen queue),
//! and the header timeout on whatever must come first (an HTTP request
//! head, the WebSocket upgrade, a TCP client's first JSON-RPC byte).
//! HTTP and WebSocket check Origin and Host (`access`); TCP refuses a peer
//! whose first bytes are not JSON-RPC (a browser's cross-protocol POST).
//! Nagle is off on every accepted socket.

use super::access::{AccessPolicy, Refusal};
use super::batch::BatchingTransport;
use super::event_store::MemoryEventStore;
use super::http_conn::{self, HttpShared, Timeouts};
use super::https;
use super::BuiltinServer;
use crate::protocol::websocket as ws;
use rmcp::transport::streamable_http_server::session::local::LocalSessionManager;
use rmcp::transport::streamable_http_server::{StreamableHttpServerConfig, StreamableHttpService};
use std::io::Write;
use std::net::{IpAddr, SocketAddr};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::Duration;
use tokio::io::{AsyncRead, AsyncReadExt};
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::{OwnedSemaphorePermit, Semaphore};
use tokio_tungstenite::tungstenite::handshake::server::{ErrorResponse, Request, Response};
use tokio_tungstenite::tungstenite::http::{HeaderValue, StatusCode};

/// Largest POST body the HTTP server reads.
pub const MAX_REQUEST_BYTES: usize = 4 * 1024 * 1024;
/// Default ports when only a host, or nothing, is given.
pub const DEFAULT_HTTP_PORT: u16 = 3001;
pub const DEFAULT_TCP_PORT: u16 = 3002;
pub const DEFAULT_WS_PORT: u16 = 3003;
pub const DEFAULT_HTTPS_PORT: u16 = 3443;
/// Leading whitespace a TCP client may send before its first message.
const MAX_LEADING_WHITESPACE: usize = 1024;

/// Which transport, on which address.
#[derive(Debug, Clone)]
pub enum Listen {
    Http {
        addr: String,
        /// Plain JSON replies instead of event streams where possible.
        json_response: bool,
        /// No sessions: every request stands alone.
        stateless: bool,
    },
    Tcp {
        addr: String,
    },
    Ws {
        addr: String,
    },
}

/// What every transport is bounded by.
#[derive(Debug, Clone)]
pub struct ServeOptions {
    pub access: AccessPolicy,
    /// The first thing a client must send (HTTP head, WebSocket upgrade,
    /// TCP's first byte), and an HTTP request body, must arrive within this.
    pub header_timeout: Duration,
    /// HTTP: how long a kept-alive connection may wait for its next request.
    pub idle_timeout: Duration,
    /// Connections open at once, per listener.
    pub max_connections: usize,
    /// HTTPS / WSS: the TLS server configuration (`server::https`).
    pub tls: Option<Arc<rustls::ServerConfig>>,
    /// HTTP: keep every stream's events for `Last-Event-ID` replays
    /// (`event_store`); off, only rmcp's own 16-event cache replays.
    pub event_store: bool,
}

impl Default for ServeOptions {
    fn default() -> Self {
        ServeOptions {
            access: AccessPolicy::default(),
            header_timeout: Duration::from_secs(10),
            idle_timeout: Duration::from_secs(60),
            max_connections: 4096,
            tls: None,
            event_store: true,
        }
    }
}

/// The address to bind for what the user gave: nothing (`""`) or a port
/// (`3001`, `:3001`) means 127.0.0.1, a host without a port gets
/// `default_port`; `HOST:PORT` and `[V6]:PORT` are kept.
pub fn listen_address(given: &str, default_port: u16) -> String {
    let given = given.trim();
    let port_only = given.strip_prefix(':').unwrap_or(given);
    if given.is_empty() {
        return format!("127.0.0.1:{default_port}");
    }
    if port_only.parse::<u16>().is_ok() {
        return format!("127.0.0.1:{port_only}");
    }
    if let Ok(ip) = given.parse::<IpAddr>() {
        return SocketAddr::new(ip, default_port).to_string();
    }
    if given.starts_with('[') && given.ends_with(']') {
        return format!("{given}:{default_port}");
    }
    match given.rsplit_once(':') {
        Some((_, port)) if port.parse::<u16>().is_ok() => given.to_string(),
        _ => format!("{given}:{default_port}"),
    }
}

/// The warning a bind on `local` deserves: none on loopback.
pub fn exposure_warning(local: SocketAddr) -> Option<String> {
    if local.ip().to_canonical().is_loopback() {
        return None;
    }
    Some(format!(
        "warning: mcptop serve binds {local}, which is not a loopback address: \
         other machines can reach it, and it has no authentication. Bind 127.0.0.1 \
         (the default) unless that is what you want."
    ))
}

pub async fn serve(listen: Listen, options: ServeOptions) -> anyhow::Result<()> {
    raise_fd_limit(options.max_connections);
    match listen {
        Listen::Http {
            addr,
            json_response,
            stateless,
        } => serve_http(&addr, json_response, stateless, options).await,
        Listen::Tcp { addr } => serve_tcp(&addr, options).await,
        Listen::Ws { addr } => serve_ws(&addr, options).await,
    }
}

/// Accepted connections, at most `max` at once.
struct Listener {
    socket: TcpListener,
    slots: Arc<Semaphore>,
    /// Whether "full" has been said since the last connection was accepted.
    full_reported: AtomicBool,
    max: usize,
    /// What a connection refused for being one too many is told.
    busy: &'static [u8],
}

const HTTP_BUSY: &[u8] =
    b"HTTP/1.1 503 Service Unavailable\r\nContent-Length: 0\r\nConnection: close\r\n\r\n";
const TCP_BUSY: &[u8] = b"{\"jsonrpc\":\"2.0\",\"id\":null,\"error\":{\"code\":-32000,\"message\":\"server busy: too many connections\"}}\n";

/// Connections the kernel may queue before `accept` takes them. tokio (mio)
/// listens with std's 128: 10,000 sessions connecting at once overflowed it,
/// and every dropped SYN cost its client a one-second retransmit. The kernel
/// caps this at `net.core.somaxconn` (4,096 by default).
const LISTEN_BACKLOG: u32 = 4096;

/// Binds the first of `wanted` that accepts, with [`LISTEN_BACKLOG`].
fn listen_on(wanted: &[SocketAddr]) -> std::io::Result<TcpListener> {
    let mut last = std::io::Error::new(std::io::ErrorKind::InvalidInput, "no address to bind");
    for addr in wanted {
        let socket = match addr {
            SocketAddr::V4(_) => tokio::net::TcpSocket::new_v4(),
            SocketAddr::V6(_) => tokio::net::TcpSocket::new_v6(),
        };
        let bound = socket.and_then(|s| {
            s.set_reuseaddr(true)?;
            s.bind(*addr)?;
            s.listen(LISTEN_BACKLOG)
        });
        match bound {
            Ok(listener) => return Ok(listener),
            Err(e) => last = e,
        }
    }
    Err(last)
}

impl Listener {
    async fn bind(
        addr: &str,
        scheme: &str,
        path: &str,
        options: &ServeOptions,
    ) -> anyhow::Result<Listener> {
        let cannot = |e: std::io::Error| anyhow::anyhow!("cannot listen on {addr}: {e}");
        let wanted: Vec<SocketAddr> = tokio::net::lookup_host(addr)
            .await
            .map_err(cannot)?
            .collect();
        // Said before binding, so it is said even when the bind then fails.
        if let Some(warning) = wanted.iter().find_map(|a| exposure_warning(*a)) {
            eprintln!("{warning}");
        }
        let socket = listen_on(&wanted).map_err(cannot)?;
        let local: SocketAddr = socket.local_addr()?;
        let mut out = std::io::stdout().lock();
        writeln!(out, "listening on {scheme}://{local}{path}")?;
        out.flush()?;
        let max = options.max_connections.max(1);
        Ok(Listener {
            socket,
            slots: Arc::new(Semaphore::new(max)),
            full_reported: AtomicBool::new(false),
            max,
            busy: if scheme == "tcp" { TCP_BUSY } else { HTTP_BUSY },
        })
    }

    /// The next connection with its slot, and the address it reached.
    async fn accept(&self) -> (TcpStream, IpAddr, OwnedSemaphorePermit) {
        loop {
            let stream = match self.socket.accept().await {
                Ok((stream, _)) => stream,
                // Out of descriptors and the like: back off instead of spinning.
                Err(_) => {
                    tokio::time::sleep(Duration::from_millis(10)).await;
                    continue;
                }
            };
            let Ok(permit) = self.slots.clone().try_acquire_owned() else {
                self.refuse(&stream);
                continue;
            };
            self.full_reported.store(false, Ordering::Relaxed);
            let _ = stream.set_nodelay(true);
            let local = stream
                .local_addr()
                .map_or(IpAddr::from([127, 0, 0, 1]), |a| a.ip());
            return (stream, local, permit);
        }
    }

    fn refuse(&self, stream: &TcpStream) {
        // A fresh socket's send buffer is empty: this never blocks.
        let _ = stream.try_write(self.busy);
        if !self.full_reported.swap(true, Ordering::Relaxed) {
            eprintln!(
                "mcptop serve: {} connections open (--max-connections): refusing new ones",
                self.max
            );
        }
    }
}

/// Lets the process keep `connections` sockets open if the hard limit
/// allows, and says so when it does not.
fn raise_fd_limit(connections: usize) {
    #[cfg(unix)]
    {
        // stdio, the listener, the runtime's own descriptors.
        const RESERVE: libc::rlim_t = 64;
        let wanted = (connections as libc::rlim_t).saturating_add(RESERVE);
        let mut limit = libc::rlimit {
            rlim_cur: 0,
            rlim_max: 0,
        };
        // SAFETY: getrlimit and setrlimit only read and write the struct given.
        if unsafe { libc::getrlimit(libc::RLIMIT_NOFILE, &mut limit) } != 0 {
            return;
        }
        if limit.rlim_cur < wanted {
            let raised = libc::rlimit {
                rlim_cur: wanted.min(limit.rlim_max),
                rlim_max: limit.rlim_max,
            };
            // SAFETY: as above.
            if unsafe { libc::setrlimit(libc::RLIMIT_NOFILE, &raised) } == 0 {
                limit = raised;
            }
        }
        if limit.rlim_cur < wanted {
            eprintln!(
                "warning: the open-file limit ({}) is below --max-connections {connections}: \
                 connections past it wait in the listen queue",
                limit.rlim_cur
            );
        }
    }
}

async fn serve_http(
    addr: &str,
    json_response: bool,
    stateless: bool,
    options: ServeOptions,
) -> anyhow::Result<()> {
    let config = StreamableHttpServerConfig::default()
        .with_legacy_session_mode(!stateless)
        .with_json_response(json_response)
        .with_max_request_body_bytes(MAX_REQUEST_BYTES)
        // `access` has checked Host and Origin before rmcp sees a request,
        // with the same rules for WebSocket; rmcp's own host list would also
        // refuse the address a non-loopback bind is reached by.
        .disable_allowed_hosts()
        .disable_allowed_origins();
    // Without sessions no stream can be resumed: `events` says so.
    let refused = match (stateless, json_response) {
        (true, _) => Some("--stateless"),
        (false, true) => Some("--json-response"),
        (false, false) => None,
    };
    // Replays for `Last-Event-ID` come from this store: rmcp's own cache
    // keeps 16 events per stream (`event_store`). `--no-event-store` leaves
    // rmcp's cache alone, to measure what the store costs.
    let sessions = if options.event_store {
        LocalSessionManager::default().with_event_store(Arc::new(MemoryEventStore::default()))
    } else {
        LocalSessionManager::default()
    };
    let service = StreamableHttpService::new(
        move || {
            Ok(refused.map_or_else(BuiltinServer::new, |flag| {
                BuiltinServer::without_resumable_streams(flag)
            }))
        },
        Arc::new(sessions),
        config,
    );
    let shared = HttpShared {
        service,
        access: Arc::new(options.access.clone()),
        timeouts: Timeouts {
            header: options.header_timeout,
            idle: options.idle_timeout,
        },
    };
    let scheme = if options.tls.is_some() {
        "https"
    } else {
        "http"
    };
    let listener = Listener::bind(addr, scheme, "/mcp", &options).await?;
    let tls = options.tls.clone().map(tokio_rustls::TlsAcceptor::from);
    loop {
        let (stream, local, permit) = listener.accept().await;
        let shared = shared.clone();
        let tls = tls.clone();
        let handshake_within = options.header_timeout;
        tokio::spawn(async move {
            match tls {
                Some(tls) => {
                    if let Some(stream) = https::accept(&tls, stream, handshake_within).await {
                        http_conn::serve_connection(stream, local, shared).await;
                    }
                }
                None => http_conn::serve_connection(stream, local, shared).await,
            }
            drop(permit);
        });
    }
}

async fn serve_tcp(addr: &str, options: ServeOptions) -> anyhow::Result<()> {
    let listener = Listener::bind(addr, "tcp", "", &options).await?;
    let first_byte_within = options.header_timeout;
    loop {
        let (stream, _, permit) = listener.accept().await;
        tokio::spawn(async move {
            let (mut reader, writer) = stream.into_split();
            let first = tokio::time::timeout(first_byte_within, first_message_byte(&mut reader));
            match first.await {
                Ok(Ok(byte)) if byte == b'{' || byte == b'[' => {
                    let reader = std::io::Cursor::new([byte]).chain(reader);
                    let _ = super::serve_lines(BatchingTransport::new(reader, writer).announcing())
                        .await;
                }
                Ok(Ok(_)) => {
                    let _ = writer.try_write(NOT_JSON_RPC);
                }
                _ => {}
            }
            drop(permit);
        });
    }
}

const NOT_JSON_RPC: &[u8] = b"{\"jsonrpc\":\"2.0\",\"id\":null,\"error\":{\"code\":-32700,\"message\":\"not JSON-RPC: this port speaks newline-delimited JSON-RPC\"}}\n";

/// The first byte that is not whitespace (the whitespace is dropped: it is
/// nothing between JSON-RPC lines).
async fn first_message_byte<R: AsyncRead + Unpin>(reader: &mut R) -> std::io::Result<u8> {
    for _ in 0..MAX_LEADING_WHITESPACE {
        let byte = reader.read_u8().await?;
        if !byte.is_ascii_whitespace() {
            return Ok(byte);
        }
    }
    Err(std::io::Error::other("nothing but whitespace"))
}

/// The WebSocket upgrade: Origin and Host first, then the `mcp` subprotocol.
#[allow(clippy::result_large_err)] // the signature tungstenite asks for
fn accept_upgrade(
    access: &AccessPolicy,
    local: IpAddr,
    request: &Request,
    mut response: Response,
) -> Result<Response, ErrorResponse> {
    if let Err(Refusal { status, reason }) = access.check(request.headers(), local) {
        let mut refusal = ErrorResponse::new(Some(format!("Forbidden: {reason}")));
        *refusal.status_mut() = status;
        return Err(refusal);
    }
    let offered = request
        .headers()
        .get_all("Sec-WebSocket-Protocol")
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(','))
        .any(|p| p.trim() == ws::SUBPROTOCOL);
    if !offered {
        let mut refusal =
            ErrorResponse::new(Some(format!("offer the `{}` subprotocol", ws::SUBPROTOCOL)));
        *refusal.status_mut() = StatusCode::BAD_REQUEST;
        return Err(refusal);
    }
    response.headers_mut().insert(
        "Sec-WebSocket-Protocol",
        HeaderValue::from_static(ws::SUBPROTOCOL),
    );
    Ok(response)
}

async fn serve_ws(addr: &str, options: ServeOptions) -> anyhow::Result<()> {
    let scheme = if options.tls.is_some() { "wss" } else { "ws" };
    let listener = Listener::bind(addr, scheme, "/", &options).await?;
    let access = Arc::new(options.access.clone());
    let tls = options.tls.clone().map(tokio_rustls::TlsAcceptor::from);
    loop {
        let (stream, local, permit) = listener.accept().await;
        let access = access.clone();
        let upgrade_within = options.header_timeout;
        let tls = tls.clone();
        tokio::spawn(async move {
            match tls {
                Some(tls) => {
                    if let Some(stream) = https::accept(&tls, stream, upgrade_within).await {
                        serve_ws_connection(stream, &access, local, upgrade_within).await;
                    }
                }
                None => serve_ws_connection(stream, &access, local, upgrade_within).await,
            }
            drop(permit);
        });
    }
}

/// Upgrades one connection (plain or TLS) and serves MCP on it.
async fn serve_ws_connection<S>(
    stream: S,
    access: &AccessPolicy,
    local: IpAddr,
    upgrade_within: Duration,
) where
    S: tokio::io::AsyncRead + tokio::io::AsyncWrite + Unpin + Send + 'static,
{
    #[allow(clippy::result_large_err)] // the signature tungstenite asks for
    let callback =
        |request: &Request, response: Response| accept_upgrade(access, local, request, response);
    let upgrade =
        tokio_tungstenite::accept_hdr_async_with_config(stream, callback, Some(ws::config()));
    let Ok(Ok(socket)) = tokio::time::timeout(upgrade_within, upgrade).await else {
        return;
    };
    let (server_io, bridge_io) = tokio::io::duplex(256 * 1024);
    let bridge = tokio::spawn(ws::bridge(socket, bridge_io));
    let (reader, writer) = tokio::io::split(server_io);
    let transport = BatchingTransport::new(reader, writer).announcing();
    let _ = super::serve_lines(transport).await;
    bridge.abort();
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_address_defaults_to_loopback_and_the_transport_port() {
        assert_eq!(listen_address("", 3001), "127.0.0.1:3001");
        assert_eq!(listen_address("4000", 3001), "127.0.0.1:4000");
        assert_eq!(listen_address(":4000", 3001), "127.0.0.1:4000");
        assert_eq!(listen_address("0", 3001), "127.0.0.1:0");
        assert_eq!(listen_address("localhost", 3002), "localhost:3002");
        assert_eq!(listen_address("localhost:9", 3002), "localhost:9");
        assert_eq!(listen_address("0.0.0.0", 3003), "0.0.0.0:3003");
        assert_eq!(listen_address("0.0.0.0:80", 3003), "0.0.0.0:80");
        assert_eq!(listen_address("::1", 3003), "[::1]:3003");
        assert_eq!(listen_address("[::1]", 3003), "[::1]:3003");
        assert_eq!(listen_address("[::1]:7", 3003), "[::1]:7");
    }

    #[test]
    fn a_non_loopback_bind_is_warned_about_a_loopback_one_is_not() {
        for quiet in [
            "127.0.0.1:3001",
            "127.0.0.2:1",
            "[::1]:3001",
            "[::ffff:127.0.0.1]:1",
        ] {
            let addr: SocketAddr = quiet.parse().expect("addr");
            assert_eq!(exposure_warning(addr), None, "{quiet}");
        }
        for loud in ["0.0.0.0:3001", "[::]:3001", "192.168.1.5:3001"] {
            let addr: SocketAddr = loud.parse().expect("addr");
            let warning = exposure_warning(addr).unwrap_or_default();
            assert!(
                warning.starts_with("warning:")
                    && warning.contains(loud)
                    && warning.contains("not a loopback"),
                "{loud}: {warning:?}"
            );
        }
    }

    #[tokio::test]
    async fn leading_whitespace_is_skipped_and_bounded() {
        let mut ok: &[u8] = b"\r\n  {\"jsonrpc\"";
        assert_eq!(first_message_byte(&mut ok).await.expect("byte"), b'{');
        let mut http: &[u8] = b"POST / HTTP/1.1\r\n";
        assert_eq!(first_message_byte(&mut http).await.expect("byte"), b'P');
        let blank = vec![b' '; MAX_LEADING_WHITESPACE + 1];
        assert!(first_message_byte(&mut blank.as_slice()).await.is_err());
    }

    /// A burst of connects waits in the kernel's queue while nothing accepts:
    /// with std's backlog of 128 the ones past it would time out (their SYN
    /// dropped, retried a second later).
    #[tokio::test]
    async fn a_burst_of_connects_queues_past_stds_backlog_of_128() {
        let listener = listen_on(&["127.0.0.1:0".parse().expect("addr")]).expect("listen");
        let addr = listener.local_addr().expect("addr");
        let connects = (0..600)
            .map(|_| tokio::time::timeout(Duration::from_millis(700), TcpStream::connect(addr)));
        let done = futures_util::future::join_all(connects).await;
        let connected = done.iter().filter(|r| matches!(r, Ok(Ok(_)))).count();
        assert_eq!(
            connected, 600,
            "connects completed while nothing accepted (net.core.somaxconn caps the backlog)"
        );
    }
}
