//! SSE resumption under load (`resume_after`) against real processes: the
//! builtin server's `events` tool over `mcptop serve --http` (every number
//! once and in order across a drop and a `Last-Event-ID` resumption, the
//! replay latency in the result file), a hostile Python server that replays
//! one event twice or skips one (each a protocol violation naming the
//! number), `--json-response` (the tool says it needs SSE), and the
//! TypeScript reference server's in-memory event store with its
//! `trigger-long-running-operation` tool (skipped on a laptop without the
//! peers; a failure under `MCPTOP_REQUIRE_PEERS=1`).

use crate::harness::{fixture, read_json, TestDir};
use crate::net::{peer, serve, Server};
use serde_json::Value;
use std::io::{BufRead, BufReader};
use std::process::{Command, Stdio};
use std::time::Duration;

/// A workload of `requests` calls of `tool` with `arguments`, each dropped
/// after `after` events and resumed.
fn workload(tool: &str, arguments: &str, after: u32, requests: u32, extra: &str) -> String {
    format!(
        "name = \"resume\"\nprotocol = \"2025-11-25\"\nsessions = 2\nconcurrency = 2\n\
         requests = {requests}\ntimeout = \"20s\"\n{extra}\n\n[[ops]]\nmethod = \"tools/call\"\n\
         tool = \"{tool}\"\narguments = {arguments}\nresume_after = {after}\n"
    )
}

/// Runs the workload against `target`: the result file and the summary.
fn run(text: &str, target: &str) -> (Value, String) {
    let dir = TestDir::new();
    dir.write("w.toml", text);
    let out = dir
        .mcptop()
        .args(["run", "w.toml", "--headless", "--warmup", "0s"])
        .args(["--target", target, "--out", "r.json"])
        .timeout(Duration::from_secs(120))
        .output()
        .expect("run mcptop");
    let summary = String::from_utf8_lossy(&out.stdout).into_owned();
    assert!(
        matches!(out.status.code(), Some(0 | 1)),
        "mcptop failed: {}\n{summary}",
        String::from_utf8_lossy(&out.stderr)
    );
    (read_json(&dir.join("r.json")), summary)
}

/// Checks a clean run: every call resumed, each number once and in order.
fn assert_every_number_once(r: &Value, op: &str, calls: u64, events: u64) {
    assert_eq!(r["overall"]["errors"], 0, "{}", r["overall"]);
    assert_eq!(r["overall"]["ok"], calls, "{}", r["overall"]);
    let s = &r["sse_resume"][op];
    assert_eq!(s["calls"], calls, "{s}");
    assert_eq!(s["resumed"], calls, "{s}");
    assert_eq!(s["events"], calls * events, "{s}");
    assert_eq!(
        (&s["duplicates"], &s["gaps"]),
        (&0.into(), &0.into()),
        "{s}"
    );
    assert!(s["replayed_events"].as_u64().unwrap_or(0) > 0, "{s}");
    assert_eq!(s["replay"]["count"], calls, "{s}");
    assert!(s["replay"]["p50_us"].as_u64().unwrap_or(0) > 0, "{s}");
    assert!(s["events_per_s"].as_f64().unwrap_or(0.0) > 0.0, "{s}");
}

#[test]
fn events_resumed_from_mcptop_serve_http_arrive_once_each_and_in_order() {
    let server = serve(&["--http", "127.0.0.1:0"]);
    for (count, after) in [(100, 50), (1000, 10)] {
        let args = format!("{{ count = {count}, interval_us = 100 }}");
        let (r, summary) = run(&workload("events", &args, after, 6, ""), &server.url);
        assert_every_number_once(&r, "events", 6, count);
        assert!(
            summary.contains("SSE resumption: events: 6 of 6 calls resumed"),
            "{summary}"
        );
    }
}

#[test]
fn a_resumption_after_a_delay_replays_what_was_stored_meanwhile() {
    let server = serve(&["--http", "127.0.0.1:0"]);
    let text = workload("events", "{ count = 200, interval_us = 0 }", 20, 4, "").replace(
        "resume_after = 20",
        "resume_after = 20\nresume_delay = \"200ms\"",
    );
    let (r, _) = run(&text, &server.url);
    assert_every_number_once(&r, "events", 4, 200);
}

/// The hostile fixture in `mode`, once it listens.
fn hostile(mode: &str) -> Server {
    let mut child = Command::new("python3")
        .arg(fixture("sse_resume_server.py"))
        .arg(mode)
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .expect("start python3");
    let stdout = child.stdout.take().expect("stdout");
    let mut line = String::new();
    BufReader::new(stdout)
        .read_line(&mut line)
        .expect("the listening line");
    let url = line.trim().trim_start_matches("listening on ").to_string();
    Server::from_child(child, url)
}

fn hostile_run(mode: &str) -> (Value, String) {
    let server = hostile(mode);
    run(
        &workload("events", "{ count = 20 }", 10, 3, ""),
        &server.url,
    )
}

#[test]
fn the_hostile_fixture_replaying_right_is_clean() {
    let (r, _) = hostile_run("ok");
    assert_every_number_once(&r, "events", 3, 20);
}

#[test]
fn a_replayed_duplicate_is_a_protocol_violation_naming_the_number() {
    let (r, summary) = hostile_run("duplicate");
    assert_eq!(
        r["overall"]["errors_by_kind"]["protocol"], 3,
        "{}",
        r["overall"]
    );
    assert_eq!(r["sse_resume"]["events"]["duplicates"], 3);
    assert_eq!(r["sse_resume"]["events"]["gaps"], 0);
    assert!(
        summary.contains("SSE resumption: event 10 arrived twice"),
        "{summary}"
    );
}

#[test]
fn a_replay_with_a_gap_is_a_protocol_violation_naming_the_number() {
    let (r, summary) = hostile_run("gap");
    assert_eq!(
        r["overall"]["errors_by_kind"]["protocol"], 3,
        "{}",
        r["overall"]
    );
    assert_eq!(r["sse_resume"]["events"]["gaps"], 3);
    assert_eq!(r["sse_resume"]["events"]["duplicates"], 0);
    assert!(
        summary.contains("SSE resumption: event 11 never arrived"),
        "{summary}"
    );
}

#[test]
fn events_on_a_json_response_server_says_it_needs_sse() {
    let server = serve(&["--http", "127.0.0.1:0", "--json-response"]);
    let (r, summary) = run(&workload("events", "{ count = 10 }", 5, 2, ""), &server.url);
    assert_eq!(
        r["overall"]["errors_by_kind"]["tool_error"], 2,
        "{}",
        r["overall"]
    );
    assert!(
        summary.contains("events needs SSE: this server runs with --json-response"),
        "{summary}"
    );
}

#[test]
fn resumption_works_against_the_typescript_reference_server() {
    let Some(server) = peer("PEER_EVERYTHING_HTTP", None) else {
        return;
    };
    // Its event store replays what it had stored when the GET came and then
    // stays silent (it does not follow the stream), so one call needs a
    // second resumption unless the tool is done before the first.
    let args = "{ duration = 0, steps = 100 }";
    let op = "trigger-long-running-operation";
    let (r, _) = run(&workload(op, args, 50, 4, ""), &server.url);
    assert_every_number_once(&r, op, 4, 100);
    let delayed = workload(op, args, 50, 4, "").replace(
        "resume_after = 50",
        "resume_after = 50\nresume_delay = \"500ms\"",
    );
    let (r, _) = run(&delayed, &server.url);
    assert_every_number_once(&r, op, 4, 100);
}

#[test]
fn events_over_the_builtin_server_simply_arrive_on_the_stream() {
    // No resume_after, no progress token: notifications/message, counted.
    let text = "name = \"events\"\nconcurrency = 1\nrequests = 5\n\n[[ops]]\n\
                method = \"tools/call\"\ntool = \"events\"\narguments = { count = 30 }\n";
    let (r, _) = run(text, "builtin");
    assert_eq!(r["overall"]["ok"], 5, "{}", r["overall"]);
    assert_eq!(r["protocol"]["notifications"], 150, "{}", r["protocol"]);
    assert!(r.get("sse_resume").is_none(), "nothing resumed");
}

#[test]
fn warm_up_calls_are_not_in_the_resumption_figures() {
    // One call at a time for 1 s of warm-up and 2 s measured: the figures
    // count the measured calls only, as the request counts do.
    let server = serve(&["--http", "127.0.0.1:0"]);
    let text = "name = \"resume\"\nprotocol = \"2025-11-25\"\nsessions = 1\nconcurrency = 1\n\
         duration = \"2s\"\ntimeout = \"20s\"\n\n[[ops]]\nmethod = \"tools/call\"\n\
         tool = \"events\"\narguments = { count = 20, interval_us = 0 }\nresume_after = 10\n";
    let dir = TestDir::new();
    dir.write("w.toml", text);
    let out = dir
        .mcptop()
        .args(["run", "w.toml", "--headless", "--warmup", "1s"])
        .args(["--target", &server.url, "--out", "r.json"])
        .timeout(Duration::from_secs(120))
        .output()
        .expect("run mcptop");
    assert!(
        matches!(out.status.code(), Some(0 | 1)),
        "mcptop failed: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    let r = read_json(&dir.join("r.json"));
    let warm = r["warmup_samples"].as_u64().unwrap_or(0);
    assert!(warm > 0, "no warm-up call: {}", r["overall"]);
    let measured = r["overall"]["operations"].as_u64().unwrap_or(0);
    let s = &r["sse_resume"]["events"];
    assert_eq!(s["calls"].as_u64(), Some(measured), "{s} (warm-up {warm})");
}
