//! Measurement: samples in, percentiles, rates and warnings out; and the
//! resources a run uses (processes sampled from the OS, allocations counted
//! by the counting allocator the binary installs). This is the only place
//! percentiles, rates and slopes are computed; the TUI, the headless
//! printer and every exporter read the `Snapshot` and `RunMetrics` made
//! here, complete when they are made.

pub mod accounting;
pub mod alloc;
pub mod buckets;
pub mod connections;
pub mod failover;
pub mod fault_marks;
pub mod gc;
pub mod generator_cpu;
pub mod prefixed;
pub mod process;
pub mod recorder;
pub mod recovery;
pub mod resources;
pub mod resume;
pub mod retention;
pub mod sampler;
pub mod send_lag;
pub mod snapshot;
pub mod spectrum;
pub mod timeline;
pub mod units;
pub mod wire_rates;

use crate::client::wire_bytes::WireBytes;
use crate::client::CallError;
use hdrhistogram::Histogram;
use serde::{Deserialize, Serialize};
use tokio::time::Instant;

pub use recorder::{
    EngineStatus, Recorder, RunMetrics, ScenarioMetrics, ScenarioOps, ScenarioStatus,
};
pub use snapshot::{IntervalStats, OpSummary, Percentiles, ScenarioNow, Snapshot};

/// Highest latency the histograms hold: one hour, in microseconds.
pub const MAX_LATENCY_US: u64 = 3_600_000_000;
/// Significant figures kept by every histogram.
pub const SIGFIGS: u8 = 3;

/// Failure classes, as result files and tables group them.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
pub enum ErrorKind {
    Timeout,
    Transport,
    JsonRpc(i64),
    ToolError,
    Protocol,
    /// HTTP 401, or no token from the token endpoint.
    Auth,
    /// Sent, and the connection died before the reply.
    Lost,
    /// Not sent: the session was down.
    NotSent,
}

impl ErrorKind {
    pub fn label(&self) -> String {
        match self {
            ErrorKind::Timeout => "timeout".into(),
            ErrorKind::Transport => "transport".into(),
            ErrorKind::JsonRpc(code) => format!("jsonrpc {code}"),
            ErrorKind::ToolError => "tool_error".into(),
            ErrorKind::Protocol => "protocol".into(),
            ErrorKind::Auth => "auth".into(),
            ErrorKind::Lost => "lost".into(),
            ErrorKind::NotSent => "not_sent".into(),
        }
    }
}

impl From<&CallError> for ErrorKind {
    fn from(e: &CallError) -> Self {
        match e {
            CallError::Timeout => ErrorKind::Timeout,
            CallError::Transport(_) => ErrorKind::Transport,
            CallError::JsonRpc { code, .. } => ErrorKind::JsonRpc(*code),
            CallError::ToolError(_) => ErrorKind::ToolError,
            CallError::Protocol(_) => ErrorKind::Protocol,
            CallError::Auth(_) => ErrorKind::Auth,
            CallError::Lost(_) => ErrorKind::Lost,
            CallError::NotSent(_) => ErrorKind::NotSent,
        }
    }
}

/// One request, as the engine saw it.
#[derive(Debug, Clone, PartialEq)]
pub struct Sample {
    /// Index of the operation in the workload.
    pub op: usize,
    /// When the schedule said it should be sent (open loop), or when a slot
    /// freed (closed loop).
    pub planned: Instant,
    pub sent: Instant,
    pub done: Instant,
    /// The failure keeps what the server said: the recorder keeps the first
    /// message of each kind.
    pub outcome: Result<(), CallError>,
    /// Bytes the request and its reply took on the wire (`client::wire_bytes`).
    pub bytes: WireBytes,
}

impl Sample {
    /// Latency from the planned start: what a user waiting on the schedule saw.
    pub fn corrected_us(&self) -> u64 {
        micros(self.done.saturating_duration_since(self.planned))
    }

    /// Latency from the actual send: the server's service time plus transport.
    pub fn service_us(&self) -> u64 {
        micros(self.done.saturating_duration_since(self.sent))
    }

    pub fn send_lag_us(&self) -> u64 {
        micros(self.sent.saturating_duration_since(self.planned))
    }
}

fn micros(d: std::time::Duration) -> u64 {
    u64::try_from(d.as_micros()).unwrap_or(u64::MAX)
}

pub fn new_histogram() -> Histogram<u64> {
    Histogram::new_with_bounds(1, MAX_LATENCY_US, SIGFIGS)
        .expect("constant histogram bounds are valid")
}

pub fn percentiles(h: &Histogram<u64>) -> Percentiles {
    if h.is_empty() {
        return Percentiles::default();
    }
    Percentiles {
        p50_us: h.value_at_quantile(0.50),
        p90_us: h.value_at_quantile(0.90),
        p95_us: h.value_at_quantile(0.95),
        p99_us: h.value_at_quantile(0.99),
        p999_us: h.value_at_quantile(0.999),
        max_us: h.max(),
        min_us: h.min(),
        mean_us: h.mean(),
    }
}

/// Serializes a histogram in HdrHistogram's V2 compressed format, base64.
pub fn encode_histogram(h: &Histogram<u64>) -> String {
    use base64::Engine;
    use hdrhistogram::serialization::{Serializer, V2DeflateSerializer};
    let mut bytes = Vec::new();
    match V2DeflateSerializer::new().serialize(h, &mut bytes) {
        Ok(_) => base64::engine::general_purpose::STANDARD.encode(bytes),
        Err(_) => String::new(),
    }
}

/// The inverse of `encode_histogram`.
pub fn decode_histogram(text: &str) -> Result<Histogram<u64>, String> {
    use base64::Engine;
    use hdrhistogram::serialization::Deserializer;
    let bytes = base64::engine::general_purpose::STANDARD
        .decode(text.trim())
        .map_err(|e| format!("not base64: {e}"))?;
    Deserializer::new()
        .deserialize(&mut std::io::Cursor::new(bytes))
        .map_err(|e| format!("not an HDR histogram: {e:?}"))
}

/// Log-spaced buckets (powers of two in µs) of a histogram, for display.
pub fn log_buckets(h: &Histogram<u64>) -> Vec<snapshot::Bucket> {
    if h.is_empty() {
        return Vec::new();
    }
    let mut buckets = Vec::new();
    let mut lower = 0u64;
    let mut upper = 1u64;
    let max = h.max();
    loop {
        let count = h.count_between(lower, upper);
        buckets.push(snapshot::Bucket {
            upper_us: upper,
            count,
        });
        if upper >= max {
            break;
        }
        lower = upper + 1;
        upper = upper.saturating_mul(2);
    }
    // Trim the empty head so the chart starts at the fastest reply.
    let first = buckets.iter().position(|b| b.count > 0).unwrap_or(0);
    buckets.drain(..first);
    buckets
}
