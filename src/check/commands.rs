//! The gate's commands: save a baseline, check against it, compare two files,
//! install a git hook.

use super::baseline::{self, Baseline, RunSettings};
use super::project::Project;
use super::verdict::Thresholds;
use super::{compare_runs, format, Comparison};
use crate::cli::{CheckArgs, CompareArgs, GateArgs};
use crate::report::formats::Format;
use crate::report::RunReport;
use crate::runner::{run_workload, View};
use crate::workload::TargetSpec;
use crate::workload::{catalog, Overrides, Workload};
use crate::Exit;
use anyhow::{anyhow, bail, Context};
use std::path::{Path, PathBuf};
use std::time::Duration;

/// Runs per workload unless told otherwise.
pub const DEFAULT_REPEATS: u32 = 5;
/// `--quick`: the measured time and warm-up of all runs together, so a
/// check of several workloads stays under 20 s with room for start-up.
pub const QUICK_BUDGET: Duration = Duration::from_secs(15);
/// `--quick`: one run's bounds, whatever the number of workloads.
const QUICK_RUN: (Duration, Duration) = (Duration::from_millis(300), Duration::from_secs(1));
const QUICK_WARMUP: (Duration, Duration) = (Duration::from_millis(100), Duration::from_millis(300));
/// A quick check past this says how to get back under it.
const QUICK_LIMIT: Duration = Duration::from_secs(20);

/// How long each run of a `--quick` check is: the budget shared by every
/// run, a quarter of each share as warm-up, within bounds.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct QuickPlan {
    pub run: Duration,
    pub warmup: Duration,
}

impl QuickPlan {
    pub fn new(workloads: usize, repeats: u32) -> QuickPlan {
        let runs = (workloads.max(1) as u32).saturating_mul(repeats.max(1));
        let share = QUICK_BUDGET / runs;
        let warmup = (share / 4).clamp(QUICK_WARMUP.0, QUICK_WARMUP.1);
        let run = share.saturating_sub(warmup).clamp(QUICK_RUN.0, QUICK_RUN.1);
        QuickPlan { run, warmup }
    }

    /// Measured time plus warm-up of `runs` runs.
    pub fn total(&self, runs: u32) -> Duration {
        (self.run + self.warmup) * runs
    }
}

struct Gate {
    project: Project,
    baseline_path: PathBuf,
    repeats: u32,
    target: Option<String>,
}

fn gate(args: &GateArgs) -> anyhow::Result<Gate> {
    let project = Project::load(Path::new(".")).map_err(|e| anyhow!(e))?;
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
    })
}

fn overrides(quick: Option<QuickPlan>) -> Overrides {
    let ms = |d: Duration| format!("{}ms", d.as_millis());
    match quick {
        Some(plan) => Overrides {
            duration: Some(ms(plan.run)),
            warmup: Some(ms(plan.warmup)),
            ..Overrides::default()
        },
        None => Overrides::default(),
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
) -> anyhow::Result<Vec<(String, Workload, TargetSpec)>> {
    names
        .iter()
        .map(|name| {
            let w = catalog::resolve(name, &overrides(quick))?;
            let t = target
                .clone()
                .or_else(|| w.target.clone())
                .unwrap_or_else(|| "builtin".into());
            let spec = TargetSpec::parse(&t)?;
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
        let report = match run_workload(workload, spec, View::Quiet).await {
            Ok(report) => report,
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
            crate::metrics::units::fmt_us(o.latency_p50_us),
            crate::metrics::units::fmt_us(o.latency_p99_us),
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
    let resolved = resolve_all(&names, quick, &g.target)?;
    let settings = RunSettings {
        repeats: g.repeats,
        quick: args.quick,
        target: g
            .target
            .clone()
            .unwrap_or_else(|| "workload default".into()),
    };
    // Keep the other workloads of an existing baseline.
    let mut base = match Baseline::read(&g.baseline_path) {
        Ok(mut b) => {
            if b.settings != settings {
                eprintln!(
                    "mcptop: note: {} was saved with other settings ({:?}); they are replaced",
                    g.baseline_path.display(),
                    b.settings
                );
                b.settings = settings.clone();
            }
            b
        }
        Err(baseline::BaselineError::Missing(_)) => Baseline::new(settings.clone()),
        Err(e) => return Err(e.into()),
    };
    for (name, w, spec) in &resolved {
        let runs = repeat(name, w, spec, g.repeats).await?;
        let (runs, noise) = settle_outliers(name, w, spec, runs).await?;
        base.put(name, runs, noise);
    }
    stopped_before("baseline", g.repeats, g.repeats)?;
    base.created_at = humantime::format_rfc3339_seconds(std::time::SystemTime::now()).to_string();
    base.write(&g.baseline_path)?;
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
) -> anyhow::Result<(Vec<RunReport>, super::baseline::Noise)> {
    let max = super::outliers::MAX_EXTRA_RUNS;
    let mut extra = 0;
    super::outliers::settle(
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

/// Measured intervals a single run needs before it can stand as a baseline:
/// its spread comes from them.
/// Five is the fewest that give one run a side a 98 % distribution-free
/// interval against a run as long (see `stats::interval_rank`).
pub const MIN_BASELINE_INTERVALS: usize = 5;

/// Saves one finished run (from the live screen's `b`) as its workload's
/// baseline in the project's baseline file, keeping the file's other
/// workloads. Refuses a run whose target failed or that measured too little
/// to give a spread. Returns the file written.
pub fn baseline_from_run(report: &RunReport) -> anyhow::Result<PathBuf> {
    if report.target_failed() {
        bail!(
            "the target failed ({})",
            crate::report::text::describe_stop(&report.stopped_by)
        );
    }
    if let crate::engine::StopReason::Signal { signal } = report.stopped_by {
        bail!("the run was stopped by {}", signal.name());
    }
    let intervals = super::verdict::full_intervals(report).count();
    if intervals < MIN_BASELINE_INTERVALS {
        bail!(
            "only {intervals} measured second(s); a baseline needs at least {MIN_BASELINE_INTERVALS}"
        );
    }
    let project = Project::load(Path::new(".")).map_err(|e| anyhow!(e))?;
    let path = project
        .check
        .baseline
        .clone()
        .unwrap_or_else(baseline::default_path);
    let mut base = match Baseline::read(&path) {
        Ok(b) => b,
        Err(baseline::BaselineError::Missing(_)) => Baseline::new(RunSettings {
            repeats: 1,
            quick: false,
            target: report.environment.target.clone(),
        }),
        Err(e) => return Err(e.into()),
    };
    let runs = vec![report.clone()];
    let noise = super::outliers::noise(&runs, 1, Vec::new());
    base.put(&report.workload_id, runs, noise);
    base.created_at = humantime::format_rfc3339_seconds(std::time::SystemTime::now()).to_string();
    base.write(&path)?;
    Ok(path)
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
    let resolved = resolve_all(&names, quick, &g.target)?;
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
    print!("{}", format::render(&comparisons, args.format));
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
                let noise = super::outliers::noise(&runs, runs.len() as u32, Vec::new());
                updated.put(&name, runs, noise);
            }
            updated.created_at =
                humantime::format_rfc3339_seconds(std::time::SystemTime::now()).to_string();
            updated.write(&g.baseline_path)?;
            eprintln!("mcptop: baseline updated: {}", g.baseline_path.display());
        }
    }
    Ok(if regressed { Exit::Failed } else { Exit::Ok })
}

/// `mcptop compare A B`: each side a result file or a baseline file. Two
/// sides that ran different workloads are refused unless `--force`.
pub fn compare(args: CompareArgs) -> anyhow::Result<Exit> {
    let project = Project::load(Path::new(".")).map_err(|e| anyhow!(e))?;
    let a = load_side(&args.a)?;
    let b = load_side(&args.b)?;
    let mut pairs = Vec::new();
    for (name, runs_a) in &a {
        match b.iter().find(|(n, _)| n == name) {
            Some((_, runs_b)) => pairs.push((name.clone(), runs_a, runs_b)),
            None => eprintln!("mcptop: note: {name} is only in {}", args.a.display()),
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
                args.a.display(),
                args.b.display()
            );
        }
    }
    let mut comparisons = Vec::new();
    for (name, ra, rb) in pairs {
        let mismatch = match (ra.first(), rb.first()) {
            (Some(x), Some(y)) => super::workload_mismatch(x, y),
            _ => None,
        };
        if let Some(why) = &mismatch {
            if !args.force {
                bail!(
                    "{} and {} ran different workloads ({why}); pass --force to compare them anyway",
                    args.a.display(),
                    args.b.display()
                );
            }
        }
        let mut c = compare_runs(&name, ra, rb, &thresholds(&project));
        c.warning = mismatch
            .map(|why| format!("different workloads ({why}), compared only because of --force"));
        comparisons.push(c);
    }
    print!("{}", format::render(&comparisons, args.format));
    Ok(if comparisons.iter().any(Comparison::regressed) {
        Exit::Failed
    } else {
        Exit::Ok
    })
}

fn thresholds(p: &Project) -> Thresholds {
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
            let r = RunReport::read(path).map_err(|e| anyhow!(e))?;
            Ok(vec![(r.workload_id.clone(), vec![r])])
        }
    }
}

/// `mcptop report FILE --format F`: a saved result in another format.
pub fn report(file: &Path, format: Format) -> anyhow::Result<Exit> {
    let r = RunReport::read(file).map_err(|e| anyhow!(e))?;
    print!("{}", crate::report::formats::render(&r, format));
    Ok(Exit::Ok)
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

#[cfg(test)]
mod quick_tests {
    use super::*;

    #[test]
    fn a_run_stopped_by_a_signal_is_never_a_baseline() {
        use crate::engine::stop::StopSignal;
        use crate::engine::{RunOutcome, StopReason, TargetInfo};
        use crate::metrics::recorder::{EngineStatus, Recorder};
        let w = Workload::parse(
            "name = \"w\"\nconcurrency = 1\nduration = \"10s\"\n[[ops]]\nmethod = \"ping\"\n",
            "test",
        )
        .expect("workload");
        let t0 = tokio::time::Instant::now();
        let metrics = Recorder::new(&["ping".to_string()], t0, None)
            .finish(t0 + Duration::from_secs(10), EngineStatus::default());
        let report = RunReport::build(
            &w,
            "builtin",
            std::time::SystemTime::UNIX_EPOCH,
            RunOutcome {
                metrics,
                stopped_by: StopReason::Signal {
                    signal: StopSignal::Hangup,
                },
                target: TargetInfo::default(),
                unfinished: 0,
            },
        );
        let err = baseline_from_run(&report).expect_err("refused");
        assert_eq!(err.to_string(), "the run was stopped by SIGHUP");
    }

    fn ms(n: u64) -> Duration {
        Duration::from_millis(n)
    }

    #[test]
    fn quick_runs_share_one_budget_within_bounds() {
        // One or two workloads: the longest runs.
        for n in [1, 2] {
            let p = QuickPlan::new(n, 5);
            assert_eq!((p.run, p.warmup), (ms(1000), ms(300)), "{n} workloads");
        }
        // Three workloads share 15 s: 1 s a run, a quarter of it warm-up.
        let p = QuickPlan::new(3, 5);
        assert_eq!((p.run, p.warmup), (ms(750), ms(250)));
        assert_eq!(p.total(15), Duration::from_secs(15));
        let p = QuickPlan::new(5, 5);
        assert_eq!((p.run, p.warmup), (ms(450), ms(150)));
        // Many workloads: the shortest runs, and past the limit.
        let p = QuickPlan::new(20, 5);
        assert_eq!((p.run, p.warmup), (ms(300), ms(100)));
        assert!(p.total(100) > QUICK_LIMIT);
        // Zero is treated as one.
        assert_eq!(QuickPlan::new(0, 0), QuickPlan::new(1, 1));
    }
}
