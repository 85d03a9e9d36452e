//! mcptop: a live profiler, load generator and regression gate for MCP
//! servers. `run` is the whole program; `main.rs` installs the counting
//! allocator and parses arguments.
//!
//! Data flows one way: workload -> engine (scheduler + target sessions) ->
//! samples -> metrics::Recorder -> Snapshot (views) and RunMetrics (reports).
//! Modules sit on floors and import only downwards (docs/ARCHITECTURE.md):
//! protocol, pacer < workload < client < transport, server, runtime < metrics < engine <
//! report < check, profile < run < tui < cli.

pub mod check;
pub mod cli;
pub mod client;
pub mod engine;
pub mod export;
pub mod metrics;
pub mod pacer;
pub mod profile;
pub mod protocol;
pub mod report;
pub mod run;
pub mod runtime;
pub mod server;
pub mod transport;
#[cfg(feature = "tui")]
pub mod tui;
pub mod workload;

/// The unit tests count allocations as the binary does.
#[cfg(test)]
#[global_allocator]
static TEST_ALLOCATOR: metrics::alloc::Installed = metrics::alloc::counting_allocator();

pub use run::Exit;

/// Runs the command line; prints errors to stderr and maps them to exit
/// codes. A command stopped by a signal exits with that signal's code,
/// whatever it returned, so a cancelled run never looks like a pass. The
/// targets' process groups are ended on the way out.
pub fn run(cli: cli::Cli) -> Exit {
    transport::limits::raise_fd_limit();
    let result = cli::dispatch::dispatch(cli);
    transport::group::end_all();
    let stopped = engine::stop::process().signal();
    // An error may quote the target (its stderr, what it sent).
    let shown = |e: &anyhow::Error| protocol::escape::escape_text(&format!("{e:#}")).into_owned();
    match (result, stopped) {
        (Ok(_), Some(signal)) => Exit::Stopped(signal),
        (Ok(exit), None) => exit,
        (Err(e), Some(signal)) => {
            eprintln!("mcptop: {}", shown(&e));
            Exit::Stopped(signal)
        }
        (Err(e), None) => {
            eprintln!("mcptop: error: {}", shown(&e));
            Exit::Error
        }
    }
}
