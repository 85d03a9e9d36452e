//! Bytes on the wire as result figures: the totals a request, an operation,
//! a scenario, an interval or the run moved, and those per second of its
//! measured time; and how they are written for people (`KiB/s`, `MiB/s`,
//! and decimal `MB/s` for the headline figure of a large read). The counts
//! come from the transports (`client::wire_bytes`).

use crate::client::wire_bytes::WireBytes;
use serde::{Deserialize, Serialize};

/// Bytes moved and their rates, written flat in the result file as
/// `bytes_sent`, `bytes_received`, `bytes_sent_per_s`, `bytes_received_per_s`.
#[derive(Debug, Clone, Copy, Default, PartialEq, Serialize, Deserialize)]
#[serde(default)]
pub struct ByteRates {
    /// Bytes mcptop wrote for the requests.
    pub bytes_sent: u64,
    /// Bytes mcptop read for their replies.
    pub bytes_received: u64,
    pub bytes_sent_per_s: f64,
    pub bytes_received_per_s: f64,
}

impl ByteRates {
    /// `bytes` moved over `secs` measured seconds.
    pub fn over(bytes: WireBytes, secs: f64) -> ByteRates {
        let per_s = |n: u64| if secs > 0.0 { n as f64 / secs } else { 0.0 };
        ByteRates {
            bytes_sent: bytes.sent,
            bytes_received: bytes.received,
            bytes_sent_per_s: per_s(bytes.sent),
            bytes_received_per_s: per_s(bytes.received),
        }
    }

    /// This and a `later` interval's, as one `secs` long (their sum).
    pub fn joined(self, later: ByteRates, secs: f64) -> ByteRates {
        let mut bytes = self.totals();
        bytes += later.totals();
        ByteRates::over(bytes, secs)
    }

    /// Adds the figures of something that ran alongside (another shard of
    /// a merged run): totals and rates both add up.
    pub fn add_alongside(&mut self, other: &ByteRates) {
        self.bytes_sent = self.bytes_sent.saturating_add(other.bytes_sent);
        self.bytes_received = self.bytes_received.saturating_add(other.bytes_received);
        self.bytes_sent_per_s += other.bytes_sent_per_s;
        self.bytes_received_per_s += other.bytes_received_per_s;
    }

    /// The totals, without the rates.
    pub fn totals(&self) -> WireBytes {
        WireBytes {
            sent: self.bytes_sent,
            received: self.bytes_received,
        }
    }

    /// True when nothing was counted (a target whose bytes are not counted,
    /// or a result file written before bytes were).
    pub fn is_empty(&self) -> bool {
        self.bytes_sent == 0 && self.bytes_received == 0
    }
}

/// Bytes per second in binary units: `512 B/s`, `12.3 KiB/s`, `4.56 MiB/s`,
/// `1.20 GiB/s`.
pub fn fmt_bytes_per_s(per_s: f64) -> String {
    const K: f64 = 1024.0;
    if per_s < K {
        format!("{per_s:.0} B/s")
    } else if per_s < K * K {
        format!("{:.1} KiB/s", per_s / K)
    } else if per_s < K * K * K {
        format!("{:.2} MiB/s", per_s / (K * K))
    } else {
        format!("{:.2} GiB/s", per_s / (K * K * K))
    }
}

/// Bytes per second in decimal megabytes, as streaming targets are stated
/// (`100 MB/s`): `104.9 MB/s`.
pub fn fmt_mb_per_s(per_s: f64) -> String {
    format!("{:.1} MB/s", per_s / 1e6)
}

/// Short for a narrow column: `512B`, `12K`, `4.6M`, `1.2G` (binary).
pub fn fmt_bytes_short(per_s: f64) -> String {
    const K: f64 = 1024.0;
    if per_s < K {
        format!("{per_s:.0}B")
    } else if per_s < K * K {
        format!("{:.0}K", per_s / K)
    } else if per_s < 100.0 * K * K {
        format!("{:.1}M", per_s / (K * K))
    } else if per_s < K * K * K {
        format!("{:.0}M", per_s / (K * K))
    } else {
        format!("{:.1}G", per_s / (K * K * K))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rates_are_totals_over_the_measured_seconds() {
        let bytes = WireBytes {
            sent: 1000,
            received: 10_485_760,
        };
        let r = ByteRates::over(bytes, 2.0);
        assert_eq!(r.bytes_sent_per_s, 500.0);
        assert_eq!(r.bytes_received_per_s, 5_242_880.0);
        assert_eq!(r.totals(), bytes);
        assert_eq!(ByteRates::over(bytes, 0.0).bytes_sent_per_s, 0.0);
    }

    #[test]
    fn rates_read_in_human_units() {
        assert_eq!(fmt_bytes_per_s(512.0), "512 B/s");
        assert_eq!(fmt_bytes_per_s(12.3 * 1024.0), "12.3 KiB/s");
        assert_eq!(fmt_bytes_per_s(4.56 * 1024.0 * 1024.0), "4.56 MiB/s");
        assert_eq!(fmt_mb_per_s(104_857_600.0), "104.9 MB/s");
        assert_eq!(fmt_bytes_short(900.0), "900B");
        assert_eq!(fmt_bytes_short(12.0 * 1024.0), "12K");
        assert_eq!(fmt_bytes_short(4.6 * 1024.0 * 1024.0), "4.6M");
        assert_eq!(fmt_bytes_short(300.0 * 1024.0 * 1024.0), "300M");
    }
}
