//! The faults' clock: a fault's `at` is measured time, which stands still
//! while the run is paused, so a pause moves every fault still to come by
//! its length (as it moves the run's end). It follows the scheduler's plan,
//! where pauses are announced.

use super::scheduler::Plan;
use std::time::Duration;
use tokio::sync::watch;
use tokio::time::{sleep_until, Instant};

pub struct FaultClock {
    plan: watch::Receiver<Plan>,
    paused_since: Option<Instant>,
    paused_total: Duration,
}

impl FaultClock {
    pub fn new(plan: watch::Receiver<Plan>) -> FaultClock {
        FaultClock {
            plan,
            paused_since: None,
            paused_total: Duration::ZERO,
        }
    }

    fn observe(&mut self) {
        let paused = self.plan.borrow_and_update().paused;
        let now = Instant::now();
        match (paused, self.paused_since) {
            (true, None) => self.paused_since = Some(now),
            (false, Some(since)) => {
                self.paused_total += now - since;
                self.paused_since = None;
            }
            _ => {}
        }
    }

    /// Measured time from `start` to now: what a fault's `at_s` reports,
    /// on the clock its `at` was given in (and its chart marker drawn at).
    pub fn measured(&mut self, start: Instant) -> Duration {
        self.observe();
        let now = Instant::now();
        let pausing = self.paused_since.map_or(Duration::ZERO, |p| now - p);
        now.saturating_duration_since(start)
            .saturating_sub(self.paused_total + pausing)
    }

    /// Waits until `at` of measured time from `start` has passed.
    pub async fn until(&mut self, start: Instant, at: Duration) {
        loop {
            self.observe();
            let due = start + at + self.paused_total;
            if self.paused_since.is_some() {
                if self.plan.changed().await.is_err() {
                    // Nobody steers the run any more: the pause is over.
                    sleep_until(due).await;
                    return;
                }
                continue;
            }
            tokio::select! {
                _ = sleep_until(due) => return,
                changed = self.plan.changed() => if changed.is_err() {
                    sleep_until(due).await;
                    return;
                }
            }
        }
    }
}
