//! Flame graphs in the server's own language: the TypeScript reference
//! server profiled with perf names its JavaScript frames (Node started with
//! `--perf-basic-prof`); the Python SDK server profiled with py-spy names
//! the `mcp` package's Python frames; a missing profiler says how to install
//! it.

use crate::harness::{fixture, TestDir};

/// Echoes and tool listings: work in the server's JavaScript or Python.
const WORK: &str = r#"
name = "work"
description = "echoes and tool listings"
sessions = 1
concurrency = 4
[[ops]]
method = "tools/call"
tool = "echo"
arguments = { message = "profile me" }
[[ops]]
method = "tools/list"
"#;

/// The frames of a folded file (each once) with how many samples they were on.
fn frames(path: &std::path::Path) -> Vec<(String, u64)> {
    let text = std::fs::read_to_string(path).expect("folded file");
    let mut seen = std::collections::BTreeMap::<String, u64>::new();
    for line in text.lines() {
        let (stack, n) = line.rsplit_once(' ').expect("stack and count");
        let n: u64 = n.parse().expect("count");
        let unique: std::collections::BTreeSet<&str> = stack.split(';').collect();
        for f in unique {
            *seen.entry(f.to_string()).or_default() += n;
        }
    }
    seen.into_iter().collect()
}

fn profile(t: &TestDir, target: &str, extra: &[&str]) -> std::process::Output {
    t.write("work.toml", WORK);
    t.mcptop()
        .args(["profile", "work.toml", "-q", "--duration", "3"])
        // The graph goes to p/g.svg unless the test names it.
        .args(if extra.contains(&"--svg") {
            &[][..]
        } else {
            &["--svg", "p/g.svg"][..]
        })
        .args(["--target", target, "--out", "r.json"])
        .args(extra)
        .timeout(std::time::Duration::from_secs(120))
        .output()
        .expect("run")
}

fn has(tool: &str) -> bool {
    std::process::Command::new(tool)
        .arg("--version")
        .output()
        .is_ok_and(|o| o.status.success())
}

#[cfg(target_os = "linux")]
#[test]
fn the_typescript_servers_flame_graph_names_its_javascript() {
    let Some(command) = crate::require::peer_command("PEER_EVERYTHING_STDIO") else {
        return;
    };
    if !has("perf") {
        crate::require::missing("perf is not installed", crate::require::PERF_INSTALL);
        return;
    }
    let t = TestDir::new();
    let out = profile(&t, &format!("stdio:{command}"), &["--frequency", "999"]);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(out.status.success(), "{stderr}");
    let frames = frames(&t.join("p/g.folded"));
    // JavaScript frames of the server's own files (its package and the SDK
    // it is built on), as V8's perf map names them.
    let js: Vec<_> = frames
        .iter()
        .filter(|(f, _)| f.starts_with("JS:") && f.contains("node_modules/@modelcontextprotocol/"))
        .collect();
    assert!(
        !js.is_empty(),
        "no JavaScript frame of the server: {frames:?}"
    );
    let svg = std::fs::read_to_string(t.join("p/g.svg")).expect("svg");
    assert!(svg.contains("(perf)"), "the title names the profiler");
}

#[test]
fn the_python_servers_flame_graph_names_the_mcp_packages_frames() {
    let Some(command) = crate::require::peer_command("PEER_PY_STDIO") else {
        return;
    };
    if !has("py-spy") {
        crate::require::missing("py-spy is not on PATH", PY_SPY_INSTALL);
        return;
    }
    let t = TestDir::new();
    let out = profile(&t, &format!("stdio:{command}"), &[]);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(out.status.success(), "{stderr}");
    let frames = frames(&t.join("p/g.folded"));
    // py-spy's raw frames: `function (package/file.py:line)`.
    let mcp: Vec<_> = frames.iter().filter(|(f, _)| f.contains("(mcp/")).collect();
    assert!(!mcp.is_empty(), "no frame of the mcp package: {frames:?}");
    let svg = std::fs::read_to_string(t.join("p/g.svg")).expect("svg");
    assert!(svg.contains("(py-spy)"), "the title names the profiler");
}

/// A JVM's JIT-compiled frames are named from its perf map, written at exit
/// (`-XX:+DumpPerfMapAtExit`, which mcptop adds for perf) before `perf
/// script` reads the samples; without it they show as `[perf-PID.map]`.
#[cfg(target_os = "linux")]
#[test]
fn the_jvm_servers_flame_graph_names_its_jit_compiled_java_methods() {
    if !has_java() {
        crate::require::missing("java is not installed", JAVA_INSTALL);
        return;
    }
    if !has("perf") {
        crate::require::missing("perf is not installed", crate::require::PERF_INSTALL);
        return;
    }
    let t = TestDir::new();
    let target = format!(
        "stdio:java -Xmx64m {}",
        fixture("JavaEchoServer.java").display()
    );
    let out = profile(&t, &target, &["--frequency", "499"]);
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(!stdout.contains("no perf map"), "{stdout}");
    let frames = frames(&t.join("p/g.folded"));
    // The JDK's perf map names compiled methods with their return type and
    // class, e.g. `void java.io.PrintStream.write`.
    let java: Vec<_> = frames
        .iter()
        .filter(|(f, _)| f.contains(" java.") || f.contains(" JavaEchoServer."))
        .collect();
    assert!(!java.is_empty(), "no named Java method: {frames:?}");
    let unnamed: Vec<_> = frames
        .iter()
        .filter(|(f, _)| f.starts_with("[perf-") && f.ends_with(".map]"))
        .collect();
    assert!(unnamed.is_empty(), "JIT frames left unnamed: {unnamed:?}");
}

/// Graphs from different profilers compare: a py-spy capture of a Python
/// server against an in-process (pprof) capture of the builtin server.
#[test]
fn a_differential_graph_works_across_profilers() {
    let Some(command) = crate::require::peer_command("PEER_PY_STDIO") else {
        return;
    };
    if !has("py-spy") {
        crate::require::missing("py-spy is not on PATH", PY_SPY_INSTALL);
        return;
    }
    let t = TestDir::new();
    let builtin = profile(&t, "builtin", &["--svg", "p/builtin.svg"]);
    assert!(
        builtin.status.success(),
        "{}",
        String::from_utf8_lossy(&builtin.stderr)
    );
    let out = profile(
        &t,
        &format!("stdio:{command}"),
        &["--diff", "p/builtin.folded", "--svg", "p/py.svg"],
    );
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(
        stdout.contains("differential flame graph: p/py.diff.svg"),
        "{stdout}"
    );
    let diff = std::fs::read_to_string(t.join("p/py.diff.svg")).expect("diff svg");
    // The new capture's Python frames, drawn against the Rust baseline.
    assert!(
        diff.contains("mcp/"),
        "no Python frame in the differential graph"
    );
    assert!(
        diff.contains("vs p/builtin.folded"),
        "the title names the baseline"
    );
}

fn has_java() -> bool {
    std::process::Command::new("java")
        .arg("-version")
        .output()
        .is_ok_and(|o| o.status.success())
}

const JAVA_INSTALL: &str = "apt-get install -y openjdk-17-jdk-headless";

/// How CI gets py-spy: the peers script installs it in the peers' venv, and
/// `.ci/run` links it onto PATH.
const PY_SPY_INSTALL: &str =
    "pip install py-spy (../shared/peers/install.sh puts it in the peers venv; .ci/run links it onto PATH)";

#[test]
fn a_missing_profiler_says_how_to_install_it_before_any_load() {
    let t = TestDir::new();
    let target = format!("stdio:python3 {}", fixture("flaky_server.py").display());
    let empty = t.join("no-tools");
    std::fs::create_dir_all(&empty).expect("dir");
    t.write("work.toml", WORK);
    let out = t
        .mcptop()
        .env("PATH", &empty)
        .args([
            "profile",
            "work.toml",
            "-q",
            "--duration",
            "1",
            "--svg",
            "p/g.svg",
        ])
        .args(["--target", &target, "--profiler", "py-spy"])
        .output()
        .expect("run");
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(2), "{stderr}");
    assert!(stderr.contains("pip install py-spy"), "{stderr}");
    assert!(!t.join("p/g.svg").exists());
    let out = t
        .mcptop()
        .args([
            "profile",
            "work.toml",
            "-q",
            "--duration",
            "1",
            "--target",
            &target,
        ])
        .args(["--profiler", "async-profiler"])
        .output()
        .expect("run");
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(2), "{stderr}");
    assert!(stderr.contains("expected perf or py-spy"), "{stderr}");
}
