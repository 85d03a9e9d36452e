//! The generator's CPU figures and its warning, on injected CPU readings and
//! tokio's paused clock: every number is exact.

use super::*;
use crate::metrics::recorder::{EngineStatus, Recorder};
use crate::metrics::snapshot::{LoadNow, Phase};
use crate::metrics::Sample;
use std::sync::{Arc, Mutex};
use std::time::Duration;

fn ms(n: u64) -> Duration {
    Duration::from_millis(n)
}

/// A CPU clock that returns what the test set last.
fn scripted() -> (Arc<Mutex<f64>>, CpuClock) {
    let cpu = Arc::new(Mutex::new(0.0));
    let read = cpu.clone();
    (cpu, Box::new(move || Some(*read.lock().expect("clock"))))
}

fn set(cpu: &Arc<Mutex<f64>>, seconds: f64) {
    *cpu.lock().expect("clock") = seconds;
}

fn interval(cores_busy: f64, us: f64) -> CpuInterval {
    CpuInterval {
        t_s: 3.0,
        cores_busy,
        us_per_request: Some(us),
    }
}

#[test]
fn behind_the_asked_rate_with_every_worker_core_busy_blames_mcptops_cpu() {
    let w = cpu_limit_warning(
        &interval(1.9, 95.0),
        2.0,
        false,
        Pace::Behind {
            asked: 30000.0,
            sent: 20000.0,
        },
    );
    assert_eq!(
        w.as_deref(),
        Some(
            "mcptop's CPU limits the rate at 3s: sent 20000/s of 30000/s asked; mcptop used 95% \
             of its 2 worker cores, 95.0 µs CPU per request"
        )
    );
}

#[test]
fn the_builtin_target_is_named_in_the_line() {
    let w = cpu_limit_warning(
        &interval(0.95, 10.0),
        1.0,
        true,
        Pace::Behind {
            asked: 200000.0,
            sent: 95000.0,
        },
    )
    .expect("a warning");
    assert!(
        w.ends_with(
            "mcptop used 95% of its 1 worker core, 10.0 µs CPU per request (its CPU includes \
             the builtin server running inside it)"
        ),
        "{w}"
    );
}

#[test]
fn just_under_the_limit_share_or_on_time_says_nothing() {
    let behind = Pace::Behind {
        asked: 100.0,
        sent: 50.0,
    };
    // 89.5 % of two cores: under CPU_LIMIT_SHARE.
    assert_eq!(
        cpu_limit_warning(&interval(1.79, 1.0), 2.0, false, behind),
        None
    );
    assert!(cpu_limit_warning(&interval(1.8, 1.0), 2.0, false, behind).is_some());
    assert_eq!(
        cpu_limit_warning(&interval(2.0, 1.0), 2.0, false, Pace::OnTime),
        None
    );
}

#[test]
fn a_closed_loop_warns_against_a_separate_target_only() {
    let busy = interval(1.96, 40.0);
    let w = cpu_limit_warning(&busy, 2.0, false, Pace::Closed).expect("a warning");
    assert!(
        w.starts_with("mcptop's CPU limits the rate at 3s: mcptop used 98% of its 2 worker cores"),
        "{w}"
    );
    assert!(
        w.contains("the target may answer faster than measured"),
        "{w}"
    );
    // The builtin server shares mcptop's CPU by design.
    assert_eq!(cpu_limit_warning(&busy, 2.0, true, Pace::Closed), None);
}

#[tokio::test(start_paused = true)]
async fn the_meter_divides_each_intervals_cpu_by_its_requests() {
    let t0 = Instant::now();
    let (cpu, clock) = scripted();
    let mut meter = CpuMeter::new(clock, 2.0, false, 2);
    set(&cpu, 10.0);
    meter.mark(t0);
    set(&cpu, 10.5);
    let first = meter
        .close(t0 + ms(1000), (1.0, 1.0), 10_000)
        .expect("interval");
    assert_eq!(first.cores_busy, 0.5);
    assert_eq!(first.us_per_request, Some(50.0));
    set(&cpu, 12.5);
    let second = meter
        .close(t0 + ms(2000), (2.0, 1.0), 20_000)
        .expect("interval");
    assert_eq!(second.cores_busy, 2.0);
    assert_eq!(second.us_per_request, Some(100.0));
    // No request: a CPU figure, no per-request one.
    set(&cpu, 13.0);
    let idle = meter.close(t0 + ms(3000), (3.0, 1.0), 0).expect("interval");
    assert_eq!(idle.us_per_request, None);
    let run = meter.figures();
    assert_eq!(run.cpu_s, 3.0);
    assert_eq!(run.requests, 30_000);
    assert_eq!(run.us_per_request, Some(100.0));
    // The ring keeps the last two intervals.
    assert_eq!(run.intervals, vec![second, idle]);
}

fn open(rate: f64, planned_total: u64, sent_total: u64) -> EngineStatus {
    EngineStatus {
        phase: Phase::Measuring,
        load: LoadNow {
            rate: Some(rate),
            ..LoadNow::default()
        },
        planned_total,
        sent_total,
        ..EngineStatus::default()
    }
}

fn replies(r: &mut Recorder, from: Instant, n: u64) {
    for i in 0..n {
        let planned = from + Duration::from_micros(i);
        r.record(&Sample {
            op: 0,
            planned,
            sent: planned,
            done: planned + ms(1),
            outcome: Ok(()),
            bytes: Default::default(),
        });
    }
}

#[tokio::test(start_paused = true)]
async fn the_recorder_reports_cpu_per_request_and_blames_a_saturated_generator() {
    let t0 = Instant::now();
    let (cpu, clock) = scripted();
    let labels = vec!["echo".to_string()];
    let mut r = Recorder::new(&labels, t0, None).with_cpu(CpuMeter::new(clock, 2.0, false, 10));
    // Second 1: 1000 asked, 1000 sent and answered, 0.1 s of CPU (100 µs each).
    replies(&mut r, t0, 1000);
    set(&cpu, 0.1);
    r.tick(t0 + ms(1000), open(1000.0, 1000, 1000));
    assert!(r.warnings().is_empty(), "{:?}", r.warnings());
    // Second 2: asked 1000 more, sent 800 (no in-flight wait), 1.9 s of CPU.
    replies(&mut r, t0 + ms(1000), 800);
    set(&cpu, 2.0);
    r.tick(t0 + ms(2000), open(1000.0, 2000, 1800));
    let w = r.warnings();
    assert_eq!(w.len(), 1, "{w:?}");
    assert_eq!(
        w[0],
        "mcptop's CPU limits the rate at 2s: sent 800/s of 1000/s asked; mcptop used 95% of its \
         2 worker cores, 2375.0 µs CPU per request"
    );
    let m = r.finish(t0 + ms(2000), open(1000.0, 2000, 1800));
    assert_eq!(m.generator_cpu_us_per_request, Some(2_000_000.0 / 1800.0));
    let cpu = m.generator_cpu.expect("figures");
    assert_eq!(cpu.requests, 1800);
    assert_eq!(cpu.intervals.len(), 2);
    assert_eq!(cpu.intervals[0].us_per_request, Some(100.0));
}

#[tokio::test(start_paused = true)]
async fn behind_with_cpu_to_spare_keeps_the_plain_keep_up_warning() {
    let t0 = Instant::now();
    let (cpu, clock) = scripted();
    let labels = vec!["echo".to_string()];
    let mut r = Recorder::new(&labels, t0, None).with_cpu(CpuMeter::new(clock, 2.0, false, 10));
    replies(&mut r, t0, 900);
    set(&cpu, 0.5);
    r.tick(t0 + ms(1000), open(1000.0, 1000, 900));
    let w = r.warnings();
    assert_eq!(w.len(), 1, "{w:?}");
    assert!(w[0].starts_with("mcptop cannot keep up at 1s"), "{w:?}");
}
