//! Errors by kind (with the first message of each), late sends,
//! warnings (the recorder's and those the view derives from measured memory
//! and descriptors), and how long reaching the target took: the connect,
//! TLS and initialize medians of network targets. Messages quote the
//! target, so they are escaped here too.

use super::{block, dim, fit_line, fmt_us_short};
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
    if s.late_sends > 0 {
        let (n, lag) = (s.late_sends, fmt_us_short(s.max_send_lag_us));
        lines.push(fit_line(
            area.width.saturating_sub(2),
            vec![
                Line::from(format!("{n:>8} late sends (max lag {lag})")),
                Line::from(format!("{n:>8} late (max lag {lag})")),
                Line::from(format!("{n} late, lag {lag}")),
            ],
        ));
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
