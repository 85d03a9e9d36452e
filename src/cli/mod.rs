//! The command line, the top floor: the clap types (here), the dispatcher
//! mapping each command to the library (`dispatch`), and the commands that
//! are only glue: the gate's (`gate`), `profile` and `validate`. Nothing
//! below imports this module.

pub mod calibrate;
pub mod colour;
pub mod dispatch;
pub mod export;
pub mod gate;
pub mod outputs;
pub mod profile;
pub mod validate;

use crate::report::formats::Format;
use clap::{Args, Parser, Subcommand};
use std::path::PathBuf;

pub const EXIT_CODES: &str = "Exit codes:\n  0  ok\n  1  a threshold or regression check failed\n  2  usage, configuration or runtime error (bad workload, unreachable or crashed target, result not written where asked)\n  129, 130, 143  stopped by SIGHUP, SIGINT (Ctrl-C) or SIGTERM: the result so far is written, no baseline is; a second SIGINT or SIGTERM exits at once";

#[derive(Debug, Parser)]
#[command(
    name = "mcptop",
    version,
    about = "Live profiler, load generator and regression gate for MCP servers",
    after_help = EXIT_CODES
)]
pub struct Cli {
    #[command(subcommand)]
    pub command: Option<Command>,
}

#[derive(Debug, Subcommand)]
pub enum Command {
    /// Run a workload against a target and report latency, throughput and errors
    #[command(after_help = EXIT_CODES)]
    Run(RunArgs),
    /// List the workloads (shipped, plus ./workloads/*.toml)
    List,
    /// Check workload files and report every problem with its file and key
    #[command(after_help = EXIT_CODES)]
    Validate {
        /// Workload files or names
        #[arg(required = true)]
        workloads: Vec<String>,
        /// Also connect to this target and report every operation whose tool,
        /// resource or prompt it does not list (with the first workload's
        /// headers, auth and TLS settings, and these flags)
        #[arg(long, short)]
        target: Option<String>,
        #[command(flatten)]
        deployed: DeployedArgs,
    },
    /// Run a workload and record a CPU flame graph of the measured phase
    /// (mcptop itself for the builtin target, the server processes with perf otherwise)
    #[command(after_help = EXIT_CODES)]
    Profile(ProfileArgs),
    /// Serve the builtin MCP server
    Serve(ServeArgs),
    /// Save baselines: run workloads several times and store the runs
    #[command(subcommand)]
    Baseline(BaselineCommand),
    /// Compare fresh runs with the baseline; exit 1 on a significant regression
    #[command(after_help = EXIT_CODES)]
    Check(CheckArgs),
    /// Compare result or baseline files with the same verdict table (the first is the reference)
    #[command(after_help = EXIT_CODES)]
    Compare(CompareArgs),
    /// Measure this machine's floor (mcptop's send lag, the no-op round trip)
    /// and save it for later result files and `compare`
    #[command(after_help = EXIT_CODES)]
    Calibrate(calibrate::CalibrateArgs),
    /// Print a saved result file as text, Markdown, JUnit XML, HTML or CSV
    /// (or read back an HDR interval log)
    Report(outputs::ReportArgs),
    /// Merge the result files of a sharded run (--shard I/N) into one, exactly
    #[command(after_help = EXIT_CODES)]
    Merge(outputs::MergeArgs),
    /// Print a shell completion script (e.g. `mcptop completions bash > /etc/bash_completion.d/mcptop`)
    Completions {
        #[arg(value_enum)]
        shell: outputs::Shell,
    },
    /// Print the man page (roff) of mcptop or of one command (`mcptop man run | man -l -`)
    Man {
        /// A command (default: mcptop itself)
        command: Option<String>,
    },
}

#[derive(Debug, Subcommand)]
pub enum BaselineCommand {
    /// Run each workload --repeats times and store the runs in the baseline file
    Save(GateArgs),
}

#[derive(Debug, Args, Clone)]
pub struct GateArgs {
    /// Workload names or files (default: mcptop.toml's [check] workloads, else the baseline's)
    pub workloads: Vec<String>,
    /// Baseline file (default: mcptop.toml's [check] baseline, else .mcptop/baselines/baseline.json)
    #[arg(long)]
    pub baseline: Option<PathBuf>,
    /// Short runs (1 s each after 300 ms warm-up) for a pre-commit check
    #[arg(long)]
    pub quick: bool,
    /// Runs per workload (default 5)
    #[arg(long)]
    pub repeats: Option<u32>,
    /// Target for every workload (default: each workload's own)
    #[arg(long, short)]
    pub target: Option<String>,
    #[command(flatten)]
    pub deployed: DeployedArgs,
}

#[derive(Debug, Args, Clone)]
pub struct CheckArgs {
    #[command(flatten)]
    pub gate: GateArgs,
    /// Replace the baseline with these runs when the check passes
    #[arg(long)]
    pub update_baseline: bool,
    #[arg(long, value_enum, default_value = "text")]
    pub format: Format,
    /// Write a git pre-commit hook running `mcptop check --quick`
    #[arg(long)]
    pub install_git_hook: bool,
    /// With --install-git-hook: replace an existing hook
    #[arg(long, requires = "install_git_hook")]
    pub force: bool,
    /// Also write the verdict as a self-contained HTML page, each metric's interval drawn
    #[arg(long, value_name = "FILE")]
    pub html: Option<PathBuf>,
}

#[derive(Debug, Args, Clone)]
pub struct CompareArgs {
    /// Baseline side: a result file or a baseline file
    pub a: PathBuf,
    /// Current side: a result file or a baseline file
    pub b: PathBuf,
    /// More files, each compared with the first (the reference)
    pub more: Vec<PathBuf>,
    #[arg(long, value_enum, default_value = "text")]
    pub format: Format,
    /// Compare even when the two sides ran different workloads (another
    /// name, or the same name with other operations or load settings)
    #[arg(long)]
    pub force: bool,
    /// Also write the verdict as a self-contained HTML page, each metric's interval drawn
    #[arg(long, value_name = "FILE")]
    pub html: Option<PathBuf>,
}

#[derive(Debug, Args, Clone)]
pub struct RunArgs {
    /// A workload name (`mcptop list`) or a path to a workload file
    pub workload: String,
    /// `builtin` (default), `stdio:COMMAND ARGS...` (split as a shell would, no
    /// shell run), `http(s)://HOST:PORT/PATH`, `tcp://HOST:PORT` or `ws(s)://HOST:PORT/PATH`.
    /// Repeat to run the workload against each in turn and compare them
    /// (with --failover: the targets sessions fail over between, in order).
    #[arg(long, short)]
    pub target: Vec<String>,
    /// Sessions start on the first --target and move to the next when
    /// theirs fails (the workload's `targets` with `failover = true`)
    #[arg(long)]
    pub failover: bool,
    /// Measured duration, e.g. 10s or 2m (replaces the workload's duration and stages)
    #[arg(long, short)]
    pub duration: Option<String>,
    #[command(flatten)]
    pub load: LoadArgs,
    /// Stop after this many measured requests
    #[arg(long)]
    pub requests: Option<u64>,
    /// Protocol era: `auto` (negotiate) or a version to force, e.g. 2025-06-18 or 2026-07-28
    #[arg(long)]
    pub protocol: Option<String>,
    /// Result file (JSON), checked before the run; `-` for stdout (the summary
    /// then goes to stderr). Default .mcptop/runs/WORKLOAD-TIME.json
    #[arg(long, short)]
    pub out: Option<PathBuf>,
    /// Plain progress lines instead of the live screen (implied when stdout is not a terminal)
    #[arg(long)]
    pub headless: bool,
    /// No progress lines, only the summary
    #[arg(long, short)]
    pub quiet: bool,
    /// Format of the final summary
    #[arg(long, value_enum, default_value = "text")]
    pub format: Format,
    /// Also sample this process as the target (a server mcptop did not start);
    /// it must exist. Repeatable: with failover, one per target in their
    /// order (a fault's `target = N` signals the Nth)
    #[arg(long)]
    pub target_pid: Vec<u32>,
    /// Do not sample processes nor count allocations (to measure their cost)
    #[arg(long)]
    pub no_memory_stats: bool,
    /// The target's runtime, for its GC report: auto (guess from the command), node,
    /// python, go, jvm or native (replaces the workload's `runtime`)
    #[arg(long, value_name = "RUNTIME")]
    pub runtime: Option<String>,
    /// Leave the target's GC reporting off (to measure its cost)
    #[arg(long)]
    pub no_gc_report: bool,
    #[command(flatten)]
    pub deployed: DeployedArgs,
    #[command(flatten)]
    pub outputs: outputs::OutputArgs,
}

/// Reaching deployed servers: TLS trust and request headers.
#[derive(Debug, Args, Clone, Default)]
pub struct DeployedArgs {
    /// Request header "Name: value" (HTTP requests, the WebSocket upgrade);
    /// `${ENV_VAR}` is expanded; the value is never printed. Repeatable
    #[arg(long = "header", short = 'H', value_name = "NAME: VALUE", value_parser = header_flag)]
    pub headers: Vec<(String, String)>,
    /// Also trust the PEM certificates in FILE (a private CA, or a
    /// self-signed server's certificate) for https:// and wss://
    #[arg(long, value_name = "FILE", conflicts_with = "insecure")]
    pub ca_cert: Option<PathBuf>,
    /// Do not verify server certificates (said on screen and in the result file)
    #[arg(long)]
    pub insecure: bool,
}

impl DeployedArgs {
    /// The workload changes these flags ask for.
    pub fn overrides(&self) -> crate::workload::Overrides {
        crate::workload::Overrides {
            headers: self.headers.clone(),
            tls: self.tls(),
            ..crate::workload::Overrides::default()
        }
    }

    /// The TLS trust these flags ask for.
    pub fn tls(&self) -> crate::transport::tls::TlsSettings {
        crate::transport::tls::TlsSettings {
            ca_cert: self.ca_cert.clone(),
            insecure: self.insecure,
        }
    }
}

fn header_flag(text: &str) -> Result<(String, String), String> {
    crate::transport::headers::parse_flag(text)
}

/// The load-shape flags `run` and `profile` share.
#[derive(Debug, Args, Clone)]
pub struct LoadArgs {
    /// Open loop at this many requests per second in total
    #[arg(long, conflicts_with = "concurrency")]
    pub rate: Option<f64>,
    /// Closed loop with this many requests in flight
    #[arg(long, short)]
    pub concurrency: Option<u32>,
    /// Number of MCP sessions
    #[arg(long, short)]
    pub sessions: Option<u32>,
    /// Warm-up before measuring, e.g. 1s (0s for none)
    #[arg(long)]
    pub warmup: Option<String>,
    /// How long opening a session may take, up to the reply to `initialize`
    /// (a stdio server's start-up included), e.g. 30s (default 10s)
    #[arg(long, value_name = "DURATION")]
    pub connect_timeout: Option<String>,
    /// Worker threads of mcptop's runtime (default: one per core, or half the
    /// cores for an HTTP target on a loopback address; TOKIO_WORKER_THREADS is
    /// read too)
    #[arg(long, value_name = "N")]
    pub threads: Option<usize>,
}

#[derive(Debug, Args, Clone)]
pub struct ProfileArgs {
    /// A workload name (`mcptop list`) or a path to a workload file
    pub workload: String,
    /// `builtin` (default: profiles mcptop in-process) or `stdio:COMMAND ARGS...` (profiles the children with perf)
    #[arg(long, short)]
    pub target: Option<String>,
    /// Measured (and profiled) duration, e.g. 10s or 2m, as `run --duration`
    /// (a bare number is seconds; replaces the workload's duration)
    #[arg(long = "duration", short = 'd', alias = "seconds", value_name = "DURATION", value_parser = duration_seconds)]
    pub seconds: Option<f64>,
    /// Samples per second
    #[arg(long, short = 'F', default_value_t = crate::profile::DEFAULT_HZ)]
    pub frequency: u32,
    /// Flame graph SVG; the folded stacks go beside it (.folded). Default profiles/WORKLOAD-TIME.svg
    #[arg(long, value_name = "FILE")]
    pub svg: Option<PathBuf>,
    /// An earlier .folded capture: also writes a differential flame graph (NAME.diff.svg)
    #[arg(long)]
    pub diff: Option<PathBuf>,
    /// Profile this process with perf (a server mcptop did not start)
    #[arg(long)]
    pub target_pid: Option<u32>,
    #[command(flatten)]
    pub load: LoadArgs,
    /// Result file (JSON), as `run --out`. Default .mcptop/runs/WORKLOAD-TIME.json
    /// (an old-style `-o FILE.svg` still names the flame graph, with a note)
    #[arg(long, short, alias = "result", value_name = "FILE")]
    pub out: Option<PathBuf>,
    /// The target's runtime: auto (guess from the command), node, python, go, jvm or
    /// native; picks the profiler (replaces the workload's `runtime`)
    #[arg(long, value_name = "RUNTIME")]
    pub runtime: Option<String>,
    /// The profiler for a stdio target: perf or py-spy (default: the one that fits
    /// the runtime: py-spy for Python, perf with the runtime's symbol map otherwise)
    #[arg(long, value_name = "PROFILER")]
    pub profiler: Option<String>,
    /// No progress lines, only the summary
    #[arg(long, short)]
    pub quiet: bool,
}

#[derive(Debug, Args)]
#[command(group(clap::ArgGroup::new("transport").required(true).args(["stdio", "http", "https", "tcp", "ws"])))]
#[command(after_help = SERVE_HELP)]
pub struct ServeArgs {
    /// Serve on stdin/stdout
    #[arg(long)]
    pub stdio: bool,
    /// Streamable HTTP on ADDR, path /mcp [ADDR default: 127.0.0.1:3001]
    #[arg(long, value_name = "ADDR", num_args = 0..=1, default_missing_value = "")]
    pub http: Option<String>,
    /// Streamable HTTP over TLS on ADDR, path /mcp; needs --cert and --key,
    /// or --self-signed [ADDR default: 127.0.0.1:3443]
    #[arg(long, value_name = "ADDR", num_args = 0..=1, default_missing_value = "")]
    pub https: Option<String>,
    /// HTTPS, WSS: the server's PEM certificate chain; with --self-signed,
    /// where to write the generated certificate (for clients' --ca-cert)
    #[arg(long, value_name = "FILE", conflicts_with_all = ["stdio", "tcp"])]
    pub cert: Option<PathBuf>,
    /// HTTPS, WSS: the server's PEM private key
    #[arg(long, value_name = "FILE", requires = "cert", conflicts_with_all = ["stdio", "tcp", "self_signed"])]
    pub key: Option<PathBuf>,
    /// HTTPS, WSS: make a throwaway self-signed certificate for localhost,
    /// 127.0.0.1 and ::1 and print its SHA-256 fingerprint
    #[arg(long, conflicts_with_all = ["stdio", "tcp"])]
    pub self_signed: bool,
    /// Newline-delimited JSON-RPC over TCP on ADDR [ADDR default: 127.0.0.1:3002]
    #[arg(long, value_name = "ADDR", num_args = 0..=1, default_missing_value = "")]
    pub tcp: Option<String>,
    /// WebSocket (subprotocol `mcp`) on ADDR; WSS with --cert/--key or
    /// --self-signed [ADDR default: 127.0.0.1:3003]
    #[arg(long, value_name = "ADDR", num_args = 0..=1, default_missing_value = "")]
    pub ws: Option<String>,
    /// HTTP: reply with plain JSON instead of an event stream when possible
    #[arg(long, conflicts_with_all = ["stdio", "tcp", "ws"])]
    pub json_response: bool,
    /// HTTP: no sessions; every request stands alone
    #[arg(long, conflicts_with_all = ["stdio", "tcp", "ws"])]
    pub stateless: bool,
    /// HTTP: keep no event store (only rmcp's last 16 events per stream can
    /// be replayed on `Last-Event-ID`); for measuring what the store costs
    #[arg(long, conflicts_with_all = ["stdio", "tcp", "ws"])]
    pub no_event_store: bool,
    /// HTTP, WebSocket: also accept requests from this browser origin
    /// (SCHEME://HOST[:PORT|:*], `null`, or `*` for any); repeatable
    #[arg(long, value_name = "ORIGIN", conflicts_with_all = ["stdio", "tcp"])]
    pub allow_origin: Vec<String>,
    /// HTTP, WebSocket: also accept this Host header (a name; `*` for any); repeatable
    #[arg(long, value_name = "HOST", conflicts_with_all = ["stdio", "tcp"])]
    pub allow_host: Vec<String>,
    /// Time to receive what a client sends first: an HTTP request head (and
    /// then its body), the WebSocket upgrade, a TCP client's first message
    #[arg(long, value_name = "DURATION", default_value = "10s", value_parser = positive_duration)]
    pub header_timeout: std::time::Duration,
    /// HTTP: close a kept-alive connection after this long without a request [default: 60s]
    #[arg(long, value_name = "DURATION", value_parser = positive_duration, conflicts_with_all = ["stdio", "tcp", "ws"])]
    pub idle_timeout: Option<std::time::Duration>,
    /// Connections open at once; past it a new one is told "busy" (HTTP 503) and closed
    #[arg(long, value_name = "N", default_value_t = 4096, value_parser = clap::value_parser!(u32).range(1..))]
    pub max_connections: u32,
}

/// `profile --duration`: `10s`, `2m`, `1500ms`, or a bare number of
/// seconds (what the old `--seconds` took).
fn duration_seconds(text: &str) -> Result<f64, String> {
    if let Ok(s) = text.trim().parse::<f64>() {
        return if s > 0.0 && s.is_finite() {
            Ok(s)
        } else {
            Err("must be more than 0".to_string())
        };
    }
    positive_duration(text).map(|d| d.as_secs_f64())
}

/// A humantime duration above zero (a zero timeout would close every
/// connection at once).
fn positive_duration(text: &str) -> Result<std::time::Duration, String> {
    match humantime::parse_duration(text) {
        Ok(d) if d.is_zero() => Err("must be more than 0".to_string()),
        Ok(d) => Ok(d),
        Err(e) => Err(format!("expected a duration like 10s or 500ms: {e}")),
    }
}

pub const SERVE_HELP: &str = "ADDR is HOST:PORT, a port alone (3001 or :3001, on 127.0.0.1) or a host alone (default port).\n\
Any address that is not loopback gets a warning: the server has no authentication.\n\
HTTP and WebSocket refuse (403) a browser Origin that is not loopback and a Host that is\n\
neither a loopback name nor the address the client connected to (DNS rebinding);\n\
TCP refuses a client whose first bytes are not JSON-RPC. stdio has no Origin to check.";
