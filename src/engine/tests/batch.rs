//! JSON-RPC batches through the one scheduler, on the paused clock: batches
//! go out whole, the last one short at a request limit, and every request is
//! measured from its own planned start.

use super::*;
use crate::protocol::Era;

fn batch_connector(script: Script) -> ScriptedConnector {
    ScriptedConnector {
        era: Era::BATCHES,
        ..ScriptedConnector::new(script)
    }
}

#[tokio::test(start_paused = true)]
async fn closed_loop_batches_go_out_whole_and_the_last_stops_at_the_limit() {
    // 20 in flight as two batches of 10; replies take 10 ms; 95 requests:
    // nine whole batches, then one of five.
    let w = workload(
        "protocol = \"2025-03-26\"\nbatch = 10\nsessions = 2\nconcurrency = 20\nrequests = 95",
    );
    let connector = batch_connector(fixed(10));
    let out = run_with(&w, &connector, |_| tokio::spawn(async {})).await;
    let m = &out.metrics;
    assert_eq!(out.stopped_by, StopReason::RequestLimit);
    assert_eq!(m.sends, 95);
    assert_eq!(m.overall.ok, 95);
    assert_eq!(m.overall.errors, 0);
    assert_eq!(m.overall.corrected.max_us, hdr(10_000));
    let mut sizes = connector.batches.lock().expect("lock").clone();
    sizes.sort_unstable();
    assert_eq!(sizes, [vec![5], vec![10; 9]].concat());
}

#[tokio::test(start_paused = true)]
async fn open_loop_batch_requests_are_measured_from_their_own_planned_start() {
    // 1000/s: planned at 0, 1, ..., 99 ms; each batch of 10 leaves when its
    // last request is due (9, 19, ... ms) and replies take 5 ms. So the first
    // of each batch waited 9 ms before going: 14 ms from its planned start,
    // while every request's service time is 5 ms.
    let w = workload(
        "protocol = \"2025-03-26\"\nbatch = 10\nsessions = 1\nrate = 1000\nduration = \"100ms\"",
    );
    let connector = batch_connector(fixed(5));
    let out = run_with(&w, &connector, |_| tokio::spawn(async {})).await;
    let m = &out.metrics;
    assert_eq!(m.sends, 100);
    assert_eq!(m.overall.ok, 100);
    assert_eq!(m.overall.corrected.max_us, hdr(14_000));
    assert_eq!(m.overall.service.max_us, hdr(5_000));
    assert_eq!(m.overall.service.p50_us, hdr(5_000));
    assert_eq!(*connector.batches.lock().expect("lock"), vec![10; 10]);
}

#[tokio::test(start_paused = true)]
async fn a_server_that_negotiates_another_era_refuses_the_batch_run() {
    // `auto` offers 2025-03-26, but this server answers 2025-11-25.
    let w = workload("batch = 10\nconcurrency = 10\nrequests = 10");
    let connector = ScriptedConnector::new(fixed(1));
    let result = try_run_with(&w, &connector, |_| tokio::spawn(async {})).await;
    let Err(e) = result else {
        panic!("the run must be refused");
    };
    let text = e.to_string();
    assert!(
        text.starts_with("batch:") && text.contains("the server chose 2025-11-25"),
        "{text}"
    );
    assert!(connector.batches.lock().expect("lock").is_empty());
}
