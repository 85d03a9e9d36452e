//! Validation of the parts of a workload spec, one section or value at a
//! time. Each returns what was wrong (and, inside a section, the key), and
//! `Workload::from_spec` adds the file and the section's place.

use super::spec::{OpSpec, StageSpec, ThresholdSpec, ThresholdValue};
use super::{
    Bound, LoadShape, Method, Operation, Quantile, Stage, Threshold, ThresholdMetric, MAX_BATCH,
};
use crate::protocol::resume::ResumePlan;
use crate::protocol::{Era, ProtocolChoice};
use serde_json::Value;
use std::time::Duration;

/// Requests per send: 1 without `batch`; batches only in their era.
pub(super) fn check_batch(batch: Option<u32>, protocol: &str) -> Result<u32, String> {
    let Some(n) = batch else {
        return Ok(1);
    };
    if !(2..=MAX_BATCH).contains(&n) {
        return Err(format!(
            "expected 2 to {MAX_BATCH} requests per batch, got {n} (remove the key to send \
             requests one by one)"
        ));
    }
    let allowed = match ProtocolChoice::parse(protocol) {
        Some(ProtocolChoice::Auto) => true,
        Some(ProtocolChoice::Forced(era)) => era.has_batches(),
        None => false,
    };
    if !allowed {
        let era = Era::BATCHES;
        return Err(format!(
            "JSON-RPC batches exist only in protocol {era} (removed in 2025-06-18); \
             set protocol = \"{era}\" (or auto), not {protocol:?}"
        ));
    }
    Ok(n)
}

pub(super) fn check_rate(rate: f64) -> Result<f64, String> {
    if rate.is_finite() && rate > 0.0 && rate <= 10_000_000.0 {
        Ok(rate)
    } else {
        Err(format!(
            "expected requests/s above 0 and at most 10000000, got {rate}"
        ))
    }
}

pub(super) fn check_concurrency(c: u32) -> Result<u32, String> {
    if (1..=1_000_000).contains(&c) {
        Ok(c)
    } else {
        Err(format!("expected 1 to 1000000 requests in flight, got {c}"))
    }
}

pub(super) fn parse_stage(
    s: &StageSpec,
    base: &LoadShape,
) -> Result<Stage, (&'static str, String)> {
    let duration = parse_positive_duration(&s.duration).map_err(|m| ("duration", m))?;
    let shape = match (base, s.rate, s.concurrency) {
        (LoadShape::OpenLoop { .. }, Some(rate), None) => LoadShape::OpenLoop {
            rate: check_rate(rate).map_err(|m| ("rate", m))?,
        },
        (LoadShape::ClosedLoop { .. }, None, Some(c)) => LoadShape::ClosedLoop {
            concurrency: check_concurrency(c).map_err(|m| ("concurrency", m))?,
        },
        (LoadShape::OpenLoop { .. }, _, _) => {
            return Err((
                "rate",
                "an open-loop workload's stages each set rate (only)".into(),
            ))
        }
        (LoadShape::ClosedLoop { .. }, _, _) => {
            return Err((
                "concurrency",
                "a closed-loop workload's stages each set concurrency (only)".into(),
            ))
        }
    };
    Ok(Stage { duration, shape })
}

/// One `[[ops]]` entry; every problem in it, each with its key.
pub(super) fn parse_op(
    o: &OpSpec,
    default_timeout: Duration,
) -> Result<Operation, Vec<(&'static str, String)>> {
    let mut problems = Vec::new();
    let method = op_method(o).map_err(|p| problems.push(p)).ok();
    let weight = o.weight.unwrap_or(1);
    if weight == 0 {
        problems.push((
            "weight",
            "expected at least 1 (remove the entry to disable it)".into(),
        ));
    }
    let timeout = match o.timeout.as_deref().map(parse_positive_duration) {
        None => default_timeout,
        Some(Ok(t)) => t,
        Some(Err(m)) => {
            problems.push(("timeout", m));
            default_timeout
        }
    };
    let fallback = fallback(o, method.as_ref()).map_err(|p| problems.push(p));
    let resume = resume_plan(o, method.as_ref()).map_err(|p| problems.push(p));
    let (Some(method), Ok(fallback)) = (method.filter(|_| problems.is_empty()), fallback) else {
        return Err(problems);
    };
    let label = o.name.clone().unwrap_or_else(|| match &method {
        Method::ToolsCall { tool, .. } => tool.clone(),
        Method::ResourcesRead { uri } => uri.clone(),
        Method::PromptsGet { prompt, .. } => format!("prompt {prompt}"),
        m => m.wire_name().to_string(),
    });
    Ok(Operation {
        label,
        weight,
        method,
        timeout,
        fallback,
        resume: resume.ok().flatten(),
    })
}

/// `resume_after` and `resume_delay`: a count of at least 1, on a
/// `tools/call`, and a delay only with it.
fn resume_plan(
    o: &OpSpec,
    method: Option<&Method>,
) -> Result<Option<ResumePlan>, (&'static str, String)> {
    let delay = match o.resume_delay.as_deref().map(parse_duration) {
        None => Duration::ZERO,
        Some(Ok(d)) => d,
        Some(Err(m)) => return Err(("resume_delay", m)),
    };
    let Some(after) = o.resume_after else {
        if o.resume_delay.is_some() {
            return Err(("resume_delay", "only with resume_after".into()));
        }
        return Ok(None);
    };
    if after == 0 {
        return Err((
            "resume_after",
            "expected at least 1 (events before the stream is dropped)".into(),
        ));
    }
    if method.is_some_and(|m| !matches!(m, Method::ToolsCall { .. })) {
        return Err((
            "resume_after",
            "only a tools/call streams events to resume (the builtin `events` tool)".into(),
        ));
    }
    Ok(Some(ResumePlan { after, delay }))
}

/// `fallback`: only on `ping`, and only a listing (which, like `ping`,
/// takes no parameters and every server answers).
fn fallback(o: &OpSpec, method: Option<&Method>) -> Result<Option<Method>, (&'static str, String)> {
    let Some(name) = &o.fallback else {
        return Ok(None);
    };
    if !matches!(method, Some(Method::Ping) | None) {
        return Err((
            "fallback",
            "only a ping has a fallback (for a protocol without ping)".into(),
        ));
    }
    match name.as_str() {
        "tools/list" => Ok(Some(Method::ToolsList)),
        "resources/list" => Ok(Some(Method::ResourcesList)),
        "prompts/list" => Ok(Some(Method::PromptsList)),
        other => Err((
            "fallback",
            format!("expected tools/list, resources/list or prompts/list; got {other:?}"),
        )),
    }
}

/// The method of an op and the keys it needs and forbids.
fn op_method(o: &OpSpec) -> Result<Method, (&'static str, String)> {
    let arguments = || -> Result<Value, (&'static str, String)> {
        match &o.arguments {
            None => Ok(Value::Object(Default::default())),
            Some(t) => serde_json::to_value(t).map_err(|e| ("arguments", e.to_string())),
        }
    };
    let forbid = |key: &'static str, present: bool| -> Result<(), (&'static str, String)> {
        if present {
            Err((key, format!("not used by method {:?}", o.method)))
        } else {
            Ok(())
        }
    };
    Ok(match o.method.as_str() {
        "tools/call" => {
            forbid("uri", o.uri.is_some())?;
            forbid("prompt", o.prompt.is_some())?;
            let tool = o.tool.clone().filter(|t| !t.is_empty()).ok_or((
                "tool",
                "tools/call needs the tool's name in `tool`".to_string(),
            ))?;
            Method::ToolsCall {
                tool,
                arguments: arguments()?,
            }
        }
        "resources/read" => {
            forbid("tool", o.tool.is_some())?;
            forbid("prompt", o.prompt.is_some())?;
            forbid("arguments", o.arguments.is_some())?;
            let uri = o
                .uri
                .clone()
                .filter(|u| !u.is_empty())
                .ok_or(("uri", "resources/read needs `uri`".to_string()))?;
            Method::ResourcesRead { uri }
        }
        "prompts/get" => {
            forbid("tool", o.tool.is_some())?;
            forbid("uri", o.uri.is_some())?;
            let prompt = o.prompt.clone().filter(|p| !p.is_empty()).ok_or((
                "prompt",
                "prompts/get needs the prompt's name in `prompt`".to_string(),
            ))?;
            Method::PromptsGet {
                prompt,
                arguments: arguments()?,
            }
        }
        simple @ ("tools/list" | "resources/list" | "prompts/list" | "ping") => {
            forbid("tool", o.tool.is_some())?;
            forbid("uri", o.uri.is_some())?;
            forbid("prompt", o.prompt.is_some())?;
            forbid("arguments", o.arguments.is_some())?;
            match simple {
                "tools/list" => Method::ToolsList,
                "resources/list" => Method::ResourcesList,
                "prompts/list" => Method::PromptsList,
                _ => Method::Ping,
            }
        }
        other => {
            return Err((
                "method",
                format!(
                    "expected one of tools/call, resources/read, prompts/get, tools/list, \
                     resources/list, prompts/list, ping; got {other:?}"
                ),
            ))
        }
    })
}

/// One `[[thresholds]]` entry. `labels` are the operations' labels, or
/// `None` when some operation was invalid (then `op` cannot be judged).
pub(super) fn parse_threshold(
    t: &ThresholdSpec,
    labels: Option<&std::collections::HashSet<&str>>,
) -> Result<Threshold, (&'static str, String)> {
    if let (Some(op), Some(labels)) = (&t.op, labels) {
        if !labels.contains(op.as_str()) {
            let mut known: Vec<&str> = labels.iter().copied().collect();
            known.sort_unstable();
            return Err((
                "op",
                format!("no operation labelled {op:?}; known: {}", known.join(", ")),
            ));
        }
    }
    let metric = match t.metric.as_str() {
        "p50" => ThresholdMetric::Latency(Quantile::P50),
        "p90" => ThresholdMetric::Latency(Quantile::P90),
        "p95" => ThresholdMetric::Latency(Quantile::P95),
        "p99" => ThresholdMetric::Latency(Quantile::P99),
        "p999" | "p99.9" => ThresholdMetric::Latency(Quantile::P999),
        "max" => ThresholdMetric::Latency(Quantile::Max),
        "error_rate" => ThresholdMetric::ErrorRate,
        "throughput" => ThresholdMetric::Throughput,
        other => {
            return Err((
                "metric",
                format!(
                "expected p50, p90, p95, p99, p999, max, error_rate or throughput; got {other:?}"
            ),
            ))
        }
    };
    let bound = match (metric, &t.max, &t.min) {
        (ThresholdMetric::Latency(_), Some(ThresholdValue::Text(d)), None) => {
            Bound::AtMost(parse_duration(d).map_err(|m| ("max", m))?.as_secs_f64() * 1e6)
        }
        (ThresholdMetric::Latency(_), _, _) => {
            return Err((
                "max",
                "a latency threshold needs max = \"<duration>\", e.g. \"20ms\"".into(),
            ))
        }
        (ThresholdMetric::ErrorRate, Some(ThresholdValue::Number(x)), None)
            if (0.0..=1.0).contains(x) =>
        {
            Bound::AtMost(*x)
        }
        (ThresholdMetric::ErrorRate, _, _) => {
            return Err((
                "max",
                "error_rate needs max = a fraction from 0 to 1, e.g. 0.01".into(),
            ))
        }
        (ThresholdMetric::Throughput, None, Some(ThresholdValue::Number(x))) if *x >= 0.0 => {
            Bound::AtLeast(*x)
        }
        (ThresholdMetric::Throughput, _, _) => {
            return Err((
                "min",
                "throughput needs min = requests per second, e.g. 1000".into(),
            ))
        }
    };
    Ok(Threshold {
        metric,
        op: t.op.clone(),
        bound,
        by_default: false,
    })
}

pub fn parse_duration(text: &str) -> Result<Duration, String> {
    humantime::parse_duration(text.trim())
        .map_err(|e| format!("expected a duration like \"10s\" or \"250ms\", got {text:?} ({e})"))
}

pub(super) fn parse_positive_duration(text: &str) -> Result<Duration, String> {
    let d = parse_duration(text)?;
    if d.is_zero() {
        Err(format!("expected a duration above zero, got {text:?}"))
    } else {
        Ok(d)
    }
}

/// The key a TOML error is about: the field serde names, else the key on
/// the line the error points at, else the line number.
pub(super) fn toml_error_key(e: &toml::de::Error, text: &str) -> String {
    let msg = e.message();
    for prefix in ["unknown field `", "missing field `", "duplicate field `"] {
        if let Some(rest) = msg.strip_prefix(prefix) {
            if let Some(end) = rest.find('`') {
                return rest[..end].to_string();
            }
        }
    }
    let Some(span) = e.span() else {
        return "(file)".into();
    };
    let start = span.start.min(text.len());
    let line_no = text[..start].matches('\n').count() + 1;
    let line = text.lines().nth(line_no - 1).unwrap_or_default();
    match line.split_once('=') {
        Some((key, _)) if !key.trim().is_empty() && !key.contains('"') => key.trim().to_string(),
        _ => format!("line {line_no}"),
    }
}
