//! The `mcptop` binary: installs the counting allocator (so runs can report
//! allocations per request), parses the command line, and exits with what
//! `mcptop::run` says (or serves as a profile's symbolizer, `profile::symbolize`).

use clap::Parser;

#[global_allocator]
static GLOBAL: mcptop::metrics::alloc::Installed = mcptop::metrics::alloc::counting_allocator();

fn main() -> std::process::ExitCode {
    // A child a self-profile starts to name its sampled addresses (so the
    // run's own memory never holds the debug info): not a user command.
    #[cfg(target_os = "linux")]
    if std::env::args_os().nth(1).as_deref() == Some(mcptop::profile::symbolize::CHILD_ARG.as_ref())
    {
        return std::process::ExitCode::from(mcptop::profile::symbolize::child_main());
    }
    let cli = mcptop::cli::Cli::parse();
    std::process::ExitCode::from(mcptop::run(cli).code())
}
