//! mcptop: a live profiler, load generator and regression gate for MCP
//! servers. `run` is the whole program; `main.rs` only parses arguments.
//!
//! Data flows one way: workload -> engine (scheduler + target sessions) ->
//! samples -> metrics::Recorder -> Snapshot (views) and RunMetrics (reports).

pub mod check;
pub mod cli;
pub mod client;
pub mod engine;
pub mod metrics;
pub mod profile;
pub mod report;
pub mod runner;
pub mod server;
pub mod target;
#[cfg(feature = "tui")]
pub mod tui;
pub mod validate;
pub mod workload;

/// What the process exits with.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Exit {
    Ok,
    /// A threshold or regression check failed.
    Failed,
    /// Usage, configuration or runtime error.
    Error,
}

impl Exit {
    pub fn code(self) -> u8 {
        match self {
            Exit::Ok => 0,
            Exit::Failed => 1,
            Exit::Error => 2,
        }
    }
}

/// Runs the command line; prints errors to stderr and maps them to exit codes.
pub fn run(cli: cli::Cli) -> Exit {
    match runner::dispatch(cli) {
        Ok(exit) => exit,
        Err(e) => {
            // An error may quote the target (its stderr, what it sent).
            let text = format!("{e:#}");
            eprintln!("mcptop: error: {}", client::escape::escape_text(&text));
            Exit::Error
        }
    }
}
