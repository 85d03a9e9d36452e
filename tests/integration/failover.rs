//! Failover end to end with real processes: two `mcptop serve --http`
//! servers, the shipped `failover` workload pointed at them with
//! `--failover`, and its `kill` fault SIGKILLing the first (named by the
//! first `--target-pid`). Every session must move to the second server,
//! every planned request be in one bucket, the move's time be measured,
//! and nothing be left running.

use crate::harness::{
    assert_accounted, assert_completed, assert_no_process_left, read_json, unique_mark, TestDir,
};
use crate::net::serve;
use std::time::Duration;

#[test]
fn killing_the_first_target_moves_every_session_to_the_second() {
    let mut first = serve(&["--http", "127.0.0.1:0"]);
    let second = serve(&["--http", "127.0.0.1:0"]);
    let dir = TestDir::new();
    let mark = unique_mark("failover");
    let (p0, p1) = (first.pid().to_string(), second.pid().to_string());
    dir.mcptop()
        .args(["run", "failover", "--headless", "-q", "--failover"])
        .args(["--target", &first.url, "--target", &second.url])
        .args(["--target-pid", &p0, "--target-pid", &p1, "--out", "r.json"])
        .env("MCPTOP_TEST_FAULT_MARK", &mark)
        .timeout(Duration::from_secs(120))
        // 1: the error-rate gate may fail on a busy machine; not the point.
        .assert()
        .code(predicates::ord::le(1));
    assert!(
        first.wait_exit(Duration::from_secs(10)),
        "the kill fault did not end the first server"
    );
    let r = read_json(&dir.join("r.json"));
    assert_completed(&r);
    assert_accounted(&r);
    let f = &r["failover"];
    assert_eq!(f["sessions"], 4, "{f}");
    assert_eq!(f["migrated_pct"], 100.0, "{f}");
    assert_eq!(f["sessions_migrated"], 4, "{f}");
    let max = f["failover_max_s"]
        .as_f64()
        .unwrap_or_else(|| panic!("{f}"));
    let p50 = f["failover_p50_s"]
        .as_f64()
        .unwrap_or_else(|| panic!("{f}"));
    assert!(p50 > 0.0 && max >= p50 && max < 10.0, "{f}");
    // Both targets answered: the first before the kill, the second after.
    let shares = f["answered"].as_array().expect("answered");
    assert_eq!(shares.len(), 2, "{f}");
    for s in shares {
        assert!(s["ok"].as_u64().unwrap_or(0) > 0, "{f}");
    }
    assert_eq!(shares[1]["target"], second.url.as_str(), "{f}");
    // The run's summary says it too.
    let summary = std::fs::read_to_string(dir.join("r.json")).expect("read");
    assert!(summary.contains("\"failover\""));
    // mcptop has exited: nothing it started is left.
    assert_no_process_left("MCPTOP_TEST_FAULT_MARK", &mark);
}

#[test]
fn failover_flags_that_cannot_run_are_refused_before_any_load() {
    let dir = TestDir::new();
    let out = dir
        .mcptop()
        .args(["run", "failover", "--headless", "-q", "--failover"])
        .args(["--target", "http://127.0.0.1:9/mcp"])
        .output()
        .expect("run");
    assert_eq!(out.status.code(), Some(2));
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(
        err.contains("--failover moves sessions between targets"),
        "{err}"
    );
    let out = dir
        .mcptop()
        .args(["run", "failover", "--headless", "-q", "--failover"])
        .args([
            "--target",
            "http://127.0.0.1:9/mcp",
            "--target",
            "tcp://127.0.0.1:9",
        ])
        .output()
        .expect("run");
    assert_eq!(out.status.code(), Some(2));
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("targets[1]: mixes transports"), "{err}");
    let out = dir
        .mcptop()
        .args(["validate", "failover"])
        .output()
        .expect("validate");
    assert_eq!(
        out.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
}
