//! The page of a real recorder's run: self-contained, every chart there,
//! the text parts as snapshots (charts replaced by their ids).

use super::*;
use crate::export::test_runs::{run, TWO_OPS};

/// The page with each `<svg ...>...</svg>` replaced by `[chart ID]`.
fn text_parts(page: &str) -> String {
    let mut out = String::new();
    let mut rest = page;
    while let Some(start) = rest.find("<svg ") {
        out.push_str(&rest[..start]);
        let end = rest[start..]
            .find("</svg>")
            .map_or(rest.len(), |e| start + e + 6);
        let tag = &rest[start..end];
        let id = tag
            .split("id=\"")
            .nth(1)
            .and_then(|s| s.split('"').next())
            .unwrap_or("?");
        out.push_str(&format!("[chart {id}]"));
        rest = &rest[end..];
    }
    out.push_str(rest);
    out
}

#[tokio::test(start_paused = true)]
async fn a_run_page_is_self_contained_with_every_chart() {
    let r = run(TWO_OPS, 100, 3, 500, 7);
    let page = run_page(&r).expect("page");
    assert!(page.starts_with("<!DOCTYPE html>"));
    for id in [
        "latency-corrected",
        "latency-service",
        "throughput",
        "histogram",
        "spectrum",
        // One small chart per operation.
        "latency-op-0",
        "latency-op-1",
    ] {
        assert!(
            page.contains(&format!("<svg id=\"{id}\" class=\"chart\"")),
            "{id}"
        );
    }
    // Nothing fetched: no attribute or rule that loads anything (an
    // address in the text, like the target's, is only text).
    for outside in ["src=", "href=", "<script", "<link", "url(", "@import"] {
        assert!(!page.contains(outside), "{outside}");
    }
    // Each operation's chart draws its own p50 and p99 over the intervals.
    for i in 0..2 {
        let at = page
            .find(&format!("<svg id=\"latency-op-{i}\""))
            .expect("op chart");
        let chart = &page[at..at + page[at..].find("</svg>").expect("chart end")];
        assert!(chart.contains(": corrected latency, ms"));
        assert!(
            chart.contains("\np50\n") && chart.contains("\np99\n"),
            "{chart}"
        );
    }
    // Errors (every 7th request timed out) are in their table.
    assert!(page.contains("<td>timeout</td>"));
    insta::assert_snapshot!(text_parts(&page)
        .lines()
        .filter(|l| !l.contains("started")
            && !l.contains("<td>mcptop</td>")
            && !l.contains("<td>machine</td>"))
        .collect::<Vec<_>>()
        .join("\n"));
}

#[test]
fn text_from_the_wire_is_escaped() {
    assert_eq!(
        escape("<b a=\"x\">&'"),
        "&lt;b a=&quot;x&quot;&gt;&amp;&#39;"
    );
}

#[test]
fn the_spectrum_axis_counts_nines() {
    assert_eq!(charts::nines(0.0), 0.0);
    assert!((charts::nines(0.99) - 2.0).abs() < 1e-9);
    assert!((charts::nines(0.99999) - 5.0).abs() < 1e-6);
}

/// The verdict page: the gate's own table, and each metric's change with
/// its interval drawn (a change alone where there is no interval).
#[test]
fn a_verdict_page_draws_each_metrics_interval() {
    use crate::check::verdict::{GateMetric, MetricVerdict, Severity, Status};
    let verdict = |metric, change: f64, ci: Option<(f64, f64)>, status| MetricVerdict {
        metric,
        baseline_median: 1000.0,
        current_median: 1000.0 * (1.0 + change),
        baseline_samples: 5,
        current_samples: 5,
        change: Some(change),
        ci_low: ci.map(|c| c.0),
        ci_high: ci.map(|c| c.1),
        threshold: 0.2,
        severity: Severity::of_change(change),
        status,
        scope: None,
    };
    let c = crate::check::Comparison {
        workload: "w".into(),
        baseline_runs: 5,
        current_runs: 5,
        warning: None,
        notes: vec!["a note".into()],
        metrics: vec![
            verdict(GateMetric::P99, 0.5, Some((0.3, 0.7)), Status::Regressed),
            verdict(GateMetric::Throughput, -0.01, None, Status::Unchanged),
        ],
    };
    assert!(c.regressed());
    let page = verdict_page("mcptop check", &[c]).expect("page");
    assert!(page.contains("<span class=\"fail\">REGRESSED</span>"));
    assert!(page.contains("<svg id=\"verdict-0\" class=\"chart\""));
    assert!(page.contains("throughput (%, no interval)"));
    insta::assert_snapshot!(text_parts(&page));
}

/// SSE resumption's figures are a table, a row per operation, from the
/// result file's `sse_resume`; a run without them has no such section.
#[tokio::test(start_paused = true)]
async fn sse_resumption_has_a_row_per_operation() {
    use crate::transport::resume_figures::{ResumeFigures, ResumeSample};
    let mut r = run(TWO_OPS, 100, 3, 500, 7);
    assert!(!run_page(&r).expect("page").contains("SSE resumption"));
    let figures = ResumeFigures::default();
    for ms in [2, 4] {
        let sample = ResumeSample {
            replay: Some(std::time::Duration::from_millis(ms)),
            events: 100,
            replayed: 50,
            resumes: 1,
            missing: 1,
            call: std::time::Duration::from_millis(100),
            ..ResumeSample::default()
        };
        figures.record("events", tokio::time::Instant::now(), &sample);
    }
    r.sse_resume = crate::metrics::resume::report(&figures);
    let page = run_page(&r).expect("page");
    let at = page.find("<h2>SSE resumption</h2>").expect("section");
    let section = &page[at..at + page[at..].find("</table>").expect("table end")];
    let row = section
        .lines()
        .find(|l| l.starts_with("<tr><td>events</td>"))
        .unwrap_or_else(|| panic!("no row for events:\n{section}"));
    // calls, resumed, resume requests, p50 / p99 / max ms, events/s,
    // replayed events/s, duplicates, gaps.
    let cells: Vec<&str> = row
        .trim_start_matches("<tr><td>")
        .trim_end_matches("</td></tr>")
        .split("</td><td>")
        .collect();
    assert_eq!(cells[..4], ["events", "2", "2", "2"], "{row}");
    assert!(cells[4].starts_with("2.00"), "{row}");
    assert!(cells[6].starts_with("4.00"), "{row}");
    assert_eq!(cells[7], "1000", "{row}");
    assert_eq!(cells[8], "16667", "{row}");
    assert_eq!(cells[9..], ["0", "2"], "{row}");
}

/// Failover's figures (the result file's `failover`) are a table of the
/// sessions' moves and one of each target's replies; a run without
/// failover has no such section, and a target is escaped.
#[tokio::test(start_paused = true)]
async fn failover_has_the_moves_and_a_row_per_target() {
    use crate::metrics::failover::{FailoverReport, SessionMoves};
    let mut r = run(TWO_OPS, 100, 3, 500, 7);
    assert!(!run_page(&r).expect("page").contains("<h2>Failover</h2>"));
    let moved = |took: f64| SessionMoves {
        took_s: vec![Some(took)],
        lost: 2,
        not_sent: 0,
        answered: vec![100, 300],
    };
    let targets = vec!["http://a/mcp".to_string(), "http://b/mcp?x=<1>".to_string()];
    r.metrics.failover = Some(FailoverReport::build(
        targets,
        3,
        &[moved(0.065), moved(0.08), SessionMoves::default()],
    ));
    let page = run_page(&r).expect("page");
    let at = page.find("<h2>Failover</h2>").expect("section");
    let section = &page[at..];
    let rows: Vec<&str> = section
        .lines()
        .filter(|l| l.starts_with("<tr><td>"))
        .take(3)
        .collect();
    assert_eq!(
        rows[0],
        "<tr><td>2/3 (66.7%)</td><td>2</td><td>0</td><td>0.065</td><td>0.080</td>\
         <td>4</td><td>0</td></tr>"
    );
    assert_eq!(
        rows[1],
        "<tr><td>http://a/mcp</td><td>200</td><td>25.0</td></tr>"
    );
    assert_eq!(
        rows[2],
        "<tr><td>http://b/mcp?x=&lt;1&gt;</td><td>600</td><td>75.0</td></tr>"
    );
}
