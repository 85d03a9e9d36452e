//! `mcptop profile`, memory sampling and allocator figures, end to end.

use crate::harness::{fixture, read_json, TestDir};

/// The cpu workload with calls long enough that burn_cpu dominates even in a debug build.
const CPU_HEAVY: &str = r#"
name = "cpu-heavy"
description = "cpu tool, 2 ms per call"
sessions = 2
concurrency = 2
duration = "3s"
warmup = "500ms"

[[ops]]
method = "tools/call"
tool = "cpu"
arguments = { us = 2000 }
"#;

const LEAK: &str = r#"
name = "leak"
description = "open loop on a tools/call that the leaky fixture keeps forever"
sessions = 1
rate = 200
duration = "5s"
warmup = "500ms"
timeout = "5s"

[[ops]]
method = "tools/call"
tool = "anything"
arguments = {}
"#;

fn folded_share(path: &std::path::Path, frame: &str) -> (u64, f64) {
    let text = std::fs::read_to_string(path).expect("folded file");
    let (mut total, mut hits) = (0u64, 0u64);
    for line in text.lines() {
        let (stack, n) = line.rsplit_once(' ').expect("stack and count");
        let n: u64 = n.parse().expect("count");
        total += n;
        if stack.split(';').any(|f| f.contains(frame)) {
            hits += n;
        }
    }
    (total, hits as f64 / total.max(1) as f64)
}

#[test]
fn cpu_profile_shows_burn_cpu_on_most_samples() {
    let t = TestDir::new();
    t.write("cpu-heavy.toml", CPU_HEAVY);
    let out = t
        .mcptop()
        .args(["profile", "cpu-heavy.toml", "-q", "--svg", "flame/cpu.svg"])
        .args(["--out", "run.json"])
        .output()
        .expect("run");
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success(),
        "{stdout}\n{}",
        String::from_utf8_lossy(&out.stderr)
    );
    // Named by a child `mcptop __symbolize`, not in the run's process (whose
    // memory would then hold the debug info), and named in full.
    assert!(
        !stdout.contains("named in mcptop's own process"),
        "{stdout}"
    );
    let (samples, share) = folded_share(&t.join("flame/cpu.folded"), "mcptop::server::burn_cpu");
    assert!(samples >= 50, "only {samples} samples");
    assert!(
        share >= 0.5,
        "burn_cpu on {:.0}% of {samples} samples",
        share * 100.0
    );
    let svg = std::fs::read_to_string(t.join("flame/cpu.svg")).expect("svg");
    assert!(
        svg.contains("cpu-heavy on builtin"),
        "title names workload and target"
    );
    assert!(
        svg.contains(&format!("{samples} samples at 99 Hz")),
        "title has the count"
    );
    assert!(stdout.contains("flame graph: flame/cpu.svg"), "{stdout}");
    // The result file carries the allocator and memory figures.
    let run = read_json(&t.join("run.json"));
    assert!(
        run["overall"]["allocs_per_request"]
            .as_f64()
            .is_some_and(|a| a > 0.0),
        "{}",
        run["overall"]
    );
    assert!(run["memory"]["mcptop"]["rss_bytes"]
        .as_u64()
        .is_some_and(|b| b > 0));

    // A second capture diffed against the first.
    let out = t
        .mcptop()
        .args([
            "profile",
            "cpu-heavy.toml",
            "-q",
            "--duration",
            "1",
            "-o",
            "flame/again.svg",
        ])
        // The old spelling: `-o FILE.svg` still names the graph, with a note.
        .args(["--diff", "flame/cpu.folded"])
        .output()
        .expect("run");
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(out.status.success(), "{stderr}");
    assert!(
        stderr.contains("note: `profile -o FILE.svg` is deprecated"),
        "{stderr}"
    );
    assert!(t.join("flame/again.svg").exists());
    let diff = std::fs::read_to_string(t.join("flame/again.diff.svg")).expect("diff svg");
    assert!(diff.contains("burn_cpu"));
}

#[test]
fn diff_against_a_missing_file_fails_before_running() {
    let t = TestDir::new();
    t.mcptop()
        .args(["profile", "echo", "--diff", "nope.folded"])
        .assert()
        .code(2)
        .stderr(predicates::str::contains("nope.folded"));
}

#[test]
fn a_leaking_target_raises_the_leak_warning() {
    let t = TestDir::new();
    t.write("leak.toml", LEAK);
    let target = format!("stdio:python3 {}", fixture("leaky_server.py").display());
    let out = t
        .mcptop()
        .args([
            "run",
            "leak.toml",
            "-q",
            "-o",
            "leak.json",
            "--target",
            &target,
        ])
        .output()
        .expect("run");
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success(),
        "{stdout}\n{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let run = read_json(&t.join("leak.json"));
    assert_eq!(
        run["memory"]["leak_suspect"], true,
        "{}",
        run["memory"]["target_slope_mib_per_min"]
    );
    assert!(run["memory"]["target"]["rss_bytes"]
        .as_u64()
        .is_some_and(|b| b > 0));
    assert!(run["memory"]["target_slope_mib_per_min"]
        .as_f64()
        .is_some_and(|s| s > 10.0));
    let warnings = run["warnings"].to_string();
    assert!(
        warnings.contains("possible memory leak: target RSS"),
        "{warnings}"
    );
    assert!(stdout.contains("warning: possible memory leak"), "{stdout}");
}

/// The result of a quiet `mcptop run echo` with these extra arguments.
fn echo_run(extra: &[&str]) -> serde_json::Value {
    let t = TestDir::new();
    t.mcptop()
        .args(["run", "echo", "-q", "-o", "echo.json"])
        .args(extra)
        .assert()
        .success();
    read_json(&t.join("echo.json"))
}

/// Allocations per request, which must have been measured and be sane.
fn allocs_per_request(run: &serde_json::Value) -> f64 {
    let per_request = run["overall"]["allocs_per_request"]
        .as_f64()
        .unwrap_or_else(|| panic!("not measured: {}", run["overall"]));
    assert!(per_request > 1.0 && per_request < 10_000.0, "{per_request}");
    per_request
}

#[test]
fn echo_on_builtin_is_not_a_leak() {
    let run = echo_run(&["-d", "5s"]);
    assert_eq!(run["memory"]["leak_suspect"], false, "{}", run["memory"]);
    assert!(
        !run["warnings"].to_string().contains("leak"),
        "{}",
        run["warnings"]
    );
    assert_eq!(
        run["memory"]["target"],
        serde_json::Value::Null,
        "in-process target"
    );
    allocs_per_request(&run);
}

/// A run shorter than the snapshot tick (as `check --quick` makes when it
/// shares its budget among many workloads) still measures allocations.
#[test]
fn allocations_per_request_are_measured_in_runs_shorter_than_a_tick() {
    allocs_per_request(&echo_run(&["-d", "400ms", "--warmup", "150ms"]));
}

#[test]
fn memory_stats_can_be_turned_off() {
    let run = echo_run(&["-d", "1s", "--no-memory-stats"]);
    assert_eq!(run["memory"], serde_json::Value::Null);
    assert_eq!(run["allocator"], serde_json::Value::Null);
    assert_eq!(
        run["overall"]["allocs_per_request"],
        serde_json::Value::Null
    );
}

/// perf on a stdio child: a flame graph when perf may run, else an error that
/// says how to get it. Never an empty graph.
#[cfg(target_os = "linux")]
#[test]
fn stdio_targets_are_profiled_with_perf_or_say_how() {
    let t = TestDir::new();
    t.write("leak.toml", LEAK);
    let target = format!("stdio:python3 {}", fixture("leaky_server.py").display());
    let out = t
        .mcptop()
        .args([
            "profile",
            "leak.toml",
            "-q",
            "--duration",
            "2",
            "--svg",
            "p/child.svg",
        ])
        .args(["--target", &target, "--out", "r.json"])
        // A Python target gets py-spy unless told: this test is about perf.
        .args(["--profiler", "perf"])
        .output()
        .expect("run");
    let stderr = String::from_utf8_lossy(&out.stderr);
    if out.status.success() {
        let (samples, _) = folded_share(&t.join("p/child.folded"), "");
        assert!(samples > 0);
        let svg = std::fs::read_to_string(t.join("p/child.svg")).expect("svg");
        assert!(
            svg.contains("leak on stdio:python3"),
            "title names the target"
        );
    } else {
        assert_eq!(out.status.code(), Some(2), "{stderr}");
        assert!(
            stderr.contains("apt install") || stderr.contains("perf_event_paranoid"),
            "{stderr}"
        );
        assert!(!t.join("p/child.svg").exists());
        if stderr.contains("apt install") {
            // perf is not installed: only the hint was tested.
            crate::require::missing("perf is not installed", crate::require::PERF_INSTALL);
        }
    }
}
