//! The verdict per metric: regressed only when the change (of the medians)
//! is beyond its threshold **and** its confidence interval excludes no
//! change; a change the good way is never a regression.

use super::stats::{estimate_without, median, Estimate, Scale};
use crate::metrics::recorder::OpMetrics;
use crate::metrics::snapshot::IntervalStats;
use crate::report::RunReport;
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;

#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum GateMetric {
    Throughput,
    P50,
    P95,
    P99,
    ErrorRate,
    /// Resident memory of the target at the end of the run (of mcptop for the
    /// builtin target, which runs in-process).
    Memory,
    AllocsPerRequest,
    /// The target's GC pause p99 (`target_gc`, a runtime that reports).
    GcPauseP99,
    /// The target's GC pause time over wall time.
    GcTimeShare,
}

impl GateMetric {
    pub const ALL: [GateMetric; 9] = [
        GateMetric::Throughput,
        GateMetric::P50,
        GateMetric::P95,
        GateMetric::P99,
        GateMetric::ErrorRate,
        GateMetric::Memory,
        GateMetric::AllocsPerRequest,
        GateMetric::GcPauseP99,
        GateMetric::GcTimeShare,
    ];

    pub fn name(self) -> &'static str {
        match self {
            GateMetric::Throughput => "throughput",
            GateMetric::P50 => "p50",
            GateMetric::P95 => "p95",
            GateMetric::P99 => "p99",
            GateMetric::ErrorRate => "error_rate",
            GateMetric::Memory => "memory",
            GateMetric::AllocsPerRequest => "allocs_per_request",
            GateMetric::GcPauseP99 => "gc_pause_p99",
            GateMetric::GcTimeShare => "gc_time_share",
        }
    }

    /// Shown only when a side measured it (a target without a GC has no row).
    pub fn only_when_measured(self) -> bool {
        matches!(self, GateMetric::GcPauseP99 | GateMetric::GcTimeShare)
    }

    pub fn higher_is_better(self) -> bool {
        self == GateMetric::Throughput
    }

    pub fn scale(self) -> Scale {
        match self {
            GateMetric::ErrorRate | GateMetric::GcTimeShare => Scale::Difference,
            _ => Scale::Ratio,
        }
    }

    /// The seeds' thresholds: throughput -10 %, latency +20 %, memory +25 %;
    /// error rate +0.1 percentage point; allocations per request +10 %.
    pub fn default_threshold(self) -> f64 {
        match self {
            GateMetric::Throughput => 0.10,
            GateMetric::P50 | GateMetric::P95 | GateMetric::P99 => 0.20,
            GateMetric::ErrorRate => 0.001,
            GateMetric::Memory => 0.25,
            GateMetric::AllocsPerRequest => 0.10,
            GateMetric::GcPauseP99 => 0.20,
            // One percentage point more of the target's time in GC pauses.
            GateMetric::GcTimeShare => 0.01,
        }
    }

    /// The metrics a scenario or an operation has of its own.
    pub const PER_OP: [GateMetric; 5] = [
        GateMetric::Throughput,
        GateMetric::P50,
        GateMetric::P95,
        GateMetric::P99,
        GateMetric::ErrorRate,
    ];

    /// This metric of one operation's (or scenario's) figures; `None` for
    /// the run-wide ones (memory, allocations, GC).
    pub fn of_op(self, o: &OpMetrics) -> Option<f64> {
        let latency = |v: u64| (o.ok > 0).then_some(v as f64);
        match self {
            GateMetric::Throughput => Some(o.throughput_msg_per_s),
            GateMetric::P50 => latency(o.corrected.p50_us),
            GateMetric::P95 => latency(o.corrected.p95_us),
            GateMetric::P99 => latency(o.corrected.p99_us),
            GateMetric::ErrorRate => (o.operations > 0).then_some(o.error_rate),
            _ => None,
        }
    }

    /// This metric of one run, when the run measured it.
    pub fn of_run(self, r: &RunReport) -> Option<f64> {
        let o = &r.metrics.overall;
        match self {
            GateMetric::Throughput
            | GateMetric::P50
            | GateMetric::P95
            | GateMetric::P99
            | GateMetric::ErrorRate => self.of_op(o),
            GateMetric::Memory => r
                .metrics
                .memory
                .as_ref()
                .and_then(|m| m.target.as_ref().or(m.mcptop.as_ref()))
                .map(|p| p.rss_bytes as f64),
            GateMetric::AllocsPerRequest => o.allocs_per_request,
            GateMetric::GcPauseP99 => r.metrics.target_gc.as_ref()?.pause_p99_us(),
            GateMetric::GcTimeShare => r.metrics.target_gc.as_ref()?.pause_time_share(),
        }
    }

    /// This metric per one-second interval of a single run: the spread used
    /// when only one run a side exists (`mcptop compare A.json B.json`).
    pub fn of_intervals(self, r: &RunReport) -> Vec<f64> {
        match self {
            GateMetric::Memory
            | GateMetric::AllocsPerRequest
            | GateMetric::GcPauseP99
            | GateMetric::GcTimeShare => self.of_run(r).into_iter().collect(),
            _ => self.of_interval_list(&r.metrics.intervals),
        }
    }

    /// This metric per full interval of `intervals` (a run's or a
    /// scenario's); nothing for the run-wide metrics.
    pub fn of_interval_list(self, intervals: &[IntervalStats]) -> Vec<f64> {
        let full = intervals.iter().filter(|i| i.length_s >= 0.5);
        match self {
            GateMetric::Throughput => full.map(|i| i.throughput).collect(),
            GateMetric::P50 => full
                .filter(|i| i.completed > i.errors)
                .map(|i| i.corrected.p50_us as f64)
                .collect(),
            GateMetric::P95 => full
                .filter(|i| i.completed > i.errors)
                .map(|i| i.corrected.p95_us as f64)
                .collect(),
            GateMetric::P99 => full
                .filter(|i| i.completed > i.errors)
                .map(|i| i.corrected.p99_us as f64)
                .collect(),
            GateMetric::ErrorRate => full
                .filter(|i| i.completed > 0)
                .map(|i| i.errors as f64 / i.completed as f64)
                .collect(),
            GateMetric::Memory
            | GateMetric::AllocsPerRequest
            | GateMetric::GcPauseP99
            | GateMetric::GcTimeShare => Vec::new(),
        }
    }
}

/// Thresholds per metric, as fractions (0.1 = 10 %), error rate absolute.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(transparent)]
pub struct RegressionThresholds(pub BTreeMap<GateMetric, f64>);

impl Default for RegressionThresholds {
    fn default() -> Self {
        RegressionThresholds(
            GateMetric::ALL
                .iter()
                .map(|m| (*m, m.default_threshold()))
                .collect(),
        )
    }
}

impl RegressionThresholds {
    pub fn get(&self, m: GateMetric) -> f64 {
        self.0.get(&m).copied().unwrap_or(m.default_threshold())
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Status {
    Regressed,
    Improved,
    /// Within the threshold (whether or not significant).
    Unchanged,
    /// Beyond the threshold but not significant: the runs are too noisy to say.
    Noisy,
    NotMeasured,
}

impl Status {
    pub fn label(self) -> &'static str {
        match self {
            Status::Regressed => "REGRESSED",
            Status::Improved => "improved",
            Status::Unchanged => "ok",
            Status::Noisy => "noisy (not significant)",
            Status::NotMeasured => "not measured",
        }
    }
}

/// The seeds' classes by size of the change: critical > 20 %, high 15-20 %,
/// medium 10-15 %, low 5-10 %, negligible < 5 %.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Severity {
    Negligible,
    Low,
    Medium,
    High,
    Critical,
}

impl Severity {
    pub fn of_change(change: f64) -> Severity {
        let pct = change.abs() * 100.0;
        if pct > 20.0 {
            Severity::Critical
        } else if pct > 15.0 {
            Severity::High
        } else if pct > 10.0 {
            Severity::Medium
        } else if pct >= 5.0 {
            Severity::Low
        } else {
            Severity::Negligible
        }
    }

    pub fn label(self) -> &'static str {
        match self {
            Severity::Negligible => "negligible",
            Severity::Low => "low",
            Severity::Medium => "medium",
            Severity::High => "high",
            Severity::Critical => "critical",
        }
    }
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct MetricVerdict {
    pub metric: GateMetric,
    /// What it judges, when not the whole run: a scenario (`probe`) or an
    /// operation in one (`probe/ping`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub scope: Option<String>,
    pub baseline_median: f64,
    pub current_median: f64,
    pub baseline_samples: usize,
    pub current_samples: usize,
    /// Relative change (absolute for the error rate), with its interval.
    pub change: Option<f64>,
    pub ci_low: Option<f64>,
    pub ci_high: Option<f64>,
    pub threshold: f64,
    pub severity: Severity,
    pub status: Status,
}

/// A run's one-second intervals, without a short last one.
pub fn full_intervals(r: &RunReport) -> impl Iterator<Item = &IntervalStats> {
    r.metrics.intervals.iter().filter(|i| i.length_s >= 0.5)
}

pub fn judge_change(
    metric: GateMetric,
    threshold: f64,
    base: &[f64],
    cur: &[f64],
) -> MetricVerdict {
    judge_change_without(metric, threshold, base, cur, (base, cur))
}

/// `judge`, with the interval taken from `kept` (the samples without
/// outlier runs) while the medians and the change keep every sample.
pub fn judge_change_without(
    metric: GateMetric,
    threshold: f64,
    base: &[f64],
    cur: &[f64],
    kept: (&[f64], &[f64]),
) -> MetricVerdict {
    let est = estimate_without(base, cur, kept, metric.scale());
    let status = match est {
        None => Status::NotMeasured,
        // Not one reply in any run: however few the runs, that is no noise.
        Some(_) if metric.higher_is_better() && cur.iter().all(|x| *x == 0.0) => Status::Regressed,
        Some(e) => classify(metric, threshold, &e),
    };
    let severity = match (metric.scale(), est) {
        (_, None) => Severity::Negligible,
        // Any significant rise in errors past the threshold is critical.
        (Scale::Difference, Some(_)) if status == Status::Regressed => Severity::Critical,
        (Scale::Difference, Some(_)) => Severity::Negligible,
        (Scale::Ratio, Some(e)) => Severity::of_change(e.change),
    };
    MetricVerdict {
        metric,
        scope: None,
        baseline_median: median(base),
        current_median: median(cur),
        baseline_samples: base.len(),
        current_samples: cur.len(),
        change: est.map(|e| e.change),
        ci_low: est.map(|e| e.low),
        ci_high: est.map(|e| e.high),
        threshold,
        severity,
        status,
    }
}

impl MetricVerdict {
    /// The change goes the good way (throughput up, latency, memory or
    /// errors down), whether or not it is significant.
    pub fn is_improvement(&self) -> bool {
        match self.change {
            Some(c) if self.metric.higher_is_better() => c > 0.0,
            Some(c) => c < 0.0,
            None => false,
        }
    }

    /// The severity as printed: the size class, said to be an improvement
    /// when the change goes the good way, so a drop in memory never reads
    /// like an alarm.
    pub fn severity_label(&self) -> String {
        if self.status == Status::NotMeasured {
            "-".into()
        } else if self.is_improvement() && self.severity != Severity::Negligible {
            format!("improvement ({})", self.severity.label())
        } else {
            self.severity.label().to_string()
        }
    }
}

fn classify(metric: GateMetric, threshold: f64, e: &Estimate) -> Status {
    // Signed so that positive is worse.
    let worse = if metric.higher_is_better() {
        -e.change
    } else {
        e.change
    };
    if worse.abs() <= threshold {
        Status::Unchanged
    } else if !e.significant() {
        Status::Noisy
    } else if worse > 0.0 {
        Status::Regressed
    } else {
        Status::Improved
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const BASE: [f64; 5] = [1000.0, 1010.0, 990.0, 1005.0, 995.0];

    fn scaled(f: f64) -> Vec<f64> {
        BASE.iter().map(|x| x * f).collect()
    }

    #[test]
    fn a_clear_throughput_drop_regresses_with_its_severity() {
        let v = judge_change(GateMetric::Throughput, 0.10, &BASE, &scaled(0.82));
        assert_eq!(v.status, Status::Regressed);
        assert_eq!(v.severity, Severity::High);
        let change = v.change.expect("change");
        assert!((change + 0.18).abs() < 1e-9, "{change}");
        let (lo, hi) = (v.ci_low.expect("lo"), v.ci_high.expect("hi"));
        assert!(lo < change && change < hi && hi < 0.0, "{lo} {hi}");
    }

    #[test]
    fn a_clear_latency_improvement_is_not_a_regression() {
        let v = judge_change(GateMetric::P99, 0.20, &BASE, &scaled(0.5));
        assert_eq!(v.status, Status::Improved);
        assert_eq!(v.severity, Severity::Critical);
    }

    #[test]
    fn one_outlier_run_among_five_neither_flips_the_verdict_nor_blows_up_the_change() {
        // One run at a twentieth of the others, on either side (no run is
        // left out here: this is the statistic's own robustness).
        let wild = [1000.0, 1010.0, 50.0, 1005.0, 995.0];
        for (base, cur) in [(&BASE, &wild), (&wild, &BASE)] {
            let v = judge_change(GateMetric::Throughput, 0.10, base, cur);
            assert_eq!(v.status, Status::Unchanged, "{v:?}");
            assert_eq!(v.severity, Severity::Negligible, "{v:?}");
            assert!(v.change.expect("change").abs() < 0.01, "{v:?}");
        }
    }

    #[test]
    fn a_genuine_twenty_percent_shift_is_still_caught() {
        let v = judge_change(GateMetric::P95, 0.10, &BASE, &scaled(1.2));
        assert_eq!(v.status, Status::Regressed);
        assert!((v.change.expect("change") - 0.2).abs() < 1e-9);
        // ... also with one wild run on the side the shift goes to.
        let mut cur = scaled(1.2);
        cur[1] = 50_000.0;
        let v = judge_change(GateMetric::P95, 0.10, &BASE, &cur);
        assert_eq!(v.status, Status::Regressed, "{v:?}");
        assert!((v.change.expect("change") - 0.2).abs() < 0.01, "{v:?}");
    }

    #[test]
    fn noise_only_passes() {
        let cur = [1003.0, 996.0, 1008.0, 992.0, 1001.0];
        let v = judge_change(GateMetric::P50, 0.20, &BASE, &cur);
        assert_eq!(v.status, Status::Unchanged);
        assert_eq!(v.severity, Severity::Negligible);
    }

    #[test]
    fn beyond_the_threshold_but_not_significant_is_noisy_not_regressed() {
        // Medians +30 %, but the runs scatter from -20 % to +100 %.
        let cur = [800.0, 2000.0, 1100.0, 1600.0, 1300.0];
        let v = judge_change(GateMetric::P99, 0.20, &BASE, &cur);
        assert!(v.change.expect("change") > 0.2, "{v:?}");
        assert_eq!(v.status, Status::Noisy);
    }

    #[test]
    fn significant_but_below_the_threshold_passes() {
        // A steady +5 % latency: real, but within the 20 % budget.
        let v = judge_change(GateMetric::P50, 0.20, &BASE, &scaled(1.05));
        assert!(v.ci_low.expect("lo") > 0.0, "significant: {v:?}");
        assert_eq!(v.status, Status::Unchanged);
        assert_eq!(v.severity, Severity::Low);
    }

    #[test]
    fn error_rate_is_judged_in_percentage_points() {
        let v = judge_change(GateMetric::ErrorRate, 0.001, &[0.0; 5], &[0.02; 5]);
        assert_eq!(v.status, Status::Regressed);
        assert_eq!(v.severity, Severity::Critical);
        let v = judge_change(GateMetric::ErrorRate, 0.001, &[0.0; 5], &[0.0005; 5]);
        assert_eq!(v.status, Status::Unchanged);
    }

    #[test]
    fn throughput_falling_to_zero_regresses() {
        let v = judge_change(GateMetric::Throughput, 0.10, &BASE, &[0.0, 0.0]);
        assert_eq!(v.status, Status::Regressed);
    }

    #[test]
    fn a_metric_missing_on_either_side_is_not_measured() {
        let v = judge_change(GateMetric::Memory, 0.25, &[], &BASE);
        assert_eq!(v.status, Status::NotMeasured);
    }

    #[test]
    fn severity_classes_follow_the_seeds() {
        let classes: Vec<Severity> = [0.04, 0.05, 0.12, 0.17, 0.21, -0.3]
            .iter()
            .map(|c| Severity::of_change(*c))
            .collect();
        assert_eq!(
            classes,
            vec![
                Severity::Negligible,
                Severity::Low,
                Severity::Medium,
                Severity::High,
                Severity::Critical,
                Severity::Critical
            ]
        );
    }
}
