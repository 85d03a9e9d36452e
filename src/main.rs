//! The `mcptop` binary: installs the counting allocator (so runs can report
//! allocations per request), parses the command line, and exits with what
//! `mcptop::run` says.

use clap::Parser;

#[global_allocator]
static GLOBAL: mcptop::metrics::alloc::Installed = mcptop::metrics::alloc::counting_allocator();

fn main() -> std::process::ExitCode {
    let cli = mcptop::cli::Cli::parse();
    std::process::ExitCode::from(mcptop::run(cli).code())
}
