//! Waiting for the reply of a lone request by polling it for a bounded
//! window before parking (issue 17D).
//!
//! On an idle 2-core VM (cpuidle `haltpoll`, its guest poll shrunk to 0) a
//! parked worker's virtual CPU halts, and waking it costs tens of µs. At
//! 5,000 paced sends a second against a server that answers in ~20 µs, a
//! request task that parks while its reply is on the way pays that wake-up
//! once more per round trip. So an open-loop scheduler may give its request
//! task a *poll window* (a task-local set by [`scope`]): after its request
//! was written by its own task, the task checks its reply slot, yielding on
//! its worker in between (a yielding worker keeps polling its run queue and,
//! when it holds it, the I/O driver), until the reply is there or the window
//! is spent; then it parks as before.
//!
//! When (decided by the scheduler with [`window_for`]): open loop only
//! (closed loop never gets a window), a few sessions at most, pipeline 1,
//! and only while the pacer's spare-core rule says a core is idle
//! (`crate::pacer::spare_core_now`, 0.75 of a core idle over the last
//! 250 ms, these polls counted as idle like the pacer's own spins); the
//! window is at most half the gap between sends and at most
//! [`MAX_WINDOW`]. Near the rate ceiling no core is idle, so no window.
//! Coordinated-omission correction is untouched: the reply's instant is
//! still the reader's, and latency still counts from the planned start.

use std::time::Duration;
use tokio::sync::oneshot::{self, error::TryRecvError};

/// The longest poll window, whatever the gap.
pub const MAX_WINDOW: Duration = Duration::from_micros(100);
/// The share of the gap between sends a window may take at most.
pub const MAX_WINDOW_SHARE: f64 = 0.5;
/// Sessions above which an open loop gets no window (each would poll).
pub const MAX_SESSIONS: usize = 2;

/// What a scheduler tells the request task it spawns.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Hint {
    /// How long to poll for the reply (zero: park at once).
    pub window: Duration,
    /// Whether a lone request may be written by its own task: only where
    /// the session holds one request at a time by plan (open loop at
    /// pipeline 1, closed loop at one in flight per session). At 16 in
    /// flight a request finds itself alone for a moment after a burst of
    /// replies, and writing it at once splits what the writer task would
    /// have joined into one write (docs/PERFORMANCE.md, issue 17D).
    pub direct: bool,
}

tokio::task_local! {
    static HINT: Hint;
}

/// The poll window for a send, from what the scheduler knows: its load
/// shape (`gap` between sends in open loop, `None` in closed loop), its
/// sessions and pipeline, and whether a core is spare now.
pub fn window_for(gap: Option<Duration>, sessions: usize, pipeline: u32, spare: bool) -> Duration {
    match gap {
        Some(gap) if spare && sessions <= MAX_SESSIONS && pipeline <= 1 && enabled() => {
            MAX_WINDOW.min(gap.mul_f64(MAX_WINDOW_SHARE))
        }
        _ => Duration::ZERO,
    }
}

/// `MCPTOP_REPLY_POLL=0` turns the poll off, to measure against.
fn enabled() -> bool {
    static ON: std::sync::OnceLock<bool> = std::sync::OnceLock::new();
    *ON.get_or_init(|| std::env::var("MCPTOP_REPLY_POLL").map_or(true, |v| v != "0"))
}

/// Runs `call` with the scheduler's hint for the request it sends.
pub async fn scope<F: std::future::Future>(hint: Hint, call: F) -> F::Output {
    HINT.scope(hint, call).await
}

/// This task's poll window (zero outside [`scope`]).
fn current_window() -> Duration {
    HINT.try_with(|h| h.window).unwrap_or(Duration::ZERO)
}

/// Whether this task's lone request may be written by the task itself:
/// as the scheduler's hint says, and always outside a scheduler (the
/// handshake, probes), where requests go one at a time.
pub fn direct_allowed() -> bool {
    HINT.try_with(|h| h.direct).unwrap_or(true)
}

/// Waits for the reply on `rx`: polled for this task's window first when
/// `written` (the request went out by this task), else parked at once.
/// `None` when the sender is gone.
pub async fn wait<T>(rx: oneshot::Receiver<T>, written: bool) -> Option<T> {
    let window = if written {
        current_window()
    } else {
        Duration::ZERO
    };
    if window.is_zero() {
        return rx.await.ok();
    }
    let start = std::time::Instant::now();
    let (rx, polled) = poll_for(rx, window, || start.elapsed(), tokio::task::yield_now).await;
    crate::pacer::note_spun(start.elapsed());
    match polled {
        Polled::Ready(v) => Some(v),
        Polled::Gone => None,
        Polled::Spent(_) => rx.await.ok(),
    }
}

/// What polling found.
#[derive(Debug, PartialEq, Eq)]
pub(crate) enum Polled<T> {
    Ready(T),
    Gone,
    /// The window was spent after this many checks.
    Spent(u32),
}

/// Checks `rx` until it holds a value or `elapsed()` reaches `window`,
/// calling `pause` between checks; gives `rx` back for the parked wait.
pub(crate) async fn poll_for<T, E, P, Fut>(
    mut rx: oneshot::Receiver<T>,
    window: Duration,
    mut elapsed: E,
    mut pause: P,
) -> (oneshot::Receiver<T>, Polled<T>)
where
    E: FnMut() -> Duration,
    P: FnMut() -> Fut,
    Fut: std::future::Future<Output = ()>,
{
    let mut checks = 0u32;
    loop {
        checks += 1;
        match rx.try_recv() {
            Ok(v) => return (rx, Polled::Ready(v)),
            Err(TryRecvError::Closed) => return (rx, Polled::Gone),
            Err(TryRecvError::Empty) => {}
        }
        if elapsed() >= window {
            return (rx, Polled::Spent(checks));
        }
        pause().await;
    }
}

#[cfg(test)]
#[path = "reply_poll_tests.rs"]
mod tests;
