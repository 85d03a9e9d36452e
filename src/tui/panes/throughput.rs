//! Throughput over time: replies per second achieved against the rate the
//! schedule asked for (open loop only; a closed loop asks for no rate).

use super::{block, dim, fit_title, fmt_rate, time_chart};
use crate::tui::state::LiveModel;
use ratatui::layout::Rect;
use ratatui::style::{Color, Style};
use ratatui::symbols::Marker;
use ratatui::text::{Line, Span};
use ratatui::widgets::{Dataset, GraphType, Paragraph};
use ratatui::Frame;

pub const TITLE: &str = "throughput";
const ACHIEVED: Color = Color::Cyan;
const ASKED: Color = Color::DarkGray;

pub fn render(f: &mut Frame, area: Rect, m: &LiveModel) {
    let intervals = m.window_intervals();
    let title = chart_title(area.width, m);
    let block = block("").title(title);
    if intervals.is_empty() {
        f.render_widget(
            Paragraph::new(Span::styled("waiting for the first interval", dim())).block(block),
            area,
        );
        return;
    }
    let achieved: Vec<(f64, f64)> = intervals.iter().map(|i| (i.t_s, i.throughput)).collect();
    let asked: Vec<(f64, f64)> = intervals
        .iter()
        .filter_map(|i| i.asked_rate.map(|r| (i.t_s, r)))
        .collect();
    let top = achieved
        .iter()
        .chain(asked.iter())
        .map(|(_, y)| *y)
        .fold(0.0, f64::max)
        .max(1.0)
        * 1.15;
    let mut datasets = Vec::new();
    if !asked.is_empty() {
        datasets.push(
            Dataset::default()
                .marker(Marker::Braille)
                .graph_type(GraphType::Line)
                .style(Style::default().fg(ASKED))
                .data(&asked),
        );
    }
    datasets.push(
        Dataset::default()
            .marker(Marker::Braille)
            .graph_type(GraphType::Line)
            .style(Style::default().fg(ACHIEVED))
            .data(&achieved),
    );
    let y_labels = vec![
        Line::from("0"),
        Line::from(fmt_rate(top / 2.0)),
        Line::from(fmt_rate(top)),
    ];
    let faults = super::gc_marks::fault_lines(m, [0.0, top]);
    datasets.extend(super::gc_marks::fault_datasets(&faults));
    let chart = time_chart(datasets, block, m, [0.0, top], y_labels);
    f.render_widget(chart, area);
    super::gc_marks::label_faults(f.buffer_mut(), area, &faults);
}

/// The pane's title: achieved and asked rates, as long as the width allows.
fn chart_title(width: u16, m: &LiveModel) -> Line<'static> {
    let last = m.snapshot.last.as_ref();
    let achieved_now = last.map(|i| fmt_rate(i.throughput)).unwrap_or("-".into());
    let asked_now = last.and_then(|i| i.asked_rate).map(fmt_rate);
    let closed = m.snapshot.load.concurrency.is_some();
    let title = |head: &str, long: bool, with_asked: bool| {
        let mut spans = vec![
            Span::raw(head.to_string()),
            Span::styled(
                if long {
                    format!("achieved {achieved_now} req/s ")
                } else {
                    format!("{achieved_now} req/s ")
                },
                Style::default().fg(ACHIEVED),
            ),
        ];
        match asked_now.as_ref().filter(|_| with_asked) {
            Some(asked) => spans.push(Span::styled(
                if long {
                    format!("asked {asked} req/s ")
                } else {
                    format!("(asked {asked}) ")
                },
                Style::default().fg(Color::Gray),
            )),
            None if closed && with_asked => spans.push(Span::styled(
                if long { "(closed loop) " } else { "(closed) " },
                dim(),
            )),
            None => {}
        }
        Line::from(spans)
    };
    let title = fit_title(
        width,
        vec![
            title(&format!(" {TITLE}: "), true, true),
            title(&format!(" {TITLE}: "), false, true),
            title(&format!(" {TITLE}: "), false, false),
            title(" ", false, false),
        ],
    );
    title
}
