//! The recorder: HDR histograms per operation, cumulative and per interval,
//! errors by kind, send lateness, and the warnings they imply. Plain data in
//! (samples and engine status with explicit instants), so tests drive it
//! exactly. With a resource monitor, every snapshot and the run's metrics
//! also carry memory and allocator figures, filled in as they are made.
//! Memory is bounded: histograms have fixed size and the interval history
//! is a ring.

use super::sampler::ResourceMonitor;
use super::snapshot::{LoadNow, OpSummary, Phase, ProtocolCounters, Snapshot, WarmupClock};
use super::units::fmt_us;
use super::wire_rates::ByteRates;
use super::{log_buckets, new_histogram, percentiles, ErrorKind, Sample};
use crate::client::wire_bytes::WireBytes;
use crate::protocol::escape::escape_bounded;
use crate::protocol::jsonrpc::MAX_MESSAGE_CHARS;
use hdrhistogram::Histogram;
use std::collections::btree_map::Entry;
use std::collections::BTreeMap;
use std::time::Duration;
use tokio::time::Instant;

/// One-second intervals kept before they are merged (`retention`), and the
/// bound of the send-lag and scenario rings.
pub const HISTORY_LEN: usize = 3600;
use super::send_lag::SendLag;
pub use super::send_lag::LATE_SEND_US;
/// Intervals shorter than this are merged into the next.
const MIN_INTERVAL_S: f64 = 0.1;
/// Intervals a snapshot carries (ten minutes of one-second ticks).
const SNAPSHOT_HISTORY: usize = 600;

/// What the engine knows that samples do not say.
#[derive(Debug, Clone, Default, PartialEq)]
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
    /// With `[[scenarios]]`: each one's, in file order.
    pub scenarios: Vec<ScenarioStatus>,
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
    /// Bytes on the wire over the run and in the open interval.
    all_bytes: WireBytes,
    interval_bytes: WireBytes,
    /// Closed intervals with their histograms, coarser when older.
    /// (Their histograms wait in a file: RSS stays flat over a long run.)
    history: super::retention::ShelvedHistory,
    /// The first message of each kind over all operations.
    messages: BTreeMap<ErrorKind, String>,
    warnings: BTreeMap<&'static str, String>,
    extra_warnings: Vec<String>,
    fault_marks: super::fault_marks::FaultMarks,
    failover: super::failover::FailoverSource,
    /// Send lag as a histogram, over the run and per interval.
    send_lag: SendLag,
    warmup_samples: u64,
    last_status: EngineStatus,
    stopped_at: Option<Instant>,
    /// Length of the warm-up before `measure_start`, so snapshots can say
    /// how far it is (hook: outputs).
    warmup: Duration,
    /// Processes and allocations, when they are measured.
    resources: Option<ResourceMonitor>,
    /// Scenarios, in file order, with their own intervals and lateness.
    scenarios: Vec<ScenarioState>,
    /// The scenario each op belongs to (by index), if any.
    op_scenario: Vec<Option<usize>>,
    /// Interval histograms per operation (hook: outputs, `metrics::timeline`).
    timeline: super::timeline::TimelineRecorder,
    /// mcptop's own CPU per request, when the run measures it.
    cpu: Option<CpuMeter>,
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
                    sent_as: None,
                    bytes: WireBytes::default(),
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
            all_bytes: WireBytes::default(),
            interval_bytes: WireBytes::default(),
            history: Default::default(),
            messages: BTreeMap::new(),
            warnings: BTreeMap::new(),
            extra_warnings: Vec::new(),
            fault_marks: Default::default(),
            failover: Default::default(),
            send_lag: SendLag::default(),
            warmup_samples: 0,
            last_status: EngineStatus::default(),
            stopped_at: None,
            warmup: Duration::ZERO,
            resources: None,
            scenarios: Vec::new(),
            op_scenario: Vec::new(),
            timeline: super::timeline::TimelineRecorder::new(labels, measure_start),
            cpu: None,
        }
    }

    /// The warm-up that ends at `measure_start` lasts `warmup`.
    pub fn with_warmup(mut self, warmup: Duration) -> Recorder {
        self.warmup = warmup;
        self
    }

    /// Marks the operations (indices) that send a fallback instead of their
    /// `ping`, as the server's protocol `era` has none, and says so.
    pub fn with_fallbacks(
        mut self,
        ops: &[(usize, &'static str)],
        era: Option<crate::protocol::Era>,
    ) -> Recorder {
        for &(i, method) in ops {
            if let Some(op) = self.ops.get_mut(i) {
                op.sent_as = Some(method);
                let text = format!(
                    "{}: protocol {} has no ping; sent {method} instead (its fallback)",
                    op.label,
                    era.map(|e| e.to_string()).unwrap_or_default()
                );
                self.extra_warnings.push(text);
            }
        }
        self
    }

    /// Where the run's faults are marked as they fire.
    pub fn watch_faults(&mut self, marks: super::fault_marks::FaultMarks) {
        self.fault_marks = marks;
    }

    /// Where the sessions' failover figures are read at each tick.
    pub fn watch_failover(&mut self, source: super::failover::FailoverSource) {
        self.failover = source;
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

    /// Adds memory and allocator figures from `monitor` to every snapshot
    /// and to the run's metrics.
    pub fn with_resources(mut self, monitor: Option<ResourceMonitor>) -> Recorder {
        if let Some(m) = &monitor {
            m.measure_from(self.measure_start);
        }
        self.resources = monitor;
        self
    }

    /// Measures mcptop's CPU per request with `meter` (its clock is read at
    /// every tick), and warns when that CPU limits the rate.
    pub fn with_cpu(mut self, mut meter: CpuMeter) -> Recorder {
        // The first reading: the first interval's CPU counts from here.
        meter.mark(Instant::now());
        self.cpu = Some(meter);
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
        if let Some(&Some(i)) = self.op_scenario.get(s.op) {
            self.scenarios[i].record(s);
        }
        self.send_lag.record(s.send_lag_us());
        self.interval_completed += 1;
        op.bytes += s.bytes;
        self.all_bytes += s.bytes;
        self.interval_bytes += s.bytes;
        match &s.outcome {
            Ok(()) => {
                let (c, v) = (s.corrected_us().max(1), s.service_us().max(1));
                op.corrected.saturating_record(c);
                op.service.saturating_record(v);
                self.all_corrected.saturating_record(c);
                self.all_service.saturating_record(v);
                self.interval_corrected.saturating_record(c);
                self.interval_service.saturating_record(v);
                self.timeline.record(s.op, c, v);
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
                self.last_status = status.clone();
            }
        } else {
            if let Some(cpu) = &mut self.cpu {
                cpu.mark(now);
            }
            self.last_status = status.clone();
        }
        self.snapshot(now, status)
    }

    fn close_interval(&mut self, now: Instant, length: f64, status: &EngineStatus) {
        let prev = &self.last_status;
        let planned = status.planned_total.saturating_sub(prev.planned_total);
        let sent = status.sent_total.saturating_sub(prev.sent_total);
        let waits = status
            .backpressure_total
            .saturating_sub(prev.backpressure_total);
        let t_s = now
            .saturating_duration_since(self.measure_start)
            .as_secs_f64();
        let mut stats = interval_stats(
            t_s,
            length,
            (self.interval_completed, self.interval_errors),
            status.load.rate.map(|_| planned),
            sent,
            (&self.interval_corrected, &self.interval_service),
        );
        stats.bytes = ByteRates::over(std::mem::take(&mut self.interval_bytes), length);
        let cpu = self.cpu.as_mut().and_then(|m| {
            let interval = m.close(now, (t_s, length), stats.completed)?;
            Some((interval, m.cores(), m.includes_target()))
        });
        if !status.load.paused {
            let behind = keep_up_warning(&stats, (planned, sent), waits, "");
            let pace = match (stats.asked_rate, &behind) {
                (None, _) => Pace::Closed,
                (Some(_), None) => Pace::OnTime,
                (Some(asked), Some(_)) => Pace::Behind {
                    asked,
                    sent: stats.sent_rate,
                },
            };
            // mcptop's CPU at its limit explains a shortfall better than
            // "the target is slower" or a bare "cannot keep up".
            let limited =
                cpu.and_then(|(c, cores, inside)| cpu_limit_warning(&c, cores, inside, pace));
            if let Some(text) = limited {
                self.warnings.insert("generator-cpu", text);
            } else if let Some((key, text)) = behind {
                self.warnings.insert(key, text);
            }
        }
        for (i, scenario) in self.scenarios.iter_mut().enumerate() {
            let now = status.scenarios.get(i).copied().unwrap_or_default();
            scenario.close_interval(t_s, length, now);
        }
        self.send_lag.close_interval(stats.t_s);
        let timeline = self.timeline.close(stats.t_s);
        self.history
            .push(super::retention::Closed { stats, timeline });
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
        (errors, bytes): (u64, WireBytes),
        secs: f64,
    ) -> OpSummary {
        OpSummary {
            bytes: ByteRates::over(bytes, secs),
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
            .chain(self.scenarios.iter().flat_map(ScenarioState::warnings))
            .chain(&self.extra_warnings)
            .cloned()
            .collect()
    }

    pub fn snapshot(&self, now: Instant, status: EngineStatus) -> Snapshot {
        let secs = self.measured(now).as_secs_f64();
        let total_errors: u64 = self
            .ops
            .iter()
            .filter(|o| !o.iteration)
            .map(OpState::error_count)
            .sum();
        let mut errors: Vec<(String, u64)> = op_state::errors_by_kind(&self.ops)
            .into_iter()
            .map(|(k, n)| (k.label(), n))
            .collect();
        errors.sort_by(|a, b| b.1.cmp(&a.1).then(a.0.cmp(&b.0)));
        let history_from = self.history.kept.len().saturating_sub(SNAPSHOT_HISTORY);
        let mut snapshot = Snapshot {
            phase: status.phase,
            warmup: (status.phase == Phase::Warmup).then(|| WarmupClock {
                elapsed: self
                    .warmup
                    .saturating_sub(self.measure_start.saturating_duration_since(now)),
                planned: self.warmup,
            }),
            elapsed: if status.phase >= Phase::Measuring {
                self.measured(now)
            } else {
                Duration::ZERO
            },
            planned: self.planned,
            load: status.load,
            last: self.history.kept.last().map(|c| c.stats.clone()),
            history: (self.history.kept.iter().skip(history_from))
                .map(|c| c.stats.clone())
                .collect(),
            total: self.summary(
                "all",
                &self.all_corrected,
                &self.all_service,
                (total_errors, self.all_bytes),
                secs,
            ),
            ops: self
                .ops
                .iter()
                .map(|o| {
                    let errors_and_bytes = (o.error_count(), o.bytes);
                    self.summary(&o.label, &o.corrected, &o.service, errors_and_bytes, secs)
                })
                .collect(),
            errors,
            error_messages: labelled(&self.messages),
            warnings: self.warnings(),
            histogram: log_buckets(&self.all_corrected),
            protocol: status.protocol,
            late_sends: self.send_lag.late(),
            max_send_lag_us: self.send_lag.max_us(),
            send_lag: self.send_lag.figures(),
            memory: None,
            allocator: None,
            connections: None,
            target_gc: None,
            scenarios: self
                .scenarios
                .iter()
                .enumerate()
                .map(|(i, s)| s.now(status.scenarios.get(i).copied().unwrap_or_default()))
                .collect(),
            distributions: self.timeline.distributions(),
            fault_marks: self.fault_marks.list(),
            // Filled by the connection watch (`ResourceMonitor::complete`).
            sse_resume: Vec::new(),
            failover: self.failover.read(),
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

    /// The run as a whole and each op, over `secs` measured seconds.
    fn op_results(&self, secs: f64) -> (OpMetrics, Vec<OpMetrics>) {
        let mut overall = op_metrics(
            "all",
            &self.all_corrected,
            &self.all_service,
            &op_state::errors_by_kind(&self.ops),
            secs,
        );
        overall.first_error_messages = labelled(&self.messages);
        overall.bytes = ByteRates::over(self.all_bytes, secs);
        let ops = self
            .ops
            .iter()
            .map(|o| OpMetrics {
                first_error_messages: labelled(&o.messages),
                sent_as: o.sent_as.map(String::from),
                bytes: ByteRates::over(o.bytes, secs),
                ..op_metrics(&o.label, &o.corrected, &o.service, &o.errors, secs)
            })
            .collect();
        (overall, ops)
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
        let (overall, ops) = self.op_results(secs);
        let scenarios = self
            .scenarios
            .iter()
            .enumerate()
            .map(|(i, s)| {
                let now = status.scenarios.get(i).copied().unwrap_or_default();
                s.metrics(&self.ops, now, secs)
            })
            .collect();
        let per_sec = |n: u64| if secs > 0.0 { n as f64 / secs } else { 0.0 };
        let (intervals, timeline) = std::mem::take(&mut self.history)
            .into_closed()
            .into_iter()
            .map(|c| (c.stats, c.timeline))
            .unzip();
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
            late_sends: self.send_lag.late(),
            max_send_lag_us: self.send_lag.max_us(),
            send_lag: self.send_lag.report(),
            backpressure_waits: status.backpressure_total,
            warmup_samples: self.warmup_samples,
            protocol: status.protocol,
            warnings: self.warnings(),
            intervals,
            memory: None,
            allocator: None,
            target_gc: None,
            timeline: Some(
                self.timeline
                    .finish(end.saturating_duration_since(self.measure_start), timeline),
            ),
            accounting: None,
            faults: Vec::new(),
            failover: None,
            generator_cpu_us_per_request: None,
            generator_cpu: None,
        };
        if let Some(cpu) = &self.cpu {
            let figures = cpu.figures();
            metrics.generator_cpu_us_per_request = figures.us_per_request;
            metrics.generator_cpu = Some(figures);
        }
        if let Some(monitor) = &self.resources {
            monitor.finish(&mut metrics);
        }
        metrics
    }
}

pub(crate) mod figures;
mod op_state;
use op_state::OpState;
mod results;
mod scenarios;
use super::generator_cpu::{cpu_limit_warning, CpuMeter, Pace};
use figures::{interval_stats, keep_up_warning, labelled, op_metrics};
pub use results::{OpMetrics, RunMetrics};
use scenarios::ScenarioState;
pub use scenarios::{ScenarioMetrics, ScenarioOps, ScenarioStatus};

#[cfg(test)]
mod tests;
