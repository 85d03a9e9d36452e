//! Baseline files: repeated runs per workload, with their environment, so a
//! later check compares distribution to distribution, and how noisy each
//! workload's runs were when saved.

use super::verdict::GateMetric;
use crate::report::{write_atomic, RunReport};
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

pub const SCHEMA: &str = "mcptop.baseline";
pub const SCHEMA_VERSION: u32 = 1;

/// How the runs were made; a check made differently says so.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct RunSettings {
    pub repeats: u32,
    pub quick: bool,
    pub target: String,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Baseline {
    pub schema: String,
    pub schema_version: u32,
    pub created_at: String,
    pub settings: RunSettings,
    /// Runs per workload name, in the order they were made.
    pub workloads: BTreeMap<String, Vec<RunReport>>,
    /// How noisy each workload's runs were (absent in files saved before
    /// mcptop recorded it).
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub noise: BTreeMap<String, Noise>,
}

/// How noisy one workload's baseline runs are, and what it took to get them.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Noise {
    /// Runs made, counting outliers that were dropped and made again.
    pub runs_made: u32,
    /// Outlier runs dropped and replaced by an extra run, numbered in the
    /// order they were made.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub rerun: Vec<OutlierRun>,
    /// Outliers still among the kept runs (numbered in the order made): the
    /// extra runs ran out, and the baseline was saved with a warning.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub outliers_kept: Vec<OutlierRun>,
    /// The kept runs' spread per metric.
    pub metrics: BTreeMap<GateMetric, MetricNoise>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct OutlierRun {
    pub run: u32,
    pub metrics: Vec<GateMetric>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct MetricNoise {
    /// Median of the kept runs.
    pub median: f64,
    /// 1.4826 x the median absolute deviation: a standard deviation that one
    /// wild run cannot inflate.
    pub mad: f64,
    /// `mad` / `median`, the robust coefficient of variation (ratio metrics
    /// with a non-zero median only).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub relative_mad: Option<f64>,
}

#[derive(Debug, thiserror::Error)]
pub enum BaselineError {
    #[error("no baseline at {0} (save one with `mcptop baseline save`)")]
    Missing(PathBuf),
    #[error("{path}: cannot read the baseline: {reason}")]
    Unreadable { path: PathBuf, reason: String },
    #[error("{path}: not an mcptop baseline: {reason}")]
    Corrupt { path: PathBuf, reason: String },
    #[error("cannot write the baseline {path}: {reason}")]
    Write { path: PathBuf, reason: String },
}

pub fn default_path() -> PathBuf {
    PathBuf::from(".mcptop")
        .join("baselines")
        .join("baseline.json")
}

impl Baseline {
    pub fn new(settings: RunSettings) -> Baseline {
        Baseline {
            schema: SCHEMA.into(),
            schema_version: SCHEMA_VERSION,
            created_at: humantime::format_rfc3339_seconds(std::time::SystemTime::now()).to_string(),
            settings,
            workloads: BTreeMap::new(),
            noise: BTreeMap::new(),
        }
    }

    /// Stores a workload's runs with their noise, replacing what was there.
    pub fn put(&mut self, name: &str, runs: Vec<RunReport>, noise: Noise) {
        self.workloads.insert(name.to_string(), runs);
        self.noise.insert(name.to_string(), noise);
    }

    pub fn read(path: &Path) -> Result<Baseline, BaselineError> {
        let text = match std::fs::read_to_string(path) {
            Ok(t) => t,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
                return Err(BaselineError::Missing(path.to_path_buf()))
            }
            Err(e) => {
                return Err(BaselineError::Unreadable {
                    path: path.to_path_buf(),
                    reason: e.to_string(),
                })
            }
        };
        let corrupt = |reason: String| BaselineError::Corrupt {
            path: path.to_path_buf(),
            reason,
        };
        let b: Baseline = serde_json::from_str(&text).map_err(|e| corrupt(e.to_string()))?;
        if b.schema != SCHEMA || b.schema_version != SCHEMA_VERSION {
            return Err(corrupt(format!(
                "schema {} v{} is not {SCHEMA} v{SCHEMA_VERSION}",
                b.schema, b.schema_version
            )));
        }
        if let Some((name, _)) = b.workloads.iter().find(|(_, runs)| runs.is_empty()) {
            return Err(corrupt(format!("workload {name} has no runs")));
        }
        Ok(b)
    }

    /// The baseline at `path`, or a new one with `settings` if there is none.
    pub fn read_or_new(path: &Path, settings: RunSettings) -> Result<Baseline, BaselineError> {
        match Baseline::read(path) {
            Err(BaselineError::Missing(_)) => Ok(Baseline::new(settings)),
            other => other,
        }
    }

    /// Stamps the baseline with the time now and writes it to `path`.
    pub fn write_now(&mut self, path: &Path) -> Result<(), BaselineError> {
        self.created_at =
            humantime::format_rfc3339_seconds(std::time::SystemTime::now()).to_string();
        self.write(path)
    }

    pub fn write(&self, path: &Path) -> Result<(), BaselineError> {
        let err = |reason: String| BaselineError::Write {
            path: path.to_path_buf(),
            reason,
        };
        let mut bytes = serde_json::to_vec_pretty(self).map_err(|e| err(e.to_string()))?;
        bytes.push(b'\n');
        write_atomic(path, &bytes).map_err(|e| err(e.to_string()))
    }
}

/// Measured intervals a single run needs before it can stand as a baseline:
/// its spread comes from them.
/// Five is the fewest that give one run a side a 98 % distribution-free
/// interval against a run as long (see `stats::interval_rank`).
pub const MIN_BASELINE_INTERVALS: usize = 5;

/// Why one finished run cannot become a baseline.
#[derive(Debug, thiserror::Error)]
pub enum RunBaselineError {
    #[error("the target failed ({0})")]
    TargetFailed(String),
    #[error("the run was stopped by {0}")]
    Stopped(&'static str),
    #[error("only {0} measured second(s); a baseline needs at least {MIN_BASELINE_INTERVALS}")]
    TooShort(usize),
    #[error(transparent)]
    Project(#[from] super::project::ProjectError),
    #[error(transparent)]
    Baseline(#[from] BaselineError),
}

/// Saves one finished run (from the live screen's `b`) as its workload's
/// baseline in the project's baseline file, keeping the file's other
/// workloads. Refuses a run whose target failed or that measured too little
/// to give a spread. Returns the file written.
pub fn save_run(report: &RunReport) -> Result<PathBuf, RunBaselineError> {
    if report.target_failed() {
        return Err(RunBaselineError::TargetFailed(
            crate::report::text::describe_stop(&report.stopped_by),
        ));
    }
    if let crate::engine::StopReason::Signal { signal } = report.stopped_by {
        return Err(RunBaselineError::Stopped(signal.name()));
    }
    let intervals = super::verdict::full_intervals(report).count();
    if intervals < MIN_BASELINE_INTERVALS {
        return Err(RunBaselineError::TooShort(intervals));
    }
    let project = super::project::Project::load(Path::new("."))?;
    let path = project.check.baseline.clone().unwrap_or_else(default_path);
    let mut base = Baseline::read_or_new(
        &path,
        RunSettings {
            repeats: 1,
            quick: false,
            target: report.environment.target.clone(),
        },
    )?;
    let runs = vec![report.clone()];
    let noise = super::outliers::noise(&runs, 1, Vec::new());
    base.put(&report.workload_id, runs, noise);
    base.write_now(&path)?;
    Ok(path)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::workload::Workload;
    use std::time::Duration;

    #[test]
    fn a_run_stopped_by_a_signal_is_never_a_baseline() {
        use crate::engine::stop::StopSignal;
        use crate::engine::{RunOutcome, StopReason, TargetInfo};
        use crate::metrics::recorder::{EngineStatus, Recorder};
        let w = Workload::parse(
            "name = \"w\"\nconcurrency = 1\nduration = \"10s\"\n[[ops]]\nmethod = \"ping\"\n",
            "test",
        )
        .expect("workload");
        let t0 = tokio::time::Instant::now();
        let metrics = Recorder::new(&["ping".to_string()], t0, None)
            .finish(t0 + Duration::from_secs(10), EngineStatus::default());
        let report = RunReport::build(
            &w,
            "builtin",
            std::time::SystemTime::UNIX_EPOCH,
            RunOutcome {
                metrics,
                stopped_by: StopReason::Signal {
                    signal: StopSignal::Hangup,
                },
                target: TargetInfo::default(),
                unfinished: 0,
            },
        );
        let err = save_run(&report).expect_err("refused");
        assert_eq!(err.to_string(), "the run was stopped by SIGHUP");
    }
}
