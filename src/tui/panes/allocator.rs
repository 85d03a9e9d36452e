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
    // The target's GC (`metrics::gc`), first: it is what the pane's mcptop
    // figures cannot say about a Node, Python, Go or JVM server.
    let gc: Vec<Line> = m
        .snapshot
        .target_gc
        .iter()
        .flat_map(|gc| gc.short_lines())
        .map(Line::from)
        .collect();
    let Some(a) = &m.snapshot.allocator else {
        let mut lines = gc;
        lines.push(Line::from(Span::styled("not measured", dim())));
        f.render_widget(Paragraph::new(lines).block(block(TITLE)), area);
        return;
    };
    let mut lines = gc;
    lines.extend([
        Line::from(format!(
            "rate {}/s, {} allocs/s",
            fmt_bytes(a.bytes_per_s),
            fmt_rate(a.allocs_per_s)
        )),
        Line::from(format!("live heap {}", fmt_bytes(a.allocated_bytes as f64))),
        Line::from(format!("fragmentation {:.1}%", a.fragmentation * 100.0)),
    ]);
    if let (Some(n), Some(b)) = (a.allocs_per_request, a.bytes_per_request) {
        lines.push(Line::from(format!(
            "per request {n:.1} allocs, {}",
            fmt_bytes(b)
        )));
    }
    f.render_widget(Paragraph::new(lines).block(block(TITLE)), area);
}
