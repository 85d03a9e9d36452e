//! Memory: resident size of mcptop and of the target, and how fast each
//! grows. "not measured" until the profiler fills `Snapshot::memory`.

use super::{block, dim, fmt_bytes};
use crate::metrics::snapshot::ProcessStats;
use crate::tui::state::LiveModel;
use ratatui::layout::Rect;
use ratatui::style::{Color, Style};
use ratatui::text::{Line, Span};
use ratatui::widgets::Paragraph;
use ratatui::Frame;

pub const TITLE: &str = " memory ";

pub fn render(f: &mut Frame, area: Rect, m: &LiveModel) {
    let Some(mem) = &m.snapshot.memory else {
        f.render_widget(
            Paragraph::new(Span::styled("not measured", dim())).block(block(TITLE)),
            area,
        );
        return;
    };
    let mut lines = vec![
        process_line("mcptop", mem.mcptop.as_ref(), mem.mcptop_slope_mib_per_min),
        match &mem.target {
            Some(_) => process_line("target", mem.target.as_ref(), mem.target_slope_mib_per_min),
            None => Line::from(vec![
                Span::raw("target "),
                Span::styled("in-process or not measured", dim()),
            ]),
        },
    ];
    if let Some(b) = mem.bytes_per_session {
        lines.push(Line::from(format!("per session {}", fmt_bytes(b))));
    }
    if mem.leak_suspect {
        lines.push(Line::from(Span::styled(
            "leak suspect: RSS keeps growing",
            Style::default().fg(Color::Yellow),
        )));
    }
    f.render_widget(Paragraph::new(lines).block(block(TITLE)), area);
}

fn process_line(who: &str, p: Option<&ProcessStats>, slope: Option<f64>) -> Line<'static> {
    let Some(p) = p else {
        return Line::from(vec![
            Span::raw(format!("{who} ")),
            Span::styled("not measured", dim()),
        ]);
    };
    let slope = slope
        .map(|s| format!(" {s:+.2} MiB/min"))
        .unwrap_or_default();
    Line::from(format!(
        "{who} RSS {}{slope}",
        fmt_bytes(p.rss_bytes as f64)
    ))
}
