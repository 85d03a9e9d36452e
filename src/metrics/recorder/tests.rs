//! The recorder on hand-made samples and statuses with explicit instants.

use super::*;
use crate::client::CallError;
use crate::metrics::snapshot::LoadNow;

fn ms(n: u64) -> Duration {
    Duration::from_millis(n)
}

fn sample(op: usize, planned: Instant, lag_ms: u64, took_ms: u64) -> Sample {
    let sent = planned + ms(lag_ms);
    Sample {
        op,
        planned,
        sent,
        done: sent + ms(took_ms),
        outcome: Ok(()),
        bytes: Default::default(),
    }
}

fn open_status(rate: f64, planned_total: u64, sent_total: u64, waits: u64) -> EngineStatus {
    EngineStatus {
        phase: Phase::Measuring,
        load: LoadNow {
            rate: Some(rate),
            ..LoadNow::default()
        },
        planned_total,
        sent_total,
        backpressure_total: waits,
        ..EngineStatus::default()
    }
}

fn labels() -> Vec<String> {
    vec!["echo".into(), "fail".into()]
}

#[tokio::test(start_paused = true)]
async fn warmup_samples_are_counted_apart() {
    let t0 = Instant::now();
    let mut r = Recorder::new(&labels(), t0 + ms(500), None);
    r.record(&sample(0, t0, 0, 1));
    r.record(&sample(0, t0 + ms(600), 0, 1));
    let m = r.finish(t0 + ms(1500), open_status(10.0, 0, 0, 0));
    assert_eq!(m.warmup_samples, 1);
    assert_eq!(m.overall.operations, 1);
    assert_eq!(m.duration_s, 1.0);
}

#[tokio::test(start_paused = true)]
async fn late_sends_are_counted_beyond_the_timer_resolution() {
    let t0 = Instant::now();
    let mut r = Recorder::new(&labels(), t0, None);
    r.record(&sample(0, t0, 0, 1)); // on time
    r.record(&sample(0, t0, 1, 1)); // exactly the limit (LATE_SEND_US): not late
    r.record(&sample(0, t0, 3, 1)); // late
    r.record(&sample(0, t0, 40, 1)); // late
    let m = r.finish(t0 + ms(1000), open_status(4.0, 4, 4, 0));
    assert_eq!(m.late_sends, 2);
    assert_eq!(m.max_send_lag_us, 40_000);
    // Corrected latency includes the lag, service time does not.
    assert_eq!(m.overall.corrected.max_us, 41_000 - 41_000 % 32 + 31);
    assert!(m.overall.service.max_us < 1_100);
}

#[tokio::test(start_paused = true)]
async fn a_generator_that_falls_behind_warns_that_it_is_the_bottleneck() {
    let t0 = Instant::now();
    let mut r = Recorder::new(&labels(), t0, None);
    // Asked 1000 in the first second, sent 900, never waiting for a slot.
    r.tick(t0 + ms(1000), open_status(1000.0, 1000, 900, 0));
    let w = r.warnings();
    assert_eq!(w.len(), 1, "{w:?}");
    assert!(w[0].contains("mcptop cannot keep up"), "{w:?}");
    assert!(w[0].contains("900/s of 1000/s"), "{w:?}");
}

#[tokio::test(start_paused = true)]
async fn a_slow_target_behind_the_inflight_limit_is_not_blamed_on_mcptop() {
    let t0 = Instant::now();
    let mut r = Recorder::new(&labels(), t0, None);
    r.tick(t0 + ms(1000), open_status(1000.0, 1000, 500, 37));
    let w = r.warnings();
    assert_eq!(w.len(), 1, "{w:?}");
    assert!(w[0].contains("in-flight limit"), "{w:?}");
    assert!(!w[0].contains("mcptop cannot keep up"), "{w:?}");
}

#[tokio::test(start_paused = true)]
async fn keeping_up_within_five_percent_raises_nothing() {
    let t0 = Instant::now();
    let mut r = Recorder::new(&labels(), t0, None);
    r.tick(t0 + ms(1000), open_status(1000.0, 1000, 960, 0));
    r.tick(t0 + ms(2000), open_status(1000.0, 2000, 1955, 0));
    assert!(r.warnings().is_empty(), "{:?}", r.warnings());
}

#[tokio::test(start_paused = true)]
async fn intervals_have_their_own_percentiles_and_rates() {
    let t0 = Instant::now();
    let mut r = Recorder::new(&labels(), t0, None);
    for i in 0..10 {
        r.record(&sample(0, t0 + ms(i * 10), 0, 2));
    }
    let s1 = r.tick(t0 + ms(1000), open_status(10.0, 10, 10, 0));
    for i in 0..5 {
        r.record(&sample(0, t0 + ms(1000 + i * 10), 0, 20));
    }
    r.record(&Sample {
        outcome: Err(CallError::ToolError("no such row".into())),
        ..sample(1, t0 + ms(1500), 0, 1)
    });
    let s2 = r.tick(t0 + ms(2000), open_status(10.0, 20, 16, 0));
    let i1 = s1.last.expect("first interval");
    assert_eq!((i1.completed, i1.errors), (10, 0));
    assert_eq!(i1.throughput, 10.0);
    assert_eq!(i1.corrected.p50_us, 2_000);
    let i2 = s2.last.expect("second interval");
    assert_eq!((i2.completed, i2.errors), (6, 1));
    assert_eq!(i2.throughput, 5.0);
    assert_eq!(i2.sent_rate, 6.0);
    assert_eq!(i2.asked_rate, Some(10.0));
    assert!(i2.corrected.p50_us >= 20_000 && i2.corrected.p50_us < 20_100);
    assert_eq!(s2.history.len(), 2);
    // Cumulative: the first interval's fast replies still count.
    assert_eq!(s2.total.ok, 15);
    assert_eq!(s2.errors, vec![("tool_error".to_string(), 1)]);
}

#[tokio::test(start_paused = true)]
async fn a_sliver_of_an_interval_is_carried_into_the_next() {
    let t0 = Instant::now();
    let mut r = Recorder::new(&labels(), t0, None);
    r.record(&sample(0, t0, 0, 1));
    let s = r.tick(t0 + ms(50), open_status(10.0, 1, 1, 0));
    assert!(s.last.is_none());
    let s = r.tick(t0 + ms(1000), open_status(10.0, 10, 10, 0));
    let last = s.last.expect("interval");
    assert_eq!(last.length_s, 1.0);
    assert_eq!(last.completed, 1);
}

/// Past an hour, the oldest one-second intervals are merged into 10 s ones
/// rather than dropped: nothing measured is lost from the intervals.
#[tokio::test(start_paused = true)]
async fn history_past_an_hour_is_merged_not_dropped() {
    let t0 = Instant::now();
    let mut r = Recorder::new(&labels(), t0, None);
    let n = HISTORY_LEN as u64 + 25;
    for i in 1..=n {
        r.record(&sample(0, t0 + ms(i * 1000 - 500), 0, 1));
        r.tick(t0 + ms(i * 1000), open_status(1.0, i, i, 0));
    }
    let m = r.finish(t0 + ms(n * 1000), open_status(1.0, n, n, 0));
    // 25 s past the hour: [0, 10) and [10, 20) merged, [20, 25) merging.
    assert_eq!(m.intervals.len(), HISTORY_LEN + 3);
    assert_eq!(m.intervals[0].t_s, 10.0);
    assert_eq!(m.intervals[0].length_s, 10.0);
    assert_eq!(m.intervals[0].completed, 10);
    assert_eq!(m.intervals[2].length_s, 5.0);
    assert_eq!(m.intervals[3].length_s, 1.0);
    let summed: u64 = m.intervals.iter().map(|i| i.completed).sum();
    assert_eq!(summed, n);
    assert_eq!(m.overall.operations, n);
}

#[tokio::test(start_paused = true)]
async fn paused_time_is_not_measured_time() {
    let t0 = Instant::now();
    let mut r = Recorder::new(&labels(), t0, None);
    for i in 0..20 {
        r.record(&sample(0, t0 + ms(i * 100), 0, 1));
    }
    let status = EngineStatus {
        paused: ms(3000),
        ..open_status(10.0, 20, 20, 0)
    };
    let m = r.finish(t0 + ms(5000), status);
    assert_eq!(m.duration_s, 2.0);
    assert_eq!(m.overall.throughput_msg_per_s, 10.0);
}

#[tokio::test(start_paused = true)]
async fn a_queueing_gap_between_corrected_and_service_warns() {
    let t0 = Instant::now();
    let mut r = Recorder::new(&labels(), t0, None);
    // 100 replies that each took 1 ms of service but waited 50 ms to be sent.
    for i in 0..100 {
        r.record(&sample(0, t0 + ms(i), 50, 1));
    }
    r.tick(t0 + ms(1000), open_status(100.0, 100, 100, 0));
    let w = r.warnings();
    assert!(w.iter().any(|w| w.contains("corrected p99")), "{w:?}");
}

/// Ops 0 and 1 are `probe`'s (1 records its iterations), op 2 `flood`'s.
fn two_scenarios(t0: Instant) -> Recorder {
    let labels = ["probe/ping", "probe/iteration", "flood/echo"].map(String::from);
    Recorder::new(&labels, t0, None)
        .with_scenarios(vec![
            ScenarioOps {
                name: "probe".into(),
                ops: 0..1,
                also: vec![1],
            },
            ScenarioOps {
                name: "flood".into(),
                ops: 2..3,
                also: vec![],
            },
        ])
        .with_iterations(&[1])
}

fn scenario_status(rate: f64, planned_total: u64, sent_total: u64) -> ScenarioStatus {
    ScenarioStatus {
        rate: Some(rate),
        active: true,
        planned_total,
        sent_total,
        ..ScenarioStatus::default()
    }
}

#[tokio::test(start_paused = true)]
async fn each_scenario_keeps_its_own_intervals_lateness_and_keep_up_warning() {
    let t0 = Instant::now();
    let mut r = two_scenarios(t0);
    // One second: the probe sends its 10 on time (3 ms replies) and one
    // iteration sample (not a request); the flood sends 50 of 100 asked,
    // each 5 ms late, 1 ms replies.
    for i in 0..10 {
        r.record(&sample(0, t0 + ms(i * 100), 0, 3));
    }
    r.record(&sample(1, t0, 0, 900));
    for i in 0..50 {
        r.record(&sample(2, t0 + ms(i * 10), 5, 1));
    }
    let status = EngineStatus {
        scenarios: vec![
            scenario_status(10.0, 10, 10),
            scenario_status(100.0, 100, 50),
        ],
        ..open_status(110.0, 110, 60, 0)
    };
    let snapshot = r.tick(t0 + ms(1000), status.clone());
    let [probe, flood] = &snapshot.scenarios[..] else {
        panic!("two scenarios: {:?}", snapshot.scenarios)
    };
    let p = probe.last.as_ref().expect("interval");
    assert_eq!(
        (p.completed, p.asked_rate, p.sent_rate),
        (10, Some(10.0), 10.0)
    );
    assert_eq!(
        p.corrected.max_us,
        new_histogram().highest_equivalent(3_000)
    );
    assert_eq!((probe.late_sends, probe.max_send_lag_us), (0, 0));
    let f = flood.last.as_ref().expect("interval");
    assert_eq!(
        (f.completed, f.asked_rate, f.sent_rate),
        (50, Some(100.0), 50.0)
    );
    assert_eq!((flood.late_sends, flood.max_send_lag_us), (50, 5_000));
    let m = r.finish(t0 + ms(1000), status);
    let warned: Vec<&String> = m
        .warnings
        .iter()
        .filter(|w| w.contains("keep up"))
        .collect();
    // The run as a whole sent 60 of 110 and warns; so does the flood, by name.
    assert_eq!(warned.len(), 2, "{:?}", m.warnings);
    assert!(
        warned[1].starts_with("scenario flood: mcptop cannot keep up at 1s: sent 50/s of 100/s")
    );
    assert_eq!(m.scenarios[0].warnings, Vec::<String>::new());
    assert_eq!(m.scenarios[1].warnings.len(), 1);
    let (probe, flood) = (&m.scenarios[0], &m.scenarios[1]);
    assert_eq!(
        (probe.figures.ok, probe.sends, probe.late_sends),
        (10, 10, 0)
    );
    assert_eq!(
        (flood.planned_sends, flood.sends, flood.late_sends),
        (100, 50, 50)
    );
    assert_eq!((flood.asked_rate, flood.sent_rate), (Some(100.0), 50.0));
    assert_eq!(flood.intervals.len(), 1);
    // Read back from JSON, the scenario keeps every figure.
    let json = serde_json::to_value(&m).expect("serialise");
    assert_eq!(json["scenarios"][1]["label"], "flood");
    assert_eq!(json["scenarios"][1]["late_sends"], 50);
    assert_eq!(json["scenarios"][1]["intervals"][0]["sent_rate"], 50.0);
    let back: RunMetrics = serde_json::from_value(json).expect("read back");
    assert_eq!(back.scenarios, m.scenarios);
}
