//! The SSE resumption check: the numbers a stream of numbered events
//! carries (the builtin `events` tool's progress 1, 2, ... N) must each
//! arrive exactly once and in order, across a drop and a `Last-Event-ID`
//! resumption. A number seen again is a duplicate; a number skipped is a
//! gap; both are protocol violations, named by their numbers.

use serde_json::Value;
use std::time::Duration;

/// When to drop a call's reply stream, and how long to stay away.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct ResumePlan {
    /// Numbered events to read before dropping the stream.
    pub after: u32,
    /// Time between the drop and the resume request (a client that was
    /// away that long); zero resumes at once.
    pub delay: Duration,
}

/// Numbers named in an error at most, so a broken stream of 10 000 events
/// does not make a 10 000-number message.
const MAX_NAMED: usize = 8;

/// What a stream carried so far. Memory is bounded whatever a server
/// sends: the numbers named are the first [`MAX_NAMED`], the rest counted.
#[derive(Debug, Default, Clone, PartialEq)]
pub struct Sequence {
    /// The number expected next (the first is 1).
    next: u64,
    pub received: u64,
    /// Numbers that arrived again (or out of order, below `next`).
    pub duplicates: u64,
    /// Numbers skipped.
    pub missing: u64,
    named_duplicates: Vec<u64>,
    /// Ranges `(from, to)` skipped, inclusive.
    named_gaps: Vec<(u64, u64)>,
    gaps: u64,
}

impl Sequence {
    pub fn new() -> Sequence {
        Sequence {
            next: 1,
            ..Sequence::default()
        }
    }

    /// The highest number in order so far.
    pub fn last(&self) -> u64 {
        self.next - 1
    }

    pub fn see(&mut self, n: u64) {
        self.received += 1;
        if n < self.next {
            self.duplicates += 1;
            if self.named_duplicates.len() < MAX_NAMED {
                self.named_duplicates.push(n);
            }
            return;
        }
        if n > self.next {
            self.gap(self.next, n - 1);
        }
        self.next = n + 1;
    }

    fn gap(&mut self, from: u64, to: u64) {
        self.gaps += 1;
        self.missing += to - from + 1;
        if self.named_gaps.len() < MAX_NAMED {
            self.named_gaps.push((from, to));
        }
    }

    /// At the end: `expected` numbers should have come, each once.
    pub fn finish(&mut self, expected: u64) -> Result<(), String> {
        if self.last() < expected {
            self.gap(self.next, expected);
            self.next = expected + 1;
        }
        if self.duplicates == 0 && self.gaps == 0 {
            return Ok(());
        }
        let mut parts = Vec::new();
        if self.duplicates > 0 {
            let numbers = self.named_duplicates.iter().map(u64::to_string);
            parts.push(format!(
                "event {} arrived twice",
                named(numbers, self.duplicates)
            ));
        }
        if self.gaps > 0 {
            let ranges = self.named_gaps.iter().map(|&(a, b)| {
                if a == b {
                    a.to_string()
                } else {
                    format!("{a}-{b}")
                }
            });
            parts.push(format!("event {} never arrived", named(ranges, self.gaps)));
        }
        Err(format!("SSE resumption: {}", parts.join("; ")))
    }
}

fn named(items: impl Iterator<Item = String>, total: u64) -> String {
    let mut shown: Vec<String> = items.collect();
    if total > shown.len() as u64 {
        shown.push(format!("and {} more", total - shown.len() as u64));
    }
    shown.join(", ")
}

/// The number a `notifications/progress` for `token` carries, from the
/// event's JSON text; `None` for anything else.
pub fn event_number(message: &Value, token: &str) -> Option<u64> {
    if message.get("method")?.as_str()? != "notifications/progress" {
        return None;
    }
    let params = message.get("params")?;
    let ours = match params.get("progressToken")? {
        Value::String(s) => s == token,
        Value::Number(n) => n.as_i64().is_some_and(|n| token.parse() == Ok(n)),
        _ => false,
    };
    if !ours {
        return None;
    }
    let progress = params.get("progress")?.as_f64()?;
    (progress >= 0.0 && progress.fract() == 0.0).then_some(progress as u64)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn in_order_once_each_is_clean() {
        let mut s = Sequence::new();
        (1..=100).for_each(|n| s.see(n));
        assert_eq!(s.finish(100), Ok(()));
        assert_eq!(s.received, 100);
    }

    #[test]
    fn a_duplicate_and_a_gap_are_named_by_number() {
        let mut s = Sequence::new();
        for n in [1, 2, 3, 3, 4, 7, 8] {
            s.see(n);
        }
        assert_eq!(
            s.finish(10),
            Err("SSE resumption: event 3 arrived twice; event 5-6, 9-10 never arrived".into())
        );
        assert_eq!((s.missing, s.duplicates), (4, 1));
    }

    #[test]
    fn long_lists_are_cut_short() {
        let mut s = Sequence::new();
        for n in (2..=40).step_by(2) {
            s.see(n);
        }
        let e = s.finish(40).expect_err("gaps");
        assert!(e.ends_with("and 12 more never arrived"), "{e}");
    }

    #[test]
    fn only_our_progress_numbers_count() {
        let ours = serde_json::json!({"jsonrpc":"2.0","method":"notifications/progress",
            "params":{"progressToken":"t","progress":5.0,"total":9.0}});
        assert_eq!(event_number(&ours, "t"), Some(5));
        assert_eq!(event_number(&ours, "u"), None);
        let numeric = serde_json::json!({"method":"notifications/progress",
            "params":{"progressToken":7,"progress":2}});
        assert_eq!(event_number(&numeric, "7"), Some(2));
        let log = serde_json::json!({"method":"notifications/message","params":{}});
        assert_eq!(event_number(&log, "t"), None);
        let half = serde_json::json!({"method":"notifications/progress",
            "params":{"progressToken":"t","progress":0.5}});
        assert_eq!(event_number(&half, "t"), None);
    }
}
