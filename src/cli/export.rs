//! The command glue of the outputs (`crate::export`): `mcptop report` in
//! every format (and of HDR interval logs), `mcptop merge`, and the files a
//! run writes beside its result (`--hdr-log`, `--html`), checked before the
//! run so a typo fails before any load.

use super::outputs::{MergeArgs, OutputArgs, ReportArgs, ReportFormat};
use crate::report::output::{numbered, OutPath, Saved};
use crate::report::{self, RunReport};
use crate::run::Exit;
use anyhow::{anyhow, Context};
use std::path::{Path, PathBuf};

/// `mcptop report FILE [--format F] [-o OUT]`.
pub fn report(args: &ReportArgs) -> anyhow::Result<Exit> {
    let (file, format, out) = (&args.file, args.format, args.out.as_deref());
    let bytes = std::fs::read(file).with_context(|| format!("cannot read {}", file.display()))?;
    let text = if crate::export::hdr_log::looks_like_log(&bytes) {
        if format != ReportFormat::Text {
            return Err(anyhow!(
                "{}: an HDR interval log prints as text only (its per-tag totals); \
                 --format {} needs a result file",
                file.display(),
                format.to_possible_value_name()
            ));
        }
        let log =
            crate::export::hdr_log::read(&bytes).map_err(|e| anyhow!("{}: {e}", file.display()))?;
        crate::export::hdr_log::summary_text(&file.display().to_string(), &log)
    } else {
        let r = RunReport::read(file).map_err(|e| anyhow!(e))?;
        render(&r, format)?
    };
    match out {
        Some(path) if path.as_os_str() != "-" => {
            report::write_atomic(path, text.as_bytes())
                .with_context(|| format!("cannot write {}", path.display()))?;
            eprintln!("written: {}", path.display());
        }
        _ => print!("{text}"),
    }
    Ok(Exit::Ok)
}

/// A result in one of `report`'s formats.
pub fn render(r: &RunReport, format: ReportFormat) -> anyhow::Result<String> {
    Ok(match format.summary() {
        Some(f) => report::formats::render(r, f),
        None if format == ReportFormat::Csv => crate::export::csv::intervals(r),
        None => crate::export::html::run_page(r).map_err(|e| anyhow!(e))?,
    })
}

trait PossibleValueName {
    fn to_possible_value_name(&self) -> String;
}

impl PossibleValueName for ReportFormat {
    fn to_possible_value_name(&self) -> String {
        use clap::ValueEnum;
        self.to_possible_value()
            .map(|v| v.get_name().to_string())
            .unwrap_or_default()
    }
}

/// `mcptop merge FILES -o OUT`.
pub fn merge(args: MergeArgs) -> anyhow::Result<Exit> {
    let out = OutPath::new(args.out.clone());
    out.check().map_err(|e| anyhow!(e))?;
    if let Some(html) = &args.html {
        OutPath::new(html.clone())
            .check()
            .map_err(|e| anyhow!("--html: {e}"))?;
    }
    let inputs = args
        .files
        .iter()
        .map(|path| {
            RunReport::read(path)
                .map(|report| crate::export::merge::Input {
                    path: path.clone(),
                    report,
                })
                .map_err(|e| anyhow!(e))
        })
        .collect::<anyhow::Result<Vec<_>>>()?;
    let merged = crate::export::merge::merge(inputs, args.allow_missing).map_err(|e| anyhow!(e))?;
    for note in &merged.notes {
        eprintln!("mcptop: note: {note}");
    }
    let saved = report::output::save(&out, &merged.report);
    let summary = report::text::summary(&merged.report);
    if out == OutPath::Stdout {
        eprint!("{summary}");
    } else {
        print!("{summary}");
    }
    super::dispatch::say_where_saved(&saved, out != OutPath::Stdout);
    let mut exit = match saved {
        Ok(Saved::File(_) | Saved::Stdout) => Exit::Ok,
        Ok(Saved::Fallback { .. }) | Err(_) => Exit::Error,
    };
    if let Some(html) = &args.html {
        exit = exit.worst(write_html(&merged.report, html));
    }
    Ok(exit.worst(Exit::for_report(&merged.report)))
}

/// The files a run writes beside its result.
#[derive(Debug, Clone, Default)]
pub struct Extras {
    hdr_log: Option<PathBuf>,
    html: Option<PathBuf>,
}

impl Extras {
    /// Checks each path as the result's is checked: before any load.
    pub fn check(args: &OutputArgs) -> anyhow::Result<Extras> {
        check_extra_path("--hdr-log", args.hdr_log.as_deref())?;
        check_extra_path("--html", args.html.as_deref())?;
        Ok(Extras {
            hdr_log: args.hdr_log.clone(),
            html: args.html.clone(),
        })
    }

    /// Writes the extra files of run `n` of `runs` (numbered like the
    /// result files when there are several targets); says where on stderr.
    pub fn write(&self, report: &RunReport, n: usize, runs: usize) -> Exit {
        let place = |p: &PathBuf| {
            if runs > 1 {
                numbered(p, n)
            } else {
                p.clone()
            }
        };
        let mut exit = Exit::Ok;
        if let Some(p) = &self.hdr_log {
            let p = place(p);
            let written = crate::export::hdr_log::write(report)
                .map_err(|e| e.to_string())
                .and_then(|bytes| {
                    report::write_atomic(&p, &bytes)
                        .map_err(|e| format!("cannot write {}: {e}", p.display()))
                });
            exit = exit.worst(said(written, "HDR log", &p));
        }
        if let Some(p) = &self.html {
            exit = exit.worst(write_html(report, &place(p)));
        }
        exit
    }
}

fn write_html(report: &RunReport, path: &Path) -> Exit {
    let written = crate::export::html::run_page(report).and_then(|page| {
        report::write_atomic(path, page.as_bytes())
            .map_err(|e| format!("cannot write {}: {e}", path.display()))
    });
    said(written, "HTML report", path)
}

fn said(written: Result<(), String>, what: &str, path: &Path) -> Exit {
    match written {
        Ok(()) => {
            eprintln!("{what}: {}", path.display());
            Exit::Ok
        }
        Err(e) => {
            eprintln!("mcptop: error: {what} not written: {e}");
            Exit::Error
        }
    }
}

/// Everything `run`'s output flags ask for, prepared before any load: the
/// shard's share of the workload, the extra files (checked), the live
/// metrics endpoint (listening).
pub struct RunOutputs {
    pub shard: Option<crate::workload::shard::Shard>,
    extras: Extras,
    /// Serves `/metrics` until dropped.
    _live: Option<crate::export::prometheus::Endpoint>,
}

impl RunOutputs {
    /// Splits `workload` when this is a shard; checks the extra paths;
    /// starts the metrics endpoint (on the current tokio runtime).
    pub async fn prepare(
        args: &OutputArgs,
        workload: crate::workload::Workload,
    ) -> anyhow::Result<(crate::workload::Workload, RunOutputs)> {
        use crate::workload::shard::{self, Shard};
        let shard = Shard::from_flag_or_env(args.shard.as_deref())?;
        let workload = match shard {
            Some(s) => {
                let part = shard::split(&workload, s)?;
                eprintln!(
                    "shard {s}: {} of {}, {} session(s)",
                    part.initial_shape().describe(),
                    workload.initial_shape().describe(),
                    part.sessions
                );
                part
            }
            None => workload,
        };
        let extras = Extras::check(args)?;
        let live = match &args.prometheus {
            Some(addr) => {
                let labels = shard.iter().map(|s| ("shard".to_string(), s.to_string()));
                let endpoint =
                    crate::export::prometheus::Endpoint::start_labelled(addr, labels.collect())
                        .await?;
                eprintln!("metrics: http://{}/metrics", endpoint.addr());
                Some(endpoint)
            }
            None => None,
        };
        Ok((
            workload,
            RunOutputs {
                shard,
                extras,
                _live: live,
            },
        ))
    }

    /// The run request with this shard's tag (the result file says which
    /// share it holds).
    pub fn hook<'a>(&self, request: crate::run::RunRequest<'a>) -> crate::run::RunRequest<'a> {
        request.shard(self.shard)
    }

    /// Writes the extra files of run `n` (from 1) of `runs`, once the
    /// result is saved.
    pub fn write(&self, report: &RunReport, n: usize, runs: usize) -> Exit {
        self.extras.write(report, n, runs)
    }
}

/// Checks a file `flag` will write, as the result's path is checked:
/// before any work.
pub fn check_extra_path(flag: &str, path: Option<&Path>) -> anyhow::Result<()> {
    if let Some(p) = path {
        if p.as_os_str() == "-" {
            return Err(anyhow!("{flag} needs a file name (stdout has the summary)"));
        }
        OutPath::new(p.to_path_buf())
            .check()
            .map_err(|e| anyhow!("{flag}: {e}"))?;
    }
    Ok(())
}

/// Writes the verdict page of `check`/`compare` when `--html` asks for it.
pub fn write_verdict_html(
    path: Option<&Path>,
    title: &str,
    comparisons: &[crate::check::Comparison],
) -> Exit {
    let Some(path) = path else {
        return Exit::Ok;
    };
    let written = crate::export::html::verdict_page(title, comparisons).and_then(|page| {
        report::write_atomic(path, page.as_bytes())
            .map_err(|e| format!("cannot write {}: {e}", path.display()))
    });
    said(written, "HTML report", path)
}

/// `compare` with more than two files: one line per file and workload,
/// each metric's median and its change against the reference (the first).
pub fn reference_table(reference: &Path, comparisons: &[crate::check::Comparison]) -> String {
    use std::fmt::Write;
    let mut out = format!("reference: {}\n", reference.display());
    for c in comparisons {
        let _ = write!(out, "{:<40}", c.workload);
        for v in &c.metrics {
            let change = v
                .change
                .map(|x| format!("{:+.1}%", x * 100.0))
                .unwrap_or_else(|| "-".into());
            let _ = write!(
                out,
                "  {} {} ({change})",
                v.metric.name(),
                crate::check::formats::value(v.metric, v.current_median)
            );
        }
        out.push('\n');
    }
    out.push('\n');
    out
}
