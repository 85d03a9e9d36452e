//! Failover on the paused clock with two scripted targets: the first one
//! dies (its connection reset, then refused) or goes silent (its requests
//! time out) at an exact time, and every figure (the move's time, lost,
//! not sent, timed out, each target's replies, the buckets' sum) is
//! checked to the request.

use super::*;
use crate::transport::failover::Targets;

#[derive(Clone, Copy, PartialEq)]
enum Death {
    /// Requests on the wire fail (reset), later ones are refused, and the
    /// session is down, as an HTTP session whose server was killed.
    Reset,
    /// Requests sent from then on are never answered.
    Silent,
}

/// A target-0 session that dies `at` after the connector was made.
struct Dying {
    inner: Arc<dyn Session>,
    dies: Instant,
    death: Death,
}

impl Session for Dying {
    fn call<'a>(&'a self, req: &'a PreparedRequest) -> BoxFuture<'a, Result<Instant, CallError>> {
        Box::pin(async move {
            let dead = Instant::now() >= self.dies;
            match self.death {
                Death::Reset if dead => Err(CallError::NotSent("connection refused".into())),
                Death::Reset => tokio::select! {
                    r = self.inner.call(req) => r,
                    _ = tokio::time::sleep_until(self.dies) => {
                        Err(CallError::Lost("connection reset".into()))
                    }
                },
                Death::Silent if dead => std::future::pending().await,
                Death::Silent => self.inner.call(req).await,
            }
        })
    }

    fn is_down(&self) -> bool {
        self.death == Death::Reset && Instant::now() >= self.dies
    }
}

/// Target 0: a scripted target whose sessions die at `dies` and which,
/// after a reset death, refuses new sessions.
struct DyingTarget {
    inner: ScriptedConnector,
    dies: Instant,
    death: Death,
}

impl Connector for DyingTarget {
    fn connect(&self, session: u32) -> BoxFuture<'_, Result<Connected, TargetError>> {
        Box::pin(async move {
            if self.death == Death::Reset && Instant::now() >= self.dies {
                return Err(TargetError::Handshake {
                    session,
                    reason: "connection refused".into(),
                });
            }
            let mut c = self.inner.connect(session).await?;
            c.session = Arc::new(Dying {
                inner: c.session,
                dies: self.dies,
                death: self.death,
            });
            Ok(c)
        })
    }
}

/// The run's own failover connector over two scripted targets replying in
/// `delay_ms`; the first dies `dies` from now.
fn pair(delay_ms: u64, dies: Duration, death: Death) -> Targets {
    Targets::new(vec![
        Box::new(DyingTarget {
            inner: ScriptedConnector::new(fixed(delay_ms)),
            dies: Instant::now() + dies,
            death,
        }),
        Box::new(ScriptedConnector::new(fixed(delay_ms))),
    ])
}

const TWO: &str = "targets = [\"http://127.0.0.1:1/mcp\", \"http://127.0.0.1:2/mcp\"]\n\
                   failover = true\n";

fn assert_close(actual: Option<f64>, expected: f64) {
    let a = actual.expect("a figure");
    assert!((a - expected).abs() < 1e-9, "{a} is not {expected}");
}

#[tokio::test(start_paused = true)]
async fn a_reset_moves_the_session_to_the_next_target_and_loses_what_was_on_the_wire() {
    // 100/s on one session, replies in 15 ms. Target 0 dies at 3.002 s:
    // the requests planned at 2.99 and 3.00 s are on the wire (lost). The
    // session reconnects after 50 ms, to target 1, at 3.052 s; the requests
    // planned 3.01-3.05 s waited for it (within the 100 ms a request waits)
    // and go out then: the first reply from target 1 is at 3.067 s.
    let w = workload(&format!("{TWO}rate = 100\nduration = \"6s\""));
    let pair = pair(15, Duration::from_millis(3002), Death::Reset);
    let out = run_with(&w, &pair, |_| tokio::spawn(async {})).await;
    assert_eq!(out.stopped_by, StopReason::Completed);
    let m = &out.metrics;
    let a = m.accounting.as_ref().expect("accounting");
    assert_eq!(a.planned, 600);
    assert_eq!((a.lost, a.not_sent, a.timed_out), (2, 0, 0));
    assert_eq!(a.ok, 598);
    assert!(a.balanced(), "{}", a.describe());
    let f = m.failover.as_ref().expect("failover figures");
    assert_eq!((f.sessions, f.sessions_migrated, f.migrations), (1, 1, 1));
    assert_eq!(f.migrated_pct, 100.0);
    assert_eq!(f.migrations_unfinished, 0);
    assert_close(f.failover_p50_s, 0.065);
    assert_close(f.failover_max_s, 0.065);
    assert_eq!((f.requests_lost, f.requests_not_sent), (2, 0));
    // 0.00-2.98 s on target 0, the rest on target 1.
    assert_eq!((f.answered[0].ok, f.answered[1].ok), (299, 299));
    assert_eq!(f.answered[1].target, "http://127.0.0.1:2/mcp");
    assert_eq!(f.answered[0].share_pct, 50.0);
}

#[tokio::test(start_paused = true)]
async fn n_timeouts_in_a_row_move_the_session_and_what_was_on_the_old_target_is_lost() {
    // Timeout 105 ms, failover after 3 in a row. Target 0 answers nothing
    // sent from 2 s on: the requests planned at 2.00, 2.01 and 2.02 s time
    // out at 2.105, 2.115 and 2.125 s. At the third the connection is
    // dropped: the 10 planned 2.03-2.12 s on it are lost. The session opens
    // on target 1 50 ms later (2.175 s); the 5 planned 2.13-2.17 s waited
    // and go out then, answered at 2.19 s: the move took 2.19 - 2.105 s
    // (from the first timeout seen).
    let w = workload(&format!(
        "{TWO}failover_timeouts = 3\nrate = 100\nduration = \"6s\"\ntimeout = \"105ms\""
    ));
    let pair = pair(15, Duration::from_secs(2), Death::Silent);
    let out = run_with(&w, &pair, |_| tokio::spawn(async {})).await;
    let m = &out.metrics;
    let a = m.accounting.as_ref().expect("accounting");
    assert_eq!(a.planned, 600);
    assert_eq!((a.timed_out, a.lost, a.not_sent), (3, 10, 0));
    assert_eq!(a.ok, 587);
    assert!(a.balanced(), "{}", a.describe());
    let f = m.failover.as_ref().expect("failover figures");
    assert_eq!((f.sessions_migrated, f.migrations), (1, 1));
    assert_close(f.failover_max_s, 0.085);
    assert_eq!((f.requests_lost, f.requests_not_sent), (10, 0));
    assert_eq!((f.answered[0].ok, f.answered[1].ok), (200, 387));
}

#[tokio::test(start_paused = true)]
async fn fewer_timeouts_than_the_limit_do_not_move_the_session() {
    // Target 0 is silent for good from 2 s on, but with a limit of 1000
    // timeouts in a row the session stays: no move, every later request
    // times out.
    let w = workload(&format!(
        "{TWO}failover_timeouts = 1000\nrate = 100\nduration = \"4s\"\ntimeout = \"105ms\""
    ));
    let pair = pair(15, Duration::from_secs(2), Death::Silent);
    let out = run_with(&w, &pair, |_| tokio::spawn(async {})).await;
    let f = out.metrics.failover.as_ref().expect("failover figures");
    assert_eq!((f.sessions_migrated, f.migrations), (0, 0));
    assert_eq!(f.failover_max_s, None);
    assert_eq!(f.answered[1].ok, 0);
    let a = out.metrics.accounting.as_ref().expect("accounting");
    assert_eq!((a.ok, a.timed_out), (200, 200));
}
