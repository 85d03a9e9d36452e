//! `Snapshot`: the plain data the recorder publishes at every tick. Views
//! (TUI, headless lines) read it and nothing else. No view types here.

use super::wire_rates::ByteRates;
use serde::{Deserialize, Serialize};
use std::time::Duration;

#[derive(Debug, Clone, Copy, Default, PartialEq, Serialize, Deserialize)]
pub struct Percentiles {
    pub p50_us: u64,
    pub p90_us: u64,
    pub p95_us: u64,
    pub p99_us: u64,
    pub p999_us: u64,
    pub max_us: u64,
    pub min_us: u64,
    pub mean_us: f64,
}

/// One tick's worth of measurements (normally one second).
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct IntervalStats {
    /// Seconds since measurement started, at the end of this interval.
    pub t_s: f64,
    pub length_s: f64,
    /// Replies (successes and failures) that arrived in the interval.
    pub completed: u64,
    pub errors: u64,
    /// Completed per second.
    pub throughput: f64,
    /// Sends per second the schedule asked for (open loop).
    pub asked_rate: Option<f64>,
    /// Sends per second actually made.
    pub sent_rate: f64,
    pub corrected: Percentiles,
    pub service: Percentiles,
    /// Bytes on the wire of the replies that arrived in the interval.
    #[serde(flatten)]
    pub bytes: ByteRates,
}

#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct OpSummary {
    pub label: String,
    pub ok: u64,
    pub errors: u64,
    /// Completed per second over the measured time.
    pub throughput: f64,
    pub corrected: Percentiles,
    pub service: Percentiles,
    /// Bytes on the wire, and per second of the measured time.
    #[serde(flatten)]
    pub bytes: ByteRates,
}

#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct Bucket {
    /// Inclusive upper edge, µs; the lower edge is the previous bucket's upper + 1.
    pub upper_us: u64,
    pub count: u64,
}

#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, PartialOrd, Ord, Serialize, Deserialize)]
pub enum Phase {
    #[default]
    Connecting,
    Warmup,
    Measuring,
    Draining,
    Done,
}

impl Phase {
    pub fn name(self) -> &'static str {
        match self {
            Phase::Connecting => "connecting",
            Phase::Warmup => "warm-up",
            Phase::Measuring => "measuring",
            Phase::Draining => "draining",
            Phase::Done => "done",
        }
    }
}

/// The warm-up so far and its planned length.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct WarmupClock {
    pub elapsed: Duration,
    pub planned: Duration,
}

/// What the load looks like right now.
#[derive(Debug, Clone, Copy, Default, PartialEq, Serialize, Deserialize)]
pub struct LoadNow {
    /// Asked requests/s (open loop).
    pub rate: Option<f64>,
    /// Requests kept in flight (closed loop).
    pub concurrency: Option<u32>,
    pub in_flight: u64,
    pub sessions: u32,
    pub paused: bool,
    /// With `[[scenarios]]`: how many run at once (each has its own load,
    /// so `rate` and `concurrency` are unset).
    #[serde(default)]
    pub scenarios: u32,
    /// Closed loop: most requests the sessions can hold at once (sessions ×
    /// pipeline); a `concurrency` above it is not reached.
    #[serde(default)]
    pub cap: Option<u64>,
}

/// One `[[scenarios]]` entry as it runs now. A workload without scenarios
/// has none (its figures are the run's own).
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct ScenarioNow {
    pub name: String,
    /// Asked requests/s now (open loop), after stages and `+`/`-`.
    pub rate: Option<f64>,
    /// Requests kept in flight now (closed loop).
    pub concurrency: Option<u32>,
    /// Most requests its sessions can hold at once (sessions × pipeline),
    /// when that caps `concurrency`.
    pub cap: Option<u64>,
    pub in_flight: u64,
    pub sessions: u32,
    /// Inside its `start`/`duration` window and not paused.
    pub active: bool,
    /// Its latest interval, if one has ended.
    pub last: Option<IntervalStats>,
    /// Its recent intervals, oldest first (bounded like the run's).
    pub history: Vec<IntervalStats>,
    pub late_sends: u64,
    pub max_send_lag_us: u64,
    /// Its send lag so far.
    #[serde(default)]
    pub send_lag: super::send_lag::LagFigures,
}

/// Protocol-level events not tied to one request.
#[derive(Debug, Clone, Copy, Default, PartialEq, Serialize, Deserialize)]
pub struct ProtocolCounters {
    pub notifications: u64,
    pub server_requests: u64,
    pub violations: u64,
}

/// One process as sampled from the OS.
#[derive(Debug, Clone, Copy, Default, PartialEq, Serialize, Deserialize)]
pub struct ProcessStats {
    pub pid: u32,
    pub rss_bytes: u64,
    pub cpu_percent: f64,
    pub threads: u64,
    pub open_fds: u64,
    pub fd_limit: Option<u64>,
}

/// Memory of mcptop and of the target, with growth over the run.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct MemoryStats {
    pub mcptop: Option<ProcessStats>,
    /// Target processes summed (RSS, threads, fds); `None` for in-process targets.
    pub target: Option<ProcessStats>,
    /// Least-squares RSS growth over the run, MiB per minute (mcptop's
    /// from once its own profiler, if on, was running).
    pub mcptop_slope_mib_per_min: Option<f64>,
    /// What starting mcptop's in-process CPU profiler added to its RSS:
    /// shown apart, and kept out of the growth and leak figures.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub profiler_rss_bytes: Option<u64>,
    pub target_slope_mib_per_min: Option<f64>,
    /// ΔRSS / Δsessions while sessions ramp.
    pub bytes_per_session: Option<f64>,
    /// RSS grew beyond noise for the whole run.
    pub leak_suspect: bool,
    /// The target's CPU time per request over the measured window, µs
    /// (when mcptop reads the target's process: a stdio child or `--target-pid`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub target_cpu_us_per_request: Option<f64>,
    /// (seconds since start, mcptop RSS, target RSS) samples, oldest first (bounded).
    pub history: Vec<(f64, u64, u64)>,
    /// (seconds since start, allocated, resident) bytes of mcptop's allocator
    /// at the same samples (hook: outputs, the HTML report's chart).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub allocator_history: Vec<(f64, u64, u64)>,
}

/// The allocator's view (jemalloc): our GC equivalent.
#[derive(Debug, Clone, Copy, Default, PartialEq, Serialize, Deserialize)]
pub struct AllocatorStats {
    pub allocated_bytes: u64,
    pub active_bytes: u64,
    pub resident_bytes: u64,
    pub retained_bytes: u64,
    pub metadata_bytes: u64,
    /// 1 - allocated/active.
    pub fragmentation: f64,
    pub bytes_per_s: f64,
    pub allocs_per_s: f64,
    pub allocs_per_request: Option<f64>,
    pub bytes_per_request: Option<f64>,
}

#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct Snapshot {
    pub phase: Phase,
    /// How far the warm-up is, while it runs.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub warmup: Option<WarmupClock>,
    /// Measured time so far (zero during warm-up).
    pub elapsed: Duration,
    /// Measured time the workload asks for, when bounded by time.
    pub planned: Option<Duration>,
    pub load: LoadNow,
    /// The latest interval, if one has ended.
    pub last: Option<IntervalStats>,
    /// Recent intervals, oldest first (bounded).
    pub history: Vec<IntervalStats>,
    pub total: OpSummary,
    pub ops: Vec<OpSummary>,
    /// Failures by kind label, most frequent first.
    pub errors: Vec<(String, u64)>,
    /// The first message of each failure kind (by label), escaped.
    #[serde(default)]
    pub error_messages: std::collections::BTreeMap<String, String>,
    pub warnings: Vec<String>,
    /// Log-bucketed corrected latency of every success so far.
    pub histogram: Vec<Bucket>,
    pub protocol: ProtocolCounters,
    pub late_sends: u64,
    pub max_send_lag_us: u64,
    /// Send lag (actual send − planned start) of the run so far.
    #[serde(default)]
    pub send_lag: super::send_lag::LagFigures,
    /// Not measured yet: `None` (views say so; never a made-up figure).
    pub memory: Option<MemoryStats>,
    pub allocator: Option<AllocatorStats>,
    /// Connect, TLS and initialize times of network targets so far.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub connections: Option<crate::transport::phases::ConnectionPhases>,
    /// The target's garbage collections (`metrics::gc`); `None` when the run
    /// has no GC monitor.
    #[serde(default)]
    pub target_gc: Option<super::gc::TargetGc>,
    /// With `[[scenarios]]`: each scenario as it runs now, in file order.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub scenarios: Vec<ScenarioNow>,
    /// Each operation's latency in fixed buckets, for live exporters (hook: outputs).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub distributions: Vec<super::buckets::OpDistribution>,
    /// The faults fired so far, for the charts' markers.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub fault_marks: Vec<super::fault_marks::FaultMark>,
    /// SSE resumption so far, per operation (`resume_after`).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub sse_resume: Vec<super::resume::ResumeLive>,
    /// With `failover = true`: the sessions' moves between targets so far.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub failover: Option<super::failover::FailoverReport>,
}

impl Snapshot {
    /// The snapshot without its histories (the run's intervals, the memory
    /// readings, each scenario's intervals): for a reader of the figures now
    /// (`export::prometheus`), which keeps the latest snapshot between
    /// scrapes. A full copy kept there grew with the run for its first ten
    /// minutes (600 intervals of about 224 bytes).
    pub fn without_history(&self) -> Snapshot {
        // Spelled out, so a field added to `Snapshot` must be placed here.
        let Snapshot {
            phase,
            warmup,
            elapsed,
            planned,
            load,
            last,
            history: _,
            total,
            ops,
            errors,
            error_messages,
            warnings,
            histogram,
            protocol,
            late_sends,
            max_send_lag_us,
            send_lag,
            memory,
            allocator,
            connections,
            target_gc,
            scenarios,
            distributions,
            fault_marks,
            sse_resume,
            failover,
        } = self;
        Snapshot {
            phase: *phase,
            warmup: *warmup,
            elapsed: *elapsed,
            planned: *planned,
            load: *load,
            last: last.clone(),
            history: Vec::new(),
            total: total.clone(),
            ops: ops.clone(),
            errors: errors.clone(),
            error_messages: error_messages.clone(),
            warnings: warnings.clone(),
            histogram: histogram.clone(),
            protocol: *protocol,
            late_sends: *late_sends,
            max_send_lag_us: *max_send_lag_us,
            send_lag: *send_lag,
            memory: memory.as_ref().map(MemoryStats::without_history),
            allocator: *allocator,
            connections: connections.clone(),
            target_gc: target_gc.clone(),
            scenarios: scenarios.iter().map(ScenarioNow::without_history).collect(),
            distributions: distributions.clone(),
            fault_marks: fault_marks.clone(),
            sse_resume: sse_resume.clone(),
            failover: failover.clone(),
        }
    }
}

impl MemoryStats {
    fn without_history(&self) -> MemoryStats {
        MemoryStats {
            mcptop: self.mcptop,
            target: self.target,
            mcptop_slope_mib_per_min: self.mcptop_slope_mib_per_min,
            profiler_rss_bytes: self.profiler_rss_bytes,
            target_slope_mib_per_min: self.target_slope_mib_per_min,
            bytes_per_session: self.bytes_per_session,
            leak_suspect: self.leak_suspect,
            target_cpu_us_per_request: self.target_cpu_us_per_request,
            history: Vec::new(),
            allocator_history: Vec::new(),
        }
    }
}

impl ScenarioNow {
    fn without_history(&self) -> ScenarioNow {
        ScenarioNow {
            name: self.name.clone(),
            rate: self.rate,
            concurrency: self.concurrency,
            cap: self.cap,
            in_flight: self.in_flight,
            sessions: self.sessions,
            active: self.active,
            last: self.last.clone(),
            history: Vec::new(),
            late_sends: self.late_sends,
            max_send_lag_us: self.max_send_lag_us,
            send_lag: self.send_lag,
        }
    }
}
