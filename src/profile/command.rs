//! `mcptop profile`: runs a workload and profiles the measured phase. The
//! builtin target runs in mcptop, so mcptop is profiled in-process (pprof);
//! a stdio target or `--target-pid` is profiled with `perf`. Ends with a
//! flame graph, its folded stacks, optionally a differential graph, and the
//! usual result file.

use super::flame;
use super::{ProfileError, ProfileOptions, ProfileOutput};
use crate::cli::ProfileArgs;
use crate::metrics::sampler::ResourceMonitor;
use crate::metrics::snapshot::Phase;
use crate::metrics::Snapshot;
use crate::report::{self, text};
use crate::runner::{self, View};
use crate::workload::TargetSpec;
use crate::workload::{catalog, Overrides};
use crate::Exit;
use anyhow::{anyhow, Context};
use std::time::{Duration, Instant};
use tokio::sync::{oneshot, watch};

/// What is profiled.
#[derive(Debug, Clone, Copy, PartialEq)]
enum Subject {
    /// mcptop itself, with the in-process server.
    SelfProcess,
    /// Processes found by the monitor (stdio children) or given by pid.
    External,
}

enum Running {
    #[cfg(unix)]
    SelfProcess(super::SelfProfiler),
    #[cfg(target_os = "linux")]
    External(super::perf::PerfRecording, Instant),
}

pub async fn run(args: ProfileArgs) -> anyhow::Result<Exit> {
    let overrides = Overrides {
        duration: args
            .seconds
            .map(|s| format!("{}ms", (s * 1000.0).round() as u64)),
        rate: args.load.rate,
        concurrency: args.load.concurrency,
        sessions: args.load.sessions,
        requests: None,
        warmup: args.load.warmup.clone(),
        protocol: None,
    };
    let workload = catalog::resolve(&args.workload, &overrides)?;
    let target_text = args
        .target
        .clone()
        .or_else(|| workload.target.clone())
        .unwrap_or_else(|| "builtin".into());
    let spec = TargetSpec::parse(&target_text)?;
    if let Some(pid) = args.target_pid {
        crate::metrics::process::check_pid(pid).map_err(|e| anyhow!("--target-pid {e}"))?;
    }
    let out = crate::report::output::OutPath::File(
        args.result
            .clone()
            .unwrap_or_else(|| runner::default_out(&workload.name)),
    );
    out.check().map_err(|e| anyhow!(e))?;
    if let Some(old) = &args.diff {
        flame::read_folded(old)?;
    }
    let subject = if args.target_pid.is_some() || spec != TargetSpec::Builtin {
        Subject::External
    } else {
        Subject::SelfProcess
    };
    if subject == Subject::External {
        #[cfg(target_os = "linux")]
        super::perf::check()?;
        #[cfg(not(target_os = "linux"))]
        return Err(anyhow!("profiling another process needs Linux perf"));
    }
    let who = match (args.target_pid, subject) {
        (Some(pid), _) => format!("pid {pid}"),
        (None, Subject::SelfProcess) => "builtin (mcptop in-process)".into(),
        (None, Subject::External) => spec.describe(),
    };
    let options = ProfileOptions {
        frequency: args.frequency.max(1),
        svg: args
            .out
            .clone()
            .unwrap_or_else(|| super::default_svg(&workload.name)),
        title: format!("mcptop profile: {} on {who}", workload.name),
        diff_against: args.diff.clone(),
    };
    #[cfg(unix)]
    if subject == Subject::SelfProcess {
        // Before the run, so loading symbols does not eat into it.
        tokio::task::spawn_blocking(super::SelfProfiler::warm_up).await?;
    }
    let monitor = ResourceMonitor::new(true, args.target_pid.into_iter().collect());
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
    let report = runner::run_workload_with(&workload, &spec, view, monitor).await?;
    let saved = report::output::save(&out, &report);
    print!("{}", text::summary(&report));
    let saved_exit = runner::say_where_saved(&saved, true);
    let profile = done_rx
        .await
        .context("the profiler stopped without an answer")??;
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
    Ok(match saved_exit {
        Exit::Ok => runner::exit_for(&report),
        failed => failed,
    })
}

/// Starts profiling when measuring begins and stops when it ends.
async fn profile_measured_phase(
    mut snaps: watch::Receiver<Snapshot>,
    subject: Subject,
    options: ProfileOptions,
    monitor: ResourceMonitor,
    quiet: bool,
) -> Result<ProfileOutput, ProfileError> {
    let mut running: Option<Running> = None;
    while snaps.changed().await.is_ok() {
        let snap = snaps.borrow_and_update().clone();
        if snap.phase == Phase::Measuring && running.is_none() {
            running = Some(start(subject, &options, &monitor).await?);
        }
        if snap.phase == Phase::Measuring && !quiet {
            eprintln!("{}", text::progress_line(&snap));
        }
        if snap.phase >= Phase::Draining {
            break;
        }
    }
    let running = running.ok_or(ProfileError::NotMeasured)?;
    tokio::task::spawn_blocking(move || {
        let (stacks, duration) = stop(running)?;
        super::write_capture(&stacks, duration, &options)
    })
    .await
    .map_err(|e| ProfileError::Report(e.to_string()))?
}

async fn start(
    subject: Subject,
    options: &ProfileOptions,
    monitor: &ResourceMonitor,
) -> Result<Running, ProfileError> {
    match subject {
        #[cfg(unix)]
        Subject::SelfProcess => {
            let hz = options.frequency;
            tokio::task::spawn_blocking(move || super::SelfProfiler::start(hz))
                .await
                .map_err(|e| ProfileError::Start(e.to_string()))?
                .map(Running::SelfProcess)
        }
        #[cfg(target_os = "linux")]
        Subject::External => {
            let pids = monitor.target_pids();
            let data = options.svg.with_extension("perf.data");
            if let Some(dir) = data.parent().filter(|d| !d.as_os_str().is_empty()) {
                std::fs::create_dir_all(dir).map_err(|e| ProfileError::io(dir, e))?;
            }
            let hz = options.frequency;
            tokio::task::spawn_blocking(move || {
                super::perf::PerfRecording::start(&pids, hz, &data)
                    .map(|r| Running::External(r, Instant::now()))
            })
            .await
            .map_err(|e| ProfileError::Perf(e.to_string()))?
        }
        #[allow(unreachable_patterns)]
        _ => {
            let _ = (options, monitor);
            Err(ProfileError::Unsupported)
        }
    }
}

fn stop(running: Running) -> Result<(flame::Folded, Duration), ProfileError> {
    match running {
        #[cfg(unix)]
        Running::SelfProcess(p) => p.stop(),
        #[cfg(target_os = "linux")]
        Running::External(r, started) => {
            let duration = started.elapsed();
            r.stop().map(|s| (s, duration))
        }
    }
}
