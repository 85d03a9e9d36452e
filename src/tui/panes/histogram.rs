//! The latency histogram: every success of the run so far in log-spaced
//! buckets (powers of two, corrected latency), one row per bucket, merged
//! pairwise when there are more buckets than rows.

use super::{block, dim, fmt_us_short};
use crate::metrics::snapshot::Bucket;
use crate::tui::state::LiveModel;
use ratatui::layout::Rect;
use ratatui::style::{Color, Style};
use ratatui::text::{Line, Span};
use ratatui::widgets::Paragraph;
use ratatui::Frame;

pub const TITLE: &str = " latency histogram (corrected, whole run) ";

pub fn render(f: &mut Frame, area: Rect, m: &LiveModel) {
    let block = block(TITLE);
    let inner = block.inner(area);
    let buckets = fit(&m.snapshot.histogram, inner.height as usize);
    let total: u64 = buckets.iter().map(|b| b.count).sum();
    if total == 0 {
        f.render_widget(
            Paragraph::new(Span::styled("no replies yet", dim())).block(block),
            area,
        );
        return;
    }
    let most = buckets.iter().map(|b| b.count).max().unwrap_or(1).max(1);
    let label_w = 8;
    let pct_w = 7;
    let bar_w = (inner.width as usize).saturating_sub(label_w + pct_w + 1);
    let lines: Vec<Line> = buckets
        .iter()
        .map(|b| {
            let filled = ((b.count as f64 / most as f64) * bar_w as f64).round() as usize;
            // A bucket with replies always shows, however few.
            let filled = if b.count > 0 { filled.max(1) } else { 0 };
            Line::from(vec![
                Span::styled(
                    format!(
                        "{:>w$} ",
                        format!("≤{}", fmt_us_short(b.upper_us)),
                        w = label_w - 1
                    ),
                    dim(),
                ),
                Span::styled("█".repeat(filled), Style::default().fg(Color::Blue)),
                Span::raw(" ".repeat(bar_w - filled)),
                Span::raw(format!(
                    "{:>w$.1}%",
                    b.count as f64 * 100.0 / total as f64,
                    w = pct_w
                )),
            ])
        })
        .collect();
    f.render_widget(Paragraph::new(lines).block(block), area);
}

/// Merges neighbouring buckets until at most `rows` remain.
pub fn fit(buckets: &[Bucket], rows: usize) -> Vec<Bucket> {
    let mut out = buckets.to_vec();
    if rows == 0 {
        return Vec::new();
    }
    while out.len() > rows {
        out = out
            .chunks(2)
            .map(|pair| Bucket {
                upper_us: pair.last().map(|b| b.upper_us).unwrap_or_default(),
                count: pair.iter().map(|b| b.count).sum(),
            })
            .collect();
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn fit_merges_pairs_and_keeps_every_count() {
        let buckets: Vec<Bucket> = (0..5)
            .map(|k| Bucket {
                upper_us: 1 << k,
                count: k + 1,
            })
            .collect();
        assert_eq!(fit(&buckets, 5), buckets);
        let two = fit(&buckets, 2);
        assert_eq!(
            two,
            vec![
                Bucket {
                    upper_us: 8,
                    count: 10
                },
                Bucket {
                    upper_us: 16,
                    count: 5
                },
            ]
        );
        assert!(fit(&buckets, 0).is_empty());
    }
}
