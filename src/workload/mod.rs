//! Workloads: what to send, how fast, for how long, and what counts as a pass.
//! `spec` is the file format; this module validates a spec into a typed
//! `Workload` and names the file and key of anything wrong.

mod auth;
pub mod catalog;
mod endpoint;
pub mod failover;
pub mod faults;
mod fields;
pub mod flow;
pub mod headers;
pub mod runtime;
pub mod scenario;
pub mod settings;
pub mod shard;
mod sift;
pub mod spec;
pub mod target;
mod validate;

use crate::protocol::ProtocolChoice;
pub use auth::{AuthSpec, ClientCredentialsSpec, TlsSpec};
pub use fields::parse_duration;
use fields::toml_error_key;
pub use scenario::{Scenario, ScenarioSessions};
use serde_json::Value;
use spec::WorkloadSpec;
use std::path::Path;
use std::time::Duration;
pub use target::TargetSpec;

/// A workload file (or override) that does not make sense, with where and why.
#[derive(Debug, thiserror::Error)]
#[error("{source_name}: {key}: {message}")]
pub struct WorkloadError {
    pub source_name: String,
    pub key: String,
    pub message: String,
}

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
    /// Sent instead of `ping` when the server's protocol has none.
    pub fallback: Option<Method>,
    /// Drop the reply's event stream after this many events and resume it
    /// (`resume_after`, `resume_delay`; Streamable HTTP only).
    pub resume: Option<crate::protocol::resume::ResumePlan>,
}

impl Operation {
    /// The method to send to a server whose protocol has `ping` or not:
    /// its own, or its fallback.
    pub fn method_for(&self, has_ping: bool) -> &Method {
        match (&self.method, &self.fallback) {
            (Method::Ping, Some(fallback)) if !has_ping => fallback,
            (method, _) => method,
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq)]
pub enum ThresholdMetric {
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
    pub metric: ThresholdMetric,
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
        metric: ThresholdMetric::ErrorRate,
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
    /// How long opening a session may take (`connect_timeout`): the
    /// connection and the server's reply to `initialize`.
    pub connect_timeout: Duration,
    pub stages: Vec<Stage>,
    pub ops: Vec<Operation>,
    pub thresholds: Vec<Threshold>,
    pub protocol: ProtocolChoice,
    /// Requests per send: 1, or the size of a JSON-RPC batch.
    pub batch: u32,
    /// Headers, auth and TLS for deployed servers, expanded (secrets
    /// redacted in `spec`).
    pub deployed: settings::DeployedSettings,
    /// What the target runs on (`auto`: guessed from its command).
    pub runtime: runtime::RuntimeChoice,
    /// Loads that run at once (`[[scenarios]]`); empty: one load, the
    /// workload's own shape and ops.
    pub scenarios: Vec<Scenario>,
    /// `[[faults]]` and `reconnect`.
    pub chaos: faults::Chaos,
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
    /// `--connect-timeout`.
    pub connect_timeout: Option<String>,
    pub protocol: Option<String>,
    /// `-H "Name: value"`, added to (or replacing) the file's `[headers]`.
    pub headers: Vec<(String, String)>,
    /// `--ca-cert`, `--insecure`.
    pub tls: settings::TlsSettings,
    /// `--runtime`.
    pub runtime: Option<String>,
    /// `--target` repeated with `--failover`: the failover targets
    /// (replacing the file's `target` and `targets`); empty: none given.
    pub failover_targets: Vec<String>,
}

const DEFAULT_TIMEOUT: Duration = Duration::from_secs(10);
/// How long opening a session may take unless `connect_timeout` says.
pub const DEFAULT_CONNECT_TIMEOUT: Duration = Duration::from_secs(10);
const DEFAULT_OPEN_PIPELINE: u32 = 64;
const MAX_SESSIONS: u32 = 100_000;

/// The first of several problems, saying how many more `validate` lists.
pub fn first_problem(all: Vec<WorkloadError>) -> WorkloadError {
    let more = all.len().saturating_sub(1);
    let Some(mut first) = all.into_iter().next() else {
        return WorkloadError {
            source_name: String::new(),
            key: "(workload)".into(),
            message: "invalid".into(),
        };
    };
    if more > 0 {
        first.message.push_str(&format!(
            " (and {more} more problem{}: `mcptop validate` lists them all)",
            if more == 1 { "" } else { "s" }
        ));
    }
    first
}

/// A file that is not TOML: the parser's error, with its key and line.
fn toml_problem(e: &toml::de::Error, text: &str, source_name: &str) -> WorkloadError {
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
        key: toml_error_key(e, text),
        message: format!("{}{line}", e.message().trim_end()),
    }
}

/// `resume_after` drops and resumes a Streamable HTTP event stream: another
/// target has none to drop (over stdio, tcp, ws and the builtin server the
/// events arrive on the session's one stream), and the stateless era has no
/// session to resume in.
pub fn resume_problem(
    ops: &[Operation],
    protocol: ProtocolChoice,
    target: &TargetSpec,
) -> Option<String> {
    let op = ops.iter().find(|o| o.resume.is_some())?;
    if !matches!(target, TargetSpec::Http(_)) {
        return Some(format!(
            "operation {:?} sets resume_after, which drops and resumes a Streamable HTTP \
             event stream: target {} has none (use an http:// target, e.g. \
             `mcptop serve --http`)",
            op.label,
            target.describe()
        ));
    }
    let session = matches!(protocol, ProtocolChoice::Forced(era) if !era.is_stateless());
    (!session).then(|| {
        format!(
            "operation {:?} sets resume_after, which needs a session to resume in: set \
             protocol = \"2025-11-25\" (or another era with sessions; {} has none, and \
             `auto` may negotiate it)",
            op.label,
            crate::protocol::Era::STATELESS
        )
    })
}

impl Workload {
    /// Why this workload's `resume_after` cannot run on `target`, if so.
    pub fn resume_problem(&self, target: &TargetSpec) -> Option<String> {
        resume_problem(&self.ops, self.protocol, target)
    }

    pub fn parse(text: &str, source_name: &str) -> Result<Workload, WorkloadError> {
        Self::parse_with(text, source_name, &Overrides::default())
    }

    /// `parse_all`, reporting the first problem (and how many more there are).
    pub fn parse_with(
        text: &str,
        source_name: &str,
        overrides: &Overrides,
    ) -> Result<Workload, WorkloadError> {
        Self::parse_all(text, source_name, overrides).map_err(first_problem)
    }

    /// Parses and validates a workload file; on failure, every problem found,
    /// each with its key, in the order of the file's checks.
    pub fn parse_all(
        text: &str,
        source_name: &str,
        overrides: &Overrides,
    ) -> Result<Workload, Vec<WorkloadError>> {
        let mut problems = validate::Problems::new(source_name);
        let spec = match toml::from_str::<WorkloadSpec>(text) {
            Ok(spec) => spec,
            Err(e) => match toml::from_str::<toml::Table>(text) {
                // TOML, but not a workload: find every key that does not fit.
                Ok(table) => match sift::sift(table, &mut problems) {
                    Some(spec) => spec,
                    None => return Err(problems.list),
                },
                // Not TOML: the parser stops at the first error.
                Err(_) => return Err(vec![toml_problem(&e, text, source_name)]),
            },
        };
        let mut workload = validate::validate(apply_overrides(spec, overrides), problems)?;
        auth::override_tls(&mut workload.deployed.tls, &overrides.tls);
        Ok(workload)
    }

    pub fn load(path: &Path, overrides: &Overrides) -> Result<Workload, WorkloadError> {
        Self::load_all(path, overrides).map_err(first_problem)
    }

    /// `parse_all` of a file.
    pub fn load_all(path: &Path, overrides: &Overrides) -> Result<Workload, Vec<WorkloadError>> {
        let name = path.display().to_string();
        let text = std::fs::read_to_string(path).map_err(|e| {
            vec![WorkloadError {
                source_name: name.clone(),
                key: "(file)".into(),
                message: format!("cannot read: {e}"),
            }]
        })?;
        Self::parse_all(&text, &name, overrides)
    }

    pub fn from_spec(spec: WorkloadSpec, source_name: &str) -> Result<Workload, WorkloadError> {
        validate::validate(spec, validate::Problems::new(source_name)).map_err(first_problem)
    }

    /// The load in words: the shape, or each scenario's.
    pub fn describe_load(&self) -> String {
        if self.scenarios.is_empty() {
            return self.shape.describe();
        }
        let each: Vec<String> = self
            .scenarios
            .iter()
            .map(|s| format!("{}: {}", s.name, s.shape.describe()))
            .collect();
        format!("scenarios {}", each.join("; "))
    }

    /// The operations that send their fallback to a server whose protocol
    /// has no `ping`, with the method they send.
    pub fn fallbacks(&self, has_ping: bool) -> Vec<(usize, &'static str)> {
        self.ops
            .iter()
            .enumerate()
            .filter(|(_, o)| o.method_for(has_ping) != &o.method)
            .map(|(i, o)| (i, o.method_for(has_ping).wire_name()))
            .collect()
    }

    /// The operations that record flow iterations and sessions (never sent).
    pub fn iterations(&self) -> Vec<usize> {
        self.scenarios
            .iter()
            .flat_map(|s| [s.flow.as_ref().map(|f| f.iteration), s.session_op])
            .flatten()
            .collect()
    }

    /// Most requests the sessions hold at once, each up to `pipeline` (a
    /// whole batch fits an idle one): a closed loop asking more stays here.
    pub fn in_flight_cap(&self) -> u64 {
        u64::from(self.sessions_to_open()) * u64::from(self.pipeline.max(self.batch))
    }

    /// Sessions to open: the workload's, plus those scenarios own.
    pub fn sessions_to_open(&self) -> u32 {
        let own: u32 = self
            .scenarios
            .iter()
            .map(|s| match s.sessions {
                ScenarioSessions::Own(n) => n,
                ScenarioSessions::Shared => 0,
            })
            .sum();
        let shared = self
            .scenarios
            .iter()
            .any(|s| s.sessions == ScenarioSessions::Shared);
        if self.scenarios.is_empty() || shared {
            self.sessions + own
        } else {
            own
        }
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
    if let Some(t) = &o.connect_timeout {
        spec.connect_timeout = Some(t.clone());
    }
    if let Some(p) = &o.protocol {
        spec.protocol = Some(p.clone());
    }
    auth::merge_headers(&mut spec.headers, &o.headers);
    if let Some(r) = &o.runtime {
        spec.runtime = Some(r.clone());
    }
    if !o.failover_targets.is_empty() {
        spec.targets = o.failover_targets.clone();
        spec.failover = Some(true);
        spec.target = None;
    }
    spec
}

#[cfg(test)]
mod tests;
