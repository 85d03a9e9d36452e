//! The live screen's panes, one file each. A pane draws a `LiveModel` into
//! the area it is given and nothing else: no I/O, no clock, no figure that is
//! not in the `Snapshot`. Every pane copes with any area, down to nothing.

pub mod allocator;
pub mod errors;
pub mod gc_marks;
pub mod header;
pub mod histogram;
pub mod latency;
pub mod memory;
pub mod ops;
pub mod scenarios;
pub mod spark;
pub mod throughput;

use ratatui::style::{Color, Modifier, Style};
use ratatui::text::{Line, Span};
use ratatui::widgets::{Axis, Block, Borders, Chart, Dataset};

/// A pane's frame with its title.
pub fn block(title: &str) -> Block<'_> {
    Block::default()
        .borders(Borders::ALL)
        .border_style(Style::default().fg(Color::DarkGray))
        .title(Span::styled(
            title,
            Style::default().add_modifier(Modifier::BOLD),
        ))
}

/// A chart over the model's time window: seconds along x, `y` bounds with
/// their labels up the side. Shared by the latency and throughput panes.
pub fn time_chart<'a>(
    datasets: Vec<Dataset<'a>>,
    frame: Block<'a>,
    m: &crate::tui::state::LiveModel,
    y: [f64; 2],
    y_labels: Vec<Line<'a>>,
) -> Chart<'a> {
    let (x_lo, x_hi) = m.window_bounds();
    Chart::new(datasets)
        .block(frame)
        .x_axis(
            Axis::default()
                .bounds([x_lo, x_hi])
                .labels([format!("{x_lo:.0}s"), format!("{x_hi:.0}s")])
                .style(dim()),
        )
        .y_axis(Axis::default().bounds(y).labels(y_labels).style(dim()))
}

/// The first of `variants` (longest first) that fits a frame `width` wide,
/// else the last one, cut by the frame.
pub fn fit_title(width: u16, variants: Vec<Line<'static>>) -> Line<'static> {
    fit_line(width.saturating_sub(3), variants)
}

/// The first of `variants` (longest first) no wider than `room`, else the
/// last one.
pub fn fit_line(room: u16, variants: Vec<Line<'static>>) -> Line<'static> {
    let room = usize::from(room);
    let count = variants.len();
    variants
        .into_iter()
        .enumerate()
        .find(|(k, line)| line.width() <= room || k + 1 == count)
        .map(|(_, line)| line)
        .unwrap_or_default()
}

/// Style for "not measured" and other absent figures.
pub fn dim() -> Style {
    Style::default().fg(Color::DarkGray)
}

/// A rate as a short figure: 950, 12.3k, 1.20M.
pub fn fmt_rate(r: f64) -> String {
    if r < 1_000.0 {
        format!("{r:.0}")
    } else if r < 1_000_000.0 {
        format!("{:.1}k", r / 1e3)
    } else {
        format!("{:.2}M", r / 1e6)
    }
}

/// Bytes as a short figure: 512 B, 12.3 KiB, 4.5 MiB, 1.20 GiB.
pub fn fmt_bytes(b: f64) -> String {
    const KIB: f64 = 1024.0;
    let abs = b.abs();
    if abs < KIB {
        format!("{b:.0} B")
    } else if abs < KIB * KIB {
        format!("{:.1} KiB", b / KIB)
    } else if abs < KIB * KIB * KIB {
        format!("{:.1} MiB", b / (KIB * KIB))
    } else {
        format!("{:.2} GiB", b / (KIB * KIB * KIB))
    }
}

/// Microseconds, short: 850µs, 12.3ms, 1.20s (axis labels and tight cells).
pub fn fmt_us_short(us: u64) -> String {
    if us < 1_000 {
        format!("{us}µs")
    } else if us < 10_000 {
        format!("{:.1}ms", us as f64 / 1e3)
    } else if us < 1_000_000 {
        format!("{}ms", us / 1_000)
    } else {
        format!("{:.1}s", us as f64 / 1e6)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn titles_shrink_to_fit() {
        let variants = || vec![Line::from(" a long title "), Line::from(" short ")];
        assert_eq!(fit_title(40, variants()), Line::from(" a long title "));
        assert_eq!(fit_title(12, variants()), Line::from(" short "));
        assert_eq!(fit_title(2, variants()), Line::from(" short "));
        assert_eq!(fit_title(2, Vec::new()), Line::default());
    }

    #[test]
    fn short_figures() {
        assert_eq!(fmt_rate(950.4), "950");
        assert_eq!(fmt_rate(12_345.0), "12.3k");
        assert_eq!(fmt_rate(1_200_000.0), "1.20M");
        assert_eq!(fmt_bytes(512.0), "512 B");
        assert_eq!(fmt_bytes(4.5 * 1024.0 * 1024.0), "4.5 MiB");
        assert_eq!(fmt_bytes(-2048.0), "-2.0 KiB");
        assert_eq!(fmt_us_short(850), "850µs");
        assert_eq!(fmt_us_short(1_250), "1.2ms");
        assert_eq!(fmt_us_short(45_600), "45ms");
        assert_eq!(fmt_us_short(1_500_000), "1.5s");
    }
}
