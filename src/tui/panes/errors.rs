//! Errors by kind (with the first message of each), send lag and late sends,
//! warnings (the recorder's and those the view derives from measured memory
//! and descriptors), and how long reaching the target took: the connect,
//! TLS and initialize medians of network targets, and SSE resumption
//! (replays, their p50 / p99, duplicates and gaps), and with failover the
//! sessions' moves (how many, how long, lost and not sent, each target's
//! share of the replies). Messages quote the
//! target, so they are escaped here too.

use super::{block, dim, fit_line, fmt_us_short};
use crate::metrics::send_lag::LATE_SEND_US;
use crate::metrics::Snapshot;
use crate::protocol::escape::escape_line;
use crate::transport::phases::ConnectionPhases;
use crate::tui::state::LiveModel;
use ratatui::layout::Rect;
use ratatui::style::{Color, Style};
use ratatui::text::{Line, Span};
use ratatui::widgets::{Paragraph, Wrap};
use ratatui::Frame;

pub const TITLE: &str = " errors & warnings ";

/// `connect p50 120µs · TLS p50 1.4ms · init p50 2.1ms`, the phases
/// measured so far; `None` before any.
fn phases_line(phases: &ConnectionPhases) -> Option<String> {
    let parts: Vec<String> = [
        ("connect", &phases.connect),
        ("TLS", &phases.tls),
        ("init", &phases.initialize),
    ]
    .into_iter()
    .filter_map(|(name, stats)| {
        stats
            .as_ref()
            .map(|s| format!("{name} p50 {}", fmt_us_short(s.p50_us)))
    })
    .collect();
    (!parts.is_empty()).then(|| parts.join(" · "))
}

/// `resume events: 12 replays, p50 1.2ms p99 4.0ms, 0 dup 0 gaps` per
/// operation whose calls resumed, with shorter variants for a narrow pane
/// (widest first); true when a number was duplicated or lost.
fn resume_lines(s: &Snapshot) -> Vec<(Vec<String>, bool)> {
    s.sse_resume
        .iter()
        .map(|r| {
            let (n, dup, gaps) = (r.stats.resumed, r.stats.duplicates, r.stats.gaps);
            let tail = format!("{dup} dup {gaps} gaps");
            let variants = match r.stats.replay.as_ref() {
                Some(p) => {
                    let (p50, p99) = (fmt_us_short(p.p50_us), fmt_us_short(p.p99_us));
                    vec![
                        format!(
                            "resume {}: {n} replays, p50 {p50} p99 {p99}, {tail}",
                            escape_line(&r.op)
                        ),
                        format!("resume: {n} replays, p50 {p50} p99 {p99}, {tail}"),
                        format!("resume: {n} replays, p99 {p99}, {tail}"),
                    ]
                }
                None => vec![
                    format!("resume {}: {n} replays, {tail}", escape_line(&r.op)),
                    format!("resume: {n} replays, {tail}"),
                ],
            };
            (variants, dup + gaps > 0)
        })
        .collect()
}

/// With failover, `failover: 3/4 sessions moved, p50 70ms max 90ms, 2 lost
/// 1 not sent, replies http://a 24% http://b 76%`, with shorter variants
/// for a narrow pane (widest first); nothing without failover.
fn failover_lines(s: &Snapshot) -> Vec<String> {
    let Some(f) = &s.failover else {
        return Vec::new();
    };
    let secs = |v: f64| fmt_us_short((v * 1e6).round() as u64);
    let moved = format!("{}/{} sessions moved", f.sessions_migrated, f.sessions);
    let (time, short_time) = match (f.failover_p50_s, f.failover_max_s) {
        (Some(p50), Some(max)) => (
            format!("p50 {} max {}", secs(p50), secs(max)),
            format!("max {}", secs(max)),
        ),
        _ => ("no move finished".to_string(), "none done".to_string()),
    };
    let lost = format!("{} lost {} not sent", f.requests_lost, f.requests_not_sent);
    let shares = |named: bool| -> String {
        f.answered
            .iter()
            .map(|t| match named {
                true => format!("{} {:.0}%", escape_line(&t.target), t.share_pct),
                false => format!("{:.0}%", t.share_pct),
            })
            .collect::<Vec<_>>()
            .join(if named { " " } else { "/" })
    };
    vec![
        format!(
            "failover: {moved}, {time}, {lost}, replies {}",
            shares(true)
        ),
        format!(
            "failover: {moved}, {time}, {lost}, replies {}",
            shares(false)
        ),
        format!("failover: {moved}, {short_time}, {lost}"),
    ]
}

/// mcptop's own send lag (the floor under every corrected latency), or the
/// late sends alone from a snapshot that has no lag histogram.
fn send_lag_lines(s: &Snapshot) -> Vec<String> {
    let lag = &s.send_lag;
    if lag.count > 0 {
        let (p50, p99, max) = (
            fmt_us_short(lag.p50_us),
            fmt_us_short(lag.p99_us),
            fmt_us_short(lag.max_us),
        );
        return vec![
            format!(
                "send lag p50 {p50} p99 {p99} max {max}; {} late (> {})",
                lag.late,
                fmt_us_short(LATE_SEND_US)
            ),
            format!("lag p50 {p50} p99 {p99} max {max}; {} late", lag.late),
            format!("lag p99 {p99}; {} late", lag.late),
        ];
    }
    if s.late_sends == 0 {
        return Vec::new();
    }
    let (n, lag) = (s.late_sends, fmt_us_short(s.max_send_lag_us));
    vec![
        format!("{n:>8} late sends (max lag {lag})"),
        format!("{n:>8} late (max lag {lag})"),
        format!("{n} late, lag {lag}"),
    ]
}

pub fn render(f: &mut Frame, area: Rect, m: &LiveModel) {
    let s = &m.snapshot;
    let mut lines = Vec::new();
    if s.errors.is_empty() {
        lines.push(Line::from(Span::styled("no errors", dim())));
    }
    for (kind, n) in &s.errors {
        let mut spans = vec![
            Span::styled(format!("{n:>8} "), Style::default().fg(Color::Red)),
            Span::raw(escape_line(kind).into_owned()),
        ];
        if let Some(first) = s.error_messages.get(kind) {
            spans.push(Span::styled(format!(": {}", escape_line(first)), dim()));
        }
        lines.push(Line::from(spans));
    }
    let variants = send_lag_lines(s);
    if !variants.is_empty() {
        let variants = variants.into_iter().map(Line::from).collect();
        lines.push(fit_line(area.width.saturating_sub(2), variants));
    }
    for (variants, bad) in resume_lines(s) {
        let style = if bad {
            Style::default().fg(Color::Red)
        } else {
            Style::default()
        };
        let variants = variants
            .into_iter()
            .map(|v| Line::from(Span::styled(v, style)))
            .collect();
        lines.push(fit_line(area.width.saturating_sub(2), variants));
    }
    let variants = failover_lines(s);
    if !variants.is_empty() {
        let variants = variants.into_iter().map(Line::from).collect();
        lines.push(fit_line(area.width.saturating_sub(2), variants));
    }
    if s.protocol.violations > 0 {
        lines.push(Line::from(format!(
            "{:>8} protocol violations",
            s.protocol.violations
        )));
    }
    for w in &s.warnings {
        lines.push(Line::from(Span::styled(
            format!("! {}", escape_line(w)),
            Style::default().fg(Color::Yellow),
        )));
    }
    // Last: what reaching the target took matters less than what failed.
    if let Some(phases) = s.connections.as_ref().and_then(phases_line) {
        lines.push(Line::from(Span::styled(phases, dim())));
    }
    f.render_widget(
        Paragraph::new(lines)
            .wrap(Wrap { trim: false })
            .block(block(TITLE)),
        area,
    );
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::metrics::send_lag::LagFigures;

    #[test]
    fn the_send_lag_line_shows_percentiles_and_the_late_threshold() {
        let s = Snapshot {
            late_sends: 3,
            max_send_lag_us: 4_100,
            send_lag: LagFigures {
                count: 1_000,
                p50_us: 42,
                p90_us: 60,
                p99_us: 180,
                max_us: 4_100,
                late: 3,
            },
            ..Snapshot::default()
        };
        let line = send_lag_lines(&s).remove(0);
        assert!(
            line.starts_with("send lag p50 42µs p99 180µs max "),
            "{line}"
        );
        assert!(line.ends_with("; 3 late (> 1.0ms)"), "{line}");
        let old = Snapshot {
            late_sends: 2,
            max_send_lag_us: 3_400,
            ..Snapshot::default()
        };
        let line = send_lag_lines(&old).remove(0);
        assert!(line.contains("2 late sends (max lag"), "{line}");
        assert!(send_lag_lines(&Snapshot::default()).is_empty());
    }
}
