//! The gate's commands: save a baseline, check against it, compare two
//! files, install a git hook. Runs go through the run service; judging is
//! `check`'s.

use super::{CheckArgs, CompareArgs, GateArgs};
use crate::check::baseline::{self, Baseline, RunSettings};
use crate::check::project::Project;
use crate::check::quick::{QuickPlan, QUICK_LIMIT};
use crate::check::verdict::RegressionThresholds;
use crate::check::{compare_runs, formats, Comparison};
use crate::report::RunReport;
use crate::run::{self, Exit, RunRequest, View};
use crate::workload::TargetSpec;
use crate::workload::{Overrides, Workload};
use anyhow::{anyhow, bail, Context};
use std::path::{Path, PathBuf};
use std::time::Duration;

/// Runs per workload unless told otherwise.
pub const DEFAULT_REPEATS: u32 = 5;

struct Gate {
    project: Project,
    baseline_path: PathBuf,
    repeats: u32,
    target: Option<String>,
    /// `-H`, `--ca-cert`, `--insecure`.
    deployed: Overrides,
}

fn gate(args: &GateArgs) -> anyhow::Result<Gate> {
    let project = Project::load(Path::new("."))?;
    let baseline_path = args
        .baseline
        .clone()
        .or_else(|| project.check.baseline.clone())
        .unwrap_or_else(baseline::default_path);
    let repeats = args
        .repeats
        .or(project.check.repeats)
        .unwrap_or(DEFAULT_REPEATS);
    if repeats == 0 {
        bail!("--repeats must be at least 1");
    }
    let target = args.target.clone().or_else(|| project.check.target.clone());
    Ok(Gate {
        project,
        baseline_path,
        repeats,
        target,
        deployed: args.deployed.overrides(),
    })
}

/// The quick plan's times, over the command line's headers and TLS flags.
fn overrides(quick: Option<QuickPlan>, deployed: &Overrides) -> Overrides {
    let ms = |d: Duration| format!("{}ms", d.as_millis());
    match quick {
        Some(plan) => Overrides {
            duration: Some(ms(plan.run)),
            warmup: Some(ms(plan.warmup)),
            ..deployed.clone()
        },
        None => deployed.clone(),
    }
}

/// The quick plan for these runs (`None` without `--quick`), said on stderr
/// with a hint when it cannot stay under the limit.
fn quick_plan(quick: bool, workloads: usize, repeats: u32) -> Option<QuickPlan> {
    if !quick {
        return None;
    }
    let plan = QuickPlan::new(workloads, repeats);
    let runs = workloads as u32 * repeats;
    let total = plan.total(runs);
    eprintln!(
        "quick: {workloads} workload(s) x {repeats} run(s) of {}ms after {}ms warm-up: about {:.1}s",
        plan.run.as_millis(),
        plan.warmup.as_millis(),
        total.as_secs_f64()
    );
    if total > QUICK_LIMIT {
        eprintln!(
            "mcptop: note: a quick check of this many runs takes over {}s; list fewer workloads or lower --repeats",
            QUICK_LIMIT.as_secs()
        );
    }
    Some(plan)
}

/// Resolves every workload and target before anything runs, so a typo fails
/// in milliseconds rather than after minutes of runs.
fn resolve_all(
    names: &[String],
    quick: Option<QuickPlan>,
    target: &Option<String>,
    deployed: &Overrides,
) -> anyhow::Result<Vec<(String, Workload, TargetSpec)>> {
    names
        .iter()
        .map(|name| {
            let (w, spec) = run::resolve(name, &overrides(quick, deployed), target.as_deref())?;
            Ok((w.name.clone(), w, spec))
        })
        .collect()
}

async fn repeat(
    name: &str,
    workload: &Workload,
    spec: &TargetSpec,
    repeats: u32,
) -> anyhow::Result<Vec<RunReport>> {
    let mut runs = Vec::new();
    for i in 1..=repeats {
        stopped_before(name, i - 1, repeats)?;
        let report = match run::execute(RunRequest::new(workload, spec), View::Quiet).await {
            Ok(finished) => finished.report,
            Err(e) => {
                // Stopped while connecting: say what that means for the gate.
                stopped_before(name, i - 1, repeats)?;
                return Err(e);
            }
        };
        let o = &report.metrics.overall;
        eprintln!(
            "{name}: run {i}/{repeats}: {:.1} req/s, p50 {}, p99 {}, errors {}",
            o.throughput_msg_per_s,
            crate::metrics::units::fmt_us(o.corrected.p50_us),
            crate::metrics::units::fmt_us(o.corrected.p99_us),
            o.errors
        );
        if report.target_failed() {
            bail!(
                "{name}: run {i} failed: {}",
                crate::report::text::describe_stop(&report.stopped_by)
            );
        }
        if matches!(report.stopped_by, crate::engine::StopReason::Interrupted) {
            bail!("{name}: interrupted");
        }
        stopped_before(name, i - 1, repeats)?;
        runs.push(report);
    }
    Ok(runs)
}

/// An error once a stop signal came: a stopped check or baseline save ends
/// with nothing judged and nothing saved.
fn stopped_before(name: &str, done: u32, repeats: u32) -> anyhow::Result<()> {
    match crate::engine::stop::process().signal() {
        Some(signal) => bail!(
            "{name}: stopped by {} after {done} of {repeats} run(s); no baseline is written",
            signal.name()
        ),
        None => Ok(()),
    }
}

pub async fn baseline_save(args: GateArgs) -> anyhow::Result<Exit> {
    let g = gate(&args)?;
    let names = if !args.workloads.is_empty() {
        args.workloads.clone()
    } else if !g.project.check.workloads.is_empty() {
        g.project.check.workloads.clone()
    } else {
        bail!(
            "name the workloads to baseline (or list them under [check] workloads in mcptop.toml)"
        );
    };
    let quick = quick_plan(args.quick, names.len(), g.repeats);
    let resolved = resolve_all(&names, quick, &g.target, &g.deployed)?;
    let settings = RunSettings {
        repeats: g.repeats,
        quick: args.quick,
        target: g
            .target
            .clone()
            .unwrap_or_else(|| "workload default".into()),
    };
    // Keep the other workloads of an existing baseline.
    let mut base = Baseline::read_or_new(&g.baseline_path, settings.clone())?;
    if base.settings != settings {
        eprintln!(
            "mcptop: note: {} was saved with other settings ({:?}); they are replaced",
            g.baseline_path.display(),
            base.settings
        );
        base.settings = settings;
    }
    for (name, w, spec) in &resolved {
        let runs = repeat(name, w, spec, g.repeats).await?;
        let (runs, noise) = settle_outliers(name, w, spec, runs).await?;
        base.put(name, runs, noise);
    }
    stopped_before("baseline", g.repeats, g.repeats)?;
    base.write_now(&g.baseline_path)?;
    println!(
        "baseline: {} ({} workload(s), {} run(s) each{})",
        g.baseline_path.display(),
        resolved.len(),
        g.repeats,
        if args.quick { ", quick" } else { "" }
    );
    Ok(Exit::Ok)
}

/// Replaces outlier runs by extra runs (at most `MAX_EXTRA_RUNS`, said on
/// stderr); the runs kept and how noisy they are.
async fn settle_outliers(
    name: &str,
    workload: &Workload,
    spec: &TargetSpec,
    runs: Vec<RunReport>,
) -> anyhow::Result<(Vec<RunReport>, crate::check::baseline::Noise)> {
    let max = crate::check::outliers::MAX_EXTRA_RUNS;
    let mut extra = 0;
    crate::check::outliers::settle(
        name,
        runs,
        max,
        |_| {
            extra += 1;
            let label = format!("{name} (extra run {extra} of at most {max})");
            async move {
                let mut one = repeat(&label, workload, spec, 1).await?;
                one.pop().ok_or_else(|| anyhow!("{label}: no run was made"))
            }
        },
        &mut |line| eprintln!("{line}"),
    )
    .await
}

pub async fn check(args: CheckArgs) -> anyhow::Result<Exit> {
    if args.install_git_hook {
        return install_git_hook(&args);
    }
    let g = gate(&args.gate)?;
    let base = Baseline::read(&g.baseline_path)?;
    let names = if !args.gate.workloads.is_empty() {
        args.gate.workloads.clone()
    } else if !g.project.check.workloads.is_empty() {
        g.project.check.workloads.clone()
    } else {
        base.workloads.keys().cloned().collect()
    };
    let quick = quick_plan(args.gate.quick, names.len(), g.repeats);
    let resolved = resolve_all(&names, quick, &g.target, &g.deployed)?;
    // Hook: outputs (--html checked before any load).
    super::export::check_extra_path("--html", args.html.as_deref())?;
    for (name, _, _) in &resolved {
        if !base.workloads.contains_key(name) {
            let known: Vec<&str> = base.workloads.keys().map(String::as_str).collect();
            bail!(
                "workload {name} is not in the baseline {} (it has: {}); save it with `mcptop baseline save {name}`",
                g.baseline_path.display(),
                known.join(", ")
            );
        }
    }
    let mut comparisons: Vec<Comparison> = Vec::new();
    let mut current = Vec::new();
    for (name, w, spec) in &resolved {
        let runs = repeat(name, w, spec, g.repeats).await?;
        let base_runs = &base.workloads[name];
        let mut c = compare_runs(name, base_runs, &runs, &g.project.check.thresholds);
        if base.settings.quick != args.gate.quick {
            c.notes.push(format!(
                "the baseline was saved {} --quick, this check ran {} it",
                if base.settings.quick {
                    "with"
                } else {
                    "without"
                },
                if args.gate.quick { "with" } else { "without" }
            ));
        }
        comparisons.push(c);
        current.push((name.clone(), runs));
    }
    print!("{}", paint_verdicts(&comparisons, args.format));
    let written =
        super::export::write_verdict_html(args.html.as_deref(), "mcptop check", &comparisons);
    let regressed = comparisons.iter().any(Comparison::regressed);
    if let Some(signal) = crate::engine::stop::process().signal() {
        bail!("stopped by {}: the baseline is not updated", signal.name());
    }
    if args.update_baseline {
        if regressed {
            eprintln!("mcptop: baseline not updated: the check failed");
        } else {
            let mut updated = base;
            for (name, runs) in current {
                let noise = crate::check::outliers::noise(&runs, runs.len() as u32, Vec::new());
                updated.put(&name, runs, noise);
            }
            updated.write_now(&g.baseline_path)?;
            eprintln!("mcptop: baseline updated: {}", g.baseline_path.display());
        }
    }
    Ok(if regressed { Exit::Failed } else { Exit::Ok }.worst(written))
}

/// `mcptop compare A B [C ...]`: each a result file or a baseline file,
/// each compared with the first (the reference). Two sides that ran
/// different workloads are refused unless `--force`.
pub fn compare(args: CompareArgs) -> anyhow::Result<Exit> {
    let project = Project::load(Path::new("."))?;
    // Hook: outputs (--html checked before any work).
    super::export::check_extra_path("--html", args.html.as_deref())?;
    let a = load_side(&args.a)?;
    let others: Vec<&PathBuf> = std::iter::once(&args.b).chain(&args.more).collect();
    let mut comparisons = Vec::new();
    for b_path in &others {
        let b = load_side(b_path)?;
        let mut found = compare_sides(&args, (&args.a, &a), (b_path, &b), &project)?;
        if others.len() > 1 {
            for c in &mut found {
                c.workload = format!("{} ({})", c.workload, b_path.display());
            }
        }
        comparisons.extend(found);
    }
    if others.len() > 1 && args.format == crate::report::formats::Format::Text {
        print!("{}", super::export::reference_table(&args.a, &comparisons));
    }
    print!("{}", paint_verdicts(&comparisons, args.format));
    let title = format!("mcptop compare: reference {}", args.a.display());
    let written = super::export::write_verdict_html(args.html.as_deref(), &title, &comparisons);
    let verdict = if comparisons.iter().any(Comparison::regressed) {
        Exit::Failed
    } else {
        Exit::Ok
    };
    Ok(verdict.worst(written))
}

type Side<'a> = (&'a PathBuf, &'a Vec<(String, Vec<RunReport>)>);

/// The comparisons of the workloads two files share (of their only
/// workloads when they share none and each has one).
fn compare_sides(
    args: &CompareArgs,
    (a_path, a): Side<'_>,
    (b_path, b): Side<'_>,
    project: &Project,
) -> anyhow::Result<Vec<Comparison>> {
    let mut pairs = Vec::new();
    for (name, runs_a) in a {
        match b.iter().find(|(n, _)| n == name) {
            Some((_, runs_b)) => pairs.push((name.clone(), runs_a, runs_b)),
            None => eprintln!("mcptop: note: {name} is only in {}", a_path.display()),
        }
    }
    if pairs.is_empty() {
        // Two single results of differently named workloads: refused below
        // unless forced.
        if let ([(na, ra)], [(nb, rb)]) = (a.as_slice(), b.as_slice()) {
            pairs.push((format!("{na} vs {nb}"), ra, rb));
        } else {
            bail!(
                "{} and {} have no workload in common",
                a_path.display(),
                b_path.display()
            );
        }
    }
    let mut comparisons = Vec::new();
    for (name, ra, rb) in pairs {
        let mismatch = match (ra.first(), rb.first()) {
            (Some(x), Some(y)) => crate::check::workload_mismatch(x, y),
            _ => None,
        };
        if let Some(why) = &mismatch {
            if !args.force {
                bail!(
                    "{} and {} ran different workloads ({why}); pass --force to compare them anyway",
                    a_path.display(),
                    b_path.display()
                );
            }
        }
        let mut c = compare_runs(&name, ra, rb, &thresholds(project));
        let below_floor = crate::check::floor::notes(ra, rb, &c.metrics);
        c.notes.extend(below_floor);
        c.warning = mismatch
            .map(|why| format!("different workloads ({why}), compared only because of --force"));
        comparisons.push(c);
    }
    Ok(comparisons)
}

/// The verdict tables, painted on a terminal when they are text (hook:
/// outputs).
fn paint_verdicts(comparisons: &[Comparison], format: crate::report::formats::Format) -> String {
    let text = formats::render(comparisons, format);
    if format == crate::report::formats::Format::Text {
        super::colour::paint(&text)
    } else {
        text
    }
}

fn thresholds(p: &Project) -> RegressionThresholds {
    p.check.thresholds.clone()
}

fn load_side(path: &Path) -> anyhow::Result<Vec<(String, Vec<RunReport>)>> {
    let text =
        std::fs::read_to_string(path).with_context(|| format!("cannot read {}", path.display()))?;
    let schema = serde_json::from_str::<serde_json::Value>(&text)
        .ok()
        .and_then(|v| v.get("schema").and_then(|s| s.as_str()).map(String::from));
    match schema.as_deref() {
        Some(baseline::SCHEMA) => {
            let b = Baseline::read(path)?;
            Ok(b.workloads.into_iter().collect())
        }
        _ => {
            let r = RunReport::read(path)?;
            Ok(vec![(r.workload_id.clone(), vec![r])])
        }
    }
}

fn install_git_hook(args: &CheckArgs) -> anyhow::Result<Exit> {
    let out = std::process::Command::new("git")
        .args(["rev-parse", "--git-path", "hooks"])
        .output()
        .context("cannot run git (is it installed?)")?;
    if !out.status.success() {
        bail!(
            "not in a git repository: {}",
            String::from_utf8_lossy(&out.stderr).trim()
        );
    }
    let hooks = PathBuf::from(String::from_utf8_lossy(&out.stdout).trim());
    let hook = hooks.join("pre-commit");
    if hook.exists() && !args.force {
        bail!(
            "{} already exists; not overwriting it (use --force to replace it)",
            hook.display()
        );
    }
    let exe = std::env::current_exe().context("cannot find the mcptop executable")?;
    let mut command = vec![
        shell_words::quote(&exe.to_string_lossy()).into_owned(),
        "check".into(),
        "--quick".into(),
    ];
    if let Some(b) = &args.gate.baseline {
        command.push("--baseline".into());
        command.push(shell_words::quote(&b.to_string_lossy()).into_owned());
    }
    for w in &args.gate.workloads {
        command.push(shell_words::quote(w).into_owned());
    }
    let script = format!(
        "#!/bin/sh\n# Installed by `mcptop check --install-git-hook`: refuse commits that make\n# the MCP server measurably slower than the saved baseline.\nexec {}\n",
        command.join(" ")
    );
    std::fs::create_dir_all(&hooks)
        .with_context(|| format!("cannot create {}", hooks.display()))?;
    crate::report::write_atomic(&hook, script.as_bytes())
        .with_context(|| format!("cannot write {}", hook.display()))?;
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        std::fs::set_permissions(&hook, std::fs::Permissions::from_mode(0o755))
            .with_context(|| format!("cannot make {} executable", hook.display()))?;
    }
    println!("installed {}", hook.display());
    Ok(Exit::Ok)
}
