//! Outputs for the ecosystem, all read from the result file (no second
//! measurement path): the self-contained HTML report, CSV of the
//! per-interval figures, HdrHistogram interval logs, the exact merge of
//! sharded runs, and live Prometheus metrics during a run.
//!
//! This floor sits above `report` (it reads `RunReport`) and below `check`
//! (whose verdict page uses the HTML parts here).

pub mod csv;
pub mod hdr_log;
pub mod html;
pub mod merge;
pub mod prometheus;
#[cfg(test)]
pub(crate) mod test_runs;

/// A file mcptop cannot turn into the output asked for.
#[derive(Debug, thiserror::Error)]
pub enum ExportError {
    #[error("{path}: {message}")]
    File { path: String, message: String },
    #[error("{0}")]
    Invalid(String),
}
