//! The `mcptop` binary end to end on the builtin target: result files, exit
//! codes, workload lookup, validation, signals.

use crate::harness::{mcptop_bin, read_json, TestDir};
use predicates::prelude::*;

#[test]
fn headless_run_writes_a_complete_result_file() {
    let dir = TestDir::new();
    dir.mcptop()
        .args([
            "run",
            "echo",
            "--headless",
            "--duration",
            "2s",
            "--out",
            "r.json",
        ])
        .assert()
        .success()
        .stdout(predicate::str::contains("echo"))
        .stdout(predicate::str::contains("result: r.json"));
    let r = read_json(&dir.join("r.json"));
    assert_eq!(r["schema"], "mcptop.run");
    assert_eq!(r["schema_version"], 1);
    assert_eq!(r["workload_id"], "echo");
    assert_eq!(r["stopped_by"]["reason"], "completed");
    assert_eq!(r["passed"], true);
    assert_eq!(r["environment"]["target"], "builtin");
    assert!(r["environment"]["cpus"].as_u64().unwrap_or(0) >= 1);
    let overall = &r["overall"];
    for key in [
        "workload_id",
        "operations",
        "duration_s",
        "throughput_msg_per_s",
        "latency_p50_us",
        "latency_p90_us",
        "latency_p95_us",
        "latency_p99_us",
        "latency_p999_us",
        "latency_max_us",
        "service_p50_us",
        "service_p99_us",
        "errors_by_kind",
        "histogram_corrected",
        "histogram_service",
    ] {
        assert!(!overall[key].is_null(), "overall.{key} missing: {overall}");
    }
    assert!(overall["operations"].as_u64().unwrap_or(0) > 100);
    assert!(overall["throughput_msg_per_s"].as_f64().unwrap_or(0.0) > 0.0);
    assert_eq!(overall["errors"], 0);
    let p50 = overall["latency_p50_us"].as_u64().unwrap_or(0);
    let p99 = overall["latency_p99_us"].as_u64().unwrap_or(0);
    let max = overall["latency_max_us"].as_u64().unwrap_or(0);
    assert!(0 < p50 && p50 <= p99 && p99 <= max, "{p50} {p99} {max}");
    // Measured time excludes the warm-up but covers the run.
    let d = r["duration_s"].as_f64().unwrap_or(0.0);
    assert!((1.9..3.0).contains(&d), "duration {d}");
    assert_eq!(r["ops"][0]["label"], "echo");
    assert!(r["intervals"].as_array().map_or(0, Vec::len) >= 1);
}

#[test]
fn request_limit_counts_exactly() {
    let dir = TestDir::new();
    dir.mcptop()
        .args([
            "run",
            "echo",
            "--requests",
            "500",
            "--warmup",
            "0s",
            "--out",
            "r.json",
        ])
        .assert()
        .success();
    let r = read_json(&dir.join("r.json"));
    assert_eq!(r["stopped_by"]["reason"], "request_limit");
    assert_eq!(r["overall"]["operations"], 500);
}

#[test]
fn list_shows_shipped_and_local_workloads() {
    let dir = TestDir::new();
    std::fs::create_dir(dir.join("workloads")).expect("mkdir");
    dir.write(
        "workloads/local-one.toml",
        "name = \"local-one\"\ndescription = \"mine\"\nconcurrency = 1\nduration = \"1s\"\n[[ops]]\nmethod = \"ping\"\n",
    );
    dir.mcptop()
        .arg("list")
        .assert()
        .success()
        .stdout(predicate::str::contains("echo-open"))
        .stdout(predicate::str::contains("json-large"))
        .stdout(predicate::str::contains("local-one"));
}

#[test]
fn a_local_workload_overrides_the_shipped_one() {
    let dir = TestDir::new();
    std::fs::create_dir(dir.join("workloads")).expect("mkdir");
    dir.write(
        "workloads/echo.toml",
        "name = \"echo\"\ndescription = \"local ping\"\nconcurrency = 1\nrequests = 20\nwarmup = \"0s\"\n[[ops]]\nmethod = \"ping\"\n",
    );
    dir.mcptop()
        .args(["run", "echo", "--out", "r.json"])
        .assert()
        .success();
    let r = read_json(&dir.join("r.json"));
    assert_eq!(r["ops"][0]["label"], "ping");
    assert_eq!(r["overall"]["operations"], 20);
}

#[test]
fn validate_names_the_file_and_the_key() {
    let dir = TestDir::new();
    let bad = dir.write(
        "bad.toml",
        "name = \"bad\"\nconcurrency = 4\nduration = \"soon\"\n[[ops]]\nmethod = \"ping\"\n",
    );
    dir.mcptop()
        .arg("validate")
        .arg(&bad)
        .assert()
        .code(2)
        .stderr(predicate::str::contains("bad.toml"))
        .stderr(predicate::str::contains("duration"));
    dir.mcptop()
        .args(["validate", "echo", "mixed"])
        .assert()
        .success();
}

#[test]
fn unknown_workload_and_bad_target_are_usage_errors() {
    let dir = TestDir::new();
    dir.mcptop()
        .args(["run", "no-such-workload"])
        .assert()
        .code(2)
        .stderr(predicate::str::contains("no-such-workload"));
    dir.mcptop()
        .args(["run", "echo", "--target", "carrier-pigeon:x"])
        .assert()
        .code(2)
        .stderr(predicate::str::contains("carrier-pigeon"));
}

#[test]
fn a_breached_threshold_exits_1_and_still_writes_the_result() {
    let dir = TestDir::new();
    dir.write(
        "strict.toml",
        "name = \"strict\"\nconcurrency = 2\nrequests = 200\nwarmup = \"0s\"\n[[ops]]\nmethod = \"tools/call\"\ntool = \"echo\"\narguments = { message = \"hi\" }\n[[thresholds]]\nmetric = \"throughput\"\nmin = 1000000000\n",
    );
    dir.mcptop()
        .args(["run", "strict.toml", "--out", "r.json"])
        .assert()
        .code(1)
        .stdout(predicate::str::contains("FAIL").or(predicate::str::contains("fail")));
    let r = read_json(&dir.join("r.json"));
    assert_eq!(r["passed"], false);
    assert_eq!(r["thresholds"][0]["passed"], false);
}

#[test]
fn tool_errors_are_counted_by_kind() {
    let dir = TestDir::new();
    dir.write(
        "failing.toml",
        "name = \"failing\"\nconcurrency = 2\nrequests = 100\nwarmup = \"0s\"\n[[ops]]\nmethod = \"tools/call\"\ntool = \"fail\"\nweight = 1\n[[ops]]\nmethod = \"ping\"\nweight = 1\n",
    );
    // Half the requests fail: over the default error rate, so the run fails.
    dir.mcptop()
        .args(["run", "failing.toml", "--out", "r.json"])
        .assert()
        .code(1);
    let r = read_json(&dir.join("r.json"));
    assert_eq!(r["overall"]["operations"], 100);
    assert_eq!(r["overall"]["errors"], 50);
    assert_eq!(r["overall"]["errors_by_kind"]["tool_error"], 50);
    assert!(r["overall"]["first_error_messages"]["tool_error"]
        .as_str()
        .is_some_and(|m| !m.is_empty()));
}

#[test]
fn known_latency_shows_in_the_percentiles() {
    // The sleep tool waits 5 ms: no percentile can be lower. The upper bound
    // is loose on purpose; exact timing is tested on a paused clock.
    let dir = TestDir::new();
    dir.mcptop()
        .args([
            "run",
            "sleep",
            "--duration",
            "1s",
            "--warmup",
            "200ms",
            "--out",
            "r.json",
        ])
        .assert()
        .success();
    let r = read_json(&dir.join("r.json"));
    let p50 = r["overall"]["latency_p50_us"].as_u64().unwrap_or(0);
    assert!((5_000..50_000).contains(&p50), "p50 {p50}");
    let svc = r["overall"]["service_p50_us"].as_u64().unwrap_or(0);
    assert!(svc >= 5_000, "service p50 {svc}");
}

#[cfg(unix)]
#[test]
fn sigint_stops_the_run_and_keeps_what_was_measured() {
    use crate::lifecycle::{measuring, Running};
    use std::time::Duration;
    let dir = TestDir::new();
    let mut run = Running::start(
        &dir,
        &[
            "run",
            "echo",
            "--headless",
            "--duration",
            "60s",
            "--warmup",
            "0s",
            "--out",
            "r.json",
        ],
    );
    // Measuring, not merely started: a progress line has been printed.
    run.wait_for("a measured interval", Duration::from_secs(30), measuring);
    run.signal(libc::SIGINT);
    let (status, _) = run.exit(Duration::from_secs(10));
    assert_eq!(status.code(), Some(130), "128 + SIGINT");
    let r = read_json(&dir.join("r.json"));
    assert_eq!(r["stopped_by"]["reason"], "signal");
    assert_eq!(r["stopped_by"]["signal"], "SIGINT");
    assert!(r["overall"]["operations"].as_u64().unwrap_or(0) > 0);
    assert!(r["duration_s"].as_f64().unwrap_or(99.0) < 10.0);
}

#[test]
fn worker_threads_follow_where_the_target_runs() {
    let dir = TestDir::new();
    let threads_of = |args: &[&str], out: &str| {
        dir.mcptop()
            .env_remove("TOKIO_WORKER_THREADS")
            .args(["run", "echo", "--requests", "50", "--warmup", "0s", "-q"])
            .args(args)
            .args(["--out", out])
            .assert()
            .success();
        let r = read_json(&dir.join(out));
        let env = &r["environment"];
        (
            env["worker_threads"].as_u64().expect("worker_threads"),
            env["cpus"].as_u64().expect("cpus"),
        )
    };
    // The builtin server shares mcptop's runtime: every core.
    let (workers, cpus) = threads_of(&[], "builtin.json");
    assert_eq!(workers, cpus);
    // An HTTP server on this machine keeps half the cores for itself.
    let mut server = std::process::Command::new(mcptop_bin())
        .args([
            "serve",
            "--http",
            "127.0.0.1:0",
            "--json-response",
            "--stateless",
        ])
        .stdout(std::process::Stdio::piped())
        .spawn()
        .expect("start mcptop serve --http");
    let mut line = String::new();
    std::io::BufRead::read_line(
        &mut std::io::BufReader::new(server.stdout.take().expect("stdout")),
        &mut line,
    )
    .expect("read the address");
    let url = line.trim().trim_start_matches("listening on ").to_string();
    let (workers, cpus) = threads_of(&["--target", &url], "http.json");
    let (asked, _) = threads_of(&["--target", &url, "--threads", "3"], "asked.json");
    let _ = server.kill();
    let _ = server.wait();
    assert_eq!(workers, (cpus / 2).max(1), "{url}");
    assert_eq!(asked, 3);
    // A stdio child: every core (measured no better on half).
    let stdio = format!("stdio:{} serve --stdio", mcptop_bin().display());
    let (workers, cpus) = threads_of(&["--target", &stdio], "stdio.json");
    assert_eq!(workers, cpus);
}

#[test]
fn a_bad_worker_count_is_an_error_naming_it() {
    let dir = TestDir::new();
    dir.mcptop()
        .args(["run", "echo", "--requests", "5", "--threads", "0"])
        .assert()
        .failure()
        .stderr(predicate::str::contains("--threads must be at least 1"));
    dir.mcptop()
        .env("TOKIO_WORKER_THREADS", "two")
        .args(["run", "echo", "--requests", "5"])
        .assert()
        .failure()
        .stderr(predicate::str::contains("TOKIO_WORKER_THREADS=\"two\""));
}
