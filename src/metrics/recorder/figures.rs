//! An operation's figures as the result file keeps them, made from its
//! histograms and error counts.

use super::OpMetrics;
use crate::metrics::snapshot::{IntervalStats, Percentiles};
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
        sent_as: None,
        histogram_corrected: encode_histogram(c),
        histogram_service: encode_histogram(s),
        // The caller knows the bytes; the histograms do not.
        bytes: Default::default(),
        allocs_per_request: None,
        bytes_per_request: None,
    }
}

/// One interval's figures: `done` is (replies, failures); `planned` the
/// sends asked for (open loop), `sent` those made.
pub(super) fn interval_stats(
    t_s: f64,
    length: f64,
    (completed, errors): (u64, u64),
    planned: Option<u64>,
    sent: u64,
    (corrected, service): (&Histogram<u64>, &Histogram<u64>),
) -> IntervalStats {
    IntervalStats {
        t_s,
        length_s: length,
        completed,
        errors,
        throughput: (completed - errors) as f64 / length,
        asked_rate: planned.map(|n| n as f64 / length),
        sent_rate: sent as f64 / length,
        corrected: percentiles(corrected),
        service: percentiles(service),
        bytes: Default::default(),
    }
}

/// Below this share of the asked sends, an interval warns.
const KEEP_UP_RATIO: f64 = 0.95;

/// The warning of an open-loop interval that sent under `KEEP_UP_RATIO` of
/// its `planned` sends, keyed by its kind; `scope` starts its text.
pub(super) fn keep_up_warning(
    stats: &IntervalStats,
    (planned, sent): (u64, u64),
    waits: u64,
    scope: &str,
) -> Option<(&'static str, String)> {
    let asked = stats.asked_rate?;
    // An interval that is mostly the tail of the run says little about keeping up.
    if stats.length_s < 0.5 || planned == 0 {
        return None;
    }
    if sent as f64 / planned as f64 >= KEEP_UP_RATIO {
        return None;
    }
    let (at, sent) = (stats.t_s, stats.sent_rate);
    Some(if waits > 0 {
        (
            "inflight",
            format!(
                "{scope}in-flight limit reached at {at:.0}s: sent {sent:.0}/s of {asked:.0}/s asked; \
                 the target is slower than the asked rate (latency counts the wait)"
            ),
        )
    } else {
        (
            "generator",
            format!(
                "{scope}mcptop cannot keep up at {at:.0}s: sent {sent:.0}/s of {asked:.0}/s asked; \
                 the load generator is the bottleneck"
            ),
        )
    })
}
