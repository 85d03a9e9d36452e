//! How a long run's intervals stay bounded: the newest hour is kept at the
//! recorder's tick (one second), older intervals are merged into coarser
//! ones (10 s up to a day old, 60 s before that), and past `MAX_INTERVALS`
//! the oldest go. Merging is exact: counts are summed, rates are weighted
//! by width, histograms are added and the percentiles of a merged interval
//! are read from its added histograms. Every interval keeps its own width
//! (`length_s`), so readers never assume one second. A recorder keeps its
//! intervals' histograms on a `Shelf` (a temporary file), not in memory.

use super::percentiles;
use super::snapshot::IntervalStats;
use super::timeline::{OpIntervalHistograms, TimelineInterval};
use super::{decode_histogram, encode_histogram, new_histogram};
use hdrhistogram::Histogram;
use std::collections::VecDeque;

mod ring;
mod shelf;
pub use ring::Ring;
pub use shelf::{Shelf, Shelved, ShelvedHistory};

/// One step of coarseness: intervals of up to `width_s`, kept while they
/// ended less than `keep_s` before the newest.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Tier {
    pub width_s: f64,
    pub keep_s: f64,
}

/// 1 s for the last hour, 10 s for the last day, 60 s before.
pub const TIERS: [Tier; 3] = [
    Tier {
        width_s: 1.0,
        keep_s: 3_600.0,
    },
    Tier {
        width_s: 10.0,
        keep_s: 86_400.0,
    },
    Tier {
        width_s: 60.0,
        keep_s: f64::INFINITY,
    },
];

/// Intervals kept in all; a 24 h run needs 3,600 + 8,280 = 11,880. Past
/// this (about twelve days) the oldest are dropped.
pub const MAX_INTERVALS: usize = 20_000;

/// A coarser tier grows by this many intervals at a time (an hour of the
/// 10 s tier), not by doubling: doubled, the 10 s tier's buffer went to
/// 16,384 intervals for the 8,280 a day keeps (4.5 MB of 272-byte recorder
/// intervals where 2.3 MB are used).
const COARSE_GROWTH: usize = 360;

/// Said in the result file beside the intervals.
pub const RETENTION_NOTE: &str =
    "intervals are 1 s for the last hour of the run, merged into 10 s \
     up to a day old and 60 s before (counts summed, histograms added); each carries its width \
     in length_s";

/// An interval that can take in the one right after it.
pub trait Coarsen {
    /// Seconds since the measured start at which the interval begins.
    fn start_s(&self) -> f64;
    fn end_s(&self) -> f64;
    /// Adds `later`, the interval right after this one, into this one.
    fn absorb(&mut self, later: Self);
}

/// Intervals, finest (newest) tier first in `tiers`, each tier oldest first.
#[derive(Debug, Clone)]
pub struct Retained<T> {
    tiers: Vec<VecDeque<T>>,
    rules: Vec<Tier>,
    max: usize,
}

impl<T: Coarsen> Default for Retained<T> {
    fn default() -> Self {
        Retained::new(&TIERS, MAX_INTERVALS)
    }
}

impl<T: Coarsen> Retained<T> {
    pub fn new(rules: &[Tier], max: usize) -> Retained<T> {
        let max = max.max(1);
        // The finest tier is allocated at its full length (an hour of one-second
        // intervals) once: grown a push at a time it doubled, 2,048 -> 4,096
        // intervals copied at 34 minutes. Its pages still fill as it does.
        let finest = |rule: &Tier| {
            let n = (rule.keep_s / rule.width_s.max(f64::MIN_POSITIVE)).ceil() + 2.0;
            if n.is_finite() {
                (n as usize).min(max + 1)
            } else {
                0
            }
        };
        Retained {
            tiers: rules
                .iter()
                .enumerate()
                .map(|(i, rule)| match i {
                    0 => VecDeque::with_capacity(finest(rule)),
                    _ => VecDeque::new(),
                })
                .collect(),
            rules: rules.to_vec(),
            max,
        }
    }

    /// Items the finest tier holds without growing its buffer.
    pub fn finest_capacity(&self) -> usize {
        self.capacity(0)
    }

    /// Items tier `tier` (0 the finest) holds without growing its buffer.
    pub fn capacity(&self, tier: usize) -> usize {
        self.tiers.get(tier).map_or(0, VecDeque::capacity)
    }

    /// Adds the newest interval; older ones move to coarser tiers.
    pub fn push(&mut self, item: T) {
        let newest_end = item.end_s();
        if let Some(finest) = self.tiers.first_mut() {
            finest.push_back(item);
        }
        for i in 0..self.rules.len().saturating_sub(1) {
            let (older, newer) = (self.rules[i + 1], self.rules[i]);
            // Bounded: each pass moves one interval out of tier `i`.
            while let Some(front) = self.tiers[i].front() {
                if front.end_s() > newest_end - newer.keep_s {
                    break;
                }
                let Some(moved) = self.tiers[i].pop_front() else {
                    break;
                };
                let bucket = |t: &T| (t.start_s() / older.width_s).floor();
                let coarser = &mut self.tiers[i + 1];
                match coarser.back_mut() {
                    Some(last) if bucket(last) == bucket(&moved) => last.absorb(moved),
                    _ => {
                        if coarser.len() == coarser.capacity() {
                            coarser.reserve_exact(COARSE_GROWTH);
                        }
                        coarser.push_back(moved);
                    }
                }
            }
        }
        while self.len() > self.max {
            let Some(oldest) = self.tiers.iter_mut().rev().find(|t| !t.is_empty()) else {
                break;
            };
            oldest.pop_front();
        }
    }

    pub fn len(&self) -> usize {
        self.tiers.iter().map(VecDeque::len).sum()
    }

    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// Oldest first.
    pub fn iter(&self) -> impl DoubleEndedIterator<Item = &T> {
        self.tiers.iter().rev().flat_map(|t| t.iter())
    }

    /// Oldest first.
    pub fn iter_mut(&mut self) -> impl Iterator<Item = &mut T> {
        self.tiers.iter_mut().rev().flat_map(|t| t.iter_mut())
    }

    pub fn last(&self) -> Option<&T> {
        self.tiers.iter().find_map(|t| t.back())
    }

    /// Oldest first.
    pub fn into_vec(self) -> Vec<T> {
        self.tiers.into_iter().rev().flatten().collect()
    }
}

/// One closed interval of the recorder: its figures and its histograms per
/// operation, merged together so a coarse interval's percentiles come from
/// its added histograms.
#[derive(Debug, Clone, PartialEq)]
pub struct Closed {
    pub stats: IntervalStats,
    pub timeline: TimelineInterval,
}

impl Coarsen for Closed {
    fn start_s(&self) -> f64 {
        self.timeline.start_s
    }

    fn end_s(&self) -> f64 {
        self.stats.t_s
    }

    fn absorb(&mut self, later: Closed) {
        let (a, b) = (&mut self.stats, &later.stats);
        let length = a.length_s + b.length_s;
        let weighted = |x: f64, lx: f64, y: f64, ly: f64| {
            if length > 0.0 {
                (x * lx + y * ly) / length
            } else {
                0.0
            }
        };
        a.asked_rate = match (a.asked_rate, b.asked_rate) {
            (None, None) => None,
            (x, y) => Some(weighted(
                x.unwrap_or(0.0),
                a.length_s,
                y.unwrap_or(0.0),
                b.length_s,
            )),
        };
        a.sent_rate = weighted(a.sent_rate, a.length_s, b.sent_rate, b.length_s);
        a.completed += b.completed;
        a.errors += b.errors;
        a.t_s = b.t_s;
        a.length_s = length;
        a.bytes = a.bytes.joined(b.bytes, length);
        a.throughput = if length > 0.0 {
            a.completed.saturating_sub(a.errors) as f64 / length
        } else {
            0.0
        };
        let (corrected, service) = absorb_histograms(&mut self.timeline, &later.timeline);
        self.stats.corrected = corrected.as_ref().map(percentiles).unwrap_or_default();
        self.stats.service = service.as_ref().map(percentiles).unwrap_or_default();
    }
}

/// Adds `later`'s histograms into `into`'s, operation by operation, and
/// returns the sums over all operations (the interval's whole histograms),
/// `None` when it has no success at all.
fn absorb_histograms(into: &mut TimelineInterval, later: &TimelineInterval) -> Whole {
    into.length_s = (later.start_s + later.length_s - into.start_s).max(0.0);
    let mut all = (None, None);
    if into.ops.len() < later.ops.len() {
        into.ops
            .resize(later.ops.len(), OpIntervalHistograms::default());
    }
    let empty = OpIntervalHistograms::default();
    for (i, op) in into.ops.iter_mut().enumerate() {
        let other = later.ops.get(i).unwrap_or(&empty);
        op.corrected = added(&op.corrected, &other.corrected, &mut all.0);
        op.service = added(&op.service, &other.service, &mut all.1);
    }
    all
}

type Whole = (Option<Histogram<u64>>, Option<Histogram<u64>>);

/// The encoded sum of two encoded histograms, also added into `all`. Empty
/// ones cost nothing (a histogram is 180 KiB to zero). Histograms mcptop
/// encoded itself decode; one that does not is left out rather than
/// failing the run.
fn added(a: &str, b: &str, all: &mut Option<Histogram<u64>>) -> String {
    let decoded: Vec<Histogram<u64>> = [a, b]
        .into_iter()
        .filter(|t| !t.is_empty())
        .filter_map(|t| decode_histogram(t).ok())
        .collect();
    if decoded.is_empty() {
        return String::new();
    }
    let whole = all.get_or_insert_with(new_histogram);
    for h in &decoded {
        let _ = whole.add(h);
    }
    match (a.is_empty(), b.is_empty()) {
        (false, true) => a.to_string(),
        (true, false) => b.to_string(),
        _ => {
            let mut sum = new_histogram();
            for h in &decoded {
                let _ = sum.add(h);
            }
            encode_histogram(&sum)
        }
    }
}

#[cfg(test)]
mod tests;
