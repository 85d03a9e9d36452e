//! `mcptop profile`: runs a workload and profiles the measured phase. The
//! builtin target runs in mcptop, so mcptop is profiled in-process (pprof);
//! a stdio target or `--target-pid` is profiled with `perf`. Ends with a
//! flame graph, its folded stacks, optionally a differential graph, and the
//! usual result file.

use super::dispatch::say_where_saved;
use super::ProfileArgs;
use crate::metrics::sampler::ResourceMonitor;
use crate::profile::measured::{profile_measured_phase, Subject};
use crate::profile::runtime::Profiler;
use crate::profile::{flame, ProfileOptions, ProfileOutput};
use crate::report::output::OutPath;
use crate::report::text;
use crate::run::{self, Exit, RunRequest, View};
use crate::runtime::RuntimeChoice;
use crate::workload::{Overrides, TargetSpec, Workload};
use anyhow::{anyhow, Context};
use tokio::sync::oneshot;

/// `profile -o FILE.svg` named the flame graph before `-o` meant the result
/// file for every command: such a path still does, with a note on stderr.
fn old_style_svg(mut args: ProfileArgs) -> ProfileArgs {
    let is_svg = |p: &std::path::Path| p.extension().is_some_and(|e| e.eq_ignore_ascii_case("svg"));
    if args.svg.is_none() && args.out.as_deref().is_some_and(is_svg) {
        eprintln!(
            "note: `profile -o FILE.svg` is deprecated: -o/--out is the result file (JSON) for \
             every command; use --svg FILE for the flame graph"
        );
        args.svg = args.out.take();
    }
    args
}

pub async fn run(args: ProfileArgs) -> anyhow::Result<Exit> {
    let args = old_style_svg(args);
    let overrides = Overrides {
        duration: args
            .seconds
            .map(|s| format!("{}ms", (s * 1000.0).round() as u64)),
        rate: args.load.rate,
        concurrency: args.load.concurrency,
        sessions: args.load.sessions,
        requests: None,
        warmup: args.load.warmup.clone(),
        connect_timeout: args.load.connect_timeout.clone(),
        protocol: None,
        runtime: args.runtime.clone(),
        ..Overrides::default()
    };
    let (workload, spec) = run::resolve(&args.workload, &overrides, args.target.as_deref())?;
    if let Some(pid) = args.target_pid {
        crate::metrics::process::check_pid(pid).map_err(|e| anyhow!("--target-pid {e}"))?;
    }
    let out = OutPath::File(
        args.out
            .clone()
            .unwrap_or_else(|| run::default_out(&workload.name)),
    );
    out.check()?;
    if let Some(old) = &args.diff {
        flame::read_folded(old)?;
    }
    let (subject, profiler) = subject(&args, &workload, &spec)?;
    let mut options = options(&args, &workload, &spec, subject);
    if let Some(p) = profiler {
        options.title.push_str(&format!(" ({})", p.name()));
    }
    options.jvm = profiler == Some(Profiler::Perf)
        && target_runtime(&workload, &spec) == crate::runtime::Runtime::Jvm;
    // No warm-up: pprof's start no longer loads symbols (vendor/pprof), and
    // a warm-up's start and stop built two sample tables before the run.
    let before_start = crate::metrics::process::read_self_rss();
    let monitor = ResourceMonitor::new(true, args.target_pid.into_iter().collect());
    if let (Subject::SelfProcess, Some(rss)) = (subject, before_start) {
        monitor.profiler_running(rss); // its tables: shown apart, not judged as growth
    }
    let (done_tx, done_rx) = oneshot::channel();
    let watcher_monitor = monitor.clone();
    let quiet = args.quiet;
    let view = View::Custom(Box::new(move |snaps, _controls| {
        tokio::spawn(async move {
            let result =
                profile_measured_phase(snaps, subject, options, watcher_monitor, quiet).await;
            let _ = done_tx.send(result);
        })
    }));
    let request = RunRequest::new(&workload, &spec)
        .saved_to(&out)
        .resources(monitor)
        .runtime(crate::runtime::RuntimeOptions {
            gc_report: true,
            // Node's perf map, the JVM's frame pointers: what perf needs.
            for_profiler: profiler == Some(Profiler::Perf),
        });
    let finished = run::execute(request, view).await?;
    print!("{}", text::summary(&finished.report));
    if let Some(saved) = &finished.saved {
        say_where_saved(saved, true);
    }
    let profile = done_rx
        .await
        .context("the profiler stopped without an answer")??;
    print_profile(&profile);
    // Hook: outputs (the result names its flame graph: the HTML report inlines it).
    if let Some(Ok(crate::report::output::Saved::File(path))) = &finished.saved {
        let mut report = finished.report.clone();
        report.flamegraph = std::fs::canonicalize(&profile.svg).ok();
        let _ = crate::report::output::save(&OutPath::File(path.clone()), &report);
    }
    Ok(finished.exit())
}

/// What is profiled, and with which profiler (checked to be there).
fn subject(
    args: &ProfileArgs,
    workload: &Workload,
    spec: &TargetSpec,
) -> anyhow::Result<(Subject, Option<Profiler>)> {
    let external = args.target_pid.is_some() || *spec != TargetSpec::Builtin;
    let profiler = external
        .then(|| profiler_for(args, workload, spec))
        .transpose()?;
    let subject = match profiler {
        None => Subject::SelfProcess,
        Some(Profiler::Perf) => Subject::External,
        Some(Profiler::PySpy) => Subject::PySpy,
    };
    match subject {
        #[cfg(target_os = "linux")]
        Subject::External => crate::profile::perf::check()?,
        #[cfg(not(target_os = "linux"))]
        Subject::External => return Err(anyhow!("profiling another process needs Linux perf")),
        #[cfg(unix)]
        Subject::PySpy => crate::profile::pyspy::check()?,
        _ => {}
    }
    Ok((subject, profiler))
}

/// The profiler for another process: `--profiler`, else the one that fits
/// the target's runtime (named, or guessed from a stdio command).
fn profiler_for(
    args: &ProfileArgs,
    workload: &Workload,
    spec: &TargetSpec,
) -> anyhow::Result<Profiler> {
    if let Some(name) = &args.profiler {
        return Profiler::parse(name).map_err(|e| anyhow!(e));
    }
    Ok(Profiler::for_runtime(target_runtime(workload, spec)))
}

/// The target's runtime: named, or guessed from a stdio command.
fn target_runtime(workload: &Workload, spec: &TargetSpec) -> crate::runtime::Runtime {
    match (spec, workload.runtime) {
        (_, RuntimeChoice::Is(r)) => r,
        (TargetSpec::Stdio { program, args }, RuntimeChoice::Auto) => {
            crate::runtime::resolve(RuntimeChoice::Auto, program, args)
        }
        (_, RuntimeChoice::Auto) => crate::runtime::Runtime::Native,
    }
}

/// Where the graphs go and what their title says.
fn options(
    args: &ProfileArgs,
    workload: &Workload,
    spec: &TargetSpec,
    subject: Subject,
) -> ProfileOptions {
    let who = match (args.target_pid, subject) {
        (Some(pid), _) => format!("pid {pid}"),
        (None, Subject::SelfProcess) => "builtin (mcptop in-process)".into(),
        (None, Subject::External | Subject::PySpy) => spec.describe(),
    };
    ProfileOptions {
        frequency: args.frequency.max(1),
        svg: args
            .svg
            .clone()
            .unwrap_or_else(|| crate::profile::default_svg(&workload.name)),
        title: format!("mcptop profile: {} on {who}", workload.name),
        diff_against: args.diff.clone(),
        jvm: false,
    }
}

fn print_profile(profile: &ProfileOutput) {
    println!(
        "profile: {} samples over {:.1}s",
        profile.samples,
        profile.duration.as_secs_f64()
    );
    for (frame, n) in &profile.top {
        println!(
            "  {:>5.1}%  {frame}",
            *n as f64 * 100.0 / profile.samples.max(1) as f64
        );
    }
    println!("flame graph: {}", profile.svg.display());
    println!("folded stacks: {}", profile.folded.display());
    if let Some(d) = &profile.diff_svg {
        println!("differential flame graph: {}", d.display());
    }
    for note in &profile.notes {
        println!("note: {note}");
    }
}
