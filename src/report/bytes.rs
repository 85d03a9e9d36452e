//! The summary's lines on bytes on the wire: what the run (and each
//! operation, when there are several) sent and received per second, in
//! binary units, with the received rate also in decimal MB/s when it is
//! large, as streaming targets are stated. Formatting only.

use crate::metrics::recorder::OpMetrics;
use crate::metrics::units::fmt_mib;
use crate::metrics::wire_rates::{fmt_bytes_per_s, fmt_mb_per_s, ByteRates};
use crate::metrics::RunMetrics;
use crate::protocol::escape::escape_line;
use std::fmt::Write;

/// Received rates from here on also read in MB/s.
const HEADLINE_MB_PER_S: f64 = 1e6;

/// `received 95.37 MiB/s (100.0 MB/s), sent 8.1 KiB/s`.
pub fn rates(b: &ByteRates) -> String {
    let mut text = format!("received {}", fmt_bytes_per_s(b.bytes_received_per_s));
    if b.bytes_received_per_s >= HEADLINE_MB_PER_S {
        let _ = write!(text, " ({})", fmt_mb_per_s(b.bytes_received_per_s));
    }
    let _ = write!(text, ", sent {}", fmt_bytes_per_s(b.bytes_sent_per_s));
    text
}

/// The bytes lines of the summary; nothing when no bytes were counted (a
/// result file from before they were).
pub fn write(out: &mut String, m: &RunMetrics) {
    let all = &m.overall.bytes;
    if all.is_empty() {
        return;
    }
    let _ = writeln!(
        out,
        "bytes on the wire: {} ({} received, {} sent)",
        rates(all),
        fmt_mib(all.bytes_received as f64),
        fmt_mib(all.bytes_sent as f64)
    );
    if m.ops.len() > 1 {
        for op in &m.ops {
            op_line(out, op);
        }
    }
}

fn op_line(out: &mut String, op: &OpMetrics) {
    let _ = writeln!(out, "  {}: {}", escape_line(&op.label), rates(&op.bytes));
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_large_read_reads_in_mib_and_mb_per_second() {
        let b = ByteRates {
            bytes_sent: 81_000,
            bytes_received: 1_000_000_000,
            bytes_sent_per_s: 8_100.0,
            bytes_received_per_s: 100_000_000.0,
        };
        assert_eq!(
            rates(&b),
            "received 95.37 MiB/s (100.0 MB/s), sent 7.9 KiB/s"
        );
        let small = ByteRates {
            bytes_received_per_s: 2048.0,
            ..b
        };
        assert_eq!(rates(&small), "received 2.0 KiB/s, sent 7.9 KiB/s");
    }
}
