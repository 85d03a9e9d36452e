//! The command line of the ecosystem outputs: the flags `run` takes for
//! them, `report`'s formats, `merge`, shell completions and the man page.
//! Parsing only; the work is in `export`.

use clap::{Args, ValueEnum};
use std::path::PathBuf;

/// What `run` (and the live screen's runs) write besides the result file.
#[derive(Debug, Args, Clone, Default)]
pub struct OutputArgs {
    /// Run shard I of N (I from 0): this process takes its share of the rate,
    /// concurrency, sessions and request limit, and tags its result.
    /// `/N` takes I from JOB_COMPLETION_INDEX (a Kubernetes Indexed Job).
    /// Default: the MCPTOP_SHARD environment variable
    #[arg(long, value_name = "I/N")]
    pub shard: Option<String>,
    /// Also write the HdrHistogram interval log (one compressed histogram per
    /// second, tagged by operation); `mcptop report FILE` reads it back
    #[arg(long, value_name = "FILE")]
    pub hdr_log: Option<PathBuf>,
    /// Also write the self-contained HTML report
    #[arg(long, value_name = "FILE")]
    pub html: Option<PathBuf>,
    /// Serve live metrics at http://ADDR/metrics (Prometheus text format)
    /// while the run goes, e.g. 127.0.0.1:9464
    #[arg(long, value_name = "ADDR")]
    pub prometheus: Option<String>,
}

impl OutputArgs {
    /// True when the run should print plain lines rather than open the
    /// live screen (a shard is one of many processes, not watched).
    pub fn wants_headless(&self) -> bool {
        self.shard.is_some()
    }
}

/// What `mcptop report` turns a result file into.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, ValueEnum)]
pub enum ReportFormat {
    #[default]
    Text,
    Markdown,
    Junit,
    /// One self-contained page with charts (no network fetches)
    Html,
    /// The per-interval figures, one row per second
    Csv,
}

impl ReportFormat {
    /// The summary formats every command shares.
    pub fn summary(self) -> Option<crate::report::formats::Format> {
        use crate::report::formats::Format;
        match self {
            ReportFormat::Text => Some(Format::Text),
            ReportFormat::Markdown => Some(Format::Markdown),
            ReportFormat::Junit => Some(Format::Junit),
            ReportFormat::Html | ReportFormat::Csv => None,
        }
    }
}

#[derive(Debug, Args, Clone)]
pub struct ReportArgs {
    /// A result file (`mcptop run --out`), or an HdrHistogram interval log (`--hdr-log`)
    pub file: PathBuf,
    #[arg(long, value_enum, default_value = "text")]
    pub format: ReportFormat,
    /// Write to this file (atomically) instead of stdout
    #[arg(long, short, value_name = "FILE")]
    pub out: Option<PathBuf>,
}

#[derive(Debug, Args, Clone)]
pub struct MergeArgs {
    /// The shards' result files (`mcptop run ... --shard I/N --out r-I.json`)
    #[arg(required = true, value_name = "FILE")]
    pub files: Vec<PathBuf>,
    /// Merged result file (JSON); `-` for stdout (the summary then goes to stderr)
    #[arg(long, short, value_name = "FILE")]
    pub out: PathBuf,
    /// Merge even when shards are missing (the result names them)
    #[arg(long)]
    pub allow_missing: bool,
    /// Also write the HTML report of the merged run
    #[arg(long, value_name = "FILE")]
    pub html: Option<PathBuf>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum Shell {
    Bash,
    Zsh,
    Fish,
    Elvish,
    Powershell,
}

/// Prints the completion script of `shell` for mcptop.
pub fn completions(shell: Shell) -> anyhow::Result<crate::run::Exit> {
    use clap::CommandFactory;
    use clap_complete::Shell as S;
    let shell = match shell {
        Shell::Bash => S::Bash,
        Shell::Zsh => S::Zsh,
        Shell::Fish => S::Fish,
        Shell::Elvish => S::Elvish,
        Shell::Powershell => S::PowerShell,
    };
    let mut command = super::Cli::command();
    clap_complete::generate(shell, &mut command, "mcptop", &mut std::io::stdout());
    Ok(crate::run::Exit::Ok)
}

/// `mcptop man [COMMAND]`: prints the man page.
pub fn man(command: Option<&str>) -> anyhow::Result<crate::run::Exit> {
    use std::io::Write;
    let page = man_page(command).map_err(|e| anyhow::anyhow!(e))?;
    std::io::stdout().write_all(&page)?;
    Ok(crate::run::Exit::Ok)
}

/// The man page (roff) of mcptop, or of one of its commands
/// (`mcptop man run | man -l -`).
pub fn man_page(command: Option<&str>) -> Result<Vec<u8>, String> {
    use clap::CommandFactory;
    let top = super::Cli::command();
    let page = match command {
        None => top,
        Some(name) => {
            let sub = top
                .find_subcommand(name)
                .ok_or_else(|| {
                    let names: Vec<&str> = top
                        .get_subcommands()
                        .filter(|s| !s.is_hide_set())
                        .map(|s| s.get_name())
                        .collect();
                    format!("no command {name:?} (commands: {})", names.join(", "))
                })?
                .clone();
            let full = format!("mcptop-{}", sub.get_name());
            sub.name(full)
        }
    };
    let mut out = Vec::new();
    clap_mangen::Man::new(page)
        .render(&mut out)
        .map_err(|e| e.to_string())?;
    Ok(out)
}
