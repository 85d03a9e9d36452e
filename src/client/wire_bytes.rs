//! Bytes on the wire per request: what a request sent and what its reply
//! brought back, counted by the transport where the bytes are (a line's
//! length, an HTTP request's length, a reply body's length) and handed to
//! whoever measures the request.
//!
//! The count travels in a task-local tally instead of through every
//! session's return type: the scheduler opens a tally around one call
//! (`measure`), the transport adds to it (`add_sent`, `add_received`) while
//! the call runs in that task, and a wrapper (the reconnecting session)
//! passes it on without knowing of it. Outside a tally (handshakes, flows'
//! listings) the adds do nothing. Counting is a thread-local add on lengths
//! the transport holds anyway: nothing is serialized again.

use serde::{Deserialize, Serialize};
use std::cell::Cell;
use std::future::Future;

/// Bytes one request (or a batch, or a whole run) moved.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct WireBytes {
    /// Bytes mcptop wrote for the request.
    pub sent: u64,
    /// Bytes mcptop read for its reply.
    pub received: u64,
}

impl std::ops::AddAssign for WireBytes {
    fn add_assign(&mut self, other: WireBytes) {
        self.sent = self.sent.saturating_add(other.sent);
        self.received = self.received.saturating_add(other.received);
    }
}

impl WireBytes {
    /// This tally split into `parts` (a batch's requests): equal shares,
    /// the remainder on share 0, so the shares add up to the whole.
    pub fn share(self, index: usize, parts: usize) -> WireBytes {
        let parts = parts.max(1) as u64;
        let one = |total: u64| total / parts + if index == 0 { total % parts } else { 0 };
        WireBytes {
            sent: one(self.sent),
            received: one(self.received),
        }
    }
}

tokio::task_local! {
    static TALLY: Cell<WireBytes>;
}

/// Runs `call` with a fresh tally and returns what it counted with its output.
pub async fn measure<F: Future>(call: F) -> (F::Output, WireBytes) {
    TALLY
        .scope(Cell::new(WireBytes::default()), async move {
            let output = call.await;
            (output, TALLY.try_with(Cell::get).unwrap_or_default())
        })
        .await
}

fn add(bytes: WireBytes) {
    let _ = TALLY.try_with(|tally| {
        let mut now = tally.get();
        now += bytes;
        tally.set(now);
    });
}

/// Counts `n` bytes written for the request being measured.
pub fn add_sent(n: usize) {
    add(WireBytes {
        sent: n as u64,
        received: 0,
    });
}

/// Counts `n` bytes read for the reply being measured.
pub fn add_received(n: usize) {
    add(WireBytes {
        sent: 0,
        received: n as u64,
    });
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn a_tally_counts_what_its_call_adds_and_nothing_outside() {
        add_sent(1000);
        let ((), bytes) = measure(async {
            add_sent(12);
            tokio::task::yield_now().await;
            add_received(30);
            add_sent(3);
        })
        .await;
        assert_eq!(
            bytes,
            WireBytes {
                sent: 15,
                received: 30
            }
        );
    }

    #[test]
    fn shares_add_up_to_the_whole() {
        let whole = WireBytes {
            sent: 10,
            received: 7,
        };
        let mut sum = WireBytes::default();
        for i in 0..3 {
            sum += whole.share(i, 3);
        }
        assert_eq!(sum, whole);
        assert_eq!(
            whole.share(1, 3),
            WireBytes {
                sent: 3,
                received: 2
            }
        );
    }
}

#[cfg(test)]
mod on_a_socket {
    use super::*;
    use crate::client::McpSession;
    use crate::protocol::jsonrpc::PreparedRequest;
    use crate::protocol::Era;
    use serde_json::{json, Value};
    use std::time::Duration;
    use tokio::io::{AsyncBufReadExt, AsyncWriteExt, BufReader};
    use tokio::net::{TcpListener, TcpStream};

    /// A line server on a loopback socket: answers `initialize`, then each
    /// request with a 5000-byte result; reports the bytes of the first
    /// `ping` line it read and of the reply line it wrote.
    async fn server(listener: TcpListener, seen: tokio::sync::oneshot::Sender<(usize, usize)>) {
        let Ok((socket, _)) = listener.accept().await else {
            return;
        };
        let (r, mut w) = socket.into_split();
        let mut r = BufReader::new(r);
        let mut seen = Some(seen);
        loop {
            let mut line = Vec::new();
            if r.read_until(b'\n', &mut line).await.unwrap_or(0) == 0 {
                return;
            }
            let m: Value = serde_json::from_slice(&line).expect("the client sends JSON");
            let reply = if m["method"] == "initialize" {
                json!({"jsonrpc": "2.0", "id": m["id"], "result": {
                    "protocolVersion": "2025-11-25", "capabilities": {},
                    "serverInfo": {"name": "counting", "version": "0"}}})
            } else if m.get("id").is_some() {
                json!({"jsonrpc": "2.0", "id": m["id"], "result": {"pad": "x".repeat(5000)}})
            } else {
                continue;
            };
            let out = format!("{reply}\n");
            if w.write_all(out.as_bytes()).await.is_err() {
                return;
            }
            if m["method"] == "ping" {
                if let Some(tx) = seen.take() {
                    let _ = tx.send((line.len(), out.len()));
                }
            }
        }
    }

    #[tokio::test]
    async fn a_request_and_its_reply_are_counted_to_the_byte_on_a_loopback_socket() {
        let listener = TcpListener::bind("127.0.0.1:0").await.expect("bind");
        let addr = listener.local_addr().expect("addr");
        let (tx, rx) = tokio::sync::oneshot::channel();
        tokio::spawn(server(listener, tx));
        let (r, w) = TcpStream::connect(addr)
            .await
            .expect("connect")
            .into_split();
        let session = McpSession::connect(r, w, Era::V2025_11_25, Duration::from_secs(5))
            .await
            .expect("handshake");
        let ping = PreparedRequest::new("ping", &json!({}));
        let (outcome, counted) = measure(session.call(&ping)).await;
        outcome.expect("the ping is answered");
        let (sent, received) = rx.await.expect("the server saw the ping");
        assert!(received > 5000);
        assert_eq!(
            counted,
            WireBytes {
                sent: sent as u64,
                received: received as u64
            }
        );
        // Outside a tally nothing is counted, and the handshake was not.
        let ((), none) = measure(async {}).await;
        assert_eq!(none, WireBytes::default());
    }
}
