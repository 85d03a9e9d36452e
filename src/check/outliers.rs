//! Runs that stray from their siblings, and how noisy a set of runs is.
//!
//! A run is an outlier in a metric when its distance from the median of the
//! runs exceeds `OUTLIER_K` robust standard deviations, the median absolute
//! deviation (MAD) times 1.4826 (which makes it the standard deviation for
//! normal data, while one wild run cannot inflate it). Rates, latencies and
//! memory are measured on logarithms, as the verdict compares them: a run at
//! half the median is as far out as one at double. When more than half the
//! runs agree exactly the MAD is zero, and every small difference would be
//! "infinitely" far: the spread is then taken as at least `MIN_LOG_SPREAD`
//! (`MIN_ERROR_RATE_SPREAD` for the error rate), so a run has to stray by
//! more than a factor of e^0.35 = 1.42 to count.

use super::baseline::{MetricNoise, Noise, OutlierRun};
use super::formats::value;
use super::verdict::GateMetric;
use crate::report::RunReport;
use std::collections::BTreeMap;
use std::future::Future;

/// Robust standard deviations from the median beyond which a run is an
/// outlier (Iglewicz and Hoaglin's cut-off for the modified z-score).
pub const OUTLIER_K: f64 = 3.5;
/// MAD x this estimates the standard deviation of normal data.
pub const MAD_SCALE: f64 = 1.4826;
/// The smallest spread assumed, on logarithms (about 10 %): a run has to
/// be 42 % above or 30 % below the median to count, so the everyday wobble
/// of a busy machine is neither rerun nor left out; the median absorbs it.
pub const MIN_LOG_SPREAD: f64 = 0.1;
/// The smallest spread assumed for the error rate (0.05 percentage points).
pub const MIN_ERROR_RATE_SPREAD: f64 = 0.0005;
/// Fewer runs than this have no median to stray from.
pub const MIN_RUNS: usize = 3;
/// `baseline save` makes at most this many extra runs to replace outliers.
pub const MAX_EXTRA_RUNS: u32 = 2;

/// One run's value that strays from the others' median.
#[derive(Debug, Clone, PartialEq)]
pub struct Outlier {
    pub metric: GateMetric,
    pub value: f64,
    pub median: f64,
    /// Distance from the median in robust standard deviations.
    pub score: f64,
}

impl Outlier {
    pub fn describe(&self) -> String {
        format!(
            "{} {} vs median {}",
            self.metric.name(),
            value(self.metric, self.value),
            value(self.metric, self.median)
        )
    }
}

/// 1.4826 x MAD of `values` around `median`.
pub fn scaled_mad(values: &[f64], median: f64) -> f64 {
    let deviations: Vec<f64> = values.iter().map(|x| (x - median).abs()).collect();
    MAD_SCALE * super::stats::median(&deviations)
}

/// Which of `values` are outliers, by index, with their scores.
pub fn outliers(metric: GateMetric, values: &[f64]) -> Vec<(usize, Outlier)> {
    if values.len() < MIN_RUNS || values.iter().any(|v| !v.is_finite()) {
        return Vec::new();
    }
    let ratio = metric.scale() == super::stats::Scale::Ratio;
    // A run with nothing measured (zero throughput) is as far below the
    // others as a number can be.
    let scaled: Vec<f64> = if ratio {
        values
            .iter()
            .map(|v| v.max(f64::MIN_POSITIVE).ln())
            .collect()
    } else {
        values.to_vec()
    };
    let center = super::stats::median(&scaled);
    let floor = if ratio {
        MIN_LOG_SPREAD
    } else {
        MIN_ERROR_RATE_SPREAD
    };
    let spread = scaled_mad(&scaled, center).max(floor);
    let median = super::stats::median(values);
    scaled
        .iter()
        .zip(values)
        .enumerate()
        .filter_map(|(i, (x, v))| {
            let score = (x - center).abs() / spread;
            (score > OUTLIER_K).then(|| {
                let o = Outlier {
                    metric,
                    value: *v,
                    median,
                    score,
                };
                (i, o)
            })
        })
        .collect()
}

/// Per run (by index into `runs`), the metrics it is an outlier in; runs
/// with the most extreme outlier first.
pub fn of_runs(runs: &[RunReport]) -> Vec<(usize, Vec<Outlier>)> {
    let mut by_run: BTreeMap<usize, Vec<Outlier>> = BTreeMap::new();
    for m in GateMetric::ALL {
        let (index, values): (Vec<usize>, Vec<f64>) = runs
            .iter()
            .enumerate()
            .filter_map(|(i, r)| m.of_run(r).map(|v| (i, v)))
            .unzip();
        for (i, o) in outliers(m, &values) {
            by_run.entry(index[i]).or_default().push(o);
        }
    }
    let worst = |os: &[Outlier]| os.iter().map(|o| o.score).fold(0.0, f64::max);
    let mut found: Vec<(usize, Vec<Outlier>)> = by_run.into_iter().collect();
    found.sort_by(|a, b| worst(&b.1).total_cmp(&worst(&a.1)));
    found
}

/// How noisy these runs are, per metric, and how many runs it took.
pub fn noise(runs: &[RunReport], runs_made: u32, rerun: Vec<OutlierRun>) -> Noise {
    let metrics = GateMetric::ALL
        .iter()
        .filter_map(|m| {
            let values: Vec<f64> = runs.iter().filter_map(|r| m.of_run(r)).collect();
            if values.is_empty() {
                return None;
            }
            let median = super::stats::median(&values);
            let mad = scaled_mad(&values, median);
            let relative = (median != 0.0 && m.scale() == super::stats::Scale::Ratio)
                .then(|| mad / median.abs());
            Some((
                *m,
                MetricNoise {
                    median,
                    mad,
                    relative_mad: relative,
                },
            ))
        })
        .collect();
    let outliers_kept = of_runs(runs)
        .into_iter()
        .map(|(i, os)| OutlierRun {
            run: i as u32 + 1,
            metrics: os.iter().map(|o| o.metric).collect(),
        })
        .collect();
    Noise {
        runs_made,
        rerun,
        outliers_kept,
        metrics,
    }
}

/// Replaces outlier runs by fresh ones, one at a time and the worst first,
/// at most `max_extra` times; what it does is said through `say`. `rerun`
/// makes run number n (counting every run made, from 1). The runs returned
/// are the ones kept, in the order made, with their noise; a run still an
/// outlier after the last extra run is kept and warned about loudly.
pub async fn settle<F, Fut, E>(
    name: &str,
    runs: Vec<RunReport>,
    max_extra: u32,
    mut rerun: F,
    say: &mut dyn FnMut(String),
) -> Result<(Vec<RunReport>, Noise), E>
where
    F: FnMut(u32) -> Fut,
    Fut: Future<Output = Result<RunReport, E>>,
{
    let mut made = runs.len() as u32;
    // Run numbers in the order made, so messages name runs as the progress
    // lines did.
    let mut numbered: Vec<(u32, RunReport)> = (1..).zip(runs).collect();
    let mut dropped = Vec::new();
    let mut extra = 0;
    loop {
        let reports: Vec<RunReport> = numbered.iter().map(|(_, r)| r.clone()).collect();
        let found = of_runs(&reports);
        let Some((worst, outliers)) = found.first() else {
            break;
        };
        let what = |os: &[Outlier]| {
            os.iter()
                .map(Outlier::describe)
                .collect::<Vec<_>>()
                .join(", ")
        };
        if extra >= max_extra {
            for (i, os) in &found {
                say(format!(
                    "mcptop: WARNING: {name}: run {} is an outlier after {extra} extra run(s): {}; \
                     the baseline keeps it, and records how noisy it is",
                    numbered[*i].0,
                    what(os)
                ));
            }
            break;
        }
        extra += 1;
        let (number, _) = numbered.remove(*worst);
        say(format!(
            "{name}: run {number} is an outlier ({}, more than {OUTLIER_K} x 1.4826 MAD from the median): \
             dropped; extra run {extra} of at most {max_extra}",
            what(outliers)
        ));
        dropped.push(OutlierRun {
            run: number,
            metrics: outliers.iter().map(|o| o.metric).collect(),
        });
        made += 1;
        numbered.push((made, rerun(made).await?));
    }
    let mut kept_noise = noise(
        &numbered.iter().map(|(_, r)| r.clone()).collect::<Vec<_>>(),
        made,
        dropped,
    );
    // Name kept outliers by the number they were made under.
    for o in &mut kept_noise.outliers_kept {
        o.run = numbered[o.run as usize - 1].0;
    }
    Ok((numbered.into_iter().map(|(_, r)| r).collect(), kept_noise))
}

#[cfg(test)]
mod tests;
