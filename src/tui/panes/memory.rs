//! Memory: resident size of mcptop and of the target, how fast each grows,
//! and its RSS over the chart window as a small chart (from
//! `MemoryStats::history`). "not measured" until the profiler fills
//! `Snapshot::memory`. Every line is fitted to the width, never cut.

use super::spark::{self, Row, Scale};
use super::{block, dim, fit_line, fmt_bytes};
use crate::metrics::snapshot::{MemoryStats, ProcessStats};
use crate::tui::state::LiveModel;
use ratatui::layout::Rect;
use ratatui::style::{Color, Style};
use ratatui::text::{Line, Span};
use ratatui::widgets::Paragraph;
use ratatui::Frame;

pub const TITLE: &str = " memory ";
const MCPTOP: Color = Color::Cyan;
const TARGET: Color = Color::LightMagenta;

pub fn render(f: &mut Frame, area: Rect, m: &LiveModel) {
    let frame = block(TITLE);
    let inner = frame.inner(area);
    let Some(mem) = &m.snapshot.memory else {
        f.render_widget(
            Paragraph::new(Span::styled("not measured", dim())).block(frame),
            area,
        );
        return;
    };
    f.render_widget(frame, area);
    let (lo, hi) = m.window_bounds();
    let window = window(mem, hi - lo);
    // Chart rows: the RSS of mcptop (`false`) or of the target (`true`).
    spark::draw_rows(
        f,
        inner,
        rows(mem, inner.width, inner.height),
        |f, at, target| {
            let points = series(mem, target);
            let (label, color) = if target {
                ("target", TARGET)
            } else {
                ("mcptop", MCPTOP)
            };
            spark::row(f, at, label, color, &points, window, Scale::Growth);
        },
    );
}

/// The rows that fit `height`, in reading order: the figures first, then
/// the charts (the target's before mcptop's), then the per-session cost.
fn rows(mem: &MemoryStats, width: u16, height: u16) -> Vec<Row> {
    let target_measured = mem.target.is_some();
    // (priority, order on screen, row): lower priority keeps its place first.
    let mut all: Vec<(u8, u8, Row)> = vec![
        (
            0,
            0,
            Row::Text(process_line(
                "mcptop",
                mem.mcptop.as_ref(),
                mem.mcptop_slope_mib_per_min,
                width,
            )),
        ),
        (3, 1, Row::Chart(false)),
        (
            0,
            2,
            Row::Text(match &mem.target {
                Some(_) => process_line(
                    "target",
                    mem.target.as_ref(),
                    mem.target_slope_mib_per_min,
                    width,
                ),
                None => fit_line(
                    width,
                    vec![
                        Line::from(vec![
                            Span::raw("target "),
                            Span::styled("in-process or not measured", dim()),
                        ]),
                        Line::from(vec![
                            Span::raw("target "),
                            Span::styled("not measured", dim()),
                        ]),
                    ],
                ),
            }),
        ),
    ];
    if target_measured {
        all.push((2, 3, Row::Chart(true)));
    }
    if mem.leak_suspect {
        all.push((
            1,
            4,
            Row::Text(fit_line(
                width,
                vec![
                    Line::styled("leak suspect: RSS keeps growing", Color::Yellow),
                    Line::styled("leak suspect", Color::Yellow),
                ],
            )),
        ));
    }
    all.extend(profiler_row(mem, width));
    if let Some(b) = mem.bytes_per_session {
        all.push((
            4,
            6,
            Row::Text(Line::from(format!("per session {}", fmt_bytes(b)))),
        ));
    }
    all.sort_by_key(|(priority, _, _)| *priority);
    all.truncate(usize::from(height));
    all.sort_by_key(|(_, order, _)| *order);
    all.into_iter().map(|(_, _, row)| row).collect()
}

/// mcptop's own profiler's memory, apart from the run's (its growth is
/// judged without it).
fn profiler_row(mem: &MemoryStats, width: u16) -> Option<(u8, u8, Row)> {
    let added = fmt_bytes(mem.profiler_rss_bytes? as f64);
    let text = fit_line(
        width,
        vec![
            Line::from(format!("profiler +{added} (not in the growth)")),
            Line::from(format!("profiler +{added}")),
        ],
    );
    Some((3, 5, Row::Text(text)))
}

/// The last `window_s` seconds of the history (as long as the other
/// charts' window), by its own clock; early in a run from zero, so the
/// chart fills from the left as the others do.
fn window(mem: &MemoryStats, window_s: f64) -> (f64, f64) {
    let end = mem.history.last().map_or(0.0, |(t, _, _)| *t).max(window_s);
    (end - window_s, end)
}

/// RSS readings of mcptop or the target (zero: not read).
fn series(mem: &MemoryStats, target: bool) -> Vec<(f64, u64)> {
    mem.history
        .iter()
        .map(|(t, ours, theirs)| (*t, if target { *theirs } else { *ours }))
        .filter(|(_, rss)| *rss > 0)
        .collect()
}

fn process_line(
    who: &str,
    p: Option<&ProcessStats>,
    slope: Option<f64>,
    width: u16,
) -> Line<'static> {
    let Some(p) = p else {
        return Line::from(vec![
            Span::raw(format!("{who} ")),
            Span::styled("not measured", dim()),
        ]);
    };
    let rss = fmt_bytes(p.rss_bytes as f64);
    // `17.7M`: the unit's first letter is enough where room is short.
    let short = rss.replace("iB", "").replace(' ', "");
    let variants = match slope {
        Some(s) => vec![
            format!("{who} RSS {rss} {s:+.2} MiB/min"),
            format!("{who} {rss} {s:+.2} MiB/min"),
            format!("{who} {short} {s:+.2}M/min"),
            format!("{who} {short} {s:+.1}M/min"),
            format!("{who} {short}"),
        ],
        None => vec![format!("{who} RSS {rss}"), format!("{who} {rss}")],
    };
    let color = if who == "target" { TARGET } else { MCPTOP };
    fit_line(
        width,
        variants
            .into_iter()
            .map(|text| {
                let (name, rest) = text.split_at(who.len());
                Line::from(vec![
                    Span::styled(name.to_string(), Style::default().fg(color)),
                    Span::raw(rest.to_string()),
                ])
            })
            .collect(),
    )
}
