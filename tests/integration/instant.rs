//! The tiny instant servers of `tests/fixtures/` (issue 17: the pacing
//! bench's "server that answers at once"), run once each under an open-loop
//! paced run so they cannot rot: every request answered, none an error. The
//! Python one needs only python3; the C one is compiled here with `cc`
//! (skipped without it on a laptop, a failure under `MCPTOP_REQUIRE_PEERS`).

use crate::harness::{fixture, read_json, TestDir};

/// 200 requests at 400/s on one session, pipeline 1: echo and tools/list,
/// as benches/pacing.sh's open loop sends them; every one must succeed.
fn paced_run(target: &str, server_name: &str) {
    let dir = TestDir::new();
    let workload = dir.write(
        "w.toml",
        r#"name = "instant"
sessions = 1
pipeline = 1
rate = 400
requests = 200
warmup = "0s"
timeout = "5s"

[[ops]]
method = "tools/call"
tool = "echo"
weight = 3
arguments = { message = "hello \"quoted\" \\ world" }

[[ops]]
method = "tools/list"
weight = 1
"#,
    );
    dir.mcptop()
        .arg("run")
        .arg(&workload)
        .args(["--target", target, "--quiet", "--out", "r.json"])
        .timeout(std::time::Duration::from_secs(60))
        .assert()
        .success();
    let r = read_json(&dir.join("r.json"));
    assert_eq!(
        r["stopped_by"]["reason"], "request_limit",
        "{}",
        r["stopped_by"]
    );
    assert_eq!(r["overall"]["operations"], 200, "{}", r["overall"]);
    assert_eq!(r["overall"]["errors"], 0, "{}", r["overall"]);
    assert_eq!(r["environment"]["server_name"], server_name);
}

#[test]
fn the_python_instant_server_answers_a_paced_run() {
    let script = fixture("instant_server.py");
    paced_run(&format!("stdio:python3 {}", script.display()), "instant-py");
}

#[test]
fn the_c_instant_server_answers_a_paced_run() {
    let dir = TestDir::new();
    let binary = dir.join("instant_server");
    let built = std::process::Command::new("cc")
        .args(["-O2", "-o"])
        .arg(&binary)
        .arg(fixture("instant_server.c"))
        .status();
    match built {
        Ok(status) => assert!(status.success(), "cc failed on instant_server.c: {status}"),
        Err(e) => {
            crate::require::missing(&format!("cc: {e}"), "apt-get install -y gcc");
            return;
        }
    }
    paced_run(&format!("stdio:{}", binary.display()), "instant-c");
}
