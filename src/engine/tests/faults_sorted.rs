//! Every kind of send on a wrapped session is sorted into lost / not sent
//! as a single request is: batches, a flow's steps (also those that read a
//! listing), and a scenario's own `reconnect`, on the paused clock.

use super::faults::Refusing;
use super::*;
use crate::protocol::jsonrpc::PreparedRequest;
use crate::protocol::Era;
use std::sync::atomic::AtomicBool;

/// The scripted target answering in `ms`, refusing new sessions from the
/// start until 3 s.
fn refusing_until_3s(ms: u64) -> Refusing {
    Refusing {
        inner: ScriptedConnector {
            era: Era::BATCHES,
            ..ScriptedConnector::new(fixed(ms))
        },
        refuse: |t| t > Duration::ZERO && t < Duration::from_secs(3),
    }
}

/// The fault's own tally agrees with the run's buckets: each lost or
/// not-sent request was seen (and charged) by the wrapper.
fn assert_sorted_by_the_wrapper(out: &RunOutcome) -> (u64, u64) {
    let m = &out.metrics;
    let a = m.accounting.as_ref().expect("accounting");
    assert!(a.balanced(), "{}", a.describe());
    let f = &m.faults[0];
    assert_eq!(f.requests_lost, a.lost, "{f:?} {}", a.describe());
    assert_eq!(f.requests_not_sent, a.not_sent, "{f:?} {}", a.describe());
    assert_eq!(f.sessions_died, 1, "{f:?}");
    assert_eq!(f.sessions_reestablished_pct, Some(100.0), "{f:?}");
    (a.lost, a.not_sent)
}

#[tokio::test(start_paused = true)]
async fn a_batch_cut_under_way_is_lost_and_batches_while_down_are_not_sent() {
    // Batches of 4 at 100 requests/s: one leaves every 40 ms (at 30, 70,
    // ... ms, when its last request is due) and is answered in 25 ms. The
    // batch sent at 1.990 s is on the wire at the drop (2.002 s): its 4 are
    // lost. Reconnects are refused before 3 s (attempts at 2.052, 2.152,
    // 2.352, 2.752 s; back at 3.552 s); a batch that finds the session down
    // waits 100 ms, so those due 2.030-3.430 s (36 batches) are not sent.
    let w = workload(
        "protocol = \"2025-03-26\"\nbatch = 4\nsessions = 1\nrate = 100\n\
         duration = \"5s\"\nreconnect = true\n\
         [[faults]]\nat = \"2002ms\"\ndrop_connections = true",
    );
    let out = run_with(&w, &refusing_until_3s(25), |_| tokio::spawn(async {})).await;
    assert_eq!(out.stopped_by, StopReason::Completed);
    let (lost, not_sent) = assert_sorted_by_the_wrapper(&out);
    assert_eq!(lost, 4);
    assert_eq!(not_sent, 36 * 4);
    let e = &out.metrics.overall.errors_by_kind;
    assert!(!e.contains_key("transport"), "{e:?}");
}

#[tokio::test(start_paused = true)]
async fn a_flow_step_reading_a_listing_is_sorted_like_a_call() {
    // A listing step (`Session::request`) then a call that takes its name,
    // 10 iterations/s, each step 20 ms. At 2.005 s the listing of the
    // iteration planned at 2.0 s is on the wire: lost. While the session is
    // down, the iterations' first step (the listing) is not sent.
    let w = Workload::parse(
        "name = \"t\"\nduration = \"5s\"\nreconnect = true\n\
         [[faults]]\nat = \"2005ms\"\ndrop_connections = true\n\
         [[scenarios]]\nname = \"flow\"\nrate = 10\nsessions = 1\npipeline = 1\n\
         [[scenarios.flow]]\nmethod = \"tools/list\"\nname = \"list\"\n\
         [[scenarios.flow]]\nmethod = \"tools/call\"\n\
         from = { step = \"list\", pointer = \"/tools/0/name\" }\n",
        "test",
    )
    .expect("valid workload");
    let out = run_with(&w, &refusing_until_3s(20), |_| tokio::spawn(async {})).await;
    let (lost, not_sent) = assert_sorted_by_the_wrapper(&out);
    assert_eq!(lost, 1);
    assert!(not_sent > 0);
}

#[tokio::test(start_paused = true)]
async fn a_scenarios_own_reconnect_brings_back_only_its_sessions() {
    // `back` on one session says `reconnect`, `gone` on two does not. The
    // first two sessions (`back`'s and one of `gone`'s) are dropped at
    // 1.002 s: `back`'s returns, `gone`'s stays dead (its other carries on).
    let w = Workload::parse(
        "name = \"t\"\nduration = \"3s\"\n\
         [[faults]]\nat = \"1002ms\"\ndrop_connections = true\nsessions = 2\n\
         [[scenarios]]\nname = \"back\"\nrate = 10\nsessions = 1\nreconnect = true\n\
         [[scenarios.ops]]\nmethod = \"ping\"\n\
         [[scenarios]]\nname = \"gone\"\nrate = 10\nsessions = 2\n\
         [[scenarios.ops]]\nmethod = \"ping\"\n",
        "test",
    )
    .expect("valid workload");
    let out = run_plain(&w, fixed(5)).await;
    assert_eq!(out.stopped_by, StopReason::Completed);
    let f = &out.metrics.faults[0];
    assert_eq!(f.sessions_died, 2, "{f:?}");
    assert_eq!(f.sessions_reestablished_pct, Some(50.0), "{f:?}");
    let a = out.metrics.accounting.as_ref().expect("accounting");
    assert!(a.balanced(), "{}", a.describe());
}

/// The scripted target, noting when each session was opened (time since
/// it was made).
struct Noting {
    inner: ScriptedConnector,
    opened: Mutex<Vec<Duration>>,
}

impl Connector for Noting {
    fn connect(&self, session: u32) -> BoxFuture<'_, Result<Connected, TargetError>> {
        Box::pin(async move {
            let at = Instant::now() - self.inner.origin;
            self.opened.lock().expect("lock").push(at);
            self.inner.connect(session).await
        })
    }
}

#[tokio::test(start_paused = true)]
async fn a_pause_moves_a_fault_still_to_come_by_its_length() {
    // Paused from 1 s to 2.5 s of the run: a fault `at = 2s` of measured
    // time fires 1.5 s late, at 3.5 s after the start of measuring (its
    // session comes back 50 ms later, at the first reconnect attempt), and
    // reports `at_s` 2.0 s: measured time. Its chart marker is at 3.5 s, on
    // the clock of the intervals it is drawn among (pauses included): in
    // the interval that ends at 4 s, whose requests the drop cost, not in
    // the paused one that ends at 2 s.
    let w = workload(
        "rate = 100\nduration = \"5s\"\nwarmup = \"0s\"\nreconnect = true\n\
         [[faults]]\nat = \"2s\"\ndrop_connections = true",
    );
    let connector = Noting {
        inner: ScriptedConnector::new(fixed(5)),
        opened: Mutex::default(),
    };
    let (keep, kept) = std::sync::mpsc::channel();
    let out = run_with(&w, &connector, |h| {
        let _ = keep.send(h.snapshots.clone());
        tokio::spawn(async move {
            tokio::time::sleep(Duration::from_secs(1)).await;
            let _ = h.controls.send(Control::Pause);
            tokio::time::sleep(Duration::from_millis(1500)).await;
            let _ = h.controls.send(Control::Resume);
            std::future::pending::<()>().await;
        })
    })
    .await;
    let opened = connector.opened.lock().expect("lock").clone();
    assert_eq!(
        opened,
        [Duration::ZERO, Duration::from_millis(3550)],
        "sessions opened at"
    );
    let f = &out.metrics.faults[0];
    assert_eq!(f.at_s, 2.0, "{f:?}");
    let last = kept.recv().expect("snapshots").borrow().clone();
    let marks = &last.fault_marks;
    assert_eq!(marks.len(), 1, "{marks:?}");
    assert_eq!(marks[0].t_s, 3.5, "{marks:?}");
    let at = |t: f64| {
        last.history
            .iter()
            .find(|i| i.t_s - i.length_s < t && t <= i.t_s)
            .unwrap_or_else(|| panic!("no interval holds {t} s"))
    };
    // Its interval is the one whose requests waited for the new session
    // (corrected latency up to 55 ms; 5 ms in every other interval).
    let hit = at(marks[0].t_s);
    assert_eq!((hit.t_s, hit.corrected.max_us), (4.0, 55_007), "{hit:?}");
    let slow: Vec<f64> = last
        .history
        .iter()
        .filter(|i| i.corrected.max_us > 10_000)
        .map(|i| i.t_s)
        .collect();
    assert_eq!(slow, [4.0]);
    // The measured `at` would have put it in the paused interval (one
    // reply, to the request sent as the pause began).
    let paused = at(f.at_s);
    assert_eq!((paused.t_s, paused.completed), (2.0, 1), "{paused:?}");
}

/// The scripted target whose sessions die under the calls sent in `dying`
/// (the call fails after 5 ms and its session is down from then on), and
/// which refuses new sessions in `refusing` (times since it was made).
struct Dying {
    inner: ScriptedConnector,
    dying: fn(Duration) -> bool,
    refusing: fn(Duration) -> bool,
}

struct DyingSession {
    inner: Arc<dyn Session>,
    origin: Instant,
    dying: fn(Duration) -> bool,
    dead: AtomicBool,
}

impl Session for DyingSession {
    fn call<'a>(&'a self, req: &'a PreparedRequest) -> BoxFuture<'a, Result<Instant, CallError>> {
        Box::pin(async move {
            if (self.dying)(Instant::now() - self.origin) {
                tokio::time::sleep(Duration::from_millis(5)).await;
                self.dead.store(true, Ordering::SeqCst);
                return Err(CallError::Transport("connection reset".into()));
            }
            self.inner.call(req).await
        })
    }

    fn call_batch<'a>(
        &'a self,
        items: &'a [crate::client::BatchItem<'a>],
    ) -> BoxFuture<'a, Vec<Result<Instant, CallError>>> {
        self.inner.call_batch(items)
    }

    fn is_closed(&self) -> bool {
        self.dead.load(Ordering::SeqCst)
    }
}

impl Connector for Dying {
    fn connect(&self, session: u32) -> BoxFuture<'_, Result<Connected, TargetError>> {
        Box::pin(async move {
            if (self.refusing)(Instant::now() - self.inner.origin) {
                return Err(TargetError::Handshake {
                    session,
                    reason: "connection refused".into(),
                });
            }
            let c = self.inner.connect(session).await?;
            Ok(Connected {
                session: Arc::new(DyingSession {
                    inner: c.session,
                    origin: self.inner.origin,
                    dying: self.dying,
                    dead: AtomicBool::new(false),
                }),
                ..c
            })
        })
    }
}

#[tokio::test(start_paused = true)]
async fn a_new_session_per_iteration_is_sorted_into_lost_and_not_sent() {
    // A session per iteration, 10 iterations/s, each ping answered in 20 ms.
    // The fault at 2 s marks the trouble: the calls sent 2.0-2.45 s die
    // under their request (lost: the iterations planned at 2.0, 2.1, 2.2,
    // 2.3, 2.4 s), and new sessions are refused 2.5-3.45 s (not sent: the
    // iterations planned at 2.5 ... 3.4 s, ten of them).
    let w = Workload::parse(
        "name = \"t\"\nduration = \"5s\"\n\
         [[faults]]\nat = \"2s\"\ndrop_connections = true\n\
         [[scenarios]]\nname = \"churn\"\nrate = 10\nnew_session = true\n\
         [[scenarios.ops]]\nmethod = \"ping\"\n",
        "test",
    )
    .expect("valid workload");
    let connector = Dying {
        inner: ScriptedConnector::new(fixed(20)),
        dying: |t| (2.0..2.45).contains(&t.as_secs_f64()),
        refusing: |t| (2.5..3.45).contains(&t.as_secs_f64()),
    };
    let out = run_with(&w, &connector, |_| tokio::spawn(async {})).await;
    assert_eq!(out.stopped_by, StopReason::Completed);
    let m = &out.metrics;
    let a = m.accounting.as_ref().expect("accounting");
    assert_eq!(a.planned, 50, "{}", a.describe());
    assert_eq!((a.lost, a.not_sent), (5, 10), "{}", a.describe());
    assert_eq!(a.ok, 35, "{}", a.describe());
    assert!(a.errors.is_empty(), "{}", a.describe());
    assert!(a.balanced(), "{}", a.describe());
    let f = &m.faults[0];
    assert_eq!((f.requests_lost, f.requests_not_sent), (5, 10), "{f:?}");
    assert_eq!(f.sessions_died, 5, "{f:?}");
}
