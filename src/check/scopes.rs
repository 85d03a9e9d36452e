//! Verdicts per scenario and per operation in it, beside the run's: a
//! workload with `[[scenarios]]` is judged on each scenario as a whole
//! (rows named `scenario`) and, when it has several operations, on each
//! (`scenario/op`), in the metrics a scenario has of its own (throughput,
//! latency, error rate). A scope measured on one side only (an old
//! baseline made before the workload had scenarios) is named in a note,
//! not judged.

use super::verdict::{judge_change, GateMetric, MetricVerdict, RegressionThresholds};
use crate::metrics::recorder::OpMetrics;
use crate::report::RunReport;

/// What a scoped row judges.
#[derive(Debug, Clone, PartialEq)]
enum Scope {
    Scenario(String),
    Op(String),
}

impl Scope {
    fn name(&self) -> &str {
        match self {
            Scope::Scenario(n) | Scope::Op(n) => n,
        }
    }

    fn figures<'a>(&self, r: &'a RunReport) -> Option<&'a OpMetrics> {
        match self {
            Scope::Scenario(name) => r
                .metrics
                .scenarios
                .iter()
                .map(|s| &s.figures)
                .find(|f| &f.label == name),
            Scope::Op(label) => r.metrics.ops.iter().find(|o| &o.label == label),
        }
    }

    /// `m` per full interval of `r` (a scenario's own intervals); an
    /// operation has none, so its run value stands alone.
    fn of_intervals(&self, m: GateMetric, r: &RunReport) -> Vec<f64> {
        match self {
            Scope::Scenario(name) => r
                .metrics
                .scenarios
                .iter()
                .find(|s| &s.figures.label == name)
                .map(|s| m.of_interval_list(&s.intervals))
                .unwrap_or_default(),
            Scope::Op(_) => self.of_run(m, r).into_iter().collect(),
        }
    }

    fn of_run(&self, m: GateMetric, r: &RunReport) -> Option<f64> {
        self.figures(r).and_then(|o| m.of_op(o))
    }
}

/// The scopes of a run: each scenario, then its operations when it has
/// more than one.
fn scopes_of(r: &RunReport) -> Vec<Scope> {
    let mut out = Vec::new();
    for s in &r.metrics.scenarios {
        let name = &s.figures.label;
        out.push(Scope::Scenario(name.clone()));
        let prefix = format!("{name}/");
        let ops: Vec<&OpMetrics> = r
            .metrics
            .ops
            .iter()
            .filter(|o| o.label.starts_with(&prefix))
            .collect();
        if ops.len() > 1 {
            out.extend(ops.iter().map(|o| Scope::Op(o.label.clone())));
        }
    }
    out
}

/// Every scope's verdicts, in the order of the current runs' scopes (then
/// any only the baseline has), with a note per scope measured on one side.
pub(super) fn judge_scopes(
    base: &[RunReport],
    cur: &[RunReport],
    thresholds: &RegressionThresholds,
    per_interval: bool,
    notes: &mut Vec<String>,
) -> Vec<MetricVerdict> {
    let mut scopes: Vec<Scope> = cur.first().map(scopes_of).unwrap_or_default();
    for s in base.first().map(scopes_of).unwrap_or_default() {
        if !scopes.contains(&s) {
            scopes.push(s);
        }
    }
    let mut verdicts = Vec::new();
    for scope in &scopes {
        let values = |runs: &[RunReport], m: GateMetric| -> Vec<f64> {
            if per_interval {
                runs.iter().flat_map(|r| scope.of_intervals(m, r)).collect()
            } else {
                runs.iter().filter_map(|r| scope.of_run(m, r)).collect()
            }
        };
        let (b, c) = (
            values(base, GateMetric::Throughput),
            values(cur, GateMetric::Throughput),
        );
        if b.is_empty() || c.is_empty() {
            notes.push(format!(
                "`{}` was measured only {}: not judged",
                scope.name(),
                if b.is_empty() {
                    "now"
                } else {
                    "in the baseline"
                }
            ));
            continue;
        }
        for m in GateMetric::PER_OP {
            let v = judge_change(m, thresholds.get(m), &values(base, m), &values(cur, m));
            verdicts.push(MetricVerdict {
                scope: Some(scope.name().to_string()),
                ..v
            });
        }
    }
    // Operations compared run against run have one value a run: say so
    // when that is too few for an interval.
    if per_interval && scopes.iter().any(|s| matches!(s, Scope::Op(_))) {
        notes.push(format!(
            "operations within a scenario have no intervals of their own: with {} run(s) vs {} \
             their rows cannot be significant",
            base.len(),
            cur.len()
        ));
    }
    verdicts
}
