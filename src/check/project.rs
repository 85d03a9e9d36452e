//! `mcptop.toml`, the project file: which workloads the check runs, where
//! the baseline lives, thresholds per metric.

use super::verdict::RegressionThresholds;
use serde::Deserialize;
use std::path::{Path, PathBuf};

pub const PROJECT_FILE: &str = "mcptop.toml";

#[derive(Debug, Clone, Default, PartialEq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Project {
    #[serde(default)]
    pub check: CheckConfig,
}

#[derive(Debug, Clone, Default, PartialEq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct CheckConfig {
    /// Workload names or paths the check runs when none are given.
    #[serde(default)]
    pub workloads: Vec<String>,
    pub baseline: Option<PathBuf>,
    pub repeats: Option<u32>,
    pub target: Option<String>,
    /// Fractions per metric (0.1 = 10 %); the error rate is absolute.
    #[serde(default)]
    pub thresholds: RegressionThresholds,
}

/// Why the project file cannot be used.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum ProjectError {
    #[error("{}: cannot read: {reason}", path.display())]
    Unreadable { path: PathBuf, reason: String },
    #[error("{}: {reason}", path.display())]
    Invalid { path: PathBuf, reason: String },
}

impl Project {
    /// The project file in `dir`, or the defaults when there is none.
    pub fn load(dir: &Path) -> Result<Project, ProjectError> {
        let path = dir.join(PROJECT_FILE);
        let text = match std::fs::read_to_string(&path) {
            Ok(t) => t,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(Project::default()),
            Err(e) => {
                return Err(ProjectError::Unreadable {
                    path,
                    reason: e.to_string(),
                })
            }
        };
        let mut p: Project = toml::from_str(&text).map_err(|e| ProjectError::Invalid {
            path: path.clone(),
            reason: e.message().to_string(),
        })?;
        // Unlisted metrics keep their defaults.
        let mut all = RegressionThresholds::default();
        all.0.extend(p.check.thresholds.0);
        p.check.thresholds = all;
        Ok(p)
    }
}
