//! How a session starts, for every transport: `initialize` in the eras that
//! have it, `server/discover` in the stateless 2026-07-28 era, whose
//! requests then each carry the version and the client in `_meta` (over
//! stdio too: the spec has no header layer there). The line client's
//! handshakes live here; HTTP builds and judges the same messages.

use super::escape::escape_bounded;
use super::wire::{self, PreparedRequest, ResultProbe, ServerInfo};
use super::{ConnectError, McpSession};
use crate::workload::{KNOWN_PROTOCOLS, STATELESS_PROTOCOL};
use std::sync::atomic::Ordering;
use std::time::Duration;

/// What the server said about itself in the handshake.
#[derive(Debug, Clone, Default)]
pub struct ServerIdentity {
    pub name: String,
    pub version: String,
    pub protocol_version: String,
}

/// `initialize`, offering `version`.
pub fn initialize_request(version: &str) -> PreparedRequest {
    let params = serde_json::json!({
        "protocolVersion": version,
        "capabilities": {},
        "clientInfo": { "name": "mcptop", "version": env!("CARGO_PKG_VERSION") },
    });
    PreparedRequest::new("initialize", &params)
}

/// The server's `initialize` result, if it chose an era mcptop speaks (one
/// with a handshake: the stateless era has none).
pub fn initialized(probe: ResultProbe) -> Result<ServerIdentity, ConnectError> {
    let version = probe.protocol_version.unwrap_or_default();
    if !KNOWN_PROTOCOLS.contains(&version.as_str()) || version == STATELESS_PROTOCOL {
        return Err(ConnectError::Version(version, KNOWN_PROTOCOLS.join(", ")));
    }
    Ok(identity(probe.server_info.unwrap_or_default(), version))
}

/// The `_meta` object every stateless request carries, serialized.
pub fn stateless_meta() -> Vec<u8> {
    serde_json::to_vec(&serde_json::json!({
        "io.modelcontextprotocol/protocolVersion": STATELESS_PROTOCOL,
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
    if !versions.iter().any(|v| v == STATELESS_PROTOCOL) {
        return Err(ConnectError::Version(
            versions.join(", "),
            STATELESS_PROTOCOL.into(),
        ));
    }
    let info = probe
        .meta
        .and_then(|m| m.server_info)
        .or(probe.server_info)
        .unwrap_or_default();
    Ok(identity(info, STATELESS_PROTOCOL.into()))
}

/// The server's name and version are its own words: escaped (and cut)
/// here, once, so no printout can pass a control sequence to a terminal.
fn identity(info: ServerInfo, protocol_version: String) -> ServerIdentity {
    const MAX_CHARS: usize = 120;
    ServerIdentity {
        name: escape_bounded(&info.name, MAX_CHARS),
        version: escape_bounded(&info.version, MAX_CHARS),
        protocol_version,
    }
}

impl McpSession {
    /// `initialize` offering `version`, then `notifications/initialized`.
    pub(super) async fn initialize(
        &self,
        version: &str,
        timeout: Duration,
    ) -> Result<ServerIdentity, ConnectError> {
        let probe = self
            .handshake(&initialize_request(version), timeout)
            .await?;
        let server = initialized(probe)?;
        self.shared.initialized.store(true, Ordering::SeqCst);
        self.out
            .send(wire::encode_notification("notifications/initialized"))
            .map_err(|_| ConnectError::Other("connection closed after initialize".into()))?;
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
