//! Command-line interface: clap types only. Parsing here, work in `runner`.

use clap::{Args, Parser, Subcommand};
use std::path::PathBuf;

pub const EXIT_CODES: &str = "Exit codes:\n  0  ok\n  1  a threshold or regression check failed\n  2  usage, configuration or runtime error (bad workload, unreachable or crashed target)";

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
    },
    /// Serve the builtin MCP server
    Serve(ServeArgs),
}

#[derive(Debug, Args, Clone)]
pub struct RunArgs {
    /// A workload name (`mcptop list`) or a path to a workload file
    pub workload: String,
    /// `builtin` (default), `stdio:COMMAND ARGS...` (split as a shell would, no
    /// shell run), `http://HOST:PORT/PATH`, `tcp://HOST:PORT` or `ws://HOST:PORT/PATH`.
    /// Repeat to run the workload against each in turn and compare them.
    #[arg(long, short)]
    pub target: Vec<String>,
    /// Measured duration, e.g. 10s or 2m (replaces the workload's duration and stages)
    #[arg(long, short)]
    pub duration: Option<String>,
    /// Open loop at this many requests per second in total
    #[arg(long, conflicts_with = "concurrency")]
    pub rate: Option<f64>,
    /// Closed loop with this many requests in flight
    #[arg(long, short)]
    pub concurrency: Option<u32>,
    /// Number of MCP sessions
    #[arg(long, short)]
    pub sessions: Option<u32>,
    /// Stop after this many measured requests
    #[arg(long)]
    pub requests: Option<u64>,
    /// Warm-up before measuring, e.g. 1s (0s for none)
    #[arg(long)]
    pub warmup: Option<String>,
    /// Protocol era: `auto` (negotiate) or a version to force, e.g. 2025-06-18 or 2026-07-28
    #[arg(long)]
    pub protocol: Option<String>,
    /// Result file (JSON); default .mcptop/runs/WORKLOAD-TIME.json
    #[arg(long, short)]
    pub out: Option<PathBuf>,
    /// Plain progress lines instead of the live screen (implied when stdout is not a terminal)
    #[arg(long)]
    pub headless: bool,
    /// No progress lines, only the summary
    #[arg(long, short)]
    pub quiet: bool,
}

#[derive(Debug, Args)]
#[command(group(clap::ArgGroup::new("transport").required(true).args(["stdio", "http", "tcp", "ws"])))]
pub struct ServeArgs {
    /// Serve on stdin/stdout
    #[arg(long)]
    pub stdio: bool,
    /// Streamable HTTP on ADDR (e.g. 127.0.0.1:3001; port 0 picks one), path /mcp
    #[arg(long, value_name = "ADDR")]
    pub http: Option<String>,
    /// Newline-delimited JSON-RPC over TCP on ADDR
    #[arg(long, value_name = "ADDR")]
    pub tcp: Option<String>,
    /// WebSocket (subprotocol `mcp`) on ADDR
    #[arg(long, value_name = "ADDR")]
    pub ws: Option<String>,
    /// HTTP: reply with plain JSON instead of an event stream when possible
    #[arg(long, requires = "http")]
    pub json_response: bool,
    /// HTTP: no sessions; every request stands alone
    #[arg(long, requires = "http")]
    pub stateless: bool,
}
