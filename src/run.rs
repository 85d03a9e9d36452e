//! The run service: the one path every command that puts load on a target
//! goes through (`run`, the live screen, `profile`, `check`, `baseline
//! save`). It resolves a workload and its target, connects, runs the engine
//! under the process's stop token with the resource monitor, shows progress
//! through a `View`, writes the result file (or its fallback) and says what
//! the run means for the exit code. Commands above it only choose what to
//! run and how to print it.

use crate::engine::{self, stop, Control, RunSetup};
use crate::metrics::connections::ConnectionWatch;
use crate::metrics::sampler::ResourceMonitor;
use crate::metrics::Snapshot;
use crate::protocol::{Era, ProtocolChoice};
use crate::report::output::{OutPath, OutputError, Saved};
use crate::report::{text, RunReport};
use crate::transport::{self, ConnectOptions};
use crate::workload::target::TargetSpecError;
use crate::workload::{catalog, Overrides, TargetSpec, Workload, WorkloadError};
use anyhow::{anyhow, Context};
use std::path::PathBuf;
use std::time::Duration;
use tokio::sync::{mpsc, watch};

pub mod threads;
pub use threads::Workers;

/// How long a session may take to answer `initialize`.
pub const HANDSHAKE_TIMEOUT: Duration = Duration::from_secs(10);
/// Snapshot period.
pub const TICK: Duration = Duration::from_secs(1);
/// The target when neither the command line nor the workload names one.
pub const DEFAULT_TARGET: &str = "builtin";

/// What the process exits with.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Exit {
    Ok,
    /// A threshold or regression check failed.
    Failed,
    /// Usage, configuration or runtime error.
    Error,
    /// Stopped by a signal (whatever was measured is kept, no baseline is
    /// written): 128 + the signal's number, as a shell reports it.
    Stopped(engine::stop::StopSignal),
}

impl Exit {
    pub fn code(self) -> u8 {
        match self {
            Exit::Ok => 0,
            Exit::Failed => 1,
            Exit::Error => 2,
            Exit::Stopped(signal) => signal.exit_code(),
        }
    }

    /// The more serious of two outcomes (the higher code).
    pub fn worst(self, other: Exit) -> Exit {
        if self.code() >= other.code() {
            self
        } else {
            other
        }
    }

    /// What a finished run means: an error if the target failed, a failure
    /// if a threshold did.
    pub fn for_report(report: &RunReport) -> Exit {
        if report.target_failed() {
            Exit::Error
        } else if !report.passed {
            Exit::Failed
        } else {
            Exit::Ok
        }
    }
}

/// The target a run uses: the one given, else the workload's, else the
/// builtin server.
pub fn target_of(workload: &Workload, given: Option<&str>) -> Result<TargetSpec, TargetSpecError> {
    // Failover: sessions start on the first of the targets.
    if let (None, Some(f)) = (given, &workload.chaos.failover) {
        if let Some(first) = f.targets.first() {
            return Ok(first.clone());
        }
    }
    let text = given
        .map(str::to_string)
        .or_else(|| workload.target.clone())
        .unwrap_or_else(|| DEFAULT_TARGET.into());
    TargetSpec::parse(&text)
}

/// The worker count of a run of workload `name` against the `given`
/// targets (none: the workload's own), `asked` by `--threads`
/// (`threads::choose`). A workload or target that does not resolve weighs
/// nothing here: the command itself says what is wrong with it.
pub fn workers_for(asked: Option<usize>, name: &str, given: &[String]) -> anyhow::Result<Workers> {
    let mut targets = Vec::new();
    if let Ok(workload) = catalog::resolve(name, &Overrides::default()) {
        if given.is_empty() {
            targets.extend(target_of(&workload, None));
            if let Some(f) = &workload.chaos.failover {
                targets.extend(f.targets.iter().cloned());
            }
        } else {
            targets.extend(
                given
                    .iter()
                    .filter_map(|t| target_of(&workload, Some(t)).ok()),
            );
        }
    }
    workers_against(asked, &targets)
}

/// Why a workload or its target cannot be run.
#[derive(Debug, thiserror::Error)]
pub enum ResolveError {
    #[error(transparent)]
    Workload(#[from] WorkloadError),
    #[error(transparent)]
    Target(#[from] TargetSpecError),
}

/// A workload by name or path with `overrides`, and its target.
pub fn resolve(
    name: &str,
    overrides: &Overrides,
    target: Option<&str>,
) -> Result<(Workload, TargetSpec), ResolveError> {
    let workload = catalog::resolve(name, overrides)?;
    let spec = target_of(&workload, target)?;
    Ok((workload, spec))
}

/// Where a run's result goes when `--out` is not given.
pub fn default_out(workload: &str) -> PathBuf {
    let stamp = humantime::format_rfc3339_seconds(std::time::SystemTime::now())
        .to_string()
        .replace(':', "-");
    PathBuf::from(".mcptop")
        .join("runs")
        .join(format!("{workload}-{stamp}.json"))
}

/// Runs a command that puts load on a target on a runtime of its own, with
/// SIGINT, SIGTERM and SIGHUP turned into the process's stop signal; the
/// targets' process groups end before it returns.
pub fn stoppable<T>(
    command: impl std::future::Future<Output = anyhow::Result<T>>,
) -> anyhow::Result<T> {
    stoppable_on(default_workers()?, command)
}

/// As `stoppable`, on a runtime of `workers` threads (`threads::choose`).
pub fn stoppable_on<T>(
    workers: Workers,
    command: impl std::future::Future<Output = anyhow::Result<T>>,
) -> anyhow::Result<T> {
    runtime_of(workers)?.block_on(async {
        stop::listen();
        let result = command.await;
        // Child groups end here, while a second signal can still cut it short.
        crate::transport::group::end_all_async().await;
        result
    })
}

/// A multi-threaded async runtime for one command: a worker per core, or
/// as `TOKIO_WORKER_THREADS` says.
pub fn runtime() -> anyhow::Result<tokio::runtime::Runtime> {
    runtime_of(default_workers()?)
}

/// The worker count of a command with no target to weigh.
pub fn default_workers() -> anyhow::Result<Workers> {
    workers_against(None, &[])
}

/// `threads::choose` on this machine, `TOKIO_WORKER_THREADS` read.
fn workers_against(asked: Option<usize>, targets: &[TargetSpec]) -> anyhow::Result<Workers> {
    let env = std::env::var(threads::THREADS_ENV).ok();
    threads::choose(asked, env.as_deref(), targets, threads::cores()).map_err(|e| anyhow!(e))
}

/// A multi-threaded async runtime of `workers` threads.
pub fn runtime_of(workers: Workers) -> anyhow::Result<tokio::runtime::Runtime> {
    tokio::runtime::Builder::new_multi_thread()
        .worker_threads(workers.count)
        .enable_all()
        .build()
        .context("cannot start the async runtime")
}

/// Starts a view of a run: it gets every snapshot and may send controls. The
/// task it returns must end once the snapshot channel closes.
pub type ViewStarter = Box<
    dyn FnOnce(
            watch::Receiver<Snapshot>,
            mpsc::UnboundedSender<Control>,
        ) -> tokio::task::JoinHandle<()>
        + Send,
>;

/// How a run is shown while it goes.
pub enum View {
    /// Nothing until the summary.
    Quiet,
    /// One progress line per tick on stderr.
    Lines,
    /// Anything else (the live screen).
    Custom(ViewStarter),
}

/// One run to make.
pub struct RunRequest<'a> {
    pub workload: &'a Workload,
    pub spec: &'a TargetSpec,
    /// Where the result file goes; `None` keeps the report in memory only
    /// (the gate's repeated runs).
    pub out: Option<&'a OutPath>,
    /// Samples processes and allocations while the run goes.
    pub resources: ResourceMonitor,
    /// What to ask of the target's runtime (its GC report, what a profiler needs).
    pub runtime: crate::runtime::RuntimeOptions,
    /// This run's share of a sharded run, written into its result (hook: outputs).
    pub shard: Option<crate::workload::shard::Shard>,
}

impl<'a> RunRequest<'a> {
    /// A run with processes and allocations sampled and no result file.
    pub fn new(workload: &'a Workload, spec: &'a TargetSpec) -> RunRequest<'a> {
        RunRequest {
            workload,
            spec,
            out: None,
            resources: ResourceMonitor::new(true, Vec::new()),
            runtime: Default::default(),
            shard: None,
        }
    }

    pub fn shard(self, shard: Option<crate::workload::shard::Shard>) -> RunRequest<'a> {
        RunRequest { shard, ..self }
    }

    pub fn runtime(self, runtime: crate::runtime::RuntimeOptions) -> RunRequest<'a> {
        RunRequest { runtime, ..self }
    }

    pub fn saved_to(self, out: &'a OutPath) -> RunRequest<'a> {
        RunRequest {
            out: Some(out),
            ..self
        }
    }

    pub fn resources(self, resources: ResourceMonitor) -> RunRequest<'a> {
        RunRequest { resources, ..self }
    }
}

/// A run that ended: its report and, when it was asked for, where its
/// result file went.
pub struct FinishedRun {
    pub report: RunReport,
    pub saved: Option<Result<Saved, OutputError>>,
}

impl FinishedRun {
    /// What the run means for the exit code, the result file included: a
    /// result that is not where it was asked to be is an error.
    pub fn exit(&self) -> Exit {
        let saved = match &self.saved {
            Some(Ok(Saved::File(_) | Saved::Stdout)) | None => Exit::Ok,
            Some(Ok(Saved::Fallback { .. }) | Err(_)) => Exit::Error,
        };
        Exit::for_report(&self.report).worst(saved)
    }
}

/// Runs one workload against one target with a view, stopping on the
/// process's stop token, then writes the result file (or its fallback) when
/// asked. Returns the report also when stopped. The resource monitor samples
/// mcptop and the target while the run goes; the recorder puts its figures
/// into every snapshot and into the result.
pub async fn execute(request: RunRequest<'_>, view: View) -> anyhow::Result<FinishedRun> {
    let mut report = measure(&request, view).await?;
    report.shard = request.shard;
    let saved = request
        .out
        .map(|out| crate::report::output::save(out, &report));
    Ok(FinishedRun { report, saved })
}

async fn measure(request: &RunRequest<'_>, view: View) -> anyhow::Result<RunReport> {
    let RunRequest {
        workload,
        spec,
        resources: monitor,
        ..
    } = request;
    if workload.protocol.is_stateless() && matches!(spec, TargetSpec::LegacySse(_)) {
        return Err(anyhow!(
            "{}: protocol {} (stateless) runs over Streamable HTTP and stdio-framed streams \
             (stdio, tcp, ws, builtin), not the 2024-11-05 HTTP+SSE transport; use http://",
            spec.describe(),
            Era::STATELESS
        ));
    }
    if let Some(problem) = workload.resume_problem(spec) {
        return Err(anyhow!("{problem}"));
    }
    let (events_tx, events_rx) = mpsc::unbounded_channel();
    let deployed = std::sync::Arc::new(transport::deployed::Deployed::build(
        &workload.deployed,
        spec,
    )?);
    if deployed.insecure {
        eprintln!("warning: {}", transport::tls::INSECURE_WARNING);
    }
    monitor.watch_connections(ConnectionWatch {
        phases: deployed.phases.clone(),
        resume: deployed.resume.clone(),
        warnings: deployed.warnings(),
    });
    // The target's runtime: its GC report, read into every snapshot.
    let runtime = crate::runtime::plan(spec, workload.runtime, request.runtime)
        .context("cannot prepare the target's GC report")?;
    monitor.watch_gc(crate::metrics::gc::GcMonitor::new(
        runtime.source,
        runtime.feed,
    ));
    let options = ConnectOptions {
        protocol: offered_protocol(workload),
        handshake_timeout: workload.connect_timeout,
        http_connections: workload.connections,
        server_stream: workload.server_stream,
        deployed: deployed.clone(),
    };
    let connector = connector_for(workload, spec, options, events_tx, runtime.child);
    let (control_tx, control_rx) = mpsc::unbounded_channel();
    let (snap_tx, snap_rx) = watch::channel(Snapshot::default());
    let sampler = monitor.start();
    let viewers = start_viewers(view, snap_rx, &control_tx);
    let started_at = std::time::SystemTime::now();
    let outcome = engine::run(RunSetup {
        workload,
        connector: connector.as_ref(),
        target_events: events_rx,
        controls: control_rx,
        snapshots: snap_tx,
        tick: TICK,
        stop: stop::process().clone(),
        resources: Some((*monitor).clone()),
    })
    .await;
    for viewer in viewers {
        let _ = viewer.await;
    }
    drop(control_tx);
    monitor.stop();
    if let Some(s) = sampler {
        let _ = tokio::task::spawn_blocking(move || s.join()).await;
    }
    let outcome = outcome.map_err(|e| anyhow!("{}: {e}", spec.describe()))?;
    let mut report = RunReport::build(workload, &spec.describe(), started_at, outcome);
    report.connection_phases = deployed.phases.summary();
    report.sse_resume = crate::metrics::resume::report(&deployed.resume);
    Ok(report)
}

/// The run's connector: the target's, or with failover one per target,
/// sharing the run's headers, TLS and phase counters (sessions start on
/// the first).
fn connector_for(
    workload: &Workload,
    spec: &TargetSpec,
    options: ConnectOptions,
    events: mpsc::UnboundedSender<transport::TargetEvent>,
    child: Option<crate::runtime::ChildRuntime>,
) -> Box<dyn transport::Connector> {
    let Some(f) = &workload.chaos.failover else {
        return transport::connector_with_runtime(spec, options, events, child);
    };
    Box::new(transport::failover::Targets {
        each: f
            .targets
            .iter()
            .map(|t| transport::connector_with_runtime(t, options.clone(), events.clone(), None))
            .collect(),
    })
}

/// Starts the view and whatever else follows the snapshots (hook: outputs,
/// live Prometheus metrics when `--prometheus` serves them); each task ends
/// once the snapshot channel closes.
fn start_viewers(
    view: View,
    snaps: watch::Receiver<Snapshot>,
    controls: &mpsc::UnboundedSender<Control>,
) -> Vec<tokio::task::JoinHandle<()>> {
    let mut tasks = vec![tokio::spawn(crate::export::prometheus::follow(
        snaps.clone(),
    ))];
    match view {
        View::Quiet => {}
        View::Lines => tasks.push(tokio::spawn(print_progress(snaps))),
        View::Custom(start) => tasks.push(start(snaps, controls.clone())),
    }
    tasks
}

/// The protocol setting sessions open with. Batches exist in one era only,
/// so with `auto` a batch workload offers that era.
fn offered_protocol(workload: &Workload) -> ProtocolChoice {
    if workload.batch > 1 && workload.protocol.is_auto() {
        ProtocolChoice::Forced(Era::BATCHES)
    } else {
        workload.protocol
    }
}

async fn print_progress(mut snaps: watch::Receiver<Snapshot>) {
    use crate::metrics::snapshot::Phase;
    let mut last_phase = Phase::Connecting;
    let mut last_line = String::new();
    let mut waiting_said = None;
    while snaps.changed().await.is_ok() {
        let snap = snaps.borrow_and_update().clone();
        if snap.phase == Phase::Done {
            break;
        }
        if snap.phase == Phase::Connecting
            || (snap.phase == Phase::Draining && last_phase == Phase::Draining)
        {
            continue;
        }
        last_phase = snap.phase;
        // Before the first interval a line only says the phase: once per
        // phase, however the in-flight count moves meanwhile; the warm-up
        // says how far it is at each tick.
        if snap.last.is_none() && snap.warmup.is_none() {
            if waiting_said == Some(snap.phase) {
                continue;
            }
            waiting_said = Some(snap.phase);
        }
        // Hook: outputs (a line the same as the last says nothing new: the
        // start of measuring is announced and then ticked at once).
        let line = text::progress_line(&snap);
        if line != last_line {
            eprintln!("{line}");
            last_line = line;
        }
    }
}
