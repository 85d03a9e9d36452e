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
