//! Latency percentiles over time: p50, p90, p99 and p99.9 per interval on a
//! log-scale axis, corrected or service time (`c`), over the chart window.

use super::{block, dim, fit_title, fmt_us_short, time_chart};
use crate::tui::state::LiveModel;
use ratatui::layout::Rect;
use ratatui::style::{Color, Style};
use ratatui::symbols::Marker;
use ratatui::text::{Line, Span};
use ratatui::widgets::{Dataset, GraphType, Paragraph};
use ratatui::Frame;

pub const TITLE: &str = "latency percentiles";

const LINES: [(&str, Color); 4] = [
    ("p50", Color::Green),
    ("p90", Color::Yellow),
    ("p99", Color::LightRed),
    ("p99.9", Color::Magenta),
];

pub fn render(f: &mut Frame, area: Rect, m: &LiveModel) {
    let intervals: Vec<_> = m
        .window_intervals()
        .iter()
        .filter(|i| i.completed > i.errors)
        .collect();
    let title = chart_title(area.width, m);
    let block = block("").title(title);
    if intervals.is_empty() {
        f.render_widget(
            Paragraph::new(Span::styled("waiting for the first interval", dim())).block(block),
            area,
        );
        return;
    }
    let series: Vec<Vec<(f64, f64)>> = (0..LINES.len())
        .map(|k| {
            intervals
                .iter()
                .map(|i| {
                    let p = m.latency.of_interval(i);
                    let us = [p.p50_us, p.p90_us, p.p99_us, p.p999_us][k];
                    (i.t_s, (us.max(1) as f64).log10())
                })
                .collect()
        })
        .collect();
    // The target's GC pauses, as marks in the same window.
    let gc = super::gc_marks::marks(m, intervals.first().map_or(0.0, |i| i.t_s));
    let (lo, hi) = series
        .iter()
        .chain(std::iter::once(&gc))
        .flatten()
        .fold((f64::MAX, f64::MIN), |(lo, hi), (_, y)| {
            (lo.min(*y), hi.max(*y))
        });
    let lo = lo.floor();
    let hi = hi.ceil().max(lo + 1.0);
    let decades = (hi - lo) as u32;
    let y_labels: Vec<Line> = (0..=decades)
        .map(|d| Line::from(fmt_us_short(10f64.powi((lo as i32) + d as i32) as u64)))
        .collect();
    let mut datasets: Vec<Dataset> = series
        .iter()
        .zip(LINES)
        .map(|(points, (_, color))| {
            Dataset::default()
                .marker(Marker::Braille)
                .graph_type(GraphType::Line)
                .style(Style::default().fg(color))
                .data(points)
        })
        .collect();
    datasets.push(
        Dataset::default()
            .marker(Marker::Dot)
            .graph_type(GraphType::Scatter)
            .style(Style::default().fg(super::gc_marks::COLOR))
            .data(&gc),
    );
    let chart = time_chart(datasets, block, m, [lo, hi], y_labels);
    f.render_widget(chart, area);
}

/// The pane's title: the latest percentiles, as many as the width allows.
fn chart_title(width: u16, m: &LiveModel) -> Line<'static> {
    let latest = m
        .snapshot
        .last
        .as_ref()
        .filter(|i| i.completed > i.errors)
        .map(|i| *m.latency.of_interval(i));
    let values: Vec<Span<'static>> = LINES
        .iter()
        .enumerate()
        .map(|(k, (name, color))| {
            let value = latest.map(|p| [p.p50_us, p.p90_us, p.p99_us, p.p999_us][k]);
            Span::styled(
                format!("{name} {} ", value.map(fmt_us_short).unwrap_or("-".into())),
                Style::default().fg(*color),
            )
        })
        .collect();
    let titled = |head: String, which: &[usize]| {
        let mut spans = vec![Span::raw(head)];
        spans.extend(which.iter().map(|k| values[*k].clone()));
        Line::from(spans)
    };
    let all = [0, 1, 2, 3];
    let title = fit_title(
        width,
        vec![
            titled(format!(" {TITLE} ({}): ", m.latency.name()), &all),
            titled(format!(" latency ({}): ", m.latency.name()), &all),
            titled(" latency: ".into(), &all),
            titled(" latency: ".into(), &[0, 2, 3]),
            titled(" ".into(), &[0, 2, 3]),
        ],
    );
    title
}
