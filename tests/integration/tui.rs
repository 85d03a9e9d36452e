//! The live screen end to end: a real `mcptop run` inside a detached tmux
//! session (a real terminal), read with `capture-pane`, stopped with `q`.
//! Without tmux these skip on a laptop and fail in CI (`require`).

use crate::harness::{mcptop_bin, read_json, TestDir};
use crate::require;
use std::path::Path;
use std::process::{Command, Output};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::{Duration, Instant};

/// A tmux server of our own (its own socket), killed however the test ends.
struct Tmux {
    socket: String,
}

impl Tmux {
    fn start(dir: &Path, width: u16, height: u16) -> Tmux {
        // One server per test: tests run in parallel and each kills its own.
        static NEXT: AtomicUsize = AtomicUsize::new(0);
        let tmux = Tmux {
            socket: format!(
                "mcptop-test-{}-{}",
                std::process::id(),
                NEXT.fetch_add(1, Ordering::Relaxed)
            ),
        };
        let out = tmux.run(&[
            "new-session",
            "-d",
            "-s",
            "t",
            "-x",
            &width.to_string(),
            "-y",
            &height.to_string(),
            "-c",
            &dir.display().to_string(),
            "bash --norc --noprofile",
        ]);
        assert!(out.status.success(), "tmux new-session: {out:?}");
        tmux
    }

    fn run(&self, args: &[&str]) -> Output {
        Command::new("tmux")
            .args(["-L", &self.socket, "-f", "/dev/null"])
            .args(args)
            .env_remove("TMUX")
            .output()
            .expect("run tmux")
    }

    fn send(&self, keys: &[&str]) {
        let mut args = vec!["send-keys", "-t", "t"];
        args.extend_from_slice(keys);
        assert!(self.run(&args).status.success(), "send-keys {keys:?}");
    }

    /// The process the pane's shell started (mcptop), once it runs.
    fn child_pid(&self) -> Option<u32> {
        let out = self.run(&["list-panes", "-t", "t", "-F", "#{pane_pid}"]);
        let shell = String::from_utf8_lossy(&out.stdout).trim().to_string();
        let children =
            std::fs::read_to_string(format!("/proc/{shell}/task/{shell}/children")).ok()?;
        children.split_whitespace().next()?.parse().ok()
    }

    fn screen(&self) -> String {
        String::from_utf8_lossy(&self.run(&["capture-pane", "-p", "-t", "t"]).stdout).into_owned()
    }

    /// Waits (bounded) until the screen satisfies `ok`; returns the last screen.
    fn wait_for(&self, what: &str, limit: Duration, ok: impl Fn(&str) -> bool) -> String {
        let start = Instant::now();
        loop {
            let screen = self.screen();
            if ok(&screen) {
                return screen;
            }
            assert!(
                start.elapsed() < limit,
                "timed out after {limit:?} waiting for {what}; screen:\n{screen}"
            );
            std::thread::sleep(Duration::from_millis(200));
        }
    }
}

impl Drop for Tmux {
    fn drop(&mut self) {
        let _ = self.run(&["kill-server"]);
    }
}

fn tmux_available() -> bool {
    Command::new("tmux")
        .arg("-V")
        .output()
        .is_ok_and(|o| o.status.success())
}

/// The figure before " req/s" in the throughput pane's title.
fn throughput_shown(screen: &str) -> Option<f64> {
    let after = screen.split("throughput: ").nth(1)?;
    let figure = after.split(" req/s").next()?.trim();
    let (digits, scale) = match figure.chars().last()? {
        'k' => (&figure[..figure.len() - 1], 1e3),
        'M' => (&figure[..figure.len() - 1], 1e6),
        _ => (figure, 1.0),
    };
    digits.parse::<f64>().ok().map(|v| v * scale)
}

/// The shell's `echo EXITED=$?` has run: a line of its own, not the typed
/// command line (which also contains "EXITED=" and is on screen first).
fn shell_printed_exit(screen: &str) -> bool {
    screen.lines().any(|line| {
        line.strip_prefix("EXITED=")
            .is_some_and(|code| code.starts_with(|c: char| c.is_ascii_digit()))
    })
}

/// `mcptop run echo` for `duration` on a live screen of its own, once it
/// shows a measured interval: the tmux server and that screen. `None`
/// (after `require::missing`) without tmux.
fn live_echo(dir: &TestDir, size: (u16, u16), duration: &str) -> Option<(Tmux, String)> {
    let args = format!("run echo --duration {duration} --out r.json");
    let tmux = Tmux::mcptop(dir, size, &args)?;
    let screen = tmux.wait_for("a measured interval", Duration::from_secs(30), |s| {
        throughput_shown(s).is_some_and(|r| r > 0.0)
    });
    Some((tmux, screen))
}

impl Tmux {
    /// A tmux server of its own whose shell runs `mcptop ARGS` and then
    /// prints its exit code (`EXITED=N`). `None` (after `require::missing`)
    /// without tmux.
    fn mcptop(dir: &TestDir, size: (u16, u16), args: &str) -> Option<Tmux> {
        if !tmux_available() {
            require::missing("tmux is not installed", require::TMUX_INSTALL);
            return None;
        }
        let tmux = Tmux::start(dir.path(), size.0, size.1);
        let command = format!("{} {args}", mcptop_bin().display());
        tmux.send(&[&format!("{}; echo EXITED=$?", command.trim_end()), "Enter"]);
        Some(tmux)
    }

    /// Presses `key`, then waits (bounded) until the screen satisfies `ok`;
    /// returns that screen.
    fn press(&self, key: &str, what: &str, limit: Duration, ok: impl Fn(&str) -> bool) -> String {
        self.send(&[key]);
        self.wait_for(what, limit, ok)
    }

    /// The screen once mcptop has exited and the shell printed its code.
    fn exited(&self) -> String {
        self.wait_for(
            "mcptop to exit",
            Duration::from_secs(20),
            shell_printed_exit,
        )
    }
}

#[test]
fn live_screen_shows_the_run_and_q_stops_it_and_restores_the_terminal() {
    let dir = TestDir::new();
    let Some((tmux, screen)) = live_echo(&dir, (120, 40), "30s") else {
        return;
    };
    assert!(screen.contains("latency (corrected): p50"), "{screen}");
    assert!(screen.contains("p99.9"), "{screen}");
    assert!(screen.contains("latency histogram"), "{screen}");
    assert!(screen.contains("operations (corrected)"), "{screen}");
    assert!(screen.contains("echo -> builtin"), "{screen}");
    assert!(
        !dir.join("r.json").exists(),
        "result written before the end"
    );

    tmux.send(&["q"]);
    let screen = tmux.exited();
    // Back on the shell: the summary printed after the alternate screen left.
    assert!(screen.contains("EXITED=0"), "{screen}");
    assert!(screen.contains("stopped: interrupted"), "{screen}");
    assert!(screen.contains("result: r.json"), "{screen}");
    assert!(!screen.contains("latency histogram"), "{screen}");
    let report = read_json(&dir.join("r.json"));
    assert_eq!(report["stopped_by"]["reason"], "interrupted");
    let ops = report["overall"]["operations"].as_u64().unwrap_or_default();
    assert!(ops > 0, "no operations in r.json: {report}");
}

#[cfg(target_os = "linux")]
#[test]
fn sigterm_during_the_live_screen_writes_the_result_and_restores_the_terminal() {
    let dir = TestDir::new();
    let Some((tmux, _)) = live_echo(&dir, (100, 30), "30s") else {
        return;
    };
    let pid = tmux.child_pid().expect("mcptop's pid");
    let killed = Command::new("kill")
        .args(["-TERM", &pid.to_string()])
        .status()
        .expect("run kill");
    assert!(killed.success());
    let screen = tmux.exited();
    assert!(screen.contains("EXITED=143"), "{screen}");
    assert!(
        screen.contains("stopped: interrupted by SIGTERM"),
        "{screen}"
    );
    assert!(!screen.contains("latency histogram"), "{screen}");
    let report = read_json(&dir.join("r.json"));
    assert_eq!(report["stopped_by"]["signal"], "SIGTERM");
}

/// Field 52 of `/proc/PID/stat` (the wait status) once `pid` is a zombie,
/// `None` while it runs or once it is reaped.
fn zombie_status(pid: u32) -> Option<Option<i64>> {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).ok()?;
    let after = &stat[stat.rfind(')')? + 1..];
    let fields: Vec<&str> = after.split_whitespace().collect();
    (fields.first() == Some(&"Z")).then(|| fields.get(49).and_then(|f| f.parse().ok()))
}

#[cfg(target_os = "linux")]
#[test]
fn a_hung_up_terminal_stops_the_run_and_keeps_the_result() {
    let dir = TestDir::new();
    let Some((tmux, _)) = live_echo(&dir, (100, 30), "60s") else {
        return;
    };
    let pid = tmux.child_pid().expect("mcptop's pid");
    // The terminal goes away (as when its window is closed): SIGHUP, and
    // every read of it from then on says end-of-file.
    drop(tmux);
    let start = Instant::now();
    let status = loop {
        match zombie_status(pid) {
            Some(status) => break status,
            None if !std::path::Path::new(&format!("/proc/{pid}")).exists() => break None,
            None => {}
        }
        assert!(
            start.elapsed() < Duration::from_secs(30),
            "mcptop still runs 30 s after its terminal hung up"
        );
        std::thread::sleep(Duration::from_millis(50));
    };
    // Its shell went with the terminal: when nobody reaps mcptop, its
    // status can still be read, and it is 129 (128 + SIGHUP).
    if let Some(status) = status {
        assert_eq!(status >> 8, 129, "wait status {status}");
    }
    let report = read_json(&dir.join("r.json"));
    assert_eq!(report["stopped_by"]["signal"], "SIGHUP");
}

#[test]
fn b_saves_the_run_as_a_baseline_and_p_writes_a_flame_graph() {
    let dir = TestDir::new();
    let Some((tmux, _)) = live_echo(&dir, (120, 40), "60s") else {
        return;
    };
    tmux.press("b", "the baseline mark", Duration::from_secs(10), |s| {
        s.contains("this run becomes the baseline of echo")
    });
    tmux.press("p", "the capture to start", Duration::from_secs(10), |s| {
        s.contains("profiling mcptop for 10s")
    });
    // The capture takes 10 s of the run; its outcome comes back on screen.
    let screen = tmux.wait_for("the profile", Duration::from_secs(40), |s| {
        s.contains("profile written: ") || s.contains("profile failed")
    });
    assert!(!screen.contains("profile failed"), "{screen}");
    tmux.send(&["q"]);
    let screen = tmux.exited();
    assert!(screen.contains("EXITED=0"), "{screen}");
    assert!(
        screen.contains("baseline: this run of echo saved in .mcptop/baselines/baseline.json"),
        "{screen}"
    );

    // The baseline holds exactly the run written to r.json.
    let result = read_json(&dir.join("r.json"));
    let baseline = read_json(&dir.join(".mcptop/baselines/baseline.json"));
    let runs = baseline["workloads"]["echo"].as_array().expect("echo runs");
    assert_eq!(runs.len(), 1);
    assert_eq!(runs[0]["overall"], result["overall"]);
    let compared = dir.run_ok(&["compare", ".mcptop/baselines/baseline.json", "r.json"]);
    let table = String::from_utf8_lossy(&compared.stdout);
    assert!(table.contains("1 run(s) vs 1"), "{table}");

    // The flame graph, its folded stacks and the outcome beside them.
    let files: Vec<String> = std::fs::read_dir(dir.join("profiles"))
        .expect("profiles/")
        .filter_map(|e| e.ok())
        .map(|e| e.file_name().to_string_lossy().into_owned())
        .collect();
    let named = |ext: &str| {
        files
            .iter()
            .find(|f| f.starts_with("echo-live-") && f.ends_with(ext))
            .map(|f| dir.join("profiles").join(f))
            .unwrap_or_else(|| panic!("no echo-live-*{ext} in {files:?}"))
    };
    let svg = std::fs::read_to_string(named(".svg")).expect("svg");
    assert!(
        svg.contains("<svg") && svg.contains("echo -&gt; builtin"),
        "title"
    );
    let folded = std::fs::read_to_string(named(".folded")).expect("folded");
    assert!(folded.lines().count() > 0);
    let log = std::fs::read_to_string(named(".log")).expect("log");
    let samples: u64 = log
        .trim()
        .strip_prefix("profile written: ")
        .and_then(|rest| rest.split(' ').next())
        .and_then(|n| n.parse().ok())
        .unwrap_or_else(|| panic!("log: {log}"));
    assert!(samples > 0, "{log}");
}

/// A run that ends by itself keeps its last screen (its result already
/// written) until a key; then `mcptop run` exits as before.
#[test]
fn a_finished_run_keeps_its_screen_until_a_key() {
    let dir = TestDir::new();
    let Some((tmux, _)) = live_echo(&dir, (100, 30), "2s") else {
        return;
    };
    let screen = tmux.wait_for("the end of the run", Duration::from_secs(30), |s| {
        s.contains("run finished: press any key")
    });
    assert!(screen.contains("result in r.json"), "{screen}");
    assert!(screen.contains("operations (corrected)"), "{screen}");
    assert!(dir.join("r.json").exists(), "the result waits for no key");
    assert!(!shell_printed_exit(&screen), "{screen}");
    tmux.send(&["x"]);
    let screen = tmux.exited();
    assert!(screen.contains("EXITED=0"), "{screen}");
    assert!(screen.contains("stopped: completed"), "{screen}");
}

/// `+` in a closed loop whose sessions already hold all they can (echo: 4
/// sessions × pipeline 4 = 16 in flight) says so instead of asking for 20.
#[test]
fn closed_loop_plus_at_the_cap_says_so() {
    let dir = TestDir::new();
    let Some((tmux, _)) = live_echo(&dir, (120, 40), "30s") else {
        return;
    };
    tmux.press("+", "the cap", Duration::from_secs(10), |s| {
        s.contains("in flight stays at 16: cap 16 = 4 sessions × 4")
    });
    tmux.press("-", "the step down", Duration::from_secs(10), |s| {
        s.contains("in flight 16 -> 13")
    });
    tmux.send(&["q"]);
    assert!(tmux.exited().contains("EXITED=0"));
}

/// Starting a run from the picker's target field, then `w` back to the
/// picker: the keys go to the list again, so `q` quits instead of being
/// typed into the target.
#[test]
fn after_w_the_picker_list_has_the_focus() {
    let dir = TestDir::new();
    let Some(tmux) = Tmux::mcptop(&dir, (120, 40), "") else {
        return;
    };
    tmux.wait_for("the picker", Duration::from_secs(20), |s| {
        s.contains("choose a workload")
    });
    tmux.press("Tab", "the target field", Duration::from_secs(10), |s| {
        s.contains("builtin_")
    });
    tmux.press("Enter", "the live screen", Duration::from_secs(30), |s| {
        s.contains("operations (")
    });
    tmux.press("w", "the picker again", Duration::from_secs(30), |s| {
        s.contains("last run: ")
    });
    tmux.send(&["q"]);
    // Quit from the picker, with the summary of the stopped run (its exit
    // code is its thresholds', which a run stopped at once may fail).
    let screen = tmux.exited();
    assert!(screen.contains("stopped: interrupted"), "{screen}");
    assert!(!screen.contains("builtinq"), "{screen}");
}

/// `priority-flood` on
/// builtin, Tab selects the flood, `+` asks it for more, and the header
/// shows the flood's new asked load.
#[test]
fn tab_and_plus_change_the_selected_scenario() {
    let dir = TestDir::new();
    let args = "run priority-flood --duration 30s --out r.json";
    let Some(tmux) = Tmux::mcptop(&dir, (120, 40), args) else {
        return;
    };
    tmux.wait_for("both scenarios", Duration::from_secs(30), |s| {
        s.contains("▶ probe asked 20 req/s") && s.contains("flood 16 in flight asked")
    });
    tmux.press("Tab", "the flood selected", Duration::from_secs(10), |s| {
        s.contains("▶ flood")
    });
    let screen = tmux.press("+", "the flood's new load", Duration::from_secs(10), |s| {
        s.contains("flood: in flight 16 -> 20") && s.contains("flood 20 in flight asked")
    });
    assert!(screen.contains("  probe asked 20 req/s"), "{screen}");
    tmux.send(&["q"]);
    // The exit code is the probe's p99 threshold's, which a loaded
    // machine may fail: the run's end is what this test needs.
    let screen = tmux.exited();
    assert!(screen.contains("stopped: interrupted"), "{screen}");
    assert!(screen.contains("result: r.json"), "{screen}");
}
