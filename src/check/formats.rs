//! The verdict table, as text, Markdown or JUnit XML. The two value columns
//! are the medians the change is computed from, so the change can be
//! recomputed from them.

use super::verdict::{GateMetric, MetricVerdict, Status};
use super::Comparison;
use crate::metrics::units::{fmt_mib, fmt_us};
use crate::report::formats::Format;
use crate::report::junit::{self, Case, Suite};
use std::fmt::Write;

/// A metric's value as the table prints it.
pub fn value(metric: GateMetric, v: f64) -> String {
    if !v.is_finite() {
        return "-".into();
    }
    match metric {
        GateMetric::Throughput => format!("{v:.1}/s"),
        GateMetric::P50 | GateMetric::P95 | GateMetric::P99 => fmt_us(v.round() as u64),
        GateMetric::ErrorRate => format!("{:.3}%", v * 100.0),
        GateMetric::Memory => fmt_mib(v),
        GateMetric::AllocsPerRequest => format!("{v:.1}"),
        GateMetric::GcPauseP99 => fmt_us(v.round() as u64),
        GateMetric::GcTimeShare => format!("{:.2}%", v * 100.0),
    }
}

fn change(v: &MetricVerdict) -> (String, String) {
    let pct = |x: f64| {
        if v.metric.scale() == crate::check::stats::Scale::Difference {
            format!("{:+.3}pp", x * 100.0)
        } else {
            format!("{:+.1}%", x * 100.0)
        }
    };
    let end = |x: f64| {
        if x.is_finite() {
            pct(x)
        } else if x > 0.0 {
            "+∞".into()
        } else {
            "-∞".into()
        }
    };
    match (v.change, v.ci_low, v.ci_high) {
        // Too few samples to bound the change at all.
        (Some(c), Some(lo), Some(hi)) if !lo.is_finite() && !hi.is_finite() => (pct(c), "-".into()),
        (Some(c), Some(lo), Some(hi)) => (pct(c), format!("[{}, {}]", end(lo), end(hi))),
        (Some(c), _, _) => (pct(c), "-".into()),
        _ => ("-".into(), "-".into()),
    }
}

fn threshold(v: &MetricVerdict) -> String {
    if v.metric == GateMetric::ErrorRate {
        format!("{:.3}pp", v.threshold * 100.0)
    } else if v.metric.higher_is_better() {
        format!("-{:.0}%", v.threshold * 100.0)
    } else {
        format!("+{:.0}%", v.threshold * 100.0)
    }
}

pub fn rows(c: &Comparison) -> Vec<[String; 8]> {
    c.metrics
        .iter()
        .map(|v| {
            let (ch, ci) = change(v);
            [
                row_name(v),
                value(v.metric, v.baseline_median),
                value(v.metric, v.current_median),
                ch,
                ci,
                threshold(v),
                v.severity_label(),
                v.status.label().to_string(),
            ]
        })
        .collect()
}

/// The metric, after the scenario or operation it judges if any
/// (`probe/ping p99`).
fn row_name(v: &MetricVerdict) -> String {
    match &v.scope {
        Some(scope) => format!("{scope} {}", v.metric.name()),
        None => v.metric.name().to_string(),
    }
}

pub fn header() -> [String; 8] {
    [
        "metric",
        "base median",
        "now median",
        "change",
        &ci_label(),
        "threshold",
        "severity",
        "verdict",
    ]
    .map(String::from)
}

/// "98% CI": the level the intervals are computed at.
fn ci_label() -> String {
    format!("{:.0}% CI", super::stats::CONFIDENCE * 100.0)
}

pub fn text(comparisons: &[Comparison]) -> String {
    let mut out = String::new();
    for c in comparisons {
        let _ = writeln!(
            out,
            "{}: {} ({} baseline run(s), {} now)",
            c.workload,
            if c.regressed() { "REGRESSED" } else { "pass" },
            c.baseline_runs,
            c.current_runs
        );
        if let Some(w) = &c.warning {
            let _ = writeln!(out, "  WARNING: {w}");
        }
        let rows = rows(c);
        let header = header();
        let mut widths = header.clone().map(|h| h.chars().count());
        for r in &rows {
            for (w, cell) in widths.iter_mut().zip(r) {
                *w = (*w).max(cell.chars().count());
            }
        }
        let line = |cells: &[String]| {
            let mut s = String::from(" ");
            for (i, cell) in cells.iter().enumerate() {
                let pad = widths[i].saturating_sub(cell.chars().count());
                if i == 0 || i == 7 {
                    let _ = write!(s, " {cell}{}", " ".repeat(pad));
                } else {
                    let _ = write!(s, " {}{cell}", " ".repeat(pad));
                }
            }
            s.trim_end().to_string()
        };
        let _ = writeln!(out, "{}", line(&header));
        for r in &rows {
            let _ = writeln!(out, "{}", line(r));
        }
        for note in &c.notes {
            let _ = writeln!(out, "  note: {note}");
        }
        out.push('\n');
    }
    let regressed = comparisons.iter().filter(|c| c.regressed()).count();
    let _ = writeln!(
        out,
        "{}: {regressed} of {} workload(s) regressed",
        if regressed > 0 { "FAIL" } else { "PASS" },
        comparisons.len()
    );
    out
}

pub fn markdown(comparisons: &[Comparison]) -> String {
    let mut out = String::from("## mcptop check\n\n");
    for c in comparisons {
        let _ = writeln!(
            out,
            "### `{}`: {}\n",
            c.workload,
            if c.regressed() {
                "**REGRESSED**"
            } else {
                "pass"
            }
        );
        if let Some(w) = &c.warning {
            let _ = writeln!(out, "> **Warning:** {w}\n");
        }
        let _ = writeln!(out, "| {} |", header().join(" | "));
        let _ = writeln!(out, "|---|---:|---:|---:|---|---:|---|---|");
        for r in rows(c) {
            let mut r = r;
            if r[7] == Status::Regressed.label() {
                r[7] = format!("**{}**", r[7]);
            }
            let _ = writeln!(out, "| {} |", r.join(" | "));
        }
        for note in &c.notes {
            let _ = writeln!(out, "\n> {note}");
        }
        out.push('\n');
    }
    out
}

pub fn junit(comparisons: &[Comparison]) -> String {
    let suites: Vec<Suite> = comparisons
        .iter()
        .map(|c| Suite {
            name: c.workload.clone(),
            time_s: 0.0,
            cases: rows(c)
                .into_iter()
                .zip(&c.metrics)
                .map(|(r, v)| Case {
                    name: row_name(v),
                    classname: format!("mcptop.check.{}", c.workload),
                    failure: (v.status == Status::Regressed).then(|| {
                        format!(
                            "{} regressed {} ({} {}, threshold {}, severity {}): {} -> {}",
                            r[0],
                            r[3],
                            ci_label(),
                            r[4],
                            r[5],
                            r[6],
                            r[1],
                            r[2]
                        )
                    }),
                    skipped: (v.status == Status::NotMeasured)
                        .then(|| "not measured on both sides".to_string()),
                    output: format!(
                        "{}{} -> {} ({}, CI {}, {}): {}",
                        c.warning
                            .as_ref()
                            .map(|w| format!("WARNING: {w}\n"))
                            .unwrap_or_default(),
                        r[1],
                        r[2],
                        r[3],
                        r[4],
                        r[6],
                        r[7]
                    ),
                })
                .collect(),
        })
        .collect();
    junit::render(&suites)
}

pub fn render(comparisons: &[Comparison], format: Format) -> String {
    match format {
        Format::Text => text(comparisons),
        Format::Markdown => markdown(comparisons),
        Format::Junit => junit(comparisons),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::check::compare_runs;
    use crate::check::tests::hand_made;
    use crate::check::verdict::RegressionThresholds;
    use crate::report::RunReport;

    /// A printed value and half its last printed digit, in the metric's
    /// own units (µs, req/s, a fraction).
    fn parse(cell: &str) -> (f64, f64) {
        let (number, scale) = [
            ("/s", 1.0),
            ("µs", 1.0),
            ("ms", 1e3),
            ("%", 0.01),
            ("s", 1e6),
        ]
        .iter()
        .find_map(|(unit, scale)| cell.strip_suffix(unit).map(|n| (n, *scale)))
        .unwrap_or((cell, 1.0));
        let decimals = number.split_once('.').map_or(0, |(_, d)| d.len());
        let value: f64 = number.parse().expect("a number");
        (value * scale, 0.5 * 10f64.powi(-(decimals as i32)) * scale)
    }

    fn runs(figures: &[(f64, u64, u64)]) -> Vec<RunReport> {
        figures
            .iter()
            .map(|(t, p50, p99)| hand_made(*t, *p50, *p99))
            .collect()
    }

    #[tokio::test(start_paused = true)]
    async fn the_printed_change_is_recomputed_from_the_printed_columns() {
        let base = runs(&[
            (62757.6, 376, 1_200),
            (62516.7, 380, 1_150),
            (61980.2, 371, 1_230),
            (62210.4, 377, 1_180),
            (62400.3, 375, 1_210),
        ]);
        // One wild run (the issue's), the rest slightly faster.
        let cur = runs(&[
            (63757.6, 335, 1_400),
            (3483.7, 9_000, 94_970),
            (64980.2, 330, 1_410),
            (64210.4, 338, 1_390),
            (63400.3, 333, 1_420),
        ]);
        let mut checked = 0;
        for (b, c) in [(&base, &cur), (&cur, &base), (&base, &base)] {
            let comparison = compare_runs("echo", b, c, &RegressionThresholds::default());
            for (row, v) in rows(&comparison).iter().zip(&comparison.metrics) {
                if row[3] == "-" || v.metric == GateMetric::ErrorRate {
                    continue;
                }
                let ((b, hb), (n, hn)) = (parse(&row[1]), parse(&row[2]));
                let (change, hc) = parse(&row[3]);
                let (lo, hi) = ((n - hn) / (b + hb) - 1.0, (n + hn) / (b - hb) - 1.0);
                assert!(
                    lo - hc <= change && change <= hi + hc,
                    "{}: {} -> {} printed as {}, recomputed [{lo}, {hi}]",
                    row[0],
                    row[1],
                    row[2],
                    row[3]
                );
                checked += 1;
            }
        }
        // Throughput, p50, p95 and p99 on three comparisons.
        assert_eq!(checked, 12);
    }

    #[tokio::test(start_paused = true)]
    async fn improvements_say_so_in_every_format() {
        let base = runs(&[(1000.0, 500, 900); 5]);
        let cur = runs(&[(1300.0, 300, 600); 5]);
        let c = compare_runs("echo", &base, &cur, &RegressionThresholds::default());
        let text = text(std::slice::from_ref(&c));
        assert!(!text.contains("REGRESSED"), "{text}");
        let p99 = text
            .lines()
            .find(|l| l.trim_start().starts_with("p99"))
            .expect("p99 row");
        assert!(
            p99.contains("-33.3%") && p99.contains("improvement (critical)"),
            "{p99}"
        );
        let md = markdown(std::slice::from_ref(&c));
        assert!(md.contains("| improvement (critical) | improved |"), "{md}");
        let xml = junit(std::slice::from_ref(&c));
        assert!(!xml.contains("<failure"), "{xml}");
        assert!(xml.contains("improvement (critical)): improved"), "{xml}");
    }

    #[tokio::test(start_paused = true)]
    async fn a_forced_comparison_carries_its_warning_in_every_format() {
        let base = runs(&[(1000.0, 500, 900); 5]);
        let mut c = compare_runs(
            "mixed vs echo",
            &base,
            &base,
            &RegressionThresholds::default(),
        );
        c.warning = Some("different workloads (workload mixed vs echo)".into());
        let comparisons = std::slice::from_ref(&c);
        assert!(text(comparisons)
            .contains("mixed vs echo: pass (5 baseline run(s), 5 now)\n  WARNING: different"));
        assert!(markdown(comparisons).contains("> **Warning:** different workloads"));
        assert!(junit(comparisons).contains("WARNING: different workloads"));
    }
}
