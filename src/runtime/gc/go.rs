//! Go's `GODEBUG=gctrace=1` lines, as documented in `runtime/extern.go`:
//!
//! ```text
//! gc # @#s #%: #+#+# ms clock, #+#/#/#+# ms cpu, #->#-># MB, # MB goal, [# MB stacks, # MB globals,] # P [(forced)]
//! ```
//!
//! The clock phases are STW sweep termination, concurrent mark and scan,
//! and STW mark termination: the pause is the first plus the last. The heap
//! triple is the heap at GC start, at GC end and the live heap; "before" is
//! the first and "after" the live heap (what the collection kept). Go's
//! "MB" is 2^20 bytes. `scvg` lines (the scavenger's summary, which
//! gctrace also turns on in older releases) and `GC forced` (the periodic
//! forced collection announcing itself) are reports without a figure.
//! Real lines of each release are in `tests/fixtures/gc/go-*.log`, each
//! with where it was captured.

use super::{millis, GcEvent, GcNote, Line};

const MIB: f64 = 1024.0 * 1024.0;

pub fn classify(line: &str) -> Line {
    // The scavenger's summary, and the periodic forced GC announcing itself.
    if (line.starts_with("scvg") && line.contains(':')) || line == "GC forced" {
        return Line::Report(GcNote::Other);
    }
    match parse(line) {
        Some(event) => Line::Report(GcNote::Collection(event)),
        None => Line::Other,
    }
}

fn parse(line: &str) -> Option<GcEvent> {
    let rest = line.strip_prefix("gc ")?;
    let (number, rest) = rest.split_once(" @")?;
    number.parse::<u64>().ok()?;
    let (_, rest) = rest.split_once("%: ")?;
    let mut parts = rest.split(", ");
    let clock = parts.next()?.strip_suffix(" ms clock")?;
    let phases: Vec<&str> = clock.split('+').collect();
    if phases.len() < 2 {
        return None;
    }
    let pause = millis(phases[0])? + millis(phases[phases.len() - 1])?;
    parts.next()?.strip_suffix(" ms cpu")?;
    let heap = parts.next()?.strip_suffix(" MB")?;
    let sizes: Vec<Option<u64>> = heap.split("->").map(mebibytes).collect();
    let (before, live) = match sizes.as_slice() {
        [before, _, live] => (*before, *live),
        _ => (None, None),
    };
    Some(GcEvent {
        pid: 0,
        pause: Some(pause),
        kind: if line.trim_end().ends_with("(forced)") {
            "forced"
        } else {
            "gc"
        }
        .to_string(),
        heap_before_bytes: before,
        heap_after_bytes: live,
        // `@12.3s` counts from the program's start, which mcptop does not
        // know to better than a clock tick: placed when read.
        started: None,
    })
}

fn mebibytes(text: &str) -> Option<u64> {
    let mb: f64 = text.trim().parse().ok()?;
    (mb.is_finite() && mb >= 0.0).then(|| (mb * MIB).round() as u64)
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::Duration;

    /// Every line of a fixture file that is not a comment, classified.
    fn fixture(name: &str) -> Vec<Line> {
        let path = std::path::Path::new(env!("CARGO_MANIFEST_DIR"))
            .join("tests/fixtures/gc")
            .join(name);
        let text = std::fs::read_to_string(&path).expect("fixture");
        text.lines()
            .filter(|l| !l.starts_with('#') && !l.is_empty())
            .map(classify)
            .collect()
    }

    fn events(lines: &[Line]) -> Vec<&GcEvent> {
        lines
            .iter()
            .filter_map(|l| match l {
                Line::Report(GcNote::Collection(e)) => Some(e),
                _ => None,
            })
            .collect()
    }

    #[test]
    fn go_1_6_scavenger_lines_are_reports_without_figures() {
        let lines = fixture("go-1.6.log");
        assert_eq!(lines.len(), 3);
        assert!(lines.iter().all(|l| *l == Line::Report(GcNote::Other)));
    }

    #[test]
    fn go_1_7_lines_without_stacks_and_globals() {
        let lines = fixture("go-1.7.log");
        let e = events(&lines);
        assert_eq!(e.len(), 4);
        // gc 1 @0.011s 1%: 0.13+16+0.24 ms clock, ..., 16->16->16 MB, 17 MB goal, 40 P
        assert_eq!(e[0].pause, Some(Duration::from_micros(130 + 240)));
        assert_eq!(e[0].heap_before_bytes, Some(16 << 20));
        assert_eq!(e[0].heap_after_bytes, Some(16 << 20));
        assert_eq!(e[3].heap_before_bytes, Some(47 << 20));
        assert!(e.iter().all(|e| e.kind == "gc" && e.pid == 0));
    }

    #[test]
    fn go_1_13_announces_forced_collections_on_a_line_of_their_own() {
        let lines = fixture("go-1.13.log");
        assert_eq!(lines[0], Line::Report(GcNote::Other));
        let e = events(&lines);
        assert_eq!(e.len(), 1);
        assert_eq!(e[0].pause, Some(Duration::from_micros(73)));
    }

    #[test]
    fn go_1_19_forced_collections() {
        let lines = fixture("go-1.19.log");
        let e = events(&lines);
        assert_eq!(e.len(), 2);
        assert_eq!(e[0].kind, "gc");
        assert_eq!(e[1].kind, "forced");
        // 0.040+111+0.004 ms clock
        assert_eq!(e[1].pause, Some(Duration::from_micros(44)));
        assert_eq!(e[1].heap_after_bytes, Some(1525 << 20));
    }

    #[test]
    fn go_1_22_lines_with_stacks_and_globals_among_the_programs_own() {
        let lines = fixture("go-1.22.log");
        assert_eq!(lines[0], Line::Other);
        assert_eq!(lines[2], Line::Other);
        let e = events(&lines);
        assert_eq!(e.len(), 1);
        // 0.012+0.15+0.003 ms clock
        assert_eq!(e[0].pause, Some(Duration::from_micros(15)));
        assert_eq!(e[0].heap_before_bytes, Some(4 << 20));
    }

    #[test]
    fn go_1_25_lines() {
        let lines = fixture("go-1.25.log");
        let e = events(&lines);
        assert_eq!(e.len(), 5);
        // 0.20+3.9+1.2 ms clock, ..., 14->16->10 MB
        let last = e[4];
        assert_eq!(last.pause, Some(Duration::from_micros(1400)));
        assert_eq!(last.heap_before_bytes, Some(14 << 20));
        assert_eq!(last.heap_after_bytes, Some(10 << 20));
    }

    #[test]
    fn lines_that_only_look_alike_are_not_reports() {
        for line in [
            "gc is fun",
            "gc 1 @0.1s 0%: oops",
            "go: downloading x",
            "GC forced!",
            "gc 1 @0.011s 1%: 0.13 ms clock, 0.41 ms cpu, 16->16->16 MB, 17 MB goal, 40 P",
        ] {
            assert_eq!(classify(line), Line::Other, "{line}");
        }
    }
}
