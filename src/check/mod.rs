//! Baselines and the regression gate: `mcptop baseline save`, `mcptop check`,
//! `mcptop compare`. Runs are repeated; a metric regresses only when the
//! change is beyond its threshold and significant given the runs' spread.

pub mod baseline;
pub mod commands;
pub mod format;
pub mod project;
pub mod stats;
pub mod verdict;

use crate::report::RunReport;
use serde::{Deserialize, Serialize};
use verdict::{judge, CheckMetric, MetricVerdict, Status, Thresholds};

/// One workload's verdict: every metric, plus what differs between the
/// environments the two sides ran in.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Comparison {
    pub workload: String,
    pub notes: Vec<String>,
    pub metrics: Vec<MetricVerdict>,
}

impl Comparison {
    pub fn regressed(&self) -> bool {
        self.metrics.iter().any(|m| m.status == Status::Regressed)
    }
}

/// Compares repeated runs. With one run a side there is no spread between
/// runs, so the one-second intervals inside each run stand in for it.
pub fn compare_runs(
    workload: &str,
    base: &[RunReport],
    cur: &[RunReport],
    thresholds: &Thresholds,
) -> Comparison {
    // One run has no run-to-run spread: then both sides are judged by their
    // one-second intervals, so a lone run never looks exact.
    let per_interval = base.len() == 1 || cur.len() == 1;
    let mut notes = Vec::new();
    if per_interval {
        notes.push(format!(
            "{} run(s) vs {}: spread taken from one-second intervals",
            base.len(),
            cur.len()
        ));
    }
    if let (Some(b), Some(c)) = (base.first(), cur.first()) {
        notes.extend(environment_notes(b, c));
    }
    let samples = |runs: &[RunReport], m: CheckMetric| -> Vec<f64> {
        if per_interval {
            runs.iter().flat_map(|r| m.of_intervals(r)).collect()
        } else {
            runs.iter().filter_map(|r| m.of_run(r)).collect()
        }
    };
    let metrics = CheckMetric::ALL
        .iter()
        .map(|m| {
            judge(
                *m,
                thresholds.get(*m),
                &samples(base, *m),
                &samples(cur, *m),
            )
        })
        .collect();
    Comparison {
        workload: workload.to_string(),
        notes,
        metrics,
    }
}

/// What differs between two runs' environments and would explain a change.
pub fn environment_notes(base: &RunReport, cur: &RunReport) -> Vec<String> {
    let (b, c) = (&base.environment, &cur.environment);
    let mut notes = Vec::new();
    let mut differ = |what: &str, x: &str, y: &str| {
        if x != y {
            notes.push(format!(
                "environment differs: {what} {x} (baseline) vs {y} (now)"
            ));
        }
    };
    differ("target", &b.target, &c.target);
    differ("CPUs", &b.cpus.to_string(), &c.cpus.to_string());
    differ("mcptop version", &b.mcptop_version, &c.mcptop_version);
    differ("build", &b.build, &c.build);
    differ("server", &b.server_name, &c.server_name);
    differ("OS", &b.os, &c.os);
    // Run length is the check's to choose (`--quick` shares a budget among
    // the workloads it runs); anything else differing is the file.
    let (bw, cw) = (&base.workload, &cur.workload);
    let length = |w: &crate::workload::spec::WorkloadSpec| {
        let run = match (&w.duration, w.stages.len()) {
            (Some(d), 0) => d.clone(),
            (_, n) => format!("{n} stage(s)"),
        };
        format!(
            "{run} after {} warm-up",
            w.warmup.as_deref().unwrap_or("default")
        )
    };
    if (&bw.duration, &bw.warmup, &bw.stages) != (&cw.duration, &cw.warmup, &cw.stages) {
        notes.push(format!(
            "runs differ in length: {} (baseline) vs {} (now)",
            length(bw),
            length(cw)
        ));
    }
    let same_file = crate::workload::spec::WorkloadSpec {
        duration: cw.duration.clone(),
        warmup: cw.warmup.clone(),
        stages: cw.stages.clone(),
        ..bw.clone()
    } == *cw;
    if !same_file {
        notes.push("the workload file changed since the baseline".into());
    }
    notes
}

#[cfg(test)]
mod tests;
