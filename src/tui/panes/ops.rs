//! Per-operation table: count, rate, p50, p99 and errors of the measured time
//! so far, corrected or service latency as the chart shows.

use super::{block, fmt_rate, fmt_us_short};
use crate::metrics::snapshot::OpSummary;
use crate::tui::state::LiveModel;
use ratatui::layout::{Alignment, Constraint, Rect};
use ratatui::style::{Color, Modifier, Style};
use ratatui::text::Line;
use ratatui::widgets::{Cell, Row, Table};
use ratatui::Frame;

pub const TITLE: &str = "operations";

pub fn render(f: &mut Frame, area: Rect, m: &LiveModel) {
    let s = &m.snapshot;
    let mut rows: Vec<Row> = s.ops.iter().map(|o| row(m, o, false)).collect();
    if s.ops.len() > 1 {
        rows.push(row(m, &s.total, true));
    }
    let header = Row::new(
        ["operation", "count", "req/s", "p50", "p99", "errors"]
            .into_iter()
            .enumerate()
            .map(|(k, name)| {
                if k == 0 {
                    Cell::from(name)
                } else {
                    right(name.to_string())
                }
            }),
    )
    .style(Style::default().add_modifier(Modifier::BOLD));
    let widths = [
        Constraint::Fill(1),
        Constraint::Length(10),
        Constraint::Length(7),
        Constraint::Length(7),
        Constraint::Length(7),
        Constraint::Length(7),
    ];
    let title = format!(" {TITLE} ({}) ", m.latency.name());
    f.render_widget(
        Table::new(rows, widths)
            .header(header)
            .block(block(&title))
            .column_spacing(1),
        area,
    );
}

fn row<'a>(m: &LiveModel, o: &'a OpSummary, total: bool) -> Row<'a> {
    let p = m.latency.of_op(o);
    let answered = o.ok > 0;
    let latency = |us: u64| {
        if answered {
            fmt_us_short(us)
        } else {
            "-".into()
        }
    };
    let errors = right(o.errors.to_string()).style(if o.errors > 0 {
        Style::default().fg(Color::Red)
    } else {
        Style::default()
    });
    let label = if total { "all" } else { o.label.as_str() };
    let style = if total {
        Style::default().add_modifier(Modifier::BOLD)
    } else {
        Style::default()
    };
    Row::new(vec![
        Cell::from(label),
        right((o.ok + o.errors).to_string()),
        right(fmt_rate(o.throughput)),
        right(latency(p.p50_us)),
        right(latency(p.p99_us)),
        errors,
    ])
    .style(style)
}

fn right(text: String) -> Cell<'static> {
    Cell::from(Line::from(text).alignment(Alignment::Right))
}
