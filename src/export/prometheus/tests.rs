//! The exposition of a snapshot made by the real recorder: the counts are
//! the recorder's, the histograms add up, the text parses as Prometheus's.

use super::*;
use crate::metrics::recorder::{EngineStatus, Recorder};
use crate::metrics::snapshot::LoadNow;
use crate::metrics::Sample;
use std::time::Duration;
use tokio::time::Instant;

fn snapshot() -> Snapshot {
    let t0 = Instant::now();
    let mut r = Recorder::new(&["echo".to_string(), "add".to_string()], t0, None);
    let ms = Duration::from_millis;
    for i in 0..10u64 {
        let planned = t0 + ms(i * 10);
        r.record(&Sample {
            op: (i % 2) as usize,
            planned,
            sent: planned,
            done: planned + Duration::from_micros(80 + i * 300),
            outcome: if i == 9 {
                Err(crate::client::CallError::Timeout)
            } else {
                Ok(())
            },
            bytes: Default::default(),
        });
    }
    r.tick(
        t0 + ms(1_000),
        EngineStatus {
            phase: Phase::Measuring,
            load: LoadNow {
                rate: Some(10.0),
                in_flight: 3,
                sessions: 2,
                ..LoadNow::default()
            },
            planned_total: 10,
            sent_total: 10,
            ..EngineStatus::default()
        },
    )
}

fn value(text: &str, series: &str) -> f64 {
    let line = text
        .lines()
        .find(|l| l.starts_with(series) && l[series.len()..].starts_with(' '))
        .unwrap_or_else(|| panic!("no {series} in\n{text}"));
    line[series.len()..].trim().parse().expect("a number")
}

#[tokio::test(start_paused = true)]
async fn the_exposition_has_the_recorders_counts() {
    let text = exposition(&snapshot());
    assert_eq!(
        value(&text, r#"mcptop_requests_total{op="echo",outcome="ok"}"#),
        5.0
    );
    assert_eq!(
        value(&text, r#"mcptop_requests_total{op="add",outcome="ok"}"#),
        4.0
    );
    assert_eq!(
        value(&text, r#"mcptop_requests_total{op="add",outcome="error"}"#),
        1.0
    );
    assert_eq!(value(&text, r#"mcptop_errors_total{kind="timeout"}"#), 1.0);
    assert_eq!(value(&text, "mcptop_in_flight"), 3.0);
    assert_eq!(
        value(&text, r#"mcptop_requests_per_second{rate="asked"}"#),
        10.0
    );
    assert_eq!(value(&text, r#"mcptop_phase{phase="measuring"}"#), 1.0);
    // echo's corrected latencies: 80, 680, 1280, 1880, 2480 µs.
    let bucket = |le: &str| {
        value(
            &text,
            &format!(r#"mcptop_latency_seconds_bucket{{le="{le}",op="echo",latency="corrected"}}"#),
        )
    };
    assert_eq!(bucket("0.0001"), 1.0);
    assert_eq!(bucket("0.001"), 2.0);
    assert_eq!(bucket("0.0025"), 5.0);
    assert_eq!(bucket("+Inf"), 5.0);
    assert_eq!(
        value(
            &text,
            r#"mcptop_latency_seconds_count{op="echo",latency="corrected"}"#
        ),
        5.0
    );
    let sum = value(
        &text,
        r#"mcptop_latency_seconds_sum{op="echo",latency="corrected"}"#,
    );
    assert!((sum - 0.0064).abs() < 0.00001, "{sum}");
    assert!(text.ends_with("# EOF\n"), "OpenMetrics ends with # EOF");
}

#[test]
fn an_empty_snapshot_still_exposes_valid_text() {
    let text = exposition(&Snapshot::default());
    assert!(text.contains("# TYPE mcptop_requests counter"), "{text}");
    assert!(
        text.contains(r#"mcptop_phase{phase="connecting"} 1"#),
        "{text}"
    );
}

#[tokio::test]
async fn the_endpoint_serves_the_latest_snapshot_and_404s_the_rest() {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    let endpoint = Endpoint::start("127.0.0.1:0").await.expect("listens");
    let mut snap = Snapshot::default();
    snap.load.in_flight = 42;
    publish(&snap);
    let get = |path: &'static str| async move {
        let mut s = tokio::net::TcpStream::connect(endpoint_addr())
            .await
            .expect("connects");
        s.write_all(
            format!("GET {path} HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n").as_bytes(),
        )
        .await
        .expect("writes");
        let mut out = String::new();
        tokio::time::timeout(Duration::from_secs(30), s.read_to_string(&mut out))
            .await
            .expect("answers in time")
            .expect("reads");
        out
    };
    ADDR.with(|a| a.set(Some(endpoint.addr())));
    let ok = get("/metrics").await;
    assert!(ok.starts_with("HTTP/1.1 200"), "{ok}");
    assert!(ok.contains("mcptop_in_flight 42"), "{ok}");
    assert!(ok
        .to_ascii_lowercase()
        .contains("content-type: application/openmetrics-text"));
    let missing = get("/").await;
    assert!(missing.starts_with("HTTP/1.1 404"), "{missing}");
    drop(endpoint);
    // Once dropped, nothing holds the snapshots.
    assert!(LIVE.lock().map(|l| l.is_none()).unwrap_or(false));
}

thread_local! {
    static ADDR: std::cell::Cell<Option<SocketAddr>> = const { std::cell::Cell::new(None) };
}

fn endpoint_addr() -> SocketAddr {
    ADDR.with(|a| a.get()).expect("address set")
}

/// The Grafana dashboard in `examples/grafana/` reads only series the
/// exposition has (with memory and allocator figures measured).
#[tokio::test(start_paused = true)]
async fn the_grafana_dashboard_reads_series_that_exist() {
    use crate::metrics::snapshot::{AllocatorStats, MemoryStats};
    let mut snap = snapshot();
    snap.memory = Some(MemoryStats {
        mcptop: Some(ProcessStats::default()),
        ..MemoryStats::default()
    });
    snap.allocator = Some(AllocatorStats::default());
    let text = exposition(&snap);
    let path = concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/examples/grafana/mcptop-dashboard.json"
    );
    let dashboard = std::fs::read_to_string(path).expect("the dashboard");
    let mut names: Vec<&str> = dashboard
        .match_indices("mcptop_")
        .map(|(at, _)| {
            let rest = &dashboard[at..];
            let end = rest
                .find(|c: char| !(c.is_ascii_alphanumeric() || c == '_'))
                .unwrap_or(rest.len());
            &rest[..end]
        })
        .collect();
    names.sort_unstable();
    names.dedup();
    assert!(names.len() >= 8, "{names:?}");
    for name in names {
        assert!(
            text.contains(&format!("# TYPE {name} "))
                || text
                    .lines()
                    .any(|l| l.starts_with(name) && l[name.len()..].starts_with(['{', ' '])),
            "the dashboard reads {name}, which /metrics does not have:\n{text}"
        );
    }
}

/// A shard's endpoint labels every series with its `shard`, so the series of
/// N pods scraped by one Prometheus stay apart (and add up with `sum`).
#[tokio::test(start_paused = true)]
async fn a_shard_labels_every_series() {
    let labels = [("shard".to_string(), "1/3".to_string())];
    let text = exposition_labelled(&snapshot(), &labels);
    let samples: Vec<&str> = text
        .lines()
        .filter(|l| !l.starts_with('#') && !l.is_empty())
        .collect();
    assert!(samples.len() > 20, "{text}");
    for line in samples {
        assert!(line.contains(r#"shard="1/3""#), "no shard label: {line}");
    }
    assert!(text.contains(r#"mcptop_in_flight{shard="1/3"} "#), "{text}");
    // Without a shard, no such label.
    assert!(!exposition(&snapshot()).contains("shard="));
}

/// SSE resumption as the run's connection watch puts it into a snapshot:
/// the replay histogram and the duplicate and gap counters per operation.
#[tokio::test(start_paused = true)]
async fn sse_resumption_is_exposed_per_operation() {
    use crate::metrics::connections::ConnectionWatch;
    use crate::transport::resume_figures::ResumeSample;
    let watch = ConnectionWatch::default();
    let sample = |ms: u64, duplicates: u64, missing: u64| ResumeSample {
        replay: Some(Duration::from_millis(ms)),
        events: 100,
        replayed: 50,
        resumes: 1,
        duplicates,
        missing,
        call: Duration::from_millis(20),
    };
    let now = Instant::now();
    watch.resume.record("events", now, &sample(2, 0, 0));
    watch.resume.record("events", now, &sample(7, 2, 3));
    let mut snap = Snapshot::default();
    watch.complete(&mut snap);
    let text = exposition(&snap);
    let series = |name: &str| format!("{name}{{op=\"events\"}}");
    assert_eq!(
        value(&text, &series("mcptop_sse_replay_seconds_count")),
        2.0
    );
    assert!((value(&text, &series("mcptop_sse_replay_seconds_sum")) - 0.009).abs() < 1e-4);
    assert_eq!(
        value(
            &text,
            r#"mcptop_sse_replay_seconds_bucket{le="0.0025",op="events"}"#
        ),
        1.0,
        "{text}"
    );
    assert_eq!(
        value(&text, &series("mcptop_sse_resume_duplicates_total")),
        2.0
    );
    assert_eq!(value(&text, &series("mcptop_sse_resume_gaps_total")), 3.0);
    // Without resumption, no such series.
    assert!(!exposition(&Snapshot::default()).contains("mcptop_sse"));
}

/// Failover as the recorder reads it from the run's sessions at a tick:
/// sessions moved, the move's median and max time, lost and not sent, and
/// each target's replies and share. Without failover, no such series.
#[tokio::test(start_paused = true)]
async fn failover_is_exposed_with_each_targets_share() {
    use crate::metrics::failover::{FailoverReport, FailoverSource, SessionMoves};
    let t0 = Instant::now();
    let mut r = Recorder::new(&["echo".to_string()], t0, None);
    r.watch_failover(FailoverSource::new(|| {
        let moved = SessionMoves {
            took_s: vec![Some(0.065)],
            lost: 2,
            not_sent: 1,
            answered: vec![299, 299],
        };
        let targets = vec!["http://a/mcp".to_string(), "http://b/mcp".to_string()];
        Some(FailoverReport::build(
            targets,
            3,
            &[moved, SessionMoves::default()],
        ))
    }));
    let snap = r.tick(t0 + Duration::from_secs(1), EngineStatus::default());
    let text = exposition(&snap);
    assert_eq!(value(&text, "mcptop_failover_sessions_migrated"), 1.0);
    assert_eq!(value(&text, "mcptop_failover_sessions_migrated_ratio"), 0.5);
    assert_eq!(
        value(&text, r#"mcptop_failover_time_seconds{quantile="0.5"}"#),
        0.065
    );
    assert_eq!(
        value(&text, r#"mcptop_failover_time_seconds{quantile="1"}"#),
        0.065
    );
    assert_eq!(value(&text, "mcptop_failover_requests_lost_total"), 2.0);
    assert_eq!(value(&text, "mcptop_failover_requests_not_sent_total"), 1.0);
    assert_eq!(
        value(
            &text,
            r#"mcptop_failover_replies_total{target="http://b/mcp"}"#
        ),
        299.0
    );
    assert_eq!(
        value(
            &text,
            r#"mcptop_failover_replies_share_ratio{target="http://a/mcp"}"#
        ),
        0.5
    );
    assert!(!exposition(&snapshot()).contains("mcptop_failover"));
}

/// The endpoint keeps the latest snapshot between scrapes. Kept whole, its
/// histories (600 intervals, the memory readings) made mcptop's live memory
/// climb for the first ten minutes of every run with `--prometheus`; the
/// copy it keeps has none, and the exposition did not read them.
#[tokio::test(start_paused = true)]
async fn the_endpoint_keeps_the_figures_and_not_the_histories() {
    let mut snap = snapshot();
    let interval = snap.last.clone().expect("one interval closed");
    snap.history = vec![interval; 600];
    snap.memory = Some(crate::metrics::snapshot::MemoryStats {
        mcptop: Some(crate::metrics::snapshot::ProcessStats {
            rss_bytes: 24 << 20,
            ..Default::default()
        }),
        mcptop_slope_mib_per_min: Some(0.1),
        history: vec![(1.0, 24 << 20, 0); 600],
        allocator_history: vec![(1.0, 6 << 20, 11 << 20); 600],
        ..Default::default()
    });
    snap.scenarios = vec![crate::metrics::snapshot::ScenarioNow {
        name: "steady".into(),
        history: snap.history.clone(),
        ..Default::default()
    }];
    let latest = Latest::default();
    latest.keep(&snap);
    let kept = latest
        .snapshot
        .lock()
        .expect("not poisoned")
        .clone()
        .expect("kept");
    assert!(kept.history.is_empty());
    let memory = kept.memory.as_ref().expect("memory figures kept");
    assert!(memory.history.is_empty() && memory.allocator_history.is_empty());
    assert_eq!(memory.mcptop, snap.memory.as_ref().and_then(|m| m.mcptop));
    assert!(kept.scenarios[0].history.is_empty());
    assert_eq!(kept.scenarios[0].name, "steady");
    assert_eq!(kept.last, snap.last);
    assert_eq!(kept.total, snap.total);
    assert_eq!(exposition(&kept), exposition(&snap));
}
