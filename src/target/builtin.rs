//! The builtin target: one rmcp server instance per session, connected to the
//! client over an in-memory duplex, so a run needs no set-up and a profile of
//! mcptop shows both sides.

use super::{ConnectOptions, Connected, Connector, TargetError};
use crate::client::McpSession;
use crate::server::batch::BatchingTransport;
use futures_util::future::BoxFuture;
use std::sync::Arc;

const DUPLEX_BYTES: usize = 256 * 1024;

pub struct BuiltinConnector {
    pub options: ConnectOptions,
}

/// Aborts the in-process server when the session is dropped.
struct ServerTask(tokio::task::JoinHandle<()>);

impl Drop for ServerTask {
    fn drop(&mut self) {
        self.0.abort();
    }
}

impl Connector for BuiltinConnector {
    fn connect(&self, session: u32) -> BoxFuture<'_, Result<Connected, TargetError>> {
        Box::pin(async move {
            let (client_io, server_io) = tokio::io::duplex(DUPLEX_BYTES);
            let server = tokio::spawn(async move {
                let (reader, writer) = tokio::io::split(server_io);
                let _ = crate::server::serve_lines(BatchingTransport::new(reader, writer)).await;
            });
            let server = ServerTask(server);
            let (reader, writer) = tokio::io::split(client_io);
            let client = McpSession::connect(
                reader,
                writer,
                self.options.initialize_version(),
                self.options.handshake_timeout,
            )
            .await
            .map_err(|e| TargetError::Handshake {
                session,
                reason: e.to_string(),
            })?;
            Ok(Connected {
                server_name: client.server.name.clone(),
                protocol_version: client.server.protocol_version.clone(),
                session: Arc::new(client),
                pid: Some(std::process::id()),
                keep_alive: Box::new(server),
            })
        })
    }
}
