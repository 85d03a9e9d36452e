//! The stdio target against real child processes: mcptop's own server,
//! servers that crash, babble, hang, or are missing, and (when installed)
//! servers written by others.

use crate::harness::{fixture, mcptop_bin, read_json, TestDir};
use predicates::prelude::*;

fn self_target() -> String {
    format!("stdio:{} serve --stdio", mcptop_bin().display())
}

fn flaky(mode: &str) -> String {
    format!(
        "stdio:python3 {} {mode}",
        fixture("flaky_server.py").display()
    )
}

#[test]
fn runs_against_mcptop_serve_stdio_one_child_per_session() {
    let dir = TestDir::new();
    dir.mcptop()
        .args(["run", "mixed", "--target", &self_target()])
        .args([
            "--duration",
            "1s",
            "--warmup",
            "0s",
            "--sessions",
            "3",
            "--out",
            "r.json",
        ])
        .assert()
        .success();
    let r = read_json(&dir.join("r.json"));
    assert_eq!(r["stopped_by"]["reason"], "completed");
    assert_eq!(r["overall"]["errors"], 0, "{}", r["overall"]);
    assert!(r["overall"]["operations"].as_u64().unwrap_or(0) > 50);
    assert_eq!(r["environment"]["server_name"], "mcptop-builtin");
    let pids = r["target_pids"].as_array().expect("pids");
    assert_eq!(pids.len(), 3, "one child per session: {pids:?}");
    // Every child is gone once mcptop exits.
    for pid in pids {
        let pid = pid.as_u64().expect("pid");
        assert!(
            !std::path::Path::new(&format!("/proc/{pid}")).exists()
                || std::fs::read_to_string(format!("/proc/{pid}/stat"))
                    .is_ok_and(|s| s.contains(") Z ")),
            "child {pid} still running"
        );
    }
}

#[test]
fn a_missing_command_is_a_clear_error() {
    let dir = TestDir::new();
    dir.mcptop()
        .args([
            "run",
            "echo",
            "--target",
            "stdio:/no/such/server --flag",
            "--duration",
            "1s",
        ])
        .assert()
        .code(2)
        .stderr(predicate::str::contains("/no/such/server"));
}

#[test]
fn a_child_that_crashes_mid_run_is_reported_and_the_result_kept() {
    let dir = TestDir::new();
    let target = format!("{} 300", flaky("crash"));
    dir.mcptop()
        .args([
            "run",
            "echo",
            "--target",
            &target,
            "--sessions",
            "1",
            "--concurrency",
            "1",
        ])
        .args(["--duration", "20s", "--warmup", "0s", "--out", "r.json"])
        .assert()
        .code(2)
        .stdout(predicate::str::contains("exit"));
    let r = read_json(&dir.join("r.json"));
    let stop = &r["stopped_by"];
    assert_eq!(stop["reason"], "target_exited", "{stop}");
    assert!(
        stop["status"].as_str().unwrap_or("").contains('3'),
        "{stop}"
    );
    assert!(
        stop["stderr_tail"]
            .as_str()
            .unwrap_or("")
            .contains("out of budget"),
        "{stop}"
    );
    assert_eq!(r["overall"]["ok"], 300);
}

#[test]
fn a_server_that_answers_garbage_is_named() {
    let dir = TestDir::new();
    dir.mcptop()
        .args([
            "run",
            "echo",
            "--target",
            &flaky("garbage"),
            "--duration",
            "1s",
        ])
        .timeout(std::time::Duration::from_secs(30))
        .assert()
        .code(2)
        .stderr(predicate::str::contains("not json-rpc").or(predicate::str::contains("JSON")));
}

#[test]
fn a_server_that_never_answers_initialize_times_out_clearly() {
    let dir = TestDir::new();
    dir.mcptop()
        .args([
            "run",
            "echo",
            "--target",
            &flaky("silent"),
            "--duration",
            "1s",
        ])
        .timeout(std::time::Duration::from_secs(60))
        .assert()
        .code(2)
        .stderr(predicate::str::contains("initialize"));
}

fn slow_init(seconds: &str) -> String {
    format!(
        "stdio:python3 {} {seconds}",
        fixture("slow_init_server.py").display()
    )
}

#[test]
fn a_slow_initialize_is_refused_at_a_short_connect_timeout_and_taken_at_a_long_one() {
    let dir = TestDir::new();
    // Answers initialize 3 s after it asks: past 500 ms, whatever the load.
    dir.mcptop()
        .args(["run", "echo", "--target", &slow_init("3")])
        .args(["--connect-timeout", "500ms", "--duration", "1s"])
        .timeout(std::time::Duration::from_secs(60))
        .assert()
        .code(2)
        .stderr(predicate::str::contains(
            "no reply to initialize within 500ms (connect_timeout)",
        ));
    // The same server, given 60 s (the workload key; default 10 s).
    let work = dir.write(
        "slow.toml",
        "name = \"slow\"\nconcurrency = 1\nrequests = 20\nwarmup = \"0s\"\n\
         connect_timeout = \"60s\"\n[[ops]]\nmethod = \"tools/call\"\ntool = \"echo\"\n\
         arguments = { message = \"hi\" }\n",
    );
    dir.mcptop()
        .args([
            "run",
            &work.display().to_string(),
            "--target",
            &slow_init("3"),
        ])
        .args(["--out", "r.json", "--quiet"])
        .timeout(std::time::Duration::from_secs(120))
        .assert()
        .success();
    let r = read_json(&dir.join("r.json"));
    assert_eq!(r["overall"]["operations"], 20, "{}", r["overall"]);
    assert_eq!(r["overall"]["errors"], 0, "{}", r["overall"]);
}

#[test]
fn the_stateless_era_over_stdio_to_mcptop_serve() {
    let r = echo_300(&self_target(), &["--protocol", "2026-07-28"]);
    assert_eq!(r["environment"]["server_name"], "mcptop-builtin");
    assert_eq!(r["environment"]["protocol_version"], "2026-07-28");
}

#[test]
fn peer_typescript_reference_server_echo() {
    peer_echo("PEER_EVERYTHING_STDIO", &[]);
}

#[test]
fn peer_python_sdk_server_echo() {
    peer_echo("PEER_PY_STDIO", &[]);
}

#[test]
fn peer_python_sdk_server_in_the_stateless_era() {
    if let Some(r) = peer_echo("PEER_PY_STDIO", &["--protocol", "2026-07-28"]) {
        assert_eq!(r["environment"]["protocol_version"], "2026-07-28");
    }
}

fn peer_echo(var: &str, extra: &[&str]) -> Option<serde_json::Value> {
    let command = crate::require::peer_command(var)?;
    let r = echo_300(&format!("stdio:{command}"), extra);
    assert_ne!(r["environment"]["server_name"], "mcptop-builtin");
    Some(r)
}

/// 300 echo requests, two in flight on one session; every one must succeed.
fn echo_300(target: &str, extra: &[&str]) -> serde_json::Value {
    let dir = TestDir::new();
    dir.mcptop()
        .args(["run", "echo", "--target", target])
        .args(extra)
        .args([
            "--sessions",
            "1",
            "--concurrency",
            "2",
            "--requests",
            "300",
            "--warmup",
            "0s",
        ])
        .args(["--out", "r.json"])
        .timeout(std::time::Duration::from_secs(120))
        .assert()
        .success();
    let r = read_json(&dir.join("r.json"));
    assert_eq!(r["overall"]["operations"], 300);
    assert_eq!(r["overall"]["errors"], 0, "{}", r["overall"]);
    r
}
