//! The verdict page of `check` and `compare`: per workload, the same table
//! the terminal shows (`check::formats`), and each metric's change drawn
//! with its confidence interval against its threshold.

use super::charts::{self, Interval};
use super::{escape, page, table};
use crate::check::formats::{header, rows};
use crate::check::stats::Scale;
use crate::check::Comparison;
use std::fmt::Write;

/// One page for every comparison; `title` says what was compared.
pub fn verdict_page(title: &str, comparisons: &[Comparison]) -> Result<String, String> {
    let mut body = format!("<h1>{}</h1>\n", escape(title));
    for (n, c) in comparisons.iter().enumerate() {
        let (class, word) = if c.regressed() {
            ("fail", "REGRESSED")
        } else {
            ("ok", "no regression")
        };
        let _ = writeln!(
            body,
            "<h2>{} <span class=\"{class}\">{word}</span></h2>\n<p class=\"note\">{} baseline \
             run(s), {} current run(s)</p>",
            escape(&c.workload),
            c.baseline_runs,
            c.current_runs
        );
        if let Some(w) = &c.warning {
            let _ = writeln!(body, "<p class=\"fail\">{}</p>", escape(w));
        }
        let head = header();
        let head: Vec<&str> = head.iter().map(String::as_str).collect();
        let cells: Vec<Vec<String>> = rows(c)
            .into_iter()
            .map(|r| r.iter().map(|cell| escape(cell)).collect())
            .collect();
        body.push_str(&table(&head, &cells));
        let bars = intervals(c);
        if !bars.is_empty() {
            body.push_str(&charts::intervals(
                &format!("verdict-{n}"),
                &format!("{}: change and interval per metric", c.workload),
                &bars,
            )?);
        }
        for note in &c.notes {
            let _ = writeln!(body, "<p class=\"note\">{}</p>", escape(note));
        }
    }
    Ok(page(title, &body))
}

/// The metrics with a change, in percent (points for a difference); one
/// whose interval is unbounded (too few samples) is drawn as its change
/// alone and says so.
fn intervals(c: &Comparison) -> Vec<Interval> {
    c.metrics
        .iter()
        .filter_map(|v| {
            let change = v.change.filter(|c| c.is_finite())?;
            let unit = if v.metric.scale() == Scale::Difference {
                "pp"
            } else {
                "%"
            };
            let (low, high, note) = match (v.ci_low, v.ci_high) {
                (Some(lo), Some(hi)) if lo.is_finite() && hi.is_finite() => (lo, hi, ""),
                _ => (change, change, ", no interval"),
            };
            Some(Interval {
                name: format!("{} ({unit}{note})", v.metric.name()),
                change: change * 100.0,
                low: low * 100.0,
                high: high * 100.0,
                threshold: v.threshold * 100.0,
                bad: v.status == crate::check::verdict::Status::Regressed,
            })
        })
        .collect()
}
