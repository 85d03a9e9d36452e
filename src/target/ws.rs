//! The WebSocket target (subprotocol `mcp`): one text message per JSON-RPC
//! message. A bridge turns messages into lines and back, so the same
//! newline-delimited client (and, in `serve --ws`, the same rmcp server)
//! runs over it unchanged.

use super::endpoint::Endpoint;
use super::{ConnectOptions, Connected, Connector, TargetError};
use crate::client::{McpSession, MAX_LINE_BYTES};
use futures_util::future::BoxFuture;
use futures_util::{SinkExt, StreamExt};
use std::sync::Arc;
use tokio::io::{AsyncBufReadExt, AsyncRead, AsyncWrite, AsyncWriteExt, DuplexStream};
use tokio_tungstenite::tungstenite::client::IntoClientRequest;
use tokio_tungstenite::tungstenite::http::HeaderValue;
use tokio_tungstenite::tungstenite::protocol::WebSocketConfig;
use tokio_tungstenite::tungstenite::Message;
use tokio_tungstenite::WebSocketStream;

/// The subprotocol both sides name in the handshake.
pub const SUBPROTOCOL: &str = "mcp";
const BRIDGE_BYTES: usize = 256 * 1024;

pub struct WsConnector {
    pub endpoint: Endpoint,
    pub options: ConnectOptions,
}

/// Limits for both ends: a message is at most one line.
pub fn config() -> WebSocketConfig {
    WebSocketConfig::default()
        .max_message_size(Some(MAX_LINE_BYTES))
        .max_frame_size(Some(MAX_LINE_BYTES))
}

impl Connector for WsConnector {
    fn connect(&self, session: u32) -> BoxFuture<'_, Result<Connected, TargetError>> {
        Box::pin(async move {
            let url = format!("ws://{}{}", self.endpoint.authority(), self.endpoint.path);
            let fail = |reason: String| TargetError::Handshake {
                session,
                reason: format!("{url}: {reason}"),
            };
            let stream = super::tcp::dial(&self.endpoint, session).await?;
            let mut request = url
                .as_str()
                .into_client_request()
                .map_err(|e| fail(e.to_string()))?;
            request.headers_mut().insert(
                "Sec-WebSocket-Protocol",
                HeaderValue::from_static(SUBPROTOCOL),
            );
            let (ws, response) =
                tokio_tungstenite::client_async_with_config(request, stream, Some(config()))
                    .await
                    .map_err(|e| fail(format!("WebSocket handshake: {e}")))?;
            if response
                .headers()
                .get("Sec-WebSocket-Protocol")
                .is_none_or(|p| p != SUBPROTOCOL)
            {
                return Err(fail(format!(
                    "the server did not accept the `{SUBPROTOCOL}` subprotocol"
                )));
            }
            let (client_io, bridge_io) = tokio::io::duplex(BRIDGE_BYTES);
            let bridge = BridgeTask(tokio::spawn(bridge(ws, bridge_io)));
            let (reader, writer) = tokio::io::split(client_io);
            let client = McpSession::connect(
                reader,
                writer,
                self.options.initialize_version(),
                self.options.handshake_timeout,
            )
            .await
            .map_err(|e| fail(e.to_string()))?;
            Ok(Connected {
                server_name: client.server.name.clone(),
                protocol_version: client.server.protocol_version.clone(),
                session: Arc::new(client),
                pid: None,
                keep_alive: Box::new(bridge),
            })
        })
    }
}

/// Stops the bridge (and so closes the socket) with its session.
pub struct BridgeTask(pub tokio::task::JoinHandle<()>);

impl Drop for BridgeTask {
    fn drop(&mut self) {
        self.0.abort();
    }
}

/// Moves messages between a WebSocket and a line stream until either ends:
/// each text (or UTF-8 binary) message becomes one line, each line one text
/// message. Raw newlines in a message can only be JSON whitespace, so they
/// become spaces and the message stays one line.
pub async fn bridge<S>(ws: WebSocketStream<S>, lines: DuplexStream)
where
    S: AsyncRead + AsyncWrite + Unpin,
{
    let (mut ws_tx, mut ws_rx) = ws.split();
    let (line_rx, mut line_tx) = tokio::io::split(lines);
    let mut line_rx = tokio::io::BufReader::with_capacity(64 * 1024, line_rx);
    let outgoing = async {
        let mut line = String::new();
        loop {
            line.clear();
            match line_rx.read_line(&mut line).await {
                Ok(0) | Err(_) => break,
                Ok(_) => {}
            }
            let text = line.trim_end();
            if text.is_empty() {
                continue;
            }
            if ws_tx.send(Message::text(text)).await.is_err() {
                break;
            }
        }
        let _ = ws_tx.close().await;
    };
    let incoming = async {
        while let Some(Ok(message)) = ws_rx.next().await {
            let mut bytes: Vec<u8> = match message {
                Message::Text(t) => t.as_bytes().to_vec(),
                Message::Binary(b) => b.to_vec(),
                Message::Close(_) => break,
                _ => continue,
            };
            for b in bytes.iter_mut() {
                if *b == b'\n' || *b == b'\r' {
                    *b = b' ';
                }
            }
            bytes.push(b'\n');
            if line_tx.write_all(&bytes).await.is_err() {
                break;
            }
        }
        let _ = line_tx.shutdown().await;
    };
    // Either side ending ends the session.
    tokio::select! {
        _ = outgoing => {}
        _ = incoming => {}
    }
}
