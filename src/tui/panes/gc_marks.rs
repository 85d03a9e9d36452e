//! Marks on the time charts. The target's GC pauses on the latency chart:
//! one mark per interval that had a pause, at the interval's time and the
//! height of its longest pause (on the chart's log-scale latency axis), so a
//! latency spike sits next to the pause that caused it. Only measured
//! intervals of the target's own GC report (`Snapshot::target_gc`); nothing
//! when none. And each fault fired (`Snapshot::fault_marks`): a vertical
//! line at its time on the latency and throughput charts, labelled on the
//! chart's top row beside the line.

use crate::protocol::escape::escape_line;
use crate::tui::state::LiveModel;
use ratatui::buffer::Buffer;
use ratatui::layout::Rect;
use ratatui::style::{Color, Style};
use ratatui::symbols::Marker;
use ratatui::widgets::{Dataset, GraphType};

/// The marks' colour, apart from the percentile lines'.
pub const COLOR: Color = Color::Cyan;

/// `(t_s, log10(longest pause in µs))` for each interval from `from_s` on
/// that had a pause.
pub fn marks(m: &LiveModel, from_s: f64) -> Vec<(f64, f64)> {
    let Some(figures) = m
        .snapshot
        .target_gc
        .as_ref()
        .and_then(|g| g.figures.as_ref())
    else {
        return Vec::new();
    };
    figures
        .intervals
        .iter()
        .filter(|i| i.t_s >= from_s && i.pauses > 0)
        .map(|i| (i.t_s, i.pause_max_us.max(1.0).log10()))
        .collect()
}

/// The fault markers' colour: an orange no line of any chart uses, so the
/// column a marker was drawn in can be found in the drawn chart.
pub const FAULT_COLOR: Color = Color::Indexed(208);

/// A fault in the chart's window: its label and its vertical line.
pub struct FaultLine {
    pub label: String,
    pub points: [(f64, f64); 2],
}

/// One line per fault fired within the chart's window, across `y`.
pub fn fault_lines(m: &LiveModel, y: [f64; 2]) -> Vec<FaultLine> {
    let (from, to) = m.window_bounds();
    m.snapshot
        .fault_marks
        .iter()
        .filter(|f| f.t_s >= from && f.t_s <= to)
        .map(|f| FaultLine {
            label: escape_line(&f.label).into_owned(),
            points: [(f.t_s, y[0]), (f.t_s, y[1])],
        })
        .collect()
}

pub fn fault_datasets(lines: &[FaultLine]) -> impl Iterator<Item = Dataset<'_>> {
    lines.iter().map(|l| {
        Dataset::default()
            .marker(Marker::Braille)
            .graph_type(GraphType::Line)
            .style(Style::default().fg(FAULT_COLOR))
            .data(&l.points)
    })
}

/// Writes each fault's label on the top row inside the chart's frame,
/// just right of the column its line was drawn in (lines and labels both
/// in time order), cut at the frame.
pub fn label_faults(buf: &mut Buffer, area: Rect, lines: &[FaultLine]) {
    if lines.is_empty() || area.width < 3 || area.height < 3 {
        return;
    }
    let (left, right, top) = (area.x + 1, area.x + area.width - 1, area.y + 1);
    let drawn: Vec<u16> = (left..right)
        .filter(|&x| (top..area.y + area.height - 1).any(|y| buf[(x, y)].fg == FAULT_COLOR))
        .collect();
    for (x, line) in drawn.into_iter().zip(lines) {
        let from = x + 1;
        if from < right {
            buf.set_stringn(
                from,
                top,
                &line.label,
                usize::from(right - from),
                Style::default().fg(FAULT_COLOR),
            );
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::metrics::gc::{GcFigures, GcInterval, TargetGc};
    use crate::metrics::Snapshot;
    use crate::tui::state::{LiveModel, Msg, RunLabel};

    #[test]
    fn one_mark_per_interval_with_a_pause_at_its_longest() {
        let interval = |t_s: f64, pauses: u64, max_us: f64| GcInterval {
            t_s,
            pauses,
            pause_max_us: max_us,
            ..GcInterval::default()
        };
        let snap = Snapshot {
            target_gc: Some(TargetGc {
                reported: true,
                figures: Some(GcFigures {
                    intervals: vec![
                        interval(1.0, 2, 1000.0),
                        interval(2.0, 0, 0.0),
                        interval(3.0, 1, 10_000.0),
                    ],
                    ..GcFigures::default()
                }),
                ..TargetGc::default()
            }),
            ..Snapshot::default()
        };
        let mut m = LiveModel::new(RunLabel {
            workload: "w".into(),
            target: "t".into(),
        });
        m.update(Msg::Snapshot(Box::new(snap)));
        assert_eq!(marks(&m, 0.0), vec![(1.0, 3.0), (3.0, 4.0)]);
        assert_eq!(marks(&m, 2.5), vec![(3.0, 4.0)]);
        m.update(Msg::Snapshot(Box::default()));
        assert!(marks(&m, 0.0).is_empty());
    }

    /// A 100x16 chart of t = 1..10 s (planned 10 s) with faults at 2 s and
    /// 8 s, drawn by `draw`; returns the buffer.
    fn faulted_chart(draw: fn(&mut ratatui::Frame, Rect, &LiveModel)) -> Buffer {
        use crate::metrics::fault_marks::FaultMark;
        use crate::metrics::snapshot::{IntervalStats, Percentiles};
        let interval = |t: u64| IntervalStats {
            t_s: t as f64,
            length_s: 1.0,
            completed: 100,
            throughput: 100.0,
            corrected: Percentiles {
                p50_us: 1_000,
                p90_us: 2_000,
                p99_us: 5_000,
                p999_us: 9_000,
                ..Percentiles::default()
            },
            ..IntervalStats::default()
        };
        let mark = |label: &str, t_s: f64| FaultMark {
            label: label.into(),
            t_s,
        };
        let snap = Snapshot {
            planned: Some(std::time::Duration::from_secs(10)),
            history: (1..=10).map(interval).collect(),
            fault_marks: vec![mark("kill@2s", 2.0), mark("drop@8s", 8.0)],
            ..Snapshot::default()
        };
        let mut m = LiveModel::new(RunLabel {
            workload: "w".into(),
            target: "t".into(),
        });
        m.update(Msg::Snapshot(Box::new(snap)));
        let mut terminal =
            ratatui::Terminal::new(ratatui::backend::TestBackend::new(100, 16)).expect("terminal");
        terminal.draw(|f| draw(f, f.area(), &m)).expect("draw");
        terminal.backend().buffer().clone()
    }

    /// Each fault's line sits at its time on the x axis (0..10 s, right of
    /// the y axis) and its label starts just right of it on the top row.
    fn assert_labelled_at_their_times(buf: &Buffer) {
        let rows = 1..15u16;
        let columns = |wanted: &dyn Fn(&ratatui::buffer::Cell) -> bool| -> Vec<u16> {
            (1..99u16)
                .filter(|&x| rows.clone().filter(|&y| wanted(&buf[(x, y)])).count() >= 8)
                .collect()
        };
        let axis = columns(&|c| c.symbol() == "│")[0];
        let lines = columns(&|c| c.fg == FAULT_COLOR);
        assert_eq!(lines.len(), 2, "{lines:?}");
        let (left, width) = (f64::from(axis + 1), f64::from(98 - axis));
        for (x, (t, label)) in lines.iter().zip([(2.0, "kill@2s"), (8.0, "drop@8s")]) {
            let expected = left + t / 10.0 * (width - 1.0);
            assert!(
                (f64::from(*x) - expected).abs() <= 1.0,
                "{label} at {x}, not {expected}"
            );
            let top: String = (x + 1..x + 1 + label.len() as u16)
                .map(|c| buf[(c, 1)].symbol().to_string())
                .collect();
            assert_eq!(top, label);
        }
    }

    #[test]
    fn each_fault_is_a_labelled_line_at_its_time_on_both_time_charts() {
        assert_labelled_at_their_times(&faulted_chart(crate::tui::panes::latency::render));
        assert_labelled_at_their_times(&faulted_chart(crate::tui::panes::throughput::render));
    }
}
