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
