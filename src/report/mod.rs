//! Reports: the versioned JSON result file (written atomically), threshold
//! verdicts, and the plain-text summary. Everything here reads `RunMetrics`;
//! nothing recomputes a percentile.

pub mod bytes;
pub mod calibration;
pub mod chaos;
pub mod formats;
pub mod junit;
pub mod output;
pub mod text;

use crate::engine::{RunOutcome, StopReason, TargetInfo};
use crate::metrics::recorder::OpMetrics;
use crate::metrics::RunMetrics;
use crate::workload::spec::WorkloadSpec;
use crate::workload::{Bound, LoadShape, Threshold, ThresholdMetric, Workload};
use serde::{Deserialize, Serialize};
use std::path::{Path, PathBuf};

pub const SCHEMA: &str = "mcptop.run";
pub const SCHEMA_VERSION: u32 = 1;

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Environment {
    pub mcptop_version: String,
    pub target: String,
    pub server_name: String,
    pub protocol_version: String,
    pub os: String,
    pub arch: String,
    pub cpus: usize,
    /// Worker threads of mcptop's async runtime (`--threads`; 0: not
    /// recorded, in files written before it was).
    #[serde(default, skip_serializing_if = "is_zero")]
    pub worker_threads: usize,
    pub build: String,
    /// This machine's floor (`mcptop calibrate`), when one was saved before
    /// the run (`.mcptop/calibration.json`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub calibration: Option<calibration::CalibrationSummary>,
}

impl Environment {
    pub fn current(target: &str, info: &TargetInfo) -> Environment {
        Environment {
            mcptop_version: env!("CARGO_PKG_VERSION").to_string(),
            target: target.to_string(),
            server_name: info.server_name.clone(),
            protocol_version: info.protocol_version.clone(),
            os: std::env::consts::OS.to_string(),
            arch: std::env::consts::ARCH.to_string(),
            cpus: std::thread::available_parallelism()
                .map(|n| n.get())
                .unwrap_or(1),
            worker_threads: tokio::runtime::Handle::try_current()
                .map_or(0, |h| h.metrics().num_workers()),
            build: if cfg!(debug_assertions) {
                "debug"
            } else {
                "release"
            }
            .to_string(),
            calibration: calibration::current_summary(),
        }
    }
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct LoadDescription {
    /// "open" or "closed".
    pub shape: String,
    pub rate: Option<f64>,
    pub concurrency: Option<u32>,
    pub sessions: u32,
    pub pipeline: u32,
    pub warmup_s: f64,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ThresholdVerdict {
    pub metric: String,
    pub op: Option<String>,
    pub limit: String,
    pub actual: String,
    pub passed: bool,
    /// The workload declared no error_rate threshold: this is the default.
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub by_default: bool,
}

/// The result file.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct RunReport {
    pub schema: String,
    pub schema_version: u32,
    pub workload_id: String,
    pub started_at: String,
    pub environment: Environment,
    pub workload: WorkloadSpec,
    pub load: LoadDescription,
    pub stopped_by: StopReason,
    pub target_pids: Vec<u32>,
    pub unfinished: u64,
    pub thresholds: Vec<ThresholdVerdict>,
    pub passed: bool,
    /// Connect, TLS and initialize times of network targets (additive key).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub connection_phases: Option<crate::transport::phases::ConnectionPhases>,
    /// SSE resumption figures per operation (`resume_after`; additive key).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub sse_resume:
        Option<std::collections::BTreeMap<String, crate::transport::resume_figures::ResumeStats>>,
    /// This run's share of a sharded run (`--shard I/N`; hook: outputs).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub shard: Option<crate::workload::shard::Shard>,
    /// The shards a merged result adds up (`mcptop merge`; hook: outputs).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub merged_shards: Option<crate::workload::shard::MergedShards>,
    /// The flame graph captured with this run (`mcptop profile`; hook: outputs).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub flamegraph: Option<std::path::PathBuf>,
    #[serde(flatten)]
    pub metrics: RunMetrics,
}

impl RunReport {
    pub fn build(
        workload: &Workload,
        target: &str,
        started_at: std::time::SystemTime,
        outcome: RunOutcome,
    ) -> RunReport {
        let mut metrics = outcome.metrics;
        metrics.overall.workload_id = workload.name.clone();
        for op in metrics
            .ops
            .iter_mut()
            .chain(metrics.scenarios.iter_mut().map(|s| &mut s.figures))
        {
            op.workload_id = workload.name.clone();
        }
        let thresholds: Vec<ThresholdVerdict> = workload
            .thresholds
            .iter()
            .map(|t| check_threshold(t, &metrics))
            .collect();
        let passed = thresholds.iter().all(|t| t.passed);
        let (shape, rate, concurrency) = match workload.shape {
            LoadShape::OpenLoop { rate } => ("open", Some(rate), None),
            LoadShape::ClosedLoop { concurrency } => ("closed", None, Some(concurrency)),
        };
        RunReport {
            schema: SCHEMA.into(),
            schema_version: SCHEMA_VERSION,
            workload_id: workload.name.clone(),
            started_at: humantime::format_rfc3339_seconds(started_at).to_string(),
            environment: Environment::current(target, &outcome.target),
            workload: workload.spec.clone(),
            load: LoadDescription {
                shape: shape.into(),
                rate,
                concurrency,
                sessions: workload.sessions_to_open(),
                pipeline: workload.pipeline,
                warmup_s: workload.warmup.as_secs_f64(),
            },
            stopped_by: outcome.stopped_by,
            target_pids: outcome.target.pids,
            unfinished: outcome.unfinished,
            thresholds,
            passed,
            connection_phases: None,
            sse_resume: None,
            shard: None,
            merged_shards: None,
            flamegraph: None,
            metrics,
        }
    }

    /// True when the run itself failed (the target died), whatever the thresholds say.
    pub fn target_failed(&self) -> bool {
        matches!(
            self.stopped_by,
            StopReason::TargetExited { .. } | StopReason::AllSessionsClosed
        )
    }

    pub fn read(path: &Path) -> Result<RunReport, ResultFileError> {
        let text = std::fs::read_to_string(path).map_err(|e| ResultFileError::Unreadable {
            path: path.to_path_buf(),
            reason: e.to_string(),
        })?;
        let report: RunReport =
            serde_json::from_str(&text).map_err(|e| ResultFileError::NotAResult {
                path: path.to_path_buf(),
                reason: e.to_string(),
            })?;
        if report.schema != SCHEMA || report.schema_version != SCHEMA_VERSION {
            return Err(ResultFileError::Schema {
                path: path.to_path_buf(),
                schema: report.schema,
                version: report.schema_version,
            });
        }
        Ok(report)
    }
}

fn is_zero(n: &usize) -> bool {
    *n == 0
}

fn check_threshold(t: &Threshold, m: &RunMetrics) -> ThresholdVerdict {
    let scope = match &t.op {
        Some(label) => m
            .ops
            .iter()
            .chain(m.scenarios.iter().map(|s| &s.figures))
            .find(|o| &o.label == label),
        None => Some(&m.overall),
    };
    let metric_name = match t.metric {
        ThresholdMetric::Latency(q) => q.name().to_string(),
        ThresholdMetric::ErrorRate => "error_rate".into(),
        ThresholdMetric::Throughput => "throughput".into(),
    };
    let (limit_value, at_most) = match t.bound {
        Bound::AtMost(x) => (x, true),
        Bound::AtLeast(x) => (x, false),
    };
    let fmt = |x: f64| match t.metric {
        ThresholdMetric::Latency(_) => crate::metrics::units::fmt_us(x.round() as u64),
        ThresholdMetric::ErrorRate => format!("{:.4}%", x * 100.0),
        ThresholdMetric::Throughput => format!("{x:.1} req/s"),
    };
    let limit = format!("{} {}", if at_most { "<=" } else { ">=" }, fmt(limit_value));
    let verdict = |actual: String, passed: bool| ThresholdVerdict {
        metric: metric_name.clone(),
        op: t.op.clone(),
        limit: limit.clone(),
        actual,
        passed,
        by_default: t.by_default,
    };
    let Some(op) = scope else {
        return verdict("operation not run".into(), false);
    };
    let value = match t.metric {
        ThresholdMetric::Latency(q) => {
            if op.ok == 0 {
                return verdict("no successful replies".into(), false);
            }
            latency_of(op, q) as f64
        }
        ThresholdMetric::ErrorRate if t.op.is_none() => {
            return overall_error_rate(op, m.protocol.violations, |actual, rate| {
                verdict(actual, rate <= limit_value)
            });
        }
        ThresholdMetric::ErrorRate => {
            if op.operations == 0 {
                return verdict("no replies".into(), false);
            }
            op.error_rate
        }
        ThresholdMetric::Throughput => op.throughput_msg_per_s,
    };
    let passed = if at_most {
        value <= limit_value
    } else {
        value >= limit_value
    };
    verdict(fmt(value), passed)
}

/// The whole run's error rate for a threshold: protocol violations (replies
/// to no request, duplicates, bad or over-long lines) count as failed
/// requests, since none of them belongs to one: (errors + violations) /
/// replies, at most 1.
fn overall_error_rate(
    all: &OpMetrics,
    violations: u64,
    verdict: impl Fn(String, f64) -> ThresholdVerdict,
) -> ThresholdVerdict {
    if all.operations == 0 {
        let why = match violations {
            0 => "no replies".to_string(),
            n => format!("no replies, {n} protocol violations"),
        };
        return verdict(why, f64::INFINITY);
    }
    let failed = all.errors + violations;
    let rate = (failed as f64 / all.operations as f64).min(1.0);
    let actual = if violations == 0 {
        format!("{:.4}%", rate * 100.0)
    } else {
        format!(
            "{:.4}% ({} errors + {violations} protocol violations in {} replies)",
            rate * 100.0,
            all.errors,
            all.operations
        )
    };
    verdict(actual, rate)
}

fn latency_of(op: &OpMetrics, q: crate::workload::Quantile) -> u64 {
    use crate::workload::Quantile::*;
    match q {
        P50 => op.corrected.p50_us,
        P90 => op.corrected.p90_us,
        P95 => op.corrected.p95_us,
        P99 => op.corrected.p99_us,
        P999 => op.corrected.p999_us,
        Max => op.corrected.max_us,
    }
}

/// Writes `bytes` to `path` so a reader sees the old file or the new one,
/// never half of one: write a sibling temp file, sync it, rename it. A
/// symbolic link is written through (the file it names is replaced, the
/// link stays); a device, fifo or terminal is written in place.
pub fn write_atomic(path: &Path, bytes: &[u8]) -> std::io::Result<()> {
    use std::io::Write;
    let place = output::resolve(path)?;
    if place.direct {
        return output::write_direct(&place.path, bytes);
    }
    let path = place.path.as_path();
    let dir = match path.parent() {
        Some(d) if !d.as_os_str().is_empty() => d.to_path_buf(),
        _ => std::path::PathBuf::from("."),
    };
    std::fs::create_dir_all(&dir)?;
    let name = path
        .file_name()
        .and_then(|n| n.to_str())
        .unwrap_or("result");
    let tmp = dir.join(format!(".{name}.{}.tmp", std::process::id()));
    let result = (|| {
        let mut file = std::fs::File::create(&tmp)?;
        file.write_all(bytes)?;
        file.sync_all()?;
        std::fs::rename(&tmp, path)
    })();
    if result.is_err() {
        let _ = std::fs::remove_file(&tmp);
    }
    result
}

/// Why a result file cannot be read or written.
#[derive(Debug, thiserror::Error)]
pub enum ResultFileError {
    #[error("{}: cannot read: {reason}", path.display())]
    Unreadable { path: PathBuf, reason: String },
    #[error("{}: not an mcptop result file: {reason}", path.display())]
    NotAResult { path: PathBuf, reason: String },
    #[error("{}: schema {schema} v{version} is not {SCHEMA} v{SCHEMA_VERSION}", path.display())]
    Schema {
        path: PathBuf,
        schema: String,
        version: u32,
    },
    #[error("{0}")]
    Encode(String),
    #[error("cannot write {}: {reason}", path.display())]
    Write { path: PathBuf, reason: String },
}

pub fn write_report(path: &Path, report: &RunReport) -> Result<(), ResultFileError> {
    let mut bytes =
        serde_json::to_vec_pretty(report).map_err(|e| ResultFileError::Encode(e.to_string()))?;
    bytes.push(b'\n');
    write_atomic(path, &bytes).map_err(|e| ResultFileError::Write {
        path: path.to_path_buf(),
        reason: e.to_string(),
    })
}

#[cfg(test)]
mod tests;
