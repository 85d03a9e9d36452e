//! A run's report in the formats CI and people read: Markdown and JUnit XML.
//! Text a target controls is escaped (control characters, and `|` inside
//! Markdown tables).

use super::junit::{self, Case, Suite};
use super::text::{describe_stop, op_cells};
use super::RunReport;
use crate::metrics::units::fmt_us;
use crate::protocol::escape::{escape_line, escape_text};
use std::fmt::Write;

/// How a report or a verdict is printed.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, clap::ValueEnum)]
pub enum Format {
    #[default]
    Text,
    Markdown,
    Junit,
}

pub fn markdown(r: &RunReport) -> String {
    let m = &r.metrics;
    let mut out = String::new();
    let _ = writeln!(
        out,
        "## mcptop: `{}` on `{}`\n",
        r.workload_id, r.environment.target
    );
    let _ = writeln!(
        out,
        "{} · measured {:.1} s · stopped: {} · mcptop {} ({}) · {} CPUs\n",
        if r.passed && !r.target_failed() {
            "**pass**"
        } else {
            "**FAIL**"
        },
        m.duration_s,
        describe_stop(&r.stopped_by),
        r.environment.mcptop_version,
        r.environment.build,
        r.environment.cpus
    );
    let _ = writeln!(
        out,
        "| operation | ok | errors | req/s | p50 | p90 | p99 | p99.9 | max | service p50 | service p99 |"
    );
    let _ = writeln!(
        out,
        "|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|"
    );
    for o in m.ops.iter().chain(std::iter::once(&m.overall)) {
        let label = if o.label == "all" {
            "**all**"
        } else {
            &o.label
        };
        let _ = writeln!(out, "| {label} | {} |", op_cells(o).join(" | "));
    }
    let _ = writeln!(out, "\nLatency from the planned start (coordinated-omission corrected); service time from the actual send.");
    if let Some(asked) = m.asked_rate {
        let _ = writeln!(
            out,
            "\nAsked {asked:.1} req/s, sent {:.1}/s, achieved {:.1}/s, {} late sends.",
            m.sent_rate, m.achieved_rate, m.late_sends
        );
    }
    for sc in &m.scenarios {
        let _ = writeln!(out, "\n- {}.", super::text::scenario_rates(sc));
    }
    markdown_errors(&mut out, r);
    markdown_thresholds(&mut out, r);
    for w in &m.warnings {
        let _ = writeln!(out, "\n> warning: {}", escape_line(w));
    }
    out
}

/// The errors table and protocol violations, when there are any.
fn markdown_errors(out: &mut String, r: &RunReport) {
    let m = &r.metrics;
    if !m.overall.errors_by_kind.is_empty() {
        let _ = writeln!(out, "\n| error | count | first message |\n|---|---:|---|");
        for (kind, n) in &m.overall.errors_by_kind {
            let first = m
                .overall
                .first_error_messages
                .get(kind)
                .map(|t| table_cell(t))
                .unwrap_or_default();
            let _ = writeln!(out, "| {kind} | {n} | {first} |");
        }
    }
    if m.protocol.violations > 0 {
        let _ = writeln!(
            out,
            "\n{} protocol violations (failed requests in the run's error rate).",
            m.protocol.violations
        );
    }
}

/// The thresholds table, when the workload has thresholds.
fn markdown_thresholds(out: &mut String, r: &RunReport) {
    if !r.thresholds.is_empty() {
        let _ = writeln!(
            out,
            "\n| threshold | limit | actual | verdict |\n|---|---|---|---|"
        );
        for t in &r.thresholds {
            let _ = writeln!(
                out,
                "| {}{}{} | {} | {} | {} |",
                t.metric,
                t.op.as_deref()
                    .map(|o| format!(" ({o})"))
                    .unwrap_or_default(),
                if t.by_default { " (default)" } else { "" },
                t.limit,
                t.actual,
                if t.passed { "pass" } else { "**FAIL**" }
            );
        }
    }
}

/// Target text for a Markdown table cell: escaped, with its `|` quoted.
fn table_cell(text: &str) -> String {
    escape_line(text).replace('|', "\\|")
}

pub fn junit(r: &RunReport) -> String {
    let class = format!("mcptop.{}", r.workload_id);
    let mut cases = vec![Case {
        name: "run completed".into(),
        classname: class.clone(),
        failure: r
            .target_failed()
            .then(|| format!("the run failed: {}", describe_stop(&r.stopped_by))),
        skipped: None,
        output: format!(
            "{} requests, {:.1} req/s, p50 {}, p99 {}, errors {}{}",
            r.metrics.overall.operations,
            r.metrics.overall.throughput_msg_per_s,
            fmt_us(r.metrics.overall.corrected.p50_us),
            fmt_us(r.metrics.overall.corrected.p99_us),
            r.metrics.overall.errors,
            first_errors(r)
        ),
    }];
    for t in &r.thresholds {
        let name = match &t.op {
            Some(op) => format!("{} of {op} {}", t.metric, t.limit),
            None => format!("{} {}", t.metric, t.limit),
        };
        cases.push(Case {
            name,
            classname: class.clone(),
            failure: (!t.passed).then(|| format!("actual {}, limit {}", t.actual, t.limit)),
            skipped: None,
            output: format!("actual {}", t.actual),
        });
    }
    junit::render(&[Suite {
        name: r.workload_id.clone(),
        time_s: r.metrics.duration_s,
        cases,
    }])
}

/// "; jsonrpc -32602: first message; ..." for the JUnit output.
fn first_errors(r: &RunReport) -> String {
    r.metrics
        .overall
        .first_error_messages
        .iter()
        .map(|(kind, first)| format!("; {kind}: {}", escape_text(first)))
        .collect()
}

pub fn render(r: &RunReport, format: Format) -> String {
    match format {
        Format::Text => super::text::summary(r),
        Format::Markdown => markdown(r),
        Format::Junit => junit(r),
    }
}
