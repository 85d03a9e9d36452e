//! Hand-made runs for the exporters' tests: a workload, samples at explicit
//! instants through the real recorder, and the result it builds.

use crate::engine::{RunOutcome, StopReason, TargetInfo};
use crate::metrics::recorder::{EngineStatus, Recorder};
use crate::metrics::snapshot::{LoadNow, Phase};
use crate::metrics::Sample;
use crate::report::RunReport;
use crate::workload::Workload;
use std::time::Duration;
use tokio::time::Instant;

/// Two operations, echo and add, over `secs` seconds.
pub const TWO_OPS: &str = "name = \"w\"\nrate = 200\nsessions = 2\nduration = \"3s\"\n\
    [[ops]]\nmethod = \"tools/call\"\ntool = \"echo\"\narguments = { message = \"hi\" }\n\
    [[ops]]\nmethod = \"tools/call\"\ntool = \"add\"\narguments = { a = 1, b = 2 }\n";

/// A run of `workload` with `per_s` requests a second for `secs` seconds,
/// alternating operations; the n-th request takes `base_us + (n * 37) % spread_us`
/// and every `fail_every`-th one times out (0: none); it sends 90-94 bytes
/// and receives 200-249.
pub fn run(workload: &str, per_s: u64, secs: u64, base_us: u64, fail_every: u64) -> RunReport {
    let w = Workload::parse(workload, "test").expect("workload");
    let labels: Vec<String> = w.ops.iter().map(|o| o.label.clone()).collect();
    let t0 = Instant::now();
    let mut r = Recorder::new(&labels, t0, w.planned_duration());
    let status = |n: u64| EngineStatus {
        phase: Phase::Measuring,
        load: LoadNow {
            rate: Some(per_s as f64),
            sessions: w.sessions,
            ..LoadNow::default()
        },
        planned_total: n,
        sent_total: n,
        ..EngineStatus::default()
    };
    let mut n = 0u64;
    for s in 0..secs {
        for i in 0..per_s {
            let planned =
                t0 + Duration::from_secs(s) + Duration::from_micros(i * 1_000_000 / per_s);
            let outcome = if fail_every > 0 && n % fail_every == fail_every - 1 {
                Err(crate::client::CallError::Timeout)
            } else {
                Ok(())
            };
            r.record(&Sample {
                op: (n as usize) % labels.len(),
                planned,
                sent: planned + Duration::from_micros(n % 5),
                done: planned + Duration::from_micros(base_us + (n * 37) % 2_000),
                outcome,
                bytes: crate::client::wire_bytes::WireBytes {
                    sent: 90 + n % 5,
                    received: 200 + (n * 13) % 50,
                },
            });
            n += 1;
        }
        r.tick(t0 + Duration::from_secs(s + 1), status(n));
    }
    let metrics = r.finish(t0 + Duration::from_secs(secs), status(n));
    RunReport::build(
        &w,
        "http://127.0.0.1:3001/mcp",
        std::time::SystemTime::UNIX_EPOCH + Duration::from_secs(1_700_000_000),
        RunOutcome {
            metrics,
            stopped_by: StopReason::Completed,
            target: TargetInfo::default(),
            unfinished: 0,
        },
    )
}
