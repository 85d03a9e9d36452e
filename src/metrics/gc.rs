//! The target's garbage collections as figures (`target_gc` in snapshots
//! and result files): per one-second interval and for the measured run,
//! the number of collections and pauses, pause percentiles, total pause
//! time as a share of wall time, and the heap before and after where the
//! runtime says. Reports arrive through `runtime::GcFeed`; `GcMonitor`
//! places each by the instant it arrived into the engine's intervals, so a
//! pause sits in the same second as the latency it caused. Only the
//! measured phase counts, as for latency. A run without one report says
//! "not reported" and why, never zeros.

use crate::metrics::retention::Ring;
use crate::metrics::snapshot::{IntervalStats, Phase, Snapshot};
use crate::metrics::units::{fmt_mib, fmt_us};
use crate::metrics::RunMetrics;
use crate::runtime::gc::{GcEvent, GcNote};
use crate::runtime::tap::Arrived;
use crate::runtime::{GcFeed, GcSource};
use hdrhistogram::Histogram;
use serde::{Deserialize, Serialize};
use std::collections::{BTreeMap, BTreeSet, VecDeque};
use std::sync::{Arc, Mutex, PoisonError};
use std::time::Instant;

/// Longest pause the histogram holds: one hour, in nanoseconds.
const MAX_PAUSE_NS: u64 = 3_600_000_000_000;

/// One interval's collections (aligned with the engine's latency intervals).
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct GcInterval {
    /// Seconds since measuring started, at the end of the interval.
    pub t_s: f64,
    pub length_s: f64,
    pub collections: u64,
    pub pauses: u64,
    pub pause_p50_us: f64,
    pub pause_p99_us: f64,
    pub pause_max_us: f64,
    pub pause_total_ms: f64,
    /// Pause time over wall time, per reporting process (0.032 = 3.2 %).
    pub pause_time_share: f64,
    /// The heap after the interval's last collection that said.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub heap_after_bytes: Option<u64>,
}

/// The target's garbage collections over the measured run.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct TargetGc {
    /// The runtime as resolved (`node`, `python`, `go`, `jvm`, `native`), if known.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub runtime: Option<String>,
    /// How reporting was turned on; absent when it was not.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub method: Option<String>,
    /// False: no report arrived, and there are no figures (never zeros).
    pub reported: bool,
    /// Why nothing was reported, or what the figures leave out.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub note: Option<String>,
    /// Reports lost because nobody read them in time (0 normally).
    #[serde(default, skip_serializing_if = "is_zero")]
    pub dropped_reports: u64,
    /// The figures, present only when the runtime reported.
    #[serde(flatten, default, skip_serializing_if = "Option::is_none")]
    pub figures: Option<GcFigures>,
}

impl TargetGc {
    /// The pause p99 in microseconds, when pauses were reported.
    pub fn pause_p99_us(&self) -> Option<f64> {
        self.figures.as_ref().and_then(|f| f.pause_p99_us)
    }

    /// Pause time over wall time, when the runtime reported at all.
    pub fn pause_time_share(&self) -> Option<f64> {
        self.figures.as_ref().map(|f| f.pause_time_share)
    }

    /// The same in short lines, for a narrow pane.
    pub fn short_lines(&self) -> Vec<String> {
        let Some(f) = &self.figures else {
            return vec!["target GC: not reported".into()];
        };
        let p99 = f.pause_p99_us.map_or("no pause".into(), |us| {
            format!("p99 {}", fmt_us(us.round() as u64))
        });
        vec![
            format!("target GC: {:.1} pauses/s", f.pauses_per_s),
            format!("GC {p99}, {:.1} % of time", f.pause_time_share * 100.0),
        ]
    }

    /// One line for people: "target GC: 12.0 pauses/s, p99 4.10ms, 3.2 % of
    /// time" or "target GC: not reported (why)", never zeros for nothing.
    pub fn line(&self) -> String {
        let Some(f) = &self.figures else {
            let why = self.note.as_deref().unwrap_or("not reported");
            return format!("target GC: {why}");
        };
        let p99 = f.pause_p99_us.map_or("no pause".into(), |us| {
            format!("p99 {}", fmt_us(us.round() as u64))
        });
        let mut line = format!(
            "target GC: {:.1} pauses/s, {p99}, {:.1} % of time ({} collections",
            f.pauses_per_s,
            f.pause_time_share * 100.0,
            f.collections
        );
        if let Some(after) = f.heap_after_bytes {
            line.push_str(&format!(", heap after {}", fmt_mib(after as f64)));
        }
        line.push(')');
        line
    }
}

/// What a runtime that reported said, over the measured run.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct GcFigures {
    /// Processes that reported (the pause share is per process).
    pub processes: u32,
    /// Collections in the measured window, with and without a reported pause.
    pub collections: u64,
    pub pauses: u64,
    pub pauses_per_s: f64,
    /// Pause percentiles: absent when no pause was reported.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub pause_p50_us: Option<f64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub pause_p99_us: Option<f64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub pause_max_us: Option<f64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub pause_mean_us: Option<f64>,
    pub pause_total_ms: f64,
    /// Total pause time over wall time, per reporting process.
    pub pause_time_share: f64,
    /// The heap before and after the last collection that said.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub heap_before_bytes: Option<u64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub heap_after_bytes: Option<u64>,
    /// Collections by the runtime's own kind names.
    pub by_kind: BTreeMap<String, u64>,
    /// Collections placed in time by the runtime's own clock (the rest by
    /// when their report was read: Go's `gctrace` has no wall clock).
    #[serde(default)]
    pub timed_by_runtime_clock: u64,
    pub intervals: Vec<GcInterval>,
}

fn is_zero(n: &u64) -> bool {
    *n == 0
}

/// A measured collection, placed in time.
#[derive(Debug, Clone)]
struct Placed {
    offset_s: f64,
    event: GcEvent,
}

/// Collects reports into intervals and run figures.
pub struct GcRecorder {
    source: GcSource,
    processes: BTreeSet<(u32, u32)>,
    measure_start: Option<Instant>,
    /// Measured collections not yet in a closed interval.
    open: VecDeque<Placed>,
    closed_until_s: f64,
    pauses_ns: Histogram<u64>,
    collections: u64,
    timed_by_runtime: u64,
    pause_total_ns: u128,
    by_kind: BTreeMap<String, u64>,
    heap: (Option<u64>, Option<u64>),
    dropped: u64,
    /// The newest hour of intervals (`recorder::HISTORY_LEN`), like the
    /// send-lag and scenario rings: a day-long run's stay bounded.
    intervals: Ring<GcInterval>,
}

impl GcRecorder {
    pub fn new(source: GcSource) -> GcRecorder {
        GcRecorder {
            source,
            processes: BTreeSet::new(),
            measure_start: None,
            open: VecDeque::new(),
            closed_until_s: 0.0,
            pauses_ns: Histogram::new_with_bounds(1, MAX_PAUSE_NS, super::SIGFIGS)
                .expect("constant histogram bounds are valid"),
            collections: 0,
            timed_by_runtime: 0,
            pause_total_ns: 0,
            by_kind: BTreeMap::new(),
            heap: (None, None),
            dropped: 0,
            intervals: Ring::new(super::recorder::HISTORY_LEN),
        }
    }

    /// Measuring began at `at`: collections before it were warm-up.
    pub fn measuring_started(&mut self, at: Instant) {
        if self.measure_start.is_none() {
            self.measure_start = Some(at);
            self.open.clear();
        }
    }

    /// Takes arrived reports; `dropped` were lost before they could be.
    pub fn add(&mut self, arrived: Vec<Arrived>, dropped: u64) {
        self.dropped += dropped;
        for a in arrived {
            let event = match a.note {
                GcNote::Reporting { pid } => {
                    self.processes.insert((a.session, pid));
                    continue;
                }
                GcNote::Collection(e) => e,
                GcNote::Other => continue,
            };
            self.processes.insert((a.session, event.pid));
            let Some(start) = self.measure_start else {
                continue;
            };
            let Some(offset) = a.at.checked_duration_since(start) else {
                continue;
            };
            // Placed by the runtime's clock, reports of several processes
            // (or a batch read late) may come out of order.
            let offset_s = offset.as_secs_f64();
            let at = self.open.partition_point(|p| p.offset_s <= offset_s);
            self.open.insert(at, Placed { offset_s, event });
        }
    }

    /// Closes the interval the engine just closed: its collections join the run.
    pub fn close_interval(&mut self, interval: &IntervalStats) {
        if interval.t_s <= self.closed_until_s {
            return;
        }
        let mut placed = Vec::new();
        while self.open.front().is_some_and(|p| p.offset_s < interval.t_s) {
            placed.extend(self.open.pop_front());
        }
        self.closed_until_s = interval.t_s;
        let figures = self.interval_figures(interval, &placed);
        self.intervals.push(figures);
        for p in placed {
            self.count(p.event);
        }
    }

    fn interval_figures(&self, interval: &IntervalStats, placed: &[Placed]) -> GcInterval {
        let mut pauses: Vec<u64> = placed
            .iter()
            .filter_map(|p| p.event.pause)
            .map(|d| u64::try_from(d.as_nanos()).unwrap_or(u64::MAX))
            .collect();
        pauses.sort_unstable();
        let total_ns: u128 = pauses.iter().map(|&n| u128::from(n)).sum();
        GcInterval {
            t_s: interval.t_s,
            length_s: interval.length_s,
            collections: placed.len() as u64,
            pauses: pauses.len() as u64,
            pause_p50_us: nearest_rank(&pauses, 0.50) as f64 / 1e3,
            pause_p99_us: nearest_rank(&pauses, 0.99) as f64 / 1e3,
            pause_max_us: pauses.last().copied().unwrap_or(0) as f64 / 1e3,
            pause_total_ms: total_ns as f64 / 1e6,
            pause_time_share: self.share(total_ns, interval.length_s),
            heap_after_bytes: placed.iter().rev().find_map(|p| p.event.heap_after_bytes),
        }
    }

    fn count(&mut self, event: GcEvent) {
        self.collections += 1;
        self.timed_by_runtime += u64::from(event.started.is_some());
        *self.by_kind.entry(event.kind).or_default() += 1;
        if let Some(pause) = event.pause {
            let ns = u64::try_from(pause.as_nanos()).unwrap_or(u64::MAX);
            let _ = self.pauses_ns.record(ns.clamp(1, MAX_PAUSE_NS));
            self.pause_total_ns += u128::from(ns);
        }
        if event.heap_before_bytes.is_some() || event.heap_after_bytes.is_some() {
            self.heap = (event.heap_before_bytes, event.heap_after_bytes);
        }
    }

    /// Pause time over wall time, per reporting process.
    fn share(&self, pause_ns: u128, wall_s: f64) -> f64 {
        let processes = self.processes.len().max(1) as f64;
        if wall_s <= 0.0 {
            0.0
        } else {
            pause_ns as f64 / 1e9 / wall_s / processes
        }
    }

    /// The figures of the intervals closed so far, over `measured_s`.
    pub fn figures(&self, measured_s: f64) -> TargetGc {
        let mut gc = TargetGc {
            runtime: self.source.runtime.map(|r| r.name().to_string()),
            method: self.source.method.map(str::to_string),
            dropped_reports: self.dropped,
            ..TargetGc::default()
        };
        if self.processes.is_empty() {
            gc.note = Some(format!("not reported: {}", self.source.why_not));
            return gc;
        }
        let h = &self.pauses_ns;
        let us = |ns: u64| ns as f64 / 1e3;
        let some = |f: f64| (!h.is_empty()).then_some(f);
        gc.reported = true;
        if self.collections > 0 && h.is_empty() {
            gc.note = Some("the runtime reports collections but not their pauses".into());
        }
        gc.figures = Some(GcFigures {
            processes: self.processes.len() as u32,
            collections: self.collections,
            pauses: h.len(),
            pauses_per_s: if measured_s > 0.0 {
                h.len() as f64 / measured_s
            } else {
                0.0
            },
            pause_p50_us: some(us(h.value_at_quantile(0.50))),
            pause_p99_us: some(us(h.value_at_quantile(0.99))),
            pause_max_us: some(us(h.max())),
            pause_mean_us: some(h.mean() / 1e3),
            pause_total_ms: self.pause_total_ns as f64 / 1e6,
            pause_time_share: self.share(self.pause_total_ns, measured_s),
            heap_before_bytes: self.heap.0,
            heap_after_bytes: self.heap.1,
            by_kind: self.by_kind.clone(),
            timed_by_runtime_clock: self.timed_by_runtime,
            intervals: self.intervals.iter().cloned().collect(),
        });
        gc
    }

    /// The run's figures: every interval of the run closed, and the
    /// collections after the last one up to the end of measuring counted.
    pub fn finish(&mut self, measured_s: f64, intervals: &[IntervalStats]) -> TargetGc {
        for interval in intervals {
            self.close_interval(interval);
        }
        while let Some(p) = self.open.pop_front() {
            if p.offset_s <= measured_s {
                self.count(p.event);
            }
        }
        self.figures(measured_s)
    }
}

/// The value at quantile `q` of sorted values (nearest rank), 0 if none.
fn nearest_rank(sorted: &[u64], q: f64) -> u64 {
    if sorted.is_empty() {
        return 0;
    }
    let rank = (q * sorted.len() as f64).ceil() as usize;
    sorted[rank.clamp(1, sorted.len()) - 1]
}

/// The recorder of one run, fed from its snapshots on their way to the
/// view. Cheap to clone.
#[derive(Clone)]
pub struct GcMonitor {
    feed: GcFeed,
    recorder: Arc<Mutex<GcRecorder>>,
}

impl GcMonitor {
    pub fn new(source: GcSource, feed: GcFeed) -> GcMonitor {
        GcMonitor {
            feed,
            recorder: Arc::new(Mutex::new(GcRecorder::new(source))),
        }
    }

    fn recorder(&self) -> std::sync::MutexGuard<'_, GcRecorder> {
        self.recorder.lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// Completes a snapshot the recorder is making (through the resource
    /// monitor): places the reports that arrived and fills `target_gc`.
    pub fn complete(&self, snap: &mut Snapshot) {
        let (arrived, dropped) = self.feed.take();
        let mut rec = self.recorder();
        if snap.phase >= Phase::Measuring {
            let now = Instant::now();
            rec.measuring_started(now.checked_sub(snap.elapsed).unwrap_or(now));
        }
        rec.add(arrived, dropped);
        if snap.phase == Phase::Measuring {
            if let Some(last) = &snap.last {
                rec.close_interval(last);
            }
        }
        let mut gc = rec.figures(snap.elapsed.as_secs_f64());
        // As many intervals as the snapshot's latency history keeps.
        if let Some(f) = &mut gc.figures {
            let keep = snap.history.len();
            f.intervals.drain(..f.intervals.len().saturating_sub(keep));
        }
        snap.target_gc = Some(gc);
    }

    /// Puts the run's figures into `metrics`.
    pub fn finish(&self, metrics: &mut RunMetrics) {
        let (arrived, dropped) = self.feed.take();
        let mut rec = self.recorder();
        rec.add(arrived, dropped);
        metrics.target_gc = Some(rec.finish(metrics.duration_s, &metrics.intervals));
    }
}

#[cfg(test)]
mod tests;
