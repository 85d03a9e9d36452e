//! JSON-RPC batches (the 2025-03-26 era) end to end: the shipped `batch`
//! workload against `mcptop serve` over every line transport and Streamable
//! HTTP, and against the TypeScript reference server, with an exact request
//! count (95: nine whole batches of ten and a short last one).

use crate::harness::{mcptop_bin, read_json, TestDir};
use crate::net::{peer, serve};
use std::time::Duration;

const REQUESTS: u64 = 95;

/// Runs the `batch` workload for `REQUESTS` requests; returns the result file.
fn run_batch(target: &str) -> serde_json::Value {
    let dir = TestDir::new();
    let output = dir
        .mcptop()
        .args(["run", "batch", "--target", target])
        .args(["--requests", &REQUESTS.to_string(), "--warmup", "0s"])
        .args(["--out", "r.json", "--quiet"])
        .timeout(Duration::from_secs(60))
        .output()
        .expect("run mcptop");
    assert!(
        output.status.success(),
        "mcptop failed against {target}: {}\n{}",
        String::from_utf8_lossy(&output.stderr),
        String::from_utf8_lossy(&output.stdout)
    );
    read_json(&dir.join("r.json"))
}

fn assert_every_request_answered(r: &serde_json::Value) {
    assert_eq!(
        r["stopped_by"]["reason"], "request_limit",
        "{}",
        r["stopped_by"]
    );
    assert_eq!(r["overall"]["errors"], 0, "{}", r["overall"]);
    assert_eq!(r["overall"]["ok"], REQUESTS, "{}", r["overall"]);
    assert_eq!(r["protocol"]["violations"], 0, "{}", r["protocol"]);
    assert_eq!(r["environment"]["protocol_version"], "2025-03-26");
}

#[test]
fn batches_over_stdio_to_mcptop_serve() {
    let bin = mcptop_bin();
    let target = format!("stdio:{} serve --stdio", bin.display());
    assert_every_request_answered(&run_batch(&target));
}

#[test]
fn batches_over_tcp_and_websocket() {
    for mode in ["--tcp", "--ws"] {
        let server = serve(&[mode, "127.0.0.1:0"]);
        assert_every_request_answered(&run_batch(&server.url));
    }
}

#[test]
fn batches_over_streamable_http_with_event_streams_and_json_replies() {
    for extra in [None, Some("--json-response")] {
        let mut args = vec!["--http", "127.0.0.1:0"];
        args.extend(extra);
        let server = serve(&args);
        assert_every_request_answered(&run_batch(&server.url));
    }
}

#[test]
fn batches_to_the_typescript_reference_server_over_http() {
    let Some(server) = peer("PEER_EVERYTHING_HTTP", None) else {
        return;
    };
    assert_every_request_answered(&run_batch(&server.url));
}

#[test]
fn a_batch_in_another_era_is_a_usage_error_naming_the_key() {
    let dir = TestDir::new();
    dir.mcptop()
        .args([
            "run",
            "batch",
            "--protocol",
            "2025-06-18",
            "--requests",
            "10",
        ])
        .assert()
        .code(2)
        .stderr(predicates::str::contains(
            "batch: JSON-RPC batches exist only in protocol 2025-03-26",
        ));
}
