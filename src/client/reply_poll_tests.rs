//! The reply poll's rule (when a send gets a window, and how long) and its
//! loop against a scripted clock: it never polls past its window, it stops
//! at the reply, and only a scheduler's scope gives a task a window.

use super::*;
use std::cell::Cell;
use std::rc::Rc;

const US: fn(u64) -> Duration = Duration::from_micros;

#[test]
fn closed_loop_never_gets_a_window() {
    assert_eq!(window_for(None, 1, 1, true), Duration::ZERO);
    assert_eq!(window_for(None, 1, 16, true), Duration::ZERO);
}

#[test]
fn no_window_unless_the_spin_rule_says_a_core_is_idle() {
    assert_eq!(window_for(Some(US(200)), 1, 1, false), Duration::ZERO);
    assert_eq!(window_for(Some(US(200)), 1, 1, true), US(100));
}

#[test]
fn no_window_with_many_sessions_or_a_deeper_pipeline() {
    let gap = Some(US(2_000));
    assert_eq!(window_for(gap, MAX_SESSIONS, 1, true), MAX_WINDOW);
    assert_eq!(window_for(gap, MAX_SESSIONS + 1, 1, true), Duration::ZERO);
    assert_eq!(window_for(gap, 1, 2, true), Duration::ZERO);
}

#[test]
fn the_window_is_at_most_half_the_gap_and_at_most_the_cap() {
    // 500/s: the cap; 5,000/s: half of 200 µs; 20,000/s: half of 50 µs.
    assert_eq!(window_for(Some(US(2_000)), 1, 1, true), US(100));
    assert_eq!(window_for(Some(US(200)), 1, 1, true), US(100));
    assert_eq!(window_for(Some(US(50)), 1, 1, true), US(25));
}

/// A clock that moves `step` each time it is read, and counts the pauses.
fn scripted(step: Duration) -> (impl FnMut() -> Duration, Rc<Cell<Duration>>) {
    let now = Rc::new(Cell::new(Duration::ZERO));
    let clock = now.clone();
    (
        move || {
            clock.set(clock.get() + step);
            clock.get()
        },
        now,
    )
}

#[tokio::test]
async fn the_poll_never_runs_past_its_window() {
    let (_tx, rx) = oneshot::channel::<u32>();
    let (elapsed, now) = scripted(US(7));
    let pauses = Rc::new(Cell::new(0u32));
    let p = pauses.clone();
    let pause = move || {
        p.set(p.get() + 1);
        std::future::ready(())
    };
    let (_rx, polled) = poll_for(rx, US(100), elapsed, pause).await;
    // Reads at 7, 14, ..., 98 µs are inside the window (14 pauses); the
    // 15th read, 105 µs, ends it: one check per read, no pause after it.
    assert_eq!(polled, Polled::Spent(15));
    assert_eq!(pauses.get(), 14);
    assert_eq!(now.get(), US(105));
}

#[tokio::test]
async fn the_poll_stops_at_the_reply() {
    let (tx, rx) = oneshot::channel::<u32>();
    let (elapsed, now) = scripted(US(5));
    let mut tx = Some(tx);
    let mut pauses = 0;
    // The reply lands during the third pause.
    let pause = move || {
        pauses += 1;
        if pauses == 3 {
            if let Some(tx) = tx.take() {
                tx.send(42).expect("receiver alive");
            }
        }
        std::future::ready(())
    };
    let (_rx, polled) = poll_for(rx, US(100), elapsed, pause).await;
    assert_eq!(polled, Polled::Ready(42));
    assert_eq!(now.get(), US(15));
}

#[tokio::test]
async fn a_gone_sender_ends_the_poll() {
    let (tx, rx) = oneshot::channel::<u32>();
    drop(tx);
    let (elapsed, _) = scripted(US(1));
    let (_rx, polled) = poll_for(rx, US(100), elapsed, || std::future::ready(())).await;
    assert_eq!(polled, Polled::Gone);
}

#[tokio::test]
async fn only_a_scheduler_scope_gives_a_window_or_takes_the_direct_write() {
    assert_eq!((current_window(), direct_allowed()), (Duration::ZERO, true));
    let hint = Hint {
        window: US(80),
        direct: false,
    };
    let inside = scope(hint, async { (current_window(), direct_allowed()) }).await;
    assert_eq!(inside, (US(80), false));
    assert_eq!((current_window(), direct_allowed()), (Duration::ZERO, true));
}

/// A session against a scripted server that answers `initialize` and then
/// every request with an empty result.
async fn session() -> crate::client::McpSession {
    use tokio::io::{AsyncBufReadExt, AsyncWriteExt};
    let (client, server) = tokio::io::duplex(1 << 16);
    tokio::spawn(async move {
        let (r, mut w) = tokio::io::split(server);
        let mut lines = tokio::io::BufReader::new(r).lines();
        while let Ok(Some(line)) = lines.next_line().await {
            let msg: serde_json::Value = serde_json::from_str(&line).expect("JSON");
            let Some(id) = msg.get("id") else { continue };
            let result = match msg["method"].as_str() {
                Some("initialize") => serde_json::json!({"protocolVersion": "2025-06-18",
                    "capabilities": {}, "serverInfo": {"name": "s", "version": "1"}}),
                _ => serde_json::json!({}),
            };
            let reply = serde_json::json!({"jsonrpc": "2.0", "id": id, "result": result});
            if w.write_all(format!("{reply}\n").as_bytes()).await.is_err() {
                return;
            }
        }
    });
    let (r, w) = tokio::io::split(client);
    let era = crate::protocol::Era::V2025_11_25;
    crate::client::McpSession::connect(r, w, era, Duration::from_secs(5))
        .await
        .expect("connect")
}

/// Whether a lone request sent under `hint` was written by its own task.
async fn written_by_itself(hint: Hint) -> bool {
    let s = session().await;
    let ping = crate::protocol::jsonrpc::PreparedRequest::new("ping", &serde_json::json!({}));
    // The initialized notification is queued for the writer task: once a
    // first ping's reply is back, that queue has been written and is idle.
    s.call(&ping).await.expect("first ping answered");
    let call = scope(hint, crate::client::writer::traced(s.call(&ping)));
    let (reply, written) = call.await;
    reply.expect("ping answered");
    written.is_some()
}

#[tokio::test]
async fn a_lone_request_is_written_by_itself_only_where_the_scheduler_allows() {
    let hint = |direct| Hint {
        window: Duration::ZERO,
        direct,
    };
    assert!(written_by_itself(hint(true)).await);
    // Closed loop at several in flight per session: the writer task writes.
    assert!(!written_by_itself(hint(false)).await);
}
