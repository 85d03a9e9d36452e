//! The allocator: allocation rate, live heap and fragmentation, the rate
//! and the live heap also as small charts over the chart window (from the
//! readings the model keeps). "not measured" until the profiler fills
//! `Snapshot::allocator`. Every line is fitted to the width, never cut.

use super::spark::{self, Row, Scale};
use super::{block, dim, fit_line, fmt_bytes, fmt_rate};
use crate::tui::state::LiveModel;
use ratatui::layout::Rect;
use ratatui::style::Color;
use ratatui::text::{Line, Span};
use ratatui::Frame;

pub const TITLE: &str = " allocator ";
const RATE: Color = Color::LightGreen;
const HEAP: Color = Color::LightBlue;

pub fn render(f: &mut Frame, area: Rect, m: &LiveModel) {
    let frame = block(TITLE);
    let inner = frame.inner(area);
    // The target's GC (`metrics::gc`), first: it is what the pane's mcptop
    // figures cannot say about a Node, Python, Go or JVM server.
    let mut rows: Vec<Row> = m
        .snapshot
        .target_gc
        .iter()
        .flat_map(|gc| gc.short_lines())
        .map(|l| Row::Text(Line::from(l)))
        .collect();
    if m.snapshot.allocator.is_none() {
        rows.push(Row::Text(Line::from(Span::styled("not measured", dim()))));
    }
    let room = usize::from(inner.height).saturating_sub(rows.len());
    rows.extend(allocator_rows(m, inner.width, room));
    f.render_widget(frame, area);
    let (lo, hi) = m.window_bounds();
    let history = m.allocator_history();
    // Chart rows: allocation rate (`false`) or live heap (`true`) over the window.
    spark::draw_rows(f, inner, rows, |f, at, heap| {
        let points: Vec<(f64, u64)> = history
            .iter()
            .map(|p| {
                let v = if heap {
                    p.allocated_bytes
                } else {
                    p.bytes_per_s.max(0.0) as u64
                };
                (p.t_s, v)
            })
            .collect();
        let (label, color, scale) = if heap {
            ("heap", HEAP, Scale::Growth)
        } else {
            ("rate", RATE, Scale::FromZero)
        };
        spark::row(f, at, label, color, &points, (lo, hi), scale);
    });
}

/// The allocator's rows that fit `room`, in reading order.
fn allocator_rows(m: &LiveModel, width: u16, room: usize) -> Vec<Row> {
    let Some(a) = &m.snapshot.allocator else {
        return Vec::new();
    };
    let rate = fmt_bytes(a.bytes_per_s);
    let allocs = fmt_rate(a.allocs_per_s);
    let heap = fmt_bytes(a.allocated_bytes as f64);
    let frag = a.fragmentation * 100.0;
    let fit = |variants: Vec<String>| {
        Row::Text(fit_line(
            width,
            variants.into_iter().map(Line::from).collect(),
        ))
    };
    // (priority, order, row)
    let mut all: Vec<(u8, u8, Row)> = vec![
        (
            0,
            0,
            fit(vec![
                format!("rate {rate}/s, {allocs} allocs/s"),
                format!("{rate}/s, {allocs} allocs/s"),
                format!("{rate}/s {allocs}/s"),
            ]),
        ),
        (1, 1, Row::Chart(false)),
        (
            0,
            2,
            fit(vec![
                format!("live heap {heap}, fragmentation {frag:.1}%"),
                format!("live heap {heap}, frag. {frag:.1}%"),
                format!("heap {heap} frag {frag:.0}%"),
                format!("heap {heap}"),
            ]),
        ),
        (2, 3, Row::Chart(true)),
    ];
    if let (Some(n), Some(b)) = (a.allocs_per_request, a.bytes_per_request) {
        all.push((
            3,
            4,
            fit(vec![
                format!("per request {n:.1} allocs, {}", fmt_bytes(b)),
                format!("per req. {n:.1} allocs, {}", fmt_bytes(b)),
                format!("{n:.1} allocs/req"),
            ]),
        ));
    }
    all.sort_by_key(|(priority, _, _)| *priority);
    all.truncate(room);
    all.sort_by_key(|(_, order, _)| *order);
    all.into_iter().map(|(_, _, row)| row).collect()
}
