//! An operation's figures as the result file keeps them, made from its
//! histograms and error counts.

use super::OpMetrics;
use crate::metrics::snapshot::Percentiles;
use crate::metrics::{encode_histogram, percentiles, ErrorKind};
use hdrhistogram::Histogram;
use std::collections::BTreeMap;

pub(super) fn labelled(messages: &BTreeMap<ErrorKind, String>) -> BTreeMap<String, String> {
    messages
        .iter()
        .map(|(k, m)| (k.label(), m.clone()))
        .collect()
}

pub(crate) fn op_metrics(
    label: &str,
    c: &Histogram<u64>,
    s: &Histogram<u64>,
    errors: &BTreeMap<ErrorKind, u64>,
    secs: f64,
) -> OpMetrics {
    let error_count: u64 = errors.values().sum();
    let operations = c.len() + error_count;
    OpMetrics {
        workload_id: String::new(),
        label: label.to_string(),
        operations,
        ok: c.len(),
        errors: error_count,
        error_rate: if operations > 0 {
            error_count as f64 / operations as f64
        } else {
            0.0
        },
        duration_s: secs,
        throughput_msg_per_s: if secs > 0.0 {
            c.len() as f64 / secs
        } else {
            0.0
        },
        // The result file has never kept an operation's minimum; leaving it
        // out here keeps what is written equal to what is read back.
        corrected: Percentiles {
            min_us: 0,
            ..percentiles(c)
        },
        service: Percentiles {
            min_us: 0,
            ..percentiles(s)
        },
        errors_by_kind: errors.iter().map(|(k, n)| (k.label(), *n)).collect(),
        first_error_messages: BTreeMap::new(),
        histogram_corrected: encode_histogram(c),
        histogram_service: encode_histogram(s),
        allocs_per_request: None,
        bytes_per_request: None,
    }
}
