//! The WebSocket target (subprotocol `mcp`): one text message per JSON-RPC
//! message. A bridge turns messages into lines and back, so the same
//! newline-delimited client (and, in `serve --ws`, the same rmcp server)
//! runs over it unchanged.

use super::endpoint::Endpoint;
use super::ConnectOptions;
use super::{connect_bridged, message_line, next_message, setup_failed, BridgeTask};
use super::{Connected, Connector, TargetError};
use crate::client::MAX_LINE_BYTES;
use futures_util::future::BoxFuture;
use futures_util::{SinkExt, StreamExt};
use tokio::io::{AsyncRead, AsyncWrite, AsyncWriteExt, DuplexStream};
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
            let url = self.endpoint.url("ws");
            let fail = setup_failed(session, &url);
            let timeout = self.options.handshake_timeout;
            let stream = super::tcp::dial(&self.endpoint, session, timeout).await?;
            let mut request = url
                .as_str()
                .into_client_request()
                .map_err(|e| fail(e.to_string()))?;
            request.headers_mut().insert(
                "Sec-WebSocket-Protocol",
                HeaderValue::from_static(SUBPROTOCOL),
            );
            let upgrade =
                tokio_tungstenite::client_async_with_config(request, stream, Some(config()));
            let (ws, response) = tokio::time::timeout(timeout, upgrade)
                .await
                .map_err(|_| {
                    fail(format!(
                        "WebSocket handshake: no answer within {}s",
                        timeout.as_secs_f64()
                    ))
                })?
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
            let offered = self.options.offered_version();
            connect_bridged(client_io, bridge, offered, &self.options, session, &url).await
        })
    }
}

/// Moves messages between a WebSocket and a line stream until either ends:
/// each text (or UTF-8 binary) message becomes one line, each line one text
/// message.
pub async fn bridge<S>(ws: WebSocketStream<S>, lines: DuplexStream)
where
    S: AsyncRead + AsyncWrite + Unpin,
{
    let (mut ws_tx, mut ws_rx) = ws.split();
    let (line_rx, mut line_tx) = tokio::io::split(lines);
    let mut line_rx = tokio::io::BufReader::with_capacity(64 * 1024, line_rx);
    let outgoing = async {
        let mut line = String::new();
        while let Some(text) = next_message(&mut line_rx, &mut line).await {
            if ws_tx.send(Message::text(text)).await.is_err() {
                break;
            }
        }
        let _ = ws_tx.close().await;
    };
    let incoming = async {
        while let Some(Ok(message)) = ws_rx.next().await {
            let bytes: Vec<u8> = match message {
                Message::Text(t) => t.as_bytes().to_vec(),
                Message::Binary(b) => b.to_vec(),
                Message::Close(_) => break,
                _ => continue,
            };
            if line_tx.write_all(&message_line(bytes)).await.is_err() {
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
