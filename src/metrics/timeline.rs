//! The run's timeline: every measured interval's HDR histograms, per
//! operation, kept (compressed) beside the interval figures. They are the
//! same samples the recorder's cumulative histograms hold, cut at the same
//! ticks, so the intervals of an operation add up exactly to its whole-run
//! histogram. HDR interval logs, merges of sharded runs (aligned by wall
//! clock) and the HTML report's charts read them; nothing here computes a
//! percentile. It also keeps each operation's successes so far in the
//! fixed buckets live exporters read (`buckets`), added up at each tick.

use super::buckets::OpDistribution;
use super::{decode_histogram, encode_histogram, new_histogram};
use hdrhistogram::Histogram;
use serde::{Deserialize, Serialize};
use std::time::{Duration, SystemTime, UNIX_EPOCH};
use tokio::time::Instant;

/// A run's interval histograms and when its measured phase began.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct Timeline {
    /// Wall clock at the start of the measured phase, seconds since the
    /// Unix epoch (what aligns shards run on several machines).
    pub start_unix_s: f64,
    /// Oldest first, merged into coarser ones past the last hour as the
    /// run's intervals are (`metrics::retention`).
    pub intervals: Vec<TimelineInterval>,
    /// How older intervals were merged (`retention::RETENTION_NOTE`).
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub retention: String,
}

/// One interval: its place in the run and its histograms per operation.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct TimelineInterval {
    /// Seconds since the measured phase began, at the start of the interval.
    pub start_s: f64,
    /// The interval's width: one tick, or more once merged (`retention`).
    pub length_s: f64,
    /// In the order of the run's operations (`RunMetrics::ops`).
    pub ops: Vec<OpIntervalHistograms>,
}

/// One operation's successes in one interval, HdrHistogram V2 deflate in
/// base64; empty when the operation had no success in it.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct OpIntervalHistograms {
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub corrected: String,
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub service: String,
}

impl OpIntervalHistograms {
    /// The corrected histogram (an empty one when there was no success).
    pub fn corrected(&self) -> Result<Histogram<u64>, String> {
        decode_or_empty(&self.corrected)
    }

    pub fn service(&self) -> Result<Histogram<u64>, String> {
        decode_or_empty(&self.service)
    }
}

fn decode_or_empty(text: &str) -> Result<Histogram<u64>, String> {
    if text.is_empty() {
        return Ok(new_histogram());
    }
    let decoded = decode_histogram(text)?;
    // Decoded histograms carry the file's bounds; adding them into the
    // standard ones keeps every histogram alike.
    let mut h = new_histogram();
    h.add(&decoded)
        .map_err(|e| format!("histogram out of bounds: {e:?}"))?;
    Ok(h)
}

/// `interval` encoded (empty text when empty) and added into `whole`, then
/// emptied. An empty one is left as it is: an idle operation's interval
/// costs nothing, which a day of one-second intervals needs.
fn take_encoded(interval: &mut Histogram<u64>, whole: &mut Histogram<u64>) -> String {
    if interval.is_empty() {
        return String::new();
    }
    // Same bounds everywhere: adding cannot fail.
    let _ = whole.add(&*interval);
    let text = encode_histogram(interval);
    interval.reset();
    text
}

/// Wall clock (Unix seconds) of a tokio instant, read against the clocks now.
pub fn unix_seconds_at(instant: Instant) -> f64 {
    let now_wall = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .unwrap_or(Duration::ZERO)
        .as_secs_f64();
    let now = Instant::now();
    if instant >= now {
        now_wall + instant.duration_since(now).as_secs_f64()
    } else {
        now_wall - now.duration_since(instant).as_secs_f64()
    }
}

/// The recorder's side: histograms of the interval under way, per
/// operation, compressed when the interval closes and handed to the
/// recorder, which keeps them with the interval's figures.
pub struct TimelineRecorder {
    start_unix_s: f64,
    labels: Vec<String>,
    /// Every closed interval added up, per operation (for `distributions`).
    whole_corrected: Vec<Histogram<u64>>,
    whole_service: Vec<Histogram<u64>>,
    corrected: Vec<Histogram<u64>>,
    service: Vec<Histogram<u64>>,
    /// Seconds since the measured start at which the open interval began.
    open_since_s: f64,
    /// Samples in the open interval.
    pending: u64,
}

impl TimelineRecorder {
    pub fn new(labels: &[String], measure_start: Instant) -> TimelineRecorder {
        let ops = labels.len();
        TimelineRecorder {
            start_unix_s: unix_seconds_at(measure_start),
            labels: labels.to_vec(),
            whole_corrected: (0..ops).map(|_| new_histogram()).collect(),
            whole_service: (0..ops).map(|_| new_histogram()).collect(),
            corrected: (0..ops).map(|_| new_histogram()).collect(),
            service: (0..ops).map(|_| new_histogram()).collect(),
            open_since_s: 0.0,
            pending: 0,
        }
    }

    /// A measured success of operation `op` (values already clamped as the
    /// recorder keeps them).
    pub fn record(&mut self, op: usize, corrected_us: u64, service_us: u64) {
        if let (Some(c), Some(s)) = (self.corrected.get_mut(op), self.service.get_mut(op)) {
            c.saturating_record(corrected_us);
            s.saturating_record(service_us);
            self.pending += 1;
        }
    }

    /// Closes the open interval, which ends `end_s` into the measured phase.
    pub fn close(&mut self, end_s: f64) -> TimelineInterval {
        let start_s = self.open_since_s.min(end_s);
        let wholes = self.whole_corrected.iter_mut().zip(&mut self.whole_service);
        let ops = (self.corrected.iter_mut().zip(&mut self.service))
            .zip(wholes)
            .map(|((c, s), (whole_c, whole_s))| OpIntervalHistograms {
                corrected: take_encoded(c, whole_c),
                service: take_encoded(s, whole_s),
            })
            .collect();
        self.open_since_s = end_s;
        self.pending = 0;
        TimelineInterval {
            start_s,
            length_s: (end_s - start_s).max(0.0),
            ops,
        }
    }

    /// Each operation's successes up to the last closed interval, in the
    /// fixed buckets of live exporters.
    pub fn distributions(&self) -> Vec<OpDistribution> {
        self.labels
            .iter()
            .zip(self.whole_corrected.iter().zip(&self.whole_service))
            .map(|(label, (c, s))| OpDistribution::of(label, c, s))
            .collect()
    }

    /// The timeline at the end of the run, `end` after the measured start,
    /// of the closed `intervals` the recorder kept. Samples the recorder's
    /// last interval did not take (a reply during draining after the last
    /// tick) close one more interval, so no success is left out.
    pub fn finish(mut self, end: Duration, mut intervals: Vec<TimelineInterval>) -> Timeline {
        let end_s = end.as_secs_f64();
        if self.pending > 0 {
            intervals.push(self.close(end_s.max(self.open_since_s)));
        }
        Timeline {
            start_unix_s: self.start_unix_s,
            intervals,
            retention: super::retention::RETENTION_NOTE.to_string(),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn labels(n: usize) -> Vec<String> {
        (0..n).map(|i| format!("op{i}")).collect()
    }

    #[test]
    fn intervals_add_up_to_what_was_recorded() {
        let t0 = Instant::now();
        let mut t = TimelineRecorder::new(&labels(2), t0);
        t.record(0, 100, 90);
        t.record(1, 2_000, 1_500);
        let first = t.close(1.0);
        t.record(0, 300, 200);
        // Left open: finish closes it.
        let timeline = t.finish(Duration::from_millis(1_500), vec![first]);
        assert_eq!(timeline.intervals.len(), 2);
        assert_eq!(timeline.intervals[1].start_s, 1.0);
        assert_eq!(timeline.intervals[1].length_s, 0.5);
        let mut op0 = new_histogram();
        for i in &timeline.intervals {
            op0.add(i.ops[0].corrected().expect("decodes"))
                .expect("adds");
        }
        assert_eq!(op0.len(), 2);
        assert_eq!(op0.max(), op0.highest_equivalent(300));
        assert!(timeline.intervals[1].ops[1].corrected.is_empty());
    }

    /// Through the recorder: ticks, a sliver carried over, and replies
    /// after the last tick while draining; each operation's intervals add
    /// up to its whole-run histogram, percentiles and all.
    #[tokio::test(start_paused = true)]
    async fn the_recorders_intervals_add_up_to_its_whole_run() {
        use crate::metrics::recorder::{EngineStatus, Recorder};
        use crate::metrics::snapshot::Phase;
        use crate::metrics::Sample;
        let ms = Duration::from_millis;
        let t0 = Instant::now();
        let status = |phase| EngineStatus {
            phase,
            ..EngineStatus::default()
        };
        let mut r = Recorder::new(&["a".to_string(), "b".to_string()], t0, None);
        let mut k = 0u64;
        let mut sample = |op: usize, at: Duration| {
            k += 1;
            Sample {
                op,
                planned: t0 + at,
                sent: t0 + at + ms(k % 3),
                done: t0 + at + ms(1 + (k * 7) % 40),
                outcome: Ok(()),
                bytes: Default::default(),
            }
        };
        for i in 0..300u64 {
            r.record(&sample((i % 3 == 0) as usize, ms(i * 10)));
            if i % 100 == 99 {
                r.tick(t0 + ms(i * 10 + 5), status(Phase::Measuring));
            }
        }
        // A sliver (under 0.1 s) is carried into the next interval.
        r.tick(t0 + ms(3_020), status(Phase::Measuring));
        r.record(&sample(0, ms(3_030)));
        r.tick(t0 + ms(3_200), status(Phase::Draining));
        // A reply after the last tick, while draining.
        r.record(&sample(1, ms(3_100)));
        let m = r.finish(t0 + ms(3_000), status(Phase::Draining));
        let timeline = m.timeline.expect("a timeline");
        for (i, op) in m.ops.iter().enumerate() {
            let mut added = new_histogram();
            for interval in &timeline.intervals {
                added
                    .add(interval.ops[i].corrected().expect("decodes"))
                    .expect("adds");
            }
            let whole = decode_histogram(&op.histogram_corrected).expect("decodes");
            assert_eq!(added.len(), op.ok, "{}", op.label);
            assert_eq!(added.len(), whole.len(), "{}", op.label);
            for q in [0.5, 0.9, 0.99, 0.999, 1.0] {
                assert_eq!(
                    added.value_at_quantile(q),
                    whole.value_at_quantile(q),
                    "{} q{q}",
                    op.label
                );
            }
        }
    }
}
