//! Reading a runtime's own GC reports, one stderr line at a time. Each
//! runtime speaks its own format (`go`: `GODEBUG=gctrace=1`; `jvm`: unified
//! logging `-Xlog:gc`; `hook`: the lines mcptop's Node and Python hooks
//! write); every one is turned into the same `GcNote`. A line that is not a
//! GC report is `Line::Other` and goes on to the kept stderr untouched.

pub mod go;
pub mod hook;
pub mod jvm;

use crate::workload::runtime::Runtime;
use std::time::Duration;

/// One garbage collection, as its runtime reported it.
#[derive(Debug, Clone, PartialEq)]
pub struct GcEvent {
    /// The reporting process (0 when the format does not say: one process
    /// per stderr stream is assumed).
    pub pid: u32,
    /// The stop-the-world time: `None` for a collection that reports no
    /// pause (ZGC's concurrent cycles).
    pub pause: Option<Duration>,
    /// The runtime's own name for the kind: `minor`, `major`, `gen0`,
    /// `young`, `full`, `gc`, `forced` ...
    pub kind: String,
    pub heap_before_bytes: Option<u64>,
    pub heap_after_bytes: Option<u64>,
    /// When the collection started, by the runtime's own wall clock, where
    /// its report says (the hooks, the JVM's `timemillis` decoration); else
    /// the collection is placed when its report is read.
    pub started: Option<std::time::SystemTime>,
}

/// Milliseconds since the Unix epoch as a wall-clock time; `None` when not
/// a plausible one.
pub fn unix_millis(ms: f64) -> Option<std::time::SystemTime> {
    // To the microsecond: exact in an f64 for any date this century.
    (ms.is_finite() && ms > 0.0)
        .then(|| std::time::UNIX_EPOCH + Duration::from_micros((ms * 1e3).round() as u64))
}

/// What a GC report line says.
#[derive(Debug, Clone, PartialEq)]
pub enum GcNote {
    /// The runtime says its GC reporting is on (no collection yet).
    Reporting {
        pid: u32,
    },
    Collection(GcEvent),
    /// Part of the GC report that carries no figure (a phase, a heuristic).
    Other,
}

/// One line of a child's stderr, classified.
#[derive(Debug, Clone, PartialEq)]
pub enum Line {
    /// Not a GC report: kept as it is.
    Other,
    /// A GC report: taken out of the kept stderr.
    Report(GcNote),
    /// A line mcptop changed by asking for GC reports (the JVM's
    /// `Picked up JAVA_TOOL_OPTIONS:`): kept as it would have been.
    Rewritten(String),
}

/// How GC reports look on one target's stderr.
#[derive(Debug, Clone, PartialEq)]
pub enum GcFormat {
    /// mcptop's Node (`perf_hooks`) and Python (`gc.callbacks`) hooks.
    Hook,
    /// `GODEBUG=gctrace=1`.
    GoTrace,
    /// JVM unified logging with default decorations, with what mcptop
    /// added to `JAVA_TOOL_OPTIONS` (to restore the JVM's echo of it).
    JvmLog(jvm::ToolOptions),
}

impl GcFormat {
    /// The format a runtime reports in once mcptop turned reporting on.
    pub fn for_runtime(runtime: Runtime, tool_options: jvm::ToolOptions) -> Option<GcFormat> {
        match runtime {
            Runtime::Node | Runtime::Python => Some(GcFormat::Hook),
            Runtime::Go => Some(GcFormat::GoTrace),
            Runtime::Jvm => Some(GcFormat::JvmLog(tool_options)),
            Runtime::Native => None,
        }
    }

    /// Reads one line (without its line end).
    pub fn classify(&self, line: &str) -> Line {
        match self {
            GcFormat::Hook => hook::classify(line),
            GcFormat::GoTrace => go::classify(line),
            GcFormat::JvmLog(options) => jvm::classify(line, options),
        }
    }

    /// True while `start` (the beginning of a line, possibly all of it so
    /// far) could still become a GC report: such a line is held until its
    /// end; any other goes on at once.
    pub fn may_start(&self, start: &[u8]) -> bool {
        let prefixes: &[&[u8]] = match self {
            GcFormat::Hook => &[hook::PREFIX.as_bytes()],
            GcFormat::GoTrace => &[b"gc ", b"scvg", b"GC forced"],
            GcFormat::JvmLog(_) => &[b"[", jvm::PICKED_UP.as_bytes()],
        };
        prefixes.iter().any(|p| {
            let n = p.len().min(start.len());
            start[..n] == p[..n]
        })
    }
}

/// `text` as a number of milliseconds, to a duration (negative or not a
/// number: `None`).
pub fn millis(text: &str) -> Option<Duration> {
    let ms: f64 = text.trim().parse().ok()?;
    (ms.is_finite() && ms >= 0.0).then(|| Duration::from_secs_f64(ms / 1000.0))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn lines_are_held_only_while_they_may_become_a_report() {
        let go = GcFormat::GoTrace;
        assert!(go.may_start(b""));
        assert!(go.may_start(b"g"));
        assert!(go.may_start(b"gc 12 @"));
        assert!(!go.may_start(b"go: starting"));
        assert!(go.may_start(b"scv"));
        let hook = GcFormat::Hook;
        assert!(hook.may_start(b"mcptop-g"));
        assert!(!hook.may_start(b"mcptop: hi"));
        let jvm = GcFormat::JvmLog(jvm::ToolOptions::default());
        assert!(jvm.may_start(b"[0.1s]"));
        assert!(jvm.may_start(b"Picked"));
        assert!(!jvm.may_start(b"Exception in thread"));
    }

    #[test]
    fn milliseconds_read_as_durations() {
        assert_eq!(millis("1.5"), Some(Duration::from_micros(1500)));
        assert_eq!(millis("-1"), None);
        assert_eq!(millis("x"), None);
    }
}
