//! Latency over time per operation (from the result's timeline: each
//! interval's histograms per operation) and per scenario (from each
//! scenario's own intervals): one small chart each, beside the run's.

use super::charts::{self, Line};
use crate::metrics::{percentiles, Percentiles};
use crate::report::RunReport;

/// Text that is safe in an SVG caption whatever the workload named it.
fn caption(text: &str) -> String {
    text.chars()
        .map(|c| if "<>&\"'".contains(c) { '?' } else { c })
        .collect()
}

/// p50 and p99 lines (ms) from `(t_s, percentiles)` points.
fn p50_p99(points: &[(f64, Percentiles)]) -> Vec<Line> {
    type Pick = fn(&Percentiles) -> u64;
    let picks: [(&str, Pick); 2] = [("p50", |p| p.p50_us), ("p99", |p| p.p99_us)];
    picks
        .iter()
        .map(|(name, pick)| Line {
            name: (*name).into(),
            points: points
                .iter()
                .map(|(t, p)| (*t, pick(p) as f64 / 1000.0))
                .collect(),
        })
        .collect()
}

/// One chart per operation (when there are several) and per scenario (when
/// there are several); empty when the run has one of each.
pub fn per_op_and_scenario(r: &RunReport) -> Result<String, String> {
    let mut out = String::new();
    let m = &r.metrics;
    if let (true, Some(timeline)) = (m.ops.len() > 1, &m.timeline) {
        out.push_str("<h2>Latency per operation</h2>\n");
        for (i, op) in m.ops.iter().enumerate() {
            let mut points = Vec::new();
            for interval in &timeline.intervals {
                let Some(h) = interval.ops.get(i) else {
                    continue;
                };
                let h = h.corrected()?;
                if !h.is_empty() {
                    points.push((interval.start_s + interval.length_s, percentiles(&h)));
                }
            }
            out.push_str(&charts::sized_lines(
                &format!("latency-op-{i}"),
                charts::SMALL,
                &caption(&format!("{}: corrected latency, ms", op.label)),
                "ms",
                &p50_p99(&points),
            )?);
        }
    }
    if m.scenarios.len() > 1 {
        out.push_str("<h2>Latency per scenario</h2>\n");
        for (i, s) in m.scenarios.iter().enumerate() {
            let points: Vec<(f64, Percentiles)> = s
                .intervals
                .iter()
                .filter(|iv| iv.completed > 0)
                .map(|iv| (iv.t_s, iv.corrected))
                .collect();
            out.push_str(&charts::sized_lines(
                &format!("latency-scenario-{i}"),
                charts::SMALL,
                &caption(&format!(
                    "scenario {}: corrected latency, ms",
                    s.figures.label
                )),
                "ms",
                &p50_p99(&points),
            )?);
        }
    }
    Ok(out)
}
