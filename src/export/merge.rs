//! `mcptop merge`: the result files of a sharded run (`--shard I/N`) as one
//! result. Histograms are added (never percentiles averaged), counts and
//! rates summed (SSE resumption's replay histograms too), intervals aligned
//! by wall clock; thresholds are judged
//! again on the whole. Files of different workloads, of different splits
//! or of the same shard twice are refused, and missing shards are named.

use super::ExportError;
use crate::engine::{RunOutcome, StopReason, TargetInfo};
use crate::metrics::accounting::Accounting;
use crate::metrics::recorder::figures::op_metrics;
use crate::metrics::recorder::{OpMetrics, ScenarioMetrics};
use crate::metrics::send_lag::SendLagReport;
use crate::metrics::snapshot::{IntervalStats, ProtocolCounters};
use crate::metrics::timeline::{OpIntervalHistograms, Timeline, TimelineInterval};
use crate::metrics::{decode_histogram, encode_histogram, new_histogram, percentiles, RunMetrics};
use crate::report::RunReport;
use crate::workload::shard::{MergedShards, Shard};
use crate::workload::Workload;
use hdrhistogram::Histogram;
use std::collections::BTreeMap;
use std::path::PathBuf;

/// One operation's corrected and service histograms.
type CorrectedAndService = (Histogram<u64>, Histogram<u64>);
/// Width of a merged interval: the run's tick.
const BIN_S: f64 = 1.0;

/// One result file to merge, with where it came from (for messages).
pub struct Input {
    pub path: PathBuf,
    pub report: RunReport,
}

/// The merge and what it says about its inputs.
pub struct Merged {
    pub report: RunReport,
    pub notes: Vec<String>,
}

fn invalid(message: String) -> ExportError {
    ExportError::Invalid(message)
}

/// Merges shard results. `allow_missing` merges an incomplete set (the
/// result names the missing shards) instead of refusing it.
pub fn merge(mut inputs: Vec<Input>, allow_missing: bool) -> Result<Merged, ExportError> {
    let shards = check_set(&inputs)?;
    inputs.sort_by_key(|i| i.report.shard.map(|s| s.index));
    let count = shards[0].count;
    let present: Vec<u32> = shards.iter().map(|s| s.index).collect();
    let missing: Vec<u32> = (0..count).filter(|i| !present.contains(i)).collect();
    let mut notes = Vec::new();
    if !missing.is_empty() {
        let names = |v: &[u32]| {
            v.iter()
                .map(|i| format!("{i}/{count}"))
                .collect::<Vec<_>>()
                .join(", ")
        };
        let what = format!(
            "shard(s) {} missing (have {})",
            names(&missing),
            names(&present)
        );
        if !allow_missing {
            return Err(invalid(format!(
                "{what}; merge them all, or pass --allow-missing to merge what is there"
            )));
        }
        notes.push(format!("{what}: merged without them"));
    }
    let first = &inputs[0].report;
    let workload = Workload::from_spec(first.workload.clone(), &first.workload_id)
        .map_err(|e| invalid(format!("{}: {e}", inputs[0].path.display())))?;
    let reports: Vec<&RunReport> = inputs.iter().map(|i| &i.report).collect();
    let (metrics, spread) = merge_metrics(&reports)?;
    if let Some(spread) = spread.filter(|s| *s > 1.0) {
        notes.push(format!(
            "the shards began measuring up to {spread:.1} s apart; rates are the sum of each \
             shard's own"
        ));
    }
    let stopped_by = reports
        .iter()
        .map(|r| r.stopped_by.clone())
        .find(|s| !matches!(s, StopReason::Completed))
        .unwrap_or(StopReason::Completed);
    let outcome = RunOutcome {
        metrics,
        stopped_by,
        target: TargetInfo {
            server_name: first.environment.server_name.clone(),
            protocol_version: first.environment.protocol_version.clone(),
            pids: Vec::new(),
        },
        unfinished: reports.iter().map(|r| r.unfinished).sum(),
    };
    let mut report = RunReport::build(
        &workload,
        &first.environment.target,
        std::time::SystemTime::now(),
        outcome,
    );
    report.environment = first.environment.clone();
    report.started_at = reports
        .iter()
        .map(|r| r.started_at.clone())
        .min()
        .unwrap_or_default();
    // SSE resumption: histograms added, counts and times summed.
    report.sse_resume =
        crate::metrics::resume::merged(reports.iter().filter_map(|r| r.sse_resume.as_ref()))
            .map_err(invalid)?;
    report.merged_shards = Some(MergedShards {
        count,
        present,
        missing,
    });
    report.metrics.warnings.extend(notes.iter().cloned());
    Ok(Merged { report, notes })
}

/// Every file is a shard of the same split of the same workload, each
/// shard once; returns the shards.
fn check_set(inputs: &[Input]) -> Result<Vec<Shard>, ExportError> {
    let Some(first) = inputs.first() else {
        return Err(invalid(
            "nothing to merge: name the shards' result files".into(),
        ));
    };
    let shard_of = |i: &Input| {
        i.report.shard.ok_or_else(|| {
            invalid(format!(
                "{} is not a shard's result (run with --shard I/N); only shards are merged",
                i.path.display()
            ))
        })
    };
    let mut seen: BTreeMap<u32, &PathBuf> = BTreeMap::new();
    let first_shard = shard_of(first)?;
    let mut shards = Vec::new();
    for input in inputs {
        let shard = shard_of(input)?;
        if shard.count != first_shard.count {
            return Err(invalid(format!(
                "{} is shard {shard} but {} is shard {first_shard}: shards of different splits \
                 overlap, and are not merged",
                input.path.display(),
                first.path.display()
            )));
        }
        if let Some(other) = seen.insert(shard.index, &input.path) {
            return Err(invalid(format!(
                "{} and {} are both shard {shard}: a shard is merged once",
                other.display(),
                input.path.display()
            )));
        }
        if let Some(why) = workload_difference(&first.report, &input.report) {
            return Err(invalid(format!(
                "{} and {} ran different workloads ({why}); only shards of one run are merged",
                first.path.display(),
                input.path.display()
            )));
        }
        shards.push(shard);
    }
    shards.sort();
    Ok(shards)
}

/// What differs between two shards' workloads, if anything.
fn workload_difference(a: &RunReport, b: &RunReport) -> Option<String> {
    if a.workload_id != b.workload_id {
        return Some(format!("workload {} vs {}", a.workload_id, b.workload_id));
    }
    let fields = |r: &RunReport| match serde_json::to_value(&r.workload) {
        Ok(serde_json::Value::Object(o)) => o,
        _ => serde_json::Map::new(),
    };
    let (fa, fb) = (fields(a), fields(b));
    let mut differ: Vec<&str> = fa
        .keys()
        .chain(fb.keys())
        .filter(|k| fa.get(*k) != fb.get(*k))
        .map(String::as_str)
        .collect();
    differ.sort_unstable();
    differ.dedup();
    (!differ.is_empty()).then(|| format!("{} with different {}", a.workload_id, differ.join(", ")))
}

/// Each scenario of the shards, merged in order: its histograms added, its
/// counts summed. Its intervals are not merged (the run's are, aligned by
/// wall clock): a merged scenario has none.
fn merge_scenarios(
    reports: &[&RunReport],
    duration_s: f64,
) -> Result<Vec<ScenarioMetrics>, ExportError> {
    let mut merged = Vec::new();
    for (i, first) in reports[0].metrics.scenarios.iter().enumerate() {
        let parts: Vec<&ScenarioMetrics> = reports
            .iter()
            .map(|r| {
                r.metrics
                    .scenarios
                    .get(i)
                    .filter(|s| s.figures.label == first.figures.label)
                    .ok_or_else(|| {
                        invalid(format!(
                            "the shards' scenarios differ at {}",
                            first.figures.label
                        ))
                    })
            })
            .collect::<Result<_, _>>()?;
        let figures: Vec<&OpMetrics> = parts.iter().map(|s| &s.figures).collect();
        let sum = |f: fn(&ScenarioMetrics) -> u64| parts.iter().map(|s| f(s)).sum::<u64>();
        merged.push(ScenarioMetrics {
            figures: merge_op(&figures, duration_s)?,
            asked_rate: first
                .asked_rate
                .map(|_| parts.iter().filter_map(|s| s.asked_rate).sum()),
            sent_rate: parts.iter().map(|s| s.sent_rate).sum(),
            planned_sends: sum(|s| s.planned_sends),
            sends: sum(|s| s.sends),
            late_sends: sum(|s| s.late_sends),
            max_send_lag_us: sum_max(parts.iter().map(|s| s.max_send_lag_us)),
            send_lag: SendLagReport::merged(&parts.iter().map(|s| &s.send_lag).collect::<Vec<_>>())
                .map_err(invalid)?,
            backpressure_waits: sum(|s| s.backpressure_waits),
            warnings: parts.iter().flat_map(|s| s.warnings.clone()).collect(),
            intervals: Vec::new(),
        });
    }
    Ok(merged)
}

fn sum_max(values: impl Iterator<Item = u64>) -> u64 {
    values.max().unwrap_or(0)
}

/// Each operation of the shards, merged in order.
fn merge_each(
    reports: &[&RunReport],
    list: fn(&RunMetrics) -> &Vec<OpMetrics>,
    duration_s: f64,
) -> Result<Vec<OpMetrics>, ExportError> {
    let mut merged = Vec::new();
    for (i, op) in list(&reports[0].metrics).iter().enumerate() {
        let parts: Vec<&OpMetrics> = reports
            .iter()
            .map(|r| {
                list(&r.metrics)
                    .get(i)
                    .filter(|o| o.label == op.label)
                    .ok_or_else(|| {
                        invalid(format!("the shards' operations differ at {}", op.label))
                    })
            })
            .collect::<Result<_, _>>()?;
        merged.push(merge_op(&parts, duration_s)?);
    }
    Ok(merged)
}

/// The shards' metrics as one run's; also how far apart (seconds) their
/// measured phases began, when they all have a timeline.
fn merge_metrics(reports: &[&RunReport]) -> Result<(RunMetrics, Option<f64>), ExportError> {
    let first = &reports[0].metrics;
    let duration_s = reports
        .iter()
        .map(|r| r.metrics.duration_s)
        .fold(0.0, f64::max);
    let ops = merge_each(reports, |m| &m.ops, duration_s)?;
    let scenarios = merge_scenarios(reports, duration_s)?;
    let overall_parts: Vec<&OpMetrics> = reports.iter().map(|r| &r.metrics.overall).collect();
    let mut overall = merge_op(&overall_parts, duration_s)?;
    overall.allocs_per_request = None;
    overall.bytes_per_request = None;
    let sum = |f: fn(&RunMetrics) -> u64| reports.iter().map(|r| f(&r.metrics)).sum::<u64>();
    let sum_f = |f: fn(&RunMetrics) -> f64| reports.iter().map(|r| f(&r.metrics)).sum::<f64>();
    let timeline = merge_timelines(reports)?;
    let spread = timeline_spread(reports);
    let intervals = merged_intervals(reports, timeline.as_ref());
    let mut warnings: Vec<String> = Vec::new();
    for r in reports {
        let shard = r.shard.map(|s| s.to_string()).unwrap_or_default();
        for w in &r.metrics.warnings {
            warnings.push(format!("shard {shard}: {w}"));
        }
    }
    let metrics = RunMetrics {
        duration_s,
        achieved_rate: overall.throughput_msg_per_s,
        overall,
        ops,
        scenarios,
        // Buckets add up; a fault's recovery is one shard's timeline and
        // stays in that shard's file (each shard ran the faults itself).
        accounting: first.accounting.as_ref().map(|_| {
            Accounting::summed(reports.iter().filter_map(|r| r.metrics.accounting.as_ref()))
        }),
        faults: Vec::new(),
        // Each shard's sessions moved on their own: its file has its figures.
        failover: None,
        send_lag: SendLagReport::merged(
            &reports
                .iter()
                .map(|r| &r.metrics.send_lag)
                .collect::<Vec<_>>(),
        )
        .map_err(|e| invalid(format!("send lag: {e}")))?,
        asked_rate: first
            .asked_rate
            .map(|_| reports.iter().filter_map(|r| r.metrics.asked_rate).sum()),
        sent_rate: sum_f(|m| m.sent_rate),
        planned_sends: sum(|m| m.planned_sends),
        sends: sum(|m| m.sends),
        late_sends: sum(|m| m.late_sends),
        max_send_lag_us: reports
            .iter()
            .map(|r| r.metrics.max_send_lag_us)
            .max()
            .unwrap_or(0),
        backpressure_waits: sum(|m| m.backpressure_waits),
        warmup_samples: sum(|m| m.warmup_samples),
        protocol: ProtocolCounters {
            notifications: sum(|m| m.protocol.notifications),
            server_requests: sum(|m| m.protocol.server_requests),
            violations: sum(|m| m.protocol.violations),
        },
        warnings,
        intervals,
        // Every shard's CPU over every shard's requests (each shard's own
        // figures stay in its file).
        generator_cpu_us_per_request: merged_cpu_us_per_request(reports),
        generator_cpu: None,
        // Each shard's processes are its own; they are in its own file.
        memory: None,
        allocator: None,
        target_gc: None,
        timeline,
    };
    Ok((metrics, spread))
}

/// One operation over every shard: histograms added, errors summed, the
/// first message of each kind from the lowest shard that has one; its
/// throughput is the sum of the shards' (each over its own measured time).
fn merge_op(parts: &[&OpMetrics], duration_s: f64) -> Result<OpMetrics, ExportError> {
    let mut corrected = new_histogram();
    let mut service = new_histogram();
    let mut errors: BTreeMap<String, u64> = BTreeMap::new();
    let mut messages: BTreeMap<String, String> = BTreeMap::new();
    for p in parts {
        add_encoded(&mut corrected, &p.histogram_corrected, &p.label)?;
        add_encoded(&mut service, &p.histogram_service, &p.label)?;
        for (kind, n) in &p.errors_by_kind {
            *errors.entry(kind.clone()).or_default() += n;
        }
        for (kind, text) in &p.first_error_messages {
            messages.entry(kind.clone()).or_insert_with(|| text.clone());
        }
    }
    let label = parts.first().map(|p| p.label.as_str()).unwrap_or("all");
    let mut op = op_metrics(label, &corrected, &service, &BTreeMap::new(), duration_s);
    let error_count: u64 = errors.values().sum();
    op.workload_id = parts
        .first()
        .map(|p| p.workload_id.clone())
        .unwrap_or_default();
    op.errors = error_count;
    op.operations = op.ok + error_count;
    op.error_rate = if op.operations > 0 {
        error_count as f64 / op.operations as f64
    } else {
        0.0
    };
    op.errors_by_kind = errors;
    op.first_error_messages = messages;
    op.throughput_msg_per_s = parts.iter().map(|p| p.throughput_msg_per_s).sum();
    parts.iter().for_each(|p| op.bytes.add_alongside(&p.bytes));
    Ok(op)
}

fn add_encoded(into: &mut Histogram<u64>, text: &str, label: &str) -> Result<(), ExportError> {
    if text.is_empty() {
        return Ok(());
    }
    let h = decode_histogram(text).map_err(|e| invalid(format!("{label}: {e}")))?;
    into.add(&h)
        .map_err(|e| invalid(format!("{label}: histogram out of bounds: {e:?}")))
}

/// Where a shard's interval falls on the merged clock: the one-second bin
/// holding its middle, counted from the earliest shard's start.
fn bin_of(t0: f64, shard_start: f64, start_s: f64, length_s: f64) -> usize {
    let offset = shard_start + start_s - t0;
    // A merged (coarser) interval of a long run is binned whole, by its
    // start: its bin is as wide as it is (`metrics::retention`).
    if length_s > 1.5 * BIN_S {
        return (offset / BIN_S).round().max(0.0) as usize;
    }
    let middle = offset + length_s / 2.0;
    (middle / BIN_S).floor().max(0.0) as usize
}

fn timeline_spread(reports: &[&RunReport]) -> Option<f64> {
    let starts: Vec<f64> = reports
        .iter()
        .map(|r| r.metrics.timeline.as_ref().map(|t| t.start_unix_s))
        .collect::<Option<_>>()?;
    let lo = starts.iter().cloned().fold(f64::INFINITY, f64::min);
    let hi = starts.iter().cloned().fold(f64::NEG_INFINITY, f64::max);
    Some(hi - lo)
}

/// The shards' interval histograms added up in one-second bins of wall
/// clock; `None` unless every shard has a timeline.
fn merge_timelines(reports: &[&RunReport]) -> Result<Option<Timeline>, ExportError> {
    let Some(timelines) = reports
        .iter()
        .map(|r| r.metrics.timeline.as_ref())
        .collect::<Option<Vec<&Timeline>>>()
    else {
        return Ok(None);
    };
    let t0 = timelines
        .iter()
        .map(|t| t.start_unix_s)
        .fold(f64::INFINITY, f64::min);
    let ops = reports[0].metrics.ops.len();
    let mut bins: BTreeMap<usize, (f64, Vec<CorrectedAndService>)> = BTreeMap::new();
    for t in &timelines {
        for interval in &t.intervals {
            let k = bin_of(t0, t.start_unix_s, interval.start_s, interval.length_s);
            let (width, bin) = bins.entry(k).or_insert_with(|| {
                let hs = (0..ops).map(|_| (new_histogram(), new_histogram()));
                (BIN_S, hs.collect())
            });
            *width = width.max(interval.length_s.round());
            for ((c, s), op) in bin.iter_mut().zip(&interval.ops) {
                c.add(op.corrected().map_err(invalid)?)
                    .map_err(|e| invalid(format!("histogram out of bounds: {e:?}")))?;
                s.add(op.service().map_err(invalid)?)
                    .map_err(|e| invalid(format!("histogram out of bounds: {e:?}")))?;
            }
        }
    }
    let encode = |h: &Histogram<u64>| {
        if h.is_empty() {
            String::new()
        } else {
            encode_histogram(h)
        }
    };
    let intervals = bins
        .into_iter()
        .map(|(k, (width, hs))| TimelineInterval {
            start_s: k as f64 * BIN_S,
            length_s: width,
            ops: hs
                .iter()
                .map(|(c, s)| OpIntervalHistograms {
                    corrected: encode(c),
                    service: encode(s),
                })
                .collect(),
        })
        .collect();
    Ok(Some(Timeline {
        start_unix_s: t0,
        intervals,
        retention: crate::metrics::retention::RETENTION_NOTE.to_string(),
    }))
}

/// The per-interval figures on the merged clock: counts and rates summed
/// per bin, percentiles from the bin's added histograms (when every shard
/// kept them).
fn merged_intervals(reports: &[&RunReport], timeline: Option<&Timeline>) -> Vec<IntervalStats> {
    let t0 = timeline.map(|t| t.start_unix_s);
    let mut bins: BTreeMap<usize, IntervalStats> = BTreeMap::new();
    for r in reports {
        let start = r.metrics.timeline.as_ref().map(|t| t.start_unix_s);
        for i in &r.metrics.intervals {
            // Without wall clocks, the shards' own clocks line up.
            let k = match (t0, start) {
                (Some(t0), Some(start)) => bin_of(t0, start, i.t_s - i.length_s, i.length_s),
                _ => bin_of(0.0, 0.0, i.t_s - i.length_s, i.length_s),
            };
            let bin = bins.entry(k).or_insert_with(|| IntervalStats {
                t_s: (k + 1) as f64 * BIN_S,
                length_s: BIN_S,
                ..IntervalStats::default()
            });
            if i.length_s.round() > bin.length_s {
                bin.length_s = i.length_s.round();
                bin.t_s = k as f64 * BIN_S + bin.length_s;
            }
            bin.completed += i.completed;
            bin.errors += i.errors;
            bin.throughput += i.throughput;
            bin.sent_rate += i.sent_rate;
            bin.bytes.add_alongside(&i.bytes);
            bin.asked_rate = match (bin.asked_rate, i.asked_rate) {
                (a, None) => a,
                (None, b) => b,
                (Some(a), Some(b)) => Some(a + b),
            };
            // Percentiles of several shards come only from added histograms.
            if reports.len() == 1 {
                bin.corrected = i.corrected;
                bin.service = i.service;
            }
        }
    }
    if let Some(t) = timeline {
        for interval in &t.intervals {
            let k = (interval.start_s / BIN_S).round() as usize;
            let Some(bin) = bins.get_mut(&k) else {
                continue;
            };
            let mut c = new_histogram();
            let mut s = new_histogram();
            for op in &interval.ops {
                if let (Ok(oc), Ok(os)) = (op.corrected(), op.service()) {
                    let _ = c.add(&oc);
                    let _ = s.add(&os);
                }
            }
            bin.corrected = percentiles(&c);
            bin.service = percentiles(&s);
        }
    }
    bins.into_values().collect()
}

/// CPU µs per request over the shards: their CPU seconds summed over their
/// requests summed; `None` unless every shard measured it.
fn merged_cpu_us_per_request(reports: &[&RunReport]) -> Option<f64> {
    let mut cpu_s = 0.0;
    let mut requests = 0u64;
    for r in reports {
        let cpu = r.metrics.generator_cpu.as_ref()?;
        cpu_s += cpu.cpu_s;
        requests += cpu.requests;
    }
    (requests > 0).then(|| cpu_s * 1e6 / requests as f64)
}

#[cfg(test)]
mod tests;
