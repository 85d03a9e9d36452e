//! The recorder: HDR histograms per operation, cumulative and per interval,
//! errors by kind, send lateness, and the warnings they imply. Plain data in
//! (samples and engine status with explicit instants), so tests drive it
//! exactly. With a resource monitor, every snapshot and the run's metrics
//! also carry memory and allocator figures, filled in as they are made.
//! Memory is bounded: histograms have fixed size and the interval history
//! is a ring.

use super::sampler::ResourceMonitor;
use super::snapshot::{
    AllocatorStats, IntervalStats, LoadNow, MemoryStats, OpSummary, Percentiles, Phase,
    ProtocolCounters, Snapshot,
};
use super::units::fmt_us;
use super::{log_buckets, new_histogram, percentiles, ErrorKind, Sample};
use crate::protocol::escape::escape_bounded;
use crate::protocol::jsonrpc::MAX_MESSAGE_CHARS;
use hdrhistogram::Histogram;
use serde::{Deserialize, Serialize};
use std::collections::btree_map::Entry;
use std::collections::{BTreeMap, VecDeque};
use std::ops::Range;
use std::time::Duration;
use tokio::time::Instant;

/// Intervals kept for charts (one hour of one-second ticks).
pub const HISTORY_LEN: usize = 3600;
/// A send this far behind its planned time counts as late. Tokio's timer has
/// one-millisecond resolution, so anything under two is the clock, not lag.
pub const LATE_SEND_US: u64 = 2_000;
/// Intervals shorter than this are merged into the next.
const MIN_INTERVAL_S: f64 = 0.1;
/// Below this share of the asked sends, an interval warns.
const KEEP_UP_RATIO: f64 = 0.95;

/// What the engine knows that samples do not say.
#[derive(Debug, Clone, Copy, Default, PartialEq)]
pub struct EngineStatus {
    pub phase: Phase,
    pub load: LoadNow,
    /// Sends the schedule asked for since measuring began, including overdue ones.
    pub planned_total: u64,
    /// Sends made since measuring began.
    pub sent_total: u64,
    /// Times a send waited because the in-flight limit was reached.
    pub backpressure_total: u64,
    /// Time spent paused since measuring began; not part of the measured duration.
    pub paused: Duration,
    pub protocol: ProtocolCounters,
}

struct OpState {
    label: String,
    corrected: Histogram<u64>,
    service: Histogram<u64>,
    errors: BTreeMap<ErrorKind, u64>,
    /// The first message of each kind, escaped and bounded.
    messages: BTreeMap<ErrorKind, String>,
    /// A flow's iterations, not requests: kept out of the run's totals.
    iteration: bool,
}

impl OpState {
    fn error_count(&self) -> u64 {
        self.errors.values().sum()
    }

    /// Records `s` in this operation's figures only.
    fn add(&mut self, s: &Sample) {
        match &s.outcome {
            Ok(()) => {
                self.corrected.saturating_record(s.corrected_us().max(1));
                self.service.saturating_record(s.service_us().max(1));
            }
            Err(e) => {
                let kind = ErrorKind::from(e);
                *self.errors.entry(kind).or_default() += 1;
                if let (Some(d), Entry::Vacant(slot)) = (e.detail(), self.messages.entry(kind)) {
                    slot.insert(escape_bounded(d, MAX_MESSAGE_CHARS));
                }
            }
        }
    }
}

pub struct Recorder {
    ops: Vec<OpState>,
    measure_start: Instant,
    last_tick: Instant,
    planned: Option<Duration>,
    all_corrected: Histogram<u64>,
    all_service: Histogram<u64>,
    interval_corrected: Histogram<u64>,
    interval_service: Histogram<u64>,
    interval_completed: u64,
    interval_errors: u64,
    history: VecDeque<IntervalStats>,
    /// The first message of each kind over all operations.
    messages: BTreeMap<ErrorKind, String>,
    warnings: BTreeMap<&'static str, String>,
    extra_warnings: Vec<String>,
    late_sends: u64,
    max_send_lag_us: u64,
    warmup_samples: u64,
    last_status: EngineStatus,
    stopped_at: Option<Instant>,
    /// Processes and allocations, when they are measured.
    resources: Option<ResourceMonitor>,
    /// Scenarios: a name and the range of `ops` that are its operations.
    scenarios: Vec<(String, Range<usize>)>,
}

/// Everything measured in a run, as the result file stores it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct OpMetrics {
    #[serde(default)]
    pub workload_id: String,
    pub label: String,
    /// Replies received: successes plus failures.
    pub operations: u64,
    pub ok: u64,
    pub errors: u64,
    pub error_rate: f64,
    pub duration_s: f64,
    /// Successful replies per second.
    pub throughput_msg_per_s: f64,
    /// Corrected latency (from the planned start) of successes, written
    /// flat as `latency_p50_us` ... `latency_mean_us`.
    #[serde(flatten, with = "super::prefixed::latency")]
    pub corrected: Percentiles,
    /// Service time (from the actual send) of successes, written flat as
    /// `service_p50_us` ... `service_mean_us`.
    #[serde(flatten, with = "super::prefixed::service")]
    pub service: Percentiles,
    pub errors_by_kind: BTreeMap<String, u64>,
    /// The first message the server (or the connection) gave for each kind
    /// of failure, escaped and cut to a bounded length; timeouts have none.
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub first_error_messages: BTreeMap<String, String>,
    /// HdrHistogram V2 deflate, base64: merge and compare distributions.
    pub histogram_corrected: String,
    pub histogram_service: String,
    /// Allocations per completed request over the measured window (overall only).
    #[serde(default)]
    pub allocs_per_request: Option<f64>,
    /// Bytes allocated per completed request over the measured window (overall only).
    #[serde(default)]
    pub bytes_per_request: Option<f64>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct RunMetrics {
    pub duration_s: f64,
    pub overall: OpMetrics,
    pub ops: Vec<OpMetrics>,
    /// With `[[scenarios]]`: each scenario's figures as a whole, labelled
    /// with its name (its operations are in `ops` as `scenario/op`).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub scenarios: Vec<OpMetrics>,
    /// Requests/s the schedule asked for (open loop).
    pub asked_rate: Option<f64>,
    /// Sends/s actually made.
    pub sent_rate: f64,
    /// Successful replies/s.
    pub achieved_rate: f64,
    pub planned_sends: u64,
    pub sends: u64,
    pub late_sends: u64,
    pub max_send_lag_us: u64,
    pub backpressure_waits: u64,
    pub warmup_samples: u64,
    pub protocol: ProtocolCounters,
    pub warnings: Vec<String>,
    pub intervals: Vec<IntervalStats>,
    /// Processes sampled during the run (absent with `--no-memory-stats`).
    #[serde(default)]
    pub memory: Option<MemoryStats>,
    #[serde(default)]
    pub allocator: Option<AllocatorStats>,
    /// The target's garbage collections, as its runtime reported them.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub target_gc: Option<super::gc::TargetGc>,
    /// With faults or `reconnect`: where every planned request ended.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub accounting: Option<super::accounting::Accounting>,
    /// Each fault's detection and recovery figures.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub faults: Vec<super::recovery::Recovery>,
}

impl Recorder {
    /// `measure_start` is when warm-up ends; earlier samples are not measured.
    pub fn new(labels: &[String], measure_start: Instant, planned: Option<Duration>) -> Recorder {
        Recorder {
            ops: labels
                .iter()
                .map(|l| OpState {
                    label: l.clone(),
                    corrected: new_histogram(),
                    service: new_histogram(),
                    errors: BTreeMap::new(),
                    messages: BTreeMap::new(),
                    iteration: false,
                })
                .collect(),
            measure_start,
            last_tick: measure_start,
            planned,
            all_corrected: new_histogram(),
            all_service: new_histogram(),
            interval_corrected: new_histogram(),
            interval_service: new_histogram(),
            interval_completed: 0,
            interval_errors: 0,
            history: VecDeque::new(),
            messages: BTreeMap::new(),
            warnings: BTreeMap::new(),
            extra_warnings: Vec::new(),
            late_sends: 0,
            max_send_lag_us: 0,
            warmup_samples: 0,
            last_status: EngineStatus::default(),
            stopped_at: None,
            resources: None,
            scenarios: Vec::new(),
        }
    }

    /// Also reports each scenario as a whole: `groups` name the ranges of
    /// operations that belong to one.
    pub fn with_scenarios(mut self, groups: Vec<(String, Range<usize>)>) -> Recorder {
        self.scenarios = groups;
        self
    }

    /// Marks the operations (indices) that record flow iterations, not
    /// requests.
    pub fn with_iterations(mut self, ops: &[usize]) -> Recorder {
        for &i in ops {
            if let Some(op) = self.ops.get_mut(i) {
                op.iteration = true;
            }
        }
        self
    }

    /// One scenario's figures: its operations' histograms merged.
    fn scenario_metrics(&self, name: &str, ops: &Range<usize>, secs: f64) -> OpMetrics {
        let (mut c, mut s) = (new_histogram(), new_histogram());
        let mut errors: BTreeMap<ErrorKind, u64> = BTreeMap::new();
        for op in self.ops.get(ops.clone()).unwrap_or_default() {
            // Same bounds everywhere (`new_histogram`), so adding cannot fail.
            let _ = c.add(&op.corrected);
            let _ = s.add(&op.service);
            for (k, n) in &op.errors {
                *errors.entry(*k).or_default() += n;
            }
        }
        op_metrics(name, &c, &s, &errors, secs)
    }

    /// Adds memory and allocator figures from `monitor` to every snapshot
    /// and to the run's metrics.
    pub fn with_resources(mut self, monitor: Option<ResourceMonitor>) -> Recorder {
        self.resources = monitor;
        self
    }

    pub fn record(&mut self, s: &Sample) {
        if s.planned < self.measure_start {
            self.warmup_samples += 1;
            return;
        }
        let Some(op) = self.ops.get_mut(s.op) else {
            return;
        };
        if op.iteration {
            // A flow's iteration as a whole: its steps were counted already.
            return op.add(s);
        }
        let lag = s.send_lag_us();
        if lag > LATE_SEND_US {
            self.late_sends += 1;
        }
        self.max_send_lag_us = self.max_send_lag_us.max(lag);
        self.interval_completed += 1;
        match &s.outcome {
            Ok(()) => {
                let (c, v) = (s.corrected_us().max(1), s.service_us().max(1));
                op.corrected.saturating_record(c);
                op.service.saturating_record(v);
                self.all_corrected.saturating_record(c);
                self.all_service.saturating_record(v);
                self.interval_corrected.saturating_record(c);
                self.interval_service.saturating_record(v);
            }
            Err(e) => {
                let kind = ErrorKind::from(e);
                *op.errors.entry(kind).or_default() += 1;
                self.interval_errors += 1;
                if let (Some(detail), Entry::Vacant(slot)) = (e.detail(), op.messages.entry(kind)) {
                    let message = escape_bounded(detail, MAX_MESSAGE_CHARS);
                    self.messages.entry(kind).or_insert_with(|| message.clone());
                    slot.insert(message);
                }
            }
        }
    }

    /// Adds a warning that does not come from the numbers (a target exit).
    pub fn warn(&mut self, text: String) {
        if !self.extra_warnings.contains(&text) {
            self.extra_warnings.push(text);
        }
    }

    /// Closes the current interval at `now` and publishes a snapshot.
    pub fn tick(&mut self, now: Instant, status: EngineStatus) -> Snapshot {
        if now > self.measure_start && status.phase >= Phase::Measuring {
            let start = self.last_tick.max(self.measure_start);
            let length = now.saturating_duration_since(start).as_secs_f64();
            // A sliver of an interval (a tick right at the end of warm-up)
            // gives wild rates; it is carried into the next one instead.
            if length >= MIN_INTERVAL_S {
                self.close_interval(now, length, &status);
                self.last_tick = now;
                self.last_status = status;
            }
        } else {
            self.last_status = status;
        }
        self.snapshot(now, status)
    }

    fn close_interval(&mut self, now: Instant, length: f64, status: &EngineStatus) {
        let prev = self.last_status;
        let planned = status.planned_total.saturating_sub(prev.planned_total);
        let sent = status.sent_total.saturating_sub(prev.sent_total);
        let waits = status
            .backpressure_total
            .saturating_sub(prev.backpressure_total);
        let asked_rate = status.load.rate.map(|_| planned as f64 / length);
        let stats = IntervalStats {
            t_s: now
                .saturating_duration_since(self.measure_start)
                .as_secs_f64(),
            length_s: length,
            completed: self.interval_completed,
            errors: self.interval_errors,
            throughput: (self.interval_completed - self.interval_errors) as f64 / length,
            asked_rate,
            sent_rate: sent as f64 / length,
            corrected: percentiles(&self.interval_corrected),
            service: percentiles(&self.interval_service),
        };
        // An interval that is mostly the tail of the run says little about keeping up.
        if status.load.rate.is_some() && !status.load.paused && length >= 0.5 && planned > 0 {
            let ratio = sent as f64 / planned as f64;
            if ratio < KEEP_UP_RATIO {
                let at = stats.t_s;
                if waits > 0 {
                    self.warnings.insert(
                        "inflight",
                        format!(
                            "in-flight limit reached at {at:.0}s: sent {:.0}/s of {:.0}/s asked; \
                             the target is slower than the asked rate (latency counts the wait)",
                            stats.sent_rate,
                            asked_rate.unwrap_or_default()
                        ),
                    );
                } else {
                    self.warnings.insert(
                        "generator",
                        format!(
                            "mcptop cannot keep up at {at:.0}s: sent {:.0}/s of {:.0}/s asked; \
                             the load generator is the bottleneck",
                            stats.sent_rate,
                            asked_rate.unwrap_or_default()
                        ),
                    );
                }
            }
        }
        self.history.push_back(stats);
        if self.history.len() > HISTORY_LEN {
            self.history.pop_front();
        }
        self.interval_corrected.reset();
        self.interval_service.reset();
        self.interval_completed = 0;
        self.interval_errors = 0;
        self.check_gap();
    }

    fn check_gap(&mut self) {
        if self.all_corrected.len() < 100 {
            return;
        }
        let c = self.all_corrected.value_at_quantile(0.99);
        let s = self.all_service.value_at_quantile(0.99);
        if c > 2 * s && c - s > LATE_SEND_US {
            self.warnings.insert(
                "gap",
                format!(
                    "corrected p99 {} is {:.1}x the service-time p99 {}: requests queued \
                     behind slow ones (a closed-loop tool would hide this)",
                    fmt_us(c),
                    c as f64 / s.max(1) as f64,
                    fmt_us(s)
                ),
            );
        }
    }

    fn measured(&self, now: Instant) -> Duration {
        let end = self.stopped_at.unwrap_or(now);
        end.saturating_duration_since(self.measure_start)
            .saturating_sub(self.last_status.paused)
    }

    fn summary(
        &self,
        label: &str,
        c: &Histogram<u64>,
        s: &Histogram<u64>,
        errors: u64,
        secs: f64,
    ) -> OpSummary {
        OpSummary {
            label: label.to_string(),
            ok: c.len(),
            errors,
            throughput: if secs > 0.0 {
                c.len() as f64 / secs
            } else {
                0.0
            },
            corrected: percentiles(c),
            service: percentiles(s),
        }
    }

    pub fn warnings(&self) -> Vec<String> {
        self.warnings
            .values()
            .cloned()
            .chain(self.extra_warnings.iter().cloned())
            .collect()
    }

    fn errors_by_kind(&self) -> BTreeMap<ErrorKind, u64> {
        let mut all = BTreeMap::new();
        for op in self.ops.iter().filter(|o| !o.iteration) {
            for (k, n) in &op.errors {
                *all.entry(*k).or_default() += n;
            }
        }
        all
    }

    pub fn snapshot(&self, now: Instant, status: EngineStatus) -> Snapshot {
        let secs = self.measured(now).as_secs_f64();
        let total_errors: u64 = self
            .ops
            .iter()
            .filter(|o| !o.iteration)
            .map(OpState::error_count)
            .sum();
        let mut errors: Vec<(String, u64)> = self
            .errors_by_kind()
            .into_iter()
            .map(|(k, n)| (k.label(), n))
            .collect();
        errors.sort_by(|a, b| b.1.cmp(&a.1).then(a.0.cmp(&b.0)));
        let history_from = self.history.len().saturating_sub(600);
        let mut snapshot = Snapshot {
            phase: status.phase,
            elapsed: if status.phase >= Phase::Measuring {
                self.measured(now)
            } else {
                Duration::ZERO
            },
            planned: self.planned,
            load: status.load,
            last: self.history.back().cloned(),
            history: self.history.iter().skip(history_from).cloned().collect(),
            total: self.summary(
                "all",
                &self.all_corrected,
                &self.all_service,
                total_errors,
                secs,
            ),
            ops: self
                .ops
                .iter()
                .map(|o| self.summary(&o.label, &o.corrected, &o.service, o.error_count(), secs))
                .collect(),
            errors,
            error_messages: labelled(&self.messages),
            warnings: self.warnings(),
            histogram: log_buckets(&self.all_corrected),
            protocol: status.protocol,
            late_sends: self.late_sends,
            max_send_lag_us: self.max_send_lag_us,
            memory: None,
            allocator: None,
            connections: None,
            target_gc: None,
            // Filled per scenario by the engine's scenario work (issue 11).
            scenarios: Vec::new(),
        };
        if let Some(monitor) = &self.resources {
            monitor.complete(&mut snapshot);
        }
        snapshot
    }

    /// Marks the end of measuring; later ticks do not extend the duration.
    pub fn stop(&mut self, now: Instant) {
        if self.stopped_at.is_none() {
            self.stopped_at = Some(now.max(self.measure_start));
        }
    }

    pub fn finish(mut self, now: Instant, status: EngineStatus) -> RunMetrics {
        self.stop(now);
        self.last_status.paused = status.paused;
        let end = self.stopped_at.unwrap_or(now);
        if end > self.last_tick {
            let length = end
                .saturating_duration_since(self.last_tick.max(self.measure_start))
                .as_secs_f64();
            if length > 0.0 && status.phase >= Phase::Measuring {
                self.close_interval(end, length, &status);
            }
        }
        let secs = self.measured(now).as_secs_f64();
        let mut overall = op_metrics(
            "all",
            &self.all_corrected,
            &self.all_service,
            &self.errors_by_kind(),
            secs,
        );
        overall.first_error_messages = labelled(&self.messages);
        let ops = self
            .ops
            .iter()
            .map(|o| OpMetrics {
                first_error_messages: labelled(&o.messages),
                ..op_metrics(&o.label, &o.corrected, &o.service, &o.errors, secs)
            })
            .collect();
        let scenarios = self
            .scenarios
            .iter()
            .map(|(name, ops)| self.scenario_metrics(name, ops, secs))
            .collect();
        let per_sec = |n: u64| if secs > 0.0 { n as f64 / secs } else { 0.0 };
        let mut metrics = RunMetrics {
            duration_s: secs,
            achieved_rate: overall.throughput_msg_per_s,
            overall,
            ops,
            scenarios,
            asked_rate: status.load.rate.map(|_| per_sec(status.planned_total)),
            sent_rate: per_sec(status.sent_total),
            planned_sends: status.planned_total,
            sends: status.sent_total,
            late_sends: self.late_sends,
            max_send_lag_us: self.max_send_lag_us,
            backpressure_waits: status.backpressure_total,
            warmup_samples: self.warmup_samples,
            protocol: status.protocol,
            warnings: self.warnings(),
            intervals: self.history.iter().cloned().collect(),
            memory: None,
            allocator: None,
            target_gc: None,
            accounting: None,
            faults: Vec::new(),
        };
        if let Some(monitor) = &self.resources {
            monitor.finish(&mut metrics);
        }
        metrics
    }
}

mod figures;
use figures::{labelled, op_metrics};

#[cfg(test)]
mod tests;
