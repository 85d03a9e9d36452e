//! The lines mcptop's own GC hooks write (`hooks/node_gc.cjs` for Node,
//! `hooks/sitecustomize.py` for Python), one per event:
//!
//! ```text
//! mcptop-gc: reporting runtime=node pid=4242
//! mcptop-gc: pause pid=4242 us=812.5 kind=minor t=1764500000123.456
//! mcptop-gc: pause pid=4243 us=41.0 kind=gen0 collected=120 t=1764500000200.001
//! ```
//!
//! `t` is when the collection started, in milliseconds since the Unix epoch
//! by the runtime's clock.
//!
//! Fields are `key=value` words; unknown keys are ignored so a hook may say
//! more later.

use super::{GcEvent, GcNote, Line};
use std::time::Duration;

/// What every hook line starts with.
pub const PREFIX: &str = "mcptop-gc: ";

pub fn classify(line: &str) -> Line {
    let Some(rest) = line.strip_prefix(PREFIX) else {
        return Line::Other;
    };
    let mut words = rest.split_whitespace();
    let what = words.next().unwrap_or("");
    let field = |name: &str| {
        rest.split_whitespace()
            .filter_map(|w| w.split_once('='))
            .find(|(k, _)| *k == name)
            .map(|(_, v)| v)
    };
    let pid = field("pid").and_then(|p| p.parse().ok()).unwrap_or(0);
    let note = match what {
        "reporting" => GcNote::Reporting { pid },
        "pause" => match field("us").and_then(|us| us.parse::<f64>().ok()) {
            Some(us) if us.is_finite() && us >= 0.0 => GcNote::Collection(GcEvent {
                pid,
                pause: Some(Duration::from_secs_f64(us / 1e6)),
                kind: field("kind").unwrap_or("gc").to_string(),
                heap_before_bytes: field("heap_before").and_then(|b| b.parse().ok()),
                heap_after_bytes: field("heap_after").and_then(|b| b.parse().ok()),
                started: field("t")
                    .and_then(|t| t.parse::<f64>().ok())
                    .and_then(super::unix_millis),
            }),
            // Ours, but unreadable: out of the stderr, and no figure.
            _ => GcNote::Other,
        },
        _ => GcNote::Other,
    };
    Line::Report(note)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_the_hooks_lines() {
        assert_eq!(
            classify("mcptop-gc: reporting runtime=node pid=4242"),
            Line::Report(GcNote::Reporting { pid: 4242 })
        );
        let Line::Report(GcNote::Collection(e)) =
            classify("mcptop-gc: pause pid=7 us=812.5 kind=minor")
        else {
            panic!("not a collection");
        };
        assert_eq!(e.pid, 7);
        assert_eq!(e.pause, Some(Duration::from_nanos(812_500)));
        assert_eq!(e.kind, "minor");
        assert_eq!(e.heap_after_bytes, None);
        assert_eq!(e.started, None, "no t=: placed when read");
        let Line::Report(GcNote::Collection(e)) =
            classify("mcptop-gc: pause pid=7 us=1 kind=gen0 t=1764500000123.5")
        else {
            panic!("not a collection");
        };
        assert_eq!(
            e.started,
            Some(std::time::UNIX_EPOCH + Duration::from_micros(1_764_500_000_123_500))
        );
        assert_eq!(
            classify("mcptop-gc: pause pid=7 us=nan kind=minor"),
            Line::Report(GcNote::Other)
        );
        assert_eq!(classify("mcptop-gcx pause"), Line::Other);
        assert_eq!(classify("server: pause pid=7 us=1"), Line::Other);
    }
}
