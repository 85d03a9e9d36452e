//! Session churn and flows end to end: the shipped `session-churn` over
//! stdio opens a process per iteration and leaves none behind, reporting
//! sessions per second and initialize times; `integration-flow` against
//! the TypeScript reference server takes its kebab-case names from the
//! listings.

use crate::harness::{mcptop_bin, read_json, TestDir};
use std::time::Duration;

/// Runs the shipped workload `name` for 2 s against `target`, with `mark`
/// in the environment (children inherit it); the result file.
fn run(name: &str, target: &str, mark: &str) -> serde_json::Value {
    let dir = TestDir::new();
    dir.mcptop()
        .args(["run", name, "--headless", "-q", "--duration", "2s"])
        .args(["--warmup", "0s", "--target", target, "--out", "r.json"])
        .env("MCPTOP_TEST_CHURN_MARK", mark)
        .timeout(Duration::from_secs(120))
        .assert()
        .code(0);
    read_json(&dir.join("r.json"))
}

fn op<'a>(r: &'a serde_json::Value, label: &str) -> &'a serde_json::Value {
    r["ops"]
        .as_array()
        .and_then(|ops| ops.iter().find(|o| o["label"] == label))
        .unwrap_or_else(|| panic!("no {label} in {}", r["ops"]))
}

#[test]
fn session_churn_over_stdio_leaves_no_child_behind_and_reports_sessions_per_second() {
    let nanos = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.as_nanos());
    let mark = format!("churn-{}-{nanos}", std::process::id());
    let target = format!("stdio:{} serve --stdio", mcptop_bin().display());
    let r = run("session-churn", &target, &mark);
    let sessions = op(&r, "churn/session");
    let opened = sessions["ok"].as_u64().unwrap_or(0);
    assert!(opened >= 20, "{sessions}");
    assert_eq!(sessions["errors"], 0, "{sessions}");
    assert!(sessions["throughput_msg_per_s"].as_f64().unwrap_or(0.0) >= 10.0);
    assert_eq!(op(&r, "churn/call")["errors"], 0);
    // Every session opened was initialized, and timed.
    let initialize = &r["connection_phases"]["initialize"];
    assert!(
        initialize["count"].as_u64().unwrap_or(0) >= opened,
        "{initialize}"
    );
    crate::harness::assert_no_process_left("MCPTOP_TEST_CHURN_MARK", &mark);
}

#[test]
fn integration_flow_against_the_typescript_server_over_stdio() {
    let Some(command) = crate::require::peer_command("PEER_EVERYTHING_STDIO") else {
        return;
    };
    let r = run("integration-flow", &format!("stdio:{command}"), "flow");
    for step in [
        "tools",
        "call",
        "resources",
        "read",
        "prompts",
        "prompt",
        "iteration",
    ] {
        let o = op(&r, &format!("flow/{step}"));
        assert!(o["ok"].as_u64().unwrap_or(0) >= 20, "{o}");
        assert_eq!(o["errors"], 0, "{o}");
    }
}
