//! The outputs for the ecosystem, end to end with the real binary: shards
//! against one `mcptop serve --http` merged exactly, the HDR interval log
//! read back, live Prometheus metrics scraped mid-run, report formats,
//! completions and the man page. Every run is bounded in time and count;
//! every wait is on a condition under a generous deadline.

use crate::harness::{mcptop_bin, read_json, TestDir};
use crate::net::serve;
use hdrhistogram::Histogram;
use mcptop::metrics::{decode_histogram, new_histogram};
use std::io::{Read, Write};
use std::path::Path;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

const GUARD: Duration = Duration::from_secs(120);

fn histogram_of(v: &serde_json::Value, key: &str) -> Histogram<u64> {
    decode_histogram(v[key].as_str().expect("histogram text")).expect("decodes")
}

fn run_shard(dir: &TestDir, url: &str, shard: Option<&str>, rate: u32, out: &str) -> Command {
    let mut cmd = Command::new(mcptop_bin());
    cmd.current_dir(dir.path())
        .args(["run", "echo-open", "--target", url, "--headless", "--quiet"])
        .args(["--rate", &rate.to_string(), "--sessions", "3"])
        .args(["--duration", "2s", "--warmup", "500ms", "--out", out])
        .stdout(Stdio::null())
        .stderr(Stdio::piped());
    if let Some(s) = shard {
        cmd.args(["--shard", s]);
    }
    cmd
}

fn finish(mut child: std::process::Child, what: &str) {
    let deadline = Instant::now() + GUARD;
    loop {
        if let Some(status) = child.try_wait().expect("wait") {
            let mut err = String::new();
            if let Some(mut e) = child.stderr.take() {
                let _ = e.read_to_string(&mut err);
            }
            // Exit 1 is a threshold (the workload's 1800 req/s floor).
            assert!(
                matches!(status.code(), Some(0 | 1)),
                "{what}: {status}\n{err}"
            );
            return;
        }
        assert!(
            Instant::now() < deadline,
            "{what} did not end within {GUARD:?}"
        );
        std::thread::sleep(Duration::from_millis(50));
    }
}

/// The issue's acceptance: three shards at once against one server; the
/// merge's count is the sum, its percentiles those of the added
/// histograms, its rate that of one process asked for the whole rate.
#[test]
fn shards_against_one_server_merge_exactly() {
    let dir = TestDir::new();
    let server = serve(&["--http", "127.0.0.1:0"]);
    let shards: Vec<_> = (0..3)
        .map(|i| {
            run_shard(
                &dir,
                &server.url,
                Some(&format!("{i}/3")),
                300,
                &format!("r-{i}.json"),
            )
            .spawn()
            .expect("start a shard")
        })
        .collect();
    for (i, child) in shards.into_iter().enumerate() {
        finish(child, &format!("shard {i}"));
    }
    let parts: Vec<serde_json::Value> = (0..3)
        .map(|i| read_json(&dir.join(&format!("r-{i}.json"))))
        .collect();
    for (i, p) in parts.iter().enumerate() {
        assert_eq!(p["shard"]["index"], i as u64);
        assert_eq!(p["shard"]["count"], 3);
        assert_eq!(p["load"]["rate"], 100.0, "shard {i} takes a third of 300/s");
        assert_eq!(p["workload"]["rate"], 300.0, "and names the whole workload");
    }
    let out = dir
        .mcptop()
        .args([
            "merge",
            "r-0.json",
            "r-1.json",
            "r-2.json",
            "-o",
            "merged.json",
        ])
        .output()
        .expect("merge");
    assert!(
        matches!(out.status.code(), Some(0 | 1)),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let merged = read_json(&dir.join("merged.json"));
    let sum = |key: &str| -> u64 {
        parts
            .iter()
            .map(|p| p["overall"][key].as_u64().expect("count"))
            .sum()
    };
    assert_eq!(
        merged["overall"]["operations"].as_u64(),
        Some(sum("operations"))
    );
    assert_eq!(merged["overall"]["ok"].as_u64(), Some(sum("ok")));
    let mut added = new_histogram();
    for p in &parts {
        added
            .add(histogram_of(&p["overall"], "histogram_corrected"))
            .expect("adds");
    }
    for (key, q) in [
        ("latency_p50_us", 0.5),
        ("latency_p90_us", 0.9),
        ("latency_p99_us", 0.99),
        ("latency_p999_us", 0.999),
    ] {
        assert_eq!(
            merged["overall"][key].as_u64(),
            Some(added.value_at_quantile(q)),
            "{key}"
        );
    }
    assert_eq!(
        merged["merged_shards"]["present"],
        serde_json::json!([0, 1, 2])
    );
    // One process asked for the whole rate, against the same server.
    let single = run_shard(&dir, &server.url, None, 300, "single.json")
        .spawn()
        .expect("start the single run");
    finish(single, "single run");
    let single = read_json(&dir.join("single.json"));
    let (m, s) = (
        merged["achieved_rate"].as_f64().expect("rate"),
        single["achieved_rate"].as_f64().expect("rate"),
    );
    assert!(
        (m - s).abs() / s < 0.1,
        "merged {m:.1}/s vs one process {s:.1}/s"
    );
    // Each shard's asked rate is its planned sends over its own measured
    // time; added up they are the whole's 300/s, up to each clock's edges.
    let asked = merged["asked_rate"].as_f64().expect("asked rate");
    assert!((asked - 300.0).abs() / 300.0 < 0.02, "asked {asked:.1}/s");
}

#[test]
fn merge_refuses_overlapping_shards_with_exit_2() {
    let dir = TestDir::new();
    dir.quiet_run("echo", "300ms", &["--shard", "0/2", "--out", "a.json"]);
    std::fs::copy(dir.join("a.json"), dir.join("b.json")).expect("copy");
    let out = dir
        .mcptop()
        .args(["merge", "a.json", "b.json", "-o", "m.json"])
        .output()
        .expect("merge");
    assert_eq!(out.status.code(), Some(2));
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(
        err.contains("a.json and b.json are both shard 0/2: a shard is merged once"),
        "{err}"
    );
    assert!(!dir.join("m.json").exists());
    let out = dir
        .mcptop()
        .args(["merge", "a.json", "-o", "m.json"])
        .output()
        .expect("merge");
    assert_eq!(out.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&out.stderr).contains("shard(s) 1/2 missing (have 0/2)"));
}

/// `--hdr-log` read back by `mcptop report` and by the hdrhistogram crate:
/// each tag's intervals add up to the result file's histograms.
#[test]
fn the_hdr_log_reads_back_with_the_results_percentiles() {
    let dir = TestDir::new();
    dir.quiet_run(
        "mixed",
        "1500ms",
        &["--hdr-log", "run.hlog", "--out", "r.json"],
    );
    let result = read_json(&dir.join("r.json"));
    let bytes = std::fs::read(dir.join("run.hlog")).expect("log written");
    let log = mcptop::export::hdr_log::read(&bytes).expect("reads");
    let whole = histogram_of(&result["overall"], "histogram_corrected");
    let untagged = &log.tags[""].histogram;
    assert_eq!(untagged.len(), whole.len());
    for q in [0.5, 0.9, 0.99, 0.999, 1.0] {
        assert_eq!(
            untagged.value_at_quantile(q),
            whole.value_at_quantile(q),
            "q {q}"
        );
    }
    for op in result["ops"].as_array().expect("ops") {
        let label = op["label"].as_str().expect("label");
        let tag = mcptop::export::hdr_log::op_tag(label);
        let h = &log.tags[&tag].histogram;
        assert_eq!(
            h.value_at_quantile(0.99),
            histogram_of(op, "histogram_corrected").value_at_quantile(0.99),
            "{label}"
        );
    }
    let shown = dir
        .mcptop()
        .args(["report", "run.hlog"])
        .output()
        .expect("report");
    assert_eq!(shown.status.code(), Some(0));
    let text = String::from_utf8_lossy(&shown.stdout);
    let p99 =
        mcptop::metrics::units::fmt_us(result["overall"]["latency_p99_us"].as_u64().expect("p99"));
    let untagged_line = text
        .lines()
        .find(|l| l.starts_with("(untagged)"))
        .unwrap_or_else(|| panic!("{text}"));
    assert!(
        untagged_line.contains(&p99),
        "{untagged_line} has p99 {p99}"
    );
}

fn scrape(addr: &str) -> Option<String> {
    let mut s = std::net::TcpStream::connect(addr).ok()?;
    s.set_read_timeout(Some(Duration::from_secs(10))).ok()?;
    write!(
        s,
        "GET /metrics HTTP/1.1\r\nHost: {addr}\r\nConnection: close\r\n\r\n"
    )
    .ok()?;
    let mut out = String::new();
    s.read_to_string(&mut out).ok()?;
    Some(out)
}

fn series(text: &str, name: &str) -> Option<f64> {
    text.lines()
        .find(|l| l.starts_with(name) && l[name.len()..].starts_with(' '))
        .and_then(|l| l[name.len()..].trim().parse().ok())
}

/// A scrape while the run measures sees requests counted, a latency
/// histogram and mcptop's own memory; the run is a shard, so every series
/// carries its `shard` label.
#[test]
fn prometheus_is_scraped_mid_run() {
    let dir = TestDir::new();
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .map(|a| a.port())
        .expect("free port");
    let addr = format!("127.0.0.1:{port}");
    let mut child = Command::new(mcptop_bin())
        .current_dir(dir.path())
        .args(["run", "echo", "--headless", "--quiet", "--duration", "20s"])
        .args(["--warmup", "0s", "--prometheus", &addr, "--out", "r.json"])
        .args(["--shard", "0/2"])
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .expect("start");
    let deadline = Instant::now() + Duration::from_secs(60);
    let mut seen = None;
    while Instant::now() < deadline {
        if let Some(text) = scrape(&addr) {
            let ok = series(
                &text,
                r#"mcptop_requests_total{shard="0/2",op="echo",outcome="ok"}"#,
            );
            let measuring = text.contains(r#"mcptop_phase{shard="0/2",phase="measuring"} 1"#);
            if measuring && ok.unwrap_or(0.0) > 0.0 {
                seen = Some(text);
                break;
            }
        }
        std::thread::sleep(Duration::from_millis(100));
    }
    // Stop the run early: SIGINT ends it and still writes the result.
    unsafe {
        libc::kill(child.id() as i32, libc::SIGINT);
    }
    let _ = child.wait();
    let text = seen.expect("a scrape during the measured phase");
    assert!(text.starts_with("HTTP/1.1 200"), "{text}");
    let count = series(
        &text,
        r#"mcptop_latency_seconds_count{shard="0/2",op="echo",latency="corrected"}"#,
    )
    .expect("latency count");
    let inf = series(
        &text,
        r#"mcptop_latency_seconds_bucket{shard="0/2",le="+Inf",op="echo",latency="corrected"}"#,
    )
    .expect("+Inf bucket");
    assert_eq!(count, inf);
    assert!(series(
        &text,
        r#"mcptop_process_resident_memory_bytes{shard="0/2",process="mcptop"}"#
    )
    .is_some_and(|v| v > 0.0));
}

#[test]
fn report_writes_html_and_csv_files() {
    let dir = TestDir::new();
    let out = dir.quiet_run("echo", "1200ms", &["--out", "r.json", "--html", "run.html"]);
    assert!(String::from_utf8_lossy(&out.stderr).contains("HTML report: run.html"));
    let page = std::fs::read_to_string(dir.join("run.html")).expect("html written");
    assert!(page.starts_with("<!DOCTYPE html>"));
    let out = dir.run_ok(&["report", "r.json", "--format", "html", "-o", "report.html"]);
    assert!(out.stdout.is_empty(), "the page goes to the file");
    let page = std::fs::read_to_string(dir.join("report.html")).expect("html written");
    for fetch in ["src=", "href=", "<script", "<link", "url("] {
        assert!(!page.contains(fetch), "no network fetch: {fetch}");
    }
    let csv = dir
        .mcptop()
        .args(["report", "r.json", "--format", "csv"])
        .output()
        .expect("csv");
    let text = String::from_utf8_lossy(&csv.stdout);
    let mut lines = text.lines();
    assert!(
        lines.next().is_some_and(|h| h.starts_with("t_s,")),
        "{text}"
    );
    assert!(lines.count() >= 1, "{text}");
}

#[test]
fn an_hdr_log_has_no_markdown_form() {
    let dir = TestDir::new();
    std::fs::write(
        dir.join("x.hlog"),
        "#[StartTime: 1.000 (seconds since epoch)]\n",
    )
    .expect("write");
    let out = dir
        .mcptop()
        .args(["report", "x.hlog", "--format", "markdown"])
        .output()
        .expect("report");
    assert_eq!(out.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&out.stderr).contains("prints as text only"));
}

#[test]
fn completions_and_the_man_page_come_from_the_cli() {
    let dir = TestDir::new();
    for shell in ["bash", "zsh", "fish"] {
        let out = dir
            .mcptop()
            .args(["completions", shell])
            .output()
            .expect("run");
        assert_eq!(out.status.code(), Some(0), "{shell}");
        let text = String::from_utf8_lossy(&out.stdout);
        assert!(text.contains("mcptop"), "{shell}");
        assert!(
            text.contains("merge") && text.contains("hdr-log"),
            "{shell}: {text}"
        );
    }
    let out = dir.mcptop().args(["man"]).output().expect("man");
    let page = String::from_utf8_lossy(&out.stdout);
    assert!(
        page.starts_with(".ie") || page.contains(".TH mcptop"),
        "{page}"
    );
    let out = dir.mcptop().args(["man", "run"]).output().expect("man run");
    assert!(String::from_utf8_lossy(&out.stdout).contains(".TH mcptop-run"));
    let out = dir
        .mcptop()
        .args(["man", "nope"])
        .output()
        .expect("man nope");
    assert_eq!(out.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&out.stderr).contains("no command \"nope\""));
}

/// `--out -`: the JSON alone on stdout, whatever else is asked.
#[test]
fn out_dash_puts_only_the_json_on_stdout() {
    let dir = TestDir::new();
    let out = dir.run_ok(&[
        "run",
        "echo",
        "--headless",
        "--duration",
        "500ms",
        "--warmup",
        "0s",
        "--out",
        "-",
        "--html",
        "r.html",
        "--hdr-log",
        "r.hlog",
    ]);
    let v: serde_json::Value =
        serde_json::from_slice(&out.stdout).expect("stdout is one JSON document");
    assert_eq!(v["schema"], "mcptop.run");
    assert!(Path::new(&dir.join("r.html")).exists());
}

mod browser;
mod compare;
mod deploy;
mod headless;
mod vocabulary;
