//! Faults with real processes: `chaos-kill` SIGKILLs every stdio child under
//! load and the sessions come back with new children; `chaos-stall` stops a
//! `mcptop serve --tcp` process for 2 s. Every test checks that each planned
//! request is in exactly one bucket, and that no child is left behind.
//! The runs may end with exit code 1: on a busy machine the workloads'
//! error-rate gate can fail, which is not what these tests are about.

use crate::harness::{
    assert_accounted, assert_completed, assert_no_process_left, mcptop_bin, read_json, unique_mark,
    TestDir,
};
use crate::net::serve;
use std::time::Duration;

/// The recovery figures were computed against a pre-fault baseline. Whether
/// the target recovered within the run is not asserted: "p99 within 2x of
/// before, for 3 s" is a strict test that a debug-build server on a busy
/// shared machine may honestly fail (the rule itself is checked exactly on
/// the paused clock, `engine::tests::faults`). When it did, the time is
/// after the fault and before the end.
fn assert_recovery_measured(f: &serde_json::Value) {
    assert!(
        f["baseline_throughput"].as_f64().unwrap_or(0.0) > 0.0,
        "{f}"
    );
    assert!(f["throughput_degradation"].as_f64().is_some(), "{f}");
    match (f["recovered"].as_bool(), f["recovery_s"].as_f64()) {
        (Some(true), Some(t)) => assert!((0.0..15.0).contains(&t), "{f}"),
        (Some(false), None) => {}
        _ => panic!("recovered and recovery_s disagree: {f}"),
    }
}

#[test]
fn chaos_kill_over_stdio_reconnects_accounts_for_every_request_and_leaves_no_child() {
    let dir = TestDir::new();
    let mark = unique_mark("kill");
    let target = format!("stdio:{} serve --stdio", mcptop_bin().display());
    dir.mcptop()
        .args(["run", "chaos-kill", "--headless", "-q", "--target", &target])
        .args(["--out", "r.json"])
        .env("MCPTOP_TEST_FAULT_MARK", &mark)
        .timeout(Duration::from_secs(120))
        .assert()
        .code(0);
    let r = read_json(&dir.join("r.json"));
    assert_completed(&r);
    let a = assert_accounted(&r);
    let f = &r["faults"][0];
    assert_eq!(f["fault"], "kill@5s", "{f}");
    // Requests sent between the kill and the moment the pipes were seen
    // closed are lost too: every lost request was on the wire then.
    let lost = f["requests_lost"].as_u64().expect("lost");
    assert!(
        lost <= f["in_flight_at_death"].as_u64().expect("in flight"),
        "{f}"
    );
    assert_eq!(
        a["lost"], lost,
        "the run lost requests only at the fault: {a}"
    );
    assert_eq!(f["sessions_died"], 4, "{f}");
    assert_eq!(f["sessions_reestablished_pct"], 100.0, "{f}");
    // Detection is the first failed or timed-out request: a kill with
    // nothing on the wire fails none (the sessions come back before their
    // next request), and then there is nothing to detect.
    let failed = r["overall"]["errors"].as_u64().expect("errors");
    assert_eq!(f["detection_s"].as_f64().is_some(), failed > 0, "{f}");
    assert_recovery_measured(f);
    assert_no_process_left("MCPTOP_TEST_FAULT_MARK", &mark);
}

#[test]
fn chaos_stall_reports_detection_and_recovery_and_corrected_latency_shows_the_stall() {
    let server = serve(&["--tcp", "127.0.0.1:0"]);
    let dir = TestDir::new();
    let pid = server.pid().to_string();
    dir.mcptop()
        .args([
            "run",
            "chaos-stall",
            "--headless",
            "-q",
            "--target",
            &server.url,
        ])
        .args(["--target-pid", &pid, "--out", "r.json"])
        .timeout(Duration::from_secs(120))
        .assert()
        .code(predicates::ord::le(1));
    let r = read_json(&dir.join("r.json"));
    assert_accounted(&r);
    let f = &r["faults"][0];
    assert_eq!(f["fault"], "stop@3s", "{f}");
    // Requests sent into the stall time out after 1 s (sooner for one sent
    // before it to a server slowed by a busy machine): the first is the
    // detection.
    let detection = f["detection_s"].as_f64().unwrap_or_else(|| panic!("{f}"));
    assert!((0.0..=1.5).contains(&detection), "{f}");
    assert_recovery_measured(f);
    assert!(f["p99_ratio"].as_f64().unwrap_or(0.0) > 2.0, "{f}");
    // Requests planned during the stall waited for a slot, not on the wire:
    // their corrected latency holds the stall, their service time does not.
    let all = &r["overall"];
    let corrected_max = all["latency_max_us"].as_u64().expect("max");
    let corrected_p99 = all["latency_p99_us"].as_u64().expect("p99");
    let service_p90 = all["service_p90_us"].as_u64().expect("service p90");
    assert!(
        corrected_max >= 1_500_000,
        "corrected max {corrected_max} µs"
    );
    assert!(
        service_p90 * 4 < corrected_p99,
        "service p90 {service_p90} µs, corrected p99 {corrected_p99} µs"
    );
}

/// A kill workload over Streamable HTTP: 2 sessions at 40 req/s, killed at
/// 2 s of 8 s measured, `reconnect = true`.
const HTTP_KILL: &str = r#"
name = "http-kill"
description = "kill the HTTP server; sessions must be seen dead and come back"
sessions = 2
rate = 40
duration = "8s"
warmup = "500ms"
timeout = "1s"
reconnect = true

[[faults]]
at = "2s"
kill = true
sessions = "all"

[[ops]]
method = "tools/call"
tool = "echo"
arguments = { message = "hello" }

[[thresholds]]
metric = "error_rate"
max = 1.0
"#;

#[test]
fn http_sessions_killed_with_their_server_are_seen_dead_and_reconnect_to_its_successor() {
    let mut server = serve(&["--http", "127.0.0.1:0"]);
    let authority = server
        .url
        .trim_start_matches("http://")
        .trim_end_matches("/mcp")
        .to_string();
    let dir = TestDir::new();
    dir.write("kill.toml", HTTP_KILL);
    let pid = server.pid().to_string();
    let run = std::process::Command::new(mcptop_bin())
        .current_dir(dir.path())
        .args([
            "run",
            "kill.toml",
            "--headless",
            "-q",
            "--target",
            &server.url,
        ])
        // An era with session ids: the successor does not know them, so
        // every session dies (refused while no server listens, or 404).
        .args(["--protocol", "2025-11-25"])
        .args(["--target-pid", &pid, "--out", "r.json"])
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::null())
        .spawn()
        .expect("start mcptop run");
    let mut run = crate::net::Server::from_child(run, String::new());
    // The fault kills the server; a new one takes its port.
    assert!(
        server.wait_exit(Duration::from_secs(60)),
        "the kill fault did not end the server"
    );
    let _successor = serve(&["--http", &authority]);
    assert!(
        run.wait_exit(Duration::from_secs(120)),
        "the run did not end"
    );
    let r = read_json(&dir.join("r.json"));
    assert_completed(&r);
    let a = assert_accounted(&r);
    let f = &r["faults"][0];
    assert_eq!(f["fault"], "kill@2s", "{f}");
    assert_eq!(f["sessions_died"], 2, "{f}\n{a}\n{}", r["protocol"]);
    assert_eq!(f["sessions_reestablished_pct"], 100.0, "{f}");
    // While the server was gone nothing answered: the requests were lost
    // (on the wire at the kill) or not sent, never errors of another kind.
    let lost = a["lost"].as_u64().expect("lost");
    let not_sent = a["not_sent"].as_u64().expect("not sent");
    assert!(lost + not_sent > 0, "{a}");
    assert!(
        lost <= f["in_flight_at_death"].as_u64().expect("in flight"),
        "{f}"
    );
    let other: u64 = a["errors"]
        .as_object()
        .map(|o| o.values().filter_map(|v| v.as_u64()).sum())
        .unwrap_or(0);
    assert_eq!(other, 0, "{a}");
    assert!(a["ok"].as_u64().expect("ok") > 0, "{a}");
}
