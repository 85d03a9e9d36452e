//! Recovery figures of one fault, from the run's per-second intervals and
//! what the engine saw around the fault: detection time (fault to the first
//! failed or timed-out request), time to recover (fault to the start of the
//! first stretch of `HOLD` in which windowed throughput of successes is at
//! least `THROUGHPUT_SHARE` of the pre-fault average and p99 at most
//! `P99_FACTOR` times the pre-fault p99), requests lost, sessions
//! re-established, and how much throughput and p99 suffered in between.
//! Pure arithmetic on measured figures: no clock, no I/O.

use super::snapshot::IntervalStats;
use serde::{Deserialize, Serialize};

/// Share of the pre-fault throughput that counts as recovered.
pub const THROUGHPUT_SHARE: f64 = 0.9;
/// How much above the pre-fault p99 still counts as recovered.
pub const P99_FACTOR: f64 = 2.0;
/// How long both must hold, in seconds.
pub const HOLD_S: f64 = 3.0;
/// Interval ends are floats: this much slack on comparisons.
const EPS: f64 = 1e-6;

/// What the engine saw of one fault (times in seconds on the measured clock).
#[derive(Debug, Clone, Default, PartialEq)]
pub struct FaultTimeline {
    pub label: String,
    pub at_s: f64,
    /// The first failed or timed-out request after the fault, when it was seen.
    pub first_failure_s: Option<f64>,
    /// Requests sent before, and whose connection died after, the fault.
    pub lost: u64,
    /// Requests on the wire of the sessions it hit when it happened.
    pub in_flight_at_fault: u64,
    /// Requests on the wire of the sessions that died, when each death was
    /// seen: every lost request is one of them.
    pub in_flight_at_death: u64,
    pub not_sent: u64,
    /// Sessions whose transport died after this fault (before the next).
    pub sessions_died: u32,
    /// Of those, the ones that came back.
    pub sessions_back: u32,
}

/// The recovery figures of one fault (result file `faults`).
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct Recovery {
    pub fault: String,
    pub at_s: f64,
    /// Fault to the first failed or timed-out request; `None`: none seen.
    pub detection_s: Option<f64>,
    /// Fault to the start of the recovered stretch; `None`: not recovered.
    pub recovery_s: Option<f64>,
    pub recovered: bool,
    pub requests_lost: u64,
    /// Requests on the wire of the sessions hit at the fault. Requests sent
    /// between the fault and its detection can be lost too, so
    /// `requests_lost` may exceed it; it never exceeds `in_flight_at_death`.
    pub in_flight_at_fault: u64,
    /// Requests on the wire when the sessions were seen dead.
    pub in_flight_at_death: u64,
    pub requests_not_sent: u64,
    pub sessions_died: u32,
    /// Share (%) of the sessions that died and came back; `None`: none died.
    pub sessions_reestablished_pct: Option<f64>,
    /// Successes per second before the fault (its average per interval).
    pub baseline_throughput: f64,
    pub baseline_p99_us: f64,
    /// 1 − (throughput during the fault window ÷ before); `None`: no baseline.
    pub throughput_degradation: Option<f64>,
    /// Highest p99 in the fault window ÷ the pre-fault p99.
    pub p99_ratio: Option<f64>,
    /// Why a figure could not be computed.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub note: Option<String>,
}

fn ok_rate(i: &IntervalStats) -> f64 {
    if i.length_s > 0.0 {
        i.completed.saturating_sub(i.errors) as f64 / i.length_s
    } else {
        0.0
    }
}

fn start_s(i: &IntervalStats) -> f64 {
    i.t_s - i.length_s
}

/// The pre-fault average: successes per second and p99 over the
/// intervals that ended by `until_s` (p99 over those with successes).
pub fn baseline(intervals: &[IntervalStats], until_s: f64) -> Option<(f64, f64)> {
    let before: Vec<&IntervalStats> = intervals
        .iter()
        .filter(|i| i.t_s <= until_s + EPS && i.length_s > 0.0)
        .collect();
    let with_ok: Vec<f64> = before
        .iter()
        .filter(|i| i.completed > i.errors)
        .map(|i| i.corrected.p99_us as f64)
        .collect();
    if before.is_empty() || with_ok.is_empty() {
        return None;
    }
    let throughput = before.iter().map(|i| ok_rate(i)).sum::<f64>() / before.len() as f64;
    let p99 = with_ok.iter().sum::<f64>() / with_ok.len() as f64;
    Some((throughput, p99))
}

/// The figures of a fault. `baseline_until_s` ends the pre-fault stretch
/// (the first fault's time, so a later fault is not judged against a
/// degraded stretch).
pub fn recovery(
    intervals: &[IntervalStats],
    timeline: &FaultTimeline,
    baseline_until_s: f64,
) -> Recovery {
    let mut r = Recovery {
        fault: timeline.label.clone(),
        at_s: timeline.at_s,
        detection_s: timeline
            .first_failure_s
            .map(|t| (t - timeline.at_s).max(0.0)),
        requests_lost: timeline.lost,
        in_flight_at_fault: timeline.in_flight_at_fault,
        in_flight_at_death: timeline.in_flight_at_death,
        requests_not_sent: timeline.not_sent,
        sessions_died: timeline.sessions_died,
        sessions_reestablished_pct: (timeline.sessions_died > 0)
            .then(|| 100.0 * f64::from(timeline.sessions_back) / f64::from(timeline.sessions_died)),
        ..Recovery::default()
    };
    let Some((base_tput, base_p99)) = baseline(intervals, baseline_until_s) else {
        r.note = Some("no measured interval with successes before the fault".into());
        return r;
    };
    r.baseline_throughput = base_tput;
    r.baseline_p99_us = base_p99;
    let after: Vec<&IntervalStats> = intervals
        .iter()
        .filter(|i| i.t_s > timeline.at_s + EPS && i.length_s > 0.0)
        .collect();
    let healthy = |i: &IntervalStats| {
        i.completed > i.errors
            && ok_rate(i) >= THROUGHPUT_SHARE * base_tput - EPS
            && (i.corrected.p99_us as f64) <= P99_FACTOR * base_p99 + EPS
    };
    let recovered_from = (0..after.len()).find(|&k| {
        let mut held = 0.0;
        for i in &after[k..] {
            if !healthy(i) {
                return false;
            }
            held += i.length_s;
            if held >= HOLD_S - EPS {
                return true;
            }
        }
        false
    });
    if let Some(k) = recovered_from {
        r.recovered = true;
        r.recovery_s = Some((start_s(after[k]) - timeline.at_s).max(0.0));
    }
    // The fault window: from the fault to the recovered stretch (at least
    // the interval the fault fell in), or to the end when it never came.
    let window = &after[..recovered_from
        .unwrap_or(after.len())
        .max(1)
        .min(after.len())];
    if !window.is_empty() {
        let tput = window.iter().map(|i| ok_rate(i)).sum::<f64>() / window.len() as f64;
        r.throughput_degradation = Some(1.0 - tput / base_tput);
        let worst = window.iter().map(|i| i.corrected.p99_us).max().unwrap_or(0);
        r.p99_ratio = (base_p99 > 0.0).then(|| worst as f64 / base_p99);
    }
    r
}

#[cfg(test)]
mod tests;
