//! HdrHistogram interval logs (`--hdr-log FILE`): the format of
//! HdrHistogram's `HistogramLogWriter`, which its `HistogramLogProcessor`,
//! the HdrHistogram plotters and other tools read. One compressed histogram
//! per measured interval and tag, written by the `hdrhistogram` crate's
//! interval-log writer from the result's timeline, and read back by
//! `mcptop report FILE.hlog`.
//!
//! Tags: none for every operation's corrected latency (what HdrHistogram's
//! tools show by default), `service` for every operation's service time,
//! `op.LABEL` and `service.op.LABEL` for one operation (a label's commas and
//! blanks become `_`, since a tag cannot hold them). Values are
//! microseconds; the `Interval_Max` column is in milliseconds.

use super::ExportError;
use crate::metrics::timeline::Timeline;
use crate::metrics::units::fmt_us;
use crate::metrics::{new_histogram, percentiles};
use crate::report::RunReport;
use hdrhistogram::serialization::interval_log::{
    IntervalLogIterator, IntervalLogWriterBuilder, LogEntry, Tag,
};
use hdrhistogram::serialization::{Deserializer, V2DeflateSerializer};
use hdrhistogram::Histogram;
use std::collections::BTreeMap;
use std::fmt::Write;
use std::time::{Duration, UNIX_EPOCH};

/// The tag of every operation's service time.
pub const SERVICE_TAG: &str = "service";
/// The `Interval_Max` column: microseconds / 1000 = milliseconds, as
/// HdrHistogram's own logs show milliseconds there.
const MAX_VALUE_DIVISOR: f64 = 1000.0;
const LEGEND: &str =
    "\"StartTimestamp\",\"Interval_Length\",\"Interval_Max\",\"Interval_Compressed_Histogram\"\n";

/// The tag of one operation's corrected latency.
pub fn op_tag(label: &str) -> String {
    format!("op.{}", tag_text(label))
}

/// The tag of one operation's service time.
pub fn service_op_tag(label: &str) -> String {
    format!("{SERVICE_TAG}.{}", op_tag(label))
}

fn tag_text(label: &str) -> String {
    label
        .chars()
        .map(|c| {
            if c == ',' || c.is_whitespace() {
                '_'
            } else {
                c
            }
        })
        .collect()
}

/// The interval log of a run, from its result.
pub fn write(report: &RunReport) -> Result<Vec<u8>, ExportError> {
    let timeline = report.metrics.timeline.as_ref().ok_or_else(|| {
        ExportError::Invalid(format!(
            "the result of {} has no interval histograms (written by an older mcptop); \
             run it again to get an HDR log",
            report.workload_id
        ))
    })?;
    let start = UNIX_EPOCH + Duration::from_secs_f64(timeline.start_unix_s.max(0.0));
    let mut out = Vec::new();
    let mut serializer = V2DeflateSerializer::new();
    IntervalLogWriterBuilder::new()
        .add_comment(&format!(
            "mcptop {}: {} -> {}",
            report.environment.mcptop_version, report.workload_id, report.environment.target
        ))
        .add_comment("values in microseconds; untagged: all operations, latency from the planned start; service: from the actual send; op.LABEL: one operation")
        .add_comment("[Histogram log format version 1.3]")
        .with_start_time(start)
        .with_base_time(start)
        .begin_log_with(&mut out, &mut serializer)
        .map_err(|e| ExportError::Invalid(format!("cannot write the log: {e}")))?;
    // The legend goes after the times, as HdrHistogram's own writer puts it.
    out.extend_from_slice(LEGEND.as_bytes());
    let labels: Vec<&str> = report
        .metrics
        .ops
        .iter()
        .map(|o| o.label.as_str())
        .collect();
    write_intervals(&mut out, timeline, &labels)?;
    Ok(out)
}

fn write_intervals(
    out: &mut Vec<u8>,
    timeline: &Timeline,
    labels: &[&str],
) -> Result<(), ExportError> {
    let mut serializer = V2DeflateSerializer::new();
    let mut writer = IntervalLogWriterBuilder::new()
        .with_max_value_divisor(MAX_VALUE_DIVISOR)
        .begin_log_with(out, &mut serializer)
        .map_err(|e| ExportError::Invalid(format!("cannot write the log: {e}")))?;
    let op_tags: Vec<(String, String)> = labels
        .iter()
        .map(|l| (op_tag(l), service_op_tag(l)))
        .collect();
    for interval in &timeline.intervals {
        let start = Duration::from_secs_f64(interval.start_s.max(0.0));
        let length = Duration::from_secs_f64(interval.length_s.max(0.0));
        let mut all = new_histogram();
        let mut all_service = new_histogram();
        let mut tagged = Vec::new();
        for (op, (tag, service_tag)) in interval.ops.iter().zip(&op_tags) {
            let c = op.corrected().map_err(ExportError::Invalid)?;
            let s = op.service().map_err(ExportError::Invalid)?;
            add(&mut all, &c)?;
            add(&mut all_service, &s)?;
            if !c.is_empty() {
                tagged.push((tag.as_str(), service_tag.as_str(), c, s));
            }
        }
        let mut put = |h: &Histogram<u64>, tag: Option<&str>| {
            writer
                .write_histogram(h, start, length, tag.and_then(Tag::new))
                .map_err(|e| ExportError::Invalid(format!("cannot write the log: {e}")))
        };
        put(&all, None)?;
        put(&all_service, Some(SERVICE_TAG))?;
        for (tag, service_tag, c, s) in &tagged {
            put(c, Some(tag))?;
            put(s, Some(service_tag))?;
        }
    }
    Ok(())
}

fn add(into: &mut Histogram<u64>, h: &Histogram<u64>) -> Result<(), ExportError> {
    into.add(h)
        .map_err(|e| ExportError::Invalid(format!("histogram out of bounds: {e:?}")))
}

/// What an interval log holds, added up per tag.
#[derive(Debug, Clone)]
pub struct LogSummary {
    pub start_unix_s: Option<f64>,
    /// Seconds from the first interval's start to the last one's end.
    pub span_s: f64,
    /// By tag; `""` is the untagged histograms.
    pub tags: BTreeMap<String, TagTotal>,
}

#[derive(Debug, Clone)]
pub struct TagTotal {
    pub intervals: usize,
    pub histogram: Histogram<u64>,
}

/// Reads an interval log (any HdrHistogram writer's) and adds up each tag's
/// intervals.
pub fn read(bytes: &[u8]) -> Result<LogSummary, String> {
    let mut summary = LogSummary {
        start_unix_s: None,
        span_s: 0.0,
        tags: BTreeMap::new(),
    };
    let mut first_start: Option<f64> = None;
    let mut last_end = 0.0f64;
    let mut deserializer = Deserializer::new();
    for (n, entry) in IntervalLogIterator::new(bytes).enumerate() {
        let entry = entry.map_err(|e| format!("not an HdrHistogram interval log: {e:?}"))?;
        let interval = match entry {
            LogEntry::StartTime(t) => {
                summary.start_unix_s = Some(t.as_secs_f64());
                continue;
            }
            LogEntry::BaseTime(_) => continue,
            LogEntry::Interval(i) => i,
        };
        use base64::Engine;
        let raw = base64::engine::general_purpose::STANDARD
            .decode(interval.encoded_histogram())
            .map_err(|e| format!("histogram {} is not base64: {e}", n + 1))?;
        let h: Histogram<u64> = deserializer
            .deserialize(&mut std::io::Cursor::new(raw))
            .map_err(|e| format!("histogram {} cannot be read: {e:?}", n + 1))?;
        let tag = interval.tag().map(|t| t.as_str().to_string());
        let total = summary
            .tags
            .entry(tag.unwrap_or_default())
            .or_insert_with(|| TagTotal {
                intervals: 0,
                histogram: new_histogram(),
            });
        total
            .histogram
            .add(&h)
            .map_err(|e| format!("histogram {} out of bounds: {e:?}", n + 1))?;
        total.intervals += 1;
        let start = interval.start_timestamp().as_secs_f64();
        first_start = Some(first_start.map_or(start, |f| f.min(start)));
        last_end = last_end.max(start + interval.duration().as_secs_f64());
    }
    if summary.tags.is_empty() {
        return Err("not an HdrHistogram interval log: no interval histogram in it".into());
    }
    summary.span_s = last_end - first_start.unwrap_or(0.0);
    Ok(summary)
}

/// True when a file looks like an interval log rather than a result file.
pub fn looks_like_log(bytes: &[u8]) -> bool {
    let first = bytes.iter().find(|b| !b.is_ascii_whitespace());
    !matches!(first, Some(b'{') | None)
}

/// One line per tag: count and percentiles of its intervals added up.
pub fn summary_text(path: &str, log: &LogSummary) -> String {
    let mut out = String::new();
    let _ = writeln!(
        out,
        "{path}: HdrHistogram interval log, {:.1} s of intervals{}",
        log.span_s,
        log.start_unix_s
            .map(|s| format!(
                ", started {}",
                humantime::format_rfc3339_seconds(UNIX_EPOCH + Duration::from_secs_f64(s.max(0.0)))
            ))
            .unwrap_or_default()
    );
    let width = log.tags.keys().map(|t| t.len()).max().unwrap_or(0).max(9);
    let _ = writeln!(
        out,
        "\n{:<width$} {:>9} {:>9} {:>9} {:>9} {:>9} {:>9} {:>9}",
        "tag", "intervals", "count", "p50", "p90", "p99", "p99.9", "max"
    );
    for (tag, total) in &log.tags {
        let p = percentiles(&total.histogram);
        let _ = writeln!(
            out,
            "{:<width$} {:>9} {:>9} {:>9} {:>9} {:>9} {:>9} {:>9}",
            if tag.is_empty() { "(untagged)" } else { tag },
            total.intervals,
            total.histogram.len(),
            fmt_us(p.p50_us),
            fmt_us(p.p90_us),
            fmt_us(p.p99_us),
            fmt_us(p.p999_us),
            fmt_us(p.max_us)
        );
    }
    out.push_str("(microseconds; untagged = all operations from the planned start)\n");
    out
}

#[cfg(test)]
mod tests;
