//! The percentile spectrum of a histogram (HdrHistogram's "percentile
//! distribution"): the latency at each percentile from 0 to 99.999 %, at
//! the points HdrHistogram's own plots use (five ticks per halving of the
//! distance to 100 %).

use hdrhistogram::Histogram;

/// The highest percentile a spectrum goes to: 99.999 %.
pub const TOP_QUANTILE: f64 = 0.99999;

/// (quantile, value µs) pairs, from 0 up to `TOP_QUANTILE` and then the
/// maximum at its own quantile; empty for an empty histogram.
pub fn spectrum(h: &Histogram<u64>) -> Vec<(f64, u64)> {
    if h.is_empty() {
        return Vec::new();
    }
    let mut points: Vec<(f64, u64)> = Vec::new();
    for v in h.iter_quantiles(5) {
        let q = v.quantile_iterated_to();
        if q > TOP_QUANTILE {
            break;
        }
        points.push((q, v.value_iterated_to()));
    }
    let top = h.value_at_quantile(TOP_QUANTILE);
    if points.last().is_none_or(|(q, _)| *q < TOP_QUANTILE) {
        points.push((TOP_QUANTILE, top));
    }
    points
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::metrics::new_histogram;

    #[test]
    fn the_spectrum_rises_from_the_fastest_to_the_tail() {
        let mut h = new_histogram();
        for v in 1..=10_000u64 {
            h.record(v).expect("records");
        }
        let s = spectrum(&h);
        assert_eq!(s.first().map(|p| p.0), Some(0.0));
        assert_eq!(s.last().map(|p| p.0), Some(TOP_QUANTILE));
        assert!(s.windows(2).all(|w| w[0].0 <= w[1].0 && w[0].1 <= w[1].1));
        // Each point is the histogram's own value at its percentile.
        for (q, v) in &s {
            assert_eq!(*v, h.highest_equivalent(h.value_at_quantile(*q)), "q{q}");
        }
        assert!(spectrum(&new_histogram()).is_empty());
    }
}
