use clap::Parser;

fn main() -> std::process::ExitCode {
    let cli = mcptop::cli::Cli::parse();
    std::process::ExitCode::from(mcptop::run(cli).code())
}
