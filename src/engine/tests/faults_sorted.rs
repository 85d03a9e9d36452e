//! Every kind of send on a wrapped session is sorted into lost / not sent
//! as a single request is: batches, a flow's steps (also those that read a
//! listing), and a scenario's own `reconnect`, on the paused clock.

use super::faults::Refusing;
use super::*;
use crate::protocol::Era;

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

#[tokio::test(start_paused = true)]
async fn a_pause_moves_a_fault_still_to_come_by_its_length() {
    // Paused from 1 s to 2.5 s of the run: a fault `at = 2s` of measured
    // time fires 1.5 s late, at 3.5 s after the start of measuring.
    let w = workload(
        "rate = 100\nduration = \"5s\"\nwarmup = \"0s\"\nreconnect = true\n\
         [[faults]]\nat = \"2s\"\ndrop_connections = true",
    );
    let connector = ScriptedConnector::new(fixed(5));
    let out = run_with(&w, &connector, |h| {
        tokio::spawn(async move {
            tokio::time::sleep(Duration::from_secs(1)).await;
            let _ = h.controls.send(Control::Pause);
            tokio::time::sleep(Duration::from_millis(1500)).await;
            let _ = h.controls.send(Control::Resume);
            std::future::pending::<()>().await;
        })
    })
    .await;
    let f = &out.metrics.faults[0];
    assert!((f.at_s - 3.5).abs() < 1e-9, "{f:?}");
}
