//! Merges of hand-made shard results: exact sums, added histograms, the
//! wall-clock alignment, and each refusal with its message.

use super::*;
use crate::export::test_runs::{run, TWO_OPS};
use std::path::Path;

fn shard_run(index: u32, count: u32, base_us: u64, start_unix_s: f64) -> Input {
    let mut report = run(TWO_OPS, 100, 3, base_us, 7);
    report.shard = Some(Shard { index, count });
    if let Some(t) = report.metrics.timeline.as_mut() {
        t.start_unix_s = start_unix_s;
    }
    Input {
        path: PathBuf::from(format!("r-{index}.json")),
        report,
    }
}

fn added(inputs: &[Input], op: Option<usize>) -> Histogram<u64> {
    let mut h = new_histogram();
    for i in inputs {
        let m = &i.report.metrics;
        let o = op.map_or(&m.overall, |k| &m.ops[k]);
        h.add(decode_histogram(&o.histogram_corrected).expect("decodes"))
            .expect("adds");
    }
    h
}

fn three_shards() -> Vec<Input> {
    vec![
        shard_run(0, 3, 300, 1000.0),
        shard_run(1, 3, 900, 1000.25),
        shard_run(2, 3, 2_500, 1000.5),
    ]
}

#[tokio::test(start_paused = true)]
async fn counts_add_and_percentiles_are_those_of_the_added_histograms() {
    let inputs = three_shards();
    let total: u64 = inputs
        .iter()
        .map(|i| i.report.metrics.overall.operations)
        .sum();
    let errors: u64 = inputs.iter().map(|i| i.report.metrics.overall.errors).sum();
    let rate: f64 = inputs.iter().map(|i| i.report.metrics.achieved_rate).sum();
    let want_all = percentiles(&added(&inputs, None));
    let want_echo = percentiles(&added(&inputs, Some(0)));
    let merged = merge(inputs, false).expect("merges").report;
    let m = &merged.metrics;
    assert_eq!(m.overall.operations, total);
    assert_eq!(m.overall.errors, errors);
    assert_eq!(m.overall.errors_by_kind["timeout"], errors);
    assert_eq!(m.sends, 900);
    assert_eq!(m.achieved_rate, rate);
    assert_eq!(m.asked_rate, Some(300.0));
    let from =
        |q: &crate::metrics::Percentiles| [q.p50_us, q.p90_us, q.p99_us, q.p999_us, q.max_us];
    assert_eq!(from(&m.overall.corrected), from(&want_all));
    assert_eq!(from(&m.ops[0].corrected), from(&want_echo));
    // Thresholds are judged again on the whole, and the file says what it is.
    assert!(merged.thresholds.iter().any(|t| t.by_default));
    assert_eq!(
        merged.merged_shards,
        Some(MergedShards {
            count: 3,
            present: vec![0, 1, 2],
            missing: vec![]
        })
    );
    assert_eq!(merged.shard, None);
    assert_eq!(merged.load.rate, Some(200.0), "the whole workload's rate");
}

#[tokio::test(start_paused = true)]
async fn intervals_are_aligned_by_wall_clock() {
    // Shard 1 began 0.25 s after shard 0, shard 2 1.4 s after: each
    // interval lands in the merged second that holds its middle.
    let inputs = vec![
        shard_run(0, 3, 300, 1000.0),
        shard_run(1, 3, 300, 1000.25),
        shard_run(2, 3, 300, 1001.4),
    ];
    let merged = merge(inputs, false).expect("merges").report;
    let completed: Vec<u64> = merged
        .metrics
        .intervals
        .iter()
        .map(|i| i.completed)
        .collect();
    assert_eq!(completed, vec![200, 300, 300, 100]);
    let t = merged.metrics.timeline.as_ref().expect("timeline");
    assert_eq!(t.start_unix_s, 1000.0);
    let counts: Vec<u64> = t
        .intervals
        .iter()
        .map(|i| {
            i.ops
                .iter()
                .map(|o| o.corrected().expect("decodes").len())
                .sum::<u64>()
        })
        .collect();
    let ok: u64 = merged.metrics.overall.ok;
    assert_eq!(counts.iter().sum::<u64>(), ok);
    assert_eq!(counts.len(), 4);
    assert!(merged
        .metrics
        .warnings
        .iter()
        .any(|w| w.contains("1.4 s apart")));
}

/// A day-long run's older intervals are merged into coarser ones
/// (`metrics::retention`): a merge of shards bins such an interval whole, as
/// wide as it is, instead of piling its counts into one second.
#[tokio::test(start_paused = true)]
async fn coarser_intervals_are_binned_whole() {
    use crate::metrics::retention::{Closed, Coarsen};
    let coarsen = |mut input: Input| {
        let m = &mut input.report.metrics;
        let timeline = m.timeline.as_mut().expect("timeline");
        let pairs: Vec<Closed> = m
            .intervals
            .drain(..)
            .zip(timeline.intervals.drain(..))
            .map(|(stats, timeline)| Closed { stats, timeline })
            .collect();
        let mut it = pairs.into_iter();
        let mut whole = it.next().expect("an interval");
        for later in it {
            whole.absorb(later);
        }
        m.intervals.push(whole.stats);
        timeline.intervals.push(whole.timeline);
        input
    };
    let inputs = vec![
        coarsen(shard_run(0, 2, 300, 1000.0)),
        coarsen(shard_run(1, 2, 900, 1000.25)),
    ];
    assert_eq!(inputs[0].report.metrics.intervals[0].length_s, 3.0);
    let merged = merge(inputs, false).expect("merges").report;
    let m = &merged.metrics;
    let shapes: Vec<(f64, f64, u64)> = m
        .intervals
        .iter()
        .map(|i| (i.t_s, i.length_s, i.completed))
        .collect();
    assert_eq!(shapes, vec![(3.0, 3.0, 600)]);
    let t = m.timeline.as_ref().expect("timeline");
    let widths: Vec<(f64, f64)> = t
        .intervals
        .iter()
        .map(|i| (i.start_s, i.length_s))
        .collect();
    assert_eq!(widths, vec![(0.0, 3.0)]);
    let ok: u64 = t.intervals[0]
        .ops
        .iter()
        .map(|o| o.corrected().expect("decodes").len())
        .sum();
    assert_eq!(ok, m.overall.ok);
}

fn refusal(inputs: Vec<Input>) -> String {
    match merge(inputs, false) {
        Ok(_) => panic!("merged what should be refused"),
        Err(e) => e.to_string(),
    }
}

#[tokio::test(start_paused = true)]
async fn missing_shards_are_named_and_refused_unless_allowed() {
    let mut inputs = three_shards();
    inputs.remove(1);
    assert_eq!(
        refusal(inputs),
        "shard(s) 1/3 missing (have 0/3, 2/3); merge them all, or pass --allow-missing to \
         merge what is there"
    );
    let mut inputs = three_shards();
    inputs.remove(1);
    let merged = merge(inputs, true).expect("allowed");
    assert_eq!(
        merged.report.merged_shards.map(|m| m.missing),
        Some(vec![1])
    );
    assert_eq!(
        merged.notes,
        vec!["shard(s) 1/3 missing (have 0/3, 2/3): merged without them".to_string()]
    );
}

#[tokio::test(start_paused = true)]
async fn the_same_shard_twice_is_refused() {
    let mut inputs = three_shards();
    inputs[2] = shard_run(1, 3, 300, 1000.0);
    inputs[2].path = PathBuf::from("again/r-1.json");
    assert_eq!(
        refusal(inputs),
        "r-1.json and again/r-1.json are both shard 1/3: a shard is merged once"
    );
}

#[tokio::test(start_paused = true)]
async fn shards_of_different_splits_are_refused() {
    let mut inputs = three_shards();
    inputs[1] = shard_run(1, 4, 300, 1000.0);
    assert_eq!(
        refusal(inputs),
        "r-1.json is shard 1/4 but r-0.json is shard 0/3: shards of different splits overlap, \
         and are not merged"
    );
}

#[tokio::test(start_paused = true)]
async fn shards_of_different_workloads_are_refused() {
    let mut inputs = three_shards();
    inputs[2].report.workload.rate = Some(999.0);
    assert_eq!(
        refusal(inputs),
        "r-0.json and r-2.json ran different workloads (w with different rate); only shards of \
         one run are merged"
    );
    let mut inputs = three_shards();
    inputs[1].report.workload_id = "other".into();
    assert!(refusal(inputs).contains("(workload w vs other)"));
}

#[tokio::test(start_paused = true)]
async fn a_result_that_is_no_shard_is_refused() {
    let mut inputs = three_shards();
    inputs[0].report.shard = None;
    assert_eq!(
        refusal(inputs),
        "r-0.json is not a shard's result (run with --shard I/N); only shards are merged"
    );
    assert_eq!(
        refusal(Vec::new()),
        "nothing to merge: name the shards' result files"
    );
    assert!(Path::new("r-0.json").is_relative());
}

#[tokio::test(start_paused = true)]
async fn the_generators_cpu_per_request_is_every_shards_cpu_over_every_shards_requests() {
    use crate::metrics::generator_cpu::GeneratorCpu;
    let mut inputs = three_shards();
    assert_eq!(
        merge(three_shards(), false)
            .expect("merges")
            .report
            .metrics
            .generator_cpu_us_per_request,
        None,
        "no shard measured it"
    );
    for (i, input) in inputs.iter_mut().enumerate() {
        input.report.metrics.generator_cpu = Some(GeneratorCpu {
            cpu_s: (i + 1) as f64,
            requests: 10_000,
            ..GeneratorCpu::default()
        });
    }
    let merged = merge(inputs, false).expect("merges").report;
    // 6 s of CPU over 30,000 requests.
    assert_eq!(merged.metrics.generator_cpu_us_per_request, Some(200.0));
}

/// SSE resumption survives a merge, through the result files' JSON: the
/// replay histograms are added (the merged percentiles are those of all the
/// replays), the counts summed.
#[tokio::test(start_paused = true)]
async fn sse_resumption_is_merged_not_dropped() {
    use crate::transport::resume_figures::{ResumeFigures, ResumeSample};
    let mut inputs = three_shards();
    for (k, input) in inputs.iter_mut().enumerate() {
        let figures = ResumeFigures::default();
        // Shard k replays in (k + 1) ms, (k + 1) * 10 ms; shard 2 saw a gap.
        for ms in [k as u64 + 1, (k as u64 + 1) * 10] {
            let sample = ResumeSample {
                replay: Some(std::time::Duration::from_millis(ms)),
                events: 100,
                replayed: 50,
                resumes: 1,
                missing: u64::from(k == 2),
                call: std::time::Duration::from_millis(100),
                ..ResumeSample::default()
            };
            figures.record("events", tokio::time::Instant::now(), &sample);
        }
        input.report.sse_resume = crate::metrics::resume::report(&figures);
        let text = serde_json::to_string(&input.report).expect("serialises");
        input.report = serde_json::from_str(&text).expect("parses");
    }
    let merged = merge(inputs, false).expect("merges").report;
    let text = serde_json::to_string(&merged).expect("serialises");
    let merged: RunReport = serde_json::from_str(&text).expect("parses");
    let s = &merged.sse_resume.as_ref().expect("kept")["events"];
    assert_eq!((s.calls, s.resumed, s.resume_requests), (6, 6, 6));
    assert_eq!((s.events, s.replayed_events), (600, 300));
    assert_eq!((s.duplicates, s.gaps), (0, 2));
    // Replays 1, 2, 3, 10, 20, 30 ms: p50 is 3 ms, max 30 ms.
    let replay = s.replay.as_ref().expect("replay");
    assert_eq!(replay.count, 6);
    assert!((3_000..3_010).contains(&replay.p50_us), "{replay:?}");
    assert!((30_000..30_100).contains(&replay.max_us), "{replay:?}");
    assert_eq!(s.replay_us, 66_000);
}

#[tokio::test(start_paused = true)]
async fn bytes_on_the_wire_add_up_exactly() {
    let inputs = three_shards();
    let sum = |f: &dyn Fn(&RunMetrics) -> u64| -> u64 {
        inputs.iter().map(|i| f(&i.report.metrics)).sum()
    };
    let sent = sum(&|m| m.overall.bytes.bytes_sent);
    let received = sum(&|m| m.overall.bytes.bytes_received);
    let add_received = sum(&|m| m.ops[1].bytes.bytes_received);
    let rate: f64 = inputs
        .iter()
        .map(|i| i.report.metrics.overall.bytes.bytes_received_per_s)
        .sum();
    assert!(sent > 0 && received > 0 && add_received > 0);
    let merged = merge(inputs, false).expect("merges").report;
    let m = &merged.metrics;
    assert_eq!(m.overall.bytes.bytes_sent, sent);
    assert_eq!(m.overall.bytes.bytes_received, received);
    assert_eq!(m.ops[1].bytes.bytes_received, add_received);
    assert_eq!(m.overall.bytes.bytes_received_per_s, rate);
    let over_intervals: u64 = m.intervals.iter().map(|i| i.bytes.bytes_received).sum();
    assert_eq!(over_intervals, received);
}
