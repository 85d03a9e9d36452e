//! The regression gate end to end: baselines, checks, comparisons, report
//! formats and the git hook, on the builtin target.

use crate::harness::{fixture, read_json, TestDir};
use predicates::prelude::*;

/// A workload whose latency is set by the sleep tool: a slowdown that no
/// amount of machine noise hides.
fn sleepy(dir: &TestDir, ms: u32) {
    std::fs::create_dir_all(dir.join("workloads")).expect("mkdir");
    dir.write(
        "workloads/gate.toml",
        &format!(
            "name = \"gate\"\nconcurrency = 2\nsessions = 1\nduration = \"1s\"\n\
             [[ops]]\nmethod = \"tools/call\"\ntool = \"sleep\"\narguments = {{ ms = {ms} }}\n"
        ),
    );
}

#[test]
fn save_then_check_passes_unchanged_and_fails_a_slowdown() {
    let dir = TestDir::new();
    sleepy(&dir, 2);
    // This test is about the mechanics, on a machine busy with other tests:
    // wide budgets for the tail and memory, so only the 4x slowdown counts.
    // How the verdict treats noise is unit-tested and measured by
    // benches/check_gate.sh.
    dir.write(
        "mcptop.toml",
        "[check.thresholds]\nthroughput = 0.3\np50 = 0.5\np95 = 2.0\np99 = 5.0\nmemory = 2.0\nallocs_per_request = 0.5\n",
    );
    dir.mcptop()
        .args(["baseline", "save", "gate", "--quick", "--repeats", "5"])
        .assert()
        .success()
        .stdout(predicate::str::contains(".mcptop/baselines/baseline.json"))
        .stderr(predicate::str::contains(
            "quick: 1 workload(s) x 5 run(s) of 1000ms after 300ms warm-up: about 6.5s",
        ));
    let b = read_json(&dir.join(".mcptop/baselines/baseline.json"));
    assert_eq!(b["schema"], "mcptop.baseline");
    assert_eq!(b["workloads"]["gate"].as_array().map(Vec::len), Some(5));
    assert!(
        b["noise"]["gate"]["metrics"]["p50"]["mad"].is_number(),
        "{b}"
    );
    assert_eq!(b["workloads"]["gate"][0]["workload"]["duration"], "1000ms");

    // Five runs a side: the fewest for which one outlier run can be left
    // out and a 98 % interval remain (see docs/GATE.md).
    dir.mcptop()
        .args(["check", "--quick", "--repeats", "5", "--html", "pass.html"])
        .assert()
        .success()
        .stdout(predicate::str::contains("gate: pass"))
        .stdout(predicate::str::contains("PASS"))
        .stderr(predicate::str::contains("HTML report: pass.html"));
    verdict_page(&dir, "pass.html", "<span class=\"ok\">no regression</span>");

    sleepy(&dir, 8);
    dir.mcptop()
        .args([
            "check",
            "--quick",
            "--repeats",
            "5",
            "--update-baseline",
            "--format",
            "junit",
            "--html",
            "fail.html",
        ])
        .assert()
        .code(1)
        .stdout(predicate::str::contains("<testsuites"))
        .stdout(predicate::str::contains("<failure"))
        .stderr(predicate::str::contains("baseline not updated"));
    let page = verdict_page(&dir, "fail.html", "<span class=\"fail\">REGRESSED</span>");
    // The slowdown's row says so, in the table the terminal shows.
    assert!(
        page.lines()
            .any(|l| l.starts_with("<tr><td>p50</td>") && l.ends_with("<td>REGRESSED</td></tr>")),
        "{page}"
    );
    // The failed check left the baseline alone: still 2 ms runs.
    let b2 = read_json(&dir.join(".mcptop/baselines/baseline.json"));
    assert_eq!(b2["workloads"]["gate"], b["workloads"]["gate"]);
}

/// `check --html FILE` of a real check: one self-contained page with the
/// workload's verdict (`said`), its verdict table and each metric's
/// interval drawn.
fn verdict_page(dir: &TestDir, file: &str, said: &str) -> String {
    let page = std::fs::read_to_string(dir.join(file)).expect("the verdict page");
    assert!(page.starts_with("<!DOCTYPE html>"), "{page}");
    assert!(page.contains(&format!("<h2>gate {said}</h2>")), "{page}");
    assert!(
        page.contains("<table>\n<tr><th>metric</th><th>base median</th><th>now median</th>"),
        "{page}"
    );
    assert!(page.contains("<svg id=\"verdict-0\""), "{page}");
    // Self-contained: nothing fetched (the SVG namespace is a name, not a fetch).
    for fetch in ["src=\"http", "href=\"http", "<link", "@import"] {
        assert!(!page.contains(fetch), "{fetch} in the page");
    }
    page
}

#[test]
fn a_missing_or_corrupt_baseline_or_unknown_workload_exits_2() {
    let dir = TestDir::new();
    dir.mcptop()
        .args(["check", "--quick", "echo"])
        .assert()
        .code(2)
        .stderr(
            predicate::str::contains("no baseline").and(predicate::str::contains("baseline save")),
        );
    dir.write("broken.json", "{\"schema\": \"mcptop.baseline\"");
    dir.mcptop()
        .args(["check", "--quick", "--baseline", "broken.json"])
        .assert()
        .code(2)
        .stderr(predicate::str::contains("broken.json"));
    sleepy(&dir, 1);
    dir.mcptop()
        .args([
            "baseline",
            "save",
            "gate",
            "--quick",
            "--repeats",
            "1",
            "--baseline",
            "b.json",
        ])
        .assert()
        .success();
    dir.mcptop()
        .args(["check", "--quick", "--baseline", "b.json", "echo"])
        .assert()
        .code(2)
        .stderr(predicate::str::contains("echo is not in the baseline"));
    dir.mcptop()
        .args(["check", "--quick", "--baseline", "b.json", "nonesuch"])
        .assert()
        .code(2)
        .stderr(predicate::str::contains("nonesuch"));
}

/// `mcptop run gate` for `secs` seconds into `out`.
fn run_gate(dir: &TestDir, secs: u32, out: &str) {
    dir.mcptop()
        .args(["run", "gate", "--duration", &format!("{secs}s")])
        .args(["--warmup", "0s", "--out", out])
        .assert()
        .success();
}

#[test]
fn compare_two_result_files_and_render_reports() {
    let dir = TestDir::new();
    // Five one-second intervals a side: the fewest that give one run a side
    // a 98 % interval.
    sleepy(&dir, 1);
    run_gate(&dir, 5, "a.json");
    sleepy(&dir, 6);
    run_gate(&dir, 5, "b.json");
    // Same name, other arguments: a different workload.
    dir.mcptop()
        .args(["compare", "a.json", "b.json"])
        .assert()
        .code(2)
        .stderr(predicate::str::contains(
            "a.json and b.json ran different workloads (workload gate with different ops); \
             pass --force to compare them anyway",
        ));
    dir.mcptop()
        .args(["compare", "a.json", "b.json", "--force"])
        .assert()
        .code(1)
        .stdout(predicate::str::is_match(
            "gate: REGRESSED \\(1 baseline run\\(s\\), 1 now\\)\n  WARNING: different workloads \\(workload gate with different ops\\), compared only because of --force",
        ).expect("regex"))
        .stdout(predicate::str::contains("one-second intervals"))
        .stdout(predicate::str::contains("the workload file changed"));
    dir.mcptop()
        .args(["compare", "a.json", "a.json", "--format", "markdown"])
        .assert()
        .success()
        .stdout(predicate::str::contains("| throughput |"));
    dir.mcptop()
        .args(["report", "a.json", "--format", "markdown"])
        .assert()
        .success()
        .stdout(predicate::str::contains("## mcptop: `gate`"))
        .stdout(predicate::str::contains("| **all** |"));
    dir.mcptop()
        .args(["report", "a.json", "--format", "junit"])
        .assert()
        .success()
        .stdout(predicate::str::contains("<testcase name=\"run completed\""));
    dir.mcptop()
        .args(["report", "nope.json"])
        .assert()
        .code(2)
        .stderr(predicate::str::contains("nope.json"));
}

#[test]
fn compare_refuses_different_workloads_unless_forced() {
    let dir = TestDir::new();
    sleepy(&dir, 1);
    run_gate(&dir, 1, "gate.json");
    dir.mcptop()
        .args(["run", "echo", "--duration", "1s", "--warmup", "0s"])
        .args(["--out", "echo.json"])
        .assert()
        .success();
    dir.mcptop()
        .args(["compare", "echo.json", "gate.json"])
        .assert()
        .code(2)
        .stdout(predicate::str::is_empty())
        .stderr(predicate::str::contains(
            "echo.json and gate.json ran different workloads (workload echo vs gate); \
             pass --force to compare them anyway",
        ));
    // Forced: the table, under a warning, in every format.
    dir.mcptop()
        .args(["compare", "echo.json", "gate.json", "--force"])
        .assert()
        .stdout(predicate::str::contains(
            "echo vs gate: ",
        ))
        .stdout(predicate::str::contains(
            "WARNING: different workloads (workload echo vs gate), compared only because of --force",
        ));
    dir.mcptop()
        .args([
            "compare",
            "echo.json",
            "gate.json",
            "--force",
            "--format",
            "junit",
        ])
        .assert()
        .stdout(predicate::str::contains("WARNING: different workloads"));
}

#[test]
fn baseline_save_reruns_an_outlier_run_and_records_the_noise() {
    let dir = TestDir::new();
    dir.write(
        "moody.toml",
        "name = \"moody\"\nconcurrency = 1\nsessions = 1\nduration = \"1s\"\n[[ops]]\nmethod = \"ping\"\n",
    );
    // The third start of the server is 15 times slower than the others.
    let target = format!(
        "stdio:python3 {} {} 3",
        fixture("gate_moody_server.py").display(),
        dir.join("starts").display()
    );
    let out = dir
        .mcptop()
        .args([
            "baseline",
            "save",
            "./moody.toml",
            "--quick",
            "--repeats",
            "5",
        ])
        .args(["--target", &target])
        .assert()
        .success()
        .stderr(predicate::str::contains(
            "moody: run 3 is an outlier (throughput",
        ))
        .stderr(predicate::str::contains(
            "dropped; extra run 1 of at most 2",
        ))
        .stderr(predicate::str::contains(
            "moody (extra run 1 of at most 2): run 1/1:",
        ))
        .get_output()
        .clone();
    let stderr = String::from_utf8_lossy(&out.stderr);
    let b = read_json(&dir.join(".mcptop/baselines/baseline.json"));
    let runs = b["workloads"]["moody"].as_array().expect("runs");
    assert_eq!(runs.len(), 5, "{stderr}");
    // The slow run is gone: every kept run answered in about 2 ms.
    for r in runs {
        let p50 = r["overall"]["latency_p50_us"].as_u64().expect("p50");
        assert!(p50 < 15_000, "kept a slow run: p50 {p50} µs\n{stderr}");
    }
    let noise = &b["noise"]["moody"];
    assert_eq!(noise["rerun"][0]["run"], 3, "{noise}");
    assert!(noise["rerun"][0]["metrics"]
        .as_array()
        .expect("metrics")
        .contains(&serde_json::json!("p50")));
    let made = noise["runs_made"].as_u64().expect("runs_made");
    assert!((6..=7).contains(&made), "{noise}");
    let rel = noise["metrics"]["p50"]["relative_mad"]
        .as_f64()
        .expect("relative mad");
    assert!(rel < 0.2, "{noise}");
}

#[test]
fn the_git_hook_is_installed_once_unless_forced() {
    let dir = TestDir::new();
    let git = |args: &[&str]| {
        let ok = std::process::Command::new("git")
            .args(args)
            .current_dir(dir.path())
            .output()
            .map(|o| o.status.success())
            .unwrap_or(false);
        assert!(ok, "git {args:?}");
    };
    git(&["init", "-q"]);
    dir.mcptop()
        .args(["check", "--install-git-hook", "echo"])
        .assert()
        .success();
    let hook = dir.join(".git/hooks/pre-commit");
    let text = std::fs::read_to_string(&hook).expect("hook");
    assert!(
        text.starts_with("#!/bin/sh") && text.contains("check --quick echo"),
        "{text}"
    );
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        let mode = std::fs::metadata(&hook).expect("meta").permissions().mode();
        assert_eq!(mode & 0o111, 0o111);
    }
    std::fs::write(&hook, "#!/bin/sh\nmine\n").expect("write");
    dir.mcptop()
        .args(["check", "--install-git-hook"])
        .assert()
        .code(2)
        .stderr(
            predicate::str::contains("already exists").and(predicate::str::contains("--force")),
        );
    assert_eq!(
        std::fs::read_to_string(&hook).expect("hook"),
        "#!/bin/sh\nmine\n"
    );
    dir.mcptop()
        .args(["check", "--install-git-hook", "--force"])
        .assert()
        .success();
    assert!(std::fs::read_to_string(&hook)
        .expect("hook")
        .contains("check --quick"));
}
