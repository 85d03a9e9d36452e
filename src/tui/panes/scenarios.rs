//! `[[scenarios]]` on the live screen: one header line per scenario (what
//! it asks, what it achieves, waiting or ended), the selected one (Tab)
//! marked, and the colour each scenario has on the latency chart.

use super::{dim, fit_line, fmt_rate, fmt_us_short};
use crate::metrics::snapshot::ScenarioNow;
use crate::protocol::escape::escape_line;
use crate::tui::state::{describe_cap, LiveModel};
use ratatui::style::{Color, Modifier, Style};
use ratatui::text::{Line, Span};

/// Scenario colours, in file order (then round again).
pub const COLORS: [Color; 6] = [
    Color::Green,
    Color::LightRed,
    Color::Yellow,
    Color::Magenta,
    Color::LightBlue,
    Color::White,
];

pub fn color(index: usize) -> Color {
    COLORS[index % COLORS.len()]
}

/// Header lines the scenarios take at most on a tall screen.
pub const TALL_LINES: usize = 8;

/// Header lines the scenarios may take on a screen this tall.
pub fn most_lines(screen_height: u16) -> usize {
    if screen_height >= 36 {
        TALL_LINES
    } else {
        3
    }
}

/// The header's scenario lines, at most `room` of them (a window that
/// keeps the selected scenario in view), each fitted to `width`.
pub fn lines(m: &LiveModel, width: u16, room: usize) -> Vec<Line<'static>> {
    let all = &m.snapshot.scenarios;
    let Some((selected, _)) = m.selected_scenario() else {
        return Vec::new();
    };
    let first = (selected + 1).saturating_sub(room);
    let name_w = all
        .iter()
        .map(|s| s.name.chars().count())
        .max()
        .unwrap_or(0);
    all.iter()
        .enumerate()
        .skip(first)
        .take(room)
        .map(|(i, s)| line(m, i, s, i == selected, name_w, width))
        .collect()
}

fn line(
    m: &LiveModel,
    index: usize,
    s: &ScenarioNow,
    selected: bool,
    name_w: usize,
    width: u16,
) -> Line<'static> {
    let marker = if selected { "▶ " } else { "  " };
    let name_style = if selected {
        Style::default()
            .fg(color(index))
            .add_modifier(Modifier::BOLD | Modifier::REVERSED)
    } else {
        Style::default().fg(color(index))
    };
    let name = format!("{:<name_w$}", escape_line(&s.name));
    let head = |name: String| {
        vec![
            Span::raw(marker),
            Span::styled(name, name_style),
            Span::raw(" "),
        ]
    };
    let variants: Vec<Line<'static>> = figures(m, s)
        .into_iter()
        .map(|parts| {
            let mut spans = head(name.clone());
            spans.extend(parts);
            Line::from(spans)
        })
        .collect();
    fit_line(width, variants)
}

/// The figures after the name, longest first.
fn figures(m: &LiveModel, s: &ScenarioNow) -> Vec<Vec<Span<'static>>> {
    if !s.active {
        let why = if m.snapshot.load.paused {
            "paused"
        } else if s.history.is_empty() && s.last.is_none() {
            "waiting for its start"
        } else {
            "ended"
        };
        return vec![vec![Span::styled(why, dim())]];
    }
    let (asked, short_asked) = match (s.rate, s.concurrency) {
        (Some(r), _) => (
            format!("asked {} req/s", fmt_rate(r)),
            format!("{}/s", fmt_rate(r)),
        ),
        (_, Some(c)) => match s.cap.filter(|cap| u64::from(c) > *cap) {
            Some(cap) => (
                format!("{c} in flight asked, {}", describe_cap(cap, s.sessions)),
                format!("{c} asked, cap {cap}"),
            ),
            None => (format!("{c} in flight asked"), format!("{c} in flight")),
        },
        _ => ("load not known yet".into(), "-".into()),
    };
    let achieved = s.last.as_ref().map(|i| fmt_rate(i.throughput));
    let p99 = s
        .last
        .as_ref()
        .filter(|i| i.completed > i.errors)
        .map(|i| fmt_us_short(m.latency.of_interval(i).p99_us));
    let bold = Style::default().add_modifier(Modifier::BOLD);
    let achieved_long = match &achieved {
        Some(a) => Span::styled(format!("  achieved {a} req/s"), bold),
        None => Span::styled("  achieved: no interval yet", dim()),
    };
    let p99_text = p99.map(|p| format!("  p99 {p}")).unwrap_or_default();
    let long = vec![
        Span::raw(asked.clone()),
        achieved_long.clone(),
        Span::raw(format!(
            "{p99_text}  sessions {}  in flight {}",
            s.sessions, s.in_flight
        )),
    ];
    let middle = vec![
        Span::raw(asked),
        achieved_long,
        Span::raw(format!("{p99_text}  in flight {}", s.in_flight)),
    ];
    let short = vec![
        Span::raw(short_asked.clone()),
        Span::styled(
            format!(" -> {}", achieved.clone().unwrap_or("-".into())),
            bold,
        ),
        Span::raw(p99_text),
    ];
    let shortest = vec![
        Span::raw(short_asked),
        Span::styled(format!(" -> {}", achieved.unwrap_or("-".into())), bold),
    ];
    vec![long, middle, short, shortest]
}
