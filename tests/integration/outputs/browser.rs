//! The HTML report in a real browser: headless Chromium (Debian package
//! `chromium`) opens the page a real run wrote, with a new empty profile and
//! no background networking; the test reads the DOM it rendered and the
//! console messages it logged. Skipped on a laptop without Chromium, a
//! failure under `MCPTOP_REQUIRE_PEERS=1`.

use crate::harness::TestDir;
use std::path::Path;
use std::process::Command;

const CHROMIUM: &str = "chromium";
const INSTALL: &str = "apt-get install -y chromium";
/// The charts every run page has.
const CHARTS: [&str; 7] = [
    "latency-corrected",
    "latency-service",
    "throughput",
    "histogram",
    "spectrum",
    // `mixed` has several operations: one small chart each.
    "latency-op-0",
    "latency-op-1",
];

/// The rendered DOM and the console lines, or `None` after saying that
/// Chromium is missing.
fn open(page: &Path, dir: &TestDir) -> Option<(String, Vec<String>)> {
    let profile = dir.join("chromium-profile");
    std::fs::create_dir_all(&profile).expect("profile dir");
    let url = format!("file://{}", page.display());
    let out = match Command::new(CHROMIUM)
        .args(["--headless", "--no-sandbox", "--disable-gpu"])
        .args(["--disable-background-networking", "--no-first-run"])
        .arg(format!("--user-data-dir={}", profile.display()))
        .args(["--enable-logging=stderr", "--v=0", "--dump-dom", &url])
        .output()
    {
        Ok(out) => out,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
            crate::require::missing("chromium is not installed", INSTALL);
            return None;
        }
        Err(e) => panic!("{CHROMIUM}: {e}"),
    };
    assert!(
        out.status.success(),
        "chromium: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    let console = String::from_utf8_lossy(&out.stderr)
        .lines()
        .filter(|l| l.contains(":CONSOLE"))
        .map(String::from)
        .collect();
    Some((String::from_utf8_lossy(&out.stdout).into_owned(), console))
}

#[test]
fn the_report_renders_in_chromium_with_its_charts_and_no_console_error() {
    let dir = TestDir::new();
    let out = dir
        .mcptop()
        .args([
            "run",
            "mixed",
            "--headless",
            "--quiet",
            "--duration",
            "1500ms",
        ])
        .args(["--warmup", "0s", "--out", "r.json"])
        .output()
        .expect("run");
    assert!(
        matches!(out.status.code(), Some(0 | 1)),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    dir.run_ok(&["report", "r.json", "--format", "html", "-o", "report.html"]);
    let Some((dom, console)) = open(&dir.join("report.html"), &dir) else {
        return;
    };
    assert!(
        console.is_empty(),
        "console messages:\n{}",
        console.join("\n")
    );
    for id in CHARTS {
        assert!(
            dom.contains(&format!("<svg id=\"{id}\"")),
            "chart {id} is not in the rendered DOM"
        );
    }
    assert!(dom.contains("<h2>Summary</h2>"));
}

/// The console check bites: a page with a script error is caught.
#[test]
fn a_script_error_shows_in_the_console_lines() {
    let dir = TestDir::new();
    let page = dir.join("broken.html");
    std::fs::write(
        &page,
        "<!DOCTYPE html><html><body><p>x</p><script>notDefined()</script></body></html>",
    )
    .expect("write");
    let Some((_, console)) = open(&page, &dir) else {
        return;
    };
    assert!(
        console.iter().any(|l| l.contains("notDefined")),
        "{console:?}"
    );
}

/// A profiled run's result names its flame graph; the report inlines it
/// (a data URI: nothing fetched) and still renders without a console
/// message.
#[test]
fn a_profiled_runs_report_inlines_its_flame_graph() {
    let dir = TestDir::new();
    let out = dir
        .mcptop()
        .args([
            "profile",
            "echo",
            "-q",
            "--duration",
            "1500ms",
            "--warmup",
            "0s",
        ])
        .args(["--out", "p.json", "--svg", "p.svg"])
        .output()
        .expect("profile");
    assert!(
        matches!(out.status.code(), Some(0 | 1)),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let result = crate::harness::read_json(&dir.join("p.json"));
    let named = result["flamegraph"]
        .as_str()
        .expect("the result names its flame graph");
    assert!(named.ends_with("p.svg"), "{named}");
    dir.run_ok(&["report", "p.json", "--format", "html", "-o", "p.html"]);
    let page = std::fs::read_to_string(dir.join("p.html")).expect("page");
    assert!(page.contains("<h2>Flame graph</h2>"));
    assert!(page.contains("data=\"data:image/svg+xml;base64,"));
    let Some((_, console)) = open(&dir.join("p.html"), &dir) else {
        return;
    };
    assert!(
        console.is_empty(),
        "console messages:\n{}",
        console.join("\n")
    );
}
