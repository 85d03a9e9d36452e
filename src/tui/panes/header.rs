//! The header: what runs against what, the phase, measured time with a
//! progress gauge, asked against achieved rate, sessions and in-flight, and
//! with `[[scenarios]]` one line per scenario (`panes::scenarios`).

use super::{dim, fmt_rate, fmt_us_short};
use crate::metrics::snapshot::Phase;
use crate::protocol::escape::escape_line;
use crate::tui::state::{describe_cap, LiveModel};
use ratatui::layout::Rect;
use ratatui::style::{Color, Modifier, Style};
use ratatui::text::{Line, Span};
use ratatui::widgets::{Block, Borders, Gauge, Paragraph};
use ratatui::Frame;

/// Rows the header wants with its frame, without scenarios.
pub const HEIGHT: u16 = 5;

/// Rows the header wants on a screen `screen_height` tall: one more per
/// scenario, up to `scenarios::most_lines`; on a short screen the gauge
/// gives its row to them (the time goes on the title line).
pub fn height(m: &LiveModel, screen_height: u16) -> u16 {
    let most = super::scenarios::most_lines(screen_height);
    let n = m.snapshot.scenarios.len().min(most) as u16;
    match n {
        0 => HEIGHT,
        _ if most >= super::scenarios::TALL_LINES => HEIGHT + n,
        _ => HEIGHT - 1 + n,
    }
}

pub fn render(f: &mut Frame, area: Rect, m: &LiveModel) {
    let framed = area.height >= 3 && area.width >= 20;
    let inner = if framed {
        let block = Block::default()
            .borders(Borders::ALL)
            .border_style(dim())
            .title(Span::styled(
                " mcptop ",
                Style::default().add_modifier(Modifier::BOLD),
            ));
        let inner = block.inner(area);
        f.render_widget(block, area);
        inner
    } else {
        area
    };
    let scenarios = m.snapshot.scenarios.len().min(super::scenarios::TALL_LINES);
    let with_gauge = usize::from(inner.height) >= 3 + scenarios;
    let load = if inner.width >= 60 {
        load_line(m)
    } else {
        short_load_line(m)
    };
    let mut rows = vec![title_line(m, !with_gauge), load];
    let room = usize::from(inner.height).saturating_sub(if with_gauge { 3 } else { 2 });
    rows.extend(super::scenarios::lines(m, inner.width, room));
    if with_gauge {
        let gauge_area = Rect {
            y: inner.y + 1,
            height: 1,
            ..inner
        };
        f.render_widget(progress(m), gauge_area);
        rows.insert(1, Line::default());
    }
    f.render_widget(Paragraph::new(rows), inner);
}

fn title_line(m: &LiveModel, with_progress: bool) -> Line<'static> {
    let s = &m.snapshot;
    let phase_style = match s.phase {
        Phase::Measuring => Style::default().fg(Color::Green),
        Phase::Connecting | Phase::Warmup => Style::default().fg(Color::Yellow),
        Phase::Draining | Phase::Done => Style::default().fg(Color::Cyan),
    };
    let mut spans = vec![
        Span::styled(
            escape_line(&m.run.workload).into_owned(),
            Style::default().add_modifier(Modifier::BOLD),
        ),
        Span::raw(" -> "),
        Span::raw(escape_line(&m.run.target).into_owned()),
        Span::raw("  "),
        Span::styled(s.phase.name(), phase_style),
    ];
    if with_progress {
        spans.push(Span::raw(format!("  {}", time_label(m))));
    }
    if s.load.paused {
        spans.push(Span::styled(
            "  PAUSED",
            Style::default()
                .fg(Color::Black)
                .bg(Color::Yellow)
                .add_modifier(Modifier::BOLD),
        ));
    }
    Line::from(spans)
}

fn time_label(m: &LiveModel) -> String {
    let s = &m.snapshot;
    let elapsed = s.elapsed.as_secs_f64();
    match s.planned {
        Some(p) => format!("{elapsed:.1}s / {:.1}s", p.as_secs_f64()),
        None => format!("{elapsed:.1}s (no time bound)"),
    }
}

fn progress(m: &LiveModel) -> Gauge<'static> {
    let s = &m.snapshot;
    let ratio = match s.planned {
        Some(p) if !p.is_zero() => (s.elapsed.as_secs_f64() / p.as_secs_f64()).clamp(0.0, 1.0),
        _ => 0.0,
    };
    Gauge::default()
        .gauge_style(Style::default().fg(Color::Blue).bg(Color::Black))
        .ratio(ratio)
        .label(time_label(m))
}

fn load_line(m: &LiveModel) -> Line<'static> {
    let s = &m.snapshot;
    let asked = match (s.load.rate, s.load.concurrency) {
        (Some(rate), _) => format!("asked {} req/s", fmt_rate(rate)),
        (_, Some(c)) => match s.load.cap.filter(|cap| u64::from(c) > *cap) {
            Some(cap) => format!(
                "closed loop: {c} asked, {}",
                describe_cap(cap, s.load.sessions)
            ),
            None => format!("closed loop: {c} in flight"),
        },
        _ if s.load.scenarios > 0 => format!("{} scenarios at once", s.load.scenarios),
        _ => "load not known yet".to_string(),
    };
    let achieved = match &s.last {
        Some(i) => Span::styled(
            format!("achieved {} req/s", fmt_rate(i.throughput)),
            Style::default().add_modifier(Modifier::BOLD),
        ),
        None => Span::styled("achieved: no interval yet", dim()),
    };
    Line::from(vec![
        Span::raw(asked),
        Span::raw("  "),
        achieved,
        Span::raw(format!(
            "  sessions {}  in flight {}",
            s.load.sessions, s.load.in_flight
        )),
    ])
}

/// The figures that matter most, for narrow screens.
fn short_load_line(m: &LiveModel) -> Line<'static> {
    let s = &m.snapshot;
    match &s.last {
        Some(i) => Line::from(format!(
            "{} req/s p99 {} in flight {}",
            fmt_rate(i.throughput),
            fmt_us_short(m.latency.of_interval(i).p99_us),
            s.load.in_flight
        )),
        None => Line::from(Span::styled("no interval yet", dim())),
    }
}
