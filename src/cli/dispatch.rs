//! The dispatcher: maps each command of the command line to the library
//! (the run service for anything that puts load on a target), and prints
//! what comes back. `mcptop run` lives here too: it picks the view (the
//! live screen or progress lines), runs each target in turn and prints
//! their summaries.

use super::{BaselineCommand, Cli, Command, RunArgs};
use crate::engine::stop;
use crate::metrics::sampler::ResourceMonitor;
use crate::report::formats::Format;
use crate::report::output::{numbered, OutPath, OutputError, Saved};
use crate::report::{self, text};
use crate::run::{self, stoppable, stoppable_on, Exit, RunRequest, View};
use crate::workload::{catalog, Overrides};
use anyhow::anyhow;
use std::io::IsTerminal;
#[cfg(feature = "tui")]
use std::time::Duration;

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
        Some(Command::Validate {
            workloads,
            target,
            deployed,
        }) => super::validate::run(&workloads, target.as_deref(), &deployed.overrides()),
        Some(Command::Serve(args)) => serve(args),
        Some(Command::Run(args)) => {
            let workers = run::workers_for(args.load.threads, &args.workload, &args.target)?;
            stoppable_on(workers, run_command(args))
        }
        Some(Command::Baseline(BaselineCommand::Save(args))) => {
            stoppable(super::gate::baseline_save(args))
        }
        Some(Command::Check(args)) => stoppable(super::gate::check(args)),
        Some(Command::Compare(args)) => super::gate::compare(args),
        Some(Command::Profile(args)) => {
            let given: Vec<String> = args.target.iter().cloned().collect();
            let workers = run::workers_for(args.load.threads, &args.workload, &given)?;
            stoppable_on(workers, super::profile::run(args))
        }
        Some(Command::Calibrate(args)) => stoppable(super::calibrate::run(args)),
        // Hooks: outputs (report in every format, merge, completions, man page).
        Some(Command::Report(args)) => super::export::report(&args),
        Some(Command::Merge(args)) => super::export::merge(args),
        Some(Command::Completions { shell }) => super::outputs::completions(shell),
        Some(Command::Man { command }) => super::outputs::man(command.as_deref()),
    }
}

/// `mcptop serve`: the builtin server on stdio or on a network transport.
fn serve(args: super::ServeArgs) -> anyhow::Result<Exit> {
    use crate::server::net::{self, Listen};
    let tls = crate::server::https::tls_for_serve(
        args.https.is_some(),
        &crate::server::https::CertSource {
            cert: args.cert.as_deref(),
            key: args.key.as_deref(),
            self_signed: args.self_signed,
        },
    )?;
    let https = args
        .https
        .map(|a| net::listen_address(&a, net::DEFAULT_HTTPS_PORT));
    let http = https.or(args
        .http
        .map(|a| net::listen_address(&a, net::DEFAULT_HTTP_PORT)));
    let listen = match (http, args.tcp, args.ws) {
        (Some(addr), _, _) => Some(Listen::Http {
            addr,
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
        run::runtime()?.block_on(crate::server::serve_stdio())?;
        return Ok(Exit::Ok);
    };
    let options = net::ServeOptions {
        access: crate::server::access::AccessPolicy::new(&args.allow_origin, &args.allow_host)?,
        header_timeout: args.header_timeout,
        idle_timeout: args
            .idle_timeout
            .unwrap_or(net::ServeOptions::default().idle_timeout),
        max_connections: args.max_connections as usize,
        tls,
        event_store: !args.no_event_store,
    };
    run::runtime()?.block_on(net::serve(listen, options))?;
    Ok(Exit::Ok)
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
        connect_timeout: args.load.connect_timeout.clone(),
        protocol: args.protocol.clone(),
        headers: args.deployed.headers.clone(),
        tls: args.deployed.tls(),
        runtime: args.runtime.clone(),
        failover_targets: if args.failover {
            args.target.clone()
        } else {
            Vec::new()
        },
    }
}

async fn run_command(args: RunArgs) -> anyhow::Result<Exit> {
    if args.failover && args.target.len() < 2 {
        return Err(anyhow!(
            "--failover moves sessions between targets: give --target for each (at least two)"
        ));
    }
    let workload = catalog::resolve(&args.workload, &overrides(&args))?;
    // Hook: outputs (the shard's share, --hdr-log/--html checked, --prometheus listening).
    let (workload, outputs) = super::export::RunOutputs::prepare(&args.outputs, workload).await?;
    if workload.chaos.failover.is_some() && !args.failover && !args.target.is_empty() {
        return Err(anyhow!(
            "workload {} fails over between its `targets`; to give others, repeat --target \
             with --failover",
            workload.name
        ));
    }
    let specs = if args.target.is_empty() || args.failover {
        vec![run::target_of(&workload, None)?]
    } else {
        args.target
            .iter()
            .map(|t| run::target_of(&workload, Some(t)))
            .collect::<Result<Vec<_>, _>>()?
    };
    let out = OutPath::new(
        args.out
            .clone()
            .unwrap_or_else(|| run::default_out(&workload.name)),
    );
    // Everything that can be wrong is found before any load.
    if out == OutPath::Stdout && specs.len() > 1 {
        return Err(anyhow!(
            "--out - writes one result to stdout; with {} targets give a file name (one result each)",
            specs.len()
        ));
    }
    out.check()?;
    for &pid in &args.target_pid {
        crate::metrics::process::check_pid(pid).map_err(|e| anyhow!("--target-pid {e}"))?;
    }
    let interactive = !args.headless
        && !args.outputs.wants_headless()
        && !args.quiet
        && args.format == Format::Text
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
        let written = runs
            .iter()
            .fold(Exit::Ok, |e, r| e.worst(outputs.write(&r.run.report, 1, 1)));
        return Ok(print_runs(&runs).worst(written));
    }
    #[cfg(not(feature = "tui"))]
    let _ = interactive;
    run_each(&args, &workload, &specs, &out, &outputs).await
}

/// Runs `workload` against each target in turn with progress lines (or
/// quietly), printing each summary and where its result went.
async fn run_each(
    args: &RunArgs,
    workload: &crate::workload::Workload,
    specs: &[crate::workload::TargetSpec],
    out: &OutPath,
    outputs: &super::export::RunOutputs,
) -> anyhow::Result<Exit> {
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
        let path = match out {
            OutPath::File(p) if specs.len() > 1 => OutPath::File(numbered(p, i + 1)),
            _ => out.clone(),
        };
        let monitor = ResourceMonitor::new(!args.no_memory_stats, args.target_pid.clone());
        let request = RunRequest::new(workload, spec)
            .saved_to(&path)
            .resources(monitor)
            .runtime(crate::runtime::RuntimeOptions {
                gc_report: !args.no_gc_report,
                for_profiler: false,
            });
        let request = outputs.hook(request);
        let finished = run::execute(request, view).await?;
        let summary = report::formats::render(&finished.report, args.format);
        // With the result on stdout, nothing else goes there.
        if path == OutPath::Stdout {
            eprint!("{summary}");
        } else if args.format == Format::Text {
            // Hook: outputs (colour on a terminal, NO_COLOR respected).
            print!("{}", super::colour::paint(&summary));
        } else {
            print!("{summary}");
        }
        if let Some(saved) = &finished.saved {
            say_where_saved(saved, args.format == Format::Text);
        }
        exit = exit.worst(finished.exit());
        exit = exit.worst(outputs.write(&finished.report, i + 1, specs.len()));
        reports.push(finished.report);
    }
    if reports.len() > 1 && args.format == Format::Text {
        print!("\n{}", text::comparison(&reports));
    }
    Ok(exit)
}

/// Says where a result went (`result: PATH` on stdout for text, else on
/// stderr), or that it went to the fallback file (`FinishedRun::exit` makes
/// that an error).
pub fn say_where_saved(saved: &Result<Saved, OutputError>, on_stdout: bool) {
    match saved {
        Ok(Saved::File(path)) => {
            if on_stdout {
                println!("result: {}", path.display());
            } else {
                eprintln!("result: {}", path.display());
            }
        }
        Ok(Saved::Stdout) => {}
        Ok(Saved::Fallback { error, path }) => {
            eprintln!("mcptop: error: {error}");
            eprintln!("mcptop: the result is saved in {} instead", path.display());
        }
        Err(e) => eprintln!("mcptop: error: the result could not be saved: {e}"),
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
            jvm: false,
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
fn print_runs(runs: &[crate::tui::ScreenRun]) -> Exit {
    for run in runs {
        print!("{}", text::summary(&run.run.report));
        println!("result: {}", run.out.display());
        for note in &run.notes {
            println!("{note}");
        }
    }
    let saved_elsewhere = runs
        .iter()
        .any(|r| matches!(r.run.saved, Some(Ok(Saved::Fallback { .. }))));
    let last = runs
        .last()
        .map(|r| Exit::for_report(&r.run.report))
        .unwrap_or(Exit::Ok);
    if saved_elsewhere {
        last.worst(Exit::Error)
    } else {
        last
    }
}
