//! `mcptop calibrate`: measures this machine's floor with the current build.
//! Open loop against the builtin no-op (`ping`, in-process) at a few rates
//! and one closed loop, one session with pipeline 1 each, through the same
//! run service as every run; prints the send lag and the no-op's round trip
//! and what they mean, and saves the calibration (atomically) where later
//! runs pick it up for their environment section.

use crate::metrics::sampler::ResourceMonitor;
use crate::metrics::units::fmt_us;
use crate::report::calibration::{self, Calibration, CalibrationRun};
use crate::report::RunReport;
use crate::run::{self, Exit, RunRequest, View};
use crate::workload::{TargetSpec, Workload};
use anyhow::{anyhow, Context};
use clap::Args;
use std::path::PathBuf;
use std::time::Duration;

/// Highest rate `calibrate` accepts: beyond it one session with pipeline 1
/// measures its own queueing, not the floor.
const MAX_RATE: f64 = 50_000.0;

#[derive(Debug, Args, Clone)]
pub struct CalibrateArgs {
    /// Open-loop rates to measure, requests/s, comma-separated
    #[arg(long, value_delimiter = ',', default_value = "500,2000,5000")]
    pub rates: Vec<f64>,
    /// Measured time of each run, e.g. 2s
    #[arg(long, short, default_value = "2s")]
    pub duration: String,
    /// Where the calibration goes [default: .mcptop/calibration.json]
    #[arg(long, short)]
    pub out: Option<PathBuf>,
}

/// A no-op workload: `ping` against the builtin server, one session,
/// pipeline 1, open loop at `rate` or closed loop with one in flight.
fn no_op(rate: Option<f64>, duration: &str) -> Result<Workload, crate::workload::WorkloadError> {
    let load = match rate {
        Some(r) => format!("rate = {r}"),
        None => "concurrency = 1".to_string(),
    };
    let text = format!(
        "name = \"calibrate\"\ntarget = \"builtin\"\nsessions = 1\npipeline = 1\n{load}\n\
         duration = \"{duration}\"\nwarmup = \"300ms\"\ntimeout = \"5s\"\n\n\
         [[ops]]\nmethod = \"ping\"\n"
    );
    Workload::parse(&text, "mcptop calibrate")
}

fn calibration_run(report: &RunReport, rate: Option<f64>) -> CalibrationRun {
    let m = &report.metrics;
    CalibrationRun {
        shape: if rate.is_some() { "open" } else { "closed" }.into(),
        rate,
        concurrency: rate.is_none().then_some(1),
        requests: m.overall.ok,
        send_lag: m.send_lag.lag,
        round_trip: m.overall.corrected,
        service: m.overall.service,
    }
}

fn check(args: &CalibrateArgs) -> anyhow::Result<Duration> {
    let d = humantime::parse_duration(&args.duration)
        .map_err(|e| anyhow!("--duration {:?}: expected e.g. 2s: {e}", args.duration))?;
    if d.is_zero() || d > Duration::from_secs(600) {
        return Err(anyhow!("--duration must be above 0 and at most 10m"));
    }
    if let Some(bad) = args
        .rates
        .iter()
        .find(|r| !r.is_finite() || **r <= 0.0 || **r > MAX_RATE)
    {
        return Err(anyhow!(
            "--rates: {bad} is not a rate between 0 and {MAX_RATE} requests/s"
        ));
    }
    Ok(d)
}

pub async fn run(args: CalibrateArgs) -> anyhow::Result<Exit> {
    check(&args)?;
    let path = args.out.clone().unwrap_or_else(calibration::default_path);
    let shapes: Vec<Option<f64>> = args
        .rates
        .iter()
        .map(|r| Some(*r))
        .chain(std::iter::once(None))
        .collect();
    let mut runs = Vec::new();
    for rate in shapes {
        if let Some(signal) = crate::engine::stop::process().signal() {
            return Ok(Exit::Stopped(signal));
        }
        let workload = no_op(rate, &args.duration)?;
        let request = RunRequest::new(&workload, &TargetSpec::Builtin)
            .resources(ResourceMonitor::new(false, Vec::new()));
        let finished = run::execute(request, View::Quiet).await?;
        let r = calibration_run(&finished.report, rate);
        println!("{}", run_line(&r));
        runs.push(r);
    }
    let calibration = Calibration::new(runs);
    println!("{}", meaning(&calibration));
    calibration
        .save(&path)
        .with_context(|| "the calibration was measured but not saved".to_string())?;
    println!(
        "saved {}; result files made from here on carry it in their environment section",
        path.display()
    );
    Ok(Exit::Ok)
}

fn run_line(r: &CalibrationRun) -> String {
    let load = match r.rate {
        Some(rate) => format!("open   {rate:>7.0}/s"),
        None => "closed  1 in flight".to_string(),
    };
    let lag = &r.send_lag;
    format!(
        "{load}  send lag p50 {:>6} p99 {:>6} max {:>7} | no-op round trip p50 {:>6} p99 {:>6} ({} requests)",
        fmt_us(lag.p50_us),
        fmt_us(lag.p99_us),
        fmt_us(lag.max_us),
        fmt_us(r.round_trip.p50_us),
        fmt_us(r.round_trip.p99_us),
        r.requests
    )
}

/// What the figures mean, in words.
pub fn meaning(c: &Calibration) -> String {
    let build = if c.build == "release" {
        ""
    } else {
        "; calibrate with the build you measure with"
    };
    format!(
        "meaning: below ~{}, differences between latencies are noise here: mcptop's own \
         timing on this machine ({} CPUs, {} build{build}), not the server",
        fmt_us(c.floor_us),
        c.cpus,
        c.build
    )
}
