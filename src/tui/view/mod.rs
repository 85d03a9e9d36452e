//! Whole screens: the live run (header, panes, status line, help box) and
//! the workload picker. Which panes fit is decided here from the terminal
//! size alone; the panes themselves live in `tui::panes`.

pub mod picker;

use super::input::LIVE_KEYS;
use super::panes::{self, dim};
use super::state::LiveModel;
use ratatui::layout::{Constraint, Layout, Rect};
use ratatui::style::{Color, Modifier, Style};
use ratatui::text::{Line, Span};
use ratatui::widgets::{Block, Borders, Clear, Paragraph, Wrap};
use ratatui::Frame;

/// A pane of the live screen.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Pane {
    Header,
    Latency,
    Throughput,
    Histogram,
    Ops,
    Errors,
    Memory,
    Allocator,
    Status,
}

/// Below this size only the header's text and the status line are shown.
const MIN_PANES_WIDTH: u16 = 40;
const MIN_PANES_HEIGHT: u16 = 12;

/// Where each pane goes on a screen of this size; panes that do not fit are
/// left out, most detailed first.
pub fn plan(area: Rect, ops: usize, header_height: u16) -> Vec<(Pane, Rect)> {
    let mut out = Vec::new();
    if area.width == 0 || area.height == 0 {
        return out;
    }
    let [top, status] = Layout::vertical([Constraint::Min(0), Constraint::Length(1)]).areas(area);
    out.push((Pane::Status, status));
    if area.width < MIN_PANES_WIDTH || area.height < MIN_PANES_HEIGHT {
        out.push((Pane::Header, top));
        return out;
    }
    let [header, body] =
        Layout::vertical([Constraint::Length(header_height), Constraint::Min(0)]).areas(top);
    out.push((Pane::Header, header));
    let wide = area.width >= 100;
    // The ops table: its header, one row per op, a total row, the frame.
    let ops_rows = ops as u16 + u16::from(ops > 1) + 3;
    let (charts, middle, bottom) = if body.height >= 30 {
        let [c, m, b] = Layout::vertical([
            Constraint::Percentage(45),
            Constraint::Min(ops_rows.clamp(6, 10)),
            Constraint::Length(7),
        ])
        .areas(body);
        (c, Some(m), Some(b))
    } else if body.height >= 16 {
        // Charts keep 6 rows at least, the table takes up to 7 of the rest.
        let ops = ops_rows.min(7).min(body.height - 5 - 6);
        let [c, m, b] = Layout::vertical([
            Constraint::Min(6),
            Constraint::Length(ops),
            Constraint::Length(5),
        ])
        .areas(body);
        (c, Some(m), Some(b))
    } else {
        (body, None, None)
    };
    if area.width >= 70 {
        let [l, t] = Layout::horizontal([Constraint::Percentage(60), Constraint::Percentage(40)])
            .areas(charts);
        out.push((Pane::Latency, l));
        out.push((Pane::Throughput, t));
    } else {
        out.push((Pane::Latency, charts));
    }
    if let Some(middle) = middle {
        if wide && middle.height >= 6 {
            let [h, o] =
                Layout::horizontal([Constraint::Percentage(40), Constraint::Percentage(60)])
                    .areas(middle);
            out.push((Pane::Histogram, h));
            out.push((Pane::Ops, o));
        } else {
            out.push((Pane::Ops, middle));
        }
    }
    if let Some(bottom) = bottom {
        if area.width >= 70 {
            let [e, m, a] = Layout::horizontal([
                Constraint::Percentage(40),
                Constraint::Percentage(30),
                Constraint::Percentage(30),
            ])
            .areas(bottom);
            out.push((Pane::Errors, e));
            out.push((Pane::Memory, m));
            out.push((Pane::Allocator, a));
        } else {
            let [e, m] =
                Layout::horizontal([Constraint::Percentage(50), Constraint::Percentage(50)])
                    .areas(bottom);
            out.push((Pane::Errors, e));
            out.push((Pane::Memory, m));
        }
    }
    out
}

/// Draws the live screen.
pub fn live(f: &mut Frame, m: &LiveModel) {
    let area = f.area();
    let header = panes::header::height(m, area.height);
    for (pane, rect) in plan(area, m.snapshot.ops.len(), header) {
        match pane {
            Pane::Header => panes::header::render(f, rect, m),
            Pane::Latency => panes::latency::render(f, rect, m),
            Pane::Throughput => panes::throughput::render(f, rect, m),
            Pane::Histogram => panes::histogram::render(f, rect, m),
            Pane::Ops => panes::ops::render(f, rect, m),
            Pane::Errors => panes::errors::render(f, rect, m),
            Pane::Memory => panes::memory::render(f, rect, m),
            Pane::Allocator => panes::allocator::render(f, rect, m),
            Pane::Status => status(f, rect, m),
        }
    }
    if m.help {
        help(f, area);
    }
}

/// Key hints, or the latest message while it is fresh.
fn status(f: &mut Frame, area: Rect, m: &LiveModel) {
    let line = if let Some(done) = m.finished() {
        Line::from(Span::styled(
            done.to_string(),
            Style::default()
                .fg(Color::Black)
                .bg(Color::Green)
                .add_modifier(Modifier::BOLD),
        ))
    } else if m.exit.is_some() {
        Line::from(Span::styled(
            "stopping: waiting for in-flight requests, then writing the result file",
            Style::default().fg(Color::Yellow),
        ))
    } else if let Some(text) = m.status() {
        Line::from(Span::styled(
            text.to_string(),
            Style::default().fg(Color::Yellow),
        ))
    } else {
        let baseline = if m.baseline_asked() {
            "b baseline: on"
        } else {
            "b baseline"
        };
        // With scenarios, Tab picks the one `+`/`-` change.
        let load = if m.snapshot.scenarios.is_empty() {
            "+/- load"
        } else {
            "tab scenario  +/- its load"
        };
        let long = format!(
            "space pause  {load}  [/] window {}s  c {}  p profile  {baseline}  w picker  ? help  q quit",
            m.window_s(),
            m.latency.name()
        );
        let hints = if long.chars().count() <= usize::from(area.width) {
            long
        } else if m.baseline_asked() {
            format!("space pause  {load}  b baseline: on  ? help  q quit")
        } else {
            format!("space pause  {load}  c latency  ? help  q quit")
        };
        Line::from(Span::styled(hints, dim()))
    };
    f.render_widget(Paragraph::new(line), area);
}

fn help(f: &mut Frame, area: Rect) {
    let width = area.width.min(72);
    let height = area.height.min(LIVE_KEYS.len() as u16 + 4);
    let rect = Rect {
        x: area.x + (area.width - width) / 2,
        y: area.y + (area.height - height) / 2,
        width,
        height,
    };
    let mut lines: Vec<Line> = LIVE_KEYS
        .iter()
        .map(|(key, what)| {
            Line::from(vec![
                Span::styled(
                    format!("{key:>10}  "),
                    Style::default().add_modifier(Modifier::BOLD),
                ),
                Span::raw(*what),
            ])
        })
        .collect();
    lines.push(Line::from(Span::styled("esc or ? closes this box", dim())));
    f.render_widget(Clear, rect);
    f.render_widget(
        Paragraph::new(lines)
            .wrap(Wrap { trim: false })
            .block(Block::default().borders(Borders::ALL).title(" keys ")),
        rect,
    );
}
