//! The WebSocket transport (subprotocol `mcp`): dial, upgrade, check the
//! subprotocol, then run the newline-delimited client over the protocol
//! floor's WebSocket bridge.

use super::ConnectOptions;
use super::{connect_bridged, setup_failed, BridgeTask};
use super::{Connected, Connector, TargetError};
use crate::protocol::websocket::{bridge, config, SUBPROTOCOL};
use crate::workload::target::Endpoint;
use futures_util::future::BoxFuture;
use tokio_tungstenite::tungstenite::client::IntoClientRequest;
use tokio_tungstenite::tungstenite::http::HeaderValue;

const BRIDGE_BYTES: usize = 256 * 1024;

pub struct WsConnector {
    pub endpoint: Endpoint,
    pub options: ConnectOptions,
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
            let offered = self.options.offered();
            connect_bridged(client_io, bridge, offered, &self.options, session, &url).await
        })
    }
}
