//! How mcptop ends, against the real binary: stop signals in every phase
//! (exit 130/143/129, results kept, no baseline written, the other targets
//! not run), a second signal exiting at once, no orphaned processes, output
//! paths checked before the load, results never lost, file-descriptor
//! limits. Waits are on conditions, each bounded.

use crate::harness::{fixture, mcptop_bin, read_json, TestDir};
use std::io::{BufRead, BufReader};
use std::path::Path;
use std::process::{Child, Command, ExitStatus, Stdio};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

/// A running mcptop whose stderr is collected as it comes.
pub struct Running {
    child: Child,
    stderr: Arc<Mutex<String>>,
}

impl Running {
    pub fn start(dir: &TestDir, args: &[&str]) -> Running {
        Running::start_with(dir, args, |_| {})
    }

    pub fn start_with(dir: &TestDir, args: &[&str], setup: impl FnOnce(&mut Command)) -> Running {
        let mut command = Command::new(mcptop_bin());
        command
            .current_dir(dir.path())
            .args(args)
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped());
        setup(&mut command);
        let mut child = command.spawn().expect("spawn mcptop");
        let stderr = Arc::new(Mutex::new(String::new()));
        let sink = stderr.clone();
        let pipe = child.stderr.take().expect("stderr");
        std::thread::spawn(move || {
            for line in BufReader::new(pipe).lines().map_while(Result::ok) {
                let mut all = sink.lock().expect("lock");
                all.push_str(&line);
                all.push('\n');
            }
        });
        Running { child, stderr }
    }

    pub fn pid(&self) -> u32 {
        self.child.id()
    }

    pub fn stderr(&self) -> String {
        self.stderr.lock().expect("lock").clone()
    }

    pub fn signal(&self, sig: libc::c_int) {
        // SAFETY: kill(2) on our own child.
        assert_eq!(unsafe { libc::kill(self.pid() as libc::pid_t, sig) }, 0);
    }

    /// Waits (bounded) until `ok` holds, failing with `what` and stderr.
    pub fn wait_for(&mut self, what: &str, limit: Duration, ok: impl Fn(&Running) -> bool) {
        let start = Instant::now();
        while !ok(self) {
            if let Ok(Some(status)) = self.child.try_wait() {
                panic!("mcptop ended ({status}) before {what}: {}", self.stderr());
            }
            assert!(
                start.elapsed() < limit,
                "no {what} within {limit:?}: {}",
                self.stderr()
            );
            std::thread::sleep(Duration::from_millis(20));
        }
    }

    /// Waits (bounded) for the exit; returns the status and how long it took.
    pub fn exit(&mut self, limit: Duration) -> (ExitStatus, Duration) {
        let start = Instant::now();
        loop {
            if let Some(status) = self.child.try_wait().expect("wait") {
                return (status, start.elapsed());
            }
            if start.elapsed() > limit {
                let _ = self.child.kill();
                panic!("mcptop still running {limit:?} later: {}", self.stderr());
            }
            std::thread::sleep(Duration::from_millis(20));
        }
    }

    pub fn stdout(&mut self) -> String {
        let mut out = String::new();
        if let Some(mut pipe) = self.child.stdout.take() {
            let _ = std::io::Read::read_to_string(&mut pipe, &mut out);
        }
        out
    }
}

impl Drop for Running {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// Fields of `/proc/PID/stat` after the command name: (state, ppid, pgid).
fn stat_of(pid: u32) -> Option<(char, u32, u32)> {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).ok()?;
    let mut f = stat[stat.rfind(')')? + 1..].split_whitespace();
    let state = f.next()?.chars().next()?;
    let ppid = f.next()?.parse().ok()?;
    let pgid = f.next()?.parse().ok()?;
    Some((state, ppid, pgid))
}

fn all_pids() -> Vec<u32> {
    std::fs::read_dir("/proc")
        .map(|d| {
            d.filter_map(|e| e.ok()?.file_name().to_str()?.parse().ok())
                .collect()
        })
        .unwrap_or_default()
}

fn children_of(parent: u32) -> Vec<u32> {
    all_pids()
        .into_iter()
        .filter(|&p| stat_of(p).is_some_and(|(_, ppid, _)| ppid == parent))
        .collect()
}

/// Processes (not zombies) in any of these groups.
fn alive_in_groups(groups: &[u32]) -> Vec<u32> {
    all_pids()
        .into_iter()
        .filter(|&p| stat_of(p).is_some_and(|(s, _, g)| groups.contains(&g) && s != 'Z'))
        .collect()
}

/// Waits (bounded) until no process of `groups` is left; kills what is
/// left and fails if some are.
fn assert_groups_end(groups: &[u32], limit: Duration) {
    let start = Instant::now();
    loop {
        let left = alive_in_groups(groups);
        if left.is_empty() {
            return;
        }
        if start.elapsed() > limit {
            for &g in groups {
                // SAFETY: kill(2) on groups this test's mcptop started.
                unsafe { libc::kill(-(g as libc::pid_t), libc::SIGKILL) };
            }
            panic!("processes {left:?} of groups {groups:?} outlived mcptop");
        }
        std::thread::sleep(Duration::from_millis(20));
    }
}

pub fn measuring(r: &Running) -> bool {
    r.stderr().contains("req/s")
}

const ECHO_LONG: [&str; 7] = [
    "run",
    "echo",
    "--headless",
    "--duration",
    "60s",
    "--warmup",
    "0s",
];

#[cfg(target_os = "linux")]
#[test]
fn each_stop_signal_keeps_the_result_and_exits_with_its_code() {
    for (sig, code, name) in [
        (libc::SIGINT, 130, "SIGINT"),
        (libc::SIGTERM, 143, "SIGTERM"),
        (libc::SIGHUP, 129, "SIGHUP"),
    ] {
        let dir = TestDir::new();
        let mut args = ECHO_LONG.to_vec();
        args.extend(["--out", "r.json"]);
        let mut run = Running::start(&dir, &args);
        run.wait_for("a progress line", Duration::from_secs(60), measuring);
        run.signal(sig);
        if sig == libc::SIGHUP {
            // A closed terminal sends two, the kernel's and the shell's: the
            // second must not exit at once and lose the result.
            run.wait_for("the stop notice", Duration::from_secs(10), |r| {
                r.stderr().contains("SIGHUP: stopping")
            });
            run.signal(sig);
        }
        let (status, took) = run.exit(Duration::from_secs(30));
        assert_eq!(status.code(), Some(code), "{name}: {}", run.stderr());
        assert!(took < Duration::from_secs(10), "{name}: took {took:?}");
        let r = read_json(&dir.join("r.json"));
        assert_eq!(r["stopped_by"]["reason"], "signal", "{name}");
        assert_eq!(r["stopped_by"]["signal"], name);
        assert!(r["overall"]["operations"].as_u64().unwrap_or(0) > 0);
        let stdout = run.stdout();
        assert!(
            stdout.contains(&format!("interrupted by {name}")),
            "{stdout}"
        );
    }
}

#[cfg(target_os = "linux")]
#[test]
fn sigterm_while_100_stdio_sessions_hang_in_the_handshake_ends_them_all_promptly() {
    // Before: 41 s (four rounds of 32 handshakes, 10 s each), exit 2.
    let dir = TestDir::new();
    let target = format!(
        "stdio:python3 {} silent",
        fixture("flaky_server.py").display()
    );
    let args = [
        "run",
        "echo",
        "--headless",
        "--target",
        &target,
        "--sessions",
        "100",
        "--concurrency",
        "100",
        "--out",
        "r.json",
    ];
    let mut run = Running::start(&dir, &args);
    let pid = run.pid();
    run.wait_for("32 children", Duration::from_secs(60), |_| {
        children_of(pid).len() >= 32
    });
    let groups = children_of(pid);
    run.signal(libc::SIGTERM);
    let (status, took) = run.exit(Duration::from_secs(60));
    assert_eq!(status.code(), Some(143), "{}", run.stderr());
    assert!(took < Duration::from_secs(10), "took {took:?}");
    assert!(
        run.stderr()
            .contains("stopped by SIGTERM while connecting; nothing was measured"),
        "{}",
        run.stderr()
    );
    assert!(!dir.join("r.json").exists());
    // Each child led its own group, and every group is gone.
    for &g in &groups {
        assert!(stat_of(g).is_none_or(|(s, _, pgid)| pgid == g || s == 'Z'));
    }
    assert_groups_end(&groups, Duration::from_secs(5));
}

/// A listener (backlog 1) whose accept queue is full: connects to it hang.
fn full_accept_queue() -> (std::net::SocketAddr, Vec<std::net::TcpStream>, OwnedFd) {
    // SAFETY: plain socket calls on a descriptor this test owns.
    let fd = unsafe { libc::socket(libc::AF_INET, libc::SOCK_STREAM, 0) };
    assert!(fd >= 0);
    let owned = OwnedFd(fd);
    let mut addr: libc::sockaddr_in = unsafe { std::mem::zeroed() };
    addr.sin_family = libc::AF_INET as libc::sa_family_t;
    addr.sin_addr.s_addr = u32::from_be_bytes([127, 0, 0, 1]).to_be();
    let len = std::mem::size_of::<libc::sockaddr_in>() as libc::socklen_t;
    // SAFETY: addr is a valid sockaddr_in of `len` bytes.
    unsafe {
        assert_eq!(
            libc::bind(fd, &addr as *const _ as *const libc::sockaddr, len),
            0
        );
        assert_eq!(libc::listen(fd, 1), 0);
        let mut got = len;
        assert_eq!(
            libc::getsockname(fd, &mut addr as *mut _ as *mut libc::sockaddr, &mut got),
            0
        );
    }
    let port = u16::from_be(addr.sin_port);
    let sock_addr: std::net::SocketAddr = ([127, 0, 0, 1], port).into();
    let mut held = Vec::new();
    for _ in 0..64 {
        match std::net::TcpStream::connect_timeout(&sock_addr, Duration::from_millis(300)) {
            Ok(s) => held.push(s),
            Err(_) => return (sock_addr, held, owned),
        }
    }
    panic!("the accept queue never filled");
}

struct OwnedFd(libc::c_int);

impl Drop for OwnedFd {
    fn drop(&mut self) {
        // SAFETY: closing the descriptor this value owns.
        unsafe { libc::close(self.0) };
    }
}

#[cfg(target_os = "linux")]
#[test]
fn a_full_accept_queue_is_a_clear_connect_timeout_and_sigterm_stops_it_at_once() {
    let (addr, _held, _listener) = full_accept_queue();
    let target = format!("tcp://{addr}");
    // Left alone: one connect timeout (10 s), a clear error, exit 2.
    let dir = TestDir::new();
    let args = ["run", "echo", "--headless", "--target", &target];
    let mut run = Running::start(&dir, &args);
    let (status, took) = run.exit(Duration::from_secs(60));
    let stderr = run.stderr();
    assert_eq!(status.code(), Some(2), "{stderr}");
    assert!(stderr.contains("connect timed out after 10s"), "{stderr}");
    assert!(took < Duration::from_secs(30), "took {took:?}");
    // 2000 sessions and SIGTERM while they connect: out at once, 143.
    let args = [
        "run",
        "echo",
        "--headless",
        "--target",
        &target,
        "--sessions",
        "2000",
        "--concurrency",
        "2000",
    ];
    let mut run = Running::start(&dir, &args);
    let pid = run.pid();
    run.wait_for("32 sockets", Duration::from_secs(30), |_| {
        sockets_of(pid) >= 32
    });
    run.signal(libc::SIGTERM);
    let (status, took) = run.exit(Duration::from_secs(60));
    assert_eq!(status.code(), Some(143), "{}", run.stderr());
    assert!(took < Duration::from_secs(5), "took {took:?}");
}

fn sockets_of(pid: u32) -> usize {
    std::fs::read_dir(format!("/proc/{pid}/fd"))
        .map(|d| {
            d.filter_map(|e| std::fs::read_link(e.ok()?.path()).ok())
                .filter(|l| l.to_string_lossy().starts_with("socket:"))
                .count()
        })
        .unwrap_or(0)
}

/// Reads the launchers' pid files: (launcher, pgid, server, helper) each.
fn launchers(piddir: &Path) -> Vec<[u32; 4]> {
    std::fs::read_dir(piddir)
        .expect("piddir")
        .filter_map(|e| e.ok())
        .filter(|e| !e.file_name().to_string_lossy().starts_with('.'))
        .map(|e| {
            let text = std::fs::read_to_string(e.path()).expect("pid file");
            let n: Vec<u32> = text
                .split_whitespace()
                .map(|w| w.parse().expect("pid"))
                .collect();
            [n[0], n[1], n[2], n[3]]
        })
        .collect()
}

fn launcher_target(piddir: &Path) -> String {
    format!(
        "stdio:python3 {} {} {} serve --stdio",
        fixture("life_launcher.py").display(),
        piddir.display(),
        mcptop_bin().display()
    )
}

#[cfg(target_os = "linux")]
#[test]
fn a_server_behind_a_launcher_leaves_no_process_behind() {
    let dir = TestDir::new();
    let piddir = dir.join("pids");
    std::fs::create_dir(&piddir).expect("mkdir");
    let target = launcher_target(&piddir);
    let args = [
        "run",
        "echo",
        "--headless",
        "--target",
        &target,
        "--sessions",
        "2",
        "--duration",
        "1s",
        "--warmup",
        "0s",
        "--out",
        "r.json",
    ];
    let mut run = Running::start(&dir, &args);
    let (status, _) = run.exit(Duration::from_secs(120));
    assert_eq!(status.code(), Some(0), "{}", run.stderr());
    let found = launchers(&piddir);
    assert_eq!(found.len(), 2, "{found:?}");
    for [launcher, pgid, ..] in &found {
        assert_eq!(launcher, pgid, "each child leads its own group");
    }
    // The helpers ignore SIGTERM: the group is killed after its grace.
    let groups: Vec<u32> = found.iter().map(|l| l[0]).collect();
    assert_groups_end(&groups, Duration::from_secs(5));
    // The result counts the whole group: launcher, server and helper.
    let r = read_json(&dir.join("r.json"));
    let threads = r["memory"]["target"]["threads"].as_u64().unwrap_or(0);
    assert!(threads >= 6, "threads of both groups: {}", r["memory"]);
}

#[cfg(target_os = "linux")]
#[test]
fn a_killed_mcptop_takes_its_children_with_it() {
    // SIGKILL leaves mcptop no chance to end the groups: the parent-death
    // signal kills each direct child. Its own children are not covered
    // (the signal is not inherited): the server sees its stdin close and
    // exits; the helper, which reads nothing, is orphaned, and this test
    // ends it.
    let dir = TestDir::new();
    let piddir = dir.join("pids");
    std::fs::create_dir(&piddir).expect("mkdir");
    let target = launcher_target(&piddir);
    let args = [
        "run",
        "echo",
        "--headless",
        "--target",
        &target,
        "--sessions",
        "2",
        "--duration",
        "60s",
        "--warmup",
        "0s",
    ];
    let mut run = Running::start(&dir, &args);
    run.wait_for("a progress line", Duration::from_secs(120), measuring);
    let found = launchers(&piddir);
    assert_eq!(found.len(), 2, "{found:?}");
    run.signal(libc::SIGKILL);
    let _ = run.exit(Duration::from_secs(10));
    let launchers_and_servers: Vec<u32> = found.iter().flat_map(|l| [l[0], l[2]]).collect();
    let start = Instant::now();
    let alive = || {
        launchers_and_servers
            .iter()
            .copied()
            .filter(|&p| stat_of(p).is_some_and(|(s, _, _)| s != 'Z'))
            .collect::<Vec<_>>()
    };
    while !alive().is_empty() && start.elapsed() < Duration::from_secs(10) {
        std::thread::sleep(Duration::from_millis(20));
    }
    let left = alive();
    for l in &found {
        // SAFETY: kill(2) on the processes this test's mcptop started (by
        // pid and by the launcher's own group, never the test's).
        unsafe {
            libc::kill(-(l[0] as libc::pid_t), libc::SIGKILL);
            for &p in l.iter().skip(2) {
                libc::kill(p as libc::pid_t, libc::SIGKILL);
            }
        }
    }
    assert!(
        left.is_empty(),
        "launchers or servers outlived mcptop: {left:?}"
    );
}

#[cfg(target_os = "linux")]
#[test]
fn a_second_signal_exits_at_once_and_kills_the_groups() {
    let dir = TestDir::new();
    let piddir = dir.join("pids");
    std::fs::create_dir(&piddir).expect("mkdir");
    let target = launcher_target(&piddir);
    let args = [
        "run",
        "echo",
        "--headless",
        "--target",
        &target,
        "--sessions",
        "1",
        "--duration",
        "60s",
        "--warmup",
        "0s",
        "--out",
        "r.json",
    ];
    let mut run = Running::start(&dir, &args);
    run.wait_for("a progress line", Duration::from_secs(120), measuring);
    let found = launchers(&piddir);
    assert!(found.iter().all(|l| l[0] == l[1]), "own groups: {found:?}");
    run.signal(libc::SIGINT);
    run.wait_for("the stop notice", Duration::from_secs(10), |r| {
        r.stderr().contains("SIGINT: stopping")
    });
    run.signal(libc::SIGINT);
    let (status, _) = run.exit(Duration::from_secs(30));
    let stderr = run.stderr();
    assert_eq!(status.code(), Some(130), "{stderr}");
    // The helper ignores SIGTERM, so after the first signal mcptop gives the
    // group its two seconds of grace: the second signal lands in them and
    // ends the wait (and the group) at once.
    assert!(stderr.contains("SIGINT again: exiting now"), "{stderr}");
    let groups: Vec<u32> = found.iter().map(|l| l[0]).collect();
    assert_groups_end(&groups, Duration::from_secs(5));
}

#[cfg(target_os = "linux")]
#[test]
fn sigint_during_several_targets_runs_none_of_the_rest() {
    let dir = TestDir::new();
    let mut args = ECHO_LONG.to_vec();
    args.extend([
        "--target", "builtin", "--target", "builtin", "--target", "builtin", "--out", "r.json",
    ]);
    let mut run = Running::start(&dir, &args);
    run.wait_for("a progress line", Duration::from_secs(60), measuring);
    run.signal(libc::SIGINT);
    let (status, took) = run.exit(Duration::from_secs(30));
    let stderr = run.stderr();
    assert_eq!(status.code(), Some(130), "{stderr}");
    assert!(took < Duration::from_secs(10), "took {took:?}");
    assert!(
        stderr.contains("SIGINT: not running the other 2 target(s)"),
        "{stderr}"
    );
    let first = read_json(&dir.join("r-1.json"));
    assert_eq!(first["stopped_by"]["signal"], "SIGINT");
    assert!(!dir.join("r-2.json").exists() && !dir.join("r-3.json").exists());
}

#[cfg(target_os = "linux")]
#[test]
fn a_stopped_check_never_updates_the_baseline() {
    let dir = TestDir::new();
    dir.write(
        "w.toml",
        "name = \"w\"\nconcurrency = 2\nsessions = 1\nduration = \"2s\"\nwarmup = \"0s\"\n\
         [[ops]]\nmethod = \"tools/call\"\ntool = \"echo\"\narguments = { message = \"hi\" }\n",
    );
    dir.mcptop()
        .args(["baseline", "save", "w.toml", "--repeats", "1"])
        .timeout(Duration::from_secs(120))
        .assert()
        .success();
    let baseline = dir.join(".mcptop/baselines/baseline.json");
    let before = std::fs::read(&baseline).expect("baseline");
    let args = ["check", "w.toml", "--repeats", "5", "--update-baseline"];
    let mut run = Running::start(&dir, &args);
    run.wait_for("the first run", Duration::from_secs(60), |r| {
        r.stderr().contains("run 1/5")
    });
    run.signal(libc::SIGINT);
    let (status, took) = run.exit(Duration::from_secs(30));
    let stderr = run.stderr();
    assert_eq!(status.code(), Some(130), "{stderr}");
    assert!(took < Duration::from_secs(10), "took {took:?}");
    assert!(stderr.contains("no baseline is written"), "{stderr}");
    assert_eq!(std::fs::read(&baseline).expect("baseline"), before);
}
