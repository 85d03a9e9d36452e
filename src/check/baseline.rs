//! Baseline files: repeated runs per workload, with their environment, so a
//! later check compares distribution to distribution.

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
        }
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
