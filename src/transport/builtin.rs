//! The builtin target: one rmcp server instance per session, connected to the
//! client over an in-memory duplex, so a run needs no set-up and a profile of
//! mcptop shows both sides.

use super::{connect_lines, ConnectOptions, Connected, Connector, TargetError};
use crate::server::batch::BatchingTransport;
use futures_util::future::BoxFuture;

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
            let options = &self.options;
            let offered = options.offered();
            let lines = tokio::io::split(client_io);
            let pid = Some(std::process::id());
            connect_lines(
                lines,
                offered,
                options,
                session,
                "builtin",
                pid,
                Box::new(server),
            )
            .await
        })
    }
}
