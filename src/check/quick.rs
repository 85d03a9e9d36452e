//! `--quick` checks: how long each run is when every run of a check shares
//! one time budget, so a pre-commit check stays short.

use std::time::Duration;

/// `--quick`: the measured time and warm-up of all runs together, so a
/// check of several workloads stays under 20 s with room for start-up.
pub const QUICK_BUDGET: Duration = Duration::from_secs(15);
/// `--quick`: one run's bounds, whatever the number of workloads.
const QUICK_RUN: (Duration, Duration) = (Duration::from_millis(300), Duration::from_secs(1));
const QUICK_WARMUP: (Duration, Duration) = (Duration::from_millis(100), Duration::from_millis(300));
/// A quick check past this says how to get back under it.
pub const QUICK_LIMIT: Duration = Duration::from_secs(20);

/// How long each run of a `--quick` check is: the budget shared by every
/// run, a quarter of each share as warm-up, within bounds.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct QuickPlan {
    pub run: Duration,
    pub warmup: Duration,
}

impl QuickPlan {
    pub fn new(workloads: usize, repeats: u32) -> QuickPlan {
        let runs = (workloads.max(1) as u32).saturating_mul(repeats.max(1));
        let share = QUICK_BUDGET / runs;
        let warmup = (share / 4).clamp(QUICK_WARMUP.0, QUICK_WARMUP.1);
        let run = share.saturating_sub(warmup).clamp(QUICK_RUN.0, QUICK_RUN.1);
        QuickPlan { run, warmup }
    }

    /// Measured time plus warm-up of `runs` runs.
    pub fn total(&self, runs: u32) -> Duration {
        (self.run + self.warmup) * runs
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ms(n: u64) -> Duration {
        Duration::from_millis(n)
    }

    #[test]
    fn quick_runs_share_one_budget_within_bounds() {
        // One or two workloads: the longest runs.
        for n in [1, 2] {
            let p = QuickPlan::new(n, 5);
            assert_eq!((p.run, p.warmup), (ms(1000), ms(300)), "{n} workloads");
        }
        // Three workloads share 15 s: 1 s a run, a quarter of it warm-up.
        let p = QuickPlan::new(3, 5);
        assert_eq!((p.run, p.warmup), (ms(750), ms(250)));
        assert_eq!(p.total(15), Duration::from_secs(15));
        let p = QuickPlan::new(5, 5);
        assert_eq!((p.run, p.warmup), (ms(450), ms(150)));
        // Many workloads: the shortest runs, and past the limit.
        let p = QuickPlan::new(20, 5);
        assert_eq!((p.run, p.warmup), (ms(300), ms(100)));
        assert!(p.total(100) > QUICK_LIMIT);
        // Zero is treated as one.
        assert_eq!(QuickPlan::new(0, 0), QuickPlan::new(1, 1));
    }
}
