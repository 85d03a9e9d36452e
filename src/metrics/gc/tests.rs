use super::*;
use std::time::Duration;

fn source() -> GcSource {
    GcSource {
        runtime: Some(crate::runtime::Runtime::Node),
        method: Some("test"),
        why_not: "no GC report arrived on the target's stderr".into(),
    }
}

fn pause(session: u32, pid: u32, at: Instant, ms: u64) -> Arrived {
    Arrived {
        at,
        session,
        note: GcNote::Collection(GcEvent {
            pid,
            pause: Some(Duration::from_millis(ms)),
            kind: "minor".into(),
            heap_before_bytes: Some(10 << 20),
            heap_after_bytes: Some(4 << 20),
            started: None,
        }),
    }
}

fn interval(t: f64) -> IntervalStats {
    IntervalStats {
        t_s: t,
        length_s: 1.0,
        ..IntervalStats::default()
    }
}

#[test]
fn pauses_fall_in_the_interval_they_arrived_in_and_warm_up_is_left_out() {
    let start = Instant::now();
    let at = |s: f64| start + Duration::from_secs_f64(s);
    let mut rec = GcRecorder::new(source());
    // Warm-up: counts as a reporting process, not as a pause.
    rec.add(vec![pause(0, 7, start, 50)], 0);
    rec.measuring_started(at(0.5));
    rec.add(
        vec![
            pause(0, 7, at(0.9), 2),
            pause(1, 8, at(1.2), 4),
            pause(1, 8, at(2.4), 10),
            pause(0, 7, at(2.6), 20),
        ],
        0,
    );
    rec.close_interval(&interval(1.0));
    rec.close_interval(&interval(2.0));
    let gc = rec.finish(2.0, &[interval(1.0), interval(2.0)]);
    assert!(gc.reported);
    let gc = gc.figures.expect("figures");
    assert_eq!(gc.processes, 2);
    assert_eq!(gc.intervals.len(), 2);
    // 0.4 s and 0.7 s after the start of measuring.
    assert_eq!(gc.intervals[0].pauses, 2);
    assert_eq!(gc.intervals[0].pause_max_us, 4_000.0);
    assert_eq!(gc.intervals[0].pause_total_ms, 6.0);
    // 6 ms over 1 s in each of 2 processes.
    assert!((gc.intervals[0].pause_time_share - 0.003).abs() < 1e-12);
    assert_eq!(gc.intervals[1].pauses, 1);
    assert_eq!(gc.intervals[1].pause_p99_us, 10_000.0);
    // 2.1 s in: after the run's 2 s, not counted.
    assert_eq!(gc.pauses, 3);
    assert_eq!(gc.collections, 3);
    assert_eq!(gc.pause_total_ms, 16.0);
    assert!((gc.pause_time_share - 16e-3 / 2.0 / 2.0).abs() < 1e-12);
    assert!(gc.pause_max_us.is_some_and(|m| (m - 10_000.0).abs() < 10.0));
    assert!((gc.pauses_per_s - 1.5).abs() < 1e-12);
    assert_eq!(gc.heap_after_bytes, Some(4 << 20));
    assert_eq!(gc.by_kind.get("minor"), Some(&3));
}

#[test]
fn a_pause_read_late_or_out_of_order_falls_in_the_interval_it_happened_in() {
    let start = Instant::now();
    let at = |s: f64| start + Duration::from_secs_f64(s);
    let mut rec = GcRecorder::new(source());
    rec.measuring_started(start);
    // Read in this order; by the runtime's clock the second came first.
    rec.add(vec![pause(0, 7, at(1.5), 3), pause(1, 8, at(0.5), 5)], 0);
    rec.close_interval(&interval(1.0));
    rec.close_interval(&interval(2.0));
    let gc = rec.finish(2.0, &[interval(1.0), interval(2.0)]);
    let gc = gc.figures.expect("figures");
    assert_eq!(gc.intervals[0].pauses, 1);
    assert_eq!(gc.intervals[0].pause_max_us, 5_000.0);
    assert_eq!(gc.intervals[1].pauses, 1);
    assert_eq!(gc.intervals[1].pause_max_us, 3_000.0);
}

#[test]
fn nothing_reported_is_said_never_zeros() {
    let mut rec = GcRecorder::new(source());
    let gc = rec.finish(5.0, &[interval(1.0)]);
    assert!(!gc.reported);
    let note = gc.note.clone().expect("a note");
    assert!(
        note.starts_with("not reported: no GC report arrived"),
        "{note}"
    );
    assert_eq!(gc.figures, None);
    let json = serde_json::to_value(&gc).expect("json");
    assert!(
        json.get("pauses").is_none() && json.get("pause_p99_us").is_none(),
        "{json}"
    );
}

#[test]
fn a_process_that_reports_but_does_not_collect_measures_zero_pauses() {
    let start = Instant::now();
    let mut rec = GcRecorder::new(source());
    rec.measuring_started(start);
    rec.add(
        vec![Arrived {
            at: start,
            session: 0,
            note: GcNote::Reporting { pid: 3 },
        }],
        0,
    );
    let gc = rec.finish(1.0, &[interval(1.0)]);
    assert!(gc.reported);
    let gc = gc.figures.expect("figures");
    assert_eq!((gc.pauses, gc.pause_time_share), (0, 0.0));
    // No pause, no pause percentile.
    assert_eq!(gc.pause_p99_us, None);
    assert_eq!(gc.intervals.len(), 1);
}

#[test]
fn the_line_says_not_reported_or_the_figures() {
    let mut rec = GcRecorder::new(source());
    let line = rec.finish(5.0, &[]).line();
    assert_eq!(
        line,
        "target GC: not reported: no GC report arrived on the target's stderr"
    );
    let start = Instant::now();
    rec.measuring_started(start);
    rec.add(vec![pause(0, 7, start, 4)], 0);
    let line = rec.finish(2.0, &[]).line();
    assert_eq!(
        line,
        "target GC: 0.5 pauses/s, p99 4.00ms, 0.2 % of time (1 collections, heap after 4.0 MiB)"
    );
}

/// A day of one-second intervals keeps the newest hour, and the
/// collections of the dropped ones still count in the run's figures.
#[test]
fn a_day_of_intervals_keeps_the_newest_hour() {
    let start = Instant::now();
    let mut rec = GcRecorder::new(source());
    rec.measuring_started(start);
    let day = 86_400u64;
    for i in 0..day {
        if i % 3_600 == 0 {
            let at = start + Duration::from_secs(i) + Duration::from_millis(500);
            rec.add(vec![pause(0, 7, at, 2)], 0);
        }
        rec.close_interval(&interval((i + 1) as f64));
    }
    let gc = rec.finish(day as f64, &[]).figures.expect("figures");
    let hour = crate::metrics::recorder::HISTORY_LEN;
    assert_eq!(gc.intervals.len(), hour);
    assert_eq!(gc.intervals[0].t_s, (day as usize - hour + 1) as f64);
    assert_eq!(gc.intervals[hour - 1].t_s, day as f64);
    assert_eq!((gc.collections, gc.pauses), (24, 24));
}

#[test]
fn nearest_rank_percentiles() {
    let v: Vec<u64> = (1..=100).collect();
    assert_eq!(nearest_rank(&v, 0.5), 50);
    assert_eq!(nearest_rank(&v, 0.99), 99);
    assert_eq!(nearest_rank(&[7], 0.99), 7);
    assert_eq!(nearest_rank(&[], 0.5), 0);
}
