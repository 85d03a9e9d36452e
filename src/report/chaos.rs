//! The summary's lines for a run with faults or `reconnect`: where every
//! planned request ended (the buckets and their sum), and each fault's
//! detection and recovery figures, read from the result file's
//! `accounting` and `faults`, and with failover the sessions' moves
//! (`failover`).

use crate::metrics::RunMetrics;
use std::fmt::Write;

/// Appends the accounting and fault lines (nothing for a run without).
pub fn write(out: &mut String, m: &RunMetrics) {
    if let Some(a) = &m.accounting {
        let _ = writeln!(out, "requests: {}", a.describe());
    }
    for f in &m.faults {
        let _ = writeln!(out, "fault {} (at {:.3}s):", f.fault, f.at_s);
        let detection = f
            .detection_s
            .map_or("no failure seen".into(), |d| format!("{:.3}s", d));
        let recovery = f
            .recovery_s
            .map_or("not recovered".into(), |r| format!("{:.3}s", r));
        let _ = writeln!(
            out,
            "  detection {detection}, recovery {recovery}, lost {} ({} in flight at the fault, \
             {} when the connection was seen dead), not sent {}",
            f.requests_lost, f.in_flight_at_fault, f.in_flight_at_death, f.requests_not_sent
        );
        let sessions = match f.sessions_reestablished_pct {
            Some(p) => format!("{} died, {p:.0}% re-established", f.sessions_died),
            None => "none died".into(),
        };
        let during = match (f.throughput_degradation, f.p99_ratio) {
            (Some(d), Some(r)) => format!(
                "throughput {:+.0}% of the {:.1}/s before, p99 x{r:.2} of {:.1}ms",
                -d * 100.0,
                f.baseline_throughput,
                f.baseline_p99_us / 1000.0
            ),
            _ => f.note.clone().unwrap_or_else(|| "no figures".into()),
        };
        let _ = writeln!(out, "  sessions: {sessions}; during the fault: {during}");
    }
    for line in m.failover.iter().flat_map(|f| f.describe()) {
        let _ = writeln!(out, "{line}");
    }
}
