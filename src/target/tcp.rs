//! The raw TCP target: newline-delimited JSON-RPC over one socket per session,
//! the stdio framing without the process. Nagle is off so small requests
//! leave at once.

use super::endpoint::Endpoint;
use super::{ConnectOptions, Connected, Connector, TargetError};
use crate::client::McpSession;
use futures_util::future::BoxFuture;
use std::sync::Arc;
use tokio::net::TcpStream;

pub struct TcpConnector {
    pub endpoint: Endpoint,
    pub options: ConnectOptions,
}

/// Opens a socket with Nagle off, naming the address on failure.
pub async fn dial(endpoint: &Endpoint, session: u32) -> Result<TcpStream, TargetError> {
    let stream = TcpStream::connect(endpoint.authority())
        .await
        .map_err(|e| TargetError::Handshake {
            session,
            reason: format!("cannot connect to {}: {e}", endpoint.authority()),
        })?;
    stream
        .set_nodelay(true)
        .map_err(|e| TargetError::Handshake {
            session,
            reason: format!("cannot set TCP_NODELAY: {e}"),
        })?;
    Ok(stream)
}

impl Connector for TcpConnector {
    fn connect(&self, session: u32) -> BoxFuture<'_, Result<Connected, TargetError>> {
        Box::pin(async move {
            let stream = dial(&self.endpoint, session).await?;
            let (reader, writer) = stream.into_split();
            let client = McpSession::connect(
                reader,
                writer,
                self.options.initialize_version(),
                self.options.handshake_timeout,
            )
            .await
            .map_err(|e| TargetError::Handshake {
                session,
                reason: format!("tcp://{}: {e}", self.endpoint.authority()),
            })?;
            Ok(Connected {
                server_name: client.server.name.clone(),
                protocol_version: client.server.protocol_version.clone(),
                session: Arc::new(client),
                pid: None,
                keep_alive: Box::new(()),
            })
        })
    }
}
