//! Network targets against real server processes: `mcptop serve --http/--tcp
//! /--ws` on a free loopback port, and (when installed) servers written by
//! others over Streamable HTTP. Every server started here is killed by a
//! guard, also when the test fails.

use crate::harness::{mcptop_bin, read_json, TestDir};
use crate::lifecycle::{measuring, Running};
use std::io::{BufRead, BufReader};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

/// A server process, killed when dropped.
pub struct Server {
    child: Child,
    pub url: String,
}

impl Server {
    /// A server process started elsewhere, reached at `url`.
    pub fn from_child(child: Child, url: String) -> Server {
        Server { child, url }
    }

    /// Its process id (for `--target-pid` and faults).
    pub fn pid(&self) -> u32 {
        self.child.id()
    }

    /// Waits (bounded) for the process to end, as when a fault kills it;
    /// true if it did.
    pub fn wait_exit(&mut self, within: Duration) -> bool {
        let deadline = Instant::now() + within;
        while Instant::now() < deadline {
            if let Ok(Some(_)) = self.child.try_wait() {
                return true;
            }
            std::thread::sleep(Duration::from_millis(20));
        }
        false
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// `mcptop serve ARGS` on port 0; the URL comes from its first line.
pub fn serve(args: &[&str]) -> Server {
    let mut child = Command::new(mcptop_bin())
        .arg("serve")
        .args(args)
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .expect("start mcptop serve");
    let stdout = child.stdout.take().expect("stdout");
    let mut server = Server {
        child,
        url: String::new(),
    };
    let mut line = String::new();
    BufReader::new(stdout)
        .read_line(&mut line)
        .expect("read the listening line");
    server.url = line
        .trim()
        .strip_prefix("listening on ")
        .unwrap_or_else(|| panic!("unexpected first line {line:?}"))
        .to_string();
    server
}

fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .map(|a| a.port())
        .expect("free port")
}

/// A peer from the environment on a free port, once it accepts connections;
/// `None` when the peer is not installed and may be skipped (`require`).
pub fn peer(var: &str, mode: Option<&str>) -> Option<Server> {
    let command = crate::require::peer_command(var)?;
    let port = free_port();
    let mut words = shell_split(&command);
    if let Some(mode) = mode {
        // `.../py_echo_server.py http` -> `... http-stateless`
        if let Some(last) = words.last_mut() {
            *last = mode.to_string();
        }
    }
    let mut cmd = Command::new(&words[0]);
    cmd.args(&words[1..])
        .env("PORT", port.to_string())
        .stdout(Stdio::null())
        .stderr(Stdio::null());
    if var == "PEER_PY_HTTP" {
        cmd.arg(port.to_string());
    }
    let server = Server {
        child: cmd.spawn().expect("start peer"),
        url: format!("http://127.0.0.1:{port}/mcp"),
    };
    let deadline = Instant::now() + Duration::from_secs(30);
    while std::net::TcpStream::connect(("127.0.0.1", port)).is_err() {
        assert!(Instant::now() < deadline, "{var} did not listen on {port}");
        std::thread::sleep(Duration::from_millis(100));
    }
    Some(server)
}

fn shell_split(text: &str) -> Vec<String> {
    text.split_whitespace().map(str::to_string).collect()
}

/// Runs the echo transport workload for a second; returns the result file.
fn run_echo(target: &str, extra: &[&str]) -> serde_json::Value {
    let dir = TestDir::new();
    let output = dir
        .mcptop()
        .args(["run", "transport-tcp", "--target", target])
        .args([
            "--duration",
            "1s",
            "--warmup",
            "0s",
            "--out",
            "r.json",
            "--quiet",
        ])
        .args(extra)
        .timeout(Duration::from_secs(60))
        .output()
        .expect("run mcptop");
    let r = read_json(&dir.join("r.json"));
    assert!(
        output.status.success(),
        "mcptop failed against {target}: {}\n{}",
        String::from_utf8_lossy(&output.stderr),
        String::from_utf8_lossy(&output.stdout)
    );
    r
}

fn assert_clean(r: &serde_json::Value, at_least: u64) {
    assert_eq!(
        r["stopped_by"]["reason"], "completed",
        "{}",
        r["stopped_by"]
    );
    assert_eq!(r["overall"]["errors"], 0, "{}", r["overall"]);
    assert_eq!(r["protocol"]["violations"], 0, "{}", r["protocol"]);
    let ops = r["overall"]["operations"].as_u64().unwrap_or(0);
    assert!(ops >= at_least, "only {ops} operations");
}

#[test]
fn echo_over_streamable_http_with_sessions_and_sse() {
    let server = serve(&["--http", "127.0.0.1:0"]);
    for protocol in ["2025-11-25", "2025-06-18", "2025-03-26"] {
        let r = run_echo(&server.url, &["--protocol", protocol]);
        assert_clean(&r, 50);
        assert_eq!(r["environment"]["protocol_version"], protocol);
    }
}

#[test]
fn echo_over_stateless_json_http_negotiates_the_stateless_era() {
    let server = serve(&["--http", "127.0.0.1:0", "--json-response", "--stateless"]);
    let r = run_echo(&server.url, &[]);
    assert_clean(&r, 50);
    assert_eq!(r["environment"]["protocol_version"], "2026-07-28");
    assert_eq!(r["environment"]["server_name"], "mcptop-builtin");
    let r = run_echo(&server.url, &["--protocol", "2025-11-25"]);
    assert_clean(&r, 50);
    assert_eq!(r["environment"]["protocol_version"], "2025-11-25");
}

#[test]
fn echo_over_tcp() {
    let server = serve(&["--tcp", "127.0.0.1:0"]);
    assert!(server.url.starts_with("tcp://127.0.0.1:"), "{}", server.url);
    let r = run_echo(&server.url, &["--sessions", "8"]);
    assert_clean(&r, 100);
}

#[test]
fn echo_over_websocket() {
    let server = serve(&["--ws", "127.0.0.1:0"]);
    let r = run_echo(&server.url, &[]);
    assert_clean(&r, 100);
}

#[test]
fn a_websocket_client_without_the_mcp_subprotocol_is_refused() {
    let server = serve(&["--ws", "127.0.0.1:0"]);
    let authority = server
        .url
        .trim_start_matches("ws://")
        .trim_end_matches('/')
        .to_string();
    let mut stream = std::net::TcpStream::connect(&authority).expect("connect");
    use std::io::{Read, Write};
    write!(
        stream,
        "GET / HTTP/1.1\r\nHost: {authority}\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n\
         Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\n\r\n"
    )
    .expect("write");
    let mut reply = [0u8; 64];
    let n = stream.read(&mut reply).expect("read");
    let head = String::from_utf8_lossy(&reply[..n]);
    assert!(head.starts_with("HTTP/1.1 400"), "{head}");
}

#[test]
fn http_server_rejects_foreign_origins_and_oversized_bodies() {
    let server = serve(&["--http", "127.0.0.1:0", "--json-response", "--stateless"]);
    let authority = server
        .url
        .trim_start_matches("http://")
        .trim_end_matches("/mcp")
        .to_string();
    let post = |origin: &str, body: &str| -> String {
        use std::io::{Read, Write};
        let mut s = std::net::TcpStream::connect(&authority).expect("connect");
        // The server may answer and close before the whole body is written.
        let _ = write!(
            s,
            "POST /mcp HTTP/1.1\r\nHost: {authority}\r\n{origin}Content-Type: application/json\r\n\
             Accept: application/json, text/event-stream\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{body}",
            body.len()
        );
        let mut out = String::new();
        let _ = s.read_to_string(&mut out);
        out
    };
    let ping = r#"{"jsonrpc":"2.0","id":1,"method":"ping"}"#;
    let evil = post("Origin: http://evil.example\r\n", ping);
    assert!(evil.starts_with("HTTP/1.1 403"), "{evil}");
    let big = format!(
        r#"{{"jsonrpc":"2.0","id":1,"method":"ping","params":{{"x":"{}"}}}}"#,
        "a".repeat(5 * 1024 * 1024)
    );
    let too_big = post("", &big);
    assert!(too_big.starts_with("HTTP/1.1 413"), "{too_big}");
}

#[test]
fn several_targets_run_in_turn_and_are_compared() {
    let tcp = serve(&["--tcp", "127.0.0.1:0"]);
    let ws = serve(&["--ws", "127.0.0.1:0"]);
    let dir = TestDir::new();
    let output = dir
        .mcptop()
        .args([
            "run",
            "transport-tcp",
            "--target",
            &tcp.url,
            "--target",
            &ws.url,
        ])
        .args([
            "--duration",
            "1s",
            "--warmup",
            "0s",
            "--out",
            "r.json",
            "--quiet",
        ])
        .timeout(Duration::from_secs(60))
        .output()
        .expect("run");
    assert!(output.status.success());
    let stdout = String::from_utf8_lossy(&output.stdout);
    let table = stdout
        .split("\ntarget ")
        .nth(1)
        .unwrap_or_else(|| panic!("no comparison table in:\n{stdout}"));
    assert!(
        table.contains(&tcp.url) && table.contains(&ws.url),
        "{table}"
    );
    for n in [1, 2] {
        assert_clean(&read_json(&dir.join(&format!("r-{n}.json"))), 50);
    }
}

#[test]
fn typescript_reference_server_over_streamable_http() {
    let Some(server) = peer("PEER_EVERYTHING_HTTP", None) else {
        return;
    };
    let r = run_echo(&server.url, &[]);
    assert_clean(&r, 20);
    assert_eq!(r["environment"]["protocol_version"], "2025-11-25");
}

#[test]
fn python_sdk_over_http_with_sessions() {
    let Some(server) = peer("PEER_PY_HTTP", None) else {
        return;
    };
    let r = run_echo(&server.url, &["--protocol", "2025-06-18"]);
    assert_clean(&r, 20);
    assert_eq!(r["environment"]["protocol_version"], "2025-06-18");
    let r = run_echo(&server.url, &[]);
    assert_clean(&r, 20);
    assert_eq!(r["environment"]["protocol_version"], "2026-07-28");
}

#[test]
fn python_sdk_over_stateless_json_http() {
    let Some(server) = peer("PEER_PY_HTTP", Some("http-stateless")) else {
        return;
    };
    for protocol in ["2026-07-28", "2025-11-25"] {
        let r = run_echo(&server.url, &["--protocol", protocol]);
        assert_clean(&r, 20);
        assert_eq!(r["environment"]["protocol_version"], protocol);
    }
}

#[test]
fn a_forgotten_http_session_is_renewed_after_404() {
    let port = free_port();
    let addr = format!("127.0.0.1:{port}");
    let first = serve(&["--http", &addr]);
    let dir = TestDir::new();
    let mut run = Running::start(
        &dir,
        &[
            "run",
            "transport-tcp",
            "--target",
            &first.url,
            "--protocol",
            "2025-11-25",
            "--sessions",
            "1",
            "--concurrency",
            "2",
            "--duration",
            "4s",
            "--warmup",
            "0s",
            "--out",
            "r.json",
            "--headless",
        ],
    );
    // The session is open and requests are answered: a measured interval.
    run.wait_for("a measured interval", Duration::from_secs(30), measuring);
    // A restarted server knows no sessions: the next request gets 404.
    drop(first);
    let _second = serve(&["--http", &addr]);
    let (status, _) = run.exit(Duration::from_secs(30));
    // Requests fail while no server listens, which breaks the error-rate
    // threshold (exit 1); anything worse is a failure.
    assert!(matches!(status.code(), Some(0 | 1)), "{status}");
    let r = read_json(&dir.join("r.json"));
    let intervals = r["intervals"].as_array().expect("intervals");
    // The last whole second (a run may end with a sliver of an interval).
    let last = intervals
        .iter()
        .rev()
        .find(|i| i["length_s"].as_f64().unwrap_or(0.0) >= 0.5)
        .expect("a whole interval");
    assert!(last["completed"].as_u64().unwrap_or(0) > 20, "{last}");
    assert_eq!(last["errors"], 0, "{last}");
    assert!(
        r["protocol"]["violations"].as_u64().unwrap_or(0) >= 1,
        "{}",
        r["protocol"]
    );
}

#[test]
fn the_stateless_era_over_tcp_and_websocket() {
    for mode in ["--tcp", "--ws"] {
        let server = serve(&[mode, "127.0.0.1:0"]);
        let r = run_echo(&server.url, &["--protocol", "2026-07-28"]);
        assert_clean(&r, 50);
        assert_eq!(r["environment"]["protocol_version"], "2026-07-28");
    }
}

#[test]
fn the_stateless_era_is_refused_on_the_legacy_sse_transport() {
    let dir = TestDir::new();
    dir.mcptop()
        .args(["run", "transport-tcp", "--target", "sse://127.0.0.1:9/sse"])
        .args(["--protocol", "2026-07-28", "--duration", "1s"])
        .assert()
        .code(2)
        .stderr(predicates::str::contains(
            "not the 2024-11-05 HTTP+SSE transport",
        ));
}
