//! Golden files for what people and CI read: a run report and a compare
//! verdict as text, Markdown and JUnit XML, printed by the real binary
//! (`mcptop report`, `mcptop compare`) from result files under
//! `tests/data/golden/`. Those inputs are fixed by hand (timestamps, machine,
//! versions, pids; `current.json` is `base.json` with latencies x1.3,
//! throughput x0.77, 4 MiB more RSS and 8 CPUs), so nothing in a snapshot
//! depends on the machine or the clock: a format change shows up as a diff
//! of `snapshots/`. `.ci/run` sets `INSTA_UPDATE=no` and `CI=true`, so there a
//! missing or changed snapshot fails; on a laptop, review the `.snap.new`
//! files insta writes and rename them over the old ones.

use crate::harness::TestDir;
use std::path::{Path, PathBuf};

fn golden(name: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("tests/data/golden")
        .join(name)
}

/// stdout of mcptop with `args`, which must exit with `code`.
fn printed(args: &[&str], files: &[&str], code: i32) -> String {
    let dir = TestDir::new();
    let out = dir
        .mcptop()
        .args(args)
        .args(files.iter().map(|f| golden(f)))
        .timeout(std::time::Duration::from_secs(30))
        .output()
        .expect("run mcptop");
    assert_eq!(
        out.status.code(),
        Some(code),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8(out.stdout).expect("UTF-8 output")
}

#[test]
fn run_report_as_text() {
    let text = printed(&["report", "--format", "text"], &["run.json"], 0);
    insta::assert_snapshot!(text);
}

#[test]
fn run_report_as_markdown() {
    let text = printed(&["report", "--format", "markdown"], &["run.json"], 0);
    insta::assert_snapshot!(text);
}

#[test]
fn run_report_as_junit() {
    let text = printed(&["report", "--format", "junit"], &["run.json"], 0);
    insta::assert_snapshot!(text);
}

#[test]
fn compare_verdict_as_text() {
    let text = printed(
        &["compare", "--format", "text"],
        &["base.json", "current.json"],
        1,
    );
    insta::assert_snapshot!(text);
}

#[test]
fn compare_verdict_as_markdown() {
    let text = printed(
        &["compare", "--format", "markdown"],
        &["base.json", "current.json"],
        1,
    );
    insta::assert_snapshot!(text);
}

#[test]
fn compare_verdict_as_junit() {
    let text = printed(
        &["compare", "--format", "junit"],
        &["base.json", "current.json"],
        1,
    );
    insta::assert_snapshot!(text);
}
