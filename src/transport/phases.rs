//! How long opening connections and sessions took, phase by phase: the TCP
//! connect, the TLS handshake, and the MCP `initialize` (or
//! `server/discover`) exchange. Each is a histogram of its own, filled by the
//! transports as they open connections (HTTP opens them as requests need
//! them, so these count connections, not sessions), and written to the
//! result file as `connection_phases`.

use hdrhistogram::Histogram;
use serde::{Deserialize, Serialize};
use std::sync::{Mutex, PoisonError};
use std::time::Duration;

/// Longest time recorded, and the histograms' precision: the same as the
/// run's latency histograms (`metrics::MAX_LATENCY_US`, `metrics::SIGFIGS`;
/// a test there holds them equal), defined here because transports sit
/// below metrics.
pub const MAX_LATENCY_US: u64 = 3_600_000_000;
pub const SIGFIGS: u8 = 3;

/// The three histograms, shared by every session of a run.
#[derive(Debug)]
pub struct Phases {
    connect: Mutex<Option<Histogram<u64>>>,
    tls: Mutex<Option<Histogram<u64>>>,
    initialize: Mutex<Option<Histogram<u64>>>,
}

impl Default for Phases {
    fn default() -> Self {
        let new = || Mutex::new(Histogram::new_with_max(MAX_LATENCY_US, SIGFIGS).ok());
        Phases {
            connect: new(),
            tls: new(),
            initialize: new(),
        }
    }
}

fn record(h: &Mutex<Option<Histogram<u64>>>, took: Duration) {
    let us = (took.as_micros() as u64).clamp(1, MAX_LATENCY_US);
    if let Some(h) = h.lock().unwrap_or_else(PoisonError::into_inner).as_mut() {
        let _ = h.record(us);
    }
}

fn summary(h: &Mutex<Option<Histogram<u64>>>) -> Option<PhaseStats> {
    let guard = h.lock().unwrap_or_else(PoisonError::into_inner);
    let h = guard.as_ref().filter(|h| !h.is_empty())?;
    Some(PhaseStats {
        count: h.len(),
        p50_us: h.value_at_quantile(0.50),
        p90_us: h.value_at_quantile(0.90),
        p99_us: h.value_at_quantile(0.99),
        max_us: h.max(),
    })
}

impl Phases {
    pub fn connect(&self, took: Duration) {
        record(&self.connect, took);
    }

    pub fn tls(&self, took: Duration) {
        record(&self.tls, took);
    }

    pub fn initialize(&self, took: Duration) {
        record(&self.initialize, took);
    }

    /// What was recorded; `None` when nothing was (the builtin server).
    pub fn summary(&self) -> Option<ConnectionPhases> {
        let phases = ConnectionPhases {
            connect: summary(&self.connect),
            tls: summary(&self.tls),
            initialize: summary(&self.initialize),
        };
        (phases.connect.is_some() || phases.tls.is_some() || phases.initialize.is_some())
            .then_some(phases)
    }
}

/// One phase's distribution, in microseconds.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct PhaseStats {
    pub count: u64,
    pub p50_us: u64,
    pub p90_us: u64,
    pub p99_us: u64,
    pub max_us: u64,
}

/// The result file's `connection_phases`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, Default)]
pub struct ConnectionPhases {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub connect: Option<PhaseStats>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub tls: Option<PhaseStats>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub initialize: Option<PhaseStats>,
}

impl ConnectionPhases {
    /// One line for the text summary: `connect p50 0.1 ms p99 0.3 ms (8) | ...`.
    pub fn line(&self) -> String {
        let part = |name: &str, s: &Option<PhaseStats>| {
            s.as_ref().map(|s| {
                format!(
                    "{name} p50 {:.2} ms p99 {:.2} ms ({}x)",
                    s.p50_us as f64 / 1000.0,
                    s.p99_us as f64 / 1000.0,
                    s.count
                )
            })
        };
        [
            part("connect", &self.connect),
            part("TLS", &self.tls),
            part("initialize", &self.initialize),
        ]
        .into_iter()
        .flatten()
        .collect::<Vec<_>>()
        .join(" | ")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn phases_are_kept_apart_and_empty_ones_left_out() {
        let p = Phases::default();
        assert_eq!(p.summary(), None);
        p.connect(Duration::from_micros(100));
        p.connect(Duration::from_micros(300));
        p.initialize(Duration::from_millis(2));
        let s = p.summary().expect("recorded");
        let connect = s.connect.as_ref().expect("connect");
        assert_eq!((connect.count, connect.max_us), (2, 300));
        assert_eq!(s.tls, None);
        assert_eq!(s.initialize.as_ref().map(|i| i.count), Some(1));
        let line = s.line();
        assert!(line.starts_with("connect p50 0.10 ms"), "{line}");
        assert!(line.contains("| initialize p50 2.00 ms"), "{line}");
        assert!(!line.contains("TLS"), "{line}");
    }
}
