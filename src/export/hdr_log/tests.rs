//! The interval log round trip: written from a result, read back, each tag's
//! intervals add up to the result's histograms, percentiles and all.

use super::*;
use crate::export::test_runs::{run, TWO_OPS};
use crate::metrics::decode_histogram;

fn same_percentiles(a: &Histogram<u64>, b: &Histogram<u64>, what: &str) {
    assert_eq!(a.len(), b.len(), "{what}: count");
    assert_eq!(percentiles(a), percentiles(b), "{what}: percentiles");
}

#[tokio::test(start_paused = true)]
async fn a_log_read_back_has_the_results_percentiles() {
    let report = run(TWO_OPS, 200, 3, 500, 0);
    let bytes = write(&report).expect("log");
    let log = read(&bytes).expect("reads back");
    let m = &report.metrics;
    let all = &log.tags[""];
    assert_eq!(all.intervals, 3);
    same_percentiles(
        &all.histogram,
        &decode_histogram(&m.overall.histogram_corrected).expect("decodes"),
        "all",
    );
    same_percentiles(
        &log.tags[SERVICE_TAG].histogram,
        &decode_histogram(&m.overall.histogram_service).expect("decodes"),
        "service",
    );
    for op in &m.ops {
        same_percentiles(
            &log.tags[&op_tag(&op.label)].histogram,
            &decode_histogram(&op.histogram_corrected).expect("decodes"),
            &op.label,
        );
        same_percentiles(
            &log.tags[&service_op_tag(&op.label)].histogram,
            &decode_histogram(&op.histogram_service).expect("decodes"),
            &op.label,
        );
    }
    assert_eq!(log.span_s, 3.0);
    let start = m.timeline.as_ref().expect("timeline").start_unix_s;
    assert!((log.start_unix_s.expect("StartTime") - start).abs() < 0.001);
}

#[tokio::test(start_paused = true)]
async fn the_log_is_hdrhistograms_text_format() {
    let report = run(TWO_OPS, 10, 1, 500, 0);
    let text = String::from_utf8(write(&report).expect("log")).expect("utf-8");
    let lines: Vec<&str> = text.lines().collect();
    assert!(lines[0].starts_with("#mcptop "), "{}", lines[0]);
    assert!(lines.iter().any(|l| l.starts_with("#[StartTime: ")));
    assert!(lines.iter().any(|l| l.starts_with("#[BaseTime: ")));
    assert!(lines.contains(&LEGEND.trim_end()));
    // An untagged interval: start, length, max in ms, V2 compressed ("HISTF").
    let untagged = lines
        .iter()
        .find(|l| l.starts_with("0.000,1.000,"))
        .expect("untagged interval");
    assert!(untagged
        .split(',')
        .nth(3)
        .is_some_and(|h| h.starts_with("HISTF")));
    assert!(lines
        .iter()
        .any(|l| l.starts_with("Tag=op.echo,0.000,1.000,")));
    assert!(lines
        .iter()
        .any(|l| l.starts_with("Tag=service.op.add,0.000,1.000,")));
}

#[test]
fn labels_with_blanks_and_commas_make_valid_tags() {
    assert_eq!(op_tag("prompt greet"), "op.prompt_greet");
    assert_eq!(op_tag("a,b"), "op.a_b");
    assert_eq!(
        service_op_tag("mcptop://payload/4096"),
        "service.op.mcptop://payload/4096"
    );
    assert!(Tag::new(&op_tag("x y,z\n")).is_some());
}

#[test]
fn what_is_not_a_log_is_refused_clearly() {
    assert!(looks_like_log(b"#[StartTime: 1.0 (seconds since epoch)]\n"));
    assert!(!looks_like_log(b"  {\"schema\": \"mcptop.run\"}"));
    let err = read(b"#just a comment\n").expect_err("no interval");
    assert!(err.contains("no interval histogram"), "{err}");
    let err = read(b"hello world\n").expect_err("garbage");
    assert!(err.contains("not an HdrHistogram interval log"), "{err}");
}
