//! The figures of SSE resumption (`resume_after`), per operation: how long a
//! replay took (the `Last-Event-ID` GET sent → the last replayed event, the
//! call's reply, received), events per second, duplicates and gaps. Filled by
//! the Streamable HTTP transport as its calls resume, shared by every session
//! of a run, and written to the result file as `sse_resume` (with the replay
//! histogram and the time totals that `metrics::resume` adds, so merged
//! shards add up exactly). Calls sent before the run began measuring
//! (`measure_from`) are warm-up and not counted.

use super::phases::{PhaseStats, MAX_LATENCY_US, SIGFIGS};
use hdrhistogram::Histogram;
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;
use std::sync::{Mutex, PoisonError};
use std::time::Duration;
use tokio::time::Instant;

/// One call that resumed (or tried to).
#[derive(Debug, Clone, Default, PartialEq)]
pub struct ResumeSample {
    /// Resume request sent → last replayed event; `None` when the call
    /// never got to resume (its reply came first, or it failed before).
    pub replay: Option<Duration>,
    /// Numbered events received, before and after the drop.
    pub events: u64,
    /// Of those, received on the resumed stream.
    pub replayed: u64,
    /// Resume requests (GETs with `Last-Event-ID`) made.
    pub resumes: u64,
    pub duplicates: u64,
    /// Numbers that never arrived.
    pub missing: u64,
    /// POST sent → reply received.
    pub call: Duration,
}

#[derive(Debug)]
struct OpFigures {
    replay: Option<Histogram<u64>>,
    calls: u64,
    resumed: u64,
    resumes: u64,
    events: u64,
    replayed: u64,
    duplicates: u64,
    missing: u64,
    call_us: u64,
    replay_us: u64,
}

impl Default for OpFigures {
    fn default() -> Self {
        OpFigures {
            replay: Histogram::new_with_max(MAX_LATENCY_US, SIGFIGS).ok(),
            calls: 0,
            resumed: 0,
            resumes: 0,
            events: 0,
            replayed: 0,
            duplicates: 0,
            missing: 0,
            call_us: 0,
            replay_us: 0,
        }
    }
}

/// Every operation's figures.
#[derive(Debug, Default)]
pub struct ResumeFigures {
    ops: Mutex<BTreeMap<String, OpFigures>>,
    /// Calls sent before this are warm-up; `None`: every call counts.
    measure_from: Mutex<Option<Instant>>,
}

/// The result file's `sse_resume.OP`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ResumeStats {
    /// Calls that asked to resume.
    pub calls: u64,
    /// Of those, calls whose stream was dropped and resumed.
    pub resumed: u64,
    /// Resume requests made (more than `resumed` when a replay went
    /// silent or ended before the reply and was resumed again).
    pub resume_requests: u64,
    pub events: u64,
    pub replayed_events: u64,
    pub duplicates: u64,
    /// Numbers that never arrived (the gaps' sizes summed).
    pub gaps: u64,
    /// Resume request → last replayed event.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub replay: Option<PhaseStats>,
    /// Events received per second of call time (POST → reply), all calls.
    pub events_per_s: f64,
    /// Events replayed per second of replay time.
    pub replayed_events_per_s: f64,
    /// Call time (POST → reply) summed over the calls, µs.
    #[serde(default)]
    pub call_us: u64,
    /// Replay time summed over the resumed calls, µs.
    #[serde(default)]
    pub replay_us: u64,
    /// The replay histogram (HdrHistogram V2 deflate, base64), so that
    /// merged shards add histograms instead of averaging percentiles.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub replay_histogram: Option<String>,
}

/// An operation's counts and times, from which its `ResumeStats` follow.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct ResumeTotals {
    pub calls: u64,
    pub resumed: u64,
    pub resume_requests: u64,
    pub events: u64,
    pub replayed_events: u64,
    pub duplicates: u64,
    pub gaps: u64,
    pub call_us: u64,
    pub replay_us: u64,
}

impl ResumeTotals {
    pub fn add(&mut self, o: &ResumeTotals) {
        self.calls += o.calls;
        self.resumed += o.resumed;
        self.resume_requests += o.resume_requests;
        self.events += o.events;
        self.replayed_events += o.replayed_events;
        self.duplicates += o.duplicates;
        self.gaps += o.gaps;
        self.call_us += o.call_us;
        self.replay_us += o.replay_us;
    }

    /// The figures of these totals and replay histogram.
    pub fn stats(&self, replay: Option<&Histogram<u64>>) -> ResumeStats {
        let replay = replay.filter(|h| !h.is_empty()).map(|h| PhaseStats {
            count: h.len(),
            p50_us: h.value_at_quantile(0.50),
            p90_us: h.value_at_quantile(0.90),
            p99_us: h.value_at_quantile(0.99),
            max_us: h.max(),
        });
        ResumeStats {
            calls: self.calls,
            resumed: self.resumed,
            resume_requests: self.resume_requests,
            events: self.events,
            replayed_events: self.replayed_events,
            duplicates: self.duplicates,
            gaps: self.gaps,
            replay,
            events_per_s: per_second(self.events, self.call_us),
            replayed_events_per_s: per_second(self.replayed_events, self.replay_us),
            call_us: self.call_us,
            replay_us: self.replay_us,
            replay_histogram: None,
        }
    }
}

fn micros(d: Duration) -> u64 {
    (d.as_micros() as u64).clamp(1, MAX_LATENCY_US)
}

fn per_second(count: u64, us: u64) -> f64 {
    if us == 0 {
        return 0.0;
    }
    count as f64 * 1e6 / us as f64
}

impl ResumeFigures {
    /// Calls sent before `start` are warm-up from now on.
    pub fn measure_from(&self, start: Instant) {
        *self
            .measure_from
            .lock()
            .unwrap_or_else(PoisonError::into_inner) = Some(start);
    }

    /// One call of `op`, sent at `sent`.
    pub fn record(&self, op: &str, sent: Instant, sample: &ResumeSample) {
        let from = *self
            .measure_from
            .lock()
            .unwrap_or_else(PoisonError::into_inner);
        if from.is_some_and(|from| sent < from) {
            return;
        }
        let mut ops = self.ops.lock().unwrap_or_else(PoisonError::into_inner);
        let f = ops.entry(op.to_string()).or_default();
        f.calls += 1;
        f.events += sample.events;
        f.replayed += sample.replayed;
        f.resumes += sample.resumes;
        f.duplicates += sample.duplicates;
        f.missing += sample.missing;
        f.call_us += micros(sample.call);
        if let Some(replay) = sample.replay {
            f.resumed += 1;
            f.replay_us += micros(replay);
            if let Some(h) = f.replay.as_mut() {
                let _ = h.record(micros(replay));
            }
        }
    }

    /// Per operation, its totals and replay histogram so far.
    pub fn each(&self) -> Vec<(String, ResumeTotals, Option<Histogram<u64>>)> {
        let ops = self.ops.lock().unwrap_or_else(PoisonError::into_inner);
        ops.iter()
            .map(|(op, f)| {
                let totals = ResumeTotals {
                    calls: f.calls,
                    resumed: f.resumed,
                    resume_requests: f.resumes,
                    events: f.events,
                    replayed_events: f.replayed,
                    duplicates: f.duplicates,
                    gaps: f.missing,
                    call_us: f.call_us,
                    replay_us: f.replay_us,
                };
                (op.clone(), totals, f.replay.clone())
            })
            .collect()
    }

    /// Per operation; `None` when no call resumed.
    pub fn summary(&self) -> Option<BTreeMap<String, ResumeStats>> {
        let out: BTreeMap<String, ResumeStats> = self
            .each()
            .into_iter()
            .map(|(op, totals, replay)| (op, totals.stats(replay.as_ref())))
            .collect();
        (!out.is_empty()).then_some(out)
    }
}

impl ResumeStats {
    /// The counts and times these figures were computed from.
    pub fn totals(&self) -> ResumeTotals {
        ResumeTotals {
            calls: self.calls,
            resumed: self.resumed,
            resume_requests: self.resume_requests,
            events: self.events,
            replayed_events: self.replayed_events,
            duplicates: self.duplicates,
            gaps: self.gaps,
            call_us: self.call_us,
            replay_us: self.replay_us,
        }
    }

    /// One line for the text summary.
    pub fn line(&self, op: &str) -> String {
        let replay = self.replay.as_ref().map_or("no replay".to_string(), |r| {
            format!(
                "replay p50 {:.2} ms p99 {:.2} ms max {:.2} ms",
                r.p50_us as f64 / 1000.0,
                r.p99_us as f64 / 1000.0,
                r.max_us as f64 / 1000.0
            )
        });
        format!(
            "{op}: {} of {} calls resumed ({} requests) | {replay} | {:.0} events/s ({:.0} replayed/s) | \
             duplicates {} gaps {}",
            self.resumed,
            self.calls,
            self.resume_requests,
            self.events_per_s,
            self.replayed_events_per_s,
            self.duplicates,
            self.gaps
        )
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn samples_add_up_per_operation() {
        let f = ResumeFigures::default();
        assert_eq!(f.summary(), None);
        let sample = |replay_ms: Option<u64>| ResumeSample {
            replay: replay_ms.map(Duration::from_millis),
            events: 100,
            replayed: if replay_ms.is_some() { 50 } else { 0 },
            resumes: 1,
            duplicates: 0,
            missing: 0,
            call: Duration::from_millis(100),
        };
        let t = Instant::now();
        f.record("events", t, &sample(Some(10)));
        f.record("events", t, &sample(Some(30)));
        f.record("events", t, &sample(None));
        f.record(
            "other",
            t,
            &ResumeSample {
                duplicates: 1,
                missing: 2,
                ..sample(Some(5))
            },
        );
        let s = f.summary().expect("recorded");
        let e = &s["events"];
        assert_eq!(
            (e.calls, e.resumed, e.events, e.replayed_events),
            (3, 2, 300, 100)
        );
        let replay = e.replay.as_ref().expect("replay");
        assert_eq!(replay.count, 2);
        assert!(
            replay.max_us >= 30_000 && replay.max_us < 30_100,
            "{replay:?}"
        );
        assert!((e.events_per_s - 1000.0).abs() < 1.0, "{}", e.events_per_s);
        assert!((e.replayed_events_per_s - 2500.0).abs() < 1.0);
        assert_eq!((s["other"].duplicates, s["other"].gaps), (1, 2));
        assert!(e
            .line("events")
            .contains("2 of 3 calls resumed (3 requests)"));
    }

    #[tokio::test(start_paused = true)]
    async fn calls_sent_before_measuring_are_warm_up() {
        let f = ResumeFigures::default();
        let warm = Instant::now();
        let start = warm + Duration::from_secs(1);
        f.measure_from(start);
        let sample = ResumeSample {
            replay: Some(Duration::from_millis(7)),
            events: 10,
            replayed: 5,
            resumes: 1,
            call: Duration::from_millis(20),
            ..ResumeSample::default()
        };
        f.record("events", warm, &sample);
        assert_eq!(f.summary(), None, "a warm-up call is not measured");
        f.record("events", start, &sample);
        let s = f.summary().expect("measured");
        assert_eq!((s["events"].calls, s["events"].resumed), (1, 1));
        assert_eq!(
            (s["events"].call_us, s["events"].replay_us),
            (20_000, 7_000)
        );
    }
}
