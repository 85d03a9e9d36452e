//! Each `[[scenarios]]` entry's own figures beside the run's: its intervals
//! (asked, sent and achieved rate, corrected and service percentiles), its
//! late sends and send lag (p50/p99/max, per interval too), and the keep-up warnings of its own
//! arrival process. The engine says what it asked of each scenario
//! (`ScenarioStatus`); the samples say the rest.

use super::{interval_stats, keep_up_warning, op_metrics, OpMetrics, OpState, Recorder};
use crate::client::wire_bytes::WireBytes;
use crate::metrics::retention::Ring;
use crate::metrics::send_lag::{SendLag, SendLagReport};
use crate::metrics::snapshot::{IntervalStats, ScenarioNow};
use crate::metrics::wire_rates::ByteRates;
use crate::metrics::{new_histogram, ErrorKind, Sample};
use hdrhistogram::Histogram;
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;
use std::ops::Range;

/// A scenario's operations: `ops` are its requests (a mix or a flow's
/// steps); `also` the ops that record its iterations or sessions.
#[derive(Debug, Clone, PartialEq)]
pub struct ScenarioOps {
    pub name: String,
    pub ops: Range<usize>,
    pub also: Vec<usize>,
}

/// What the engine asked of one scenario and where it stands, at a tick.
#[derive(Debug, Clone, Copy, Default, PartialEq)]
pub struct ScenarioStatus {
    /// Asked requests/s now (open loop).
    pub rate: Option<f64>,
    /// Requests kept in flight now (closed loop).
    pub concurrency: Option<u32>,
    /// Sessions × pipeline, when that is below `concurrency`.
    pub cap: Option<u64>,
    pub in_flight: u64,
    pub sessions: u32,
    pub active: bool,
    /// Sends its schedule asked for since measuring began (open loop).
    pub planned_total: u64,
    /// Sends made since measuring began.
    pub sent_total: u64,
    pub backpressure_total: u64,
}

/// One scenario's figures in the result file: its operations merged (the
/// same keys as an operation's), then its load, lateness and intervals.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ScenarioMetrics {
    #[serde(flatten)]
    pub figures: OpMetrics,
    /// Requests/s its schedule asked for (open loop).
    #[serde(default)]
    pub asked_rate: Option<f64>,
    #[serde(default)]
    pub sent_rate: f64,
    #[serde(default)]
    pub planned_sends: u64,
    #[serde(default)]
    pub sends: u64,
    #[serde(default)]
    pub late_sends: u64,
    #[serde(default)]
    pub max_send_lag_us: u64,
    /// Its own send lag (actual send − planned start): a scenario held
    /// back by another on a shared session shows it here, not in the run's.
    #[serde(default)]
    pub send_lag: SendLagReport,
    #[serde(default)]
    pub backpressure_waits: u64,
    #[serde(default)]
    pub warnings: Vec<String>,
    #[serde(default)]
    pub intervals: Vec<IntervalStats>,
}

impl Recorder {
    /// Also reports each scenario as a whole and over time: `groups` name
    /// the operations that belong to each.
    pub fn with_scenarios(mut self, groups: Vec<ScenarioOps>) -> Recorder {
        self.op_scenario = vec![None; self.ops.len()];
        for (i, g) in groups.iter().enumerate() {
            for op in g.ops.clone().chain(g.also.iter().copied()) {
                if let Some(slot) = self.op_scenario.get_mut(op) {
                    *slot = Some(i);
                }
            }
        }
        self.scenarios = groups.into_iter().map(ScenarioState::new).collect();
        self
    }
}

pub(super) struct ScenarioState {
    pub ops: ScenarioOps,
    corrected: Histogram<u64>,
    service: Histogram<u64>,
    completed: u64,
    errors: u64,
    bytes: WireBytes,
    pub history: Ring<IntervalStats>,
    send_lag: SendLag,
    warnings: BTreeMap<&'static str, String>,
    pub last_status: ScenarioStatus,
}

impl ScenarioState {
    pub fn new(ops: ScenarioOps) -> ScenarioState {
        ScenarioState {
            ops,
            corrected: new_histogram(),
            service: new_histogram(),
            completed: 0,
            errors: 0,
            bytes: WireBytes::default(),
            history: Ring::new(super::HISTORY_LEN),
            send_lag: SendLag::default(),
            warnings: BTreeMap::new(),
            last_status: ScenarioStatus::default(),
        }
    }

    /// Counts one measured request of this scenario.
    pub fn record(&mut self, s: &Sample) {
        self.send_lag.record(s.send_lag_us());
        self.completed += 1;
        self.bytes += s.bytes;
        match &s.outcome {
            Ok(()) => {
                self.corrected.saturating_record(s.corrected_us().max(1));
                self.service.saturating_record(s.service_us().max(1));
            }
            Err(_) => self.errors += 1,
        }
    }

    /// Closes its interval ending at `t_s` (seconds measured), `length` long.
    pub fn close_interval(&mut self, t_s: f64, length: f64, status: ScenarioStatus) {
        let prev = self.last_status;
        let planned = status.planned_total.saturating_sub(prev.planned_total);
        let sent = status.sent_total.saturating_sub(prev.sent_total);
        let waits = status
            .backpressure_total
            .saturating_sub(prev.backpressure_total);
        let mut stats = interval_stats(
            t_s,
            length,
            (self.completed, self.errors),
            status.rate.map(|_| planned),
            sent,
            (&self.corrected, &self.service),
        );
        stats.bytes = ByteRates::over(std::mem::take(&mut self.bytes), length);
        if status.active {
            let scope = format!("scenario {}: ", self.ops.name);
            if let Some((key, text)) = keep_up_warning(&stats, (planned, sent), waits, &scope) {
                self.warnings.insert(key, text);
            }
        }
        self.send_lag.close_interval(t_s);
        self.history.push(stats);
        self.corrected.reset();
        self.service.reset();
        self.completed = 0;
        self.errors = 0;
        self.last_status = status;
    }

    pub fn warnings(&self) -> impl Iterator<Item = &String> {
        self.warnings.values()
    }

    /// As the live screen sees it, with the engine's `status` now.
    pub fn now(&self, status: ScenarioStatus) -> ScenarioNow {
        let from = self.history.len().saturating_sub(super::SNAPSHOT_HISTORY);
        ScenarioNow {
            name: self.ops.name.clone(),
            rate: status.rate,
            concurrency: status.concurrency,
            cap: status.cap,
            in_flight: status.in_flight,
            sessions: status.sessions,
            active: status.active,
            last: self.history.back().cloned(),
            history: self.history.iter().skip(from).cloned().collect(),
            late_sends: self.send_lag.late(),
            max_send_lag_us: self.send_lag.max_us(),
            send_lag: self.send_lag.figures(),
        }
    }

    /// Its figures over the run: its operations' histograms merged.
    pub fn metrics(&self, ops: &[OpState], status: ScenarioStatus, secs: f64) -> ScenarioMetrics {
        let (mut c, mut s) = (new_histogram(), new_histogram());
        let mut errors: BTreeMap<ErrorKind, u64> = BTreeMap::new();
        let mut bytes = WireBytes::default();
        for op in ops.get(self.ops.ops.clone()).unwrap_or_default() {
            bytes += op.bytes;
            // Same bounds everywhere (`new_histogram`), so adding cannot fail.
            let _ = c.add(&op.corrected);
            let _ = s.add(&op.service);
            for (k, n) in &op.errors {
                *errors.entry(*k).or_default() += n;
            }
        }
        let per_sec = |n: u64| if secs > 0.0 { n as f64 / secs } else { 0.0 };
        ScenarioMetrics {
            figures: OpMetrics {
                bytes: ByteRates::over(bytes, secs),
                ..op_metrics(&self.ops.name, &c, &s, &errors, secs)
            },
            asked_rate: status.rate.map(|_| per_sec(status.planned_total)),
            sent_rate: per_sec(status.sent_total),
            planned_sends: status.planned_total,
            sends: status.sent_total,
            late_sends: self.send_lag.late(),
            max_send_lag_us: self.send_lag.max_us(),
            send_lag: self.send_lag.report(),
            backpressure_waits: status.backpressure_total,
            warnings: self.warnings().cloned().collect(),
            intervals: self.history.iter().cloned().collect(),
        }
    }
}
