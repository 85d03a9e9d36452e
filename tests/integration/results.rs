//! Results are never lost and bad output settings fail before any load:
//! `--out` checked first, `--out -` for stdout, a named fallback when the
//! write fails after the run, `--target-pid` of no process refused, and
//! the open-file limit raised (or named when it runs out).

use crate::harness::{mcptop_bin, read_json, TestDir};
use crate::lifecycle::{measuring, Running};
use std::time::{Duration, Instant};

#[test]
fn an_output_path_that_cannot_be_written_fails_before_the_load() {
    let dir = TestDir::new();
    let start = Instant::now();
    let out = dir
        .mcptop()
        .args(["run", "echo", "--headless", "--duration", "20s"])
        .args(["--out", "/proc/nope/r.json"])
        .timeout(Duration::from_secs(60))
        .output()
        .expect("run");
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(2), "{stderr}");
    assert!(
        stderr.contains("cannot write the result to /proc/nope/r.json")
            && stderr.contains("cannot create the directory /proc/nope"),
        "{stderr}"
    );
    assert!(!stderr.contains("req/s"), "the load ran: {stderr}");
    assert!(start.elapsed() < Duration::from_secs(15));
}

#[test]
fn out_dash_puts_only_the_result_on_stdout() {
    let dir = TestDir::new();
    let out = dir
        .mcptop()
        .args([
            "run",
            "echo",
            "--duration",
            "1s",
            "--warmup",
            "0s",
            "--out",
            "-",
        ])
        .timeout(Duration::from_secs(60))
        .output()
        .expect("run");
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(0), "{stderr}");
    let result: serde_json::Value =
        serde_json::from_slice(&out.stdout).expect("stdout is one JSON document");
    assert_eq!(result["schema"], "mcptop.run");
    assert!(result["overall"]["operations"].as_u64().unwrap_or(0) > 0);
    // The summary went to stderr.
    assert!(stderr.contains("p99"), "{stderr}");
    let several = dir
        .mcptop()
        .args([
            "run", "echo", "--out", "-", "-t", "builtin", "-t", "builtin",
        ])
        .output()
        .expect("run");
    assert_eq!(several.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&several.stderr).contains("--out - writes one result"));
}

#[cfg(target_os = "linux")]
#[test]
fn a_write_that_fails_after_the_run_goes_to_a_named_fallback() {
    let dir = TestDir::new();
    let tmp = dir.join("tmp");
    std::fs::create_dir(&tmp).expect("mkdir");
    std::fs::create_dir(dir.join("gone")).expect("mkdir");
    let args = [
        "run",
        "echo",
        "--headless",
        "--duration",
        "2s",
        "--warmup",
        "0s",
        "--out",
        "gone/r.json",
    ];
    let mut run = Running::start_with(&dir, &args, |c| {
        c.env("TMPDIR", &tmp);
    });
    run.wait_for("a progress line", Duration::from_secs(60), measuring);
    // The directory checked before the run is replaced by a file.
    std::fs::remove_dir(dir.join("gone")).expect("rmdir");
    std::fs::write(dir.join("gone"), "not a directory").expect("write");
    let (status, _) = run.exit(Duration::from_secs(60));
    let stderr = run.stderr();
    assert_eq!(status.code(), Some(2), "{stderr}");
    let stdout = run.stdout();
    assert!(stdout.contains("p99"), "the summary is printed: {stdout}");
    let saved: Vec<_> = std::fs::read_dir(&tmp)
        .expect("tmp")
        .filter_map(|e| e.ok().map(|e| e.path()))
        .collect();
    assert_eq!(saved.len(), 1, "{saved:?}");
    let fallback = &saved[0];
    assert!(
        stderr.contains(&format!(
            "the result is saved in {} instead",
            fallback.display()
        )),
        "{stderr}"
    );
    let r = read_json(fallback);
    assert!(r["overall"]["operations"].as_u64().unwrap_or(0) > 0);
}

#[cfg(unix)]
#[test]
fn out_through_a_symlink_and_to_dev_stdout_leaves_both_in_place() {
    let dir = TestDir::new();
    std::os::unix::fs::symlink("real.json", dir.join("link.json")).expect("symlink");
    dir.mcptop()
        .args([
            "run",
            "echo",
            "--requests",
            "50",
            "--warmup",
            "0s",
            "--quiet",
        ])
        .args(["--out", "link.json"])
        .assert()
        .success();
    let meta = std::fs::symlink_metadata(dir.join("link.json")).expect("link");
    assert!(meta.file_type().is_symlink());
    assert_eq!(read_json(&dir.join("real.json"))["schema"], "mcptop.run");
    let out = dir.run_ok(&[
        "run",
        "echo",
        "--requests",
        "50",
        "--warmup",
        "0s",
        "--quiet",
        "--out",
        "/dev/stdout",
    ]);
    assert!(String::from_utf8_lossy(&out.stdout).contains("\"schema\": \"mcptop.run\""));
    let dev = std::fs::symlink_metadata("/dev/stdout").expect("/dev/stdout");
    assert!(!dev.file_type().is_file(), "/dev/stdout was replaced");
}

#[cfg(target_os = "linux")]
#[test]
fn a_target_pid_that_does_not_exist_is_refused_before_the_load() {
    let dir = TestDir::new();
    let out = dir
        .mcptop()
        .args(["run", "echo", "--headless", "--target-pid", "999999"])
        .args(["--out", "r.json"])
        .timeout(Duration::from_secs(60))
        .output()
        .expect("run");
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(2), "{stderr}");
    assert!(
        stderr.contains("--target-pid 999999: no such process"),
        "{stderr}"
    );
    assert!(!dir.join("r.json").exists());
}

/// `mcptop run` against `sessions` children of `mcptop serve --stdio`, with
/// the open-file limits set to (soft, hard) before it starts.
fn run_with_fd_limits(sessions: u32, soft: u64, hard: u64) -> std::process::Output {
    use std::os::unix::process::CommandExt;
    let dir = TestDir::new();
    let target = format!("stdio:{} serve --stdio", mcptop_bin().display());
    let mut command = std::process::Command::new(mcptop_bin());
    command
        .current_dir(dir.path())
        .args(["run", "echo", "--headless", "--target", &target])
        .args(["--sessions", &sessions.to_string(), "--requests", "100"])
        .args(["--warmup", "0s", "--out", "r.json"]);
    // SAFETY: setrlimit is async-signal-safe; it runs in the child before exec.
    unsafe {
        command.pre_exec(move || {
            let lim = libc::rlimit {
                rlim_cur: soft as libc::rlim_t,
                rlim_max: hard as libc::rlim_t,
            };
            if libc::setrlimit(libc::RLIMIT_NOFILE, &lim) != 0 {
                return Err(std::io::Error::last_os_error());
            }
            Ok(())
        });
    }
    command.output().expect("run mcptop")
}

#[cfg(target_os = "linux")]
#[test]
fn the_soft_fd_limit_is_raised_and_running_out_names_ulimit() {
    // 30 children hold 90 pipe ends: past a soft limit of 64.
    let raised = run_with_fd_limits(30, 64, 4096);
    let stderr = String::from_utf8_lossy(&raised.stderr);
    assert_eq!(raised.status.code(), Some(0), "{stderr}");
    // With the hard limit at 64 too, the error says what to do.
    let capped = run_with_fd_limits(30, 64, 64);
    let stderr = String::from_utf8_lossy(&capped.stderr);
    assert_eq!(capped.status.code(), Some(2), "{stderr}");
    assert!(
        stderr.contains("ulimit -n") && stderr.contains("the limit is 64"),
        "{stderr}"
    );
}
