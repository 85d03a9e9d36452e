//! What the recorder hands over at the end: `RunMetrics`, the measured part
//! of the result file, and `OpMetrics`, one operation's (or the whole run's,
//! or a scenario's) figures in the metrology field names.

use super::super::send_lag::SendLagReport;
use super::super::snapshot::{
    AllocatorStats, IntervalStats, MemoryStats, Percentiles, ProtocolCounters,
};
use super::super::wire_rates::ByteRates;
use super::ScenarioMetrics;
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;

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
    #[serde(flatten, with = "super::super::prefixed::latency")]
    pub corrected: Percentiles,
    /// Service time (from the actual send) of successes, written flat as
    /// `service_p50_us` ... `service_mean_us`.
    #[serde(flatten, with = "super::super::prefixed::service")]
    pub service: Percentiles,
    pub errors_by_kind: BTreeMap<String, u64>,
    /// The first message the server (or the connection) gave for each kind
    /// of failure, escaped and cut to a bounded length; timeouts have none.
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub first_error_messages: BTreeMap<String, String>,
    /// The method sent instead of the op's own: a ping's fallback, on a
    /// server whose protocol has no ping.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub sent_as: Option<String>,
    /// HdrHistogram V2 deflate, base64: merge and compare distributions.
    pub histogram_corrected: String,
    pub histogram_service: String,
    /// Bytes on the wire (requests sent, replies received) and per second.
    #[serde(flatten)]
    pub bytes: ByteRates,
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
    pub scenarios: Vec<ScenarioMetrics>,
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
    /// Actual send − planned start: percentiles, histogram, per interval.
    #[serde(default)]
    pub send_lag: SendLagReport,
    pub backpressure_waits: u64,
    pub warmup_samples: u64,
    pub protocol: ProtocolCounters,
    pub warnings: Vec<String>,
    /// Oldest first; 1 s for the last hour, older ones merged into 10 s and
    /// then 60 s ones, each with its width in `length_s` (`retention`).
    pub intervals: Vec<IntervalStats>,
    /// Processes sampled during the run (absent with `--no-memory-stats`).
    #[serde(default)]
    pub memory: Option<MemoryStats>,
    #[serde(default)]
    pub allocator: Option<AllocatorStats>,
    /// The target's garbage collections, as its runtime reported them.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub target_gc: Option<super::super::gc::TargetGc>,
    /// With faults or `reconnect`: where every planned request ended.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub accounting: Option<super::super::accounting::Accounting>,
    /// Each fault's detection and recovery figures.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub faults: Vec<super::super::recovery::Recovery>,
    /// With `failover = true`: the sessions' moves between targets.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub failover: Option<super::super::failover::FailoverReport>,
    /// Every interval's histograms per operation (hook: outputs).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub timeline: Option<super::super::timeline::Timeline>,
    /// mcptop's own CPU time (user + system, all its threads) per completed
    /// request over the measured run, µs; for the builtin target it includes
    /// the server's.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub generator_cpu_us_per_request: Option<f64>,
    /// The same per interval, with mcptop's busy cores and how many it can use.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub generator_cpu: Option<super::super::generator_cpu::GeneratorCpu>,
}
