//! SSE resumption figures (`resume_after`) as the run shows and keeps them:
//! on every snapshot (the live screen's line, Prometheus's replay histogram
//! and duplicate / gap counters), in the result file (with the replay
//! histogram encoded), and merged across shards (histograms added, counts
//! and times summed, the figures computed again from them). The transport
//! measures them (`transport::resume_figures`); nothing here is estimated.

use super::buckets::FixedBuckets;
use super::{decode_histogram, encode_histogram, new_histogram};
use crate::transport::resume_figures::{ResumeFigures, ResumeStats, ResumeTotals};
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;

/// One operation's resumption figures so far, for live views.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ResumeLive {
    pub op: String,
    pub stats: ResumeStats,
    /// Replay latency in the exporters' fixed buckets.
    pub replay: FixedBuckets,
}

/// Every operation's figures so far (empty when no call resumed).
pub fn live(figures: &ResumeFigures) -> Vec<ResumeLive> {
    figures
        .each()
        .into_iter()
        .map(|(op, totals, replay)| {
            let replay_buckets = replay.as_ref().map(FixedBuckets::of).unwrap_or_default();
            ResumeLive {
                op,
                stats: totals.stats(replay.as_ref()),
                replay: replay_buckets,
            }
        })
        .collect()
}

/// The result file's `sse_resume`: the figures with each replay histogram.
pub fn report(figures: &ResumeFigures) -> Option<BTreeMap<String, ResumeStats>> {
    let out: BTreeMap<String, ResumeStats> = figures
        .each()
        .into_iter()
        .map(|(op, totals, replay)| {
            let mut stats = totals.stats(replay.as_ref());
            stats.replay_histogram = replay
                .filter(|h| !h.is_empty())
                .map(|h| encode_histogram(&h));
            (op, stats)
        })
        .collect();
    (!out.is_empty()).then_some(out)
}

/// Several shards' `sse_resume` as one: per operation, the replay
/// histograms added and the counts and times summed. A shard whose figures
/// resumed but carry no histogram (an older file) is refused by name: its
/// percentiles cannot be added.
pub fn merged<'a>(
    parts: impl IntoIterator<Item = &'a BTreeMap<String, ResumeStats>>,
) -> Result<Option<BTreeMap<String, ResumeStats>>, String> {
    let mut sums: BTreeMap<String, (ResumeTotals, hdrhistogram::Histogram<u64>)> = BTreeMap::new();
    for part in parts {
        for (op, stats) in part {
            let (totals, replay) = sums
                .entry(op.clone())
                .or_insert_with(|| (ResumeTotals::default(), new_histogram()));
            totals.add(&stats.totals());
            match (&stats.replay_histogram, stats.resumed) {
                (Some(text), _) => {
                    let h = decode_histogram(text)
                        .map_err(|e| format!("sse_resume.{op}.replay_histogram: {e}"))?;
                    replay
                        .add(&h)
                        .map_err(|e| format!("sse_resume.{op}: {e:?}"))?;
                }
                (None, 0) => {}
                (None, _) => {
                    return Err(format!(
                        "sse_resume.{op} has no replay_histogram (a result file from before \
                         mcptop kept it): its replay percentiles cannot be merged"
                    ))
                }
            }
        }
    }
    let out: BTreeMap<String, ResumeStats> = sums
        .into_iter()
        .map(|(op, (totals, replay))| {
            let mut stats = totals.stats(Some(&replay));
            stats.replay_histogram = (!replay.is_empty()).then(|| encode_histogram(&replay));
            (op, stats)
        })
        .collect();
    Ok((!out.is_empty()).then_some(out))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::transport::resume_figures::ResumeSample;
    use std::time::Duration;
    use tokio::time::Instant;

    fn shard(replays_ms: &[u64], duplicates: u64) -> BTreeMap<String, ResumeStats> {
        let f = ResumeFigures::default();
        for (i, ms) in replays_ms.iter().enumerate() {
            let sample = ResumeSample {
                replay: Some(Duration::from_millis(*ms)),
                events: 100,
                replayed: 50,
                resumes: 1,
                duplicates: if i == 0 { duplicates } else { 0 },
                missing: 0,
                call: Duration::from_millis(100),
            };
            f.record("events", Instant::now(), &sample);
        }
        report(&f).expect("resumed")
    }

    #[tokio::test(start_paused = true)]
    async fn merged_shards_add_histograms_and_counts() {
        let (a, b) = (shard(&[1, 2, 3], 1), shard(&[40, 50], 0));
        // The result file round trip keeps the histogram.
        let text = serde_json::to_string(&a).expect("serialises");
        let a: BTreeMap<String, ResumeStats> = serde_json::from_str(&text).expect("parses");
        let m = merged([&a, &b]).expect("merges").expect("figures");
        let e = &m["events"];
        assert_eq!(
            (e.calls, e.resumed, e.events, e.replayed_events),
            (5, 5, 500, 250)
        );
        assert_eq!((e.duplicates, e.gaps), (1, 0));
        let replay = e.replay.as_ref().expect("replay");
        assert_eq!(replay.count, 5);
        // Added, not averaged: the merged median is the 3 ms of five values.
        assert!((3_000..3_010).contains(&replay.p50_us), "{replay:?}");
        assert!((50_000..50_100).contains(&replay.max_us), "{replay:?}");
        assert_eq!(e.replay_us, 96_000);
        assert!((e.replayed_events_per_s - 250.0 * 1e6 / 96_000.0).abs() < 1e-6);
        assert!(e.replay_histogram.is_some());
    }

    #[tokio::test(start_paused = true)]
    async fn a_shard_without_its_histogram_is_refused() {
        let mut a = shard(&[1], 0);
        if let Some(s) = a.get_mut("events") {
            s.replay_histogram = None;
        }
        let err = merged([&a]).expect_err("refused");
        assert!(err.contains("sse_resume.events"), "{err}");
    }

    #[tokio::test(start_paused = true)]
    async fn live_figures_bucket_the_replays() {
        let f = ResumeFigures::default();
        assert!(live(&f).is_empty());
        let sample = ResumeSample {
            replay: Some(Duration::from_millis(2)),
            resumes: 1,
            ..ResumeSample::default()
        };
        f.record("events", Instant::now(), &sample);
        let l = live(&f);
        assert_eq!(l.len(), 1);
        assert_eq!(l[0].replay.count, 1);
        assert_eq!(l[0].stats.resumed, 1);
    }
}
