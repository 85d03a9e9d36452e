//! Where every planned request ended: exactly one bucket each (ok, an
//! error by kind, timed out, lost, not sent, or still unanswered when the
//! drain gave up), and the check that the buckets add up to what was
//! planned. Read from the run's own counts; nothing here is estimated.

use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;

/// The buckets of a run's measured requests.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Accounting {
    /// Requests the run planned in its measured phase: the schedule's asked
    /// count in open loop (or the sends, if more), the sends in closed loop.
    pub planned: u64,
    pub ok: u64,
    /// Failures with a reply or a cause other than the three below, by kind.
    pub errors: BTreeMap<String, u64>,
    pub timed_out: u64,
    /// Sent, and their connection died before the reply.
    pub lost: u64,
    /// Never sent: their session was down, or the schedule asked for them
    /// while no session could take them.
    pub not_sent: u64,
    /// Sent and still unanswered when the drain ended.
    pub unanswered: u64,
    /// Sum of every bucket; equals `planned` when nothing is unaccounted for.
    pub sum: u64,
}

impl Accounting {
    /// Several shards' buckets as one run's: every bucket summed, so the
    /// merged sum still equals the merged plan when each shard's did.
    pub fn summed<'a>(parts: impl IntoIterator<Item = &'a Accounting>) -> Accounting {
        let mut all = Accounting::default();
        for p in parts {
            all.planned += p.planned;
            all.ok += p.ok;
            for (kind, n) in &p.errors {
                *all.errors.entry(kind.clone()).or_default() += n;
            }
            all.timed_out += p.timed_out;
            all.lost += p.lost;
            all.not_sent += p.not_sent;
            all.unanswered += p.unanswered;
            all.sum += p.sum;
        }
        all
    }

    /// Buckets from a run's counts: `asked` (the schedule's planned count),
    /// `sends` (requests handed to a session), the successes, the failures
    /// by kind label, and the requests still in flight at the end.
    pub fn from_counts(
        asked: u64,
        sends: u64,
        ok: u64,
        errors_by_kind: &BTreeMap<String, u64>,
        unanswered: u64,
    ) -> Accounting {
        let mut errors = errors_by_kind.clone();
        let timed_out = errors.remove("timeout").unwrap_or(0);
        let lost = errors.remove("lost").unwrap_or(0);
        let never_dispatched = asked.saturating_sub(sends);
        let not_sent = errors.remove("not_sent").unwrap_or(0) + never_dispatched;
        let sum = ok + errors.values().sum::<u64>() + timed_out + lost + not_sent + unanswered;
        Accounting {
            planned: asked.max(sends),
            ok,
            errors,
            timed_out,
            lost,
            not_sent,
            unanswered,
            sum,
        }
    }

    /// True when every planned request is in exactly one bucket.
    pub fn balanced(&self) -> bool {
        self.sum == self.planned
    }

    /// One line for the summary.
    pub fn describe(&self) -> String {
        let errors: u64 = self.errors.values().sum();
        format!(
            "{} planned = {} ok + {} errors + {} timed out + {} lost + {} not sent + {} unanswered{}",
            self.planned,
            self.ok,
            errors,
            self.timed_out,
            self.lost,
            self.not_sent,
            self.unanswered,
            if self.balanced() {
                String::new()
            } else {
                format!(" (sum {}: UNACCOUNTED)", self.sum)
            }
        )
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_bucket_is_counted_once_and_sums_to_the_plan() {
        let kinds = BTreeMap::from([
            ("timeout".to_string(), 3),
            ("lost".to_string(), 2),
            ("not_sent".to_string(), 4),
            ("jsonrpc -32603".to_string(), 1),
        ]);
        // 100 asked, 97 handed to sessions: 3 never dispatched are not sent.
        let a = Accounting::from_counts(100, 97, 87, &kinds, 0);
        assert_eq!(a.timed_out, 3);
        assert_eq!(a.lost, 2);
        assert_eq!(a.not_sent, 7);
        assert_eq!(
            a.errors,
            BTreeMap::from([("jsonrpc -32603".to_string(), 1)])
        );
        assert_eq!(a.sum, 100);
        assert!(a.balanced(), "{}", a.describe());
    }

    #[test]
    fn a_missing_request_shows_as_unaccounted() {
        let a = Accounting::from_counts(10, 10, 8, &BTreeMap::new(), 1);
        assert!(!a.balanced());
        assert!(a.describe().contains("UNACCOUNTED"), "{}", a.describe());
    }
}
