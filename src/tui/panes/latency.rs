//! Latency percentiles over time on a log-scale axis, corrected or service
//! time (`c`), over the chart window: p50, p90, p99 and p99.9 per interval
//! for a plain run; with `[[scenarios]]`, one p99 line per scenario. The
//! legend (which colour is which line) sits in the frame's bottom edge.

use super::{block, dim, fit_line, fit_title, fmt_us_short, scenarios, time_chart};
use crate::metrics::snapshot::IntervalStats;
use crate::protocol::escape::escape_line;
use crate::tui::state::LiveModel;
use ratatui::layout::Rect;
use ratatui::style::{Color, Modifier, Style};
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

/// One line on the chart: its legend name, colour, and points
/// `(t_s, log10 µs)`.
struct Series {
    name: String,
    color: Color,
    bold: bool,
    points: Vec<(f64, f64)>,
}

fn answered(i: &&IntervalStats) -> bool {
    i.completed > i.errors
}

fn log_us(us: u64) -> f64 {
    (us.max(1) as f64).log10()
}

/// The run's four percentiles, or each scenario's p99.
fn series(m: &LiveModel) -> Vec<Series> {
    if m.snapshot.scenarios.is_empty() {
        let intervals: Vec<_> = m.window_intervals().iter().filter(answered).collect();
        return LINES
            .iter()
            .enumerate()
            .map(|(k, (name, color))| Series {
                name: name.to_string(),
                color: *color,
                bold: false,
                points: intervals
                    .iter()
                    .map(|i| {
                        let p = m.latency.of_interval(i);
                        (i.t_s, log_us([p.p50_us, p.p90_us, p.p99_us, p.p999_us][k]))
                    })
                    .collect(),
            })
            .collect();
    }
    let (from, _) = m.window_bounds();
    let selected = m.selected_scenario().map(|(i, _)| i);
    m.snapshot
        .scenarios
        .iter()
        .enumerate()
        .map(|(k, s)| Series {
            name: format!("{} p99", escape_line(&s.name)),
            color: scenarios::color(k),
            bold: selected == Some(k),
            points: s
                .history
                .iter()
                .filter(|i| i.t_s > from)
                .filter(answered)
                .map(|i| (i.t_s, log_us(m.latency.of_interval(i).p99_us)))
                .collect(),
        })
        .collect()
}

pub fn render(f: &mut Frame, area: Rect, m: &LiveModel) {
    let lines = series(m);
    let title = chart_title(area.width, m);
    let gc = super::gc_marks::marks(m, m.window_bounds().0);
    let legend = legend(area.width, &lines, !gc.is_empty());
    let block = block("").title(title).title_bottom(legend);
    if lines.iter().all(|s| s.points.is_empty()) {
        f.render_widget(
            Paragraph::new(Span::styled("waiting for the first interval", dim())).block(block),
            area,
        );
        return;
    }
    let (lo, hi) = lines
        .iter()
        .map(|s| &s.points)
        .chain(std::iter::once(&gc))
        .flatten()
        .fold((f64::MAX, f64::MIN), |(lo, hi), (_, y)| {
            (lo.min(*y), hi.max(*y))
        });
    let lo = lo.floor();
    let hi = hi.ceil().max(lo + 1.0);
    let decades = (hi - lo) as u32;
    // Plot rows: inside the frame, above the x axis and its labels. Fewer
    // rows than labels would print them over each other.
    let rows = u32::from(area.height.saturating_sub(4));
    let every = if decades < rows { 1 } else { decades.max(1) };
    let y_labels: Vec<Line> = (0..=decades)
        .filter(|d| d % every == 0)
        .map(|d| Line::from(fmt_us_short(10f64.powi((lo as i32) + d as i32) as u64)))
        .collect();
    let mut datasets: Vec<Dataset> = lines
        .iter()
        .map(|s| {
            let style = Style::default().fg(s.color);
            Dataset::default()
                .marker(Marker::Braille)
                .graph_type(GraphType::Line)
                .style(if s.bold {
                    style.add_modifier(Modifier::BOLD)
                } else {
                    style
                })
                .data(&s.points)
        })
        .collect();
    datasets.push(
        Dataset::default()
            .marker(Marker::Dot)
            .graph_type(GraphType::Scatter)
            .style(Style::default().fg(super::gc_marks::COLOR))
            .data(&gc),
    );
    let faults = super::gc_marks::fault_lines(m, [lo, hi]);
    datasets.extend(super::gc_marks::fault_datasets(&faults));
    let chart = time_chart(datasets, block, m, [lo, hi], y_labels);
    f.render_widget(chart, area);
    super::gc_marks::label_faults(f.buffer_mut(), area, &faults);
}

/// `─ ━ p50 ━ p90 ━ p99 ━ p99.9 • GC ─` in the lines' colours, as much as
/// the width allows.
fn legend(width: u16, lines: &[Series], gc: bool) -> Line<'static> {
    let keyed = |names: &dyn Fn(&Series) -> String| {
        let mut spans = vec![Span::raw(" ")];
        for s in lines {
            spans.push(Span::styled("━", Style::default().fg(s.color)));
            spans.push(Span::raw(format!("{} ", names(s))));
        }
        if gc {
            spans.push(Span::styled(
                "•",
                Style::default().fg(super::gc_marks::COLOR),
            ));
            spans.push(Span::raw("GC pause "));
        }
        Line::from(spans)
    };
    let first_word = |s: &Series| s.name.split(' ').next().unwrap_or_default().to_string();
    fit_line(
        width.saturating_sub(2),
        vec![
            keyed(&|s: &Series| s.name.clone()),
            keyed(&first_word),
            keyed(&|s: &Series| first_word(s).chars().take(6).collect()),
        ],
    )
}

/// The pane's title: the latest percentiles (or each scenario's p99), as
/// many as the width allows.
fn chart_title(width: u16, m: &LiveModel) -> Line<'static> {
    if !m.snapshot.scenarios.is_empty() {
        return scenarios_title(width, m);
    }
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
    fit_title(
        width,
        vec![
            titled(format!(" {TITLE} ({}): ", m.latency.name()), &all),
            titled(format!(" latency ({}): ", m.latency.name()), &all),
            titled(" latency: ".into(), &all),
            titled(" latency: ".into(), &[0, 2, 3]),
            titled(" ".into(), &[0, 2, 3]),
        ],
    )
}

/// ` latency p99 by scenario (corrected): probe 1.2ms flood 31ms `.
fn scenarios_title(width: u16, m: &LiveModel) -> Line<'static> {
    let values: Vec<Span<'static>> = m
        .snapshot
        .scenarios
        .iter()
        .enumerate()
        .map(|(k, s)| {
            let p99 = s
                .last
                .as_ref()
                .filter(|i| i.completed > i.errors)
                .map(|i| fmt_us_short(m.latency.of_interval(i).p99_us));
            Span::styled(
                format!("{} {} ", escape_line(&s.name), p99.unwrap_or("-".into())),
                Style::default().fg(scenarios::color(k)),
            )
        })
        .collect();
    let titled = |head: String| {
        let mut spans = vec![Span::raw(head)];
        spans.extend(values.iter().cloned());
        Line::from(spans)
    };
    fit_title(
        width,
        vec![
            titled(format!(" latency p99 by scenario ({}): ", m.latency.name())),
            titled(" latency p99: ".into()),
            titled(" p99: ".into()),
        ],
    )
}
