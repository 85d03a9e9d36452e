//! Outlier runs in hand-made run sets, and `baseline save`'s reruns.

use super::*;
use crate::check::baseline::{Baseline, RunSettings};
use crate::check::tests::hand_made;

fn flagged(metric: GateMetric, values: &[f64]) -> Vec<usize> {
    outliers(metric, values)
        .into_iter()
        .map(|(i, _)| i)
        .collect()
}

#[test]
fn one_wild_run_among_five_is_flagged_and_only_it() {
    // The baseline: four runs near 62k req/s and one at 3.5k.
    let tput = [62757.6, 62516.7, 61980.2, 62210.4, 3483.7];
    assert_eq!(flagged(GateMetric::Throughput, &tput), vec![4]);
    let o = &outliers(GateMetric::Throughput, &tput)[0].1;
    assert_eq!(o.median, 62210.4);
    assert!(o.score > 10.0, "{o:?}");
    assert_eq!(
        o.describe(),
        "throughput 3483.7/s vs median 62210.4/s".to_string()
    );
    // Ordinary scatter, a few percent either way: nothing.
    let calm = [62757.6, 60516.7, 63980.2, 61210.4, 59483.7];
    assert!(flagged(GateMetric::Throughput, &calm).is_empty());
    // Too few runs to have a median worth straying from.
    assert!(flagged(GateMetric::Throughput, &[100.0, 5.0]).is_empty());
}

#[test]
fn identical_runs_do_not_make_every_difference_an_outlier() {
    // MAD is 0 here; the floor of 0.1 on logarithms means a run must stray
    // beyond a factor of e^0.35 = 1.419, up or down.
    for (ok, far) in [(141.0, 142.5), (71.0, 70.0)] {
        let same = [100.0, 100.0, 100.0, 100.0, ok];
        assert!(flagged(GateMetric::P50, &same).is_empty(), "{ok}");
        let out = [100.0, 100.0, 100.0, 100.0, far];
        assert_eq!(flagged(GateMetric::P50, &out), vec![4], "{far}");
    }
    // A run with no throughput at all is an outlier, not an error.
    assert_eq!(
        flagged(GateMetric::Throughput, &[0.0, 500.0, 510.0, 490.0]),
        vec![0]
    );
    // All zero: nothing strays; one run with 2 % errors among clean ones does.
    assert!(flagged(GateMetric::ErrorRate, &[0.0; 5]).is_empty());
    let errors = [0.0, 0.0, 0.02, 0.0, 0.0];
    assert_eq!(flagged(GateMetric::ErrorRate, &errors), vec![2]);
}

fn steady(n: usize) -> Vec<RunReport> {
    [62757.6, 62516.7, 61980.2, 62210.4, 62400.0]
        .iter()
        .cycle()
        .take(n)
        .map(|t| hand_made(*t, 120, 400))
        .collect()
}

#[tokio::test(start_paused = true)]
async fn outliers_are_grouped_by_run_worst_first() {
    let mut runs = steady(5);
    runs[1] = hand_made(62000.0, 121, 2_000);
    runs[4] = hand_made(3483.7, 120, 94_970);
    let found = of_runs(&runs);
    let summary: Vec<(usize, Vec<GateMetric>)> = found
        .iter()
        .map(|(i, os)| (*i, os.iter().map(|o| o.metric).collect()))
        .collect();
    assert_eq!(
        summary,
        vec![
            (4, vec![GateMetric::Throughput, GateMetric::P99]),
            (1, vec![GateMetric::P99]),
        ]
    );
}

#[tokio::test(start_paused = true)]
async fn the_noise_of_kept_runs_is_robust_and_relative() {
    let runs: Vec<RunReport> = [100.0, 102.0, 98.0, 101.0, 99.0]
        .iter()
        .map(|t| hand_made(*t, 100, 400))
        .collect();
    let n = noise(&runs, 6, Vec::new());
    assert_eq!(n.runs_made, 6);
    let t = &n.metrics[&GateMetric::Throughput];
    assert_eq!(t.median, 100.0);
    assert!((t.mad - 1.4826).abs() < 1e-9, "{t:?}");
    assert!((t.relative_mad.expect("relative") - 0.014826).abs() < 1e-9);
    // Identical p50s: no spread at all, and no outlier either.
    assert_eq!(n.metrics[&GateMetric::P50].mad, 0.0);
    assert!(n.outliers_kept.is_empty());
    // The error rate is a difference: no relative spread for it.
    assert_eq!(n.metrics[&GateMetric::ErrorRate].relative_mad, None);
    // Memory was not measured: not recorded.
    assert!(!n.metrics.contains_key(&GateMetric::Memory));
}

#[tokio::test(start_paused = true)]
async fn an_outlier_run_is_replaced_by_an_extra_run() {
    let mut runs = steady(5);
    runs[2] = hand_made(3483.7, 120, 94_970);
    let mut said = Vec::new();
    let mut asked = Vec::new();
    let (kept, noise) = settle(
        "echo",
        runs,
        MAX_EXTRA_RUNS,
        |n| {
            asked.push(n);
            async { Ok::<_, String>(hand_made(62300.0, 120, 400)) }
        },
        &mut |line| said.push(line),
    )
    .await
    .expect("settled");
    assert_eq!(asked, vec![6]);
    assert_eq!(kept.len(), 5);
    assert!(kept
        .iter()
        .all(|r| r.metrics.overall.throughput_msg_per_s > 60000.0));
    assert_eq!(noise.runs_made, 6);
    assert_eq!(
        noise.rerun,
        vec![OutlierRun {
            run: 3,
            metrics: vec![GateMetric::Throughput, GateMetric::P99]
        }]
    );
    assert!(noise.outliers_kept.is_empty());
    assert_eq!(said.len(), 1, "{said:?}");
    assert!(
        said[0].starts_with("echo: run 3 is an outlier (throughput 3483.7/s vs median")
            && said[0].contains("extra run 1 of at most 2"),
        "{said:?}"
    );
}

#[tokio::test(start_paused = true)]
async fn an_outlier_that_keeps_coming_back_is_kept_with_a_loud_warning() {
    let mut runs = steady(5);
    runs[0] = hand_made(3483.7, 120, 400);
    let mut said = Vec::new();
    let (kept, noise) = settle(
        "echo",
        runs,
        MAX_EXTRA_RUNS,
        |_| async { Ok::<_, String>(hand_made(3000.0, 120, 400)) },
        &mut |line| said.push(line),
    )
    .await
    .expect("settled");
    // Two extra runs at most; both wild; the last one is kept.
    assert_eq!(noise.runs_made, 7);
    assert_eq!(kept.len(), 5);
    assert_eq!(
        noise.rerun.iter().map(|r| r.run).collect::<Vec<_>>(),
        [1, 6]
    );
    assert_eq!(
        noise.outliers_kept,
        vec![OutlierRun {
            run: 7,
            metrics: vec![GateMetric::Throughput]
        }]
    );
    let last = said.last().expect("warning");
    assert!(
        last.starts_with("mcptop: WARNING: echo: run 7 is an outlier after 2 extra run(s)")
            && last.contains("the baseline keeps it"),
        "{said:?}"
    );
    // A failed extra run fails the save.
    let mut runs = steady(5);
    runs[0] = hand_made(3483.7, 120, 400);
    let e = settle(
        "echo",
        runs,
        MAX_EXTRA_RUNS,
        |_| async { Err::<RunReport, _>("target died".to_string()) },
        &mut |_| {},
    )
    .await
    .expect_err("fails");
    assert_eq!(e, "target died");
}

#[tokio::test(start_paused = true)]
async fn baselines_without_noise_still_load_and_noise_round_trips() {
    let dir = tempfile::tempdir().expect("tempdir");
    let mut b = Baseline::new(RunSettings {
        repeats: 5,
        quick: true,
        target: "builtin".into(),
    });
    let runs = steady(5);
    let n = noise(&runs, 5, Vec::new());
    b.put("echo", runs, n);
    let path = dir.path().join("b.json");
    b.write(&path).expect("write");
    assert_eq!(Baseline::read(&path).expect("read"), b);
    // A file from before noise was recorded.
    let mut old: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(&path).expect("text")).expect("json");
    old.as_object_mut().expect("object").remove("noise");
    std::fs::write(&path, old.to_string()).expect("write");
    let read = Baseline::read(&path).expect("old file reads");
    assert!(read.noise.is_empty());
    assert_eq!(read.workloads, b.workloads);
}
