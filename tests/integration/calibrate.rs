//! `mcptop calibrate`: a short, bounded calibration writes its file, a run
//! made afterwards in the same directory carries it in its environment
//! section, and `compare` names a difference below the floor.

use crate::harness::{read_json, TestDir};
use std::time::Duration;

/// `mcptop ARGS` (split at spaces) in `dir`, which must exit 0 within a
/// minute: its stdout.
fn stdout_ok(dir: &TestDir, args: &str) -> String {
    let out = dir
        .mcptop()
        .args(args.split_whitespace())
        .timeout(Duration::from_secs(60))
        .assert()
        .success()
        .get_output()
        .stdout
        .clone();
    String::from_utf8_lossy(&out).into_owned()
}

#[test]
fn calibrate_writes_the_floor_and_later_results_carry_it() {
    let dir = TestDir::new();
    let text = stdout_ok(&dir, "calibrate --rates 200 --duration 300ms");
    assert!(text.contains("open       200/s  send lag p50"), "{text}");
    assert!(text.contains("closed  1 in flight"), "{text}");
    assert!(
        text.contains("differences between latencies are noise here"),
        "{text}"
    );
    let saved = read_json(&dir.join(".mcptop/calibration.json"));
    let runs = saved["runs"].as_array().cloned().unwrap_or_default();
    assert_eq!(runs.len(), 2, "{saved}");
    assert_eq!(runs[0]["shape"], "open");
    assert!(
        runs[0]["send_lag"]["count"].as_u64().unwrap_or(0) > 0,
        "{saved}"
    );
    assert_eq!(runs[1]["shape"], "closed");
    let floor = saved["floor_us"].as_u64().expect("floor_us");

    // Long enough for whole one-second intervals: one run a side is
    // compared by its intervals.
    let summary = stdout_ok(
        &dir,
        "run echo --duration 2500ms --warmup 0s --out r.json --quiet",
    );
    assert!(
        summary.contains("send lag (actual send - planned start): p50 "),
        "{summary}"
    );
    assert!(summary.contains("; late (> 1.00ms) "), "{summary}");
    let r = read_json(&dir.join("r.json"));
    let carried = &r["environment"]["calibration"];
    assert_eq!(carried["floor_us"].as_u64(), Some(floor), "{carried}");
    assert_eq!(carried["made_at"], saved["made_at"]);

    // The same run against itself: no difference, below any floor above 0.
    let text = stdout_ok(&dir, "compare r.json r.json");
    if floor > 0 {
        assert!(text.contains("is below this machine's floor of"), "{text}");
    }
}

#[test]
fn calibrate_refuses_a_bad_rate_with_its_name() {
    let dir = TestDir::new();
    dir.mcptop()
        .args(["calibrate", "--rates", "0"])
        .assert()
        .code(2)
        .stderr(predicates::str::contains("--rates: 0 is not a rate"));
    assert!(!dir.join(".mcptop/calibration.json").exists());
}

#[test]
fn sleep_us_is_a_known_latency_and_refuses_too_long_a_wait() {
    // No percentile can be below the asked 3 ms; the upper bound is loose on
    // purpose (precision is benches/pacing.sh's business).
    let dir = TestDir::new();
    dir.write(
        "sleep-us.toml",
        "name = \"sleep-us\"\nconcurrency = 2\n\n[[ops]]\nmethod = \"tools/call\"\n\
         tool = \"sleep_us\"\nweight = 9\narguments = { us = 3000 }\n\n[[ops]]\n\
         method = \"tools/call\"\nname = \"too-long\"\ntool = \"sleep_us\"\nweight = 1\narguments = { us = 60000001 }\n",
    );
    dir.mcptop()
        .args(["run", "sleep-us.toml", "--duration", "1s", "--warmup", "0s"])
        .args(["--out", "r.json", "--quiet"])
        .timeout(Duration::from_secs(60))
        .assert()
        // The too-long waits are tool errors: the default error-rate threshold fails.
        .code(1);
    let r = read_json(&dir.join("r.json"));
    let ops = r["ops"].as_array().cloned().unwrap_or_default();
    let p50 = ops[0]["service_p50_us"].as_u64().unwrap_or(0);
    assert!((3_000..50_000).contains(&p50), "p50 {p50}");
    assert_eq!(ops[0]["errors"].as_u64(), Some(0), "{}", ops[0]);
    let refused = &ops[1];
    assert_eq!(refused["ok"].as_u64(), Some(0), "{refused}");
    assert!(
        refused["errors_by_kind"]["tool_error"]
            .as_u64()
            .unwrap_or(0)
            > 0,
        "{refused}"
    );
    let message = refused["first_error_messages"]["tool_error"]
        .as_str()
        .unwrap_or("");
    assert!(message.contains("us must be at most 60000000"), "{message}");
}

/// The sleep tools say how long the server itself waited (`slept_us`, in
/// the text and as structured content), never less than asked, and whether
/// the wait was the exact one (on its own thread, up to 5 ms, one at a time)
/// or a plain sleep: `mcptop serve --stdio` as a real child, one request at
/// a time, so the exact place is always free for a short wait.
#[test]
fn sleep_tools_report_how_long_the_server_waited() {
    use std::io::{BufRead, BufReader, Write};
    use std::process::{Command, Stdio};
    let mut child = Command::new(crate::harness::mcptop_bin())
        .args(["serve", "--stdio"])
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .expect("mcptop serve --stdio");
    let mut stdin = child.stdin.take().expect("stdin");
    let stdout = child.stdout.take().expect("stdout");
    let (tx, rx) = std::sync::mpsc::channel::<String>();
    std::thread::spawn(move || {
        for line in BufReader::new(stdout).lines().map_while(Result::ok) {
            if tx.send(line).is_err() {
                break;
            }
        }
    });
    let reply = |id: u64| -> serde_json::Value {
        loop {
            let line = rx
                .recv_timeout(Duration::from_secs(30))
                .expect("a reply within 30 s");
            let v: serde_json::Value = serde_json::from_str(&line).expect("JSON");
            if v["id"].as_u64() == Some(id) {
                return v;
            }
        }
    };
    let mut send = |v: serde_json::Value| writeln!(stdin, "{v}").expect("write");
    send(
        serde_json::json!({"jsonrpc": "2.0", "id": 1, "method": "initialize", "params": {
        "protocolVersion": "2025-06-18", "capabilities": {},
        "clientInfo": {"name": "test", "version": "0"}}}),
    );
    reply(1);
    send(serde_json::json!({"jsonrpc": "2.0", "method": "notifications/initialized"}));
    let cases = [
        ("sleep_us", serde_json::json!({"us": 1_500}), 1_500, true),
        ("sleep", serde_json::json!({"ms": 2}), 2_000, true),
        ("sleep_us", serde_json::json!({"us": 7_000}), 7_000, false),
    ];
    for (id, (tool, arguments, asked, exact)) in (2u64..).zip(cases) {
        send(
            serde_json::json!({"jsonrpc": "2.0", "id": id, "method": "tools/call",
            "params": {"name": tool, "arguments": arguments}}),
        );
        let result = &reply(id)["result"];
        let slept = result["structuredContent"]["slept_us"]
            .as_u64()
            .unwrap_or(0);
        assert!(slept >= asked, "{tool} {asked} µs: {result}");
        assert_eq!(result["structuredContent"]["exact"], exact, "{result}");
        let text = result["content"][0]["text"].as_str().unwrap_or("");
        assert!(text.ends_with(&format!("(slept_us {slept})")), "{text}");
    }
    drop(stdin);
    let _ = child.kill();
    let _ = child.wait();
}
