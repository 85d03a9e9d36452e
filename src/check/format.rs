//! The verdict table, as text, Markdown or JUnit XML.

use super::verdict::{CheckMetric, MetricVerdict, Status};
use super::Comparison;
use crate::report::formats::Format;
use crate::report::junit::{self, Case, Suite};
use crate::report::text::fmt_us;
use std::fmt::Write;

fn value(metric: CheckMetric, v: f64) -> String {
    if !v.is_finite() {
        return "-".into();
    }
    match metric {
        CheckMetric::Throughput => format!("{v:.1}/s"),
        CheckMetric::P50 | CheckMetric::P95 | CheckMetric::P99 => fmt_us(v.round() as u64),
        CheckMetric::ErrorRate => format!("{:.3}%", v * 100.0),
        CheckMetric::Memory => format!("{:.1} MiB", v / (1024.0 * 1024.0)),
        CheckMetric::AllocsPerRequest => format!("{v:.1}"),
    }
}

fn change(v: &MetricVerdict) -> (String, String) {
    let pct = |x: f64| {
        if v.metric == CheckMetric::ErrorRate {
            format!("{:+.3}pp", x * 100.0)
        } else {
            format!("{:+.1}%", x * 100.0)
        }
    };
    match (v.change, v.ci_low, v.ci_high) {
        (Some(c), Some(lo), Some(hi)) if lo.is_finite() && hi.is_finite() => {
            (pct(c), format!("[{}, {}]", pct(lo), pct(hi)))
        }
        (Some(c), _, _) => (pct(c), "-".into()),
        _ => ("-".into(), "-".into()),
    }
}

fn threshold(v: &MetricVerdict) -> String {
    if v.metric == CheckMetric::ErrorRate {
        format!("{:.3}pp", v.threshold * 100.0)
    } else if v.metric.higher_is_better() {
        format!("-{:.0}%", v.threshold * 100.0)
    } else {
        format!("+{:.0}%", v.threshold * 100.0)
    }
}

fn rows(c: &Comparison) -> Vec<[String; 8]> {
    c.metrics
        .iter()
        .map(|v| {
            let (ch, ci) = change(v);
            [
                v.metric.name().to_string(),
                value(v.metric, v.baseline_median),
                value(v.metric, v.current_median),
                ch,
                ci,
                threshold(v),
                if v.status == Status::NotMeasured {
                    "-".into()
                } else {
                    v.severity.label().to_string()
                },
                v.status.label().to_string(),
            ]
        })
        .collect()
}

const HEADER: [&str; 8] = [
    "metric",
    "baseline",
    "now",
    "change",
    "95% CI",
    "threshold",
    "severity",
    "verdict",
];

pub fn text(comparisons: &[Comparison]) -> String {
    let mut out = String::new();
    for c in comparisons {
        let n = c
            .metrics
            .first()
            .map_or((0, 0), |m| (m.baseline_samples, m.current_samples));
        let _ = writeln!(
            out,
            "{}: {} ({} baseline samples, {} now)",
            c.workload,
            if c.regressed() { "REGRESSED" } else { "pass" },
            n.0,
            n.1
        );
        let rows = rows(c);
        let mut widths = HEADER.map(str::len);
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
        let _ = writeln!(out, "{}", line(&HEADER.map(String::from)));
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
        let _ = writeln!(out, "| {} |", HEADER.join(" | "));
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
                    name: v.metric.name().to_string(),
                    classname: format!("mcptop.check.{}", c.workload),
                    failure: (v.status == Status::Regressed).then(|| {
                        format!(
                            "{} regressed {} (95% CI {}, threshold {}, severity {}): {} -> {}",
                            r[0], r[3], r[4], r[5], r[6], r[1], r[2]
                        )
                    }),
                    skipped: (v.status == Status::NotMeasured)
                        .then(|| "not measured on both sides".to_string()),
                    output: format!("{} -> {} ({}, CI {}): {}", r[1], r[2], r[3], r[4], r[7]),
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
