use super::*;
use crate::metrics::Percentiles;

/// One-second intervals: `(successes, errors, p99_us)` from t = 1 s on.
fn seconds(rows: &[(u64, u64, u64)]) -> Vec<IntervalStats> {
    rows.iter()
        .enumerate()
        .map(|(i, &(ok, errors, p99))| IntervalStats {
            t_s: (i + 1) as f64,
            length_s: 1.0,
            completed: ok + errors,
            errors,
            corrected: Percentiles {
                p99_us: p99,
                ..Percentiles::default()
            },
            ..IntervalStats::default()
        })
        .collect()
}

fn assert_close(actual: Option<f64>, expected: f64) {
    let a = actual.expect("a figure");
    assert!((a - expected).abs() < 1e-9, "{a} is not {expected}");
}

fn kill_at(at_s: f64) -> FaultTimeline {
    FaultTimeline {
        label: "kill@5s".into(),
        at_s,
        first_failure_s: Some(at_s + 0.25),
        lost: 3,
        in_flight_at_fault: 4,
        in_flight_at_death: 5,
        not_sent: 40,
        sessions_died: 2,
        sessions_back: 1,
    }
}

#[test]
fn recovery_starts_at_the_first_of_three_healthy_seconds() {
    let ok = (100, 0, 1_000);
    let rows = [
        ok,
        ok,
        ok,
        ok,
        ok,              // 0-5 s: baseline
        (0, 30, 0),      // 5-6: down
        (40, 10, 9_000), // 6-7: coming back
        (95, 0, 1_900),  // 7-8: healthy
        (90, 0, 2_000),  // 8-9: healthy (exactly at both limits)
        ok,              // 9-10
    ];
    let r = recovery(&seconds(&rows), &kill_at(5.0), 5.0);
    assert_eq!(r.baseline_throughput, 100.0);
    assert_eq!(r.baseline_p99_us, 1_000.0);
    assert_eq!(r.detection_s, Some(0.25));
    assert!(r.recovered);
    assert_eq!(r.recovery_s, Some(2.0));
    assert_eq!(r.requests_lost, 3);
    assert_eq!(r.sessions_reestablished_pct, Some(50.0));
    // Window 5-7 s: (0 + 40) / 2 = 20/s, so 80 % down; worst p99 9 ms.
    assert_close(r.throughput_degradation, 0.8);
    assert_eq!(r.p99_ratio, Some(9.0));
}

#[test]
fn a_healthy_stretch_shorter_than_the_hold_does_not_count() {
    let ok = (100, 0, 1_000);
    let rows = [
        ok,
        ok,
        ok,
        ok,
        ok,         // baseline
        (0, 10, 0), // down
        ok,
        ok,             // two good seconds
        (50, 0, 1_000), // a dip
        ok,
        ok,
        ok, // three good seconds: recovered at 9 s
    ];
    let r = recovery(&seconds(&rows), &kill_at(5.0), 5.0);
    assert_eq!(r.recovery_s, Some(4.0));
}

#[test]
fn throughput_back_with_p99_above_twice_the_baseline_is_not_recovered() {
    let ok = (100, 0, 1_000);
    let slow = (100, 0, 2_001);
    let rows = [ok, ok, ok, ok, ok, (0, 10, 0), slow, slow, slow, slow];
    let r = recovery(&seconds(&rows), &kill_at(5.0), 5.0);
    assert!(!r.recovered);
    assert_eq!(r.recovery_s, None);
    // Never recovered: the window runs to the end, 5 s at 80/s on average.
    assert_close(r.throughput_degradation, 0.2);
}

#[test]
fn a_run_that_ends_before_the_hold_is_not_recovered() {
    let ok = (100, 0, 1_000);
    let rows = [ok, ok, ok, ok, ok, (0, 10, 0), ok, ok];
    let r = recovery(&seconds(&rows), &kill_at(5.0), 5.0);
    assert!(!r.recovered);
}

#[test]
fn no_baseline_is_said_not_guessed() {
    let rows = [(0, 10, 0), (100, 0, 1_000)];
    let r = recovery(&seconds(&rows), &kill_at(0.0), 0.0);
    assert_eq!(r.recovery_s, None);
    assert!(r.note.is_some());
    assert_eq!(r.detection_s, Some(0.25));
}
