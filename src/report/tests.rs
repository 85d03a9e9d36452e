//! Result files: thresholds judged from the measured numbers, atomic writes,
//! and a schema that reads back what it wrote.

use super::*;
use crate::client::CallError;
use crate::engine::TargetInfo;
use crate::metrics::recorder::{EngineStatus, Recorder};
use crate::metrics::snapshot::{LoadNow, Phase};
use crate::metrics::Sample;
use std::time::Duration;
use tokio::time::Instant;

fn workload(thresholds: &str) -> Workload {
    let text = format!(
        "name = \"t\"\nconcurrency = 1\nduration = \"1s\"\n\
         [[ops]]\nmethod = \"tools/call\"\ntool = \"echo\"\n\
         [[ops]]\nmethod = \"ping\"\n{thresholds}"
    );
    Workload::parse(&text, "test").expect("valid workload")
}

/// One second measured: 90 echo replies of 10 ms, 10 pings of 100 ms, and
/// `errors` failed pings.
fn outcome(w: &Workload, errors: u64) -> RunOutcome {
    let t0 = Instant::now();
    let labels: Vec<String> = w.ops.iter().map(|o| o.label.clone()).collect();
    let mut r = Recorder::new(&labels, t0, None);
    let mut add = |op: usize, took: u64, outcome: Result<(), CallError>| {
        r.record(&Sample {
            op,
            planned: t0,
            sent: t0,
            done: t0 + Duration::from_millis(took),
            outcome,
            bytes: Default::default(),
        })
    };
    for _ in 0..90 {
        add(0, 10, Ok(()));
    }
    for _ in 0..10 {
        add(1, 100, Ok(()));
    }
    for _ in 0..errors {
        add(1, 1, Err(CallError::Timeout));
    }
    let status = EngineStatus {
        phase: Phase::Measuring,
        load: LoadNow::default(),
        ..EngineStatus::default()
    };
    RunOutcome {
        metrics: r.finish(t0 + Duration::from_secs(1), status),
        stopped_by: StopReason::Completed,
        target: TargetInfo::default(),
        unfinished: 0,
    }
}

fn build(thresholds: &str, errors: u64) -> RunReport {
    let w = workload(thresholds);
    let o = outcome(&w, errors);
    RunReport::build(&w, "builtin", std::time::SystemTime::UNIX_EPOCH, o)
}

#[tokio::test(start_paused = true)]
async fn latency_thresholds_pass_and_fail_on_the_measured_percentile() {
    let r = build(
        "[[thresholds]]\nmetric = \"p50\"\nmax = \"20ms\"\n\
         [[thresholds]]\nmetric = \"p99\"\nmax = \"20ms\"\n\
         [[thresholds]]\nmetric = \"p99\"\nop = \"echo\"\nmax = \"20ms\"\n",
        0,
    );
    let passed: Vec<bool> = r.thresholds.iter().map(|t| t.passed).collect();
    // The last is the default error rate (no errors here).
    assert_eq!(passed, vec![true, false, true, true]);
    assert!(r.thresholds[3].by_default);
    assert!(!r.passed);
    assert_eq!(r.thresholds[1].metric, "p99");
    assert_eq!(r.thresholds[1].limit, "<= 20.00ms");
    assert!(
        r.thresholds[1].actual.starts_with("100"),
        "{:?}",
        r.thresholds[1]
    );
}

#[tokio::test(start_paused = true)]
async fn error_rate_and_throughput_thresholds() {
    let t = "[[thresholds]]\nmetric = \"error_rate\"\nmax = 0.05\n\
             [[thresholds]]\nmetric = \"throughput\"\nmin = 100\n";
    let clean = build(t, 0);
    assert!(clean.passed, "{:?}", clean.thresholds);
    assert_eq!(clean.metrics.overall.throughput_msg_per_s, 100.0);
    // 10 errors in 110 replies is 9.1 %: over 5 %.
    let noisy = build(t, 10);
    assert!(!noisy.thresholds[0].passed);
    assert_eq!(noisy.thresholds[0].actual, "9.0909%");
    assert!(noisy.thresholds[1].passed);
}

#[tokio::test(start_paused = true)]
async fn a_threshold_on_an_operation_that_never_ran_fails() {
    let r = build(
        "[[thresholds]]\nmetric = \"p50\"\nop = \"echo\"\nmax = \"1s\"\n",
        0,
    );
    assert!(r.passed);
    let w = workload("[[thresholds]]\nmetric = \"p50\"\nop = \"ping\"\nmax = \"1s\"\n");
    let t0 = Instant::now();
    let labels: Vec<String> = w.ops.iter().map(|o| o.label.clone()).collect();
    let metrics = Recorder::new(&labels, t0, None).finish(t0, EngineStatus::default());
    let o = RunOutcome {
        metrics,
        stopped_by: StopReason::Interrupted,
        target: TargetInfo::default(),
        unfinished: 0,
    };
    let r = RunReport::build(&w, "builtin", std::time::SystemTime::UNIX_EPOCH, o);
    assert!(!r.passed);
    assert_eq!(r.thresholds[0].actual, "no successful replies");
}

#[tokio::test(start_paused = true)]
async fn a_report_reads_back_what_was_written() {
    let dir = tempfile::tempdir().expect("tempdir");
    let path = dir.path().join("sub/dir/r.json");
    let r = build("", 3);
    write_report(&path, &r).expect("write");
    let back = RunReport::read(&path).expect("read");
    assert_eq!(back, r);
    assert_eq!(back.metrics.overall.errors_by_kind.get("timeout"), Some(&3));
    // The histograms survive the trip and decode to the same counts.
    let h = crate::metrics::decode_histogram(&back.metrics.overall.histogram_corrected)
        .expect("histogram");
    assert_eq!(h.len(), 100);
    // No temporary file is left beside it.
    let names: Vec<_> = std::fs::read_dir(path.parent().expect("parent"))
        .expect("list")
        .map(|e| e.expect("entry").file_name())
        .collect();
    assert_eq!(names, vec![std::ffi::OsString::from("r.json")]);
}

#[test]
fn reading_a_foreign_or_broken_file_names_the_problem() {
    let dir = tempfile::tempdir().expect("tempdir");
    let missing = RunReport::read(&dir.path().join("nope.json"))
        .expect_err("missing")
        .to_string();
    assert!(
        missing.contains("nope.json") && missing.contains("cannot read"),
        "{missing}"
    );
    let broken = dir.path().join("broken.json");
    std::fs::write(&broken, "{\"schema\": \"mcptop.run\",").expect("write");
    let e = RunReport::read(&broken).expect_err("broken").to_string();
    assert!(e.contains("not an mcptop result file"), "{e}");
}

#[test]
fn atomic_write_replaces_whole_files_and_cleans_up_on_failure() {
    let dir = tempfile::tempdir().expect("tempdir");
    let path = dir.path().join("r.json");
    write_atomic(&path, b"old").expect("first");
    write_atomic(&path, b"new contents").expect("second");
    assert_eq!(std::fs::read(&path).expect("read"), b"new contents");
    // A directory where the file should go: the rename fails, the temp file goes.
    let blocked = dir.path().join("blocked");
    std::fs::create_dir_all(blocked.join("inside")).expect("mkdir");
    assert!(write_atomic(&blocked, b"x").is_err());
    let leftovers: Vec<_> = std::fs::read_dir(dir.path())
        .expect("list")
        .filter_map(|e| e.ok())
        .filter(|e| e.file_name().to_string_lossy().ends_with(".tmp"))
        .collect();
    assert!(leftovers.is_empty());
}

/// With no error_rate threshold of its own a workload gets the default,
/// and over the whole run a protocol violation counts as a failed request:
/// 100 clean replies plus 2 violations pass 1 %, plus 5 do not.
#[tokio::test(start_paused = true)]
async fn the_default_error_rate_counts_protocol_violations() {
    let w = workload("");
    let judged = |violations: u64| {
        let mut o = outcome(&w, 0);
        o.metrics.protocol.violations = violations;
        RunReport::build(&w, "builtin", std::time::SystemTime::UNIX_EPOCH, o)
    };
    let clean = judged(0);
    assert!(clean.passed);
    assert_eq!(clean.thresholds.len(), 1);
    assert!(clean.thresholds[0].by_default);
    assert_eq!(clean.thresholds[0].limit, "<= 1.0000%");
    assert!(judged(1).passed);
    let noisy = judged(5);
    assert!(!noisy.passed);
    assert_eq!(
        noisy.thresholds[0].actual,
        "5.0000% (0 errors + 5 protocol violations in 100 replies)"
    );
    // A per-operation rate cannot own a violation: it judges errors only.
    let per_op = workload("[[thresholds]]\nmetric = \"error_rate\"\nop = \"ping\"\nmax = 0.0\n");
    let mut o = outcome(&per_op, 0);
    o.metrics.protocol.violations = 50;
    let r = RunReport::build(&per_op, "builtin", std::time::SystemTime::UNIX_EPOCH, o);
    assert!(r.passed, "{:?}", r.thresholds);
    // The summary says which threshold was the default.
    assert!(
        text::summary(&noisy).contains("threshold error_rate <= 1.0000% (default): FAIL"),
        "{}",
        text::summary(&noisy)
    );
}

/// Whatever a result file holds, its summary prints no control character:
/// a file from elsewhere (or from an older mcptop) is escaped as printed.
#[tokio::test(start_paused = true)]
async fn the_summary_escapes_what_a_target_said() {
    let mut r = build("", 1);
    let evil = "x\u{1b}]0;title\u{7}\u{1b}[2J";
    r.environment.server_name = evil.into();
    r.metrics.warnings.push(format!("warned {evil}"));
    r.metrics
        .overall
        .first_error_messages
        .insert("timeout".into(), evil.into());
    r.stopped_by = StopReason::TargetExited {
        session: 0,
        status: "exited with code 1".into(),
        stderr_tail: format!("line one\n{evil}"),
        after_s: 1.0,
    };
    for out in [text::summary(&r), formats::markdown(&r), formats::junit(&r)] {
        assert!(!out.contains('\u{1b}') && !out.contains('\u{7}'), "{out}");
        assert!(out.contains("x\\x1b]0;title\\x07"), "{out}");
    }
}

#[tokio::test(start_paused = true)]
async fn late_sends_in_closed_loop_are_explained_as_mcptops_own_delay() {
    let mut r = build("", 0);
    r.metrics.asked_rate = None;
    r.metrics.send_lag.lag.count = 10;
    assert!(!text::summary(&r).contains(text::CLOSED_LOOP_LATE));
    r.metrics.send_lag.lag.late = 3;
    let summary = text::summary(&r);
    assert!(
        summary.contains(&format!("note: {}", text::CLOSED_LOOP_LATE)),
        "{summary}"
    );
    // Open loop: late means behind the schedule, said by the rate line.
    r.metrics.asked_rate = Some(100.0);
    assert!(!text::summary(&r).contains(text::CLOSED_LOOP_LATE));
}

/// A run of two scenarios: `probe` (open loop 20/s, every send 5 ms late)
/// and `flood` (closed loop), one second measured.
fn scenario_report() -> RunReport {
    let text = "name = \"s\"\nduration = \"1s\"\n\
         [[scenarios]]\nname = \"probe\"\nrate = 20\n[[scenarios.ops]]\nmethod = \"ping\"\n\
         [[scenarios]]\nname = \"flood\"\nconcurrency = 2\n\
         [[scenarios.ops]]\nmethod = \"tools/call\"\ntool = \"echo\"\n";
    let w = Workload::parse(text, "test").expect("valid workload");
    let t0 = Instant::now();
    let labels: Vec<String> = w.ops.iter().map(|o| o.label.clone()).collect();
    let groups = crate::engine::scenario_groups(&w);
    let mut r = Recorder::new(&labels, t0, None).with_scenarios(groups);
    for (op, late_ms) in [(0, 5), (1, 0)] {
        for i in 0..20 {
            let planned = t0 + Duration::from_millis(i * 50);
            r.record(&Sample {
                op,
                planned,
                sent: planned + Duration::from_millis(late_ms),
                done: planned + Duration::from_millis(late_ms + 1),
                outcome: Ok(()),
                bytes: Default::default(),
            });
        }
    }
    let status = EngineStatus {
        phase: Phase::Measuring,
        scenarios: vec![
            crate::metrics::ScenarioStatus {
                rate: Some(20.0),
                active: true,
                planned_total: 20,
                sent_total: 20,
                ..Default::default()
            },
            crate::metrics::ScenarioStatus {
                concurrency: Some(2),
                active: true,
                planned_total: 20,
                sent_total: 20,
                ..Default::default()
            },
        ],
        ..EngineStatus::default()
    };
    let outcome = RunOutcome {
        metrics: r.finish(t0 + Duration::from_secs(1), status),
        stopped_by: StopReason::Completed,
        target: TargetInfo::default(),
        unfinished: 0,
    };
    RunReport::build(&w, "builtin", std::time::SystemTime::UNIX_EPOCH, outcome)
}

#[tokio::test(start_paused = true)]
async fn scenarios_read_back_and_the_summary_and_report_give_each_ones_rates_and_late_sends() {
    let dir = tempfile::tempdir().expect("tempdir");
    let path = dir.path().join("r.json");
    let r = scenario_report();
    write_report(&path, &r).expect("write");
    let back = RunReport::read(&path).expect("read");
    assert_eq!(back, r);
    assert_eq!(back.metrics.scenarios[0].figures.workload_id, "s");
    assert_eq!(back.metrics.scenarios[0].intervals.len(), 1);
    let probe = "scenario probe: asked 20.0/s, sent 20.0/s, achieved 20.0/s; late sends 20 (max lag 5.00ms)";
    let summary = super::text::summary(&r);
    assert!(summary.contains(probe), "{summary}");
    assert!(
        summary.contains("scenario flood: sent 20.0/s, achieved 20.0/s"),
        "{summary}"
    );
    let markdown = super::formats::markdown(&r);
    assert!(markdown.contains(&format!("- {probe}")), "{markdown}");
    // Each scenario's own send lag, read back with it.
    assert_eq!(back.metrics.scenarios[0].send_lag.lag.count, 20);
    assert!(
        summary.contains("; send lag p50 5.00ms, p99 5.00ms, max 5.00ms\n"),
        "{summary}"
    );
}

#[tokio::test(start_paused = true)]
async fn a_progress_line_during_warm_up_says_how_far_it_is() {
    let t0 = Instant::now();
    let r = Recorder::new(&["a".to_string()], t0 + Duration::from_secs(5), None)
        .with_warmup(Duration::from_secs(5));
    let status = |phase| EngineStatus {
        phase,
        ..EngineStatus::default()
    };
    let snap = r.snapshot(t0 + Duration::from_secs(3), status(Phase::Warmup));
    let line = super::text::progress_line(&snap);
    assert!(
        line.starts_with("[  0.0s] warm-up   3.0/5.0s  in flight 0"),
        "{line}"
    );
    // Measuring: no warm-up clock, and the line says so until an interval ends.
    let snap = r.snapshot(t0 + Duration::from_secs(6), status(Phase::Measuring));
    assert_eq!(snap.warmup, None);
    assert!(super::text::progress_line(&snap).contains("(no interval measured yet)"));
}

#[tokio::test(start_paused = true)]
async fn a_progress_line_gives_the_intervals_bytes_per_second() {
    use crate::metrics::snapshot::IntervalStats;
    use crate::metrics::wire_rates::ByteRates;
    let t0 = Instant::now();
    let r = Recorder::new(&["a".to_string()], t0, None);
    let status = EngineStatus {
        phase: Phase::Measuring,
        ..EngineStatus::default()
    };
    let mut snap = r.snapshot(t0 + Duration::from_secs(2), status);
    snap.last = Some(IntervalStats {
        throughput: 10.0,
        ..IntervalStats::default()
    });
    // Nothing counted (a target whose bytes are not counted): no bytes.
    let line = super::text::progress_line(&snap);
    assert!(!line.contains("recv"), "{line}");
    if let Some(last) = snap.last.as_mut() {
        last.bytes = ByteRates {
            bytes_sent: 2048,
            bytes_received: 104_857_600,
            bytes_sent_per_s: 2048.0,
            bytes_received_per_s: 104_857_600.0,
        };
    }
    let line = super::text::progress_line(&snap);
    assert!(
        line.contains("err 0  recv 100.00 MiB/s  sent 2.0 KiB/s  in flight 0"),
        "{line}"
    );
}

#[tokio::test(start_paused = true)]
async fn the_summary_gives_mcptops_cpu_per_request_and_it_reads_back() {
    use crate::metrics::generator_cpu::GeneratorCpu;
    let dir = tempfile::tempdir().expect("tempdir");
    let path = dir.path().join("r.json");
    let mut r = build("", 0);
    assert!(!text::summary(&r).contains("mcptop CPU"));
    r.metrics.duration_s = 2.0;
    r.metrics.generator_cpu_us_per_request = Some(41.5);
    r.metrics.generator_cpu = Some(GeneratorCpu {
        us_per_request: Some(41.5),
        cpu_s: 3.0,
        requests: 72_289,
        cores: 2.0,
        includes_target: true,
        intervals: Vec::new(),
    });
    let summary = text::summary(&r);
    assert!(
        summary.contains(
            "mcptop CPU: 41.5 µs per request (75% of its 2 worker cores); includes the builtin \
             server running inside mcptop"
        ),
        "{summary}"
    );
    write_report(&path, &r).expect("write");
    let text = std::fs::read_to_string(&path).expect("read");
    assert!(
        text.contains("\"generator_cpu_us_per_request\": 41.5"),
        "{text}"
    );
    assert_eq!(RunReport::read(&path).expect("read back"), r);
}
