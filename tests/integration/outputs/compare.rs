//! `mcptop compare` with more than two files (the first is the reference)
//! and `--html` on `compare`: the verdict page with each metric's interval.

use crate::harness::TestDir;

fn run_once(dir: &TestDir, out: &str) {
    let run = dir
        .mcptop()
        .args([
            "run",
            "echo",
            "--headless",
            "--quiet",
            "--duration",
            "1200ms",
        ])
        .args(["--warmup", "0s", "--out", out])
        .output()
        .expect("run");
    assert!(
        matches!(run.status.code(), Some(0 | 1)),
        "{}",
        String::from_utf8_lossy(&run.stderr)
    );
}

#[test]
fn compare_takes_several_files_against_the_first_and_writes_html() {
    let dir = TestDir::new();
    for out in ["a.json", "b.json", "c.json"] {
        run_once(&dir, out);
    }
    let out = dir
        .mcptop()
        .args([
            "compare",
            "a.json",
            "b.json",
            "c.json",
            "--html",
            "verdict.html",
        ])
        .output()
        .expect("compare");
    let stdout = String::from_utf8_lossy(&out.stdout);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(matches!(out.status.code(), Some(0 | 1)), "{stderr}");
    assert!(stdout.starts_with("reference: a.json"), "{stdout}");
    for file in ["(b.json)", "(c.json)"] {
        assert!(
            stdout.lines().filter(|l| l.contains(file)).count() >= 2,
            "a line in the reference table and a verdict table for {file}:\n{stdout}"
        );
    }
    assert!(stderr.contains("HTML report: verdict.html"), "{stderr}");
    let page = std::fs::read_to_string(dir.join("verdict.html")).expect("page");
    assert!(page.starts_with("<!DOCTYPE html>"));
    assert!(page.contains("reference a.json"));
    assert_eq!(
        page.matches("<table>").count(),
        2,
        "one verdict table per file"
    );
    assert!(
        page.contains("<svg id=\"verdict-0\""),
        "the intervals drawn"
    );
}

#[test]
fn compare_checks_the_html_path_before_reading_anything() {
    let dir = TestDir::new();
    std::fs::write(dir.join("blocker"), "a file, not a folder").expect("write");
    let out = dir
        .mcptop()
        .args(["compare", "a.json", "b.json", "--html", "blocker/v.html"])
        .output()
        .expect("compare");
    assert_eq!(out.status.code(), Some(2));
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(stderr.contains("--html"), "{stderr}");
}
