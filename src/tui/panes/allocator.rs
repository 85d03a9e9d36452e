//! The allocator: allocation rate, live heap and fragmentation.
//! "not measured" until the profiler fills `Snapshot::allocator`.

use super::{block, dim, fmt_bytes, fmt_rate};
use crate::tui::state::LiveModel;
use ratatui::layout::Rect;
use ratatui::text::{Line, Span};
use ratatui::widgets::Paragraph;
use ratatui::Frame;

pub const TITLE: &str = " allocator ";

pub fn render(f: &mut Frame, area: Rect, m: &LiveModel) {
    let Some(a) = &m.snapshot.allocator else {
        f.render_widget(
            Paragraph::new(Span::styled("not measured", dim())).block(block(TITLE)),
            area,
        );
        return;
    };
    let mut lines = vec![
        Line::from(format!(
            "rate {}/s, {} allocs/s",
            fmt_bytes(a.bytes_per_s),
            fmt_rate(a.allocs_per_s)
        )),
        Line::from(format!("live heap {}", fmt_bytes(a.allocated_bytes as f64))),
        Line::from(format!("fragmentation {:.1}%", a.fragmentation * 100.0)),
    ];
    if let (Some(n), Some(b)) = (a.allocs_per_request, a.bytes_per_request) {
        lines.push(Line::from(format!(
            "per request {n:.1} allocs, {}",
            fmt_bytes(b)
        )));
    }
    f.render_widget(Paragraph::new(lines).block(block(TITLE)), area);
}
