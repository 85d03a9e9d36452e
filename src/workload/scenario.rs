//! `[[scenarios]]`: several loads in one workload, all running at once, each
//! with its own load model, sessions, mix and time window. Validation turns
//! them into `Scenario`s whose operations are appended to the workload's one
//! list, labelled `scenario/op`, so every sample, table and result file
//! names the scenario it belongs to.

use super::fields::{check_concurrency, check_rate, parse_duration, parse_op, parse_stage};
use super::flow::{self, Flow};
use super::spec::{ScenarioSessionsSpec, ScenarioSpec, WorkloadSpec};
use super::validate::Problems;
use super::{LoadShape, Operation, Stage, DEFAULT_OPEN_PIPELINE, MAX_SESSIONS};
use std::collections::HashSet;
use std::ops::Range;
use std::time::Duration;

/// Whose sessions a scenario sends on.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ScenarioSessions {
    /// The workload's sessions, shared with every other `shared` scenario:
    /// a request of one waits behind the others' on a full pipeline.
    Shared,
    /// This many sessions of its own.
    Own(u32),
}

#[derive(Debug, Clone, PartialEq)]
pub struct Scenario {
    pub name: String,
    pub shape: LoadShape,
    pub sessions: ScenarioSessions,
    /// Requests in flight on one of its sessions at most.
    pub pipeline: u32,
    /// When it begins, from the start of measuring.
    pub start: Duration,
    /// How long it runs from `start` (with stages, their sum); `None`:
    /// until the run ends.
    pub duration: Option<Duration>,
    /// Its load over time from `start`, instead of `shape` throughout.
    pub stages: Vec<Stage>,
    /// Its operations: this range of the workload's `ops` (with a flow:
    /// its steps, the iteration's op just after the range).
    pub ops: Range<usize>,
    /// Steps run in order per iteration, instead of a mix of `ops`.
    pub flow: Option<Flow>,
    /// `new_session`: every iteration opens a session and closes it; this
    /// op (never sent) records each session's life, connect to close.
    pub session_op: Option<usize>,
}

/// Reads every scenario of `spec`, appending their operations to `ops`.
pub(super) fn scenarios(
    spec: &WorkloadSpec,
    default_timeout: Duration,
    ops: &mut Vec<Operation>,
    p: &mut Problems,
) -> Vec<Scenario> {
    for key in ["rate", "concurrency", "pipeline", "batch", "stages", "ops"] {
        let set = match key {
            "rate" => spec.rate.is_some(),
            "concurrency" => spec.concurrency.is_some(),
            "pipeline" => spec.pipeline.is_some(),
            "batch" => spec.batch.is_some(),
            "stages" => !spec.stages.is_empty(),
            _ => !spec.ops.is_empty(),
        };
        if set {
            p.add(
                key,
                format!(
                    "with [[scenarios]], each scenario sets its own load: move `{key}` into them"
                ),
            );
        }
    }
    let mut names = HashSet::new();
    let mut out = Vec::new();
    for (i, s) in spec.scenarios.iter().enumerate() {
        let at = format!("scenarios[{i}]");
        if s.name.trim().is_empty() || s.name.contains('/') {
            p.add(
                &format!("{at}.name"),
                "expected a non-empty name without `/`".into(),
            );
        } else if !names.insert(s.name.as_str()) {
            p.add(
                &format!("{at}.name"),
                format!("a second scenario named {:?}", s.name),
            );
        }
        if let Some(scenario) = scenario(s, &at, spec.batch, default_timeout, ops, p) {
            out.push(scenario);
        }
    }
    out
}

/// Open loop (`rate`) or closed loop (`concurrency`), exactly one.
fn shape(s: &ScenarioSpec, at: &str, p: &mut Problems) -> Option<LoadShape> {
    match (s.rate, s.concurrency) {
        (Some(rate), None) => check_rate(rate)
            .map(|rate| LoadShape::OpenLoop { rate })
            .map_err(|m| p.add(&format!("{at}.rate"), m))
            .ok(),
        (None, Some(c)) => check_concurrency(c)
            .map(|concurrency| LoadShape::ClosedLoop { concurrency })
            .map_err(|m| p.add(&format!("{at}.concurrency"), m))
            .ok(),
        _ => {
            p.add(
                &format!("{at}.rate"),
                "expected exactly one of rate (open loop) or concurrency (closed loop)".into(),
            );
            None
        }
    }
}

fn scenario(
    s: &ScenarioSpec,
    at: &str,
    spec_batch: Option<u32>,
    default_timeout: Duration,
    ops: &mut Vec<Operation>,
    p: &mut Problems,
) -> Option<Scenario> {
    let shape = shape(s, at, p);
    let sessions = match &s.sessions {
        None => Some(ScenarioSessions::Shared),
        Some(ScenarioSessionsSpec::Named(n)) if n == "shared" => Some(ScenarioSessions::Shared),
        Some(ScenarioSessionsSpec::Count(n)) if (1..=MAX_SESSIONS).contains(n) => {
            Some(ScenarioSessions::Own(*n))
        }
        Some(other) => {
            p.add(
                &format!("{at}.sessions"),
                format!("expected \"shared\" or 1 to {MAX_SESSIONS} sessions, got {other:?}"),
            );
            None
        }
    };
    // New sessions per iteration: none of its own kept open, none shared.
    let sessions = match s.new_session {
        Some(true) => Some(ScenarioSessions::Own(0)),
        _ => sessions,
    };
    let pipeline = pipeline(s, shape, sessions, at, p);
    let window = |key: &str, text: &Option<String>, p: &mut Problems| {
        text.as_deref().and_then(|t| {
            parse_duration(t)
                .map_err(|m| p.add(&format!("{at}.{key}"), m))
                .ok()
        })
    };
    let start = window("start", &s.start, p).unwrap_or_default();
    let stages = stages(s, shape.as_ref(), at, p);
    let duration = match (window("duration", &s.duration, p), stages.is_empty()) {
        (d, true) => d,
        (None, false) => Some(stages.iter().map(|s| s.duration).sum()),
        (Some(_), false) => {
            p.add(
                &format!("{at}.duration"),
                "with stages the scenario lasts the sum of their durations; remove duration".into(),
            );
            None
        }
    };
    if s.ops.is_empty() == s.flow.is_empty() {
        p.add(
            &format!("{at}.ops"),
            "expected [[scenarios.ops]] entries or [[scenarios.flow]] steps (one of the two)"
                .into(),
        );
    }
    let first = ops.len();
    let flow = (!s.flow.is_empty())
        .then(|| flow::flow(&s.name, &s.flow, at, default_timeout, ops, p).ok_or(()));
    mix_ops(s, at, default_timeout, ops, p);
    let flow = flow.transpose().ok()?;
    let end = ops.len() - usize::from(flow.is_some());
    let session_op = new_session(s, at, spec_batch, default_timeout, ops, p);
    Some(Scenario {
        name: s.name.clone(),
        shape: shape?,
        sessions: sessions?,
        pipeline: pipeline?,
        start,
        duration,
        stages,
        // A flow's iteration op and the session op come last, outside
        // the scenario's range.
        ops: first..end,
        flow,
        session_op,
    })
}

/// Its `pipeline`, or by default: closed loop, its concurrency spread over
/// its sessions; open loop, `DEFAULT_OPEN_PIPELINE`.
fn pipeline(
    s: &ScenarioSpec,
    shape: Option<LoadShape>,
    sessions: Option<ScenarioSessions>,
    at: &str,
    p: &mut Problems,
) -> Option<u32> {
    match (s.pipeline, shape) {
        (Some(0), _) => {
            p.add(&format!("{at}.pipeline"), "expected at least 1".into());
            None
        }
        (Some(n), _) => Some(n),
        (None, Some(LoadShape::ClosedLoop { concurrency })) => {
            let n = match sessions {
                Some(ScenarioSessions::Own(n)) if n > 0 => n,
                _ => 1,
            };
            Some(concurrency.div_ceil(n))
        }
        (None, _) => Some(DEFAULT_OPEN_PIPELINE),
    }
}

/// `[[scenarios.stages]]`, each in the scenario's loop model.
fn stages(s: &ScenarioSpec, shape: Option<&LoadShape>, at: &str, p: &mut Problems) -> Vec<Stage> {
    let mut out = Vec::new();
    for (j, stage) in s.stages.iter().enumerate() {
        // Without a readable load model, the stages cannot be judged.
        let Some(shape) = shape else { break };
        match parse_stage(stage, shape) {
            Ok(stage) => out.push(stage),
            Err((k, m)) => p.add(&format!("{at}.stages[{j}].{k}"), m),
        }
    }
    out
}

impl Scenario {
    /// Its shape `elapsed` after its start: the stage then in force (the
    /// last one's after them), or its own shape.
    pub fn shape_at(&self, elapsed: Duration) -> LoadShape {
        let mut end = Duration::ZERO;
        for stage in &self.stages {
            end += stage.duration;
            if elapsed < end {
                return stage.shape;
            }
        }
        self.stages.last().map_or(self.shape, |s| s.shape)
    }

    /// When its shape may next change, after its start, past `elapsed`.
    pub fn next_change(&self, elapsed: Duration) -> Option<Duration> {
        let mut end = Duration::ZERO;
        self.stages.iter().find_map(|stage| {
            end += stage.duration;
            (end > elapsed).then_some(end)
        })
    }
}

/// With `new_session = true`, appends the op that records sessions.
fn new_session(
    s: &ScenarioSpec,
    at: &str,
    batch: Option<u32>,
    default_timeout: Duration,
    ops: &mut Vec<Operation>,
    p: &mut Problems,
) -> Option<usize> {
    if s.new_session != Some(true) {
        return None;
    }
    if batch.is_some() {
        p.add(
            &format!("{at}.new_session"),
            "a new session per iteration sends no JSON-RPC batches: remove `batch`".into(),
        );
    }
    if s.sessions.is_some() {
        p.add(
            &format!("{at}.sessions"),
            "with new_session = true every iteration opens its own: remove `sessions`".into(),
        );
    }
    ops.push(Operation {
        label: format!("{}/session", s.name),
        weight: 1,
        method: super::Method::Ping,
        timeout: default_timeout,
        fallback: None,
        resume: None,
    });
    Some(ops.len() - 1)
}

/// Appends the scenario's `[[scenarios.ops]]`, labelled `scenario/op`.
fn mix_ops(
    s: &ScenarioSpec,
    at: &str,
    default_timeout: Duration,
    ops: &mut Vec<Operation>,
    p: &mut Problems,
) {
    for (j, o) in s.ops.iter().enumerate() {
        match parse_op(o, default_timeout) {
            Ok(op) => ops.push(Operation {
                label: format!("{}/{}", s.name, op.label),
                ..op
            }),
            Err(problems) => {
                for (k, m) in problems {
                    p.add(&format!("{at}.ops[{j}].{k}"), m);
                }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use crate::workload::{LoadShape, ScenarioSessions, Workload};
    use std::time::Duration;

    const TWO: &str = "name = \"w\"\nduration = \"5s\"\nsessions = 2\n\
        [[scenarios]]\nname = \"probe\"\nrate = 20\n\
        [[scenarios.ops]]\nmethod = \"ping\"\n\
        [[scenarios]]\nname = \"flood\"\nconcurrency = 8\nsessions = 4\nstart = \"1s\"\n\
        [[scenarios.ops]]\nmethod = \"tools/call\"\ntool = \"cpu\"\nweight = 3\n\
        [[scenarios.ops]]\nmethod = \"tools/list\"\n";

    #[test]
    fn scenarios_read_into_their_own_loads_with_labelled_ops() {
        let w = Workload::parse(TWO, "two.toml").expect("valid");
        assert_eq!(w.scenarios.len(), 2);
        let (probe, flood) = (&w.scenarios[0], &w.scenarios[1]);
        assert_eq!(probe.shape, LoadShape::OpenLoop { rate: 20.0 });
        assert_eq!(probe.sessions, ScenarioSessions::Shared);
        assert_eq!(flood.shape, LoadShape::ClosedLoop { concurrency: 8 });
        assert_eq!(flood.sessions, ScenarioSessions::Own(4));
        assert_eq!(flood.pipeline, 2);
        assert_eq!(flood.start, Duration::from_secs(1));
        let labels: Vec<&str> = w.ops.iter().map(|o| o.label.as_str()).collect();
        assert_eq!(labels, ["probe/ping", "flood/cpu", "flood/tools/list"]);
        assert_eq!(flood.ops, 1..3);
        assert_eq!(w.sessions_to_open(), 6);
    }

    #[test]
    fn a_workload_without_scenarios_has_none_and_opens_its_sessions() {
        let w = Workload::parse(
            "name = \"w\"\nrate = 5\nduration = \"1s\"\nsessions = 3\n[[ops]]\nmethod = \"ping\"\n",
            "one.toml",
        )
        .expect("valid");
        assert!(w.scenarios.is_empty());
        assert_eq!(w.sessions_to_open(), 3);
    }

    #[test]
    fn every_problem_names_its_scenario_key() {
        let text = "name = \"w\"\nduration = \"5s\"\nrate = 3\n\
            [[scenarios]]\nname = \"a\"\nrate = 1\nconcurrency = 2\nsessions = \"mine\"\n\
            [[scenarios.ops]]\nmethod = \"tools/call\"\n\
            [[scenarios]]\nname = \"a\"\nrate = 1\nstart = \"soon\"\n";
        let errors =
            Workload::parse_all(text, "bad.toml", &Default::default()).expect_err("invalid");
        let keys: Vec<String> = errors.iter().map(|e| e.key.clone()).collect();
        for key in [
            "rate",
            "scenarios[0].rate",
            "scenarios[0].sessions",
            "scenarios[0].ops[0].tool",
            "scenarios[1].name",
            "scenarios[1].start",
            "scenarios[1].ops",
        ] {
            assert!(keys.iter().any(|k| k == key), "{key} not in {keys:?}");
        }
        assert!(errors.iter().all(|e| e.source_name == "bad.toml"));
    }

    #[test]
    fn a_scenarios_stages_follow_its_loop_model_and_give_its_duration() {
        let text = "name = \"w\"\nduration = \"10s\"\n\
            [[scenarios]]\nname = \"spike\"\nrate = 10\nstart = \"1s\"\n\
            [[scenarios.stages]]\nduration = \"2s\"\nrate = 10\n\
            [[scenarios.stages]]\nduration = \"1s\"\nrate = 100\n\
            [[scenarios.ops]]\nmethod = \"ping\"\n";
        let w = Workload::parse(text, "s.toml").expect("valid");
        let s = &w.scenarios[0];
        assert_eq!(s.duration, Some(Duration::from_secs(3)));
        assert_eq!(
            s.shape_at(Duration::from_millis(1999)),
            LoadShape::OpenLoop { rate: 10.0 }
        );
        assert_eq!(
            s.shape_at(Duration::from_secs(2)),
            LoadShape::OpenLoop { rate: 100.0 }
        );
        assert_eq!(
            s.next_change(Duration::from_millis(500)),
            Some(Duration::from_secs(2))
        );
        assert_eq!(s.next_change(Duration::from_secs(3)), None);
        let bad = "name = \"w\"\nduration = \"10s\"\n\
            [[scenarios]]\nname = \"spike\"\nrate = 10\nduration = \"4s\"\n\
            [[scenarios.stages]]\nduration = \"2s\"\nrate = 10\n\
            [[scenarios.stages]]\nduration = \"1s\"\nconcurrency = 4\n\
            [[scenarios.ops]]\nmethod = \"ping\"\n";
        let errors = Workload::parse_all(bad, "s.toml", &Default::default()).expect_err("invalid");
        let keys: Vec<&str> = errors.iter().map(|e| e.key.as_str()).collect();
        assert_eq!(
            keys,
            ["scenarios[0].stages[1].rate", "scenarios[0].duration"]
        );
    }

    #[test]
    fn only_a_ping_has_a_fallback_and_only_a_listing() {
        let ok = "name = \"w\"\nduration = \"1s\"\n[[scenarios]]\nname = \"p\"\nrate = 1\n\
            [[scenarios.ops]]\nmethod = \"ping\"\nfallback = \"prompts/list\"\n";
        let w = Workload::parse(ok, "f.toml").expect("valid");
        assert_eq!(
            w.ops[0].method_for(false),
            &crate::workload::Method::PromptsList
        );
        assert_eq!(w.ops[0].method_for(true), &crate::workload::Method::Ping);
        assert_eq!(w.fallbacks(false), [(0, "prompts/list")]);
        assert!(w.fallbacks(true).is_empty());
        for (method, fallback) in [("tools/list", "resources/list"), ("ping", "tools/call")] {
            let bad = format!(
                "name = \"w\"\nduration = \"1s\"\n[[scenarios]]\nname = \"p\"\nrate = 1\n\
                 [[scenarios.ops]]\nmethod = \"{method}\"\nfallback = \"{fallback}\"\n"
            );
            let e = Workload::parse(&bad, "f.toml").expect_err("invalid fallback");
            assert_eq!(e.key, "scenarios[0].ops[0].fallback", "{}", e.message);
        }
    }

    #[test]
    fn thresholds_name_a_scenario_and_an_op_in_it() {
        let text = format!(
            "{TWO}[[thresholds]]\nscenario = \"probe\"\nmetric = \"p99\"\nmax = \"50ms\"\n\
             [[thresholds]]\nscenario = \"flood\"\nop = \"cpu\"\nmetric = \"error_rate\"\nmax = 0.01\n"
        );
        let w = Workload::parse(&text, "t.toml").expect("valid");
        let ops: Vec<Option<&str>> = w.thresholds.iter().map(|t| t.op.as_deref()).collect();
        assert_eq!(ops, [Some("probe"), Some("flood/cpu")]);
        let bad =
            format!("{TWO}[[thresholds]]\nscenario = \"prob\"\nmetric = \"p99\"\nmax = \"5ms\"\n");
        let e = Workload::parse(&bad, "t.toml").expect_err("unknown scenario");
        assert_eq!(e.key, "thresholds[0].scenario");
        assert!(e.message.contains("probe"), "{}", e.message);
        let bad = format!("{TWO}[[thresholds]]\nscenario = \"probe\"\nop = \"cpu\"\nmetric = \"p99\"\nmax = \"5ms\"\n");
        let e = Workload::parse(&bad, "t.toml").expect_err("op not in that scenario");
        assert_eq!(e.key, "thresholds[0].op");
    }
}
