//! How a session starts, for every transport: `initialize` in the eras that
//! have it, `server/discover` in the stateless 2026-07-28 era, whose
//! requests then each carry the version and the client in `_meta` (over
//! stdio too: the spec has no header layer there). The line client's
//! handshakes live here; HTTP builds and judges the same messages.

use super::{ConnectError, McpSession};
use crate::protocol::escape::escape_bounded;
use crate::protocol::jsonrpc::{self as wire, PreparedRequest, ResultProbe, ServerInfo};
use crate::protocol::Era;
use std::sync::atomic::Ordering;
use std::time::Duration;

/// What the server said about itself in the handshake.
#[derive(Debug, Clone, Default)]
pub struct ServerIdentity {
    pub name: String,
    pub version: String,
    /// The era the session speaks.
    pub era: Era,
}

/// `initialize`, offering `era`.
pub fn initialize_request(era: Era) -> PreparedRequest {
    let params = serde_json::json!({
        "protocolVersion": era.version(),
        "capabilities": {},
        "clientInfo": { "name": "mcptop", "version": env!("CARGO_PKG_VERSION") },
    });
    PreparedRequest::new("initialize", &params)
}

/// The server's `initialize` result, if it chose an era mcptop speaks (one
/// with a handshake: the stateless era has none).
pub fn initialized(probe: ResultProbe) -> Result<ServerIdentity, ConnectError> {
    let version = probe.protocol_version.unwrap_or_default();
    match Era::parse(&version) {
        Some(era) if era.has_sessions() => Ok(identity(probe.server_info.unwrap_or_default(), era)),
        _ => Err(ConnectError::Version(version, Era::known())),
    }
}

/// The `_meta` object every stateless request carries, serialized.
pub fn stateless_meta() -> Vec<u8> {
    serde_json::to_vec(&serde_json::json!({
        "io.modelcontextprotocol/protocolVersion": Era::STATELESS.version(),
        "io.modelcontextprotocol/clientInfo": { "name": "mcptop", "version": env!("CARGO_PKG_VERSION") },
        "io.modelcontextprotocol/clientCapabilities": {},
    }))
    .unwrap_or_default()
}

pub fn discover_request() -> PreparedRequest {
    PreparedRequest::new("server/discover", &serde_json::json!({}))
}

/// The server's `server/discover` result, if it speaks the stateless era.
pub fn discovered(probe: ResultProbe) -> Result<ServerIdentity, ConnectError> {
    let versions = probe.supported_versions.unwrap_or_default();
    if !versions.iter().any(|v| v == Era::STATELESS.version()) {
        return Err(ConnectError::Version(
            versions.join(", "),
            Era::STATELESS.to_string(),
        ));
    }
    let info = probe
        .meta
        .and_then(|m| m.server_info)
        .or(probe.server_info)
        .unwrap_or_default();
    Ok(identity(info, Era::STATELESS))
}

/// The server's name and version are its own words: escaped (and cut)
/// here, once, so no printout can pass a control sequence to a terminal.
fn identity(info: ServerInfo, era: Era) -> ServerIdentity {
    const MAX_CHARS: usize = 120;
    ServerIdentity {
        name: escape_bounded(&info.name, MAX_CHARS),
        version: escape_bounded(&info.version, MAX_CHARS),
        era,
    }
}

impl McpSession {
    /// `initialize` offering `era`, then `notifications/initialized`.
    pub(super) async fn initialize(
        &self,
        era: Era,
        timeout: Duration,
    ) -> Result<ServerIdentity, ConnectError> {
        let probe = self.handshake(&initialize_request(era), timeout).await?;
        let server = initialized(probe)?;
        self.shared.initialized.store(true, Ordering::SeqCst);
        self.post(
            wire::encode_notification("notifications/initialized"),
            false,
        )
        .map_err(|()| ConnectError::Other("connection closed after initialize".into()))?;
        Ok(server)
    }

    /// `server/discover`; the session's requests carry `_meta` from here on.
    pub(super) async fn discover(&self, timeout: Duration) -> Result<ServerIdentity, ConnectError> {
        let probe = self.handshake(&discover_request(), timeout).await?;
        let server = discovered(probe)?;
        self.shared.initialized.store(true, Ordering::SeqCst);
        Ok(server)
    }

    async fn handshake(
        &self,
        req: &PreparedRequest,
        timeout: Duration,
    ) -> Result<ResultProbe, ConnectError> {
        match tokio::time::timeout(timeout, self.send(req)).await {
            Err(_) => {
                let hint = self
                    .shared
                    .counters
                    .last_violation()
                    .map(|v| format!("; the server sent: {v}"))
                    .unwrap_or_default();
                Err(ConnectError::Timeout(timeout, req.method, hint))
            }
            Ok((_, Err(e))) => Err(ConnectError::Call(req.method, e)),
            Ok((_, Ok(probe))) => Ok(probe),
        }
    }
}
