//! The legacy HTTP+SSE transport of the 2024-11-05 era (`sse://HOST:PORT/PATH`):
//! a GET opens an event stream whose first `endpoint` event names where to
//! POST; every reply then comes back on that one stream. A bridge turns the
//! stream into lines and lines into POSTs, so the newline-delimited client
//! does the id matching, as it does for stdio.

use super::http::conn::RequestBytes;
use super::http::pool::{Body, Pool};
use super::ConnectOptions;
use super::{connect_bridged, setup_failed, BridgeTask};
use super::{Connected, Connector, TargetError};
use crate::protocol::lines::{message_line, next_message, MAX_LINE_BYTES};
use crate::protocol::sse::{Parsed, SseParser};
use crate::protocol::{Era, ProtocolChoice};
use crate::workload::target::Endpoint;
use futures_util::future::BoxFuture;
use std::sync::Arc;
use tokio::io::{AsyncWriteExt, DuplexStream};

const BRIDGE_BYTES: usize = 256 * 1024;

pub struct LegacySseConnector {
    pub endpoint: Endpoint,
    pub options: ConnectOptions,
}

impl Connector for LegacySseConnector {
    fn connect(&self, session: u32) -> BoxFuture<'_, Result<Connected, TargetError>> {
        Box::pin(async move {
            let url = self.endpoint.url("sse");
            let fail = setup_failed(session, &url);
            let host = self.endpoint.authority();
            let stream_pool = Pool::new(self.endpoint.clone(), 1, self.options.deployed.clone());
            let mut get = RequestBytes::new("GET", &self.endpoint.path, &host);
            get.header("Accept", "text/event-stream");
            self.options.deployed.decorate_now(&mut get).await;
            let (head, mut body) = stream_pool
                .send(&get.finish(b""))
                .await
                .map_err(|e| fail(e.to_string()))?;
            if head.status != 200 || !head.event_stream {
                return Err(fail(format!(
                    "GET answered HTTP {} without an event stream",
                    head.status
                )));
            }
            let mut parser = SseParser::new(MAX_LINE_BYTES);
            let post_path = tokio::time::timeout(
                self.options.handshake_timeout,
                endpoint_event(&mut body, &mut parser),
            )
            .await
            .map_err(|_| fail("no `endpoint` event".into()))?
            .ok_or_else(|| fail("the stream ended before an `endpoint` event".into()))?;
            let (client_io, bridge_io) = tokio::io::duplex(BRIDGE_BYTES);
            let posts = Pool::new(
                self.endpoint.clone(),
                self.options.http_connections,
                self.options.deployed.clone(),
            );
            let bridge = BridgeTask(tokio::spawn(bridge(
                body, parser, bridge_io, posts, host, post_path,
            )));
            // `auto` offers the era this transport belongs to.
            let offered = match self.options.protocol {
                ProtocolChoice::Auto => Era::LEGACY_SSE,
                ProtocolChoice::Forced(era) => era,
            };
            connect_bridged(client_io, bridge, offered, &self.options, session, &url).await
        })
    }
}

/// Reads events up to the `endpoint` one; returns the path to POST to.
async fn endpoint_event(body: &mut Body, parser: &mut SseParser) -> Option<String> {
    let mut chunk = Vec::new();
    loop {
        chunk.clear();
        if !body.chunk(&mut chunk).await.ok()? {
            return None;
        }
        let mut parsed = Parsed::default();
        parser.push(&chunk, &mut parsed);
        if let Some(e) = parsed
            .events
            .into_iter()
            .find(|e| e.event.as_deref() == Some("endpoint"))
        {
            let data = e.data.trim();
            // Absolute (`http://host:port/messages?...`) or a path.
            let path = match data.strip_prefix("http://") {
                Some(rest) => rest.find('/').map_or("/", |i| &rest[i..]),
                None => data,
            };
            return Some(path.to_string());
        }
    }
}

/// Events -> lines, lines -> POSTs, until either side ends.
async fn bridge(
    mut body: Body,
    mut parser: SseParser,
    lines: DuplexStream,
    posts: Arc<Pool>,
    host: String,
    post_path: String,
) {
    let (line_rx, mut line_tx) = tokio::io::split(lines);
    let incoming = async {
        let mut chunk = Vec::new();
        loop {
            chunk.clear();
            match body.chunk(&mut chunk).await {
                Ok(true) => {}
                _ => break,
            }
            let mut parsed = Parsed::default();
            parser.push(&chunk, &mut parsed);
            for event in parsed.events {
                if event.event.as_deref().is_some_and(|t| t != "message") {
                    continue;
                }
                let line = message_line(event.data.into_bytes());
                if line_tx.write_all(&line).await.is_err() {
                    return;
                }
            }
        }
        let _ = line_tx.shutdown().await;
    };
    let outgoing = async {
        let mut line_rx = tokio::io::BufReader::new(line_rx);
        let mut line = String::new();
        while let Some(message) = next_message(&mut line_rx, &mut line).await {
            let mut request = RequestBytes::new("POST", &post_path, &host);
            request.header("Content-Type", "application/json");
            posts.deployed().decorate_now(&mut request).await;
            let request = request.finish(message.as_bytes());
            let posts = posts.clone();
            // Replies come on the stream; the POST only says "accepted".
            tokio::spawn(async move {
                if let Ok((_, reply)) = posts.send(&request).await {
                    let _ = reply.collect(64 * 1024).await;
                }
            });
        }
    };
    tokio::select! {
        _ = incoming => {}
        _ = outgoing => {}
    }
}
