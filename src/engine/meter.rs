//! The asked-send meter: how many sends the schedule asked for, as the
//! integral of the asked rate over measured, unpaused time.

use tokio::time::Instant;

/// Asked sends: the integral of the asked rate over measured, unpaused time.
pub(super) struct AskedMeter {
    /// Asked sends count from here (the end of warm-up).
    pub measure_start: Instant,
    pub since: Instant,
    pub rate: Option<f64>,
    pub total: f64,
}

impl AskedMeter {
    pub fn advance(&mut self, now: Instant, measuring: bool, paused: bool) {
        if measuring && !paused {
            if let Some(rate) = self.rate {
                let from = self.since.max(self.measure_start);
                self.total += rate * now.saturating_duration_since(from).as_secs_f64();
            }
        }
        self.since = now;
    }
}
