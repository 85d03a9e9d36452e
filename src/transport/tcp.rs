//! The raw TCP target: newline-delimited JSON-RPC over one socket per session,
//! the stdio framing without the process. Nagle is off so small requests
//! leave at once.

use super::{connect_lines, ConnectOptions, Connected, Connector, TargetError};
use crate::workload::target::Endpoint;
use futures_util::future::BoxFuture;
use std::time::Duration;
use tokio::net::TcpStream;

pub struct TcpConnector {
    pub endpoint: Endpoint,
    pub options: ConnectOptions,
}

/// Opens a socket with Nagle off within `timeout`, naming the address on
/// failure.
pub async fn dial(
    endpoint: &Endpoint,
    session: u32,
    timeout: Duration,
) -> Result<TcpStream, TargetError> {
    let stream = super::connect_tcp(&endpoint.authority(), timeout)
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
            let phases = self.options.deployed.phases.clone();
            let started = tokio::time::Instant::now();
            let stream = dial(&self.endpoint, session, self.options.handshake_timeout).await?;
            phases.connect(started.elapsed());
            let started = tokio::time::Instant::now();
            let context = format!("tcp://{}", self.endpoint.authority());
            let options = &self.options;
            let offered = options.offered();
            let lines = stream.into_split();
            let connected = connect_lines(
                lines,
                offered,
                options,
                session,
                &context,
                None,
                Box::new(()),
            )
            .await?;
            phases.initialize(started.elapsed());
            Ok(connected)
        })
    }

    fn connect_parallelism(&self) -> usize {
        super::SOCKET_CONNECT_PARALLELISM
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::transport::{ConnectOptions, CONNECT_PARALLELISM, SOCKET_CONNECT_PARALLELISM};
    use crate::workload::TargetSpec;

    #[test]
    fn a_socket_target_opens_more_sessions_at_once_than_a_child_process_one() {
        let options = ConnectOptions {
            protocol: Default::default(),
            handshake_timeout: Duration::from_secs(5),
            http_connections: 1,
            server_stream: false,
            deployed: Default::default(),
        };
        let bound = |target: &str| {
            let spec = TargetSpec::parse(target).expect("target");
            let (events, _) = tokio::sync::mpsc::unbounded_channel();
            crate::transport::connector(&spec, options.clone(), events).connect_parallelism()
        };
        assert_eq!(bound("tcp://127.0.0.1:9"), SOCKET_CONNECT_PARALLELISM);
        assert_eq!(bound("stdio:python3 server.py"), CONNECT_PARALLELISM);
    }

    #[tokio::test]
    async fn a_full_accept_queue_fails_at_the_connect_timeout_exactly() {
        // Backlog 1, never accepted: once the queue is full, the kernel drops
        // new handshakes and a connect would retry for minutes.
        let socket = tokio::net::TcpSocket::new_v4().expect("socket");
        socket
            .bind("127.0.0.1:0".parse().expect("addr"))
            .expect("bind");
        let listener = socket.listen(1).expect("listen");
        let addr = listener.local_addr().expect("addr");
        let mut held = Vec::new();
        let full = loop {
            match std::net::TcpStream::connect_timeout(&addr, Duration::from_millis(300)) {
                Ok(s) if held.len() < 64 => held.push(s),
                Ok(_) => break false,
                Err(_) => break true,
            }
        };
        assert!(full, "the accept queue never filled");
        tokio::time::pause();
        let endpoint = Endpoint::parse(&addr.to_string(), 0).expect("endpoint");
        let start = tokio::time::Instant::now();
        let err = dial(&endpoint, 3, Duration::from_secs(7))
            .await
            .expect_err("no connection");
        // The timer wheel counts whole milliseconds.
        let took = start.elapsed();
        assert!(
            took >= Duration::from_secs(7) && took <= Duration::from_millis(7_001),
            "{took:?}"
        );
        let text = err.to_string();
        assert!(
            text.starts_with("session 3: cannot connect to 127.0.0.1:")
                && text.contains("connect timed out after 7s"),
            "{text}"
        );
    }
}
