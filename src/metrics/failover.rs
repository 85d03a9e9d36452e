//! The failover figures of a run (`failover = true`, result file
//! `failover`): how many sessions moved to another target, how long each
//! move took (failure seen to the first reply from the next target), the
//! requests lost and not sent while moving, and the share of the replies
//! each target gave.

use serde::{Deserialize, Serialize};
use std::sync::Arc;

/// Where the recorder reads the failover figures at each tick, so that the
/// live screen and `/metrics` show them while the run goes: the engine
/// sums its sessions' moves on demand. Empty (`None` figures) without
/// failover.
#[derive(Clone, Default)]
pub struct FailoverSource(Option<Arc<dyn Fn() -> Option<FailoverReport> + Send + Sync>>);

impl FailoverSource {
    pub fn new(read: impl Fn() -> Option<FailoverReport> + Send + Sync + 'static) -> Self {
        FailoverSource(Some(Arc::new(read)))
    }

    /// The figures now; `None` without failover.
    pub fn read(&self) -> Option<FailoverReport> {
        self.0.as_ref().and_then(|read| read())
    }
}

/// What one session did, as its `Resilient` wrapper saw it.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct SessionMoves {
    /// Each move's time, seconds; `None` for a move that never got a reply.
    pub took_s: Vec<Option<f64>>,
    pub lost: u64,
    pub not_sent: u64,
    /// Replies per target, in the targets' order.
    pub answered: Vec<u64>,
}

/// The replies one target gave.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct TargetShare {
    pub target: String,
    pub ok: u64,
    /// Of every reply of the run, warm-up included.
    pub share_pct: f64,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct FailoverReport {
    pub targets: Vec<String>,
    pub failover_timeouts: u32,
    pub sessions: u32,
    pub sessions_migrated: u32,
    pub migrated_pct: f64,
    /// Moves made (a session may move more than once).
    pub migrations: u64,
    /// Moves that had not got a reply from any target when the run ended.
    pub migrations_unfinished: u64,
    /// Failure seen to first reply on the next target, over finished moves.
    pub failover_p50_s: Option<f64>,
    pub failover_max_s: Option<f64>,
    /// Requests lost and not sent while sessions were moving.
    pub requests_lost: u64,
    pub requests_not_sent: u64,
    pub answered: Vec<TargetShare>,
}

/// The nearest-rank quantile `q` of sorted `values`.
fn quantile(sorted: &[f64], q: f64) -> Option<f64> {
    if sorted.is_empty() {
        return None;
    }
    let rank = ((q * sorted.len() as f64).ceil() as usize).clamp(1, sorted.len());
    sorted.get(rank - 1).copied()
}

impl FailoverReport {
    pub fn build(targets: Vec<String>, timeouts: u32, sessions: &[SessionMoves]) -> FailoverReport {
        let mut took: Vec<f64> = sessions
            .iter()
            .flat_map(|s| s.took_s.iter().flatten().copied())
            .collect();
        took.sort_by(f64::total_cmp);
        let migrations: u64 = sessions.iter().map(|s| s.took_s.len() as u64).sum();
        let migrated = sessions.iter().filter(|s| !s.took_s.is_empty()).count() as u32;
        let total = sessions.len() as u32;
        let mut ok = vec![0u64; targets.len()];
        for s in sessions {
            for (sum, n) in ok.iter_mut().zip(&s.answered) {
                *sum += n;
            }
        }
        let all: u64 = ok.iter().sum();
        let answered = targets
            .iter()
            .zip(&ok)
            .map(|(t, &n)| TargetShare {
                target: t.clone(),
                ok: n,
                share_pct: if all == 0 {
                    0.0
                } else {
                    n as f64 * 100.0 / all as f64
                },
            })
            .collect();
        FailoverReport {
            targets,
            failover_timeouts: timeouts,
            sessions: total,
            sessions_migrated: migrated,
            migrated_pct: if total == 0 {
                0.0
            } else {
                f64::from(migrated) * 100.0 / f64::from(total)
            },
            migrations,
            migrations_unfinished: migrations - took.len() as u64,
            failover_p50_s: quantile(&took, 0.5),
            failover_max_s: took.last().copied(),
            requests_lost: sessions.iter().map(|s| s.lost).sum(),
            requests_not_sent: sessions.iter().map(|s| s.not_sent).sum(),
            answered,
        }
    }

    /// The summary's lines.
    pub fn describe(&self) -> Vec<String> {
        let time = match (self.failover_p50_s, self.failover_max_s) {
            (Some(p50), Some(max)) => format!("failover time p50 {p50:.3}s max {max:.3}s"),
            _ => "no failover finished".into(),
        };
        let shares: Vec<String> = self
            .answered
            .iter()
            .map(|t| format!("{} {:.1}% ({})", t.target, t.share_pct, t.ok))
            .collect();
        vec![
            format!(
                "failover: {}/{} sessions migrated ({:.1}%), {} moves ({} unfinished), {time}, \
                 lost {} and not sent {} while moving",
                self.sessions_migrated,
                self.sessions,
                self.migrated_pct,
                self.migrations,
                self.migrations_unfinished,
                self.requests_lost,
                self.requests_not_sent
            ),
            format!("  replies by target: {}", shares.join(", ")),
        ]
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn figures_add_up_over_sessions() {
        let moved = |t: &[Option<f64>], lost, answered: [u64; 2]| SessionMoves {
            took_s: t.to_vec(),
            lost,
            not_sent: 1,
            answered: answered.to_vec(),
        };
        let r = FailoverReport::build(
            vec!["a".into(), "b".into()],
            3,
            &[
                moved(&[Some(0.2)], 1, [10, 30]),
                moved(&[Some(0.1), None], 2, [20, 20]),
                moved(&[], 0, [20, 0]),
                moved(&[Some(0.4)], 0, [0, 0]),
            ],
        );
        assert_eq!((r.sessions, r.sessions_migrated), (4, 3));
        assert_eq!(r.migrated_pct, 75.0);
        assert_eq!((r.migrations, r.migrations_unfinished), (4, 1));
        assert_eq!(r.failover_p50_s, Some(0.2));
        assert_eq!(r.failover_max_s, Some(0.4));
        assert_eq!((r.requests_lost, r.requests_not_sent), (3, 4));
        assert_eq!((r.answered[0].ok, r.answered[1].ok), (50, 50));
        assert_eq!(r.answered[1].share_pct, 50.0);
        assert!(r.describe()[0].contains("3/4 sessions migrated (75.0%)"));
    }
}
