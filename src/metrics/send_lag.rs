//! The generator's own lag as a figure: how long after its planned start
//! each request actually left (send lag = actual send − planned start), over
//! the run and per interval, with the sends counted late beyond
//! [`LATE_SEND_US`]. Coordinated-omission correction charges this lag to the
//! server, so it is the floor under every corrected latency: when it is a
//! noticeable share of the corrected p50 ([`FLOOR_SHARE`]), latencies below
//! it are mcptop's, not the server's ([`SendLagReport::floor_note`]).

use super::recorder::HISTORY_LEN;
use super::retention::Ring;
use super::{encode_histogram, new_histogram};
use hdrhistogram::Histogram;
use serde::{Deserialize, Serialize};

/// A send more than this behind its planned time counts as late. The pacer
/// (`crate::pacer`) keeps the lag to tens of µs when a core is free, so a
/// millisecond means mcptop was starved of CPU or held by the in-flight limit.
pub const LATE_SEND_US: u64 = 1_000;
/// Lag p99 at or above this share of the corrected p50 is worth a note.
pub const FLOOR_SHARE: f64 = 0.1;

/// Send-lag percentiles over some span (the run so far, or one interval).
#[derive(Debug, Clone, Copy, Default, PartialEq, Serialize, Deserialize)]
pub struct LagFigures {
    /// Sends measured.
    pub count: u64,
    pub p50_us: u64,
    pub p90_us: u64,
    pub p99_us: u64,
    pub max_us: u64,
    /// Sends more than [`LATE_SEND_US`] behind their planned time.
    pub late: u64,
}

/// One interval's send lag, at the same `t_s` as the run's `intervals[]`.
#[derive(Debug, Clone, Copy, Default, PartialEq, Serialize, Deserialize)]
pub struct LagInterval {
    /// Seconds since measurement started, at the end of the interval.
    pub t_s: f64,
    #[serde(flatten)]
    pub lag: LagFigures,
}

/// The send lag of a whole run, as the result file keeps it.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct SendLagReport {
    /// The threshold `late` counts beyond, µs.
    pub late_threshold_us: u64,
    #[serde(flatten)]
    pub lag: LagFigures,
    /// HdrHistogram V2 deflate, base64, of every measured send's lag in µs.
    pub histogram: String,
    /// Per interval, oldest first (bounded like `intervals`).
    pub intervals: Vec<LagInterval>,
}

impl SendLagReport {
    /// Several runs' send lag as one (shards of a run): the histograms added
    /// exactly, late sends summed. Intervals are not merged (none).
    pub fn merged(parts: &[&SendLagReport]) -> Result<SendLagReport, String> {
        let mut run = new_histogram();
        let mut late = 0;
        for p in parts.iter().filter(|p| !p.histogram.is_empty()) {
            let h = super::decode_histogram(&p.histogram)?;
            run.add(&h).map_err(|e| e.to_string())?;
            late += p.lag.late;
        }
        Ok(SendLagReport {
            late_threshold_us: LATE_SEND_US,
            lag: figures(&run, late),
            histogram: encode_histogram(&run),
            intervals: Vec::new(),
        })
    }

    /// What the summary says when the lag is a noticeable share of the
    /// corrected p50: below the lag's p99, latencies are mcptop's.
    pub fn floor_note(&self, corrected_p50_us: u64) -> Option<String> {
        let p99 = self.lag.p99_us;
        if self.lag.count == 0 || corrected_p50_us == 0 {
            return None;
        }
        let share = p99 as f64 / corrected_p50_us as f64;
        (share >= FLOOR_SHARE).then(|| {
            format!(
                "mcptop's own send lag p99 is {} ({:.0}% of the corrected p50): latency \
                 differences below about {} are mcptop's, not the server's",
                super::units::fmt_us(p99),
                share * 100.0,
                super::units::fmt_us(p99)
            )
        })
    }
}

/// Send-lag histograms, cumulative and for the current interval, and the
/// closed intervals (a ring as long as the recorder's).
pub struct SendLag {
    run: Histogram<u64>,
    interval: Histogram<u64>,
    late: u64,
    interval_late: u64,
    /// The largest lag exactly (the histogram's max is its bucket's top).
    max_us: u64,
    history: Ring<LagInterval>,
}

impl Default for SendLag {
    fn default() -> Self {
        SendLag {
            run: new_histogram(),
            interval: new_histogram(),
            late: 0,
            interval_late: 0,
            max_us: 0,
            history: Ring::new(HISTORY_LEN),
        }
    }
}

fn figures(h: &Histogram<u64>, late: u64) -> LagFigures {
    if h.is_empty() {
        return LagFigures::default();
    }
    LagFigures {
        count: h.len(),
        p50_us: h.value_at_quantile(0.50),
        p90_us: h.value_at_quantile(0.90),
        p99_us: h.value_at_quantile(0.99),
        max_us: h.max(),
        late,
    }
}

impl SendLag {
    /// One measured send, `lag_us` after its planned start.
    pub fn record(&mut self, lag_us: u64) {
        self.run.saturating_record(lag_us);
        self.interval.saturating_record(lag_us);
        self.max_us = self.max_us.max(lag_us);
        if lag_us > LATE_SEND_US {
            self.late += 1;
            self.interval_late += 1;
        }
    }

    /// Sends counted late so far.
    pub fn late(&self) -> u64 {
        self.late
    }

    /// The largest lag so far, µs, exactly.
    pub fn max_us(&self) -> u64 {
        self.max_us
    }

    /// The run so far.
    pub fn figures(&self) -> LagFigures {
        figures(&self.run, self.late)
    }

    /// Ends the interval at `t_s` and starts the next.
    pub fn close_interval(&mut self, t_s: f64) {
        let lag = figures(&self.interval, self.interval_late);
        self.interval.reset();
        self.interval_late = 0;
        self.history.push(LagInterval { t_s, lag });
    }

    /// The run's report, with the intervals closed so far.
    pub fn report(&self) -> SendLagReport {
        SendLagReport {
            late_threshold_us: LATE_SEND_US,
            lag: self.figures(),
            histogram: encode_histogram(&self.run),
            intervals: self.history.iter().copied().collect(),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn late_is_strictly_beyond_the_threshold() {
        let mut lag = SendLag::default();
        for us in [0, 50, LATE_SEND_US, LATE_SEND_US + 1, 40_000] {
            lag.record(us);
        }
        let f = lag.figures();
        assert_eq!(
            (f.count, f.late, f.max_us),
            (5, 2, 40_031) // 40 ms, as HDR keeps it (32 µs buckets)
        );
        assert_eq!(f.p50_us, LATE_SEND_US);
        // The run's max_send_lag_us is exact, unlike the histogram's.
        assert_eq!((lag.late(), lag.max_us()), (2, 40_000));
    }

    #[test]
    fn intervals_start_afresh_and_the_run_keeps_everything() {
        let mut lag = SendLag::default();
        lag.record(10);
        lag.record(3_000);
        lag.close_interval(1.0);
        lag.record(20);
        lag.close_interval(2.0);
        let report = lag.report();
        let [first, second] = report.intervals[..] else {
            panic!("two intervals: {:?}", report.intervals);
        };
        assert_eq!((first.lag.count, first.lag.late, first.t_s), (2, 1, 1.0));
        assert_eq!((second.lag.count, second.lag.late), (1, 0));
        assert_eq!((second.lag.p50_us, second.lag.max_us), (20, 20));
        assert_eq!((report.lag.count, report.lag.late), (3, 1));
        assert_eq!(report.late_threshold_us, LATE_SEND_US);
        let h = crate::metrics::decode_histogram(&report.histogram).expect("decodes");
        assert_eq!(h.len(), 3);
    }

    #[test]
    fn the_floor_note_appears_when_the_lag_is_a_noticeable_share() {
        let mut lag = SendLag::default();
        for _ in 0..100 {
            lag.record(100);
        }
        let report = lag.report();
        // 100 µs of lag under a 2 ms median: 5 %, not worth a note.
        assert_eq!(report.floor_note(2_000), None);
        // Under a 500 µs median: 20 %.
        let note = report.floor_note(500).expect("a note");
        assert!(
            note.contains("send lag p99 is 100µs (20% of the corrected p50)"),
            "{note}"
        );
        assert!(note.contains("below about 100µs are mcptop's"), "{note}");
        assert_eq!(SendLag::default().report().floor_note(500), None);
    }

    /// The recorder's hooks: every measured send's lag goes into the run's
    /// histogram and the interval it is recorded in, on a paused clock.
    #[tokio::test(start_paused = true)]
    async fn the_recorder_keeps_send_lag_per_run_and_per_interval() {
        use crate::metrics::snapshot::{LoadNow, Phase};
        use crate::metrics::{EngineStatus, Recorder, Sample};
        use std::time::Duration;
        use tokio::time::Instant;
        let us = Duration::from_micros;
        let t0 = Instant::now();
        let mut r = Recorder::new(&["echo".to_string()], t0 + us(1_000_000), None);
        let sample = |planned: Instant, lag: u64| Sample {
            op: 0,
            planned,
            sent: planned + us(lag),
            done: planned + us(lag + 100),
            outcome: Ok(()),
            bytes: Default::default(),
        };
        r.record(&sample(t0, 9_000)); // warm-up: not measured
        let second = |s: u64| t0 + us(1_000_000 * s);
        r.record(&sample(second(1), 30));
        r.record(&sample(second(1) + us(10), 2_500));
        let status = EngineStatus {
            phase: Phase::Measuring,
            load: LoadNow {
                rate: Some(2.0),
                ..LoadNow::default()
            },
            ..EngineStatus::default()
        };
        let snapshot = r.tick(second(2), status.clone());
        assert_eq!((snapshot.send_lag.count, snapshot.send_lag.late), (2, 1));
        assert_eq!(snapshot.send_lag.p50_us, 30);
        r.record(&sample(second(2), 70));
        let m = r.finish(second(3), status);
        let lag = &m.send_lag;
        assert_eq!((lag.lag.count, lag.lag.late, lag.lag.p50_us), (3, 1, 70));
        assert_eq!(m.late_sends, 1);
        assert_eq!(lag.intervals.len(), 2);
        assert_eq!(lag.intervals[0].t_s, 1.0);
        assert_eq!(
            (lag.intervals[0].lag.count, lag.intervals[0].lag.late),
            (2, 1)
        );
        assert_eq!(lag.intervals[0].lag.max_us, 2_501); // 2 µs buckets
        assert_eq!(
            (lag.intervals[1].t_s, lag.intervals[1].lag.p99_us),
            (2.0, 70)
        );
        assert_eq!(m.intervals.len(), lag.intervals.len());
    }
}
