//! Baselines and the regression gate: `mcptop baseline save`, `mcptop check`,
//! `mcptop compare`. Runs are repeated; a metric regresses only when the
//! change of its median is beyond its threshold and significant given the
//! runs' spread; outlier runs are named and left out; different workloads
//! are not compared unless forced.

pub mod baseline;
pub mod floor;
pub mod formats;
pub mod outliers;
pub mod project;
pub mod quick;
mod scopes;
pub mod stats;
pub mod verdict;

use crate::report::RunReport;
use serde::{Deserialize, Serialize};
use verdict::{judge_change_without, GateMetric, MetricVerdict, RegressionThresholds, Status};

/// One workload's verdict: every metric, plus what differs between the
/// environments the two sides ran in.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Comparison {
    pub workload: String,
    /// Runs compared on each side.
    #[serde(default)]
    pub baseline_runs: usize,
    #[serde(default)]
    pub current_runs: usize,
    /// Set when the two sides ran different workloads and were compared
    /// only because the user insisted (`compare --force`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub warning: Option<String>,
    pub notes: Vec<String>,
    pub metrics: Vec<MetricVerdict>,
}

impl Comparison {
    pub fn regressed(&self) -> bool {
        self.metrics.iter().any(|m| m.status == Status::Regressed)
    }
}

/// Compares repeated runs, metric by metric. Runs that are outliers in a
/// metric are named in the notes and left out of that metric's interval. With too few
/// runs a side for a distribution-free interval (one, or four against
/// four), the one-second intervals inside the runs stand in for them.
pub fn compare_runs(
    workload: &str,
    base: &[RunReport],
    cur: &[RunReport],
    thresholds: &RegressionThresholds,
) -> Comparison {
    let per_interval = stats::interval_rank(base.len(), cur.len()).is_none();
    let mut notes = Vec::new();
    if per_interval {
        notes.push(format!(
            "{} run(s) vs {}: spread taken from one-second intervals",
            base.len(),
            cur.len()
        ));
    }
    let base_out = outliers::of_runs(base);
    let cur_out = outliers::of_runs(cur);
    notes.extend(outlier_notes(
        "baseline",
        base.len(),
        &base_out,
        per_interval,
    ));
    notes.extend(outlier_notes("now", cur.len(), &cur_out, per_interval));
    if let (Some(b), Some(c)) = (base.first(), cur.first()) {
        notes.extend(environment_notes(b, c));
    }
    let mut kept_outliers = Vec::new();
    let mut metrics: Vec<MetricVerdict> = GateMetric::ALL
        .iter()
        .map(|m| {
            let s = samples(*m, (base, &base_out), (cur, &cur_out), per_interval);
            if s.outliers_kept {
                kept_outliers.push(m.name());
            }
            judge_change_without(
                *m,
                thresholds.get(*m),
                &s.base,
                &s.cur,
                (&s.kept_base, &s.kept_cur),
            )
        })
        .filter(|v: &MetricVerdict| {
            !v.metric.only_when_measured() || v.baseline_samples + v.current_samples > 0
        })
        .collect();
    metrics.extend(scopes::judge_scopes(
        base,
        cur,
        thresholds,
        per_interval,
        &mut notes,
    ));
    if !kept_outliers.is_empty() {
        notes.push(format!(
            "outlier runs kept in {}: without them too few runs remain for a {:.0} % interval",
            kept_outliers.join(", "),
            stats::CONFIDENCE * 100.0
        ));
    }
    if let Some(t) = metrics.iter().find(|v| v.metric == GateMetric::Throughput) {
        let (n, m) = (t.baseline_samples, t.current_samples);
        if n > 0 && m > 0 && stats::interval_rank(n, m).is_none() {
            notes.push(format!(
                "{n} sample(s) vs {m}: too few for a {:.0} % interval (five a side, or four \
                 against five, at least); no change can be significant: make more or longer runs",
                stats::CONFIDENCE * 100.0
            ));
        }
    }
    Comparison {
        workload: workload.to_string(),
        baseline_runs: base.len(),
        current_runs: cur.len(),
        warning: None,
        notes,
        metrics,
    }
}

type Strays<'a> = (&'a [RunReport], &'a [(usize, Vec<outliers::Outlier>)]);

/// One metric's samples on each side: every one, and those the interval is
/// taken from.
struct Samples {
    base: Vec<f64>,
    cur: Vec<f64>,
    kept_base: Vec<f64>,
    kept_cur: Vec<f64>,
    /// Outlier runs stayed in the interval: leaving them out would have
    /// left too few runs for one.
    outliers_kept: bool,
}

/// Per one-second interval, or per run; the interval without the runs that
/// are outliers in this metric, unless leaving them out would leave too few
/// runs for an interval.
fn samples(
    m: GateMetric,
    (base, base_out): Strays,
    (cur, cur_out): Strays,
    per_interval: bool,
) -> Samples {
    if per_interval {
        let of = |runs: &[RunReport]| -> Vec<f64> {
            runs.iter().flat_map(|r| m.of_intervals(r)).collect()
        };
        let (b, c) = (of(base), of(cur));
        return Samples {
            kept_base: b.clone(),
            kept_cur: c.clone(),
            base: b,
            cur: c,
            outliers_kept: false,
        };
    }
    let values = |runs: &[RunReport], out: &[(usize, Vec<outliers::Outlier>)], skip: bool| {
        let stray = |i: usize| {
            skip && out
                .iter()
                .any(|(j, os)| *j == i && os.iter().any(|o| o.metric == m))
        };
        runs.iter()
            .enumerate()
            .filter(|(i, _)| !stray(*i))
            .filter_map(|(_, r)| m.of_run(r))
            .collect::<Vec<f64>>()
    };
    let (b, c) = (values(base, base_out, false), values(cur, cur_out, false));
    let (kb, kc) = (values(base, base_out, true), values(cur, cur_out, true));
    let left_out = (kb.len(), kc.len()) != (b.len(), c.len());
    let too_few = left_out && stats::interval_rank(kb.len(), kc.len()).is_none();
    Samples {
        kept_base: if too_few { b.clone() } else { kb },
        kept_cur: if too_few { c.clone() } else { kc },
        base: b,
        cur: c,
        outliers_kept: too_few,
    }
}

/// One note per outlier run of a side.
fn outlier_notes(
    side: &str,
    runs: usize,
    found: &[(usize, Vec<outliers::Outlier>)],
    per_interval: bool,
) -> Vec<String> {
    let mut found: Vec<&(usize, Vec<outliers::Outlier>)> = found.iter().collect();
    found.sort_by_key(|(i, _)| *i);
    found
        .iter()
        .map(|(i, os)| {
            let what: Vec<String> = os.iter().map(outliers::Outlier::describe).collect();
            format!(
                "{side}: run {} of {runs} is an outlier in {}: {}",
                i + 1,
                what.join(", "),
                if per_interval {
                    "kept (the spread comes from one-second intervals)"
                } else {
                    "left out of their intervals"
                }
            )
        })
        .collect()
}

/// Why two runs are not of the same workload, or None when they are: the
/// same name and the same workload file, apart from what does not change
/// what the server is asked to do (run length, description, default target,
/// thresholds).
pub fn workload_mismatch(a: &RunReport, b: &RunReport) -> Option<String> {
    if a.workload_id != b.workload_id {
        return Some(format!("workload {} vs {}", a.workload_id, b.workload_id));
    }
    const NOT_IDENTITY: [&str; 7] = [
        "description",
        "target",
        "duration",
        "warmup",
        "stages",
        "requests",
        "thresholds",
    ];
    let keys = |r: &RunReport| -> serde_json::Map<String, serde_json::Value> {
        match serde_json::to_value(&r.workload) {
            Ok(serde_json::Value::Object(mut o)) => {
                for k in NOT_IDENTITY {
                    o.remove(k);
                }
                o
            }
            _ => serde_json::Map::new(),
        }
    };
    let (ka, kb) = (keys(a), keys(b));
    let mut differ: Vec<&str> = ka
        .keys()
        .chain(kb.keys())
        .filter(|k| ka.get(*k) != kb.get(*k))
        .map(String::as_str)
        .collect();
    differ.sort_unstable();
    differ.dedup();
    (!differ.is_empty()).then(|| {
        format!(
            "workload {} with different {}",
            a.workload_id,
            differ.join(", ")
        )
    })
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
    // Not recorded (0) in files written before it was.
    if b.worker_threads > 0 && c.worker_threads > 0 {
        differ(
            "worker threads",
            &b.worker_threads.to_string(),
            &c.worker_threads.to_string(),
        );
    }
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
