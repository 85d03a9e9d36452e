//! Profiling the measured phase of a run: a view that starts a CPU profile
//! (in-process for mcptop itself, `perf` for other processes) when the
//! engine's snapshots say measuring began, and stops it when they say it
//! ended.

use super::{ProfileError, ProfileOptions, ProfileOutput};
use crate::metrics::sampler::ResourceMonitor;
use crate::metrics::snapshot::Phase;
use crate::metrics::Snapshot;
use crate::report::text;
use std::time::Instant;
use tokio::sync::watch;

/// What is profiled.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum Subject {
    /// mcptop itself, with the in-process server.
    SelfProcess,
    /// Processes found by the monitor (stdio children) or given by pid.
    External,
    /// The same, Python processes through py-spy (`profile::pyspy`).
    PySpy,
}

enum Running {
    #[cfg(unix)]
    SelfProcess(super::SelfProfiler),
    #[cfg(target_os = "linux")]
    External(super::perf::PerfRecording, Instant),
    #[cfg(unix)]
    PySpy(super::pyspy::PySpyRecording, Instant),
}

/// Starts profiling when measuring begins and stops when it ends.
pub async fn profile_measured_phase(
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
    tokio::task::spawn_blocking(move || finish(running, &options))
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
            // The profiler's own memory is shown apart, not judged as growth.
            let rss_before = monitor.profiler_starting();
            let running = tokio::task::spawn_blocking(move || super::SelfProfiler::start(hz))
                .await
                .map_err(|e| ProfileError::Start(e.to_string()))?
                .map(Running::SelfProcess);
            monitor.profiler_running(rss_before);
            running
        }
        #[cfg(target_os = "linux")]
        Subject::External => {
            let pids = monitor.target_pids();
            let data = options.svg.with_extension("perf.data");
            if let Some(dir) = data.parent().filter(|d| !d.as_os_str().is_empty()) {
                std::fs::create_dir_all(dir).map_err(|e| ProfileError::io(dir, e))?;
            }
            let (hz, jvm) = (options.frequency, options.jvm);
            tokio::task::spawn_blocking(move || {
                super::perf::PerfRecording::start(&pids, hz, &data, jvm)
                    .map(|r| Running::External(r, Instant::now()))
            })
            .await
            .map_err(|e| ProfileError::Perf(e.to_string()))?
        }
        #[cfg(unix)]
        Subject::PySpy => {
            let pids = monitor.target_pids();
            let base = options.svg.clone();
            if let Some(dir) = base.parent().filter(|d| !d.as_os_str().is_empty()) {
                std::fs::create_dir_all(dir).map_err(|e| ProfileError::io(dir, e))?;
            }
            let hz = options.frequency;
            tokio::task::spawn_blocking(move || {
                super::pyspy::PySpyRecording::start(&pids, hz, &base)
                    .map(|r| Running::PySpy(r, Instant::now()))
            })
            .await
            .map_err(|e| ProfileError::Start(e.to_string()))?
        }
        #[allow(unreachable_patterns)]
        _ => {
            let _ = (options, monitor);
            Err(ProfileError::Unsupported)
        }
    }
}

/// Stops the profiler and writes the graphs: mcptop's own stacks through
/// the profiler's child (`SelfProfiler::finish`), other processes' here.
fn finish(running: Running, options: &ProfileOptions) -> Result<ProfileOutput, ProfileError> {
    let (stacks, duration, notes) = match running {
        #[cfg(unix)]
        Running::SelfProcess(p) => return p.finish(options),
        #[cfg(target_os = "linux")]
        Running::External(r, started) => {
            let duration = started.elapsed();
            r.stop().map(|(s, notes)| (s, duration, notes))?
        }
        #[cfg(unix)]
        Running::PySpy(r, started) => {
            let duration = started.elapsed();
            (r.stop()?, duration, Vec::new())
        }
    };
    let mut output = super::write_capture(&stacks, duration, options)?;
    output.notes = notes;
    Ok(output)
}
