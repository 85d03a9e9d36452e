//! Workloads: what to send, how fast, for how long, and what counts as a pass.
//! `spec` is the file format; this module validates a spec into a typed
//! `Workload` and names the file and key of anything wrong.

pub mod catalog;
mod fields;
pub mod spec;

pub use fields::parse_duration;
use fields::{
    check_batch, check_concurrency, check_rate, parse_op, parse_positive_duration, parse_stage,
    parse_threshold, toml_error_key,
};
use serde_json::Value;
use spec::WorkloadSpec;
use std::path::Path;
use std::time::Duration;

/// A workload file (or override) that does not make sense, with where and why.
#[derive(Debug, thiserror::Error)]
#[error("{source_name}: {key}: {message}")]
pub struct WorkloadError {
    pub source_name: String,
    pub key: String,
    pub message: String,
}

/// Protocol versions the client knows, newest first.
pub const KNOWN_PROTOCOLS: &[&str] = &[
    "2026-07-28",
    "2025-11-25",
    "2025-06-18",
    "2025-03-26",
    "2024-11-05",
];
/// The stateless era: no `initialize`, version and client in every request.
pub const STATELESS_PROTOCOL: &str = "2026-07-28";
/// The newest era with an `initialize` handshake.
pub const NEWEST_INITIALIZE_PROTOCOL: &str = "2025-11-25";
/// The `protocol` setting that lets client and server negotiate.
pub const AUTO_PROTOCOL: &str = "auto";
/// The only era with JSON-RPC batches (added in it, removed in 2025-06-18).
pub const BATCH_PROTOCOL: &str = "2025-03-26";
/// The most requests one batch may carry.
pub const MAX_BATCH: u32 = 1000;

#[derive(Debug, Clone, Copy, PartialEq)]
pub enum LoadShape {
    /// Requests are planned at `1/rate` intervals whatever the server does.
    OpenLoop { rate: f64 },
    /// `concurrency` requests are kept in flight.
    ClosedLoop { concurrency: u32 },
}

impl LoadShape {
    pub fn describe(&self) -> String {
        match self {
            LoadShape::OpenLoop { rate } => format!("open loop, {rate} req/s"),
            LoadShape::ClosedLoop { concurrency } => {
                format!("closed loop, {concurrency} in flight")
            }
        }
    }
}

#[derive(Debug, Clone, PartialEq)]
pub struct Stage {
    pub duration: Duration,
    pub shape: LoadShape,
}

#[derive(Debug, Clone, PartialEq)]
pub enum Method {
    ToolsCall { tool: String, arguments: Value },
    ResourcesRead { uri: String },
    PromptsGet { prompt: String, arguments: Value },
    ToolsList,
    ResourcesList,
    PromptsList,
    Ping,
}

impl Method {
    pub fn wire_name(&self) -> &'static str {
        match self {
            Method::ToolsCall { .. } => "tools/call",
            Method::ResourcesRead { .. } => "resources/read",
            Method::PromptsGet { .. } => "prompts/get",
            Method::ToolsList => "tools/list",
            Method::ResourcesList => "resources/list",
            Method::PromptsList => "prompts/list",
            Method::Ping => "ping",
        }
    }

    /// JSON-RPC `params` for this method.
    pub fn params(&self) -> Value {
        match self {
            Method::ToolsCall { tool, arguments } => {
                serde_json::json!({ "name": tool, "arguments": arguments })
            }
            Method::ResourcesRead { uri } => serde_json::json!({ "uri": uri }),
            Method::PromptsGet { prompt, arguments } => {
                serde_json::json!({ "name": prompt, "arguments": arguments })
            }
            Method::ToolsList | Method::ResourcesList | Method::PromptsList | Method::Ping => {
                serde_json::json!({})
            }
        }
    }
}

#[derive(Debug, Clone, PartialEq)]
pub struct Operation {
    pub label: String,
    pub weight: u32,
    pub method: Method,
    pub timeout: Duration,
}

#[derive(Debug, Clone, Copy, PartialEq)]
pub enum Metric {
    Latency(Quantile),
    ErrorRate,
    Throughput,
}

#[derive(Debug, Clone, Copy, PartialEq)]
pub enum Quantile {
    P50,
    P90,
    P95,
    P99,
    P999,
    Max,
}

impl Quantile {
    pub fn name(self) -> &'static str {
        match self {
            Quantile::P50 => "p50",
            Quantile::P90 => "p90",
            Quantile::P95 => "p95",
            Quantile::P99 => "p99",
            Quantile::P999 => "p99.9",
            Quantile::Max => "max",
        }
    }
}

#[derive(Debug, Clone, PartialEq)]
pub enum Bound {
    AtMost(f64),
    AtLeast(f64),
}

#[derive(Debug, Clone, PartialEq)]
pub struct Threshold {
    pub metric: Metric,
    pub op: Option<String>,
    /// Latency bounds are in microseconds, rates in fractions, throughput in req/s.
    pub bound: Bound,
    /// Not in the file: the default every workload gets (`default_error_rate`).
    pub by_default: bool,
}

/// The error rate a run may have when its workload declares no
/// `error_rate` threshold of its own: 1 %. Zero would fail an overload test
/// over one timeout in a million; 1 % still fails anything broken for
/// good (a misspelt tool fails every request, a server that answers twice
/// breaks the protocol on every reply), and the summary shows every error
/// with its first message whatever the verdict.
pub const DEFAULT_MAX_ERROR_RATE: f64 = 0.01;

/// The threshold a workload without an `error_rate` threshold gets. Over the
/// whole run, an error rate counts protocol violations as failed requests.
pub fn default_error_rate() -> Threshold {
    Threshold {
        metric: Metric::ErrorRate,
        op: None,
        bound: Bound::AtMost(DEFAULT_MAX_ERROR_RATE),
        by_default: true,
    }
}

#[derive(Debug, Clone, PartialEq)]
pub struct Workload {
    pub name: String,
    pub description: String,
    pub target: Option<String>,
    pub sessions: u32,
    pub shape: LoadShape,
    pub pipeline: u32,
    /// HTTP connections per session.
    pub connections: u32,
    /// Listen on the Streamable HTTP GET stream.
    pub server_stream: bool,
    pub duration: Option<Duration>,
    pub requests: Option<u64>,
    pub warmup: Duration,
    pub stages: Vec<Stage>,
    pub ops: Vec<Operation>,
    pub thresholds: Vec<Threshold>,
    pub protocol: String,
    /// Requests per send: 1, or the size of a JSON-RPC batch.
    pub batch: u32,
    /// The spec as run (after command-line overrides), for result files.
    pub spec: WorkloadSpec,
}

/// Command-line changes applied to a spec before validation.
#[derive(Debug, Clone, Default)]
pub struct Overrides {
    pub duration: Option<String>,
    pub rate: Option<f64>,
    pub concurrency: Option<u32>,
    pub sessions: Option<u32>,
    pub requests: Option<u64>,
    pub warmup: Option<String>,
    pub protocol: Option<String>,
}

const DEFAULT_TIMEOUT: Duration = Duration::from_secs(10);
const DEFAULT_OPEN_PIPELINE: u32 = 64;
const MAX_SESSIONS: u32 = 100_000;

impl Workload {
    pub fn parse(text: &str, source_name: &str) -> Result<Workload, WorkloadError> {
        Self::parse_with(text, source_name, &Overrides::default())
    }

    pub fn parse_with(
        text: &str,
        source_name: &str,
        overrides: &Overrides,
    ) -> Result<Workload, WorkloadError> {
        let spec: WorkloadSpec = toml::from_str(text).map_err(|e| {
            let line = e
                .span()
                .map(|s| {
                    format!(
                        " (line {})",
                        text[..s.start.min(text.len())].matches('\n').count() + 1
                    )
                })
                .unwrap_or_default();
            WorkloadError {
                source_name: source_name.to_string(),
                key: toml_error_key(&e, text),
                message: format!("{}{line}", e.message().trim_end()),
            }
        })?;
        Self::from_spec(apply_overrides(spec, overrides), source_name)
    }

    pub fn load(path: &Path, overrides: &Overrides) -> Result<Workload, WorkloadError> {
        let name = path.display().to_string();
        let text = std::fs::read_to_string(path).map_err(|e| WorkloadError {
            source_name: name.clone(),
            key: "(file)".into(),
            message: format!("cannot read: {e}"),
        })?;
        Self::parse_with(&text, &name, overrides)
    }

    pub fn from_spec(spec: WorkloadSpec, source_name: &str) -> Result<Workload, WorkloadError> {
        let err = |key: &str, message: String| WorkloadError {
            source_name: source_name.to_string(),
            key: key.to_string(),
            message,
        };
        if spec.name.trim().is_empty() {
            return Err(err("name", "expected a non-empty name".into()));
        }
        let sessions = spec.sessions.unwrap_or(1);
        if sessions == 0 || sessions > MAX_SESSIONS {
            return Err(err(
                "sessions",
                format!("expected 1 to {MAX_SESSIONS}, got {sessions}"),
            ));
        }
        let shape = match (spec.rate, spec.concurrency) {
            (Some(_), Some(_)) => {
                return Err(err(
                    "rate",
                    "set either rate (open loop) or concurrency (closed loop), not both".into(),
                ))
            }
            (Some(rate), None) => LoadShape::OpenLoop {
                rate: check_rate(rate).map_err(|m| err("rate", m))?,
            },
            (None, Some(c)) => LoadShape::ClosedLoop {
                concurrency: check_concurrency(c).map_err(|m| err("concurrency", m))?,
            },
            (None, None) => {
                return Err(err(
                    "rate",
                    "expected rate (requests/s, open loop) or concurrency (closed loop)".into(),
                ))
            }
        };
        let protocol = spec
            .protocol
            .clone()
            .unwrap_or_else(|| AUTO_PROTOCOL.to_string());
        if protocol != AUTO_PROTOCOL && !KNOWN_PROTOCOLS.contains(&protocol.as_str()) {
            return Err(err(
                "protocol",
                format!(
                    "expected auto or one of {}, got {protocol:?}",
                    KNOWN_PROTOCOLS.join(", ")
                ),
            ));
        }
        let batch = check_batch(spec.batch, &protocol).map_err(|m| err("batch", m))?;
        let pipeline = match (spec.pipeline, shape) {
            (Some(0), _) => return Err(err("pipeline", "expected at least 1".into())),
            (Some(p), _) if p < batch => {
                return Err(err(
                    "pipeline",
                    format!("a session carries whole batches: expected at least batch = {batch}"),
                ))
            }
            (Some(p), _) => p,
            (None, LoadShape::ClosedLoop { concurrency }) => {
                concurrency.div_ceil(sessions).max(batch)
            }
            (None, LoadShape::OpenLoop { .. }) => DEFAULT_OPEN_PIPELINE.max(batch),
        };
        let connections = match spec.connections {
            Some(0) => return Err(err("connections", "expected at least 1".into())),
            Some(c) => c,
            None => pipeline,
        };
        let stages = spec
            .stages
            .iter()
            .enumerate()
            .map(|(i, s)| {
                parse_stage(s, &shape).map_err(|(k, m)| err(&format!("stages[{i}].{k}"), m))
            })
            .collect::<Result<Vec<_>, _>>()?;
        let too_few = std::iter::once(shape)
            .chain(stages.iter().map(|s| s.shape))
            .find_map(|s| match s {
                LoadShape::ClosedLoop { concurrency } if concurrency < batch => Some(concurrency),
                _ => None,
            });
        if let Some(concurrency) = too_few {
            return Err(err(
                "batch",
                format!(
                    "a batch goes out whole: batch = {batch} needs concurrency of at least \
                     {batch}, got {concurrency}"
                ),
            ));
        }
        let duration = spec
            .duration
            .as_deref()
            .map(|d| parse_duration(d).map_err(|m| err("duration", m)))
            .transpose()?;
        if !stages.is_empty() && duration.is_some() {
            return Err(err(
                "duration",
                "with stages the run lasts the sum of the stage durations; remove duration".into(),
            ));
        }
        if let Some(0) = spec.requests {
            return Err(err("requests", "expected at least 1".into()));
        }
        if stages.is_empty() && duration.is_none() && spec.requests.is_none() {
            return Err(err(
                "duration",
                "expected a duration (e.g. \"10s\"), a request count (requests), or stages".into(),
            ));
        }
        let warmup = spec
            .warmup
            .as_deref()
            .map(|d| parse_duration(d).map_err(|m| err("warmup", m)))
            .transpose()?
            .unwrap_or(Duration::ZERO);
        let default_timeout = spec
            .timeout
            .as_deref()
            .map(|d| parse_positive_duration(d).map_err(|m| err("timeout", m)))
            .transpose()?
            .unwrap_or(DEFAULT_TIMEOUT);
        if spec.ops.is_empty() {
            return Err(err(
                "ops",
                "expected at least one [[ops]] entry with a method".into(),
            ));
        }
        let ops = spec
            .ops
            .iter()
            .enumerate()
            .map(|(i, o)| {
                parse_op(o, default_timeout).map_err(|(k, m)| err(&format!("ops[{i}].{k}"), m))
            })
            .collect::<Result<Vec<_>, _>>()?;
        let labels: std::collections::HashSet<&str> =
            ops.iter().map(|o| o.label.as_str()).collect();
        if labels.len() != ops.len() {
            return Err(err(
                "ops",
                "two operations have the same label; give one a distinct `name`".into(),
            ));
        }
        let thresholds = spec
            .thresholds
            .iter()
            .enumerate()
            .map(|(i, t)| {
                parse_threshold(t, &labels)
                    .map_err(|(k, m)| err(&format!("thresholds[{i}].{k}"), m))
            })
            .collect::<Result<Vec<_>, _>>()?;
        let mut thresholds = thresholds;
        if !thresholds.iter().any(|t| t.metric == Metric::ErrorRate) {
            thresholds.push(default_error_rate());
        }
        if let Some(t) = &spec.target {
            crate::target::TargetSpec::parse(t).map_err(|e| err("target", e.to_string()))?;
        }
        Ok(Workload {
            name: spec.name.clone(),
            description: spec.description.clone(),
            target: spec.target.clone(),
            sessions,
            shape,
            pipeline,
            connections,
            server_stream: spec.server_stream.unwrap_or(false),
            duration,
            requests: spec.requests,
            warmup,
            stages,
            ops,
            thresholds,
            protocol,
            batch,
            spec,
        })
    }

    /// The measured duration, when it is bounded by time.
    pub fn planned_duration(&self) -> Option<Duration> {
        if self.stages.is_empty() {
            self.duration
        } else {
            Some(self.stages.iter().map(|s| s.duration).sum())
        }
    }

    /// The shape in force `elapsed` into the measured phase (warm-up uses the first).
    pub fn shape_at(&self, elapsed: Duration) -> LoadShape {
        let mut end = Duration::ZERO;
        for stage in &self.stages {
            end += stage.duration;
            if elapsed < end {
                return stage.shape;
            }
        }
        self.stages.last().map(|s| s.shape).unwrap_or(self.shape)
    }

    /// The shape during warm-up: the first stage's, or the base shape.
    pub fn initial_shape(&self) -> LoadShape {
        self.stages.first().map(|s| s.shape).unwrap_or(self.shape)
    }
}

fn apply_overrides(mut spec: WorkloadSpec, o: &Overrides) -> WorkloadSpec {
    if let Some(d) = &o.duration {
        spec.duration = Some(d.clone());
        spec.stages.clear();
    }
    if let Some(r) = o.rate {
        spec.rate = Some(r);
        spec.concurrency = None;
        spec.stages.clear();
    }
    if let Some(c) = o.concurrency {
        spec.concurrency = Some(c);
        spec.rate = None;
        spec.pipeline = None;
        spec.stages.clear();
    }
    if let Some(s) = o.sessions {
        spec.sessions = Some(s);
        if spec.concurrency.is_some() {
            spec.pipeline = None;
        }
    }
    if let Some(n) = o.requests {
        spec.requests = Some(n);
    }
    if let Some(w) = &o.warmup {
        spec.warmup = Some(w.clone());
    }
    if let Some(p) = &o.protocol {
        spec.protocol = Some(p.clone());
    }
    spec
}

#[cfg(test)]
mod tests;
