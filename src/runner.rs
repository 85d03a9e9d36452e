//! The commands, glued together: resolve the workload and target, check the
//! output path, start the engine under the process's stop signal, show
//! progress, write the result file (or its fallback), print the summary,
//! pick the exit code.

use crate::check;
use crate::cli::{BaselineCommand, Cli, Command, RunArgs};
use crate::engine::{self, stop, Control, RunSetup};
use crate::metrics::sampler::ResourceMonitor;
use crate::metrics::Snapshot;
use crate::protocol::{Era, ProtocolChoice};
use crate::report::output::{OutPath, Saved};
use crate::report::{self, text, RunReport};
use crate::transport::{self, ConnectOptions};
use crate::workload::TargetSpec;
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
            let runs = stoppable(crate::tui::interactive(None, tui_hooks()))?;
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
        Some(Command::Run(args)) => stoppable(run_command(args)),
        Some(Command::Baseline(BaselineCommand::Save(args))) => {
            stoppable(check::commands::baseline_save(args))
        }
        Some(Command::Check(args)) => stoppable(check::commands::check(args)),
        Some(Command::Compare(args)) => check::commands::compare(args),
        Some(Command::Report { file, format }) => check::commands::report(&file, format),
        Some(Command::Profile(args)) => stoppable(crate::profile::command::run(args)),
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

/// Runs a command that puts load on a target on a runtime of its own, with
/// SIGINT, SIGTERM and SIGHUP turned into the process's stop signal.
fn stoppable<T>(
    command: impl std::future::Future<Output = anyhow::Result<T>>,
) -> anyhow::Result<T> {
    runtime()?.block_on(async {
        stop::listen();
        let result = command.await;
        // Child groups end here, while a second signal can still cut it short.
        crate::transport::group::end_all_async().await;
        result
    })
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
    let out = OutPath::new(
        args.out
            .clone()
            .unwrap_or_else(|| default_out(&workload.name)),
    );
    // Everything that can be wrong is found before any load.
    if out == OutPath::Stdout && specs.len() > 1 {
        return Err(anyhow!(
            "--out - writes one result to stdout; with {} targets give a file name (one result each)",
            specs.len()
        ));
    }
    out.check().map_err(|e| anyhow!(e))?;
    if let Some(pid) = args.target_pid {
        crate::metrics::process::check_pid(pid).map_err(|e| anyhow!("--target-pid {e}"))?;
    }
    let interactive = !args.headless
        && !args.quiet
        && args.format == report::formats::Format::Text
        && out != OutPath::Stdout
        && std::io::stdout().is_terminal();
    // The live screen shows one run; several targets in turn print lines.
    #[cfg(feature = "tui")]
    if let (true, [spec], OutPath::File(path)) = (interactive, specs.as_slice(), &out) {
        let first = crate::tui::RunPlan {
            workload,
            spec: spec.clone(),
            out: path.clone(),
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
        if let Some(signal) = stop::process().signal() {
            eprintln!(
                "mcptop: {}: not running the other {} target(s)",
                signal.name(),
                specs.len() - i
            );
            break;
        }
        let view = if args.quiet { View::Quiet } else { View::Lines };
        let monitor = ResourceMonitor::new(!args.no_memory_stats, monitor_pids.clone());
        let report = run_workload_with(&workload, spec, view, monitor).await?;
        let path = match &out {
            OutPath::File(p) if specs.len() > 1 => OutPath::File(numbered(p, i + 1)),
            _ => out.clone(),
        };
        let saved = report::output::save(&path, &report);
        let summary = report::formats::render(&report, args.format);
        // With the result on stdout, nothing else goes there.
        if path == OutPath::Stdout {
            eprint!("{summary}");
        } else {
            print!("{summary}");
        }
        let saved_exit = say_where_saved(&saved, args.format == report::formats::Format::Text);
        exit = worst(worst(exit, exit_for(&report)), saved_exit);
        reports.push(report);
    }
    if reports.len() > 1 && args.format == report::formats::Format::Text {
        print!("\n{}", text::comparison(&reports));
    }
    Ok(exit)
}

/// Says where a result went (`result: PATH` on stdout for text, else on
/// stderr), or that it went to the fallback file; `Exit::Error` unless it
/// is where it was asked to be.
pub fn say_where_saved(saved: &Result<Saved, String>, on_stdout: bool) -> Exit {
    match saved {
        Ok(Saved::File(path)) => {
            if on_stdout {
                println!("result: {}", path.display());
            } else {
                eprintln!("result: {}", path.display());
            }
            Exit::Ok
        }
        Ok(Saved::Stdout) => Exit::Ok,
        Ok(Saved::Fallback { error, path }) => {
            eprintln!("mcptop: error: {error}");
            eprintln!("mcptop: the result is saved in {} instead", path.display());
            Exit::Error
        }
        Err(e) => {
            eprintln!("mcptop: error: the result could not be saved: {e}");
            Exit::Error
        }
    }
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
    let mut saved_elsewhere = false;
    for run in runs {
        print!("{}", text::summary(&run.report));
        println!("result: {}", run.out.display());
        for note in &run.notes {
            println!("{note}");
        }
        saved_elsewhere |= run.saved_elsewhere;
    }
    let last = runs.last().map(|r| exit_for(&r.report)).unwrap_or(Exit::Ok);
    if saved_elsewhere {
        worst(last, Exit::Error)
    } else {
        last
    }
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

/// Runs one workload against one target with a view, stopping on the
/// process's stop signal; returns the report (also when stopped). Processes and the
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
    if workload.protocol.is_stateless() && matches!(spec, TargetSpec::LegacySse(_)) {
        return Err(anyhow!(
            "{}: protocol {} (stateless) runs over Streamable HTTP and stdio-framed streams \
             (stdio, tcp, ws, builtin), not the 2024-11-05 HTTP+SSE transport; use http://",
            spec.describe(),
            Era::STATELESS
        ));
    }
    let (events_tx, events_rx) = mpsc::unbounded_channel();
    let connector = transport::connector(
        spec,
        ConnectOptions {
            protocol: offered_protocol(workload),
            handshake_timeout: HANDSHAKE_TIMEOUT,
            http_connections: workload.connections,
            server_stream: workload.server_stream,
        },
        events_tx,
    );
    let (control_tx, control_rx) = mpsc::unbounded_channel();
    let (snap_tx, snap_rx) = watch::channel(Snapshot::default());
    let sampler = monitor.start();
    let printer = match view {
        View::Quiet => None,
        View::Lines => Some(tokio::spawn(print_progress(snap_rx))),
        View::Custom(start) => Some(start(snap_rx, control_tx.clone())),
    };
    let started_at = std::time::SystemTime::now();
    let outcome = engine::run(RunSetup {
        workload,
        connector: connector.as_ref(),
        target_events: events_rx,
        controls: control_rx,
        snapshots: snap_tx,
        tick: TICK,
        stop: stop::process().clone(),
        resources: Some(monitor.clone()),
    })
    .await;
    if let Some(p) = printer {
        let _ = p.await;
    }
    drop(control_tx);
    monitor.stop();
    if let Some(s) = sampler {
        let _ = tokio::task::spawn_blocking(move || s.join()).await;
    }
    let outcome = outcome.map_err(|e| anyhow!("{}: {e}", spec.describe()))?;
    Ok(RunReport::build(
        workload,
        &spec.describe(),
        started_at,
        outcome,
    ))
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
