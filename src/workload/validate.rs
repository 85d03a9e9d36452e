//! Validating a workload spec into a `Workload`, collecting every problem
//! (each with its key) instead of stopping at the first: six mistakes in a
//! file are six lines of one `mcptop validate`. A key whose value could not
//! even be read (`sift`) is reported once; checks that depend on it are
//! skipped rather than reporting the same mistake again in other words.

use super::fields::{
    check_batch, check_concurrency, check_rate, parse_duration, parse_op, parse_positive_duration,
    parse_stage, parse_threshold,
};
use super::spec::WorkloadSpec;
use super::{
    default_error_rate, LoadShape, Operation, Stage, Threshold, ThresholdMetric, Workload,
    WorkloadError, DEFAULT_OPEN_PIPELINE, DEFAULT_TIMEOUT, MAX_SESSIONS,
};
use crate::protocol::{Era, ProtocolChoice};
use std::collections::HashSet;
use std::time::Duration;

/// Every problem found so far, and the keys whose values were unreadable.
pub(super) struct Problems {
    source: String,
    pub list: Vec<WorkloadError>,
    /// Keys (`concurrency`, `ops[2].tool`, `ops[3]`) that failed to read.
    failed: HashSet<String>,
}

impl Problems {
    pub fn new(source: &str) -> Problems {
        Problems {
            source: source.to_string(),
            list: Vec::new(),
            failed: HashSet::new(),
        }
    }

    pub fn add(&mut self, key: &str, message: String) {
        // A key already reported as unreadable says all there is to say.
        if self.failed.contains(key) {
            return;
        }
        self.list.push(WorkloadError {
            source_name: self.source.clone(),
            key: key.to_string(),
            message,
        });
    }

    /// Reports an unreadable key and remembers it.
    pub fn unreadable(&mut self, key: &str, message: String) {
        self.add(key, message);
        self.failed.insert(key.to_string());
    }

    /// Remembers `key` (an item such as `ops[3]`) as not to be validated.
    pub fn mark_unreadable(&mut self, key: &str) {
        self.failed.insert(key.to_string());
    }

    /// True when exactly `key` was unreadable.
    pub fn is_unreadable(&self, key: &str) -> bool {
        self.failed.contains(key)
    }

    /// True when `key`, or a key inside it, was unreadable.
    fn failed(&self, key: &str) -> bool {
        self.failed.iter().any(|f| {
            f == key
                || f.strip_prefix(key)
                    .is_some_and(|r| r.starts_with(['.', '[']))
        })
    }

    pub(super) fn check<T>(&mut self, key: &str, result: Result<T, String>) -> Option<T> {
        result.map_err(|m| self.add(key, m)).ok()
    }
}

/// Validates `spec`; `problems` may already hold what `sift` found.
pub(super) fn validate(
    spec: WorkloadSpec,
    mut p: Problems,
) -> Result<Workload, Vec<WorkloadError>> {
    if spec.name.trim().is_empty() {
        p.add("name", "expected a non-empty name".into());
    }
    let sessions = spec.sessions.unwrap_or(1);
    if sessions == 0 || sessions > MAX_SESSIONS {
        let m = format!("expected 1 to {MAX_SESSIONS}, got {sessions}");
        p.add("sessions", m);
    }
    let sessions = sessions.clamp(1, MAX_SESSIONS);
    let shape = load_shape(&spec, &mut p);
    let protocol_text = spec.protocol.as_deref().unwrap_or(ProtocolChoice::AUTO);
    let protocol = protocol(protocol_text, &mut p);
    let batch = p.check("batch", check_batch(spec.batch, protocol_text));
    let pipeline = pipeline(&spec, shape, sessions, batch.unwrap_or(1), &mut p);
    let connections = connections(&spec, pipeline, &mut p);
    let stages = stages(&spec, shape.as_ref(), &mut p);
    if let (Some(shape), Some(batch)) = (shape, batch) {
        check_batch_fits(shape, &stages, batch, &mut p);
    }
    let duration = spec
        .duration
        .as_deref()
        .and_then(|d| p.check("duration", parse_duration(d)));
    check_run_length(&spec, duration, &mut p);
    let warmup = spec
        .warmup
        .as_deref()
        .and_then(|d| p.check("warmup", parse_duration(d)));
    let (default_timeout, connect_timeout) = timeouts(&spec, &mut p);
    let (ops, scenarios, connections) =
        ops_and_scenarios(&spec, default_timeout, connections, &mut p);
    let thresholds = thresholds(&spec, &ops, &mut p);
    check_target(&spec, &ops, protocol, &mut p);
    check_resume_not_batched(&ops, batch, &mut p);
    let deployed = super::auth::settings(&spec, &mut p);
    let mut spec = spec;
    super::auth::redact(&mut spec.headers, &mut spec.auth);
    let runtime = runtime_of(&spec, &mut p);
    let chaos = super::faults::chaos(&spec, &mut p);
    match (shape, pipeline, connections, batch) {
        (Some(shape), Some(pipeline), Some(connections), Some(batch)) if p.list.is_empty() => {
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
                warmup: warmup.unwrap_or_default(),
                connect_timeout,
                stages,
                ops,
                thresholds,
                protocol: protocol.unwrap_or_default(),
                batch,
                deployed,
                runtime,
                scenarios,
                chaos,
                spec,
            })
        }
        _ => Err(p.list),
    }
}

/// The operations' default `timeout` and the sessions' `connect_timeout`.
fn timeouts(spec: &WorkloadSpec, p: &mut Problems) -> (Duration, Duration) {
    let mut positive = |key: &str, text: Option<&str>, default: Duration| {
        text.and_then(|d| p.check(key, parse_positive_duration(d)))
            .unwrap_or(default)
    };
    (
        positive("timeout", spec.timeout.as_deref(), DEFAULT_TIMEOUT),
        positive(
            "connect_timeout",
            spec.connect_timeout.as_deref(),
            super::DEFAULT_CONNECT_TIMEOUT,
        ),
    )
}

/// The file's target: one mcptop can reach, and one its operations can run on
/// (`resume_after` needs Streamable HTTP with a session).
fn check_target(
    spec: &WorkloadSpec,
    ops: &[Operation],
    protocol: Option<ProtocolChoice>,
    p: &mut Problems,
) {
    let Some(t) = &spec.target else {
        return;
    };
    match super::TargetSpec::parse(t) {
        Err(e) => p.add("target", e.to_string()),
        Ok(target) => {
            let protocol = protocol.unwrap_or_default();
            if let Some(m) = super::resume_problem(ops, protocol, &target) {
                p.add("target", m);
            }
        }
    }
}

/// `resume_after` drops and resumes one call's event stream; a JSON-RPC
/// batch's replies come back together, with no stream of its own to resume.
fn check_resume_not_batched(ops: &[Operation], batch: Option<u32>, p: &mut Problems) {
    let Some(n) = batch.filter(|&n| n > 1) else {
        return;
    };
    for op in ops.iter().filter(|o| o.resume.is_some()) {
        p.add(
            "batch",
            format!(
                "operation {:?} sets resume_after, which cannot go in a JSON-RPC batch \
                 (batch = {n}): a batch's replies come back together, with no event stream \
                 of their own to drop and resume; remove batch or resume_after",
                op.label
            ),
        );
    }
}

/// HTTP connections per session: as given, or one per request in flight.
fn connections(spec: &WorkloadSpec, pipeline: Option<u32>, p: &mut Problems) -> Option<u32> {
    match spec.connections {
        Some(0) => {
            p.add("connections", "expected at least 1".into());
            None
        }
        Some(c) => Some(c),
        None => pipeline,
    }
}

/// The operations and scenarios (with `[[scenarios]]`, every scenario's
/// operations in one list) and the HTTP connections per session, which
/// default to the largest scenario pipeline.
fn ops_and_scenarios(
    spec: &WorkloadSpec,
    default_timeout: Duration,
    connections: Option<u32>,
    p: &mut Problems,
) -> (Vec<Operation>, Vec<super::Scenario>, Option<u32>) {
    if spec.scenarios.is_empty() {
        return (
            operations(spec, default_timeout, p),
            Vec::new(),
            connections,
        );
    }
    let mut ops = Vec::new();
    let scenarios = super::scenario::scenarios(spec, default_timeout, &mut ops, p);
    let connections = match spec.connections {
        None => scenarios.iter().map(|s| s.pipeline).max(),
        Some(_) => connections,
    };
    (ops, scenarios, connections)
}

/// The protocol setting: `auto` or a known era.
fn protocol(text: &str, p: &mut Problems) -> Option<ProtocolChoice> {
    let protocol = ProtocolChoice::parse(text);
    if protocol.is_none() {
        let known = Era::known();
        p.add(
            "protocol",
            format!("expected auto or one of {known}, got {text:?}"),
        );
    }
    protocol
}

/// The stages, each checked against the load shape (when there is one).
fn stages(spec: &WorkloadSpec, shape: Option<&LoadShape>, p: &mut Problems) -> Vec<Stage> {
    let mut stages = Vec::new();
    for (i, s) in spec.stages.iter().enumerate() {
        if p.is_unreadable(&format!("stages[{i}]")) {
            continue;
        }
        match shape {
            Some(shape) => match parse_stage(s, shape) {
                Ok(stage) => stages.push(stage),
                Err((k, m)) => p.add(&format!("stages[{i}].{k}"), m),
            },
            // Without a load shape only the stage's duration can be judged.
            None => {
                let key = format!("stages[{i}].duration");
                p.check(&key, parse_positive_duration(&s.duration));
            }
        }
    }
    stages
}

/// The operations; a key of one that cannot be read marks it failed.
fn operations(spec: &WorkloadSpec, default_timeout: Duration, p: &mut Problems) -> Vec<Operation> {
    if spec.ops.is_empty() && !p.failed("ops") {
        p.add(
            "ops",
            "expected at least one [[ops]] entry with a method".into(),
        );
    }
    let mut ops = Vec::new();
    for (i, o) in spec.ops.iter().enumerate() {
        if p.is_unreadable(&format!("ops[{i}]")) {
            continue;
        }
        match parse_op(o, default_timeout) {
            Ok(op) => ops.push(op),
            Err(problems) => {
                for (k, m) in problems {
                    p.add(&format!("ops[{i}].{k}"), m);
                }
                p.failed.insert(format!("ops[{i}]"));
            }
        }
    }
    ops
}

/// The thresholds (op labels checked when every operation was read), with
/// the default error-rate threshold unless the file sets one.
fn thresholds(spec: &WorkloadSpec, ops: &[Operation], p: &mut Problems) -> Vec<Threshold> {
    // Labels are known only if every operation could be read.
    let complete = !p.failed("ops");
    let mut labels: HashSet<&str> = ops.iter().map(|o| o.label.as_str()).collect();
    if complete && labels.len() != ops.len() {
        p.add(
            "ops",
            "two operations have the same label; give one a distinct `name`".into(),
        );
    }
    // A scenario's name is the label of its figures as a whole.
    labels.extend(spec.scenarios.iter().map(|s| s.name.as_str()));
    let mut thresholds = Vec::new();
    for (i, t) in spec.thresholds.iter().enumerate() {
        if p.is_unreadable(&format!("thresholds[{i}]")) {
            continue;
        }
        let Some(t) = in_scenario(spec, t, &format!("thresholds[{i}]"), p) else {
            continue;
        };
        match parse_threshold(&t, complete.then_some(&labels)) {
            Ok(t) => thresholds.push(t),
            Err((k, m)) => p.add(&format!("thresholds[{i}].{k}"), m),
        }
    }
    let declares_error_rate = thresholds
        .iter()
        .any(|t| t.metric == ThresholdMetric::ErrorRate)
        || spec.thresholds.iter().any(|t| t.metric == "error_rate")
        || p.failed("thresholds");
    if !declares_error_rate {
        thresholds.push(default_error_rate());
    }
    thresholds
}

/// A threshold with `scenario` as one on the label it judges: the
/// scenario's own (`probe`) or one of its operations (`probe/ping`).
fn in_scenario(
    spec: &WorkloadSpec,
    t: &super::spec::ThresholdSpec,
    at: &str,
    p: &mut Problems,
) -> Option<super::spec::ThresholdSpec> {
    let Some(name) = &t.scenario else {
        return Some(t.clone());
    };
    if !spec.scenarios.iter().any(|s| &s.name == name) {
        let known: Vec<&str> = spec.scenarios.iter().map(|s| s.name.as_str()).collect();
        let m = format!("no scenario named {name:?}; known: {}", known.join(", "));
        p.add(&format!("{at}.scenario"), m);
        return None;
    }
    let op = match &t.op {
        Some(op) => format!("{name}/{op}"),
        None => name.clone(),
    };
    Some(super::spec::ThresholdSpec {
        op: Some(op),
        scenario: None,
        ..t.clone()
    })
}

/// Open loop (`rate`) or closed loop (`concurrency`), exactly one of them.
/// With scenarios the run as a whole has no single load model; the engine
/// counts its sends as a closed loop's (planned = sent) and each scenario's
/// own schedule carries the lateness of its sends.
fn load_shape(spec: &WorkloadSpec, p: &mut Problems) -> Option<LoadShape> {
    if !spec.scenarios.is_empty() {
        return Some(LoadShape::ClosedLoop { concurrency: 1 });
    }
    if p.failed("rate") || p.failed("concurrency") {
        return None;
    }
    match (spec.rate, spec.concurrency) {
        (Some(_), Some(_)) => {
            p.add(
                "rate",
                "set either rate (open loop) or concurrency (closed loop), not both".into(),
            );
            None
        }
        (Some(rate), None) => p
            .check("rate", check_rate(rate))
            .map(|rate| LoadShape::OpenLoop { rate }),
        (None, Some(c)) => p
            .check("concurrency", check_concurrency(c))
            .map(|concurrency| LoadShape::ClosedLoop { concurrency }),
        (None, None) => {
            p.add(
                "rate",
                "expected rate (requests/s, open loop) or concurrency (closed loop)".into(),
            );
            None
        }
    }
}

fn pipeline(
    spec: &WorkloadSpec,
    shape: Option<LoadShape>,
    sessions: u32,
    batch: u32,
    p: &mut Problems,
) -> Option<u32> {
    match (spec.pipeline, shape) {
        (Some(0), _) => {
            p.add("pipeline", "expected at least 1".into());
            None
        }
        (Some(n), _) if n < batch => {
            p.add(
                "pipeline",
                format!("a session carries whole batches: expected at least batch = {batch}"),
            );
            None
        }
        (Some(n), _) => Some(n),
        (None, Some(LoadShape::ClosedLoop { concurrency })) => {
            Some(concurrency.div_ceil(sessions).max(batch))
        }
        (None, Some(LoadShape::OpenLoop { .. })) => Some(DEFAULT_OPEN_PIPELINE.max(batch)),
        (None, None) => None,
    }
}

/// A batch goes out whole: every closed-loop shape must carry one.
/// The `runtime` key: `auto` when absent.
fn runtime_of(spec: &WorkloadSpec, p: &mut Problems) -> super::runtime::RuntimeChoice {
    let parsed = spec
        .runtime
        .as_deref()
        .map_or(Ok(Default::default()), super::runtime::RuntimeChoice::parse);
    p.check("runtime", parsed).unwrap_or_default()
}

fn check_batch_fits(shape: LoadShape, stages: &[super::Stage], batch: u32, p: &mut Problems) {
    let too_few = std::iter::once(shape)
        .chain(stages.iter().map(|s| s.shape))
        .find_map(|s| match s {
            LoadShape::ClosedLoop { concurrency } if concurrency < batch => Some(concurrency),
            _ => None,
        });
    if let Some(concurrency) = too_few {
        p.add(
            "batch",
            format!(
                "a batch goes out whole: batch = {batch} needs concurrency of at least \
                 {batch}, got {concurrency}"
            ),
        );
    }
}

/// The run ends by time, by count or by its stages, and not two ways.
fn check_run_length(spec: &WorkloadSpec, duration: Option<std::time::Duration>, p: &mut Problems) {
    if !spec.stages.is_empty() && spec.duration.is_some() {
        p.add(
            "duration",
            "with stages the run lasts the sum of the stage durations; remove duration".into(),
        );
    }
    if let Some(0) = spec.requests {
        p.add("requests", "expected at least 1".into());
    }
    let unreadable = ["duration", "requests", "stages"]
        .iter()
        .any(|k| p.failed(k));
    if spec.stages.is_empty() && duration.is_none() && spec.requests.is_none() && !unreadable {
        // A duration that did not parse was reported already.
        if spec.duration.is_none() {
            p.add(
                "duration",
                "expected a duration (e.g. \"10s\"), a request count (requests), or stages".into(),
            );
        }
    }
}
