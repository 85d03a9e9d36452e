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
    assert!(
        stdout.contains("\nwarm-up: 1.0s before measuring, not counted\n"),
        "{stdout}"
    );
    assert!(stdout.contains(", 1 session, "), "{stdout}");
    assert!(stdout.contains("result: r.json"), "{stdout}");
}

/// While the warm-up runs, each tick's line says how far it is ("1.0/2.0s").
#[test]
fn headless_progress_shows_the_warm_up_while_it_runs() {
    let dir = TestDir::new();
    let out = dir.run_ok(&[
        "run",
        "echo",
        "--headless",
        "--duration",
        "500ms",
        "--warmup",
        "2s",
        "--out",
        "r.json",
    ]);
    let stderr = String::from_utf8_lossy(&out.stderr);
    let warming: Vec<f64> = stderr
        .lines()
        .filter(|l| l.contains("] warm-up "))
        .filter_map(|l| l.split_once("warm-up")?.1.trim().split_once("/2.0s"))
        .filter_map(|(done, _)| done.parse().ok())
        .collect();
    assert!(
        warming.iter().any(|s| (0.9..=2.0).contains(s)),
        "no warm-up progress past its start:\n{stderr}"
    );
}

/// Colour: the verdict words painted when forced (as on a terminal), and
/// none with NO_COLOR, nor in a pipe.
#[test]
fn colour_is_painted_on_request_and_never_with_no_color() {
    let dir = TestDir::new();
    let run = |env: &[(&str, &str)]| {
        let mut cmd = dir.mcptop();
        cmd.args([
            "run",
            "echo",
            "--headless",
            "--quiet",
            "--duration",
            "300ms",
        ])
        .args(["--warmup", "0s", "--out", "r.json"])
        .env_remove("NO_COLOR")
        .env_remove("CLICOLOR_FORCE");
        for (k, v) in env {
            cmd.env(k, v);
        }
        let out = cmd.output().expect("run");
        assert_eq!(out.status.code(), Some(0));
        String::from_utf8_lossy(&out.stdout).into_owned()
    };
    assert!(run(&[("CLICOLOR_FORCE", "1")]).contains("\x1b[32mpass\x1b[0m"));
    assert!(!run(&[("CLICOLOR_FORCE", "1"), ("NO_COLOR", "1")]).contains('\x1b'));
    assert!(!run(&[]).contains('\x1b'), "a pipe gets no colour");
}
