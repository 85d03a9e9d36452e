//! Shared helpers: a temp dir per test and the built `mcptop` binary.

use std::path::{Path, PathBuf};
use std::process::Output;

pub struct TestDir {
    pub dir: tempfile::TempDir,
}

impl TestDir {
    pub fn new() -> TestDir {
        TestDir {
            dir: tempfile::tempdir().expect("temp dir"),
        }
    }

    pub fn path(&self) -> &Path {
        self.dir.path()
    }

    pub fn join(&self, name: &str) -> PathBuf {
        self.dir.path().join(name)
    }

    pub fn write(&self, name: &str, text: &str) -> PathBuf {
        let p = self.join(name);
        std::fs::write(&p, text).expect("write file");
        p
    }

    /// `mcptop` run with this directory as its working directory.
    pub fn mcptop(&self) -> assert_cmd::Command {
        let mut cmd = assert_cmd::Command::cargo_bin("mcptop").expect("mcptop binary");
        cmd.current_dir(self.path());
        cmd
    }

    /// `mcptop ARGS` here, which must exit 0 (its stderr shown when it does not).
    pub fn run_ok(&self, args: &[&str]) -> Output {
        let out = self.mcptop().args(args).output().expect("run mcptop");
        assert_eq!(
            out.status.code(),
            Some(0),
            "mcptop {args:?}\n{}",
            String::from_utf8_lossy(&out.stderr)
        );
        out
    }

    /// `mcptop run WORKLOAD --headless --quiet --duration DURATION --warmup 0s
    /// ARGS`, which must exit 0.
    pub fn quiet_run(&self, workload: &str, duration: &str, args: &[&str]) -> Output {
        let mut all = vec!["run", workload, "--headless", "--quiet"];
        all.extend(["--duration", duration, "--warmup", "0s"]);
        all.extend(args);
        self.run_ok(&all)
    }
}

/// Path of the built mcptop binary, for use as a stdio target.
pub fn mcptop_bin() -> PathBuf {
    assert_cmd::cargo::cargo_bin("mcptop")
}

/// A file under `tests/fixtures`.
pub fn fixture(name: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("tests/fixtures")
        .join(name)
}

/// Parses a JSON file, failing the test with the path when it cannot.
pub fn read_json(path: &Path) -> serde_json::Value {
    let text = std::fs::read_to_string(path)
        .unwrap_or_else(|e| panic!("cannot read {}: {e}", path.display()));
    serde_json::from_str(&text).unwrap_or_else(|e| panic!("{} is not JSON: {e}", path.display()))
}

/// An HTTP/1.1 request head as the scripted test servers read it: the
/// method and the headers, names lower-cased.
pub struct RequestHead {
    pub method: String,
    pub headers: Vec<(String, String)>,
}

impl RequestHead {
    /// From the request line; header lines follow through `add`.
    pub fn start(request_line: &str) -> Option<RequestHead> {
        Some(RequestHead {
            method: request_line.split_whitespace().next()?.to_string(),
            headers: Vec::new(),
        })
    }

    /// Takes one header line; `Some(false)` at the blank line that ends
    /// the head, `None` for a line that is no header.
    pub fn add(&mut self, line: &str) -> Option<bool> {
        let line = line.trim_end();
        if line.is_empty() {
            return Some(false);
        }
        let (k, v) = line.split_once(':')?;
        self.headers
            .push((k.trim().to_ascii_lowercase(), v.trim().to_string()));
        Some(true)
    }

    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(k, _)| k == name)
            .map(|(_, v)| v.as_str())
    }

    pub fn content_length(&self) -> usize {
        self.header("content-length")
            .and_then(|v| v.parse().ok())
            .unwrap_or(0)
    }
}

/// A marker unique to this test process and moment, for `MCPTOP_TEST_*_MARK`
/// environment variables that tag the children a run starts.
pub fn unique_mark(what: &str) -> String {
    let nanos = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.as_nanos());
    format!("{what}-{}-{nanos}", std::process::id())
}

/// The run's result says it ran to its end (not stopped by an error or a
/// signal).
pub fn assert_completed(r: &serde_json::Value) {
    assert_eq!(
        r["stopped_by"]["reason"], "completed",
        "{}",
        r["stopped_by"]
    );
}

/// Every planned request is in exactly one bucket (ok, an error kind, timed
/// out, lost, not sent, unanswered) and there was load; returns the
/// accounting.
pub fn assert_accounted(r: &serde_json::Value) -> &serde_json::Value {
    let a = &r["accounting"];
    let n = |k: &str| a[k].as_u64().unwrap_or_else(|| panic!("no {k} in {a}"));
    let errors: u64 = a["errors"]
        .as_object()
        .map(|o| o.values().filter_map(|v| v.as_u64()).sum())
        .unwrap_or(0);
    let sum = n("ok") + errors + n("timed_out") + n("lost") + n("not_sent") + n("unanswered");
    assert_eq!(sum, n("planned"), "buckets do not add up: {a}");
    assert_eq!(n("sum"), n("planned"), "{a}");
    assert!(n("planned") > 0, "{a}");
    a
}

/// After mcptop has exited, no process marked `var=value` is left: waits
/// (bounded, 10 s) for children still being reaped, then asserts.
pub fn assert_no_process_left(var: &str, value: &str) {
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(10);
    while processes_with_env(var, value) > 0 && std::time::Instant::now() < deadline {
        std::thread::sleep(std::time::Duration::from_millis(50));
    }
    assert_eq!(processes_with_env(var, value), 0, "children left behind");
}

/// Live processes whose environment holds `var=value`: the children a test
/// marked, counted to prove none is left behind.
pub fn processes_with_env(var: &str, value: &str) -> usize {
    let needle = format!("{var}={value}");
    std::fs::read_dir("/proc")
        .map(|entries| {
            entries
                .flatten()
                .filter(|e| e.file_name().to_string_lossy().parse::<u32>().is_ok())
                .filter(|e| {
                    std::fs::read(e.path().join("environ"))
                        .is_ok_and(|env| env.split(|b| *b == 0).any(|kv| kv == needle.as_bytes()))
                })
                .count()
        })
        .unwrap_or(0)
}
