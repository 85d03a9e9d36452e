//! `mcptop serve` over the network: Streamable HTTP (rmcp's own service on
//! hyper), raw TCP (newline-delimited JSON-RPC) and WebSocket (subprotocol
//! `mcp`). Each prints `listening on URL` on stdout once it accepts, so a
//! caller that asked for port 0 learns the port. Loopback by default; Nagle
//! off on every accepted socket.

use super::batch::BatchingTransport;
use super::http_batch;
use super::BuiltinServer;
use crate::target::ws;
use rmcp::transport::streamable_http_server::session::local::LocalSessionManager;
use rmcp::transport::streamable_http_server::{StreamableHttpServerConfig, StreamableHttpService};
use std::io::Write;
use std::net::SocketAddr;
use std::sync::Arc;
use tokio::net::{TcpListener, TcpStream};
use tokio_tungstenite::tungstenite::handshake::server::{ErrorResponse, Request, Response};
use tokio_tungstenite::tungstenite::http::{HeaderValue, StatusCode};

/// Largest POST body the HTTP server reads.
pub const MAX_REQUEST_BYTES: usize = 4 * 1024 * 1024;

/// Where and how to serve.
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

pub async fn serve(listen: Listen) -> anyhow::Result<()> {
    match listen {
        Listen::Http {
            addr,
            json_response,
            stateless,
        } => serve_http(&addr, json_response, stateless).await,
        Listen::Tcp { addr } => serve_tcp(&addr).await,
        Listen::Ws { addr } => serve_ws(&addr).await,
    }
}

async fn bind(addr: &str, scheme: &str, path: &str) -> anyhow::Result<TcpListener> {
    let listener = TcpListener::bind(addr)
        .await
        .map_err(|e| anyhow::anyhow!("cannot listen on {addr}: {e}"))?;
    let local: SocketAddr = listener.local_addr()?;
    let mut out = std::io::stdout().lock();
    writeln!(out, "listening on {scheme}://{local}{path}")?;
    out.flush()?;
    Ok(listener)
}

async fn accept(listener: &TcpListener) -> Option<TcpStream> {
    loop {
        match listener.accept().await {
            Ok((stream, _)) => {
                let _ = stream.set_nodelay(true);
                return Some(stream);
            }
            // Out of descriptors and the like: back off instead of spinning.
            Err(_) => tokio::time::sleep(std::time::Duration::from_millis(10)).await,
        }
    }
}

async fn serve_http(addr: &str, json_response: bool, stateless: bool) -> anyhow::Result<()> {
    let config = StreamableHttpServerConfig::default()
        .with_legacy_session_mode(!stateless)
        .with_json_response(json_response)
        .with_max_request_body_bytes(MAX_REQUEST_BYTES)
        // Browsers on other sites must not reach a local server (DNS
        // rebinding); pages served from loopback may.
        .with_allowed_origins(["http://localhost:*", "http://127.0.0.1:*", "http://[::1]:*"])
        .enforce_origin_validation();
    let service = StreamableHttpService::new(
        || Ok(BuiltinServer::new()),
        Arc::new(LocalSessionManager::default()),
        config,
    );
    let listener = bind(addr, "http", "/mcp").await?;
    while let Some(stream) = accept(&listener).await {
        let service = service.clone();
        let service = hyper::service::service_fn(move |request| {
            let service = service.clone();
            async move { Ok::<_, std::convert::Infallible>(http_batch::handle(service, request).await) }
        });
        tokio::spawn(async move {
            let _ = hyper::server::conn::http1::Builder::new()
                .keep_alive(true)
                .serve_connection(hyper_util::rt::TokioIo::new(stream), service)
                .await;
        });
    }
    Ok(())
}

async fn serve_tcp(addr: &str) -> anyhow::Result<()> {
    let listener = bind(addr, "tcp", "").await?;
    while let Some(stream) = accept(&listener).await {
        tokio::spawn(async move {
            let (reader, writer) = stream.into_split();
            let transport = BatchingTransport::new(reader, writer).announcing();
            let _ = super::serve_lines(transport).await;
        });
    }
    Ok(())
}

/// Accepts the handshake only when the client offers the `mcp` subprotocol.
#[allow(clippy::result_large_err)] // the signature tungstenite asks for
fn choose_subprotocol(
    request: &Request,
    mut response: Response,
) -> Result<Response, ErrorResponse> {
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

async fn serve_ws(addr: &str) -> anyhow::Result<()> {
    let listener = bind(addr, "ws", "/").await?;
    while let Some(stream) = accept(&listener).await {
        tokio::spawn(async move {
            let Ok(socket) = tokio_tungstenite::accept_hdr_async_with_config(
                stream,
                choose_subprotocol,
                Some(ws::config()),
            )
            .await
            else {
                return;
            };
            let (server_io, bridge_io) = tokio::io::duplex(256 * 1024);
            let bridge = tokio::spawn(ws::bridge(socket, bridge_io));
            let (reader, writer) = tokio::io::split(server_io);
            let transport = BatchingTransport::new(reader, writer).announcing();
            let _ = super::serve_lines(transport).await;
            bridge.abort();
        });
    }
    Ok(())
}
