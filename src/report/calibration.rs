//! This machine's measurement floor, as `mcptop calibrate` measured it with
//! the build that ran it: mcptop's own send lag in open loop against the
//! builtin no-op, and the no-op's round trip in closed loop. Saved
//! atomically to `.mcptop/calibration.json`; result files made afterwards
//! carry its summary in their environment section, so `compare` can say when
//! a difference is below the floor.

use crate::metrics::send_lag::LagFigures;
use crate::metrics::snapshot::Percentiles;
use serde::{Deserialize, Serialize};
use std::path::{Path, PathBuf};

/// Where `mcptop calibrate` saves, and runs look, relative to the working
/// directory (beside `.mcptop/runs`).
pub fn default_path() -> PathBuf {
    PathBuf::from(".mcptop").join("calibration.json")
}

/// One calibration run: open loop at a rate, or closed loop.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct CalibrationRun {
    /// "open" or "closed".
    pub shape: String,
    pub rate: Option<f64>,
    pub concurrency: Option<u32>,
    pub requests: u64,
    /// Actual send − planned start.
    pub send_lag: LagFigures,
    /// The no-op's corrected latency (from the planned start).
    pub round_trip: Percentiles,
    /// The no-op's service time (from the actual send).
    pub service: Percentiles,
}

/// A whole calibration, as saved.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Calibration {
    pub made_at: String,
    pub mcptop_version: String,
    pub build: String,
    pub cpus: usize,
    pub runs: Vec<CalibrationRun>,
    /// Below this, differences between two latencies are noise here: the
    /// largest of the open-loop send-lag p99s and the closed-loop no-op's
    /// round-trip spread (p99 − p50).
    pub floor_us: u64,
}

/// What a result file's environment keeps of the calibration.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct CalibrationSummary {
    pub made_at: String,
    pub mcptop_version: String,
    pub build: String,
    pub floor_us: u64,
    /// Worst open-loop send-lag p99 measured.
    pub send_lag_p99_us: u64,
    /// The closed-loop no-op's round trip.
    pub noop_p50_us: u64,
    pub noop_p99_us: u64,
}

/// Why a calibration could not be read or written.
#[derive(Debug, thiserror::Error)]
pub enum CalibrationError {
    #[error("{path}: cannot read: {why}")]
    Read { path: PathBuf, why: String },
    #[error("{path}: not a calibration file: {why}")]
    Parse { path: PathBuf, why: String },
    #[error("{path}: cannot write: {why}")]
    Write { path: PathBuf, why: String },
}

impl Calibration {
    /// A calibration of `runs` made now with this build.
    pub fn new(runs: Vec<CalibrationRun>) -> Calibration {
        let floor_us = floor_of(&runs);
        Calibration {
            made_at: humantime::format_rfc3339_seconds(std::time::SystemTime::now()).to_string(),
            mcptop_version: env!("CARGO_PKG_VERSION").to_string(),
            build: if cfg!(debug_assertions) {
                "debug"
            } else {
                "release"
            }
            .to_string(),
            cpus: std::thread::available_parallelism()
                .map(|n| n.get())
                .unwrap_or(1),
            runs,
            floor_us,
        }
    }

    pub fn summary(&self) -> CalibrationSummary {
        let closed = self.runs.iter().find(|r| r.shape == "closed");
        CalibrationSummary {
            made_at: self.made_at.clone(),
            mcptop_version: self.mcptop_version.clone(),
            build: self.build.clone(),
            floor_us: self.floor_us,
            send_lag_p99_us: open_lag_p99(&self.runs),
            noop_p50_us: closed.map_or(0, |r| r.round_trip.p50_us),
            noop_p99_us: closed.map_or(0, |r| r.round_trip.p99_us),
        }
    }

    /// Writes atomically (a temporary file renamed over the old one).
    pub fn save(&self, path: &Path) -> Result<(), CalibrationError> {
        let err = |why: String| CalibrationError::Write {
            path: path.to_path_buf(),
            why,
        };
        if let Some(dir) = path.parent().filter(|d| !d.as_os_str().is_empty()) {
            std::fs::create_dir_all(dir).map_err(|e| err(e.to_string()))?;
        }
        let mut bytes = serde_json::to_vec_pretty(self).map_err(|e| err(e.to_string()))?;
        bytes.push(b'\n');
        super::write_atomic(path, &bytes).map_err(|e| err(e.to_string()))
    }

    /// The calibration at `path`; `Ok(None)` when there is none.
    pub fn load(path: &Path) -> Result<Option<Calibration>, CalibrationError> {
        let text = match std::fs::read_to_string(path) {
            Ok(t) => t,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(None),
            Err(e) => {
                return Err(CalibrationError::Read {
                    path: path.to_path_buf(),
                    why: e.to_string(),
                })
            }
        };
        serde_json::from_str(&text)
            .map(Some)
            .map_err(|e| CalibrationError::Parse {
                path: path.to_path_buf(),
                why: e.to_string(),
            })
    }
}

/// The summary a new result's environment carries: the saved calibration,
/// if there is a readable one (an unreadable one is said on stderr, and the
/// result goes without).
pub fn current_summary() -> Option<CalibrationSummary> {
    match Calibration::load(&default_path()) {
        Ok(c) => c.map(|c| c.summary()),
        Err(e) => {
            eprintln!("mcptop: warning: {e}; results carry no calibration");
            None
        }
    }
}

fn open_lag_p99(runs: &[CalibrationRun]) -> u64 {
    runs.iter()
        .filter(|r| r.shape == "open")
        .map(|r| r.send_lag.p99_us)
        .max()
        .unwrap_or(0)
}

/// The floor: the worst open-loop send-lag p99 (timing that is mcptop's),
/// or the closed-loop no-op's round-trip spread (p99 − p50), whichever is
/// larger.
pub fn floor_of(runs: &[CalibrationRun]) -> u64 {
    let spread = runs
        .iter()
        .filter(|r| r.shape == "closed")
        .map(|r| r.round_trip.p99_us.saturating_sub(r.round_trip.p50_us))
        .max()
        .unwrap_or(0);
    open_lag_p99(runs).max(spread)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn run(shape: &str, lag_p99: u64, p50: u64, p99: u64) -> CalibrationRun {
        CalibrationRun {
            shape: shape.into(),
            rate: (shape == "open").then_some(500.0),
            concurrency: (shape == "closed").then_some(1),
            requests: 100,
            send_lag: LagFigures {
                p99_us: lag_p99,
                ..LagFigures::default()
            },
            round_trip: Percentiles {
                p50_us: p50,
                p99_us: p99,
                ..Percentiles::default()
            },
            service: Percentiles::default(),
        }
    }

    #[test]
    fn the_floor_is_the_worst_lag_or_the_no_op_spread() {
        let runs = vec![
            run("open", 60, 120, 400),
            run("open", 90, 110, 300),
            run("closed", 0, 40, 110),
        ];
        assert_eq!(floor_of(&runs), 90);
        let runs = vec![run("open", 60, 120, 400), run("closed", 0, 40, 240)];
        assert_eq!(floor_of(&runs), 200);
        let s = Calibration::new(runs).summary();
        assert_eq!(
            (s.floor_us, s.send_lag_p99_us, s.noop_p50_us, s.noop_p99_us),
            (200, 60, 40, 240)
        );
    }

    #[test]
    fn saved_and_loaded_alike_and_a_missing_file_is_none() {
        let dir = tempfile::tempdir().expect("tempdir");
        let path = dir.path().join("sub").join("calibration.json");
        assert!(Calibration::load(&path).expect("no file is fine").is_none());
        let c = Calibration::new(vec![run("open", 70, 100, 200)]);
        c.save(&path).expect("saved");
        assert_eq!(Calibration::load(&path).expect("read"), Some(c));
        std::fs::write(&path, "{").expect("write");
        let e = Calibration::load(&path).expect_err("not json");
        assert!(e.to_string().contains("not a calibration file"), "{e}");
    }
}
