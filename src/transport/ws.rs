//! The WebSocket transport (subprotocol `mcp`): dial (TLS for `wss://`),
//! upgrade with the user's headers and token, check the subprotocol, then
//! run the newline-delimited client over the protocol floor's WebSocket
//! bridge. Connect, TLS and upgrade-plus-initialize are timed apart.

use super::headers::Secret;
use super::tls::Dial;
use super::ConnectOptions;
use super::{connect_bridged, setup_failed, BridgeTask};
use super::{Connected, Connector, TargetError};
use crate::protocol::websocket::{bridge, config, SUBPROTOCOL};
use crate::workload::target::Endpoint;
use futures_util::future::BoxFuture;
use tokio_tungstenite::tungstenite::client::IntoClientRequest;
use tokio_tungstenite::tungstenite::handshake::client::Request;
use tokio_tungstenite::tungstenite::http::{HeaderName, HeaderValue};
use tokio_tungstenite::tungstenite::Error;

const BRIDGE_BYTES: usize = 256 * 1024;

pub struct WsConnector {
    pub endpoint: Endpoint,
    pub options: ConnectOptions,
}

impl WsConnector {
    /// The upgrade request: the `mcp` subprotocol, the user's headers and
    /// the token (marked sensitive). Errors never hold a value.
    fn upgrade_request(&self, authorization: Option<&Secret>) -> Result<Request, String> {
        // The URL tungstenite checks; the stream is already TLS if need be.
        let mut request = self
            .endpoint
            .url("ws")
            .as_str()
            .into_client_request()
            .map_err(|e| e.to_string())?;
        request.headers_mut().insert(
            "Sec-WebSocket-Protocol",
            HeaderValue::from_static(SUBPROTOCOL),
        );
        let deployed = &self.options.deployed;
        let extra = deployed.headers.iter().map(|h| (h.name.as_str(), &h.value));
        let auth = authorization.map(|a| ("Authorization", a));
        for (name, value) in extra.chain(auth) {
            let name = HeaderName::from_bytes(name.as_bytes())
                .map_err(|_| format!("{name:?} is not a header name"))?;
            let mut value = HeaderValue::from_str(value.expose())
                .map_err(|_| format!("the value of {name} is not a header value"))?;
            value.set_sensitive(true);
            request.headers_mut().insert(name, value);
        }
        Ok(request)
    }
}

impl Connector for WsConnector {
    fn connect(&self, session: u32) -> BoxFuture<'_, Result<Connected, TargetError>> {
        Box::pin(async move {
            let url = self.endpoint.url("ws");
            let fail = setup_failed(session, &url);
            let timeout = self.options.handshake_timeout;
            let deployed = &self.options.deployed;
            let authority = self.endpoint.authority();
            let dial = Dial {
                authority: &authority,
                host: &self.endpoint.host,
                tls: deployed.tls_for(self.endpoint.tls).map_err(&fail)?,
                timeout,
                phases: Some(&deployed.phases),
            };
            let stream = dial
                .open()
                .await
                .map_err(|e| fail(format!("cannot connect to {authority}: {e}")))?;
            let started = tokio::time::Instant::now();
            let authorization = deployed
                .authorization()
                .await
                .map_err(|e| fail(e.to_string()))?;
            let request = self
                .upgrade_request(authorization.as_deref())
                .map_err(&fail)?;
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
                .map_err(|e| match &e {
                    Error::Http(r) if r.status() == 401 => {
                        let challenge = r.headers().get("WWW-Authenticate");
                        let challenge = challenge.and_then(|v| v.to_str().ok());
                        deployed.refused(authorization.as_ref());
                        fail(super::auth::unauthorized(challenge).to_string())
                    }
                    _ => fail(format!("WebSocket handshake: {e}")),
                })?;
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
            let connected =
                connect_bridged(client_io, bridge, offered, &self.options, session, &url).await?;
            deployed.phases.initialize(started.elapsed());
            Ok(connected)
        })
    }
}
