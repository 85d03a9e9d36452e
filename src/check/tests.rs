//! Comparisons of whole runs and baseline files that cannot be read.

use super::baseline::{Baseline, BaselineError, RunSettings};
use super::verdict::{GateMetric, MetricVerdict, RegressionThresholds, Severity, Status};
use super::*;
use crate::engine::{RunOutcome, StopReason, TargetInfo};
use crate::metrics::recorder::{EngineStatus, Recorder};
use crate::metrics::snapshot::Phase;
use crate::metrics::Sample;
use crate::workload::Workload;
use std::time::Duration;
use tokio::time::Instant;

/// A run of `secs` one-second intervals, each with `per_s` replies of
/// `took_ms` (the n-th interval's latency scaled by `wobble[n % len]`).
fn run(per_s: u64, took_us: u64, secs: u64, wobble: &[f64]) -> RunReport {
    let w = Workload::parse(
        "name = \"w\"\nconcurrency = 1\nduration = \"1s\"\n[[ops]]\nmethod = \"ping\"\n",
        "test",
    )
    .expect("workload");
    let t0 = Instant::now();
    let mut r = Recorder::new(&["ping".to_string()], t0, None);
    for s in 0..secs {
        let f = wobble[(s as usize) % wobble.len()];
        for i in 0..per_s {
            let planned =
                t0 + Duration::from_secs(s) + Duration::from_micros(i * 1_000_000 / per_s);
            r.record(&Sample {
                op: 0,
                planned,
                sent: planned,
                done: planned + Duration::from_micros((took_us as f64 * f) as u64),
                outcome: Ok(()),
                bytes: Default::default(),
            });
        }
        let status = EngineStatus {
            phase: Phase::Measuring,
            ..EngineStatus::default()
        };
        r.tick(t0 + Duration::from_secs(s + 1), status);
    }
    let status = EngineStatus {
        phase: Phase::Measuring,
        ..EngineStatus::default()
    };
    let o = RunOutcome {
        metrics: r.finish(t0 + Duration::from_secs(secs), status),
        stopped_by: StopReason::Completed,
        target: TargetInfo::default(),
        unfinished: 0,
    };
    RunReport::build(&w, "builtin", std::time::SystemTime::UNIX_EPOCH, o)
}

/// A hand-made run: one second, with these overall figures and nothing
/// else measured (no memory, no allocation counts).
pub(crate) fn hand_made(throughput: f64, p50_us: u64, p99_us: u64) -> RunReport {
    let mut r = run(10, 1000, 1, &[1.0]);
    let o = &mut r.metrics.overall;
    o.throughput_msg_per_s = throughput;
    o.corrected.p50_us = p50_us;
    o.corrected.p95_us = p50_us;
    o.corrected.p99_us = p99_us;
    o.allocs_per_request = None;
    r.metrics.memory = None;
    r
}

fn verdict_of(c: &Comparison, m: GateMetric) -> &MetricVerdict {
    c.metrics
        .iter()
        .find(|v| v.metric == m)
        .expect("metric present")
}

fn status_of(c: &Comparison, m: GateMetric) -> Status {
    verdict_of(c, m).status
}

#[tokio::test(start_paused = true)]
async fn repeated_runs_compare_run_by_run() {
    const SPREAD: [f64; 5] = [1.0, 1.02, 0.98, 1.01, 0.99];
    let base: Vec<RunReport> = SPREAD
        .iter()
        .map(|f| run(100, (1000.0 * f) as u64, 2, &[1.0]))
        .collect();
    let slow: Vec<RunReport> = SPREAD
        .iter()
        .map(|f| run(100, (1500.0 * f) as u64, 2, &[1.0]))
        .collect();
    let c = compare_runs("w", &base, &slow, &RegressionThresholds::default());
    assert!(c.regressed());
    assert_eq!(status_of(&c, GateMetric::P50), Status::Regressed);
    assert_eq!(status_of(&c, GateMetric::Throughput), Status::Unchanged);
    assert_eq!(status_of(&c, GateMetric::Memory), Status::NotMeasured);
    let p50 = verdict_of(&c, GateMetric::P50);
    assert_eq!(p50.baseline_samples, 5);
    assert!(c.notes.is_empty(), "{:?}", c.notes);
    let same = compare_runs("w", &base, &base, &RegressionThresholds::default());
    assert!(!same.regressed());
}

#[tokio::test(start_paused = true)]
async fn three_runs_a_side_are_too_few_and_fall_back_to_intervals() {
    let three = |us: u64, secs: u64| -> Vec<RunReport> {
        [1.0, 1.02, 0.98]
            .iter()
            .map(|f| run(100, (us as f64 * f) as u64, secs, &[1.0]))
            .collect()
    };
    // Two seconds a run: six intervals a side, enough for an interval.
    let c = compare_runs(
        "w",
        &three(1000, 2),
        &three(1500, 2),
        &RegressionThresholds::default(),
    );
    assert_eq!(
        c.notes,
        vec!["3 run(s) vs 3: spread taken from one-second intervals"]
    );
    assert_eq!(verdict_of(&c, GateMetric::P50).current_samples, 6);
    assert_eq!(status_of(&c, GateMetric::P50), Status::Regressed);
    // One second a run: three samples a side, and the table says why
    // nothing can be significant.
    let c = compare_runs(
        "w",
        &three(1000, 1),
        &three(1500, 1),
        &RegressionThresholds::default(),
    );
    assert!(
        c.notes[1].starts_with("3 sample(s) vs 3: too few for a 98 % interval"),
        "{:?}",
        c.notes
    );
    assert_eq!(status_of(&c, GateMetric::P50), Status::Noisy);
}

fn tput(runs: &[f64]) -> Vec<RunReport> {
    runs.iter().map(|t| hand_made(*t, 120, 400)).collect()
}

/// The check: four runs near 62k req/s and one at 3.5k.
const WITH_OUTLIER: [f64; 5] = [62757.6, 62516.7, 61980.2, 62210.4, 3483.7];
const STEADY: [f64; 5] = [62610.0, 62300.5, 62890.1, 62100.7, 62450.3];

#[tokio::test(start_paused = true)]
async fn one_outlier_run_neither_flips_the_verdict_nor_blows_up_the_change() {
    for (base, cur) in [(STEADY, WITH_OUTLIER), (WITH_OUTLIER, STEADY)] {
        let c = compare_runs(
            "echo",
            &tput(&base),
            &tput(&cur),
            &RegressionThresholds::default(),
        );
        let t = verdict_of(&c, GateMetric::Throughput);
        assert_eq!(t.status, Status::Unchanged, "{t:?}");
        assert!(t.change.expect("change").abs() < 0.01, "{t:?}");
        assert_eq!(t.severity, Severity::Negligible);
        let side = if cur == WITH_OUTLIER {
            "now"
        } else {
            "baseline"
        };
        assert_eq!(
            c.notes,
            vec![format!(
                "{side}: run 5 of 5 is an outlier in throughput 3483.7/s vs median 62210.4/s: \
                 left out of their intervals"
            )]
        );
        // The medians keep every run; the interval does without the wild
        // one, so it stays narrow.
        assert_eq!(t.baseline_samples + t.current_samples, 10);
        let (lo, hi) = (t.ci_low.expect("low"), t.ci_high.expect("high"));
        assert!(-0.05 < lo && hi < 0.05, "{t:?}");
    }
}

#[tokio::test(start_paused = true)]
async fn outliers_on_both_sides_are_kept_when_too_few_runs_would_remain() {
    // Leaving one run out of each side would leave 4 vs 4: no 98 % interval.
    let c = compare_runs(
        "echo",
        &tput(&WITH_OUTLIER),
        &tput(&WITH_OUTLIER),
        &RegressionThresholds::default(),
    );
    let t = verdict_of(&c, GateMetric::Throughput);
    assert_eq!((t.baseline_samples, t.current_samples), (5, 5));
    assert_eq!(t.status, Status::Unchanged);
    assert_eq!(
        c.notes.last().map(String::as_str),
        Some(
            "outlier runs kept in throughput: without them too few runs remain for a 98 % interval"
        )
    );
}

#[tokio::test(start_paused = true)]
async fn a_genuine_twenty_percent_drop_is_caught_despite_an_outlier() {
    // 18 % slower: "high", where 20 % would sit on the edge of "critical".
    let slower: Vec<f64> = STEADY.iter().map(|t| t * 0.82).collect();
    let c = compare_runs(
        "echo",
        &tput(&STEADY),
        &tput(&slower),
        &RegressionThresholds::default(),
    );
    assert_eq!(status_of(&c, GateMetric::Throughput), Status::Regressed);
    // One run of the slower side wildly fast (the direction that would hide
    // the drop) or wildly slow: still caught, still about -18 %.
    for wild in [200_000.0, 3000.0] {
        let mut cur = slower.clone();
        cur[2] = wild;
        let c = compare_runs(
            "echo",
            &tput(&STEADY),
            &tput(&cur),
            &RegressionThresholds::default(),
        );
        let t = verdict_of(&c, GateMetric::Throughput);
        assert_eq!(t.status, Status::Regressed, "{wild}: {t:?}");
        assert!((t.change.expect("change") + 0.18).abs() < 0.005, "{t:?}");
        assert_eq!(t.severity_label(), "high");
    }
}

#[tokio::test(start_paused = true)]
async fn a_rise_in_throughput_is_an_improvement_never_a_regression() {
    let faster: Vec<f64> = STEADY.iter().map(|t| t * 1.3).collect();
    let c = compare_runs(
        "echo",
        &tput(&STEADY),
        &tput(&faster),
        &RegressionThresholds::default(),
    );
    let t = verdict_of(&c, GateMetric::Throughput);
    assert_eq!(t.status, Status::Improved);
    assert_eq!(t.severity_label(), "improvement (critical)");
    assert!(!c.regressed());
}

#[tokio::test(start_paused = true)]
async fn single_runs_use_their_intervals_as_the_spread() {
    let base = run(100, 1000, 10, &[1.0, 1.03, 0.97]);
    let noisy = run(100, 1250, 10, &[2.5, 0.4, 1.0]);
    let c = compare_runs(
        "w",
        std::slice::from_ref(&base),
        &[noisy],
        &RegressionThresholds::default(),
    );
    assert!(c.notes[0].contains("one-second intervals"), "{:?}", c.notes);
    let p50 = c
        .metrics
        .iter()
        .find(|v| v.metric == GateMetric::P50)
        .expect("p50");
    assert_eq!(p50.current_samples, 10);
    // About +25 %, but scattered from -60 % to +150 %: not a verdict.
    assert_eq!(p50.status, Status::Noisy, "{p50:?}");
    let steady = run(100, 1300, 10, &[1.0, 1.03, 0.97]);
    let c = compare_runs("w", &[base], &[steady], &RegressionThresholds::default());
    assert_eq!(status_of(&c, GateMetric::P50), Status::Regressed);
}

#[tokio::test(start_paused = true)]
async fn one_run_against_repeated_runs_uses_intervals_on_both_sides() {
    // A baseline saved from one live run, checked with three quick runs.
    let base = run(100, 1000, 10, &[1.0, 1.03, 0.97]);
    let cur: Vec<RunReport> = [1.0, 1.02, 0.98]
        .iter()
        .map(|f| run(100, (1000.0 * f) as u64, 2, &[1.0]))
        .collect();
    let c = compare_runs(
        "w",
        std::slice::from_ref(&base),
        &cur,
        &RegressionThresholds::default(),
    );
    assert!(c.notes[0].contains("1 run(s) vs 3"), "{:?}", c.notes);
    let p50 = c
        .metrics
        .iter()
        .find(|v| v.metric == GateMetric::P50)
        .expect("p50");
    assert_eq!((p50.baseline_samples, p50.current_samples), (10, 6));
    assert!(!c.regressed(), "{c:?}");
    let slow: Vec<RunReport> = [1.0, 1.02, 0.98]
        .iter()
        .map(|f| run(100, (1400.0 * f) as u64, 2, &[1.0]))
        .collect();
    let c = compare_runs("w", &[base], &slow, &RegressionThresholds::default());
    assert_eq!(status_of(&c, GateMetric::P50), Status::Regressed);
}

#[tokio::test(start_paused = true)]
async fn environment_differences_are_named() {
    let base = run(10, 1000, 1, &[1.0]);
    let mut cur = base.clone();
    cur.environment.cpus = 64;
    cur.environment.build = "release".into();
    cur.environment.target = "stdio:./server".into();
    let notes = environment_notes(&base, &cur);
    assert_eq!(notes.len(), 3, "{notes:?}");
    assert!(notes
        .iter()
        .any(|n| n.contains("CPUs 2") || n.contains("CPUs")));
    assert!(notes.iter().any(|n| n.contains("stdio:./server")));
}

#[tokio::test(start_paused = true)]
async fn run_length_is_not_a_changed_workload_file() {
    let base = run(10, 1000, 1, &[1.0]);
    let mut cur = base.clone();
    cur.workload.duration = Some("750ms".into());
    cur.workload.warmup = Some("250ms".into());
    assert_eq!(
        environment_notes(&base, &cur),
        vec!["runs differ in length: 1s after default warm-up (baseline) vs 750ms after 250ms warm-up (now)".to_string()]
    );
    cur.workload.sessions = Some(8);
    let notes = environment_notes(&base, &cur);
    assert_eq!(notes.len(), 2, "{notes:?}");
    assert_eq!(notes[1], "the workload file changed since the baseline");
}

#[test]
fn baseline_files_that_cannot_be_used_say_why() {
    let dir = tempfile::tempdir().expect("tempdir");
    let missing = Baseline::read(&dir.path().join("none.json")).expect_err("missing");
    assert!(matches!(missing, BaselineError::Missing(_)));
    assert!(missing.to_string().contains("mcptop baseline save"));
    let corrupt = dir.path().join("corrupt.json");
    std::fs::write(&corrupt, "{\"schema\": \"mcptop.baseline\", ").expect("write");
    let e = Baseline::read(&corrupt).expect_err("corrupt").to_string();
    assert!(
        e.contains("corrupt.json") && e.contains("not an mcptop baseline"),
        "{e}"
    );
    let result_file = dir.path().join("run.json");
    std::fs::write(
        &result_file,
        "{\"schema\": \"mcptop.run\", \"schema_version\": 1}",
    )
    .expect("write");
    let e = Baseline::read(&result_file)
        .expect_err("wrong schema")
        .to_string();
    assert!(e.contains("not an mcptop baseline"), "{e}");
    let mut empty = Baseline::new(RunSettings {
        repeats: 1,
        quick: true,
        target: "builtin".into(),
    });
    empty.workloads.insert("echo".into(), Vec::new());
    let path = dir.path().join("empty.json");
    empty.write(&path).expect("write");
    let e = Baseline::read(&path).expect_err("no runs").to_string();
    assert!(e.contains("echo has no runs"), "{e}");
}

#[test]
fn project_thresholds_override_only_what_they_name() {
    let dir = tempfile::tempdir().expect("tempdir");
    std::fs::write(
        dir.path().join("mcptop.toml"),
        "[check]\nworkloads = [\"echo\"]\n[check.thresholds]\np99 = 0.5\n",
    )
    .expect("write");
    let p = project::Project::load(dir.path()).expect("project");
    assert_eq!(p.check.workloads, vec!["echo".to_string()]);
    assert_eq!(p.check.thresholds.get(GateMetric::P99), 0.5);
    assert_eq!(p.check.thresholds.get(GateMetric::Throughput), 0.10);
    std::fs::write(
        dir.path().join("mcptop.toml"),
        "[check.thresholds]\np42 = 0.5\n",
    )
    .expect("write");
    let e = project::Project::load(dir.path())
        .expect_err("unknown metric")
        .to_string();
    assert!(e.contains("mcptop.toml") && e.contains("p42"), "{e}");
}

/// `hand_made` with the target's GC reported: pause p99 and time share.
fn with_gc(p99_us: f64, share: f64) -> RunReport {
    use crate::metrics::gc::{GcFigures, TargetGc};
    let mut r = hand_made(1000.0, 1000, 2000);
    r.metrics.target_gc = Some(TargetGc {
        reported: true,
        figures: Some(GcFigures {
            pauses: 10,
            pause_p99_us: Some(p99_us),
            pause_time_share: share,
            ..GcFigures::default()
        }),
        ..TargetGc::default()
    });
    r
}

#[tokio::test(start_paused = true)]
async fn the_gate_judges_gc_pause_p99_and_time_share_and_hides_them_without_a_gc() {
    const SPREAD: [f64; 5] = [1.0, 1.02, 0.98, 1.01, 0.99];
    let base: Vec<RunReport> = SPREAD
        .iter()
        .map(|f| with_gc(1000.0 * f, 0.01 * f))
        .collect();
    let worse: Vec<RunReport> = SPREAD
        .iter()
        .map(|f| with_gc(3000.0 * f, 0.05 * f))
        .collect();
    let c = compare_runs("w", &base, &worse, &RegressionThresholds::default());
    assert_eq!(status_of(&c, GateMetric::GcPauseP99), Status::Regressed);
    assert_eq!(status_of(&c, GateMetric::GcTimeShare), Status::Regressed);
    let same = compare_runs("w", &base, &base, &RegressionThresholds::default());
    assert_eq!(status_of(&same, GateMetric::GcPauseP99), Status::Unchanged);
    // A target without a GC report has no GC rows at all (not "not measured").
    let plain: Vec<RunReport> = (0..5).map(|_| hand_made(1000.0, 1000, 2000)).collect();
    let c = compare_runs("w", &plain, &plain, &RegressionThresholds::default());
    assert!(c.metrics.iter().all(|v| !v.metric.only_when_measured()));
    assert!(c.metrics.iter().any(|v| v.metric == GateMetric::Memory));
}

/// A run of two scenarios for `secs` one-second intervals: `probe` (10
/// pings a second of `probe_us`) and `flood` (two ops, 50 a second each of
/// 2 ms); latencies wobble by a few percent from second to second.
fn scenario_run(probe_us: u64, secs: u64) -> RunReport {
    let w = Workload::parse(
        "name = \"w\"\nduration = \"1s\"\n\
         [[scenarios]]\nname = \"probe\"\nrate = 10\n[[scenarios.ops]]\nmethod = \"ping\"\n\
         [[scenarios]]\nname = \"flood\"\nconcurrency = 4\n\
         [[scenarios.ops]]\nmethod = \"tools/call\"\ntool = \"cpu\"\n\
         [[scenarios.ops]]\nmethod = \"tools/list\"\n",
        "test",
    )
    .expect("workload");
    let t0 = Instant::now();
    let labels: Vec<String> = w.ops.iter().map(|o| o.label.clone()).collect();
    let groups = crate::engine::scenario_groups(&w);
    let mut r = Recorder::new(&labels, t0, None).with_scenarios(groups);
    let wobble = [1.0, 1.03, 0.98, 1.01, 0.99];
    let mut status = EngineStatus {
        phase: Phase::Measuring,
        scenarios: vec![Default::default(); 2],
        ..EngineStatus::default()
    };
    for s in 0..secs {
        let f = wobble[(s as usize) % wobble.len()];
        for (op, per_s, took_us) in [(0, 10, probe_us), (1, 50, 2_000), (2, 50, 2_000)] {
            for i in 0..per_s {
                let planned =
                    t0 + Duration::from_secs(s) + Duration::from_micros(i * 1_000_000 / per_s);
                r.record(&Sample {
                    op,
                    planned,
                    sent: planned,
                    done: planned + Duration::from_micros((took_us as f64 * f) as u64),
                    outcome: Ok(()),
                    bytes: Default::default(),
                });
            }
        }
        r.tick(t0 + Duration::from_secs(s + 1), status.clone());
        status.scenarios.iter_mut().for_each(|s| s.active = true);
    }
    let o = RunOutcome {
        metrics: r.finish(t0 + Duration::from_secs(secs), status),
        stopped_by: StopReason::Completed,
        target: TargetInfo::default(),
        unfinished: 0,
    };
    RunReport::build(&w, "builtin", std::time::SystemTime::UNIX_EPOCH, o)
}

fn scoped<'a>(c: &'a Comparison, scope: &str, m: GateMetric) -> &'a MetricVerdict {
    c.metrics
        .iter()
        .find(|v| v.scope.as_deref() == Some(scope) && v.metric == m)
        .unwrap_or_else(|| panic!("no {scope} {} row", m.name()))
}

#[tokio::test(start_paused = true)]
async fn a_slower_probe_regresses_its_own_scenario_row_and_not_the_floods() {
    let base = scenario_run(1_000, 10);
    let slow = scenario_run(2_000, 10);
    let c = compare_runs("w", &[base], &[slow], &RegressionThresholds::default());
    assert_eq!(
        scoped(&c, "probe", GateMetric::P99).status,
        Status::Regressed
    );
    assert_eq!(
        scoped(&c, "probe", GateMetric::P50).status,
        Status::Regressed
    );
    assert_eq!(
        scoped(&c, "flood", GateMetric::P99).status,
        Status::Unchanged
    );
    assert_eq!(
        scoped(&c, "flood", GateMetric::Throughput).status,
        Status::Unchanged
    );
    // The flood has two operations: each has its rows; the probe's one op
    // is the scenario itself.
    assert_eq!(
        scoped(&c, "flood/cpu", GateMetric::P99).scope.as_deref(),
        Some("flood/cpu")
    );
    assert!(!c
        .metrics
        .iter()
        .any(|v| v.scope.as_deref() == Some("probe/ping")));
    assert!(c.regressed());
    let text = formats::text(&[c]);
    assert!(text.contains("probe p99"), "{text}");
    assert!(text.contains("flood/tools/list p50"), "{text}");
}

#[tokio::test(start_paused = true)]
async fn scenario_rows_of_the_same_runs_pass_and_an_old_baseline_without_scenarios_still_compares()
{
    let runs = [scenario_run(1_000, 10)];
    let same = compare_runs("w", &runs, &runs, &RegressionThresholds::default());
    assert!(!same.regressed());
    assert_eq!(
        same.metrics.iter().filter(|v| v.scope.is_some()).count(),
        4 * 5
    );
    // A baseline saved before the workload had scenarios: the run is
    // judged as a whole, the scenarios are named as new.
    let old = [run(110, 1_800, 10, &[1.0, 1.02, 0.99])];
    let c = compare_runs("w", &old, &runs, &RegressionThresholds::default());
    assert!(c.metrics.iter().all(|v| v.scope.is_none()));
    assert!(c.metrics.iter().any(|v| v.metric == GateMetric::P99));
    assert!(
        c.notes
            .iter()
            .any(|n| n == "`probe` was measured only now: not judged"),
        "{:?}",
        c.notes
    );
}
