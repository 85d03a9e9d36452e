//! The raw TCP target: newline-delimited JSON-RPC over one socket per session,
//! the stdio framing without the process. Nagle is off so small requests
//! leave at once.

use super::endpoint::Endpoint;
use super::{connect_lines, ConnectOptions, Connected, Connector, TargetError};
use futures_util::future::BoxFuture;
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
            let context = format!("tcp://{}", self.endpoint.authority());
            let options = &self.options;
            let offered = options.offered_version();
            let lines = stream.into_split();
            connect_lines(
                lines,
                offered,
                options,
                session,
                &context,
                None,
                Box::new(()),
            )
            .await
        })
    }
}
