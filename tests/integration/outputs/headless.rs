//! Headless output in one vocabulary: each progress line once, the warm-up
//! said in the summary, "1 session" (not "1 sessions"), and where the
//! result went on every run.

use crate::harness::TestDir;

#[test]
fn headless_lines_say_each_thing_once_in_plain_words() {
    let dir = TestDir::new();
    let out = dir
        .mcptop()
        .args(["run", "echo", "--headless", "--duration", "1500ms"])
        .args(["--warmup", "1s", "--sessions", "1"])
        .args(["--out", "r.json"])
        .output()
        .expect("run");
    let stdout = String::from_utf8_lossy(&out.stdout);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(0), "{stderr}");
    let lines: Vec<&str> = stderr.lines().collect();
    for pair in lines.windows(2) {
        assert_ne!(pair[0], pair[1], "a progress line twice:\n{stderr}");
    }
    assert!(
        stderr.matches("(no interval measured yet)").count() <= 1,
        "{stderr}"
    );
    assert!(stdout.contains("after 1.0s warm-up, "), "{stdout}");
    assert!(stdout.contains(", 1 session, "), "{stdout}");
    assert!(stdout.contains("result: r.json"), "{stdout}");
}
