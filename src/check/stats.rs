//! How big a change is and how sure: the ratio (or difference) of the two
//! sides' medians, with the distribution-free confidence interval of the
//! shift between them (Hodges-Lehmann's, from the Mann-Whitney test).
//!
//! The change is computed from the very medians the table prints, so anyone
//! can recompute it from the columns. The interval is read off the sorted
//! pairwise ratios `current_j / baseline_i` (differences for the error
//! rate): its ends are the k-th smallest and k-th largest, with k from the
//! exact Mann-Whitney distribution. It assumes no distribution, only that
//! the runs of each side are exchangeable; one wild run moves at most the
//! end of the interval on its own side, never the median. Rates and
//! latencies are compared as ratios (a doubling and a halving are the same
//! size), the error rate as a difference.

use statrs::distribution::{ContinuousCDF, Normal};

/// Two-sided confidence level the intervals aim for; the exact coverage is
/// at least this (98.4 % with five runs a side). Higher than the usual 95 %
/// because a check fails when any one of its metrics regresses: a 1 %
/// chance per metric that noise alone looks like a regression, rather than
/// 2.5 %, keeps false alarms of the whole check as rare as Welch's t had
/// them while catching more real slowdowns (docs/GATE.md, measured with
/// benches/check_gate_ab.sh).
pub const CONFIDENCE: f64 = 0.98;

/// Past this many samples on both sides together, the Mann-Whitney
/// distribution is taken as normal; below it, it is counted exactly.
const EXACT_UP_TO: usize = 100;

/// A change from baseline to current with its confidence interval. For ratio
/// scales, `change` is relative (0.2 = +20 %); for difference scales it is
/// absolute. An interval that too few samples cannot bound is infinite.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Estimate {
    pub change: f64,
    pub low: f64,
    pub high: f64,
}

impl Estimate {
    /// The interval excludes "no change" on the side the change is on.
    pub fn significant(&self) -> bool {
        (self.change > 0.0 && self.low > 0.0) || (self.change < 0.0 && self.high < 0.0)
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Scale {
    /// Compare current/baseline (throughput, latency, memory).
    Ratio,
    /// Compare current - baseline (error rate).
    Difference,
}

/// None when either side is empty, holds a value that is not a finite
/// number (a negative one on a ratio scale), or when the baseline's median
/// is zero on a ratio scale (no ratio to it).
pub fn estimate(baseline: &[f64], current: &[f64], scale: Scale) -> Option<Estimate> {
    estimate_without(baseline, current, (baseline, current), scale)
}

/// The change of the medians of every sample, with the interval of `kept`:
/// the samples without outlier runs. Leaving a run out would move the
/// median the other way (the middle of four instead of five), so the
/// medians keep every run; the interval, whose ends one wild run could
/// move, does without them.
pub fn estimate_without(
    baseline: &[f64],
    current: &[f64],
    kept: (&[f64], &[f64]),
    scale: Scale,
) -> Option<Estimate> {
    let usable = |x: &f64| x.is_finite() && (scale == Scale::Difference || *x >= 0.0);
    if baseline.is_empty() || current.is_empty() || kept.0.is_empty() || kept.1.is_empty() {
        return None;
    }
    if !baseline.iter().chain(current).all(usable) {
        return None;
    }
    let (mb, mc) = (median(baseline), median(current));
    let change = match scale {
        Scale::Ratio if mb == 0.0 => return None,
        Scale::Ratio => mc / mb - 1.0,
        Scale::Difference => mc - mb,
    };
    let (baseline, current) = kept;
    let mut pairs: Vec<f64> = current
        .iter()
        .flat_map(|c| baseline.iter().map(move |b| shift(*b, *c, scale)))
        .collect();
    pairs.sort_by(f64::total_cmp);
    let (low, high) = match interval_rank(baseline.len(), current.len()) {
        Some(k) => (pairs[k - 1], pairs[pairs.len() - k]),
        None => (f64::NEG_INFINITY, f64::INFINITY),
    };
    Some(Estimate { change, low, high })
}

/// One pairwise shift, in the units of `change`.
fn shift(b: f64, c: f64, scale: Scale) -> f64 {
    match scale {
        Scale::Difference => c - b,
        // A zero baseline run: any current value is an unbounded rise,
        // except zero, which is no change.
        Scale::Ratio if b == 0.0 => {
            if c == 0.0 {
                0.0
            } else {
                f64::INFINITY
            }
        }
        Scale::Ratio => c / b - 1.0,
    }
}

/// The 1-based rank k whose k-th smallest and k-th largest pairwise shifts
/// bound the interval: the largest k with P(U < k) <= (1 - CONFIDENCE) / 2
/// for the Mann-Whitney U of `n` and `m` samples with no shift. None when
/// even the extreme shifts are not that unlikely (4 vs 4, 3 vs 6 or fewer).
pub fn interval_rank(n: usize, m: usize) -> Option<usize> {
    if n == 0 || m == 0 {
        return None;
    }
    let tail = (1.0 - CONFIDENCE) / 2.0;
    if n + m <= EXACT_UP_TO {
        let cdf = u_cdf(n, m);
        // cdf[u] = P(U <= u); the rank is one past the last u inside the tail.
        let below = cdf.iter().take_while(|p| **p <= tail).count();
        (below > 0).then_some(below)
    } else {
        let (nf, mf) = (n as f64, m as f64);
        let z = Normal::new(0.0, 1.0)
            .map(|d| d.inverse_cdf(1.0 - tail))
            .unwrap_or(1.96);
        let k = (nf * mf / 2.0 - z * (nf * mf * (nf + mf + 1.0) / 12.0).sqrt()).floor();
        (k >= 1.0).then_some(k as usize)
    }
}

/// The exact coverage the rank gives: 1 - 2 P(U < k).
pub fn coverage(n: usize, m: usize) -> Option<f64> {
    let k = interval_rank(n, m)?;
    if n + m <= EXACT_UP_TO {
        Some(1.0 - 2.0 * u_cdf(n, m)[k - 1])
    } else {
        Some(CONFIDENCE)
    }
}

/// P(U <= u) for u = 0..=n*m: the coefficients of the Gaussian binomial
/// [n+m choose n]_q count the orderings of n and m samples by U. Built as
/// the product over j of (1 - q^(m+j)) / (1 - q^j), which stays a
/// polynomial with integer coefficients after each step, so it is exact in
/// i128 up to `EXACT_UP_TO` samples.
fn u_cdf(n: usize, m: usize) -> Vec<f64> {
    let top = n * m;
    let mut c = vec![0i128; top + 1];
    c[0] = 1;
    for j in 1..=n {
        // Multiply by 1 - q^(m+j), highest powers first.
        for u in (m + j..=top).rev() {
            c[u] -= c[u - m - j];
        }
        // Divide by 1 - q^j: a running sum with stride j.
        for u in j..=top {
            c[u] += c[u - j];
        }
    }
    let total: i128 = c.iter().sum();
    let mut run = 0i128;
    c.iter()
        .map(|x| {
            run += x;
            run as f64 / total as f64
        })
        .collect()
}

pub fn median(v: &[f64]) -> f64 {
    let mut s: Vec<f64> = v.iter().copied().filter(|x| x.is_finite()).collect();
    if s.is_empty() {
        return f64::NAN;
    }
    s.sort_by(f64::total_cmp);
    let n = s.len();
    if n % 2 == 1 {
        s[n / 2]
    } else {
        (s[n / 2 - 1] + s[n / 2]) / 2.0
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_steady_twenty_percent_rise_is_significant() {
        let e = estimate(
            &[100.0, 101.0, 99.0, 100.5, 99.5],
            &[120.0, 121.0, 119.0, 120.6, 119.4],
            Scale::Ratio,
        )
        .expect("estimate");
        assert!((e.change - 0.2).abs() < 1e-9, "{e:?}");
        assert!(e.significant());
        assert!(e.low > 0.15 && e.high < 0.25, "{e:?}");
    }

    #[test]
    fn the_change_is_the_ratio_of_the_medians() {
        // Medians 100 and 130: +30 %, whatever the other runs do.
        let e = estimate(
            &[90.0, 100.0, 3.0, 104.0, 101.0],
            &[130.0, 131.0, 5000.0, 125.0, 128.0],
            Scale::Ratio,
        )
        .expect("estimate");
        assert_eq!(e.change, 130.0 / 100.0 - 1.0);
        let e =
            estimate(&[0.01, 0.02, 0.03], &[0.05, 0.0, 0.04], Scale::Difference).expect("estimate");
        assert!((e.change - 0.02).abs() < 1e-12, "{e:?}");
    }

    #[test]
    fn noise_is_not_significant() {
        let e = estimate(
            &[100.0, 130.0, 80.0, 95.0, 110.0],
            &[110.0, 90.0, 125.0, 85.0, 105.0],
            Scale::Ratio,
        )
        .expect("estimate");
        assert!(!e.significant(), "{e:?}");
    }

    #[test]
    fn too_few_samples_are_never_significant() {
        for (n, m) in [(1, 1), (1, 30), (2, 2), (3, 3), (3, 6), (4, 4)] {
            assert_eq!(interval_rank(n, m), None, "{n} vs {m}");
            let e = estimate(&vec![100.0; n], &vec![200.0; m], Scale::Ratio).expect("estimate");
            assert!((e.change - 1.0).abs() < 1e-9);
            assert!(!e.significant(), "{n} vs {m}: {e:?}");
        }
    }

    #[test]
    fn ranks_and_coverage_match_the_mann_whitney_tables() {
        // Critical values of U at 2 % two-sided (1 % one-sided), rank =
        // critical value + 1.
        assert_eq!(interval_rank(4, 5), Some(1));
        assert_eq!(interval_rank(3, 7), Some(1));
        assert_eq!(interval_rank(5, 5), Some(2));
        assert_eq!(interval_rank(6, 6), Some(4));
        assert_eq!(interval_rank(10, 10), Some(20));
        assert_eq!(interval_rank(20, 20), Some(115));
        // 5 vs 5: P(U <= 1) = 2/252 a tail.
        let c = coverage(5, 5).expect("coverage");
        assert!((c - (1.0 - 4.0 / 252.0)).abs() < 1e-12, "{c}");
        // The normal approximation takes over past 100 samples in all:
        // 60 vs 60 by it (1800 - 2.326 x 190.5 = 1356.8).
        let k = interval_rank(60, 60).expect("rank") as f64;
        assert_eq!(k, 1356.0);
    }

    #[test]
    fn identical_runs_give_an_exact_interval() {
        let e = estimate(&[100.0; 5], &[110.0; 5], Scale::Ratio).expect("estimate");
        assert!((e.low - 0.1).abs() < 1e-12 && (e.high - 0.1).abs() < 1e-12);
        assert!(e.significant());
    }

    #[test]
    fn zeros_have_a_ratio_unless_the_baseline_median_is_zero() {
        assert_eq!(estimate(&[0.0, 0.0], &[0.1, 0.1], Scale::Ratio), None);
        let e = estimate(&[0.0, 0.0], &[0.1, 0.1], Scale::Difference).expect("estimate");
        assert!((e.change - 0.1).abs() < 1e-12);
        // Throughput falling to zero in every run: -100 %, and sure of it.
        let e = estimate(&[100.0; 5], &[0.0; 5], Scale::Ratio).expect("estimate");
        assert_eq!((e.change, e.low, e.high), (-1.0, -1.0, -1.0));
        assert!(e.significant());
        assert_eq!(estimate(&[100.0], &[-1.0], Scale::Ratio), None);
        assert_eq!(estimate(&[100.0], &[f64::NAN], Scale::Ratio), None);
    }

    #[test]
    fn median_of_odd_and_even() {
        assert_eq!(median(&[3.0, 1.0, 2.0]), 2.0);
        assert_eq!(median(&[4.0, 1.0, 2.0, 3.0]), 2.5);
        assert!(median(&[]).is_nan());
    }
}
