//! The open-loop scheduler's last stretch before a planned send, finished
//! on its runtime worker instead of waiting for the pacer's wake-up.
//!
//! Waking a parked tokio worker from the pacer thread costs a futex wake-up
//! of an idle virtual CPU: tens of µs at best, hundreds under load
//! (docs/PERFORMANCE.md, "Pacing", the 5,000/s step table). At thousands of
//! sends a second that wake-up is most of the send lag. So, when a core is
//! spare, the pacer wakes the scheduler [`worker_lead`] early and the
//! scheduler yields in a loop on its worker until the planned instant: the
//! worker is awake when the time comes (and keeps polling for replies
//! meanwhile, as a yielding worker polls its I/O driver).
//!
//! When: only while the pacer's last look at `/proc/stat` found most of a
//! core idle ([`super::SPARE_CORE_SHARE`], these spins counted as idle so
//! they do not switch themselves off), and never more than [`MAX_LEAD_SHARE`]
//! of the gap between sends, so at most that share of one core goes to it.
//! Near the rate ceiling the target and mcptop keep the cores busy, the idle
//! share drops and the scheduler only waits on the pacer.

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::OnceLock;
use std::time::Duration;
use tokio::time::Instant;

/// The longest lead: about a worker's wake-up on a loaded 2-core VM.
pub const WORKER_LEAD: Duration = Duration::from_micros(150);
/// The lead's most of the gap between sends (so of one core's time).
pub const MAX_LEAD_SHARE: f64 = 0.5;

/// Nanoseconds spent in the finishing loops, for the pacer's idle check.
pub(super) static SPUN_NS: AtomicU64 = AtomicU64::new(0);

/// [`WORKER_LEAD`], or `MCPTOP_WORKER_LEAD_US` (0 turns the lead off, to
/// measure against).
fn longest_lead() -> Duration {
    static LEAD: OnceLock<Duration> = OnceLock::new();
    *LEAD.get_or_init(|| {
        std::env::var("MCPTOP_WORKER_LEAD_US")
            .ok()
            .and_then(|us| us.parse().ok())
            .map_or(WORKER_LEAD, Duration::from_micros)
    })
}

/// How early to wake a scheduler whose sends are `gap` apart: zero unless
/// a core is spare (see the module doc).
pub fn worker_lead(gap: Duration) -> Duration {
    lead_for(gap, longest_lead(), super::spare_core_now())
}

fn lead_for(gap: Duration, longest: Duration, spare_core: bool) -> Duration {
    if !spare_core {
        return Duration::ZERO;
    }
    longest.min(gap.mul_f64(MAX_LEAD_SHARE))
}

/// Waits until `t` for a scheduler whose sends are `gap` apart: on the
/// pacer, then (with a lead) yielding on the worker for the last stretch.
/// Says when the pacer fired, as [`super::sleep_until_fired`].
pub async fn sleep_until_on_worker(t: Instant, gap: Duration) -> Option<Instant> {
    let lead = worker_lead(gap);
    let Some(early) = t.checked_sub(lead).filter(|_| !lead.is_zero()) else {
        return super::sleep_until_fired(t).await;
    };
    let fired = super::sleep_until_fired(early).await;
    let start = Instant::now();
    while Instant::now() < t {
        tokio::task::yield_now().await;
    }
    SPUN_NS.fetch_add(start.elapsed().as_nanos() as u64, Ordering::Relaxed);
    fired
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_lead_needs_a_spare_core_and_at_most_half_the_gap() {
        let us = Duration::from_micros;
        assert_eq!(lead_for(us(2_000), us(150), false), Duration::ZERO);
        assert_eq!(lead_for(us(2_000), us(150), true), us(150));
        // 5,000/s: half of the 200 µs gap.
        assert_eq!(lead_for(us(200), us(150), true), us(100));
        assert_eq!(lead_for(us(2_000), Duration::ZERO, true), Duration::ZERO);
    }
}
