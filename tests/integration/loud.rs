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

/// Peak resident memory of a finished child, from `wait4` (Linux keeps the
/// high-water mark of the child and the descendants it reaped). Waits at
/// most `limit`, polling for the exit; kills the child past it.
#[cfg(target_os = "linux")]
fn wait_with_peak_rss(child: &mut std::process::Child, limit: Duration) -> (i32, u64) {
    let pid = child.id() as libc::pid_t;
    let deadline = std::time::Instant::now() + limit;
    loop {
        let mut status = 0;
        // SAFETY: plain out-parameters for one of our own children.
        let mut usage: libc::rusage = unsafe { std::mem::zeroed() };
        let done = unsafe { libc::wait4(pid, &mut status, libc::WNOHANG, &mut usage) };
        assert!(done >= 0, "wait4 failed");
        if done == pid {
            let code = if libc::WIFEXITED(status) {
                libc::WEXITSTATUS(status)
            } else {
                -1
            };
            // ru_maxrss is in KiB on Linux.
            return (code, usage.ru_maxrss as u64 * 1024);
        }
        if std::time::Instant::now() > deadline {
            let _ = child.kill();
            panic!("mcptop did not finish within {limit:?}");
        }
        std::thread::sleep(Duration::from_millis(50));
    }
}

/// Sixteen sessions, each answered once with a 200 MB line (over the
/// 64 MiB limit): the lines are violations, the requests they answer fail
/// at once, the run goes on to its end, and mcptop's peak memory stays
/// under 512 MiB: the shared line budget (256 MiB) bounds what sixteen
/// buffers of up to 64 MiB each (1 GiB) would otherwise take.
#[cfg(target_os = "linux")]
#[test]
fn sixteen_sessions_of_200_mb_lines_cost_bounded_memory() {
    const SESSIONS: u64 = 16;
    const MAX_PEAK: u64 = 512 << 20;
    let dir = TestDir::new();
    dir.write(
        "w.toml",
        &format!(
            r#"name = "long-lines"
sessions = {SESSIONS}
concurrency = {SESSIONS}
requests = {}
warmup = "0s"
timeout = "120s"
[[ops]]
method = "tools/call"
tool = "echo"
arguments = {{ message = "hi" }}
"#,
            SESSIONS * 4
        ),
    );
    let mut child = std::process::Command::new(crate::harness::mcptop_bin())
        .current_dir(dir.path())
        .args([
            "run",
            "w.toml",
            "--quiet",
            "--no-memory-stats",
            "--out",
            "r.json",
        ])
        .args(["--target", &loud("long-lines", "200")])
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::null())
        .spawn()
        .expect("start mcptop");
    let (code, peak) = wait_with_peak_rss(&mut child, Duration::from_secs(300));
    let r = read_json(&dir.join("r.json"));
    assert_eq!(
        r["stopped_by"]["reason"], "request_limit",
        "{}",
        r["stopped_by"]
    );
    let violations = r["protocol"]["violations"].as_u64().unwrap_or(0);
    assert_eq!(violations, SESSIONS, "one per long line: {}", r["protocol"]);
    assert_eq!(r["overall"]["errors_by_kind"]["protocol"], SESSIONS);
    assert_eq!(r["overall"]["ok"], SESSIONS * 3, "{}", r["overall"]);
    assert_eq!(code, 1, "the violations fail the default error rate");
    eprintln!("mcptop peak RSS: {:.1} MiB", peak as f64 / (1 << 20) as f64);
    assert!(
        peak < MAX_PEAK,
        "peak RSS {:.1} MiB is over {} MiB",
        peak as f64 / (1 << 20) as f64,
        MAX_PEAK >> 20
    );
}

/// `mcptop serve --tcp` with sixteen connections each sending a 100 MB
/// request line (over the 64 MiB limit, as the client test's 200 MB lines
/// are; half the bytes to push): each is skipped, counted and refused by
/// its id, the connections go on answering, and the server's peak memory
/// stays under 512 MiB (sixteen 64 MiB buffers would be 1 GiB).
#[cfg(target_os = "linux")]
#[test]
fn serve_tcp_bounds_memory_for_sixteen_100_mb_requests() {
    use std::io::{BufRead, BufReader, Read, Write};
    const CONNECTIONS: usize = 16;
    let mut server = std::process::Command::new(crate::harness::mcptop_bin())
        .args(["serve", "--tcp", "127.0.0.1:0"])
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .expect("start mcptop serve");
    let mut listening = String::new();
    let stdout = server.stdout.take().expect("stdout");
    BufReader::new(stdout)
        .read_line(&mut listening)
        .expect("the listening line");
    let addr = listening
        .trim()
        .strip_prefix("listening on tcp://")
        .unwrap_or_else(|| panic!("unexpected {listening:?}"))
        .to_string();
    let clients: Vec<_> = (0..CONNECTIONS)
        .map(|i| {
            let addr = addr.clone();
            std::thread::spawn(move || -> std::io::Result<(String, String)> {
                let mut socket = std::net::TcpStream::connect(&addr)?;
                socket.set_read_timeout(Some(Duration::from_secs(120)))?;
                write!(
                    socket,
                    r#"{{"jsonrpc":"2.0","id":{i},"method":"tools/call","params":{{"name":"echo","arguments":{{"message":""#
                )?;
                let chunk = vec![b'x'; 1 << 20];
                for _ in 0..100 {
                    socket.write_all(&chunk)?;
                }
                socket.write_all(b"\"}}}\n")?;
                socket.write_all(br#"{"jsonrpc":"2.0","id":99,"method":"ping"}"#)?;
                socket.write_all(b"\n")?;
                let mut replies = BufReader::new(socket.try_clone()?).lines();
                let refusal = replies.next().transpose()?.unwrap_or_default();
                let pong = replies.next().transpose()?.unwrap_or_default();
                Ok((refusal, pong))
            })
        })
        .collect();
    for (i, client) in clients.into_iter().enumerate() {
        let (refusal, pong) = client.join().expect("client thread").expect("client io");
        let refusal: serde_json::Value = serde_json::from_str(&refusal).expect("JSON");
        assert_eq!(refusal["id"], i, "{refusal}");
        assert_eq!(refusal["error"]["code"], -32600, "{refusal}");
        assert!(pong.contains(r#""id":99"#), "{pong}");
    }
    // SAFETY: signalling our own child.
    unsafe { libc::kill(server.id() as libc::pid_t, libc::SIGKILL) };
    let (_, peak) = wait_with_peak_rss(&mut server, Duration::from_secs(30));
    let mut stderr = String::new();
    if let Some(mut e) = server.stderr.take() {
        let _ = e.read_to_string(&mut stderr);
    }
    assert!(
        stderr.contains(&format!("({CONNECTIONS} so far)")),
        "{stderr}"
    );
    eprintln!(
        "mcptop serve peak RSS: {:.1} MiB",
        peak as f64 / (1 << 20) as f64
    );
    assert!(peak < 512 << 20, "peak RSS {} MiB", peak >> 20);
}

#[test]
fn validate_names_every_problem_of_a_file() {
    let dir = TestDir::new();
    let six = crate::harness::fixture("../invalid_workloads/six-mistakes.toml");
    let output = dir
        .mcptop()
        .arg("validate")
        .arg(&six)
        .arg("echo")
        .output()
        .expect("run");
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert_eq!(output.status.code(), Some(2), "{stderr}");
    let keys = [
        "sesions",
        "concurrency",
        "duration",
        "ops[0].tool",
        "ops[1].wieght",
        "thresholds[0].max",
    ];
    for key in keys {
        assert!(
            stderr.contains(&format!("six-mistakes.toml: {key}: ")),
            "{key} missing:\n{stderr}"
        );
    }
    let problems = stderr
        .lines()
        .filter(|l| l.starts_with("mcptop: error: "))
        .count();
    assert_eq!(problems, 6, "{stderr}");
    assert!(stderr.contains("six-mistakes.toml: 6 problems"), "{stderr}");
    // The valid one is still judged.
    assert!(String::from_utf8_lossy(&output.stdout).contains("echo: ok"));
}

/// `validate --target` lists what the target offers (every page, resource
/// templates included) and names each operation that asks for something
/// it does not have: against the builtin server, mcptop's own server as a
/// child process, and a scripted server that pages its listings.
#[test]
fn validate_against_a_target_names_what_it_does_not_list() {
    let dir = TestDir::new();
    dir.write(
        "w.toml",
        r#"name = "w"
concurrency = 1
duration = "1s"
[[ops]]
method = "tools/call"
tool = "ech"
[[ops]]
method = "resources/read"
uri = "mcptop://payload/64"
[[ops]]
method = "resources/read"
uri = "mcptop://static/nope"
[[ops]]
method = "prompts/get"
prompt = "greet"
[[ops]]
method = "prompts/get"
prompt = "gret"
"#,
    );
    let serve = format!(
        "stdio:{} serve --stdio",
        crate::harness::mcptop_bin().display()
    );
    for target in ["builtin", serve.as_str()] {
        let output = dir
            .mcptop()
            .args(["validate", "w.toml", "mixed", "--target", target])
            .timeout(Duration::from_secs(60))
            .output()
            .expect("run");
        let stderr = String::from_utf8_lossy(&output.stderr);
        assert_eq!(output.status.code(), Some(2), "{stderr}");
        for expected in [
            "w.toml: ops[0].tool: no tool \"ech\"",
            "(did you mean \"echo\"?)",
            "w.toml: ops[2].uri: no resource \"mcptop://static/nope\"",
            "w.toml: ops[4].prompt: no prompt \"gret\"",
            "w.toml: 3 problems",
        ] {
            assert!(stderr.contains(expected), "{expected:?} missing:\n{stderr}");
        }
        let stdout = String::from_utf8_lossy(&output.stdout);
        assert!(stdout.contains("mixed: ok"), "{stdout}");
    }
    dir.write(
        "paged.toml",
        r#"name = "paged"
concurrency = 1
duration = "1s"
[[ops]]
method = "tools/call"
tool = "late-tool"
[[ops]]
method = "prompts/get"
prompt = "late-prompt"
[[ops]]
method = "resources/read"
uri = "loud://static/b"
[[ops]]
method = "resources/read"
uri = "loud://items/42"
"#,
    );
    dir.mcptop()
        .args(["validate", "paged.toml", "--target", &loud("listing", "")])
        .timeout(Duration::from_secs(60))
        .assert()
        .success();
}
