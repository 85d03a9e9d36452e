//! How sure a change is: Welch's t-interval on repeated runs.
//!
//! Rates and latencies are compared as ratios (on logarithms, so a doubling
//! and a halving are the same size), error rates as differences. Small
//! samples get Student's t, so three runs a side need a large, steady change
//! before it counts.

use statrs::distribution::{ContinuousCDF, StudentsT};

/// Two-sided confidence level of the intervals.
pub const CONFIDENCE: f64 = 0.95;

/// A change from baseline to current with its confidence interval. For ratio
/// scales, `change` is relative (0.2 = +20 %); for difference scales it is
/// absolute.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Estimate {
    pub change: f64,
    pub low: f64,
    pub high: f64,
}

impl Estimate {
    /// The interval excludes "no change".
    pub fn significant(&self) -> bool {
        self.low > 0.0 || self.high < 0.0
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Scale {
    /// Compare current/baseline (throughput, latency, memory).
    Ratio,
    /// Compare current - baseline (error rate).
    Difference,
}

/// None when either side has no usable value (a ratio of a zero).
pub fn estimate(baseline: &[f64], current: &[f64], scale: Scale) -> Option<Estimate> {
    let transform = |v: &[f64]| -> Option<Vec<f64>> {
        match scale {
            Scale::Ratio => v
                .iter()
                .map(|x| (x.is_finite() && *x > 0.0).then(|| x.ln()))
                .collect(),
            Scale::Difference => v.iter().map(|x| x.is_finite().then_some(*x)).collect(),
        }
    };
    let (a, b) = (transform(baseline)?, transform(current)?);
    if a.is_empty() || b.is_empty() {
        return None;
    }
    let (ma, va) = mean_var(&a);
    let (mb, vb) = mean_var(&b);
    let (na, nb) = (a.len() as f64, b.len() as f64);
    let d = mb - ma;
    let se2 = va / na + vb / nb;
    let half = if se2 > 0.0 {
        // Welch-Satterthwaite degrees of freedom.
        let df = se2 * se2
            / ((va / na).powi(2) / (na - 1.0).max(1.0) + (vb / nb).powi(2) / (nb - 1.0).max(1.0));
        let t = StudentsT::new(0.0, 1.0, df.max(1.0))
            .map(|dist| dist.inverse_cdf(0.5 + CONFIDENCE / 2.0))
            .unwrap_or(f64::INFINITY);
        t * se2.sqrt()
    } else if na < 2.0 || nb < 2.0 {
        // One run a side and no spread to judge by: nothing is significant.
        f64::INFINITY
    } else {
        // Repeated runs that agree exactly: the difference is what it is.
        0.0
    };
    let back = |x: f64| match scale {
        Scale::Ratio => x.exp() - 1.0,
        Scale::Difference => x,
    };
    Some(Estimate {
        change: back(d),
        low: back(d - half),
        high: back(d + half),
    })
}

fn mean_var(v: &[f64]) -> (f64, f64) {
    let n = v.len() as f64;
    let mean = v.iter().sum::<f64>() / n;
    let var = if v.len() > 1 {
        v.iter().map(|x| (x - mean).powi(2)).sum::<f64>() / (n - 1.0)
    } else {
        0.0
    };
    (mean, var)
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
        let e = estimate(&[100.0, 101.0, 99.0], &[120.0, 121.0, 119.0], Scale::Ratio)
            .expect("estimate");
        assert!((e.change - 0.2).abs() < 0.001, "{e:?}");
        assert!(e.significant());
        assert!(e.low > 0.15 && e.high < 0.25, "{e:?}");
    }

    #[test]
    fn noise_is_not_significant() {
        let e =
            estimate(&[100.0, 130.0, 80.0], &[110.0, 90.0, 125.0], Scale::Ratio).expect("estimate");
        assert!(!e.significant(), "{e:?}");
    }

    #[test]
    fn single_runs_are_never_significant() {
        let e = estimate(&[100.0], &[200.0], Scale::Ratio).expect("estimate");
        assert!((e.change - 1.0).abs() < 1e-9);
        assert!(!e.significant());
    }

    #[test]
    fn zeros_have_no_ratio_but_have_a_difference() {
        assert_eq!(estimate(&[0.0, 0.0], &[0.1, 0.1], Scale::Ratio), None);
        let e = estimate(&[0.0, 0.0], &[0.1, 0.1], Scale::Difference).expect("estimate");
        assert!((e.change - 0.1).abs() < 1e-12);
        assert!(e.significant());
    }

    #[test]
    fn median_of_odd_and_even() {
        assert_eq!(median(&[3.0, 1.0, 2.0]), 2.0);
        assert_eq!(median(&[4.0, 1.0, 2.0, 3.0]), 2.5);
        assert!(median(&[]).is_nan());
    }
}
