//! Faults on the paused clock with a scripted target: the connection is
//! dropped or blackholed at an exact time, reconnects are refused for a
//! while, and every figure (lost, not sent, timed out, detection, time to
//! recover, the buckets' sum) is checked to the request.

use super::*;

/// The scripted target, refusing new sessions while `refuse` says so (its
/// argument: time since the connector was made).
pub(super) struct Refusing {
    pub(super) inner: ScriptedConnector,
    pub(super) refuse: fn(Duration) -> bool,
}

impl Connector for Refusing {
    fn connect(&self, session: u32) -> BoxFuture<'_, Result<Connected, TargetError>> {
        Box::pin(async move {
            let now = Instant::now() - self.inner.origin;
            if (self.refuse)(now) {
                return Err(TargetError::Handshake {
                    session,
                    reason: "connection refused".into(),
                });
            }
            self.inner.connect(session).await
        })
    }
}

fn assert_close(actual: Option<f64>, expected: f64) {
    let a = actual.expect("a figure");
    assert!((a - expected).abs() < 1e-9, "{a} is not {expected}");
}

#[tokio::test(start_paused = true)]
async fn a_dropped_connection_loses_what_was_in_flight_and_recovers_after_reconnecting() {
    // 100/s on one session, replies in 15 ms. At 5.002 s the connection is
    // dropped: the requests planned at 4.99 and 5.00 s are in flight (lost).
    // Reconnects are refused before 6 s: attempts at 5.052, 5.152, 5.352,
    // 5.752 (refused) and 6.552 s (backoff 50 ms doubling). A request that
    // finds the session down waits 100 ms for it: those planned 5.01-6.45 s
    // are not sent (145), those planned 6.46-6.55 s go out at 6.552 s.
    let w = workload(
        "rate = 100\nduration = \"10s\"\nreconnect = true\n\
         [[faults]]\nat = \"5002ms\"\ndrop_connections = true",
    );
    let connector = Refusing {
        inner: ScriptedConnector::new(fixed(15)),
        refuse: |t| t > Duration::ZERO && t < Duration::from_secs(6),
    };
    let (keep, kept) = std::sync::mpsc::channel();
    let out = run_with(&w, &connector, move |h| {
        let _ = keep.send(h.snapshots);
        tokio::spawn(async {})
    })
    .await;
    let m = &out.metrics;
    assert_eq!(out.stopped_by, StopReason::Completed);
    // The live screen's errors pane lists lost and not-sent requests.
    let last = kept.recv().expect("snapshots").borrow().clone();
    assert!(
        last.errors.contains(&("lost".into(), 2)),
        "{:?}",
        last.errors
    );
    assert!(
        last.errors.contains(&("not_sent".into(), 145)),
        "{:?}",
        last.errors
    );
    let a = m.accounting.as_ref().expect("accounting");
    assert_eq!(a.planned, 1000);
    assert_eq!(a.lost, 2);
    assert_eq!(a.not_sent, 145);
    assert_eq!(a.ok, 1000 - 2 - 145);
    assert_eq!(a.timed_out, 0);
    assert!(a.balanced(), "{}", a.describe());
    assert_eq!(m.faults.len(), 1);
    let f = &m.faults[0];
    assert_close(Some(f.at_s), 5.002);
    // mcptop cut the connection itself: its requests fail at once.
    assert_close(f.detection_s, 0.0);
    assert_eq!(f.requests_lost, 2);
    assert_eq!(f.in_flight_at_fault, 2);
    assert_eq!(f.in_flight_at_death, 2);
    assert_eq!(f.requests_not_sent, 145);
    assert_eq!(f.sessions_died, 1);
    assert_eq!(f.sessions_reestablished_pct, Some(100.0));
    // 5-6 s: nothing; 6-7 s: 53 replies, 10 of them late; from 7 s on, 100/s
    // at 15 ms for three seconds: recovered at 7 s.
    assert!(f.recovered, "{f:?}");
    assert_close(f.recovery_s, 7.0 - 5.002);
    assert_close(Some(f.baseline_throughput), 99.8);
    assert_close(f.throughput_degradation, 1.0 - 26.5 / 99.8);
    assert_close(f.p99_ratio, hdr(107_000) as f64 / hdr(15_000) as f64);
}

#[tokio::test(start_paused = true)]
async fn a_blackhole_times_out_what_it_swallows_and_detection_is_the_first_timeout() {
    // 100/s, timeout 200 ms; from 3.005 s for 1 s nothing is answered: the
    // requests planned 3.01-4.00 s (100) time out, the first at 3.21 s.
    let w = workload(
        "rate = 100\nduration = \"8s\"\ntimeout = \"200ms\"\n\
         [[faults]]\nat = \"3005ms\"\nblackhole = \"1s\"",
    );
    let out = run_plain(&w, fixed(15)).await;
    let m = &out.metrics;
    let a = m.accounting.as_ref().expect("accounting");
    assert_eq!(a.planned, 800);
    assert_eq!(a.timed_out, 100);
    assert_eq!(a.lost + a.not_sent, 0);
    assert_eq!(a.ok, 700);
    assert!(a.balanced(), "{}", a.describe());
    let f = &m.faults[0];
    assert_close(f.detection_s, 0.205);
    assert_eq!(f.sessions_died, 0);
    assert_eq!(f.sessions_reestablished_pct, None);
    // 3-4 s: 2 replies (sent before the fault); 4-5 s: 98 (the request
    // planned at 4.00 s was still swallowed), above 90 % of the 99.8/s
    // before: recovered from 4 s on.
    assert!(f.recovered, "{f:?}");
    assert_close(f.recovery_s, 4.0 - 3.005);
    // Before: (99 + 100 + 100) / 3 per second.
    assert_close(f.throughput_degradation, 1.0 - 2.0 / (299.0 / 3.0));
}

#[tokio::test(start_paused = true)]
async fn without_reconnect_a_dead_session_stays_dead_and_the_rest_carry_the_load() {
    // Two sessions; the first is dropped at 2.002 s for good. The run goes
    // on with the second, and nothing is left unaccounted for.
    let w = workload(
        "sessions = 2\nrate = 100\nduration = \"4s\"\n\
         [[faults]]\nat = \"2002ms\"\ndrop_connections = true",
    );
    let out = run_plain(&w, fixed(15)).await;
    assert_eq!(out.stopped_by, StopReason::Completed);
    let m = &out.metrics;
    let a = m.accounting.as_ref().expect("accounting");
    assert_eq!(a.planned, 400);
    assert_eq!(a.lost, 1, "{}", a.describe());
    assert_eq!(a.not_sent, 0);
    assert!(a.balanced(), "{}", a.describe());
    assert_eq!(m.faults[0].sessions_reestablished_pct, Some(0.0));
}

#[tokio::test(start_paused = true)]
async fn a_run_without_faults_or_reconnect_has_no_accounting() {
    let w = workload("rate = 100\nduration = \"1s\"");
    let out = run_plain(&w, fixed(5)).await;
    assert_eq!(out.metrics.accounting, None);
    assert!(out.metrics.faults.is_empty());
}

#[tokio::test(start_paused = true)]
async fn a_flow_on_reconnecting_sessions_still_reads_its_listings() {
    // Flows take a tool's name from a listing (`Session::request`): a
    // wrapped session must pass that through, not refuse it.
    let w = Workload::parse(
        "name = \"t\"\nduration = \"1s\"\nreconnect = true\n\
         [[scenarios]]\nname = \"flow\"\nrate = 10\nsessions = 1\n\
         [[scenarios.flow]]\nmethod = \"tools/list\"\nname = \"list\"\n\
         [[scenarios.flow]]\nmethod = \"tools/call\"\n\
         from = { step = \"list\", pointer = \"/tools/0/name\" }\n",
        "test",
    )
    .expect("valid workload");
    let out = run_plain(&w, fixed(2)).await;
    let call = out
        .metrics
        .ops
        .iter()
        .find(|o| o.label == "flow/tools/call")
        .expect("call op");
    assert_eq!((call.ok, call.errors), (10, 0), "{:?}", call.errors_by_kind);
}
