//! Plain-text output: the one-line progress a headless run prints every
//! tick (with the last interval's bytes received and sent per second), and
//! the final summary table. Formatting only; figures come from the
//! `Snapshot` and the `RunReport`. Whatever a target said (its name, error
//! messages, stderr, warnings quoting it) is escaped as it is printed, also
//! when the report was read back from a file someone else wrote.

use super::RunReport;
use crate::engine::StopReason;
use crate::metrics::recorder::OpMetrics;
use crate::metrics::units::{fmt_mib, fmt_us};
use crate::metrics::wire_rates::fmt_bytes_per_s;
use crate::metrics::RunMetrics;
use crate::metrics::Snapshot;
use crate::protocol::escape::{escape_line, escape_text};
use std::fmt::Write;

pub fn progress_line(s: &Snapshot) -> String {
    let mut line = format!("[{:>5.1}s] {:<9}", s.elapsed.as_secs_f64(), s.phase.name());
    match &s.last {
        Some(i) => {
            let _ = write!(line, " {:>9.1} req/s", i.throughput);
            if let Some(asked) = i.asked_rate {
                let _ = write!(line, " (asked {asked:.0})");
            }
            let _ = write!(
                line,
                "  p50 {}  p99 {}  p99.9 {}  err {}",
                fmt_us(i.corrected.p50_us),
                fmt_us(i.corrected.p99_us),
                fmt_us(i.corrected.p999_us),
                i.errors
            );
            // Bytes only where the transport counts them (nothing to say
            // otherwise, and the line stays as it was for such targets).
            if !i.bytes.is_empty() {
                let _ = write!(
                    line,
                    "  recv {}  sent {}",
                    fmt_bytes_per_s(i.bytes.bytes_received_per_s),
                    fmt_bytes_per_s(i.bytes.bytes_sent_per_s)
                );
            }
        }
        None => match s.warmup {
            Some(w) => {
                let _ = write!(
                    line,
                    " {:.1}/{:.1}s",
                    w.elapsed.as_secs_f64(),
                    w.planned.as_secs_f64()
                );
            }
            None => line.push_str("  (no interval measured yet)"),
        },
    }
    let _ = write!(line, "  in flight {}", s.load.in_flight);
    if s.load.paused {
        line.push_str("  PAUSED");
    }
    line
}

/// An operation's figures as cells of the summary's, the Markdown and the
/// HTML report's tables: ok, errors, req/s, corrected p50, p90, p99, p99.9, max,
/// service p50, p99.
pub fn op_cells(op: &OpMetrics) -> [String; 10] {
    let (c, s) = (&op.corrected, &op.service);
    [
        op.ok.to_string(),
        op.errors.to_string(),
        format!("{:.1}", op.throughput_msg_per_s),
        fmt_us(c.p50_us),
        fmt_us(c.p90_us),
        fmt_us(c.p99_us),
        fmt_us(c.p999_us),
        fmt_us(c.max_us),
        fmt_us(s.p50_us),
        fmt_us(s.p99_us),
    ]
}

fn op_row(out: &mut String, op: &OpMetrics, width: usize) {
    let [ok, errors, rate, p50, p90, p99, p999, max, s50, s99] = op_cells(op);
    let _ = writeln!(
        out,
        "{:<width$} {ok:>9} {errors:>7} {rate:>10} {p50:>9} {p90:>9} {p99:>9} {p999:>9} {max:>9} | {s50:>9} {s99:>9}",
        op.label,
    );
}

/// The run in a few lines for a terminal: what ran, the table of
/// operations, rates, errors, resources, warnings and thresholds.
pub fn summary(r: &RunReport) -> String {
    let mut out = String::new();
    heading(&mut out, r);
    op_table(&mut out, &r.metrics);
    rates(&mut out, &r.metrics);
    errors(&mut out, &r.metrics.overall);
    super::chaos::write(&mut out, &r.metrics);
    let m = &r.metrics;
    if m.protocol.violations > 0 {
        let _ = writeln!(
            out,
            "protocol violations (not matched to a request; failed requests in the run's \
             error rate): {}",
            m.protocol.violations
        );
    }
    if r.unfinished > 0 {
        let _ = writeln!(out, "unanswered when the run ended: {}", r.unfinished);
    }
    resources(&mut out, m);
    for w in &m.warnings {
        let _ = writeln!(out, "warning: {}", escape_text(w));
    }
    if let StopReason::TargetExited { stderr_tail, .. } = &r.stopped_by {
        if !stderr_tail.is_empty() {
            let _ = writeln!(out, "target stderr (tail):\n{}", escape_text(stderr_tail));
        }
    }
    thresholds(&mut out, r);
    out
}

/// What ran against what, how long, and why it stopped.
fn heading(out: &mut String, r: &RunReport) {
    let shape = match (r.load.rate, r.load.concurrency) {
        (Some(rate), _) => format!("open loop {rate} req/s"),
        (_, Some(c)) => format!("closed loop {c} in flight"),
        _ => String::new(),
    };
    // With scenarios the run has no one shape: say each scenario's.
    let shape = if r.workload.scenarios.is_empty() {
        shape
    } else {
        let each: Vec<String> = r
            .workload
            .scenarios
            .iter()
            .map(|s| match (s.rate, s.concurrency) {
                (Some(rate), _) => format!("{} open loop {rate} req/s", escape_line(&s.name)),
                (_, c) => format!(
                    "{} closed loop {} in flight",
                    escape_line(&s.name),
                    c.unwrap_or_default()
                ),
            })
            .collect();
        format!("scenarios: {}", each.join(", "))
    };
    let workers = match r.environment.worker_threads {
        0 => String::new(),
        n => format!(
            ", mcptop: {} on {} cores",
            crate::metrics::units::count_of(n as u64, "worker thread"),
            r.environment.cpus
        ),
    };
    let _ = writeln!(
        out,
        "{} -> {} ({} {}, protocol {}{workers})",
        r.workload_id,
        escape_line(&r.environment.target),
        if r.environment.server_name.is_empty() {
            "server".into()
        } else {
            escape_line(&r.environment.server_name)
        },
        r.environment.build,
        r.environment.protocol_version
    );
    // Hook: outputs (one vocabulary: "1 session", the warm-up said).
    let _ = writeln!(
        out,
        "measured {:.1}s, {shape}, {}, stopped: {}",
        r.metrics.duration_s,
        crate::metrics::units::count_of(u64::from(r.load.sessions), "session"),
        describe_stop(&r.stopped_by)
    );
    if r.load.warmup_s > 0.0 {
        let _ = writeln!(
            out,
            "warm-up: {:.1}s before measuring, not counted",
            r.load.warmup_s
        );
    }
    if let Some(phases) = &r.connection_phases {
        let _ = writeln!(out, "connections: {}", phases.line());
    }
    for (op, stats) in r.sse_resume.iter().flatten() {
        let _ = writeln!(out, "SSE resumption: {}", stats.line(op));
    }
}

/// One row per operation (and the total when there are several).
fn op_table(out: &mut String, m: &RunMetrics) {
    let width = m
        .ops
        .iter()
        .map(|o| o.label.len())
        .max()
        .unwrap_or(3)
        .clamp(9, 40);
    let _ = writeln!(
        out,
        "\n{:<width$} {:>9} {:>7} {:>10} {:>9} {:>9} {:>9} {:>9} {:>9} | {:>9} {:>9}",
        "operation",
        "ok",
        "errors",
        "req/s",
        "p50",
        "p90",
        "p99",
        "p99.9",
        "max",
        "svc p50",
        "svc p99"
    );
    for op in &m.ops {
        op_row(out, op, width);
    }
    if m.ops.len() > 1 {
        op_row(out, &m.overall, width);
    }
    out.push_str("(latency from the planned start; svc = service time from the actual send)\n");
}

/// Asked, sent and achieved rates.
fn rates(out: &mut String, m: &RunMetrics) {
    match m.asked_rate {
        Some(asked) => {
            let _ = writeln!(
                out,
                "\nrate: asked {asked:.1}/s, sent {:.1}/s, achieved {:.1}/s; late sends {} (max lag {})",
                m.sent_rate,
                m.achieved_rate,
                m.late_sends,
                fmt_us(m.max_send_lag_us)
            );
        }
        None => {
            let _ = writeln!(out, "\nrate: achieved {:.1}/s", m.achieved_rate);
        }
    }
    for sc in &m.scenarios {
        let _ = writeln!(out, "  {}", scenario_rates(sc));
    }
    send_lag(out, m);
    if let Some(line) = generator_cpu_line(m) {
        let _ = writeln!(out, "{line}");
    }
    super::bytes::write(out, m);
}

/// mcptop's own CPU per request, and how busy it kept its cores.
pub(super) fn generator_cpu_line(m: &RunMetrics) -> Option<String> {
    let cpu = m.generator_cpu.as_ref()?;
    let us = m.generator_cpu_us_per_request?;
    let busy = if m.duration_s > 0.0 && cpu.cores > 0.0 {
        format!(
            " ({:.0}% of its {:.0} worker cores)",
            cpu.cpu_s / m.duration_s / cpu.cores * 100.0,
            cpu.cores
        )
    } else {
        String::new()
    };
    let with = if cpu.includes_target {
        "; includes the builtin server running inside mcptop"
    } else {
        ""
    };
    Some(format!("mcptop CPU: {us:.1} µs per request{busy}{with}"))
}

/// One scenario's asked, sent and achieved rates and its late sends (open
/// loop), or what it achieved (closed loop); then its send lag.
pub(super) fn scenario_rates(s: &crate::metrics::ScenarioMetrics) -> String {
    let name = escape_line(&s.figures.label);
    let achieved = s.figures.throughput_msg_per_s;
    let lag = &s.send_lag.lag;
    let lag = if lag.count > 0 {
        format!(
            "; send lag p50 {}, p99 {}, max {}",
            fmt_us(lag.p50_us),
            fmt_us(lag.p99_us),
            fmt_us(lag.max_us)
        )
    } else {
        String::new()
    };
    let rates = match s.asked_rate {
        Some(asked) => format!(
            "scenario {name}: asked {asked:.1}/s, sent {:.1}/s, achieved {achieved:.1}/s; \
             late sends {} (max lag {})",
            s.sent_rate,
            s.late_sends,
            fmt_us(s.max_send_lag_us)
        ),
        None => format!(
            "scenario {name}: sent {:.1}/s, achieved {achieved:.1}/s",
            s.sent_rate
        ),
    };
    rates + &lag
}

/// mcptop's own send lag, and what it means for the figures above.
fn send_lag(out: &mut String, m: &RunMetrics) {
    let lag = &m.send_lag;
    if lag.lag.count == 0 {
        return;
    }
    let _ = writeln!(
        out,
        "send lag (actual send - planned start): p50 {}, p99 {}, max {}; late (> {}) {}",
        fmt_us(lag.lag.p50_us),
        fmt_us(lag.lag.p99_us),
        fmt_us(lag.lag.max_us),
        fmt_us(lag.late_threshold_us),
        lag.lag.late
    );
    if let Some(note) = lag.floor_note(m.overall.corrected.p50_us) {
        let _ = writeln!(out, "note: {note}");
    }
    if m.asked_rate.is_none() && lag.lag.late > 0 {
        let _ = writeln!(out, "note: {CLOSED_LOOP_LATE}");
    }
}

/// What a late send means in closed loop, where nothing is scheduled ahead.
pub const CLOSED_LOOP_LATE: &str =
    "closed loop: a request is due when a slot frees; a late send is mcptop's own delay";

fn thresholds(out: &mut String, r: &RunReport) {
    for t in &r.thresholds {
        let scope =
            t.op.as_deref()
                .map(|o| format!(" [{o}]"))
                .unwrap_or_default();
        let _ = writeln!(
            out,
            "threshold {}{scope} {}{}: {} (actual {})",
            t.metric,
            t.limit,
            if t.by_default { " (default)" } else { "" },
            if t.passed { "pass" } else { "FAIL" },
            t.actual
        );
    }
}

/// Errors by kind, each with the first message the server gave for it.
fn errors(out: &mut String, all: &OpMetrics) {
    if all.errors_by_kind.is_empty() {
        out.push_str("errors: none\n");
        return;
    }
    let _ = writeln!(out, "errors: {}", all.errors);
    let width = all
        .errors_by_kind
        .keys()
        .map(String::len)
        .max()
        .unwrap_or(0);
    for (kind, n) in &all.errors_by_kind {
        let _ = write!(out, "  {kind:<width$} {n:>9}");
        match all.first_error_messages.get(kind) {
            Some(first) => {
                let _ = writeln!(out, "  first: {}", escape_line(first));
            }
            None => out.push('\n'),
        }
    }
}

pub fn describe_stop(s: &StopReason) -> String {
    match s {
        StopReason::Completed => "completed".into(),
        StopReason::RequestLimit => "request count reached".into(),
        StopReason::Interrupted => "interrupted".into(),
        StopReason::Signal { signal } => format!("interrupted by {}", signal.name()),
        StopReason::TargetExited {
            session,
            status,
            after_s,
            ..
        } => {
            format!("target session {session} {status} after {after_s:.1}s")
        }
        StopReason::AllSessionsClosed => "every session was closed by the target".into(),
    }
}

fn mib(bytes: u64) -> String {
    fmt_mib(bytes as f64)
}

/// Memory and allocator lines, when they were measured.
fn resources(out: &mut String, m: &crate::metrics::RunMetrics) {
    if let Some(mem) = &m.memory {
        let proc_line =
            |name: &str, p: &crate::metrics::snapshot::ProcessStats, slope: Option<f64>| {
                format!(
                    "{name}: RSS {} ({}), CPU {:.0}%, {} threads, {} fds",
                    mib(p.rss_bytes),
                    slope.map_or("no slope".into(), |s| format!("{s:+.2} MiB/min")),
                    p.cpu_percent,
                    p.threads,
                    p.open_fds
                )
            };
        if let Some(p) = &mem.mcptop {
            let _ = writeln!(
                out,
                "{}",
                proc_line("mcptop", p, mem.mcptop_slope_mib_per_min)
            );
        }
        if let Some(p) = &mem.target {
            let _ = writeln!(
                out,
                "{}",
                proc_line("target", p, mem.target_slope_mib_per_min)
            );
        }
        if let Some(us) = mem.target_cpu_us_per_request {
            let _ = writeln!(out, "target CPU: {us:.1} µs per request");
        }
        if let Some(b) = mem.bytes_per_session {
            let _ = writeln!(out, "memory per session: {:.1} KiB", b / 1024.0);
        }
        if let Some(b) = mem.profiler_rss_bytes {
            let _ = writeln!(
                out,
                "mcptop's CPU profiler: +{:.1} MiB RSS when it started (kept out of the growth)",
                b as f64 / (1024.0 * 1024.0)
            );
        }
    }
    if let Some(a) = &m.allocator {
        let per_request = match (a.allocs_per_request, a.bytes_per_request) {
            (Some(n), Some(b)) => format!("{n:.1} allocations, {b:.0} bytes per request"),
            _ => "per request: not measured".into(),
        };
        let _ = writeln!(
            out,
            "allocator: {per_request}; {} allocated, {} resident, fragmentation {:.1}%",
            mib(a.allocated_bytes),
            mib(a.resident_bytes),
            a.fragmentation * 100.0
        );
    }
    if let Some(gc) = &m.target_gc {
        let _ = writeln!(out, "{}", gc.line());
    }
}

/// One line per run of the same workload against different targets.
pub fn comparison(reports: &[RunReport]) -> String {
    let mut out = String::new();
    let width = reports
        .iter()
        .map(|r| r.environment.target.len())
        .max()
        .unwrap_or(6)
        .clamp(6, 60);
    let _ = writeln!(
        out,
        "{:<width$} {:>11} {:>9} {:>9} {:>9} {:>11} {:>10}",
        "target", "req/s", "p50", "p99", "errors", "target RSS", "protocol"
    );
    for r in reports {
        let o = &r.metrics.overall;
        let _ = writeln!(
            out,
            "{:<width$} {:>11.1} {:>9} {:>9} {:>9} {:>11} {:>10}",
            r.environment.target,
            o.throughput_msg_per_s,
            fmt_us(o.corrected.p50_us),
            fmt_us(o.corrected.p99_us),
            o.errors,
            r.metrics
                .memory
                .as_ref()
                .and_then(|m| m.target.as_ref())
                .map_or("-".into(), |p| mib(p.rss_bytes)),
            r.environment.protocol_version
        );
    }
    out
}
