//! The target's GC, read from its own runtime: the real peers (the
//! TypeScript reference server on Node, the Python SDK server) report their
//! collections into `target_gc`; a Python server's own stderr lines reach
//! the kept stderr unchanged; a server with no GC says "not reported".

use crate::harness::{fixture, mcptop_bin, read_json, TestDir};
use serde_json::Value;

/// A closed-loop workload whose requests make the server allocate: echoes
/// of 20 KB and tool listings.
fn allocating_workload(dir: &TestDir, requests: u64) -> String {
    let message = "x".repeat(20_000);
    let text = format!(
        "name = \"gc-alloc\"\ndescription = \"requests that allocate\"\nsessions = 1\n\
         concurrency = 8\nrequests = {requests}\n\
         [[ops]]\nmethod = \"tools/call\"\ntool = \"echo\"\narguments = {{ message = \"{message}\" }}\n\
         [[ops]]\nmethod = \"tools/list\"\n"
    );
    let path = dir.join("gc-alloc.toml");
    std::fs::write(&path, text).expect("write the workload");
    path.display().to_string()
}

fn run(dir: &TestDir, workload: &str, target: &str, extra: &[&str]) -> Value {
    dir.mcptop()
        .args(["run", workload, "--target", target, "--warmup", "0s"])
        .args(extra)
        .args(["--out", "r.json", "--quiet"])
        .timeout(std::time::Duration::from_secs(180))
        .assert()
        .success();
    read_json(&dir.join("r.json"))
}

fn peer_gc(var: &str, requests: u64) -> Option<Value> {
    let command = crate::require::peer_command(var)?;
    let dir = TestDir::new();
    let workload = allocating_workload(&dir, requests);
    let r = run(&dir, &workload, &format!("stdio:{command}"), &[]);
    assert_eq!(r["overall"]["errors"], 0, "{}", r["overall"]);
    Some(r["target_gc"].clone())
}

#[test]
fn the_typescript_reference_servers_gc_pauses_are_in_the_result() {
    let Some(gc) = peer_gc("PEER_EVERYTHING_STDIO", 3000) else {
        return;
    };
    assert_eq!(gc["runtime"], "node", "{gc}");
    assert_eq!(gc["reported"], true, "{gc}");
    assert!(gc["collections"].as_u64().unwrap_or(0) > 0, "{gc}");
    assert!(gc["pauses"].as_u64().unwrap_or(0) > 0, "{gc}");
    assert!(gc["pause_p99_us"].as_f64().unwrap_or(0.0) > 0.0, "{gc}");
    // Placed by V8's clock, not when the observer's batch was read.
    assert_eq!(gc["timed_by_runtime_clock"], gc["collections"], "{gc}");
    let share = gc["pause_time_share"].as_f64().unwrap_or(-1.0);
    assert!((0.0..1.0).contains(&share), "{gc}");
}

#[test]
fn the_python_sdk_servers_collections_are_counted() {
    // The SDK server frees most of what it allocates by reference counting:
    // its cyclic collector runs a few times per thousand requests.
    let Some(gc) = peer_gc("PEER_PY_STDIO", 6000) else {
        return;
    };
    assert_eq!(gc["runtime"], "python", "{gc}");
    assert_eq!(gc["reported"], true, "{gc}");
    assert_eq!(gc["processes"], 1, "{gc}");
    assert!(gc["collections"].as_u64().unwrap_or(0) > 0, "{gc}");
    assert_eq!(gc["timed_by_runtime_clock"], gc["collections"], "{gc}");
    assert!(
        gc["by_kind"].as_object().is_some_and(|k| !k.is_empty()),
        "{gc}"
    );
}

#[test]
fn a_python_servers_own_stderr_is_kept_unchanged_without_the_gc_reports() {
    let dir = TestDir::new();
    let target = format!(
        "stdio:python3 {} crash 200",
        fixture("flaky_server.py").display()
    );
    // The user's own sitecustomize, which mcptop's hook hides on PYTHONPATH,
    // still runs (and its line is kept).
    let user = dir.join("user-site");
    std::fs::create_dir_all(&user).expect("dir");
    std::fs::write(
        user.join("sitecustomize.py"),
        "import sys\nsys.stderr.write('user sitecustomize ran\\n')\n",
    )
    .expect("write");
    dir.mcptop()
        .env("PYTHONPATH", &user)
        .args(["run", "echo", "--target", &target, "--sessions", "1"])
        .args(["--concurrency", "1", "--duration", "20s", "--warmup", "0s"])
        .args(["--out", "r.json", "--quiet"])
        .assert()
        .code(2);
    let r = read_json(&dir.join("r.json"));
    // The hook was on (Python reported) and its lines left the stderr.
    assert_eq!(r["target_gc"]["runtime"], "python", "{}", r["target_gc"]);
    assert_eq!(r["target_gc"]["reported"], true, "{}", r["target_gc"]);
    assert_eq!(
        r["stopped_by"]["stderr_tail"], "user sitecustomize ran\nflaky: out of budget, crashing",
        "{}",
        r["stopped_by"]
    );
}

#[test]
fn a_server_without_a_gc_says_not_reported_never_zeros() {
    let dir = TestDir::new();
    let target = format!("stdio:{} serve --stdio", mcptop_bin().display());
    let r = run(&dir, "echo", &target, &["--requests", "200"]);
    let gc = &r["target_gc"];
    assert_eq!(gc["runtime"], "native", "{gc}");
    assert_eq!(gc["reported"], false, "{gc}");
    assert!(
        gc["note"]
            .as_str()
            .unwrap_or("")
            .starts_with("not reported"),
        "{gc}"
    );
    for figure in ["collections", "pauses", "pause_p99_us", "pause_time_share"] {
        assert!(gc.get(figure).is_none(), "{figure} in {gc}");
    }
    // The summary says so too.
    let summary = dir
        .mcptop()
        .args([
            "run",
            "echo",
            "--target",
            &target,
            "--requests",
            "50",
            "--warmup",
            "0s",
        ])
        .args(["--out", "s.json", "--quiet"])
        .assert()
        .success()
        .get_output()
        .stdout
        .clone();
    let summary = String::from_utf8_lossy(&summary);
    assert!(summary.contains("target GC: not reported"), "{summary}");
}

/// A tiny JVM server (`tests/fixtures/JavaEchoServer.java`), run by the
/// JDK's single-file launcher: its GC log is read and taken out of its
/// stderr, with the JVM's echo of `JAVA_TOOL_OPTIONS`.
#[test]
fn a_jvm_servers_gc_log_is_read_and_its_own_stderr_kept_unchanged() {
    let java_runs = std::process::Command::new("java")
        .arg("-version")
        .output()
        .is_ok_and(|o| o.status.success());
    if !java_runs {
        crate::require::missing(
            "java is not installed",
            "apt-get install -y openjdk-17-jdk-headless",
        );
        return;
    }
    let dir = TestDir::new();
    let target = format!(
        "stdio:java -Xmx64m {} 1500",
        fixture("JavaEchoServer.java").display()
    );
    dir.mcptop()
        .args(["run", "echo", "--target", &target, "--sessions", "1"])
        .args(["--concurrency", "1", "--duration", "60s", "--warmup", "0s"])
        .args(["--out", "r.json", "--quiet"])
        .timeout(std::time::Duration::from_secs(120))
        .assert()
        .code(2);
    let r = read_json(&dir.join("r.json"));
    let gc = &r["target_gc"];
    assert_eq!(gc["runtime"], "jvm", "{gc}");
    assert_eq!(gc["reported"], true, "{gc}");
    assert!(gc["pauses"].as_u64().unwrap_or(0) > 0, "{gc}");
    assert!(gc["heap_after_bytes"].as_u64().is_some(), "{gc}");
    // The `timemillis` decoration mcptop asks for.
    assert_eq!(gc["timed_by_runtime_clock"], gc["collections"], "{gc}");
    assert_eq!(
        r["stopped_by"]["stderr_tail"], "java-echo: ready\njava-echo: done",
        "{}",
        r["stopped_by"]
    );
}
