//! The commands, glued together: resolve the workload and target, start the
//! engine with signal handling, show progress, write the result file, print
//! the summary, pick the exit code.

use crate::check;
use crate::cli::{BaselineCommand, Cli, Command, RunArgs};
use crate::engine::{self, Control, RunSetup};
use crate::metrics::Snapshot;
use crate::profile::sampler::{ResourceMonitor, TrackedConnector};
use crate::report::{self, text, RunReport};
use crate::target::{self, ConnectOptions, TargetSpec};
use crate::workload::{catalog, Overrides, Workload};
use crate::Exit;
use anyhow::{anyhow, Context};
use std::io::IsTerminal;
use std::path::PathBuf;
use std::time::Duration;
use tokio::sync::{mpsc, watch};

/// How long a session may take to answer `initialize`.
pub const HANDSHAKE_TIMEOUT: Duration = Duration::from_secs(10);
/// Snapshot period.
pub const TICK: Duration = Duration::from_secs(1);

pub fn dispatch(cli: Cli) -> anyhow::Result<Exit> {
    match cli.command {
        #[cfg(feature = "tui")]
        None if std::io::stdout().is_terminal() && std::io::stdin().is_terminal() => {
            let runs = runtime()?.block_on(crate::tui::interactive(None, tui_hooks()))?;
            Ok(print_runs(&runs))
        }
        None => {
            print_list();
            println!("\nRun one with `mcptop run NAME` (see `mcptop --help`).");
            Ok(Exit::Ok)
        }
        Some(Command::List) => {
            print_list();
            Ok(Exit::Ok)
        }
        Some(Command::Validate { workloads, target }) => {
            crate::validate::run(&workloads, target.as_deref())
        }
        Some(Command::Serve(args)) => serve(args),
        Some(Command::Run(args)) => runtime()?.block_on(run_command(args)),
        Some(Command::Baseline(BaselineCommand::Save(args))) => {
            runtime()?.block_on(check::commands::baseline_save(args))
        }
        Some(Command::Check(args)) => runtime()?.block_on(check::commands::check(args)),
        Some(Command::Compare(args)) => check::commands::compare(args),
        Some(Command::Report { file, format }) => check::commands::report(&file, format),
        Some(Command::Profile(args)) => runtime()?.block_on(crate::profile::command::run(args)),
    }
}

/// `mcptop serve`: the builtin server on stdio or on a network transport.
fn serve(args: crate::cli::ServeArgs) -> anyhow::Result<Exit> {
    use crate::server::net::{self, Listen};
    let listen = match (args.http, args.tcp, args.ws) {
        (Some(addr), _, _) => Some(Listen::Http {
            addr: net::listen_address(&addr, net::DEFAULT_HTTP_PORT),
            json_response: args.json_response,
            stateless: args.stateless,
        }),
        (_, Some(addr), _) => Some(Listen::Tcp {
            addr: net::listen_address(&addr, net::DEFAULT_TCP_PORT),
        }),
        (_, _, Some(addr)) => Some(Listen::Ws {
            addr: net::listen_address(&addr, net::DEFAULT_WS_PORT),
        }),
        _ => None,
    };
    let Some(listen) = listen else {
        runtime()?.block_on(crate::server::serve_stdio())?;
        return Ok(Exit::Ok);
    };
    let options = net::ServeOptions {
        access: crate::server::access::AccessPolicy::new(&args.allow_origin, &args.allow_host)?,
        header_timeout: args.header_timeout,
        idle_timeout: args
            .idle_timeout
            .unwrap_or(net::ServeOptions::default().idle_timeout),
        max_connections: args.max_connections as usize,
    };
    runtime()?.block_on(net::serve(listen, options))?;
    Ok(Exit::Ok)
}

pub(crate) fn runtime() -> anyhow::Result<tokio::runtime::Runtime> {
    tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .context("cannot start the async runtime")
}

fn print_list() {
    for entry in catalog::list() {
        let origin = match &entry.origin {
            catalog::Origin::Shipped => "shipped".to_string(),
            catalog::Origin::File(p) => p.display().to_string(),
        };
        println!("{:<14} {:<26} {}", entry.name, origin, entry.description);
    }
}

fn overrides(args: &RunArgs) -> Overrides {
    Overrides {
        duration: args.duration.clone(),
        rate: args.load.rate,
        concurrency: args.load.concurrency,
        sessions: args.load.sessions,
        requests: args.requests,
        warmup: args.load.warmup.clone(),
        protocol: args.protocol.clone(),
    }
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

async fn run_command(args: RunArgs) -> anyhow::Result<Exit> {
    let workload = catalog::resolve(&args.workload, &overrides(&args))?;
    let targets: Vec<String> = if args.target.is_empty() {
        vec![workload.target.clone().unwrap_or_else(|| "builtin".into())]
    } else {
        args.target.clone()
    };
    let specs = targets
        .iter()
        .map(|t| TargetSpec::parse(t))
        .collect::<Result<Vec<_>, _>>()?;
    let out = args
        .out
        .clone()
        .unwrap_or_else(|| default_out(&workload.name));
    let interactive = !args.headless
        && !args.quiet
        && args.format == report::formats::Format::Text
        && std::io::stdout().is_terminal();
    // The live screen shows one run; several targets in turn print lines.
    #[cfg(feature = "tui")]
    if let (true, [spec]) = (interactive, specs.as_slice()) {
        let first = crate::tui::RunPlan {
            workload,
            spec: spec.clone(),
            out,
        };
        let runs = crate::tui::interactive(Some(first), tui_hooks()).await?;
        return Ok(print_runs(&runs));
    }
    #[cfg(not(feature = "tui"))]
    let _ = interactive;
    let monitor_pids: Vec<u32> = args.target_pid.into_iter().collect();
    let mut reports = Vec::new();
    let mut exit = Exit::Ok;
    for (i, spec) in specs.iter().enumerate() {
        let view = if args.quiet { View::Quiet } else { View::Lines };
        let monitor = ResourceMonitor::new(!args.no_memory_stats, monitor_pids.clone());
        let report = run_workload_with(&workload, spec, view, monitor).await?;
        let path = if specs.len() == 1 {
            out.clone()
        } else {
            numbered(&out, i + 1)
        };
        report::write_report(&path, &report).map_err(|e| anyhow!(e))?;
        print!("{}", report::formats::render(&report, args.format));
        if args.format == report::formats::Format::Text {
            println!("result: {}", path.display());
        } else {
            eprintln!("result: {}", path.display());
        }
        exit = worst(exit, exit_for(&report));
        reports.push(report);
    }
    if reports.len() > 1 && args.format == report::formats::Format::Text {
        print!("\n{}", text::comparison(&reports));
    }
    Ok(exit)
}

/// `runs/x.json` -> `runs/x-2.json`, one result file per target.
fn numbered(path: &std::path::Path, n: usize) -> PathBuf {
    let stem = path
        .file_stem()
        .map(|s| s.to_string_lossy().into_owned())
        .unwrap_or_default();
    let ext = path
        .extension()
        .map(|e| format!(".{}", e.to_string_lossy()))
        .unwrap_or_default();
    path.with_file_name(format!("{stem}-{n}{ext}"))
}

fn worst(a: Exit, b: Exit) -> Exit {
    if a.code() >= b.code() {
        a
    } else {
        b
    }
}

/// The live screen's `p`: a CPU profile of mcptop's own process, captured in
/// the background while the run goes on.
#[cfg(feature = "tui")]
fn tui_hooks() -> crate::tui::TuiHooks {
    use std::sync::atomic::{AtomicBool, Ordering};
    use std::sync::Arc;
    /// A `p` capture's length: long enough for a readable graph, short
    /// enough to watch it land.
    const CAPTURE: Duration = Duration::from_secs(10);
    const HZ: u32 = 99;
    let busy = Arc::new(AtomicBool::new(false));
    let capture = move |run: &crate::tui::RunLabel, notify: crate::tui::Notify| {
        if busy.swap(true, Ordering::SeqCst) {
            return "a profile is already being captured".to_string();
        }
        let options = crate::profile::ProfileOptions {
            frequency: HZ,
            svg: crate::profile::default_svg(&format!("{}-live", run.workload)),
            title: format!(
                "{} -> {}, live capture of mcptop's own process",
                run.workload, run.target
            ),
            diff_against: None,
        };
        let svg = options.svg.clone();
        let busy = busy.clone();
        let log = svg.with_extension("log");
        std::thread::spawn(move || {
            // On the status line if the screen is still up, and beside the
            // graph in any case.
            let outcome = match crate::profile::capture_self(CAPTURE, &options) {
                Ok(out) => format!(
                    "profile written: {} samples in {}",
                    out.samples,
                    out.svg.display()
                ),
                Err(e) => format!("profile failed: {e}"),
            };
            let _ = crate::report::write_atomic(&log, format!("{outcome}\n").as_bytes());
            let _ = notify.send(outcome);
            busy.store(false, Ordering::SeqCst);
        });
        format!(
            "profiling mcptop for {}s at {HZ} Hz -> {} (outcome in .log)",
            CAPTURE.as_secs(),
            svg.display()
        )
    };
    crate::tui::TuiHooks {
        capture_profile: Some(Box::new(capture)),
    }
}

/// The summary of every run an interactive session finished (printed once
/// the terminal is back); the exit code is the last run's.
#[cfg(feature = "tui")]
fn print_runs(runs: &[crate::tui::FinishedRun]) -> Exit {
    for run in runs {
        print!("{}", text::summary(&run.report));
        println!("result: {}", run.out.display());
        for note in &run.notes {
            println!("{note}");
        }
    }
    runs.last().map(|r| exit_for(&r.report)).unwrap_or(Exit::Ok)
}

pub fn exit_for(report: &RunReport) -> Exit {
    if report.target_failed() {
        Exit::Error
    } else if !report.passed {
        Exit::Failed
    } else {
        Exit::Ok
    }
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

/// Runs one workload against one target with Ctrl-C/SIGTERM handling and a
/// view; returns the report (also on interruption). Processes and the
/// allocator are sampled; see `run_workload_with` to choose how.
pub async fn run_workload(
    workload: &Workload,
    spec: &TargetSpec,
    view: View,
) -> anyhow::Result<RunReport> {
    run_workload_with(workload, spec, view, ResourceMonitor::new(true, Vec::new())).await
}

/// `run_workload` with a given resource monitor: it samples mcptop and the
/// target while the run goes, fills the snapshots' memory and allocator
/// fields on their way to the view, and the result file's at the end.
pub async fn run_workload_with(
    workload: &Workload,
    spec: &TargetSpec,
    view: View,
    monitor: ResourceMonitor,
) -> anyhow::Result<RunReport> {
    if workload.protocol == crate::workload::STATELESS_PROTOCOL
        && matches!(spec, TargetSpec::LegacySse(_))
    {
        return Err(anyhow!(
            "{}: protocol {} (stateless) runs over Streamable HTTP and stdio-framed streams \
             (stdio, tcp, ws, builtin), not the 2024-11-05 HTTP+SSE transport; use http://",
            spec.describe(),
            crate::workload::STATELESS_PROTOCOL
        ));
    }
    let (events_tx, events_rx) = mpsc::unbounded_channel();
    let connector = target::connector(
        spec,
        ConnectOptions {
            protocol: offered_protocol(workload),
            handshake_timeout: HANDSHAKE_TIMEOUT,
            http_connections: workload.connections,
            server_stream: workload.server_stream,
        },
        events_tx,
    );
    let connector = TrackedConnector {
        inner: connector.as_ref(),
        monitor: monitor.clone(),
    };
    let (control_tx, control_rx) = mpsc::unbounded_channel();
    let (engine_tx, mut engine_rx) = watch::channel(Snapshot::default());
    let (snap_tx, snap_rx) = watch::channel(Snapshot::default());
    let relay_monitor = monitor.clone();
    // Snapshots pass through the monitor, which adds memory and allocator figures.
    let relay = tokio::spawn(async move {
        while engine_rx.changed().await.is_ok() {
            let mut snap = engine_rx.borrow_and_update().clone();
            relay_monitor.observe(&mut snap);
            let _ = snap_tx.send(snap);
        }
    });
    let sampler = monitor.start();
    // A live screen owns the terminal: a line printed on it would flash.
    let announce = !matches!(view, View::Custom(_));
    let signals = tokio::spawn(stop_on_signal(control_tx.clone(), announce));
    let printer = match view {
        View::Quiet => None,
        View::Lines => Some(tokio::spawn(print_progress(snap_rx))),
        View::Custom(start) => Some(start(snap_rx, control_tx.clone())),
    };
    let started_at = std::time::SystemTime::now();
    let outcome = engine::run(RunSetup {
        workload,
        connector: &connector,
        target_events: events_rx,
        controls: control_rx,
        snapshots: engine_tx,
        tick: TICK,
    })
    .await;
    signals.abort();
    let _ = relay.await;
    if let Some(p) = printer {
        let _ = p.await;
    }
    drop(control_tx);
    monitor.stop();
    if let Some(s) = sampler {
        let _ = tokio::task::spawn_blocking(move || s.join()).await;
    }
    let mut outcome = outcome.map_err(|e| anyhow!("{}: {e}", spec.describe()))?;
    monitor.finish(&mut outcome.metrics);
    Ok(RunReport::build(
        workload,
        &spec.describe(),
        started_at,
        outcome,
    ))
}

/// The protocol setting sessions open with. Batches exist in one era only,
/// so with `auto` a batch workload offers that era.
fn offered_protocol(workload: &Workload) -> String {
    use crate::workload::{AUTO_PROTOCOL, BATCH_PROTOCOL};
    if workload.batch > 1 && workload.protocol == AUTO_PROTOCOL {
        BATCH_PROTOCOL.to_string()
    } else {
        workload.protocol.clone()
    }
}

async fn stop_on_signal(control: mpsc::UnboundedSender<Control>, announce: bool) {
    #[cfg(unix)]
    {
        use tokio::signal::unix::{signal, SignalKind};
        let Ok(mut term) = signal(SignalKind::terminate()) else {
            let _ = tokio::signal::ctrl_c().await;
            let _ = control.send(Control::Stop);
            return;
        };
        tokio::select! {
            _ = tokio::signal::ctrl_c() => {}
            _ = term.recv() => {}
        }
    }
    #[cfg(not(unix))]
    let _ = tokio::signal::ctrl_c().await;
    if announce {
        eprintln!("mcptop: stopping; writing what was measured");
    }
    let _ = control.send(Control::Stop);
}

async fn print_progress(mut snaps: watch::Receiver<Snapshot>) {
    use crate::metrics::snapshot::Phase;
    let mut last_phase = Phase::Connecting;
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
        eprintln!("{}", text::progress_line(&snap));
    }
}
