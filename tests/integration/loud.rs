//! Failures are loud: a run whose requests fail does not pass, the server's
//! own words come with each kind of error, nothing a target says can steer
//! the terminal, and long lines cost bounded memory.

use crate::harness::{fixture, read_json, TestDir};
use std::time::Duration;

fn loud(mode: &str, arg: &str) -> String {
    format!(
        "stdio:python3 {} {mode} {arg}",
        fixture("loud_server.py").display()
    )
}

/// The bytes a terminal would act on: C0 controls other than newline, DEL
/// and the C1 controls (as UTF-8).
fn steering_bytes(out: &[u8]) -> Vec<String> {
    let text = String::from_utf8_lossy(out);
    text.chars()
        .filter(|&c| c != '\n' && (c.is_control() || ('\u{80}'..='\u{9f}').contains(&c)))
        .map(|c| format!("{:?}", c))
        .collect()
}

#[test]
fn a_misspelt_tool_fails_the_run_and_says_what_the_server_said() {
    let dir = TestDir::new();
    dir.write(
        "typo.toml",
        r#"name = "typo"
concurrency = 2
requests = 50
warmup = "0s"
[[ops]]
method = "tools/call"
tool = "ech"
arguments = { message = "hi" }
"#,
    );
    let output = dir
        .mcptop()
        .args(["run", "typo.toml", "--out", "r.json", "--quiet"])
        .timeout(Duration::from_secs(60))
        .output()
        .expect("run");
    let stdout = String::from_utf8_lossy(&output.stdout);
    assert_eq!(
        output.status.code(),
        Some(1),
        "a failed threshold:\n{stdout}"
    );
    let r = read_json(&dir.join("r.json"));
    assert_eq!(r["passed"], false);
    assert_eq!(r["overall"]["errors"], 50, "{}", r["overall"]);
    let verdict = &r["thresholds"][0];
    assert_eq!(verdict["metric"], "error_rate");
    assert_eq!(verdict["by_default"], true);
    assert_eq!(verdict["passed"], false);
    // The builtin server (rmcp) names the problem; it is kept per kind and per op.
    let first = r["overall"]["first_error_messages"]["jsonrpc -32602"]
        .as_str()
        .unwrap_or_default();
    assert!(first.contains("not found"), "{}", r["overall"]);
    assert_eq!(
        r["ops"][0]["first_error_messages"]["jsonrpc -32602"], first,
        "{}",
        r["ops"][0]
    );
    assert!(
        stdout.contains(&format!("jsonrpc -32602        50  first: {first}")),
        "{stdout}"
    );
    assert!(
        stdout.contains("threshold error_rate <= 1.0000% (default): FAIL"),
        "{stdout}"
    );
}

#[test]
fn an_error_rate_threshold_of_its_own_replaces_the_default() {
    let dir = TestDir::new();
    dir.write(
        "fails.toml",
        r#"name = "fails-on-purpose"
concurrency = 2
requests = 30
warmup = "0s"
[[ops]]
method = "tools/call"
tool = "fail"
[[thresholds]]
metric = "error_rate"
max = 1.0
"#,
    );
    let output = dir
        .mcptop()
        .args(["run", "fails.toml", "--out", "r.json", "--quiet"])
        .timeout(Duration::from_secs(60))
        .output()
        .expect("run");
    assert_eq!(output.status.code(), Some(0));
    let r = read_json(&dir.join("r.json"));
    assert_eq!(r["overall"]["errors_by_kind"]["tool_error"], 30);
    assert!(r["overall"]["first_error_messages"]["tool_error"]
        .as_str()
        .is_some_and(|m| !m.is_empty()));
    assert_eq!(r["thresholds"].as_array().map(Vec::len), Some(1));
}

/// A server whose name, version, error messages, tool errors and stderr
/// hold an OSC 0 title, a clear screen and an OSC 52 clipboard write: the
/// summary, the result file read back as text, Markdown and JUnit show them
/// as visible escapes, and not one byte that would steer a terminal.
#[test]
fn nothing_a_target_says_reaches_the_terminal_raw() {
    let dir = TestDir::new();
    dir.write(
        "w.toml",
        r#"name = "hostile-words"
concurrency = 1
requests = 200
warmup = "0s"
timeout = "20s"
[[ops]]
method = "tools/call"
tool = "boom"
[[ops]]
method = "tools/call"
tool = "fail"
"#,
    );
    let output = dir
        .mcptop()
        .args(["run", "w.toml", "--headless", "--out", "r.json"])
        .args(["--target", &loud("escapes", "20")])
        .timeout(Duration::from_secs(60))
        .output()
        .expect("run");
    let stdout = String::from_utf8_lossy(&output.stdout);
    assert_eq!(output.status.code(), Some(2), "the target died:\n{stdout}");
    for (what, bytes) in [("stdout", &output.stdout), ("stderr", &output.stderr)] {
        let bad = steering_bytes(bytes);
        assert!(bad.is_empty(), "{what} has {bad:?}:\n{stdout}");
    }
    for shown in [
        "loud\\x1b]0;pwned\\x07\\x1b[2J\\x1b]52;c;cm0gLXJmIH4=\\x07\\x9b31m",
        "first: boom \\x1b]0;pwned",
        "first: failed \\x1b]0;pwned",
        "loud: giving up \\x1b]0;pwned",
    ] {
        assert!(stdout.contains(shown), "{shown:?} missing:\n{stdout}");
    }
    let r = read_json(&dir.join("r.json"));
    assert!(r["environment"]["server_name"]
        .as_str()
        .is_some_and(|n| n.starts_with("loud\\x1b]0;")));
    for format in ["text", "markdown", "junit"] {
        let shown = dir
            .mcptop()
            .args(["report", "r.json", "--format", format])
            .output()
            .expect("report");
        let bad = steering_bytes(&shown.stdout);
        assert!(bad.is_empty(), "{format} has {bad:?}");
        assert!(
            String::from_utf8_lossy(&shown.stdout).contains("\\x1b]0;pwned"),
            "{format}"
        );
    }
}

#[test]
fn a_target_that_dies_before_the_handshake_has_its_stderr_escaped() {
    let dir = TestDir::new();
    let output = dir
        .mcptop()
        .args(["run", "echo", "--duration", "1s", "--out", "r.json"])
        .args(["--target", &loud("no-handshake", "")])
        .timeout(Duration::from_secs(60))
        .output()
        .expect("run");
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert_eq!(output.status.code(), Some(2), "{stderr}");
    assert!(
        stderr.contains("loud: cannot start \\x1b]0;pwned"),
        "{stderr}"
    );
    let bad = steering_bytes(&output.stderr);
    assert!(bad.is_empty(), "stderr has {bad:?}: {stderr}");
}
