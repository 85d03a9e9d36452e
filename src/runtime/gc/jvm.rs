//! The JVM's unified GC log (`-Xlog:gc:stderr:uptime,timemillis,level,tags`
//! as mcptop asks for it, JDK 9 and later; the default decorations, without
//! `timemillis`, read the same):
//!
//! ```text
//! [0.004s][info][gc] Using G1
//! [0.042s][info][gc] GC(0) Pause Young (Normal) (G1 Evacuation Pause) 6M->1M(64M) 1.561ms
//! [1.033s][1764500000123ms][info][gc] GC(1) Pause Young (Normal) (G1 Evacuation Pause) 6M->3M(32M) 4.871ms
//! [0.194s][info][gc] GC(0) Garbage Collection (Warmup) 62M(97%)->34M(53%)
//! ```
//!
//! Every `Pause ...` line (G1, Serial, Parallel, Shenandoah) is a collection
//! with its pause; ZGC's `Garbage Collection` lines are collections whose
//! (sub-millisecond) pauses are logged only under `gc+phases`, so they carry
//! none. Other lines of the `gc` tag (concurrent phases, heuristics) are
//! reports without a figure. With `timemillis`, a pause started one pause
//! before its line was logged. The JVM also echoes `JAVA_TOOL_OPTIONS` on
//! stderr: that line is given back as it would have read without mcptop's
//! additions. Real lines are in `tests/fixtures/gc/jvm-*.log`.

use super::{millis, unix_millis, GcEvent, GcNote, Line};
use std::time::SystemTime;

/// The line the JVM prints when `JAVA_TOOL_OPTIONS` is set.
pub const PICKED_UP: &str = "Picked up JAVA_TOOL_OPTIONS: ";

const LEVELS: [&str; 5] = ["trace", "debug", "info", "warning", "error"];

/// `JAVA_TOOL_OPTIONS` as the user had it, and what mcptop appended.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct ToolOptions {
    pub original: Option<String>,
    pub added: String,
}

pub fn classify(line: &str, options: &ToolOptions) -> Line {
    if let Some(value) = line.strip_prefix(PICKED_UP) {
        return picked_up(value, options);
    }
    let Some((message, logged)) = gc_message(line) else {
        return Line::Other;
    };
    Line::Report(note(message, logged))
}

/// The JVM's echo of `JAVA_TOOL_OPTIONS`, without what mcptop added.
fn picked_up(value: &str, options: &ToolOptions) -> Line {
    if options.added.is_empty() {
        return Line::Other;
    }
    match options.original.as_deref().filter(|o| !o.trim().is_empty()) {
        None if value.trim() == options.added.trim() => Line::Report(GcNote::Other),
        Some(original) if value.trim_end().ends_with(options.added.trim()) => {
            Line::Rewritten(format!("{PICKED_UP}{original}"))
        }
        _ => Line::Other,
    }
}

/// Milliseconds since the epoch from here on are a wall-clock time (the
/// `timemillis` decoration), below it an uptime (`uptimemillis`).
const EPOCH_MS_FLOOR: f64 = 1e11;

/// The message of a unified-logging line whose tags start with `gc`, and
/// when it was logged by the wall clock (the `timemillis` decoration, which
/// mcptop asks for), if it says.
fn gc_message(line: &str) -> Option<(&str, Option<SystemTime>)> {
    let mut rest = line;
    let mut level = false;
    let mut gc_tag = false;
    let mut logged = None;
    while let Some(inner) = rest.strip_prefix('[') {
        let (decoration, after) = inner.split_once(']')?;
        let decoration = decoration.trim();
        if LEVELS.contains(&decoration) {
            level = true;
        } else if decoration.split(',').next().map(str::trim) == Some("gc") {
            gc_tag = true;
        } else if let Some(ms) = decoration
            .strip_suffix("ms")
            .and_then(|ms| ms.parse::<f64>().ok())
            .filter(|ms| *ms >= EPOCH_MS_FLOOR)
        {
            logged = unix_millis(ms);
        }
        rest = after;
    }
    (level && gc_tag && rest.len() < line.len()).then(|| (rest.trim_start(), logged))
}

/// A collection's report logged at `logged` (its end): it started one
/// pause earlier.
fn note(message: &str, logged: Option<SystemTime>) -> GcNote {
    if message.starts_with("Using ") {
        return GcNote::Reporting { pid: 0 };
    }
    // "GC(12) Pause Young (Normal) (G1 Evacuation Pause) 6M->1M(64M) 1.561ms"
    let body = match message.strip_prefix("GC(") {
        Some(rest) => match rest.split_once(") ") {
            Some((n, body)) if n.parse::<u64>().is_ok() => body,
            _ => return GcNote::Other,
        },
        None => return GcNote::Other,
    };
    if let Some(pause) = body.strip_prefix("Pause ") {
        let Some(time) = body.rsplit(' ').next().and_then(|t| t.strip_suffix("ms")) else {
            return GcNote::Other;
        };
        let Some(pause_time) = millis(time) else {
            return GcNote::Other;
        };
        let (before, after) = heap_change(body);
        return GcNote::Collection(GcEvent {
            pid: 0,
            pause: Some(pause_time),
            kind: pause
                .split_whitespace()
                .next()
                .unwrap_or("pause")
                .to_lowercase(),
            heap_before_bytes: before,
            heap_after_bytes: after,
            started: logged.and_then(|t| t.checked_sub(pause_time)),
        });
    }
    if body.starts_with("Garbage Collection ") {
        let (before, after) = heap_change(body);
        return GcNote::Collection(GcEvent {
            pid: 0,
            pause: None,
            kind: "cycle".into(),
            heap_before_bytes: before,
            heap_after_bytes: after,
            started: logged,
        });
    }
    GcNote::Other
}

/// `6M->1M(64M)` or `62M(97%)->34M(53%)`: the heap before and after.
fn heap_change(body: &str) -> (Option<u64>, Option<u64>) {
    let Some(word) = body.split_whitespace().find(|w| w.contains("->")) else {
        return (None, None);
    };
    let (before, after) = word.split_once("->").unwrap_or((word, ""));
    (size(before), size(after))
}

/// `64M`, `512K`, `1G`, `100B`, with anything from `(` on ignored.
fn size(text: &str) -> Option<u64> {
    let text = text.split('(').next()?.trim();
    let unit = text.chars().last()?;
    let factor: u64 = match unit {
        'B' => 1,
        'K' => 1 << 10,
        'M' => 1 << 20,
        'G' => 1 << 30,
        'T' => 1 << 40,
        _ => return None,
    };
    let number: f64 = text[..text.len() - 1].parse().ok()?;
    (number.is_finite() && number >= 0.0).then(|| (number * factor as f64).round() as u64)
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::Duration;

    fn ours() -> ToolOptions {
        ToolOptions {
            original: None,
            added: "-Xlog:gc:stderr".into(),
        }
    }

    /// The fixture's lines (comments left out), classified, and its pauses.
    fn fixture(name: &str) -> (Vec<Line>, Vec<GcEvent>) {
        let path = std::path::Path::new(env!("CARGO_MANIFEST_DIR"))
            .join("tests/fixtures/gc")
            .join(name);
        let text = std::fs::read_to_string(&path).expect("fixture");
        let lines: Vec<Line> = text
            .lines()
            .filter(|l| !l.starts_with('#'))
            .map(|l| classify(l, &ours()))
            .collect();
        let events = lines
            .iter()
            .filter_map(|l| match l {
                Line::Report(GcNote::Collection(e)) => Some(e.clone()),
                _ => None,
            })
            .collect();
        (lines, events)
    }

    fn pause_lines(name: &str) -> usize {
        let path = std::path::Path::new(env!("CARGO_MANIFEST_DIR"))
            .join("tests/fixtures/gc")
            .join(name);
        let text = std::fs::read_to_string(path).expect("fixture");
        text.lines()
            .filter(|l| l.contains("] GC(") && l.contains(" Pause "))
            .count()
    }

    #[test]
    fn every_line_of_the_jdk_17_logs_is_a_report_and_every_pause_is_counted() {
        for gc in ["g1", "serial", "parallel", "shenandoah"] {
            let name = format!("jvm-17-{gc}.log");
            let (lines, events) = fixture(&name);
            // The echo of mcptop's own option and every log line leave the stderr.
            assert!(
                lines.iter().all(|l| matches!(l, Line::Report(_))),
                "{name}: {lines:?}"
            );
            assert!(lines.contains(&Line::Report(GcNote::Reporting { pid: 0 })));
            assert_eq!(events.len(), pause_lines(&name), "{name}");
            assert!(events.iter().all(|e| e.pause.is_some()), "{name}");
        }
    }

    #[test]
    fn g1_pauses_with_their_heap_change() {
        let (_, events) = fixture("jvm-17-g1.log");
        // [0.033s][info][gc] GC(0) Pause Young (Normal) (G1 Evacuation Pause) 23M->17M(64M) ...
        let first = &events[0];
        assert_eq!(first.kind, "young");
        assert!(first
            .heap_before_bytes
            .is_some_and(|b| b > first.heap_after_bytes.unwrap_or(0)));
        assert!(events.iter().any(|e| e.kind == "remark"));
        assert!(events.iter().any(|e| e.kind == "cleanup"));
    }

    #[test]
    fn zgc_cycles_are_collections_without_a_pause() {
        let (lines, events) = fixture("jvm-17-zgc.log");
        assert!(lines.iter().all(|l| matches!(l, Line::Report(_))));
        assert!(!events.is_empty());
        assert!(events
            .iter()
            .all(|e| e.pause.is_none() && e.kind == "cycle"));
        // GC(0) Garbage Collection (Warmup) 62M(97%)->34M(53%)
        assert!(events[0].heap_before_bytes.is_some() && events[0].heap_after_bytes.is_some());
    }

    #[test]
    fn reads_one_pause_exactly() {
        let line = "[0.042s][info][gc] GC(0) Pause Young (Normal) (G1 Evacuation Pause) 6M->1M(64M) 1.561ms";
        let Line::Report(GcNote::Collection(e)) = classify(line, &ours()) else {
            panic!("not a pause");
        };
        assert_eq!(e.pause, Some(Duration::from_micros(1561)));
        assert_eq!(e.heap_before_bytes, Some(6 << 20));
        assert_eq!(e.heap_after_bytes, Some(1 << 20));
        assert_eq!(size("512K"), Some(512 << 10));
        assert_eq!(size("62M(97%)"), Some(62 << 20));
        assert_eq!(e.started, None, "no wall clock in the default decorations");
    }

    #[test]
    fn with_timemillis_a_pause_started_one_pause_before_it_was_logged() {
        let line = "[1.033s][1764500000123ms][info][gc] GC(0) Pause Young (Normal) \
                    (G1 Evacuation Pause) 6M->3M(32M) 4.871ms";
        let Line::Report(GcNote::Collection(e)) = classify(line, &ours()) else {
            panic!("not a pause");
        };
        assert_eq!(e.pause, Some(Duration::from_micros(4871)));
        let logged = std::time::UNIX_EPOCH + Duration::from_millis(1_764_500_000_123);
        assert_eq!(e.started, Some(logged - Duration::from_micros(4871)));
        // `uptimemillis` looks alike but is no wall clock.
        let line = "[1033ms][info][gc] GC(0) Pause Young (Normal) (G1 Evacuation Pause) 6M->3M(32M) 4.871ms";
        let Line::Report(GcNote::Collection(e)) = classify(line, &ours()) else {
            panic!("not a pause");
        };
        assert_eq!(e.started, None);
    }

    #[test]
    fn the_option_echo_reads_as_the_user_set_it() {
        let user = ToolOptions {
            original: Some("-Xmx1g".into()),
            added: "-Xlog:gc:stderr".into(),
        };
        assert_eq!(
            classify("Picked up JAVA_TOOL_OPTIONS: -Xmx1g -Xlog:gc:stderr", &user),
            Line::Rewritten("Picked up JAVA_TOOL_OPTIONS: -Xmx1g".into())
        );
        assert_eq!(
            classify("Picked up JAVA_TOOL_OPTIONS: -Xlog:gc:stderr", &ours()),
            Line::Report(GcNote::Other)
        );
        // Nothing added by mcptop: the line is the user's own.
        assert_eq!(
            classify(
                "Picked up JAVA_TOOL_OPTIONS: -Xmx1g",
                &ToolOptions::default()
            ),
            Line::Other
        );
    }

    #[test]
    fn lines_of_other_tags_and_plain_brackets_are_not_reports() {
        for line in [
            "[info] server started",
            "[0.1s][info][safepoint] Safepoint \"Cleanup\"",
            "[2024-01-01 10:00:00] GC(1) Pause Young 1ms",
            "[gc] hello",
            "Exception in thread \"main\" java.lang.OutOfMemoryError",
        ] {
            assert_eq!(classify(line, &ours()), Line::Other, "{line}");
        }
    }
}
