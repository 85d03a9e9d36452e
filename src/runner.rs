//! The commands, glued together: resolve the workload and target, start the
//! engine with signal handling, show progress, write the result file, print
//! the summary, pick the exit code.

use crate::cli::{Cli, Command, RunArgs};
use crate::engine::{self, Control, RunSetup};
use crate::metrics::Snapshot;
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
        None => {
            print_list();
            println!("\nRun one with `mcptop run NAME` (see `mcptop --help`).");
            Ok(Exit::Ok)
        }
        Some(Command::List) => {
            print_list();
            Ok(Exit::Ok)
        }
        Some(Command::Validate { workloads }) => Ok(validate(&workloads)),
        Some(Command::Serve(args)) => {
            use crate::server::net::Listen;
            let listen = match (args.http, args.tcp, args.ws) {
                (Some(addr), _, _) => Some(Listen::Http {
                    addr,
                    json_response: args.json_response,
                    stateless: args.stateless,
                }),
                (_, Some(addr), _) => Some(Listen::Tcp { addr }),
                (_, _, Some(addr)) => Some(Listen::Ws { addr }),
                _ => None,
            };
            match listen {
                Some(listen) => runtime()?.block_on(crate::server::net::serve(listen))?,
                None => runtime()?.block_on(crate::server::serve_stdio())?,
            }
            Ok(Exit::Ok)
        }
        Some(Command::Run(args)) => runtime()?.block_on(run_command(args)),
    }
}

fn runtime() -> anyhow::Result<tokio::runtime::Runtime> {
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

fn validate(names: &[String]) -> Exit {
    let mut exit = Exit::Ok;
    for name in names {
        match catalog::resolve(name, &Overrides::default()) {
            Ok(w) => println!(
                "{name}: ok ({}, {} operation(s), {} session(s))",
                w.shape.describe(),
                w.ops.len(),
                w.sessions
            ),
            Err(e) => {
                eprintln!("mcptop: error: {e}");
                exit = Exit::Error;
            }
        }
    }
    exit
}

fn overrides(args: &RunArgs) -> Overrides {
    Overrides {
        duration: args.duration.clone(),
        rate: args.rate,
        concurrency: args.concurrency,
        sessions: args.sessions,
        requests: args.requests,
        warmup: args.warmup.clone(),
        protocol: args.protocol.clone(),
    }
}

fn default_out(workload: &str) -> PathBuf {
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
    let _interactive = !args.headless && !args.quiet && std::io::stdout().is_terminal();
    let mut reports = Vec::new();
    let mut exit = Exit::Ok;
    for (i, spec) in specs.iter().enumerate() {
        let view = if args.quiet { View::Quiet } else { View::Lines };
        let report = run_workload(&workload, spec, view).await?;
        let path = if specs.len() == 1 {
            out.clone()
        } else {
            numbered(&out, i + 1)
        };
        report::write_report(&path, &report).map_err(|e| anyhow!(e))?;
        print!("{}", text::summary(&report));
        println!("result: {}", path.display());
        exit = worst(exit, exit_for(&report));
        reports.push(report);
    }
    if reports.len() > 1 {
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
/// view; returns the report (also on interruption).
pub async fn run_workload(
    workload: &Workload,
    spec: &TargetSpec,
    view: View,
) -> anyhow::Result<RunReport> {
    if workload.protocol == crate::workload::STATELESS_PROTOCOL
        && !matches!(spec, TargetSpec::Http(_))
    {
        return Err(anyhow!(
            "{}: protocol {} (stateless) is implemented for http:// targets only; use auto or a 2025 version",
            spec.describe(),
            crate::workload::STATELESS_PROTOCOL
        ));
    }
    let (events_tx, events_rx) = mpsc::unbounded_channel();
    let connector = target::connector(
        spec,
        ConnectOptions {
            protocol: workload.protocol.clone(),
            handshake_timeout: HANDSHAKE_TIMEOUT,
            http_connections: workload.connections,
            server_stream: workload.server_stream,
        },
        events_tx,
    );
    let (control_tx, control_rx) = mpsc::unbounded_channel();
    let (snap_tx, snap_rx) = watch::channel(Snapshot::default());
    let signals = tokio::spawn(stop_on_signal(control_tx.clone()));
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
    })
    .await;
    signals.abort();
    if let Some(p) = printer {
        let _ = p.await;
    }
    drop(control_tx);
    let outcome = outcome.map_err(|e| anyhow!("{}: {e}", spec.describe()))?;
    Ok(RunReport::build(
        workload,
        &spec.describe(),
        started_at,
        outcome,
    ))
}

async fn stop_on_signal(control: mpsc::UnboundedSender<Control>) {
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
    eprintln!("mcptop: stopping; writing what was measured");
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
