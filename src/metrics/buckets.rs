//! Fixed latency buckets, counted from the recorder's HDR histograms at each
//! tick, for exporters whose histograms have fixed bounds (Prometheus). The
//! counts are the histograms' own (3 significant digits: a value is in the
//! first bucket whose bound is at least the top of its HDR bin), so live
//! metrics and result files agree; nothing is recorded twice.

use hdrhistogram::Histogram;
use serde::{Deserialize, Serialize};

/// Upper bounds, µs: 10 µs to 10 s, 1-2.5-5 steps. A last, unbounded
/// bucket holds the rest.
pub const LATENCY_BOUNDS_US: [u64; 19] = [
    10, 25, 50, 100, 250, 500, 1_000, 2_500, 5_000, 10_000, 25_000, 50_000, 100_000, 250_000,
    500_000, 1_000_000, 2_500_000, 5_000_000, 10_000_000,
];

/// A histogram in the fixed buckets: `counts[i]` values in bucket `i` (not
/// cumulative; the last entry is above every bound).
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct FixedBuckets {
    pub counts: Vec<u64>,
    pub count: u64,
    /// Sum of the values, µs (the histogram's mean times its count).
    pub sum_us: f64,
}

impl FixedBuckets {
    pub fn of(h: &Histogram<u64>) -> FixedBuckets {
        let mut counts = vec![0u64; LATENCY_BOUNDS_US.len() + 1];
        for v in h.iter_recorded() {
            let top = v.value_iterated_to();
            let i = LATENCY_BOUNDS_US.partition_point(|bound| *bound < top);
            counts[i] += v.count_at_value();
        }
        FixedBuckets {
            counts,
            count: h.len(),
            sum_us: if h.is_empty() {
                0.0
            } else {
                h.mean() * h.len() as f64
            },
        }
    }
}

/// One operation's successes so far, corrected and service time.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct OpDistribution {
    pub label: String,
    pub corrected: FixedBuckets,
    pub service: FixedBuckets,
}

impl OpDistribution {
    pub fn of(label: &str, corrected: &Histogram<u64>, service: &Histogram<u64>) -> OpDistribution {
        OpDistribution {
            label: label.to_string(),
            corrected: FixedBuckets::of(corrected),
            service: FixedBuckets::of(service),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::metrics::new_histogram;

    #[test]
    fn values_land_in_the_first_bucket_that_holds_them() {
        let mut h = new_histogram();
        for v in [1, 10, 11, 100, 999, 1_000, 20_000_000] {
            h.record(v).expect("records");
        }
        let b = FixedBuckets::of(&h);
        assert_eq!(b.counts.len(), LATENCY_BOUNDS_US.len() + 1);
        assert_eq!(b.counts[0], 2, "1 and 10 are <= 10");
        assert_eq!(b.counts[1], 1, "11 is <= 25");
        assert_eq!(b.counts[3], 1, "100 is <= 100");
        assert_eq!(b.counts[6], 2, "999 and 1000 are <= 1000");
        assert_eq!(
            b.counts[LATENCY_BOUNDS_US.len()],
            1,
            "20 s is above every bound"
        );
        assert_eq!(b.counts.iter().sum::<u64>(), 7);
        assert_eq!(b.count, 7);
        assert!((b.sum_us - h.mean() * 7.0).abs() < 1e-6);
    }
}
