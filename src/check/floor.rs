//! Differences below this machine's measurement floor: when either side's
//! result carries a calibration (`mcptop calibrate`, in its environment
//! section), a latency whose medians differ by less than the floor is said to
//! be noise here, whatever its verdict.

use super::verdict::{GateMetric, MetricVerdict};
use crate::metrics::units::fmt_us;
use crate::report::RunReport;

/// The larger floor of the two sides' calibrations, if either has one.
pub fn floor_us(base: &[RunReport], cur: &[RunReport]) -> Option<u64> {
    base.iter()
        .chain(cur)
        .filter_map(|r| r.environment.calibration.as_ref())
        .map(|c| c.floor_us)
        .max()
}

/// One note per latency metric whose medians differ by less than `floor`.
pub fn notes_below(floor: u64, metrics: &[MetricVerdict]) -> Vec<String> {
    metrics
        .iter()
        .filter(|v| {
            matches!(
                v.metric,
                GateMetric::P50 | GateMetric::P95 | GateMetric::P99
            )
        })
        .filter(|v| v.baseline_samples > 0 && v.current_samples > 0)
        .filter_map(|v| {
            let diff = (v.current_median - v.baseline_median).abs().round() as u64;
            (diff < floor).then(|| {
                format!(
                    "{}: the difference ({}) is below this machine's floor of {} \
                     (mcptop calibrate): noise here, not the server",
                    v.metric.name(),
                    fmt_us(diff),
                    fmt_us(floor)
                )
            })
        })
        .collect()
}

/// The notes for two sides: none without a calibration.
pub fn notes(base: &[RunReport], cur: &[RunReport], metrics: &[MetricVerdict]) -> Vec<String> {
    floor_us(base, cur).map_or_else(Vec::new, |f| notes_below(f, metrics))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::check::verdict::{judge_change, RegressionThresholds};

    #[test]
    fn a_latency_difference_below_the_floor_is_called_noise() {
        let t = RegressionThresholds::default();
        let p50 = judge_change(
            GateMetric::P50,
            t.get(GateMetric::P50),
            &[500.0; 5],
            &[560.0; 5],
        );
        let p99 = judge_change(
            GateMetric::P99,
            t.get(GateMetric::P99),
            &[900.0; 5],
            &[1_400.0; 5],
        );
        let tput = judge_change(
            GateMetric::Throughput,
            t.get(GateMetric::Throughput),
            &[100.0; 5],
            &[101.0; 5],
        );
        let notes = notes_below(80, &[p50, p99, tput]);
        assert_eq!(
            notes,
            vec![
                "p50: the difference (60µs) is below this machine's floor of 80µs \
                  (mcptop calibrate): noise here, not the server"
                    .to_string()
            ]
        );
    }
}
