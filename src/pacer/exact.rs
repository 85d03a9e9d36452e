//! The calibration tools' wait (`sleep`, `sleep_us`): as exact as this
//! process can make it, and it says how long it actually waited.
//!
//! Any wait that ends with a wake-up of a tokio task pays the hand-off from
//! whoever wakes it to a parked runtime worker (a futex wake-up, 50-500 µs
//! on this machine's virtual CPUs; docs/PERFORMANCE.md, "Pacing"). So a
//! short wait (up to [`EXACT_MAX`]) happens on the tool task's own thread:
//! `block_in_place` hands the worker's other tasks to another thread, the
//! thread sleeps with a 1 µs timer slack until [`SPIN_LEAD`] before the end
//! and spins the rest. Spinning takes a core, so at most [`EXACT_WAITERS`]
//! waits do this at once in a process; every other wait (more at once, longer
//! than [`EXACT_MAX`], or on a current-thread runtime, whose clock may be
//! paused) is a plain sleep on the pacer, which costs no CPU.

use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Duration;
use tokio::time::Instant;

/// Longest wait done on the tool's own thread; a longer one's last
/// microseconds matter less and it would hold a thread for long.
pub const EXACT_MAX: Duration = Duration::from_millis(5);
/// Waits on their own thread at once at most, per process: one spinning
/// thread, so on two cores a flood of sleeps leaves the other core (and
/// every runtime worker) to the rest.
pub const EXACT_WAITERS: usize = 1;
/// The last stretch of an exact wait, spun rather than slept: more than a
/// thread's timer wake-up takes here (tens of µs, up to ~150 µs under load).
pub const SPIN_LEAD: Duration = Duration::from_micros(200);
/// Timer slack asked for while sleeping on the tool's thread (Linux).
const EXACT_TIMER_SLACK_NS: u64 = 1_000;

/// How a wait was done.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum WaitKind {
    /// On the tool's own thread, ending with a spin.
    Exact,
    /// A plain sleep on the pacer (the bound was reached, or not possible).
    Plain,
}

/// What a wait took, measured around it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Slept {
    pub waited: Duration,
    pub kind: WaitKind,
}

static EXACT_BUSY: AtomicUsize = AtomicUsize::new(0);

/// One of the [`EXACT_WAITERS`] places counted in `busy`, given back on drop.
pub(crate) struct ExactPermit(&'static AtomicUsize);

impl ExactPermit {
    pub(crate) fn take(busy: &'static AtomicUsize) -> Option<ExactPermit> {
        busy.fetch_update(Ordering::AcqRel, Ordering::Acquire, |n| {
            (n < EXACT_WAITERS).then_some(n + 1)
        })
        .ok()
        .map(|_| ExactPermit(busy))
    }
}

impl Drop for ExactPermit {
    fn drop(&mut self) {
        self.0.fetch_sub(1, Ordering::AcqRel);
    }
}

/// Waits for `d` as exactly as this process can (see the module doc) and
/// says how long it waited and how.
pub async fn sleep_exact(d: Duration) -> Slept {
    sleep_exact_counted(d, &EXACT_BUSY).await
}

/// [`sleep_exact`], its exact waits counted in `busy` (tests count their own).
pub(crate) async fn sleep_exact_counted(d: Duration, busy: &'static AtomicUsize) -> Slept {
    let start = Instant::now();
    let end = start + d;
    let multi_thread = tokio::runtime::Handle::try_current()
        .is_ok_and(|h| h.runtime_flavor() == tokio::runtime::RuntimeFlavor::MultiThread);
    if multi_thread && d <= EXACT_MAX {
        if let Some(permit) = ExactPermit::take(busy) {
            tokio::task::block_in_place(|| wait_on_this_thread(end.into_std()));
            drop(permit);
            return Slept {
                waited: start.elapsed(),
                kind: WaitKind::Exact,
            };
        }
    }
    super::sleep_until(end).await;
    Slept {
        waited: start.elapsed(),
        kind: WaitKind::Plain,
    }
}

/// Sleeps this thread until [`SPIN_LEAD`] before `end`, then spins to it.
fn wait_on_this_thread(end: std::time::Instant) {
    let slack = TimerSlack::lowered();
    loop {
        let now = std::time::Instant::now();
        if now >= end {
            break;
        }
        let left = end - now;
        if left > SPIN_LEAD {
            std::thread::sleep(left - SPIN_LEAD);
        } else {
            std::hint::spin_loop();
        }
    }
    drop(slack);
}

/// This thread's timer slack lowered for a while, restored on drop (the
/// thread is a runtime worker's; its later timers keep their slack).
struct TimerSlack(Option<u64>);

impl TimerSlack {
    #[cfg(target_os = "linux")]
    fn lowered() -> TimerSlack {
        // SAFETY: PR_GET/SET_TIMERSLACK take plain integers and only affect
        // the calling thread's timers.
        let old = unsafe {
            let old = libc::prctl(libc::PR_GET_TIMERSLACK);
            libc::prctl(
                libc::PR_SET_TIMERSLACK,
                EXACT_TIMER_SLACK_NS as libc::c_ulong,
            );
            old
        };
        TimerSlack(u64::try_from(old).ok().filter(|&ns| ns > 0))
    }

    #[cfg(not(target_os = "linux"))]
    fn lowered() -> TimerSlack {
        TimerSlack(None)
    }
}

impl Drop for TimerSlack {
    fn drop(&mut self) {
        #[cfg(target_os = "linux")]
        if let Some(ns) = self.0 {
            // SAFETY: as above.
            unsafe {
                libc::prctl(libc::PR_SET_TIMERSLACK, ns as libc::c_ulong);
            }
        }
    }
}
