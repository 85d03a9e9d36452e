//! One operation's figures in the recorder: its histograms, errors by kind
//! and the first message of each kind.

use crate::client::wire_bytes::WireBytes;
use crate::metrics::{ErrorKind, Sample};
use crate::protocol::escape::escape_bounded;
use crate::protocol::jsonrpc::MAX_MESSAGE_CHARS;
use hdrhistogram::Histogram;
use std::collections::btree_map::Entry;
use std::collections::BTreeMap;

pub(super) struct OpState {
    pub(super) label: String,
    pub(super) corrected: Histogram<u64>,
    pub(super) service: Histogram<u64>,
    pub(super) errors: BTreeMap<ErrorKind, u64>,
    /// The first message of each kind, escaped and bounded.
    pub(super) messages: BTreeMap<ErrorKind, String>,
    /// A flow's iterations, not requests: kept out of the run's totals.
    pub(super) iteration: bool,
    /// The method sent instead of its own (a ping's fallback).
    pub(super) sent_as: Option<&'static str>,
    /// Bytes its measured requests and replies took on the wire.
    pub(super) bytes: WireBytes,
}

impl OpState {
    pub(super) fn error_count(&self) -> u64 {
        self.errors.values().sum()
    }

    /// Records `s` in this operation's figures only.
    pub(super) fn add(&mut self, s: &Sample) {
        self.bytes += s.bytes;
        match &s.outcome {
            Ok(()) => {
                self.corrected.saturating_record(s.corrected_us().max(1));
                self.service.saturating_record(s.service_us().max(1));
            }
            Err(e) => {
                let kind = ErrorKind::from(e);
                *self.errors.entry(kind).or_default() += 1;
                if let (Some(d), Entry::Vacant(slot)) = (e.detail(), self.messages.entry(kind)) {
                    slot.insert(escape_bounded(d, MAX_MESSAGE_CHARS));
                }
            }
        }
    }
}

/// Errors by kind over the ops a request is (a flow's iteration rows would
/// count its steps' errors twice).
pub(super) fn errors_by_kind(ops: &[OpState]) -> BTreeMap<ErrorKind, u64> {
    let mut all = BTreeMap::new();
    for op in ops.iter().filter(|o| !o.iteration) {
        for (k, n) in &op.errors {
            *all.entry(*k).or_default() += n;
        }
    }
    all
}
