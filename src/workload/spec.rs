//! The on-disk shape of a workload file: serde types that mirror the TOML
//! exactly, with `deny_unknown_fields` so a typo is an error, not a silent
//! default. Nothing here is validated; `workload::Workload::from_spec` does that.

use serde::{Deserialize, Serialize};

#[derive(Debug, Clone, Deserialize, Serialize, PartialEq)]
#[serde(deny_unknown_fields)]
pub struct WorkloadSpec {
    pub name: String,
    #[serde(default)]
    pub description: String,
    /// Default target, e.g. `builtin` or `stdio:node server.js`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub target: Option<String>,
    /// Independent MCP sessions (connections or child processes).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub sessions: Option<u32>,
    /// Open loop: requests per second in total, sent at planned times.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub rate: Option<f64>,
    /// Closed loop: requests kept in flight in total.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub concurrency: Option<u32>,
    /// Requests in flight on one session at most.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub pipeline: Option<u32>,
    /// HTTP connections per session (opened as needed); default: the
    /// session's pipeline, one per request in flight.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub connections: Option<u32>,
    /// Streamable HTTP sessions: also open the GET stream for the server's
    /// own messages (resumed with `Last-Event-ID` when it drops).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub server_stream: Option<bool>,
    /// Measured duration (excludes warm-up), a humantime string like "10s".
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub duration: Option<String>,
    /// Stop after this many measured requests.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub requests: Option<u64>,
    /// Warm-up before measuring; its samples are not in the results.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub warmup: Option<String>,
    /// Default per-operation timeout.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub timeout: Option<String>,
    /// How long opening a session may take, up to the server's reply to
    /// `initialize` (a stdio server's start-up included); default 10s.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub connect_timeout: Option<String>,
    /// `auto` (default: negotiate) or a version to force, e.g. `2025-06-18`
    /// or the stateless `2026-07-28`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub protocol: Option<String>,
    /// Requests per JSON-RPC batch (2 or more; the 2025-03-26 era only).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub batch: Option<u32>,
    /// The target's runtime: `auto` (default: guessed from the command),
    /// `node`, `python`, `go`, `jvm` or `native`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub runtime: Option<String>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub stages: Vec<StageSpec>,
    #[serde(default)]
    pub ops: Vec<OpSpec>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub thresholds: Vec<ThresholdSpec>,
    /// Request headers (HTTP, WebSocket upgrade), `${ENV_VAR}` expanded.
    /// Result files keep the names only (values `***`).
    #[serde(default, skip_serializing_if = "std::collections::BTreeMap::is_empty")]
    pub headers: std::collections::BTreeMap<String, String>,
    /// OAuth: a bearer token or client credentials (secrets `***` in results).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub auth: Option<super::auth::AuthSpec>,
    /// `https://` / `wss://` trust: `{ ca_cert = "FILE", insecure = false }`
    /// (the command line's `--ca-cert` / `--insecure` win).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub tls: Option<super::auth::TlsSpec>,
    /// Several loads at once, each with its own load model and mix; none:
    /// the workload is one load (`rate`/`concurrency` and `ops` above).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub scenarios: Vec<ScenarioSpec>,
    /// What breaks during the run, and when (`[[faults]]`).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub faults: Vec<super::faults::FaultSpec>,
    /// A session whose transport died reconnects (default false).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub reconnect: Option<bool>,
    /// With `failover = true`: the targets sessions move between, first
    /// one first (instead of `target`).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub targets: Vec<String>,
    /// A session whose target fails moves to the next of `targets`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub failover: Option<bool>,
    /// Consecutive timeouts that count as a failed target (default 3).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub failover_timeouts: Option<u32>,
}

/// One `[[scenarios]]` entry: a load that runs beside the others.
#[derive(Debug, Clone, Deserialize, Serialize, PartialEq)]
#[serde(deny_unknown_fields)]
pub struct ScenarioSpec {
    pub name: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub rate: Option<f64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub concurrency: Option<u32>,
    /// Sessions of its own (a number), or `"shared"`: the workload's sessions.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub sessions: Option<ScenarioSessionsSpec>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub pipeline: Option<u32>,
    /// When it begins, after measuring begins (humantime); default at once.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub start: Option<String>,
    /// How long it runs from its start; default until the run ends.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub duration: Option<String>,
    #[serde(default)]
    pub ops: Vec<OpSpec>,
    /// Every iteration opens a session of its own and closes it after.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub new_session: Option<bool>,
    /// Instead of `ops`: steps run in order, one iteration on one session.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub flow: Vec<FlowStepSpec>,
    /// Its load over time, from its start (as the workload's `[[stages]]`):
    /// it lasts their sum.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub stages: Vec<StageSpec>,
    /// Its sessions reconnect when their transport dies.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub reconnect: Option<bool>,
}

/// One `[[scenarios.flow]]` step: an operation, which may take its tool,
/// resource or prompt from an earlier step's result. Its fields repeat
/// [`OpSpec`]'s rather than flatten a shared struct: serde's `flatten` does
/// not work with `deny_unknown_fields`, and a misspelt key must be an error.
#[derive(Debug, Clone, Deserialize, Serialize, PartialEq)]
#[serde(deny_unknown_fields)]
pub struct FlowStepSpec {
    pub method: String,
    /// Label; defaults to the tool, uri or method. Later steps name it in `from`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub name: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub tool: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub uri: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub prompt: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub arguments: Option<toml::Table>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub timeout: Option<String>,
    /// A failure of this step does not end the iteration.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub continue_on_error: Option<bool>,
    /// As an op's: what a `ping` step sends when the protocol has none.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub fallback: Option<String>,
    /// The tool (tools/call), uri (resources/read) or prompt (prompts/get)
    /// is the string at `pointer` in the result of the step named `step`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub from: Option<FromSpec>,
}

#[derive(Debug, Clone, Deserialize, Serialize, PartialEq)]
#[serde(deny_unknown_fields)]
pub struct FromSpec {
    pub step: String,
    /// A JSON pointer (RFC 6901), e.g. `/tools/0/name`.
    pub pointer: String,
    /// `"skip"`: when nothing is there (a server that lists no resources),
    /// the step is skipped (and counted), not failed. Default `"fail"`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub if_missing: Option<String>,
}

#[derive(Debug, Clone, Deserialize, Serialize, PartialEq)]
#[serde(untagged)]
pub enum ScenarioSessionsSpec {
    Count(u32),
    Named(String),
}

#[derive(Debug, Clone, Deserialize, Serialize, PartialEq)]
#[serde(deny_unknown_fields)]
pub struct StageSpec {
    pub duration: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub rate: Option<f64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub concurrency: Option<u32>,
}

#[derive(Debug, Clone, Deserialize, Serialize, PartialEq)]
#[serde(deny_unknown_fields)]
pub struct OpSpec {
    /// One of tools/call, resources/read, prompts/get, tools/list,
    /// resources/list, prompts/list, ping.
    pub method: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub weight: Option<u32>,
    /// Label in tables and result files; defaults to the tool, uri or method.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub name: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub tool: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub uri: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub prompt: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub arguments: Option<toml::Table>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub timeout: Option<String>,
    /// With `method = "ping"`: what to send instead when the server's
    /// protocol has no `ping` (`tools/list`, `resources/list` or
    /// `prompts/list`). The result file says which was sent.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub fallback: Option<String>,
    /// Streamable HTTP, a `tools/call` whose tool streams numbered progress
    /// notifications (the builtin `events`): drop the stream after this
    /// many, resume with `Last-Event-ID`, and check each number arrives
    /// exactly once, in order.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub resume_after: Option<u32>,
    /// With `resume_after`: how long to stay away between the drop and the
    /// resume request (humantime; default 0).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub resume_delay: Option<String>,
}

#[derive(Debug, Clone, Deserialize, Serialize, PartialEq)]
#[serde(deny_unknown_fields)]
pub struct ThresholdSpec {
    /// p50, p90, p95, p99, p999, max (corrected latency), error_rate, throughput.
    pub metric: String,
    /// Restrict to one operation (its label); all operations when absent.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub op: Option<String>,
    /// Restrict to one scenario (with `op`: that operation of it).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub scenario: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub max: Option<ThresholdValue>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub min: Option<ThresholdValue>,
}

#[derive(Debug, Clone, Deserialize, Serialize, PartialEq)]
#[serde(untagged)]
pub enum ThresholdValue {
    Number(f64),
    Text(String),
}
