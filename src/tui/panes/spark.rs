//! Small charts for the memory and allocator panes: a label, then a
//! sparkline of a measured series over the chart window, one bar per slice
//! of time (the largest reading in it; no bar where nothing was read);
//! and the panes' rows of text and charts, one a line.

use super::dim;
use ratatui::layout::Rect;
use ratatui::style::{Color, Style};
use ratatui::text::{Line, Span};
use ratatui::widgets::{Paragraph, Sparkline};
use ratatui::Frame;

/// A row of the memory or allocator pane: text, or one of its two charts
/// (which one is the pane's to say).
pub enum Row {
    Text(Line<'static>),
    Chart(bool),
}

/// Draws `rows` in `inner`, one a line, as many as fit; `chart` draws a
/// chart row in the line it is given.
pub fn draw_rows(
    f: &mut Frame,
    inner: Rect,
    rows: Vec<Row>,
    mut chart: impl FnMut(&mut Frame, Rect, bool),
) {
    for (k, row) in rows.into_iter().take(usize::from(inner.height)).enumerate() {
        let at = Rect {
            y: inner.y + k as u16,
            height: 1,
            ..inner
        };
        match row {
            Row::Text(line) => f.render_widget(Paragraph::new(line), at),
            Row::Chart(which) => chart(f, at, which),
        }
    }
}

/// How the bars are scaled.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Scale {
    /// From zero (rates).
    FromZero,
    /// From the window's smallest reading, so growth shows; at least 2 % of
    /// that reading tall, so noise does not look like growth.
    Growth,
}

/// `points` (`(t_s, value)`, oldest first) from `lo` to `hi` seconds in
/// `bins` slices: the largest value read in each; a slice between two
/// readings holds the last one read (readings come once a tick, slices
/// may be shorter); `None` before the first and after the last.
pub fn binned(points: &[(f64, u64)], lo: f64, hi: f64, bins: usize) -> Vec<Option<u64>> {
    let mut out = vec![None; bins];
    let span = hi - lo;
    if bins == 0 || span <= 0.0 {
        return out;
    }
    for (t, v) in points.iter().filter(|(t, _)| *t > lo && *t <= hi) {
        let k = (((t - lo) / span) * bins as f64).ceil() as usize;
        let slot = &mut out[k.clamp(1, bins) - 1];
        *slot = Some(slot.map_or(*v, |old: u64| old.max(*v)));
    }
    let last = out.iter().rposition(Option::is_some).unwrap_or(0);
    let mut held = None;
    for slot in out.iter_mut().take(last) {
        match slot {
            Some(v) => held = Some(*v),
            None => *slot = held,
        }
    }
    out
}

/// Bars and their top for `Sparkline`, scaled as asked. Every reading gets
/// at least the lowest bar, so a flat series still draws.
pub fn scaled(values: &[Option<u64>], scale: Scale) -> (Vec<Option<u64>>, u64) {
    let read = values.iter().flatten();
    let (lo, hi) = read.fold((u64::MAX, 0), |(lo, hi), v| (lo.min(*v), hi.max(*v)));
    if hi == 0 && lo == u64::MAX {
        return (values.to_vec(), 1);
    }
    let base = match scale {
        Scale::FromZero => 0,
        Scale::Growth => lo,
    };
    let floor = match scale {
        Scale::FromZero => 1,
        Scale::Growth => (lo / 50).max(1),
    };
    let top = (hi - base).max(floor);
    // A bar of `step` in `top + step` is at least one eighth of a row: the
    // lowest bar `Sparkline` draws.
    let step = top / 7 + 1;
    let bars = values.iter().map(|v| v.map(|v| v - base + step)).collect();
    (bars, top + step)
}

/// One row: `label` then the sparkline in `color` over the rest of `area`.
pub fn row(
    f: &mut Frame,
    area: Rect,
    label: &str,
    color: Color,
    points: &[(f64, u64)],
    window: (f64, f64),
    scale: Scale,
) {
    let label_w = (label.chars().count() as u16 + 1).min(area.width);
    f.render_widget(
        Paragraph::new(Span::styled(label.to_string(), dim())),
        Rect {
            width: label_w,
            ..area
        },
    );
    let chart = Rect {
        x: area.x + label_w,
        width: area.width - label_w,
        ..area
    };
    let values = binned(points, window.0, window.1, usize::from(chart.width));
    let (bars, top) = scaled(&values, scale);
    f.render_widget(
        Sparkline::default()
            .data(bars)
            .max(top)
            .style(Style::default().fg(color)),
        chart,
    );
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn readings_fall_into_their_slice_of_the_window() {
        let points = [(0.5, 9), (1.0, 3), (2.5, 5), (2.9, 7), (4.0, 1), (9.0, 2)];
        // The empty second slice holds the first's reading.
        assert_eq!(
            binned(&points, 0.0, 4.0, 4),
            vec![Some(9), Some(9), Some(7), Some(1)]
        );
        // Nothing before the first reading or after the last.
        assert_eq!(
            binned(&[(2.5, 5)], 0.0, 4.0, 4),
            vec![None, None, Some(5), None]
        );
        assert_eq!(binned(&points, 4.0, 4.0, 4), vec![None; 4]);
        assert!(binned(&points, 0.0, 4.0, 0).is_empty());
    }

    #[test]
    fn growth_is_scaled_from_the_smallest_reading_and_flat_still_draws() {
        let mib = 1 << 20;
        let flat = [Some(24 * mib), None, Some(24 * mib)];
        let (bars, top) = scaled(&flat, Scale::Growth);
        let step = (24 * mib / 50) / 7 + 1;
        assert_eq!(bars, vec![Some(step), None, Some(step)]);
        assert_eq!(top, 24 * mib / 50 + step);
        let rates = [Some(0), Some(8), Some(16)];
        assert_eq!(
            scaled(&rates, Scale::FromZero),
            (vec![Some(3), Some(11), Some(19)], 19)
        );
        assert_eq!(
            scaled(&[None, None], Scale::FromZero),
            (vec![None, None], 1)
        );
    }
}
