//! What recording one sample costs: the recorder's share of the load path.
//!
//! cargo run --release --example recorder_cost [SAMPLES]

use mcptop::client::CallError;
use mcptop::metrics::recorder::{EngineStatus, Recorder};
use mcptop::metrics::Sample;
use std::time::Duration;
use tokio::time::Instant;

// The allocator the binary runs with, so the figure is the binary's.
#[global_allocator]
static GLOBAL: mcptop::metrics::alloc::Installed = mcptop::metrics::alloc::counting_allocator();

fn main() {
    let n: u64 = std::env::args()
        .nth(1)
        .and_then(|a| a.parse().ok())
        .unwrap_or(10_000_000);
    let labels: Vec<String> = (0..4).map(|i| format!("op{i}")).collect();
    let t0 = Instant::now();
    let mut recorder = Recorder::new(&labels, t0, None);
    // Latencies spread over 50 µs .. 50 ms so every histogram bucket range is hit.
    let samples: Vec<Sample> = (0..1024u64)
        .map(|i| {
            let took = Duration::from_micros(50 + (i * 48_779) % 50_000);
            Sample {
                op: (i % 4) as usize,
                planned: t0,
                sent: t0 + Duration::from_micros(i % 7),
                done: t0 + took,
                outcome: if i % 97 == 0 {
                    Err(CallError::Timeout)
                } else {
                    Ok(())
                },
                bytes: Default::default(),
            }
        })
        .collect();
    let start = std::time::Instant::now();
    for i in 0..n {
        recorder.record(&samples[(i % 1024) as usize]);
    }
    let record_ns = start.elapsed().as_nanos() as f64 / n as f64;
    let start = std::time::Instant::now();
    let ticks = 100;
    for i in 1..=ticks {
        std::hint::black_box(recorder.tick(t0 + Duration::from_secs(i), EngineStatus::default()));
    }
    let tick_us = start.elapsed().as_micros() as f64 / ticks as f64;
    let metrics = recorder.finish(t0 + Duration::from_secs(ticks + 1), EngineStatus::default());
    println!(
        "recorded {} samples: {record_ns:.1} ns/sample ({:.1} M samples/s); tick + snapshot {tick_us:.0} µs",
        metrics.overall.operations,
        1e3 / record_ns
    );
}
