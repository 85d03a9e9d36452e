//! Scheduler and engine logic against a scripted target on tokio's paused
//! clock: time only moves when every task waits, so counts and latencies are
//! exact, not "about right".

use super::*;
use crate::client::CallError;
use crate::metrics::new_histogram;
use crate::metrics::snapshot::{LoadNow, Phase, ProtocolCounters};
use crate::metrics::{EngineStatus, Recorder, Sample};
use crate::protocol::jsonrpc::PreparedRequest;
use crate::protocol::Era;
use crate::transport::Connected;
use crate::transport::Session;
use futures_util::future::BoxFuture;
use scheduler::LoadCounters;
use std::sync::atomic::Ordering;
use std::sync::atomic::{AtomicBool, AtomicU64};
use std::sync::Arc;
use std::sync::Mutex;
use tokio::time::Instant;

/// What the scripted server does with one request: answer after `delay`,
/// with `result`.
type Script = Arc<dyn Fn(ScriptCall) -> (Duration, Result<(), CallError>) + Send + Sync>;

#[derive(Debug, Clone, Copy)]
struct ScriptCall {
    /// Time since the connector was made.
    at: Duration,
    method: &'static str,
    /// Calls this session has seen before this one.
    nth: u64,
}

struct ScriptedSession {
    script: Script,
    origin: Instant,
    calls: AtomicU64,
    close_after: Option<u64>,
    closed: AtomicBool,
    /// The size of every batch sent on any session.
    batches: Arc<Mutex<Vec<usize>>>,
    /// The tool, resource or prompt of every request on any session.
    names: Arc<Mutex<Vec<Option<String>>>>,
}

impl Session for ScriptedSession {
    fn call<'a>(&'a self, req: &'a PreparedRequest) -> BoxFuture<'a, Result<Instant, CallError>> {
        Box::pin(async move {
            self.names
                .lock()
                .expect("lock")
                .push(req.target_name.clone());
            let nth = self.calls.fetch_add(1, Ordering::SeqCst);
            if self.close_after.is_some_and(|n| nth + 1 >= n) {
                self.closed.store(true, Ordering::SeqCst);
            }
            let call = ScriptCall {
                at: Instant::now() - self.origin,
                method: req.method,
                nth,
            };
            let (delay, result) = (self.script)(call);
            tokio::time::sleep(delay).await;
            result.map(|_| Instant::now())
        })
    }

    /// Each request of a batch is scripted on its own and answered in its
    /// own time, as a server working through a batch would.
    fn call_batch<'a>(
        &'a self,
        items: &'a [crate::client::BatchItem<'a>],
    ) -> BoxFuture<'a, Vec<Result<Instant, CallError>>> {
        self.batches.lock().expect("lock").push(items.len());
        Box::pin(futures_util::future::join_all(
            items.iter().map(|i| self.call(i.request)),
        ))
    }

    fn is_closed(&self) -> bool {
        self.closed.load(Ordering::SeqCst)
    }

    /// A listing lists `first-tool` and `second-tool` (kebab-case, as the
    /// TypeScript reference server names its tools).
    fn request<'a>(
        &'a self,
        req: &'a PreparedRequest,
    ) -> BoxFuture<'a, Result<crate::protocol::jsonrpc::ResultProbe, CallError>> {
        use crate::protocol::jsonrpc::probe::{Listed, Listing};
        Box::pin(async move {
            self.call(req).await?;
            let mut probe = crate::protocol::jsonrpc::ResultProbe::default();
            if req.method == "tools/list" {
                let tool = |n: &str| Listed {
                    name: Some(n.into()),
                    ..Listed::default()
                };
                probe.tools = Listing(Some(vec![tool("first-tool"), tool("second-tool")]));
            }
            Ok(probe)
        })
    }
}

struct ScriptedConnector {
    script: Script,
    origin: Instant,
    close_after: Option<u64>,
    connected: Mutex<u32>,
    era: Era,
    batches: Arc<Mutex<Vec<usize>>>,
    names: Arc<Mutex<Vec<Option<String>>>>,
}

impl ScriptedConnector {
    fn new(script: Script) -> ScriptedConnector {
        ScriptedConnector {
            script,
            origin: Instant::now(),
            close_after: None,
            connected: Mutex::new(0),
            era: Era::V2025_11_25,
            batches: Arc::default(),
            names: Arc::default(),
        }
    }
}

impl Connector for ScriptedConnector {
    fn connect(&self, _session: u32) -> BoxFuture<'_, Result<Connected, TargetError>> {
        Box::pin(async move {
            *self.connected.lock().expect("lock") += 1;
            Ok(Connected {
                session: Arc::new(ScriptedSession {
                    script: self.script.clone(),
                    origin: self.origin,
                    calls: AtomicU64::new(0),
                    close_after: self.close_after,
                    closed: AtomicBool::new(false),
                    batches: self.batches.clone(),
                    names: self.names.clone(),
                }),
                pid: None,
                server_name: "scripted".into(),
                era: self.era,
                keep_alive: Box::new(()),
            })
        })
    }
}

fn fixed(delay_ms: u64) -> Script {
    Arc::new(move |_| (Duration::from_millis(delay_ms), Ok(())))
}

fn workload(extra: &str) -> Workload {
    let text =
        format!("name = \"t\"\n{extra}\n[[ops]]\nmethod = \"tools/call\"\ntool = \"echo\"\n");
    Workload::parse(&text, "test").expect("valid workload")
}

struct Harness {
    events: mpsc::UnboundedSender<TargetEvent>,
    stop: StopToken,
    controls: mpsc::UnboundedSender<Control>,
    snapshots: watch::Receiver<Snapshot>,
}

async fn run_with(
    w: &Workload,
    connector: &dyn Connector,
    during: impl FnOnce(Harness) -> tokio::task::JoinHandle<()>,
) -> RunOutcome {
    try_run_with(w, connector, during).await.expect("run")
}

/// `run_with` for a run that may be refused or stopped before it measures.
async fn try_run_with(
    w: &Workload,
    connector: &dyn Connector,
    during: impl FnOnce(Harness) -> tokio::task::JoinHandle<()>,
) -> Result<RunOutcome, EngineError> {
    let (events_tx, events_rx) = mpsc::unbounded_channel();
    let (control_tx, control_rx) = mpsc::unbounded_channel();
    let (snap_tx, snap_rx) = watch::channel(Snapshot::default());
    let stop = StopToken::new();
    let side = during(Harness {
        events: events_tx,
        stop: stop.clone(),
        controls: control_tx,
        snapshots: snap_rx,
    });
    let outcome = run(RunSetup {
        workload: w,
        connector,
        target_events: events_rx,
        controls: control_rx,
        snapshots: snap_tx,
        tick: Duration::from_secs(1),
        stop,
        resources: None,
    })
    .await;
    side.abort();
    outcome
}

async fn run_plain(w: &Workload, script: Script) -> RunOutcome {
    let connector = ScriptedConnector::new(script);
    run_with(w, &connector, |_| tokio::spawn(async {})).await
}

/// The value HDR reports for a latency of exactly `us` microseconds.
fn hdr(us: u64) -> u64 {
    new_histogram().highest_equivalent(us)
}

#[tokio::test(start_paused = true)]
async fn closed_loop_keeps_exactly_n_in_flight() {
    // 2 sessions x pipeline 2 = 4 slots; each reply takes 7 ms; 1 s measured.
    // Each slot sends at 0, 7, ..., 994 ms: 143 sends, the last answered in the drain.
    let w = workload("sessions = 2\nconcurrency = 4\nduration = \"1s\"");
    let out = run_plain(&w, fixed(7)).await;
    let m = &out.metrics;
    assert_eq!(out.stopped_by, StopReason::Completed);
    assert_eq!(m.overall.ok, 4 * 143);
    assert_eq!(m.sends, 4 * 143);
    assert_eq!(m.overall.errors, 0);
    assert_eq!(m.duration_s, 1.0);
    assert_eq!(m.overall.throughput_msg_per_s, 572.0);
    assert_eq!(m.overall.corrected.p50_us, hdr(7_000));
    assert_eq!(m.overall.corrected.max_us, hdr(7_000));
    assert_eq!(m.overall.service.p99_us, hdr(7_000));
    assert_eq!(m.asked_rate, None);
    assert_eq!(out.unfinished, 0);
}

#[tokio::test(start_paused = true)]
async fn open_loop_sends_on_schedule_whatever_the_latency() {
    // 200/s for 1 s: planned at 0, 5, ..., 995 ms; replies take 12 ms, so
    // several are in flight and none waits.
    let w = workload("sessions = 2\nrate = 200\nduration = \"1s\"");
    let out = run_plain(&w, fixed(12)).await;
    let m = &out.metrics;
    assert_eq!(m.sends, 200);
    assert_eq!(m.overall.ok, 200);
    assert_eq!(m.planned_sends, 200);
    assert_eq!(m.asked_rate, Some(200.0));
    assert_eq!(m.late_sends, 0);
    assert_eq!(m.max_send_lag_us, 0);
    assert_eq!(m.overall.corrected.p99_us, hdr(12_000));
    assert_eq!(m.overall.service.p99_us, hdr(12_000));
    assert!(m.warnings.is_empty(), "{:?}", m.warnings);
}

#[tokio::test(start_paused = true)]
async fn a_stall_shows_in_corrected_latency_but_not_in_service_time() {
    // One session, one request in flight at a time (like one HTTP/1.1
    // connection), 100/s for 10 s; the server stalls from 2.000 s to 2.500 s.
    let stall_start = Duration::from_millis(2_000);
    let stall_end = Duration::from_millis(2_500);
    let script: Script = Arc::new(move |c: ScriptCall| {
        let delay = if c.at >= stall_start && c.at < stall_end {
            stall_end - c.at + Duration::from_millis(1)
        } else {
            Duration::from_millis(1)
        };
        (delay, Ok(()))
    });
    let w = workload("sessions = 1\npipeline = 1\nrate = 100\nduration = \"10s\"");
    let out = run_plain(&w, script).await;
    let m = &out.metrics.overall;
    assert_eq!(m.ok, 1000);
    // The request sent at 2.000 s waits 501 ms; the 50 planned behind it
    // (2.010 ... 2.500 s) are sent one by one as the queue drains at 1 ms
    // each, so request k (k = 1..50) is sent at 2.501 + (k-1) ms, answered
    // 1 ms later, and waits 501 - 9k ms from its planned time: 492, 483, ...
    // p99 is the 990th of 1000 samples, the 11th largest: k = 10, 411 ms.
    assert_eq!(m.corrected.max_us, hdr(501_000));
    assert_eq!(m.corrected.p99_us, hdr(411_000));
    // Service time: only the request that hit the stall saw it.
    assert_eq!(m.service.max_us, hdr(501_000));
    assert_eq!(m.service.p99_us, hdr(1_000));
    assert!(
        out.metrics.late_sends >= 50,
        "queued sends are late: {}",
        out.metrics.late_sends
    );
    assert!(
        out.metrics
            .warnings
            .iter()
            .any(|w| w.contains("service-time p99")),
        "gap warning expected: {:?}",
        out.metrics.warnings
    );
}

#[tokio::test(start_paused = true)]
async fn stages_change_the_rate_on_the_fly() {
    let w = workload(
        "sessions = 1\nrate = 100\n[[stages]]\nduration = \"505ms\"\nrate = 100\n\
         [[stages]]\nduration = \"495ms\"\nrate = 400",
    );
    let out = run_plain(&w, fixed(1)).await;
    // 51 sends at 100/s (0..500 ms); the send planned for 510 ms keeps its
    // time, then 2.5 ms apart until the end at 1 s: 510..997.5 ms, 196 more.
    assert_eq!(out.metrics.sends, 247);
    // Asked: 100/s x 0.505 s + 400/s x 0.495 s = 248.5 sends, rounded.
    assert!(
        (248..=249).contains(&out.metrics.planned_sends),
        "{}",
        out.metrics.planned_sends
    );
}

#[tokio::test(start_paused = true)]
async fn warmup_samples_are_not_measured() {
    // 10 ms replies, one in flight: 20 during a 200 ms warm-up, 50 measured.
    let w = workload("concurrency = 1\nwarmup = \"200ms\"\nduration = \"500ms\"");
    let out = run_plain(&w, fixed(10)).await;
    assert_eq!(out.metrics.warmup_samples, 20);
    assert_eq!(out.metrics.overall.ok, 50);
    assert_eq!(out.metrics.duration_s, 0.5);
}

#[tokio::test(start_paused = true)]
async fn request_limit_stops_after_exactly_n() {
    let w = workload("concurrency = 3\nrequests = 50");
    let out = run_plain(&w, fixed(2)).await;
    assert_eq!(out.stopped_by, StopReason::RequestLimit);
    assert_eq!(out.metrics.sends, 50);
    assert_eq!(out.metrics.overall.ok, 50);
}

#[tokio::test(start_paused = true)]
async fn errors_are_grouped_by_kind_and_operation() {
    let text = "name = \"t\"\nconcurrency = 1\nrequests = 40\ntimeout = \"50ms\"\n\
        [[ops]]\nmethod = \"tools/call\"\ntool = \"echo\"\n\
        [[ops]]\nmethod = \"tools/call\"\ntool = \"fail\"\n\
        [[ops]]\nmethod = \"ping\"\n\
        [[ops]]\nmethod = \"resources/read\"\nuri = \"x://slow\"\n";
    let w = Workload::parse(text, "test").expect("valid");
    // Ops rotate echo, fail, ping, resources/read (equal weights): each 10 times.
    let script: Script = Arc::new(|c: ScriptCall| match (c.method, c.nth % 4) {
        ("tools/call", 1) => (
            Duration::from_millis(1),
            Err(CallError::ToolError("scripted".into())),
        ),
        ("ping", _) => (
            Duration::from_millis(1),
            Err(CallError::JsonRpc {
                code: -32601,
                message: "no".into(),
            }),
        ),
        ("resources/read", _) => (Duration::from_secs(5), Ok(())),
        _ => (Duration::from_millis(1), Ok(())),
    });
    let out = run_plain(&w, script).await;
    let m = &out.metrics;
    let by_label: std::collections::HashMap<&str, &crate::metrics::recorder::OpMetrics> =
        m.ops.iter().map(|o| (o.label.as_str(), o)).collect();
    assert_eq!(by_label["echo"].ok, 10);
    assert_eq!(by_label["fail"].errors_by_kind.get("tool_error"), Some(&10));
    assert_eq!(
        by_label["ping"].errors_by_kind.get("jsonrpc -32601"),
        Some(&10)
    );
    assert_eq!(
        by_label["x://slow"].errors_by_kind.get("timeout"),
        Some(&10)
    );
    assert_eq!(m.overall.errors, 30);
    assert_eq!(m.overall.operations, 40);
    assert_eq!(m.overall.error_rate, 0.75);
}

#[tokio::test(start_paused = true)]
async fn pause_stops_sending_and_extends_the_run() {
    // 10 ms replies, one in flight, 1 s measured; paused from 305 to 505 ms.
    let w = workload("concurrency = 1\nduration = \"1s\"");
    let connector = ScriptedConnector::new(fixed(10));
    let out = run_with(&w, &connector, |h| {
        tokio::spawn(async move {
            tokio::time::sleep(Duration::from_millis(305)).await;
            h.controls.send(Control::Pause).expect("send");
            tokio::time::sleep(Duration::from_millis(200)).await;
            h.controls.send(Control::Resume).expect("send");
            std::future::pending::<()>().await;
        })
    })
    .await;
    assert_eq!(out.stopped_by, StopReason::Completed);
    // Sends at 0..300 ms (31), then from 505 ms until the deadline moved to
    // 1.2 s: 505..1195 ms (70).
    assert_eq!(out.metrics.sends, 101);
    assert_eq!(out.metrics.duration_s, 1.0);
}

#[tokio::test(start_paused = true)]
async fn set_rate_overrides_the_schedule() {
    let w = workload("rate = 100\nduration = \"1s\"");
    let connector = ScriptedConnector::new(fixed(1));
    let out = run_with(&w, &connector, |h| {
        tokio::spawn(async move {
            tokio::time::sleep(Duration::from_millis(505)).await;
            h.controls.send(Control::SetRate(250.0)).expect("send");
            std::future::pending::<()>().await;
        })
    })
    .await;
    // 51 at 100/s (0..500 ms); the send already planned for 510 ms keeps its
    // time, then 4 ms apart: 510..998 ms, 123 more.
    assert_eq!(out.metrics.sends, 174);
}

#[tokio::test(start_paused = true)]
async fn stop_control_ends_the_run_with_what_was_measured() {
    let w = workload("concurrency = 1\nduration = \"60s\"");
    let connector = ScriptedConnector::new(fixed(10));
    let out = run_with(&w, &connector, |h| {
        tokio::spawn(async move {
            tokio::time::sleep(Duration::from_millis(255)).await;
            h.controls.send(Control::Stop).expect("send");
            std::future::pending::<()>().await;
        })
    })
    .await;
    assert_eq!(out.stopped_by, StopReason::Interrupted);
    // Sends at 0..250 ms: 26, the last answered during the drain.
    assert_eq!(out.metrics.overall.ok, 26);
    assert_eq!(out.metrics.duration_s, 0.255);
}

#[tokio::test(start_paused = true)]
async fn a_target_exit_ends_the_run_and_is_reported() {
    let w = workload("concurrency = 2\nduration = \"10s\"");
    let connector = ScriptedConnector::new(fixed(5));
    let out = run_with(&w, &connector, |h| {
        tokio::spawn(async move {
            tokio::time::sleep(Duration::from_millis(1_502)).await;
            let _ = h.events.send(TargetEvent::Exited {
                session: 0,
                status: "exited with code 3".into(),
                stderr_tail: "boom".into(),
            });
            std::future::pending::<()>().await;
        })
    })
    .await;
    match &out.stopped_by {
        StopReason::TargetExited {
            session,
            status,
            stderr_tail,
            after_s,
        } => {
            assert_eq!(*session, 0);
            assert_eq!(status, "exited with code 3");
            assert_eq!(stderr_tail, "boom");
            assert_eq!(*after_s, 1.502);
        }
        other => panic!("unexpected stop {other:?}"),
    }
    // Two slots sending at 0, 5, ..., 1500 ms: 301 each, the last answered in the drain.
    assert_eq!(out.metrics.overall.ok, 602);
    assert!(out
        .metrics
        .warnings
        .iter()
        .any(|w| w.contains("exited with code 3")));
}

#[tokio::test(start_paused = true)]
async fn sessions_all_closed_ends_the_run() {
    let w = workload("sessions = 2\nconcurrency = 2\nduration = \"10s\"");
    let mut connector = ScriptedConnector::new(fixed(1));
    connector.close_after = Some(5);
    let out = run_with(&w, &connector, |_| tokio::spawn(async {})).await;
    assert_eq!(out.stopped_by, StopReason::AllSessionsClosed);
    assert_eq!(out.metrics.sends, 10);
}

#[tokio::test(start_paused = true)]
async fn a_slow_target_under_open_loop_warns_about_the_in_flight_limit() {
    // One session, one in flight, 20 ms replies: at most 50/s against 100/s asked.
    let w = workload("sessions = 1\npipeline = 1\nrate = 100\nduration = \"3s\"");
    let out = run_plain(&w, fixed(20)).await;
    assert_eq!(out.metrics.sends, 150);
    assert_eq!(out.metrics.planned_sends, 300);
    assert!(
        out.metrics
            .warnings
            .iter()
            .any(|w| w.contains("in-flight limit reached")),
        "{:?}",
        out.metrics.warnings
    );
    // The wait is charged: the last send was planned at 1.49 s and sent at 2.98 s.
    assert!(out.metrics.overall.corrected.max_us >= 1_480_000);
    assert_eq!(out.metrics.overall.service.max_us, hdr(20_000));
}

#[tokio::test(start_paused = true)]
async fn snapshots_are_published_every_tick() {
    let w = workload("concurrency = 1\nduration = \"3s\"");
    let connector = ScriptedConnector::new(fixed(10));
    let seen = Arc::new(Mutex::new(Vec::new()));
    let sink = seen.clone();
    let _ = run_with(&w, &connector, move |mut h| {
        tokio::spawn(async move {
            while h.snapshots.changed().await.is_ok() {
                let s = h.snapshots.borrow_and_update().clone();
                sink.lock().expect("lock").push(s);
            }
        })
    })
    .await;
    let seen = seen.lock().expect("lock");
    let measured: Vec<&Snapshot> = seen
        .iter()
        .filter(|s| s.phase == Phase::Measuring)
        .collect();
    assert_eq!(
        measured.len(),
        3,
        "when measuring begins, then ticks at 1 s and 2 s"
    );
    assert_eq!(measured[0].elapsed, Duration::ZERO);
    assert!(measured[0].history.is_empty());
    let last = measured[2].last.as_ref().expect("interval");
    assert_eq!(last.completed, 100);
    assert_eq!(last.throughput, 100.0);
    assert_eq!(last.t_s, 2.0);
    assert_eq!(measured[2].history.len(), 2);
}

#[tokio::test(start_paused = true)]
async fn asked_sends_start_counting_when_warmup_ends() {
    // 100/s with a 1.5 s warm-up then 2 s measured: 200 asked, 200 sent, and
    // no interval may look like the generator fell behind.
    let w = workload("rate = 100\nwarmup = \"1500ms\"\nduration = \"2s\"");
    let out = run_plain(&w, fixed(3)).await;
    let m = &out.metrics;
    assert_eq!(m.planned_sends, 200);
    assert_eq!(m.sends, 200);
    assert_eq!(m.asked_rate, Some(100.0));
    for i in &m.intervals {
        assert_eq!(i.asked_rate, Some(100.0), "{i:?}");
    }
    assert!(m.warnings.is_empty(), "{:?}", m.warnings);
}

mod batch;
mod churn;
mod connecting;
mod failover;
mod faults;
mod faults_sorted;
mod flow;
mod lifecycle;
mod scenarios;
