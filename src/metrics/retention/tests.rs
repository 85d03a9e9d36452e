//! Retention: a day of intervals through the real recorder on a paused
//! clock stays bounded, and what was merged adds up exactly.

use super::*;
use crate::metrics::timeline::TimelineRecorder;
use crate::metrics::Percentiles;
use tokio::time::Instant;

/// A plain interval: [start, end) holding a count.
#[derive(Debug, Clone, PartialEq)]
struct Span(f64, f64, u64);

impl Coarsen for Span {
    fn start_s(&self) -> f64 {
        self.0
    }
    fn end_s(&self) -> f64 {
        self.1
    }
    fn absorb(&mut self, later: Span) {
        self.1 = later.1;
        self.2 += later.2;
    }
}

#[test]
fn tiers_merge_by_age_and_keep_order_and_totals() {
    let rules = [
        Tier {
            width_s: 1.0,
            keep_s: 10.0,
        },
        Tier {
            width_s: 5.0,
            keep_s: 20.0,
        },
        Tier {
            width_s: 20.0,
            keep_s: f64::INFINITY,
        },
    ];
    let mut r = Retained::new(&rules, 1_000);
    for t in 0..100u64 {
        r.push(Span(t as f64, (t + 1) as f64, t));
    }
    let spans: Vec<&Span> = r.iter().collect();
    // Contiguous, oldest first, nothing lost.
    for pair in spans.windows(2) {
        assert_eq!(pair[0].1, pair[1].0, "{spans:?}");
    }
    assert_eq!(spans[0].0, 0.0);
    assert_eq!(r.last().map(|s| s.1), Some(100.0));
    assert_eq!(r.iter().map(|s| s.2).sum::<u64>(), (0..100).sum::<u64>());
    // 20 s up to t = 80, 5 s up to t = 90, then 1 s.
    let widths: Vec<f64> = spans.iter().map(|s| s.1 - s.0).collect();
    let mut want = vec![20.0, 20.0, 20.0, 20.0, 5.0, 5.0];
    want.extend([1.0; 10]);
    assert_eq!(widths, want);
}

#[test]
fn past_the_cap_the_oldest_go() {
    let mut r = Retained::new(&TIERS[..1], 3);
    for t in 0..5u64 {
        r.push(Span(t as f64, (t + 1) as f64, 1));
    }
    let starts: Vec<f64> = r.iter().map(|s| s.0).collect();
    assert_eq!(starts, vec![2.0, 3.0, 4.0]);
}

/// A day of one-second intervals, in the tiers the recorder uses: the
/// bound a 24 h run's result file meets, and nothing lost.
#[test]
fn a_day_of_one_second_intervals_is_bounded() {
    let mut r: Retained<Span> = Retained::default();
    let day = 86_400u64;
    for t in 0..day {
        r.push(Span(t as f64, (t + 1) as f64, 1));
        assert!(r.len() <= 3_600 + 8_280 + 1);
    }
    assert_eq!(r.len(), 3_600 + 8_280);
    assert_eq!(r.iter().map(|s| s.2).sum::<u64>(), day);
    let spans = r.into_vec();
    assert_eq!((spans[0].0, spans[0].1), (0.0, 10.0));
    assert_eq!(spans.last().map(|s| (s.0, s.1)), Some((86_399.0, 86_400.0)));
    // A second day: what is over a day old is in 60 s intervals.
    let mut r: Retained<Span> = Retained::default();
    for t in 0..2 * day {
        r.push(Span(t as f64, (t + 1) as f64, 1));
    }
    assert_eq!(r.len(), 3_600 + 8_280 + 1_440);
    assert_eq!(r.iter().next().map(|s| s.1 - s.0), Some(60.0));
}

/// The last hour's tier is allocated once, at its full length: a day of
/// pushes never grows (so never copies) its buffer.
#[test]
fn the_finest_tier_is_allocated_once_for_a_day() {
    let mut r: Retained<Span> = Retained::default();
    let capacity = r.finest_capacity();
    assert!(capacity >= 3_600, "{capacity}");
    for t in 0..86_400u64 {
        r.push(Span(t as f64, (t + 1) as f64, 1));
        assert_eq!(r.finest_capacity(), capacity, "after {t} s");
    }
}

/// The 10 s tier grows an hour of intervals at a time: after a day it holds
/// 8,280 and has room for at most 360 more (doubled, it had 16,384).
#[test]
fn the_coarser_tiers_grow_by_an_hour_not_by_doubling() {
    let mut r: Retained<Span> = Retained::default();
    for t in 0..86_400u64 {
        r.push(Span(t as f64, (t + 1) as f64, 1));
        let (kept, room) = (r.tiers[1].len(), r.capacity(1));
        assert!(
            room < kept + 360 + 1,
            "after {t} s: {kept} kept, room for {room}"
        );
    }
    assert_eq!(r.tiers[1].len(), 8_280);
    assert_eq!(r.capacity(1), 8_280);
}

/// The recorder's pairs (figures and histograms per operation) through a
/// day of one-second intervals on a paused clock: a reply in one interval
/// of each 600 (encoding every interval's histograms takes minutes in a
/// debug build), counts in all. Bounded, contiguous, and the merged
/// counts and histograms add up exactly to what was recorded.
#[tokio::test(start_paused = true)]
async fn a_day_of_recorded_intervals_stays_bounded_and_adds_up() {
    let t0 = Instant::now();
    let mut timeline = TimelineRecorder::new(&["a".to_string(), "b".to_string()], t0);
    let mut kept: Retained<Closed> = Retained::default();
    let mut whole = new_histogram();
    let day = 86_400u64;
    for i in 0..day {
        // A histogram is 180 KiB to zero: made only where there is a reply.
        let mut corrected = Percentiles::default();
        if i % 600 == 0 {
            let (op, us) = ((i / 600 % 2) as usize, 100 + i % 5_000);
            timeline.record(op, us, us / 2);
            let mut h = new_histogram();
            h.saturating_record(us);
            corrected = percentiles(&h);
            whole.saturating_record(us);
        }
        let stats = IntervalStats {
            t_s: (i + 1) as f64,
            length_s: 1.0,
            completed: 3,
            errors: 1,
            throughput: 2.0,
            asked_rate: Some(3.0),
            sent_rate: 3.0,
            corrected,
            ..IntervalStats::default()
        };
        let interval = timeline.close(stats.t_s);
        kept.push(Closed {
            stats,
            timeline: interval,
        });
    }
    assert_eq!(kept.len(), 3_600 + 8_280);
    let (stats, intervals): (Vec<IntervalStats>, Vec<TimelineInterval>) = kept
        .into_vec()
        .into_iter()
        .map(|c| (c.stats, c.timeline))
        .unzip();
    assert_eq!(stats.iter().map(|s| s.completed).sum::<u64>(), 3 * day);
    assert_eq!(stats.iter().map(|s| s.errors).sum::<u64>(), day);
    assert_eq!(stats.iter().map(|s| s.length_s).sum::<f64>(), day as f64);
    for pair in stats.windows(2) {
        assert_eq!(pair[1].t_s - pair[1].length_s, pair[0].t_s);
    }
    let first = &stats[0];
    assert_eq!(
        (first.t_s, first.length_s, first.completed),
        (10.0, 10.0, 30)
    );
    assert_eq!((first.throughput, first.sent_rate), (2.0, 3.0));
    assert_eq!(first.asked_rate, Some(3.0));
    let mut added = new_histogram();
    for (s, interval) in stats.iter().zip(&intervals) {
        assert_eq!(interval.start_s, s.t_s - s.length_s);
        assert_eq!(interval.length_s, s.length_s);
        if interval.ops.iter().all(|op| op.corrected.is_empty()) {
            assert_eq!(s.corrected, Percentiles::default());
            continue;
        }
        let mut h = new_histogram();
        for op in &interval.ops {
            h.add(op.corrected().expect("decodes")).expect("adds");
        }
        // A merged interval's percentiles are its added histograms'.
        assert_eq!(s.corrected, percentiles(&h));
        added.add(&h).expect("adds");
    }
    assert_eq!(added.len(), day / 600);
    for q in [0.5, 0.99, 1.0] {
        assert_eq!(added.value_at_quantile(q), whole.value_at_quantile(q));
    }
}
