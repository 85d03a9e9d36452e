//! Per-operation table: count, rate, p50, p99, errors and bytes received
//! per second of the measured time so far, corrected or service latency as
//! the chart shows. With
//! `[[scenarios]]` a scenario column (op labels are `scenario/op`). More
//! operations than rows scroll (j/k, PgUp/PgDn); the total row stays.

use super::{block, fmt_rate, fmt_us_short};
use crate::metrics::snapshot::OpSummary;
use crate::metrics::wire_rates::fmt_bytes_short;
use crate::protocol::escape::escape_line;
use crate::tui::state::LiveModel;
use ratatui::layout::{Alignment, Constraint, Rect};
use ratatui::style::{Color, Modifier, Style};
use ratatui::text::Line;
use ratatui::widgets::{Cell, Row, Table};
use ratatui::Frame;

pub const TITLE: &str = "operations";

/// Figures right of the names: count, req/s, p50, p99, errors, bytes
/// received per second (binary units: `95.4M` is 95.4 MiB/s). Narrow enough
/// that a 100-column screen keeps ten characters of the names.
const FIGURES: [(&str, u16); 6] = [
    ("count", 9),
    ("req/s", 7),
    ("p50", 7),
    ("p99", 7),
    ("errors", 6),
    ("recv/s", 6),
];

pub fn render(f: &mut Frame, area: Rect, m: &LiveModel) {
    let s = &m.snapshot;
    let frame = block("");
    // Rows for operations: the frame, the column names and the total go.
    let total_row = usize::from(s.ops.len() > 1);
    let room = usize::from(frame.inner(area).height)
        .saturating_sub(1 + total_row)
        .max(1);
    let first = first_row(m.ops_scroll(), s.ops.len(), room);
    let shown = s.ops.len().min(first + room) - first.min(s.ops.len());
    let scenario_col = !s.scenarios.is_empty();
    let mut rows: Vec<Row> = s.ops[first..first + shown]
        .iter()
        .map(|o| row(m, o, false, scenario_col))
        .collect();
    if total_row == 1 {
        rows.push(row(m, &s.total, true, scenario_col));
    }
    let mut names = vec![("operation", Constraint::Fill(1))];
    if scenario_col {
        let w = s
            .scenarios
            .iter()
            .map(|sc| sc.name.chars().count())
            .max()
            .unwrap_or(0)
            .clamp(8, 16) as u16;
        names.insert(0, ("scenario", Constraint::Length(w)));
    }
    let header = Row::new(
        names
            .iter()
            .map(|(name, _)| Cell::from(*name))
            .chain(FIGURES.iter().map(|(name, _)| right(name.to_string()))),
    )
    .style(Style::default().add_modifier(Modifier::BOLD));
    let widths: Vec<Constraint> = names
        .iter()
        .map(|(_, w)| *w)
        .chain(FIGURES.iter().map(|(_, w)| Constraint::Length(*w)))
        .collect();
    let scroll = if shown < s.ops.len() {
        format!(
            " {}-{} of {}, j/k scroll",
            first + 1,
            first + shown,
            s.ops.len()
        )
    } else {
        String::new()
    };
    let title = format!(" {TITLE} ({}){scroll} ", m.latency.name());
    f.render_widget(
        Table::new(rows, widths)
            .header(header)
            .block(block(&title))
            .column_spacing(1),
        area,
    );
}

/// The first operation row shown: as scrolled, but never leaving empty
/// rows below the last operation.
pub fn first_row(scroll: usize, ops: usize, room: usize) -> usize {
    scroll.min(ops.saturating_sub(room))
}

/// `probe/tools/list` -> (`probe`, `tools/list`): the scenario is the part
/// before the first `/` when it names one of the run's scenarios.
fn split_label<'a>(m: &LiveModel, label: &'a str) -> (&'a str, &'a str) {
    m.snapshot
        .scenarios
        .iter()
        .filter_map(|s| {
            let op = label.strip_prefix(s.name.as_str())?.strip_prefix('/')?;
            Some((&label[..s.name.len()], op))
        })
        .max_by_key(|(scenario, _)| scenario.len())
        .unwrap_or(("", label))
}

fn row<'a>(m: &LiveModel, o: &'a OpSummary, total: bool, scenario_col: bool) -> Row<'a> {
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
    let (scenario, op) = if total {
        ("", "all")
    } else {
        split_label(m, &o.label)
    };
    let selected = m
        .selected_scenario()
        .is_some_and(|(_, s)| !total && s.name == scenario);
    let style = if total {
        Style::default().add_modifier(Modifier::BOLD)
    } else if selected {
        Style::default().add_modifier(Modifier::UNDERLINED)
    } else {
        Style::default()
    };
    let mut cells = vec![Cell::from(escape_line(op).into_owned())];
    if scenario_col {
        cells.insert(0, Cell::from(escape_line(scenario).into_owned()));
    }
    cells.extend([
        right((o.ok + o.errors).to_string()),
        right(fmt_rate(o.throughput)),
        right(latency(p.p50_us)),
        right(latency(p.p99_us)),
        errors,
        right(fmt_bytes_short(o.bytes.bytes_received_per_s)),
    ]);
    Row::new(cells).style(style)
}

fn right(text: String) -> Cell<'static> {
    Cell::from(Line::from(text).alignment(Alignment::Right))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn scrolling_stops_at_the_last_page() {
        assert_eq!(first_row(0, 8, 3), 0);
        assert_eq!(first_row(4, 8, 3), 4);
        assert_eq!(first_row(7, 8, 3), 5);
        assert_eq!(first_row(3, 2, 3), 0);
    }
}
