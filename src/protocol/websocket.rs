//! MCP over WebSocket (subprotocol `mcp`): one text message per JSON-RPC
//! message. A bridge turns messages into lines and lines into messages, so
//! the same newline-delimited client, and in `mcptop serve --ws` the same
//! line server, run over it unchanged.

use super::lines::{message_line, next_message, MAX_LINE_BYTES};
use futures_util::{SinkExt, StreamExt};
use tokio::io::{AsyncRead, AsyncWrite, AsyncWriteExt, DuplexStream};
use tokio_tungstenite::tungstenite::protocol::WebSocketConfig;
use tokio_tungstenite::tungstenite::Message;
use tokio_tungstenite::WebSocketStream;

/// The subprotocol both sides name in the handshake.
pub const SUBPROTOCOL: &str = "mcp";

/// Limits for both ends: a message is at most one line.
pub fn config() -> WebSocketConfig {
    WebSocketConfig::default()
        .max_message_size(Some(MAX_LINE_BYTES))
        .max_frame_size(Some(MAX_LINE_BYTES))
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
