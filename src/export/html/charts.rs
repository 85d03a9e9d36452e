//! The report's charts, drawn by `plotters` into SVG text (its SVG
//! backend): lines over time, the latency histogram and the percentile
//! spectrum. Each function takes figures already measured (from the result
//! file) and returns one `<svg>` element; none computes a statistic.

use plotters::coord::types::RangedCoordf64;
use plotters::coord::Shift;
use plotters::prelude::*;

/// Chart size, px.
const SIZE: (u32, u32) = (880, 300);
/// One of several small charts side by side (per operation, per scenario).
pub const SMALL: (u32, u32) = (430, 220);

/// The palette: p50, p90, p99, p99.9 (and further series) in this order.
pub const COLOURS: [RGBColor; 6] = [
    RGBColor(31, 119, 180),
    RGBColor(44, 160, 44),
    RGBColor(255, 127, 14),
    RGBColor(214, 39, 40),
    RGBColor(148, 103, 189),
    RGBColor(140, 86, 75),
];

/// One line: its name and (x, y) points.
pub struct Line {
    pub name: String,
    pub points: Vec<(f64, f64)>,
}

fn draw_error<E: std::fmt::Debug>(e: E) -> String {
    format!("cannot draw the chart: {e:?}")
}

/// Draws into an SVG string with `paint`, tagging the element with `id`.
fn svg(
    id: &str,
    size: (u32, u32),
    paint: impl FnOnce(&DrawingArea<SVGBackend<'_>, Shift>) -> Result<(), String>,
) -> Result<String, String> {
    let mut out = String::new();
    {
        let root = SVGBackend::with_string(&mut out, size).into_drawing_area();
        root.fill(&WHITE).map_err(draw_error)?;
        paint(&root)?;
        root.present().map_err(draw_error)?;
    }
    // The id lets the page (and its browser test) find each chart.
    Ok(out.replacen("<svg ", &format!("<svg id=\"{id}\" class=\"chart\" "), 1))
}

/// Upper end of an axis holding `top` (never an empty range).
fn headroom(top: f64) -> f64 {
    if top > 0.0 {
        top * 1.08
    } else {
        1.0
    }
}

/// The set-up every chart shares: its caption, margin and label areas
/// (`y_labels` px for the y axis's labels); the caller builds the axes.
fn frame<'a, 'b>(
    root: &'a DrawingArea<SVGBackend<'b>, Shift>,
    title: &str,
    y_labels: u32,
) -> ChartBuilder<'a, 'b, SVGBackend<'b>> {
    let mut chart = ChartBuilder::on(root);
    chart
        .caption(title, ("sans-serif", 16))
        .margin(8)
        .x_label_area_size(32)
        .y_label_area_size(y_labels);
    chart
}

/// The largest x and the largest y among the points of `series` (0 when
/// there are none): where the axes end, before `headroom`.
fn maxima(series: &[Line]) -> (f64, f64) {
    series
        .iter()
        .flat_map(|l| l.points.iter())
        .fold((0.0, 0.0), |(x, y), p| (f64::max(x, p.0), f64::max(y, p.1)))
}

/// A chart whose axes are both plain numbers.
type Plane<'a, 'b> = ChartContext<'a, SVGBackend<'b>, Cartesian2d<RangedCoordf64, RangedCoordf64>>;

/// Each series as a line in its colour (x through `x`), then the legend
/// naming them at `legend`.
fn draw_lines<'a, 'b: 'a>(
    chart: &mut Plane<'a, 'b>,
    series: &[Line],
    x: impl Fn(f64) -> f64,
    legend: SeriesLabelPosition,
) -> Result<(), String> {
    for (i, line) in series.iter().enumerate() {
        let colour = COLOURS[i % COLOURS.len()];
        let points = line.points.iter().map(|&(px, py)| (x(px), py));
        chart
            .draw_series(LineSeries::new(points, colour.stroke_width(2)))
            .map_err(draw_error)?
            .label(line.name.clone())
            .legend(move |(x, y)| PathElement::new(vec![(x, y), (x + 16, y)], colour));
    }
    chart
        .configure_series_labels()
        .position(legend)
        .background_style(WHITE.mix(0.8))
        .border_style(BLACK)
        .draw()
        .map_err(draw_error)
}

/// Lines over time (x: seconds since the measured start).
pub fn lines(id: &str, title: &str, y_desc: &str, series: &[Line]) -> Result<String, String> {
    sized_lines(id, SIZE, title, y_desc, series)
}

/// Lines over time in a chart of `size` pixels.
pub fn sized_lines(
    id: &str,
    size: (u32, u32),
    title: &str,
    y_desc: &str,
    series: &[Line],
) -> Result<String, String> {
    let (x_max, y_max) = maxima(series);
    svg(id, size, |root| {
        let mut chart = frame(root, title, 64)
            .build_cartesian_2d(0.0..headroom(x_max), 0.0..headroom(y_max))
            .map_err(draw_error)?;
        chart
            .configure_mesh()
            .x_desc("seconds")
            .y_desc(y_desc)
            .draw()
            .map_err(draw_error)?;
        // Plotters' own default place for the legend.
        draw_lines(&mut chart, series, |x| x, SeriesLabelPosition::MiddleRight)
    })
}

/// The latency histogram: (bucket's upper bound µs, count) bars on a log
/// x axis.
pub fn histogram(id: &str, title: &str, buckets: &[(u64, u64)]) -> Result<String, String> {
    let lo = buckets.first().map_or(1, |b| (b.0 / 2).max(1)) as f64;
    let hi = buckets.last().map_or(10, |b| b.0.max(2)) as f64;
    let top = buckets.iter().map(|b| b.1).max().unwrap_or(0) as f64;
    svg(id, SIZE, |root| {
        let mut chart = frame(root, title, 64)
            .build_cartesian_2d((lo..hi).log_scale(), 0.0..headroom(top))
            .map_err(draw_error)?;
        chart
            .configure_mesh()
            .x_desc("latency, µs (log)")
            .y_desc("requests")
            .draw()
            .map_err(draw_error)?;
        let bars = buckets.iter().map(|&(upper, count)| {
            let from = (upper as f64 / 2.0).max(lo);
            Rectangle::new(
                [(from, 0.0), (upper as f64, count as f64)],
                COLOURS[0].filled(),
            )
        });
        chart.draw_series(bars).map_err(draw_error)?;
        Ok(())
    })
}

/// `x` of a quantile on the spectrum's axis: how many nines (0 % → 0,
/// 90 % → 1, 99 % → 2, ... 99.999 % → 5).
pub fn nines(q: f64) -> f64 {
    -(1.0 - q).max(1e-9).log10()
}

fn nines_label(x: &f64) -> String {
    let percent = (1.0 - 10f64.powf(-x)) * 100.0;
    let text = format!("{percent:.3}");
    format!("{}%", text.trim_end_matches('0').trim_end_matches('.'))
}

/// The percentile spectrum, HdrHistogram style: latency at each
/// percentile, x from 0 % to 99.999 % by nines; one line per series of
/// (quantile, µs) points.
pub fn spectrum(id: &str, title: &str, series: &[Line]) -> Result<String, String> {
    let (_, y_max) = maxima(series);
    svg(id, SIZE, |root| {
        let mut chart = frame(root, title, 64)
            .build_cartesian_2d(0.0..5.0, 0.0..headroom(y_max))
            .map_err(draw_error)?;
        chart
            .configure_mesh()
            .x_labels(6)
            .x_label_formatter(&nines_label)
            .x_desc("percentile")
            .y_desc("latency, ms")
            .draw()
            .map_err(draw_error)?;
        let x = |q: f64| nines(q).min(5.0);
        draw_lines(&mut chart, series, x, SeriesLabelPosition::UpperLeft)
    })
}

/// One verdict row's change and its interval, in percent.
pub struct Interval {
    pub name: String,
    pub change: f64,
    pub low: f64,
    pub high: f64,
    /// The regression threshold (a change past it in the bad direction fails).
    pub threshold: f64,
    pub bad: bool,
}

/// Each metric's change with its confidence interval as an error bar, and
/// the thresholds as dashed marks; metrics top to bottom.
pub fn intervals(id: &str, title: &str, rows: &[Interval]) -> Result<String, String> {
    let reach = rows
        .iter()
        .flat_map(|r| [r.low.abs(), r.high.abs(), r.threshold.abs()])
        .fold(1.0, f64::max)
        * 1.15;
    let n = rows.len().max(1) as f64;
    let height = (60 + 34 * rows.len()) as u32;
    svg(id, (SIZE.0, height), |root| {
        let mut chart = frame(root, title, 150)
            .build_cartesian_2d(-reach..reach, -0.5..(n - 0.5))
            .map_err(draw_error)?;
        let names: Vec<String> = rows.iter().map(|r| r.name.clone()).collect();
        let rows_n = rows.len();
        chart
            .configure_mesh()
            .disable_y_mesh()
            .y_labels(rows_n.max(1))
            .y_label_formatter(&|y: &f64| {
                let i = y.round();
                if (y - i).abs() > 0.01 || i < 0.0 {
                    return String::new();
                }
                names
                    .get(rows_n.saturating_sub(1 + i as usize))
                    .cloned()
                    .unwrap_or_default()
            })
            .x_desc("change, % (bar: the confidence interval; dashes: the thresholds)")
            .draw()
            .map_err(draw_error)?;
        chart
            .draw_series(LineSeries::new([(0.0, -0.5), (0.0, n - 0.5)], BLACK))
            .map_err(draw_error)?;
        for (i, r) in rows.iter().enumerate() {
            let y = (rows_n - 1 - i) as f64;
            let colour = if r.bad { COLOURS[3] } else { COLOURS[1] };
            chart
                .draw_series([ErrorBar::new_horizontal(
                    y,
                    r.low,
                    r.change,
                    r.high,
                    colour.stroke_width(2),
                    10,
                )])
                .map_err(draw_error)?;
            for t in [r.threshold, -r.threshold] {
                chart
                    .draw_series(DashedLineSeries::new(
                        [(t, y - 0.35), (t, y + 0.35)],
                        3,
                        3,
                        COLOURS[4].into(),
                    ))
                    .map_err(draw_error)?;
            }
        }
        Ok(())
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn line(points: &[(f64, f64)]) -> Line {
        Line {
            name: "l".into(),
            points: points.to_vec(),
        }
    }

    #[test]
    fn the_axes_end_at_the_largest_x_and_y_of_any_series() {
        assert_eq!(maxima(&[]), (0.0, 0.0));
        let series = [line(&[(1.0, 7.0), (2.0, 3.0)]), line(&[(5.0, 1.0)])];
        assert_eq!(maxima(&series), (5.0, 7.0));
    }

    /// Every kind of chart is set up by `frame`: each carries its caption.
    #[test]
    fn every_chart_carries_its_caption() {
        let series = [line(&[(0.5, 2.0), (0.99, 4.0)])];
        let rows = [Interval {
            name: "p99".into(),
            change: 5.0,
            low: 1.0,
            high: 9.0,
            threshold: 10.0,
            bad: true,
        }];
        let charts = [
            lines("a", "caption of lines", "ms", &series),
            sized_lines("b", SMALL, "caption of small lines", "ms", &series),
            histogram("c", "caption of histogram", &[(10, 3), (20, 5)]),
            spectrum("d", "caption of spectrum", &series),
            intervals("e", "caption of intervals", &rows),
        ];
        let kinds = ["lines", "small lines", "histogram", "spectrum", "intervals"];
        for ((chart, kind), id) in charts.iter().zip(kinds).zip(["a", "b", "c", "d", "e"]) {
            let svg = chart.as_ref().expect("drawn");
            assert!(svg.contains(&format!("caption of {kind}")), "{kind}: {svg}");
            assert!(
                svg.starts_with(&format!("<svg id=\"{id}\" class=\"chart\" ")),
                "{kind}"
            );
        }
    }
}
