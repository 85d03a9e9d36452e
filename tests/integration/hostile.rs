//! Hostile peers: a scripted server on a loopback TCP port that answers
//! `initialize` properly and then misbehaves in one way per test. mcptop must
//! classify what it sees, keep its memory bounded, finish the run and never
//! panic.

use crate::harness::{read_json, TestDir};
use std::io::{BufRead, BufReader, Write};
use std::net::{TcpListener, TcpStream};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::Duration;

#[derive(Clone, Copy)]
enum Misbehaviour {
    Garbage,
    WrongIds,
    DuplicateIds,
    NeverAnswers,
    ClosesAfter(u32),
    EndlessLine,
    NotificationFlood,
}

/// The scripted server; stops accepting when dropped.
struct Hostile {
    port: u16,
    stop: Arc<AtomicBool>,
}

impl Drop for Hostile {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::SeqCst);
        // Wake the accept loop.
        let _ = TcpStream::connect(("127.0.0.1", self.port));
    }
}

fn hostile(mode: Misbehaviour) -> Hostile {
    let listener = TcpListener::bind("127.0.0.1:0").expect("bind");
    let port = listener.local_addr().expect("addr").port();
    let stop = Arc::new(AtomicBool::new(false));
    let stopping = stop.clone();
    std::thread::spawn(move || {
        for stream in listener.incoming() {
            if stopping.load(Ordering::SeqCst) {
                return;
            }
            let Ok(stream) = stream else { continue };
            std::thread::spawn(move || {
                let _ = converse(stream, mode);
            });
        }
    });
    Hostile { port, stop }
}

fn id_of(line: &str) -> Option<u64> {
    serde_json::from_str::<serde_json::Value>(line)
        .ok()?
        .get("id")?
        .as_u64()
}

fn converse(stream: TcpStream, mode: Misbehaviour) -> std::io::Result<()> {
    stream.set_nodelay(true)?;
    let mut out = stream.try_clone()?;
    let mut lines = BufReader::new(stream).lines();
    let mut answered = 0u32;
    while let Some(line) = lines.next().transpose()? {
        let Some(id) = id_of(&line) else { continue };
        if line.contains("\"initialize\"") {
            writeln!(
                out,
                r#"{{"jsonrpc":"2.0","id":{id},"result":{{"protocolVersion":"2025-06-18","capabilities":{{}},"serverInfo":{{"name":"hostile","version":"0"}}}}}}"#
            )?;
            continue;
        }
        let ok = format!(r#"{{"jsonrpc":"2.0","id":{id},"result":{{"content":[]}}}}"#);
        match mode {
            Misbehaviour::Garbage => writeln!(out, "{{not json at all, id {id}")?,
            Misbehaviour::WrongIds => writeln!(
                out,
                r#"{{"jsonrpc":"2.0","id":{},"result":{{}}}}"#,
                id + 1_000_000
            )?,
            Misbehaviour::DuplicateIds => {
                writeln!(out, "{ok}")?;
                writeln!(out, "{ok}")?;
            }
            Misbehaviour::NeverAnswers => {}
            Misbehaviour::ClosesAfter(n) => {
                if answered == n {
                    // Half a message, then gone.
                    out.write_all(br#"{"jsonrpc":"2.0","id":"#)?;
                    return Ok(());
                }
                writeln!(out, "{ok}")?;
            }
            Misbehaviour::EndlessLine => {
                if answered == 0 {
                    // 80 MiB without a newline: more than the client keeps.
                    let chunk = vec![b'x'; 1024 * 1024];
                    for _ in 0..80 {
                        out.write_all(&chunk)?;
                    }
                    out.write_all(b"\n")?;
                }
                writeln!(out, "{ok}")?;
            }
            Misbehaviour::NotificationFlood => {
                let note = r#"{"jsonrpc":"2.0","method":"notifications/message","params":{"level":"info","data":"flood"}}"#;
                let mut burst = String::with_capacity(200 * note.len());
                for _ in 0..200 {
                    burst.push_str(note);
                    burst.push('\n');
                }
                out.write_all(burst.as_bytes())?;
                writeln!(out, "{ok}")?;
            }
        }
        answered += 1;
    }
    Ok(())
}

/// One second of load, each request given `timeout`.
pub fn one_second(timeout: &str) -> String {
    format!("duration = \"1s\"\ntimeout = \"{timeout}\"")
}

/// For peers whose first answer may take seconds on a busy machine (tens of
/// MiB to skip in a debug build): the run ends by request count, with a
/// timeout that covers the wait, so the test is about the peer, not the clock.
pub const BY_COUNT: &str = "requests = 40\nduration = \"60s\"\ntimeout = \"20s\"";

/// Runs a bounded echo workload (2 sessions, 4 in flight) against `target`,
/// with `stop` (its duration, count and timeout keys) and `extra` workload
/// keys; returns the result file and the exit code. mcptop must not panic.
pub fn run_hostile_echo(target: &str, stop: &str, extra: &str) -> (serde_json::Value, i32) {
    let dir = TestDir::new();
    dir.write(
        "w.toml",
        &format!(
            r#"name = "hostile"
{extra}
sessions = 2
concurrency = 4
warmup = "0s"
{stop}
[[ops]]
method = "tools/call"
tool = "echo"
arguments = {{ message = "hi" }}
"#
        ),
    );
    let output = dir
        .mcptop()
        .args(["run", "w.toml", "--target", target])
        .args(["--out", "r.json", "--quiet"])
        .timeout(Duration::from_secs(60))
        .output()
        .expect("run");
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(!stderr.contains("panicked"), "mcptop panicked: {stderr}");
    let code = output.status.code().expect("exited, not killed");
    (read_json(&dir.join("r.json")), code)
}

fn run_against(server: &Hostile) -> (serde_json::Value, i32) {
    run_stopped(server, &one_second("300ms"))
}

fn run_stopped(server: &Hostile, stop: &str) -> (serde_json::Value, i32) {
    let target = format!("tcp://127.0.0.1:{}", server.port);
    run_hostile_echo(&target, stop, "")
}

pub fn errors_of(r: &serde_json::Value, kind: &str) -> u64 {
    r["overall"]["errors_by_kind"][kind].as_u64().unwrap_or(0)
}

#[test]
fn malformed_json_is_a_violation_and_the_requests_time_out() {
    let (r, code) = run_against(&hostile(Misbehaviour::Garbage));
    assert_eq!(code, 1, "the default error rate fails it");
    assert_eq!(r["passed"], false);
    assert!(r["protocol"]["violations"].as_u64().unwrap_or(0) > 0, "{r}");
    assert!(errors_of(&r, "timeout") > 0, "{}", r["overall"]);
    assert_eq!(r["overall"]["ok"], 0);
}

#[test]
fn replies_with_unknown_ids_are_violations() {
    let (r, _) = run_against(&hostile(Misbehaviour::WrongIds));
    assert!(r["protocol"]["violations"].as_u64().unwrap_or(0) > 0, "{r}");
    assert!(errors_of(&r, "timeout") > 0, "{}", r["overall"]);
}

#[test]
fn duplicate_replies_count_once_and_are_violations() {
    let (r, code) = run_against(&hostile(Misbehaviour::DuplicateIds));
    let ok = r["overall"]["ok"].as_u64().unwrap_or(0);
    assert!(ok > 10, "{}", r["overall"]);
    assert_eq!(r["overall"]["errors"], 0, "{}", r["overall"]);
    assert!(r["protocol"]["violations"].as_u64().unwrap_or(0) > 0, "{r}");
    // Every reply came twice: the violations fail the default error rate.
    assert_eq!(code, 1, "{}", r["thresholds"]);
    assert_eq!(r["thresholds"][0]["by_default"], true);
    assert_eq!(r["thresholds"][0]["passed"], false);
}

#[test]
fn a_server_that_never_answers_times_out() {
    let (r, _) = run_against(&hostile(Misbehaviour::NeverAnswers));
    assert_eq!(r["overall"]["ok"], 0);
    assert!(errors_of(&r, "timeout") >= 4, "{}", r["overall"]);
}

#[test]
fn a_server_that_closes_mid_message_is_a_transport_error() {
    let (r, _) = run_against(&hostile(Misbehaviour::ClosesAfter(20)));
    assert!(
        r["overall"]["ok"].as_u64().unwrap_or(0) >= 20,
        "{}",
        r["overall"]
    );
    assert!(errors_of(&r, "transport") > 0, "{}", r["overall"]);
}

#[test]
fn an_endless_line_is_dropped_and_the_session_goes_on() {
    let (r, _) = run_stopped(&hostile(Misbehaviour::EndlessLine), BY_COUNT);
    assert_eq!(r["overall"]["errors"], 0, "{}", r["overall"]);
    assert!(
        r["overall"]["ok"].as_u64().unwrap_or(0) >= 40,
        "{}",
        r["overall"]
    );
    assert!(r["protocol"]["violations"].as_u64().unwrap_or(0) > 0, "{r}");
}

#[test]
fn a_notification_flood_is_counted_not_fatal() {
    let (r, _) = run_against(&hostile(Misbehaviour::NotificationFlood));
    assert_eq!(r["overall"]["errors"], 0, "{}", r["overall"]);
    let notes = r["protocol"]["notifications"].as_u64().unwrap_or(0);
    let ok = r["overall"]["ok"].as_u64().unwrap_or(0);
    assert!(
        ok > 10 && notes >= 200 * ok,
        "{notes} notifications, {ok} ok"
    );
}
