//! The HTML report: one self-contained page (inline CSS and SVG, no
//! script, nothing fetched) made from a result file, or from the verdicts
//! of `check`/`compare` (`verdict`). The charts are drawn by `plotters`
//! (`charts`); the figures are the result's own, nothing is computed
//! again here but the percentile spectrum, read off the stored histograms.

pub mod charts;
mod ops;
mod verdict;

pub use verdict::verdict_page;

use crate::metrics::recorder::OpMetrics;
use crate::metrics::units::fmt_mib;
use crate::metrics::wire_rates::fmt_bytes_per_s;
use crate::metrics::{decode_histogram, log_buckets, spectrum::spectrum};
use crate::report::RunReport;
use charts::Line;
use std::fmt::Write;

const STYLE: &str = "body{font-family:system-ui,sans-serif;margin:24px auto;max-width:1000px;color:#222}\
h1{font-size:1.5em}h2{font-size:1.15em;margin-top:2em;border-bottom:1px solid #ddd}\
table{border-collapse:collapse;margin:8px 0;font-size:0.9em}td,th{padding:3px 10px;border-bottom:1px solid #eee;text-align:right}\
th:first-child,td:first-child{text-align:left}.fail{color:#b00}.ok{color:#070}\
.chart{display:block;margin:12px 0;max-width:100%;height:auto}.note{color:#666}\
.flame{width:100%;min-height:400px;border:1px solid #ddd}";

/// Text for HTML (element content and attribute values).
pub fn escape(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for c in text.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&#39;"),
            c => out.push(c),
        }
    }
    out
}

/// The page around `body`.
pub fn page(title: &str, body: &str) -> String {
    format!(
        "<!DOCTYPE html>\n<html lang=\"en\">\n<head>\n<meta charset=\"utf-8\">\n\
         <meta name=\"viewport\" content=\"width=device-width, initial-scale=1\">\n\
         <title>{}</title>\n<style>{STYLE}</style>\n</head>\n<body>\n{body}</body>\n</html>\n",
        escape(title)
    )
}

/// A table: a header row and rows of cells (already escaped).
pub fn table(head: &[&str], rows: &[Vec<String>]) -> String {
    let mut out = String::from("<table>\n<tr>");
    for h in head {
        let _ = write!(out, "<th>{}</th>", escape(h));
    }
    out.push_str("</tr>\n");
    for row in rows {
        out.push_str("<tr>");
        for cell in row {
            let _ = write!(out, "<td>{cell}</td>");
        }
        out.push_str("</tr>\n");
    }
    out.push_str("</table>\n");
    out
}

/// The report of one run.
pub fn run_page(r: &RunReport) -> Result<String, String> {
    let mut body = String::new();
    let _ = writeln!(body, "<h1>mcptop: {}</h1>", escape(&r.workload_id));
    body.push_str(&overview(r));
    body.push_str("<h2>Summary</h2>\n");
    body.push_str(&summary_table(r));
    body.push_str(&thresholds(r));
    body.push_str("<h2>Latency over time</h2>\n");
    body.push_str(&over_time(r)?);
    body.push_str(&ops::per_op_and_scenario(r)?);
    body.push_str(&sse_resume(r));
    body.push_str(&failover(r));
    body.push_str("<h2>Latency distribution</h2>\n");
    body.push_str(&distribution(r)?);
    body.push_str(&memory(r)?);
    body.push_str(&errors(r));
    body.push_str(&warnings(r));
    body.push_str(&environment(r));
    body.push_str(&flame_graph(r));
    Ok(page(&format!("mcptop: {}", r.workload_id), &body))
}

fn overview(r: &RunReport) -> String {
    let m = &r.metrics;
    let load = match (r.load.rate, r.load.concurrency) {
        (Some(rate), _) => format!("open loop, {rate} requests/s asked"),
        (_, Some(c)) => format!("closed loop, {c} in flight"),
        _ => r.load.shape.clone(),
    };
    let mut rows = vec![
        vec!["started".into(), escape(&r.started_at)],
        vec!["target".into(), escape(&r.environment.target)],
        vec![
            "load".into(),
            escape(&format!("{load}, {} session(s)", r.load.sessions)),
        ],
        vec!["measured".into(), format!("{:.1} s", m.duration_s)],
        vec![
            "stopped".into(),
            escape(&crate::report::text::describe_stop(&r.stopped_by)),
        ],
        vec![
            "requests".into(),
            format!(
                "{} answered, {} errors, {:.1}/s achieved",
                m.overall.operations, m.overall.errors, m.achieved_rate
            ),
        ],
    ];
    if let Some(s) = &r.shard {
        rows.push(vec!["shard".into(), format!("{s} (this process's share)")]);
    }
    if let Some(ms) = &r.merged_shards {
        let missing = if ms.missing.is_empty() {
            String::new()
        } else {
            format!(", missing {:?}", ms.missing)
        };
        rows.push(vec![
            "merged".into(),
            format!("shards {:?} of {}{missing}", ms.present, ms.count),
        ]);
    }
    table(&["", ""], &rows)
}

fn op_row(o: &OpMetrics) -> Vec<String> {
    // ok and errors stand apart here (operations, error rate); the rest
    // (req/s, corrected and service percentiles) as every report has them.
    let cells = crate::report::text::op_cells(o);
    let mut row = vec![
        escape(&o.label),
        o.operations.to_string(),
        o.errors.to_string(),
        format!("{:.2}%", o.error_rate * 100.0),
    ];
    row.extend(cells.into_iter().skip(2));
    row.push(fmt_bytes_per_s(o.bytes.bytes_sent_per_s));
    row.push(fmt_bytes_per_s(o.bytes.bytes_received_per_s));
    row
}

fn summary_table(r: &RunReport) -> String {
    let m = &r.metrics;
    let rows: Vec<Vec<String>> = std::iter::once(&m.overall)
        .chain(m.scenarios.iter().map(|s| &s.figures))
        .chain(&m.ops)
        .map(op_row)
        .collect();
    let head = [
        "operation",
        "requests",
        "errors",
        "error rate",
        "ok/s",
        "p50",
        "p90",
        "p99",
        "p99.9",
        "max",
        "service p50",
        "service p99",
        "sent",
        "received",
    ];
    format!(
        "{}<p class=\"note\">Latency is corrected (from each request's planned send, so waiting \
         for a slow server counts); service time is from the actual send. Sent and received are \
         bytes on the wire per second.</p>\n",
        table(&head, &rows)
    )
}

fn thresholds(r: &RunReport) -> String {
    if r.thresholds.is_empty() {
        return String::new();
    }
    let rows: Vec<Vec<String>> = r
        .thresholds
        .iter()
        .map(|t| {
            let (class, word) = if t.passed {
                ("ok", "pass")
            } else {
                ("fail", "FAIL")
            };
            vec![
                escape(&format!(
                    "{}{}",
                    t.metric,
                    t.op.as_ref().map(|o| format!(" ({o})")).unwrap_or_default()
                )),
                escape(&t.limit),
                escape(&t.actual),
                format!("<span class=\"{class}\">{word}</span>"),
            ]
        })
        .collect();
    format!(
        "<h2>Thresholds</h2>\n{}",
        table(&["threshold", "limit", "measured", ""], &rows)
    )
}

fn ms(us: u64) -> f64 {
    us as f64 / 1000.0
}

fn over_time(r: &RunReport) -> Result<String, String> {
    let iv = &r.metrics.intervals;
    if iv.is_empty() {
        return Ok("<p class=\"note\">No interval was measured.</p>\n".into());
    }
    type Pick = fn(&crate::metrics::Percentiles) -> u64;
    let quantiles: [(&str, Pick); 4] = [
        ("p50", |p| p.p50_us),
        ("p90", |p| p.p90_us),
        ("p99", |p| p.p99_us),
        ("p99.9", |p| p.p999_us),
    ];
    let mut out = String::new();
    for (id, title, service) in [
        (
            "latency-corrected",
            "Corrected latency per interval, ms",
            false,
        ),
        ("latency-service", "Service time per interval, ms", true),
    ] {
        let lines: Vec<Line> = quantiles
            .iter()
            .map(|(name, pick)| Line {
                name: (*name).into(),
                points: iv
                    .iter()
                    .map(|i| {
                        (
                            i.t_s,
                            ms(pick(if service { &i.service } else { &i.corrected })),
                        )
                    })
                    .collect(),
            })
            .collect();
        out.push_str(&charts::lines(id, title, "ms", &lines)?);
    }
    let mut rates = vec![
        Line {
            name: "achieved (ok/s)".into(),
            points: iv.iter().map(|i| (i.t_s, i.throughput)).collect(),
        },
        Line {
            name: "sent/s".into(),
            points: iv.iter().map(|i| (i.t_s, i.sent_rate)).collect(),
        },
    ];
    if iv.iter().any(|i| i.asked_rate.is_some()) {
        rates.insert(
            0,
            Line {
                name: "asked/s".into(),
                points: iv
                    .iter()
                    .filter_map(|i| i.asked_rate.map(|a| (i.t_s, a)))
                    .collect(),
            },
        );
    }
    out.push_str(&charts::lines(
        "throughput",
        "Throughput: asked vs achieved, requests/s",
        "requests/s",
        &rates,
    )?);
    Ok(out)
}

fn distribution(r: &RunReport) -> Result<String, String> {
    let o = &r.metrics.overall;
    let corrected = decode_histogram(&o.histogram_corrected)?;
    let service = decode_histogram(&o.histogram_service)?;
    if corrected.is_empty() {
        return Ok("<p class=\"note\">No request succeeded: no distribution.</p>\n".into());
    }
    let buckets: Vec<(u64, u64)> = log_buckets(&corrected)
        .iter()
        .map(|b| (b.upper_us, b.count))
        .collect();
    let mut out = charts::histogram(
        "histogram",
        "Corrected latency histogram, all operations",
        &buckets,
    )?;
    let as_ms =
        |h| -> Vec<(f64, f64)> { spectrum(h).into_iter().map(|(q, v)| (q, ms(v))).collect() };
    let lines = [
        Line {
            name: "corrected".into(),
            points: as_ms(&corrected),
        },
        Line {
            name: "service".into(),
            points: as_ms(&service),
        },
    ];
    out.push_str(&charts::spectrum(
        "spectrum",
        "Percentile spectrum, all operations",
        &lines,
    )?);
    Ok(out)
}

fn memory(r: &RunReport) -> Result<String, String> {
    let Some(mem) = &r.metrics.memory else {
        return Ok(String::new());
    };
    let mut out = String::from("<h2>Memory</h2>\n");
    let mib = |b: u64| b as f64 / (1024.0 * 1024.0);
    let mut lines = vec![Line {
        name: "mcptop RSS".into(),
        points: mem.history.iter().map(|h| (h.0, mib(h.1))).collect(),
    }];
    if mem.target.is_some() {
        lines.push(Line {
            name: "target RSS".into(),
            points: mem.history.iter().map(|h| (h.0, mib(h.2))).collect(),
        });
    }
    out.push_str(&charts::lines(
        "memory",
        "Resident memory, MiB",
        "MiB",
        &lines,
    )?);
    if !mem.allocator_history.is_empty() {
        let a = &mem.allocator_history;
        let lines = [
            Line {
                name: "allocated".into(),
                points: a.iter().map(|h| (h.0, mib(h.1))).collect(),
            },
            Line {
                name: "resident".into(),
                points: a.iter().map(|h| (h.0, mib(h.2))).collect(),
            },
        ];
        out.push_str(&charts::lines(
            "allocator",
            "mcptop's allocator, MiB",
            "MiB",
            &lines,
        )?);
    }
    if let Some(a) = &r.metrics.allocator {
        let _ = writeln!(
            out,
            "<p>Allocator at the end: {} allocated, {} resident, {:.0} allocations/s.</p>",
            fmt_mib(a.allocated_bytes as f64),
            fmt_mib(a.resident_bytes as f64),
            a.allocs_per_s
        );
    }
    Ok(out)
}

/// SSE resumption (`resume_after`): a row per operation; nothing when no
/// call asked to resume.
fn sse_resume(r: &RunReport) -> String {
    let Some(ops) = r.sse_resume.as_ref().filter(|o| !o.is_empty()) else {
        return String::new();
    };
    let rows: Vec<Vec<String>> = ops
        .iter()
        .map(|(op, s)| {
            let replay = |f: fn(&crate::transport::phases::PhaseStats) -> u64| {
                s.replay
                    .as_ref()
                    .map_or("-".into(), |p| format!("{:.2}", ms(f(p))))
            };
            vec![
                escape(op),
                s.calls.to_string(),
                s.resumed.to_string(),
                s.resume_requests.to_string(),
                replay(|p| p.p50_us),
                replay(|p| p.p99_us),
                replay(|p| p.max_us),
                format!("{:.0}", s.events_per_s),
                format!("{:.0}", s.replayed_events_per_s),
                s.duplicates.to_string(),
                s.gaps.to_string(),
            ]
        })
        .collect();
    format!(
        "<h2>SSE resumption</h2>\n{}",
        table(
            &[
                "operation",
                "calls",
                "resumed",
                "resume requests",
                "replay p50 ms",
                "replay p99 ms",
                "replay max ms",
                "events/s",
                "replayed events/s",
                "duplicates",
                "gaps",
            ],
            &rows
        )
    )
}

/// Failover (`failover = true`): the sessions' moves, then a row per
/// target with its replies and share; nothing without failover.
fn failover(r: &RunReport) -> String {
    let Some(f) = &r.metrics.failover else {
        return String::new();
    };
    let secs = |t: Option<f64>| t.map_or("-".into(), |t| format!("{:.3}", t));
    let moves = table(
        &[
            "sessions migrated",
            "moves",
            "unfinished",
            "failover p50 s",
            "failover max s",
            "lost",
            "not sent",
        ],
        &[vec![
            format!(
                "{}/{} ({:.1}%)",
                f.sessions_migrated, f.sessions, f.migrated_pct
            ),
            f.migrations.to_string(),
            f.migrations_unfinished.to_string(),
            secs(f.failover_p50_s),
            secs(f.failover_max_s),
            f.requests_lost.to_string(),
            f.requests_not_sent.to_string(),
        ]],
    );
    let shares: Vec<Vec<String>> = f
        .answered
        .iter()
        .map(|t| {
            vec![
                escape(&t.target),
                t.ok.to_string(),
                format!("{:.1}", t.share_pct),
            ]
        })
        .collect();
    format!(
        "<h2>Failover</h2>\n{moves}{}",
        table(&["target", "replies", "share %"], &shares)
    )
}

fn errors(r: &RunReport) -> String {
    let o = &r.metrics.overall;
    if o.errors_by_kind.is_empty() {
        return "<h2>Errors</h2>\n<p>None.</p>\n".into();
    }
    let rows: Vec<Vec<String>> = o
        .errors_by_kind
        .iter()
        .map(|(kind, n)| {
            let first = o
                .first_error_messages
                .get(kind)
                .map(String::as_str)
                .unwrap_or("");
            vec![escape(kind), n.to_string(), escape(first)]
        })
        .collect();
    format!(
        "<h2>Errors</h2>\n{}",
        table(&["kind", "count", "first message"], &rows)
    )
}

fn warnings(r: &RunReport) -> String {
    if r.metrics.warnings.is_empty() {
        return String::new();
    }
    let items: String = r
        .metrics
        .warnings
        .iter()
        .map(|w| format!("<li>{}</li>\n", escape(w)))
        .collect();
    format!("<h2>Warnings</h2>\n<ul>\n{items}</ul>\n")
}

fn environment(r: &RunReport) -> String {
    let e = &r.environment;
    let rows = [
        (
            "mcptop",
            format!("{} ({} build)", e.mcptop_version, e.build),
        ),
        ("target", e.target.clone()),
        ("server", e.server_name.clone()),
        ("protocol", e.protocol_version.clone()),
        ("machine", format!("{} {}, {} CPUs", e.os, e.arch, e.cpus)),
    ];
    let rows: Vec<Vec<String>> = rows
        .iter()
        .map(|(k, v)| vec![(*k).into(), escape(v)])
        .collect();
    format!("<h2>Environment</h2>\n{}", table(&["", ""], &rows))
}

/// The flame graph the run captured, inlined as a data URI (its own
/// document, so its search and zoom script runs as it does on its own).
fn flame_graph(r: &RunReport) -> String {
    use base64::Engine;
    let Some(path) = &r.flamegraph else {
        return String::new();
    };
    match std::fs::read(path) {
        Ok(svg) => format!(
            "<h2>Flame graph</h2>\n<object class=\"flame\" type=\"image/svg+xml\" \
             data=\"data:image/svg+xml;base64,{}\"></object>\n",
            base64::engine::general_purpose::STANDARD.encode(svg)
        ),
        Err(e) => format!(
            "<h2>Flame graph</h2>\n<p class=\"note\">{}: {}</p>\n",
            escape(&path.display().to_string()),
            escape(&e.to_string())
        ),
    }
}

#[cfg(test)]
mod tests;
