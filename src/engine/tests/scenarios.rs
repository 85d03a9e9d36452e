//! Several scenarios at once on the paused clock: each arrival process
//! keeps its own rate, and a stall in one reaches another only through the
//! sessions they share.

use super::*;

/// Every two-scenario workload of these tests, built in one place: a
/// `probe` (ping) with the load keys `probe`, and a second scenario `name`
/// (echo) with the keys `second`; `run` holds the run's own keys.
fn two_scenarios(run: &str, probe: &str, (name, second): (&str, &str)) -> Workload {
    let text = format!(
        "name = \"t\"\n{run}\n\
         [[scenarios]]\nname = \"probe\"\n{probe}\n\
         [[scenarios.ops]]\nmethod = \"ping\"\n\
         [[scenarios]]\nname = \"{name}\"\n{second}\n\
         [[scenarios.ops]]\nmethod = \"tools/call\"\ntool = \"echo\"\n"
    );
    Workload::parse(&text, "test").expect("valid workload")
}

/// A `probe` (ping at 20/s) and a `flood` (echo at 100/s), one request in
/// flight per session; `probe_sessions` is `"shared"` or a count.
fn probe_and_flood(probe_sessions: &str) -> Workload {
    two_scenarios(
        "duration = \"10s\"\nsessions = 1",
        &format!("rate = 20\npipeline = 1\nsessions = {probe_sessions}"),
        ("flood", "rate = 100\npipeline = 1\nsessions = \"shared\""),
    )
}

fn op<'a>(out: &'a RunOutcome, label: &str) -> &'a crate::metrics::recorder::OpMetrics {
    out.metrics
        .ops
        .iter()
        .find(|o| o.label == label)
        .unwrap_or_else(|| panic!("no {label} in {:?}", out.metrics.ops))
}

#[tokio::test(start_paused = true)]
async fn two_arrival_processes_interleave_at_exactly_their_rates() {
    let seen: Arc<Mutex<Vec<(Duration, &'static str)>>> = Arc::default();
    let log = seen.clone();
    let script: Script = Arc::new(move |c: ScriptCall| {
        log.lock().expect("lock").push((c.at, c.method));
        (Duration::from_millis(1), Ok(()))
    });
    let w = probe_and_flood("1");
    let out = run_plain(&w, script).await;
    assert_eq!(op(&out, "probe/ping").ok, 200);
    assert_eq!(op(&out, "flood/echo").ok, 1000);
    assert_eq!(out.metrics.sends, 1200);
    // The run asked what its scenarios asked.
    assert_eq!(out.metrics.planned_sends, 1200);
    assert_eq!(out.metrics.late_sends, 0);
    let scenarios: Vec<(&str, u64)> = out
        .metrics
        .scenarios
        .iter()
        .map(|s| (s.figures.label.as_str(), s.figures.ok))
        .collect();
    assert_eq!(scenarios, [("probe", 200), ("flood", 1000)]);
    // Each scenario's intervals: its own asked rate and replies, second by second.
    for (s, per_second) in out.metrics.scenarios.iter().zip([20u64, 100]) {
        let got: Vec<(u64, Option<f64>)> = s
            .intervals
            .iter()
            .map(|i| (i.completed, i.asked_rate))
            .collect();
        assert_eq!(got, vec![(per_second, Some(per_second as f64)); 10]);
        assert_eq!((s.late_sends, s.max_send_lag_us), (0, 0));
        // Its own send lag: every send on time, second by second.
        assert_eq!(s.send_lag.lag.count, per_second * 10);
        assert_eq!((s.send_lag.lag.p99_us, s.send_lag.lag.max_us), (0, 0));
        assert_eq!(s.send_lag.intervals.len(), 10);
    }
    let seen = seen.lock().expect("lock");
    let at = |method: &str| -> Vec<u128> {
        seen.iter()
            .filter(|(_, m)| *m == method)
            .map(|(t, _)| t.as_millis())
            .collect()
    };
    assert_eq!(at("ping"), (0..200).map(|k| k * 50).collect::<Vec<_>>());
    assert_eq!(
        at("tools/call"),
        (0..1000).map(|k| k * 10).collect::<Vec<_>>()
    );
}

/// The flood's calls stall from 2.000 s to 2.500 s; pings answer in 1 ms.
fn flood_stalls() -> Script {
    let (from, to) = (Duration::from_millis(2_000), Duration::from_millis(2_500));
    Arc::new(move |c: ScriptCall| {
        let delay = if c.method == "tools/call" && c.at >= from && c.at < to {
            to - c.at + Duration::from_millis(1)
        } else {
            Duration::from_millis(1)
        };
        (delay, Ok(()))
    })
}

#[tokio::test(start_paused = true)]
async fn a_stall_in_the_flood_reaches_the_probe_on_a_shared_session() {
    let out = run_plain(&probe_and_flood("\"shared\""), flood_stalls()).await;
    let probe = op(&out, "probe/ping");
    assert_eq!(probe.ok, 200);
    // The probe planned at 2.050 s (or 2.000 s) waits behind the stalled
    // call until 2.501 s: its corrected latency shows the wait...
    assert!(
        probe.corrected.max_us >= 450_000,
        "{}",
        probe.corrected.max_us
    );
    // ...while its own service time never does.
    assert_eq!(probe.service.max_us, hdr(1_000));
    // The wait is the probe's own send lag: most pings leave on time, the
    // ones planned in the stall leave at 2.501 s; only the 3 s interval has a
    // late send. (Every 50 ms a ping and a flood call are due at the same
    // instant on the one pipeline-1 session: whichever goes second waits the
    // other's 1 ms reply, a lag of exactly 1 ms that is not late.)
    let lag = &scenario(&out, "probe").send_lag;
    assert_eq!((lag.lag.count, lag.lag.p50_us), (200, 0));
    assert!(lag.lag.max_us >= 450_000, "{lag:?}");
    let late: Vec<f64> = lag
        .intervals
        .iter()
        .filter(|i| i.lag.max_us > crate::metrics::recorder::LATE_SEND_US)
        .map(|i| i.t_s)
        .collect();
    assert_eq!(late, [3.0]);
    assert!(lag
        .intervals
        .iter()
        .all(|i| i.t_s == 3.0 || i.lag.max_us <= 1_000));
}

fn scenario<'a>(out: &'a RunOutcome, name: &str) -> &'a crate::metrics::ScenarioMetrics {
    out.metrics
        .scenarios
        .iter()
        .find(|s| s.figures.label == name)
        .unwrap_or_else(|| panic!("no scenario {name}"))
}

#[tokio::test(start_paused = true)]
async fn a_stall_in_the_flood_does_not_reach_a_probe_with_its_own_session() {
    let out = run_plain(&probe_and_flood("1"), flood_stalls()).await;
    let probe = op(&out, "probe/ping");
    assert_eq!(probe.ok, 200);
    assert_eq!(probe.corrected.max_us, hdr(1_000));
    assert!(op(&out, "flood/echo").corrected.max_us >= 500_000);
    // The flood's sends wait behind its stalled call; the probe's never do.
    assert_eq!(scenario(&out, "probe").send_lag.lag.max_us, 0);
    let flood = &scenario(&out, "flood").send_lag.lag;
    assert!(flood.max_us >= 490_000, "{flood:?}");
    assert_eq!(flood.count, 1000);
}

#[tokio::test(start_paused = true)]
async fn a_scenario_runs_only_in_its_window() {
    // The flood starts 2 s into the 10 s run and lasts 3 s.
    let w = two_scenarios(
        "duration = \"10s\"",
        "rate = 20",
        (
            "flood",
            "rate = 100\nstart = \"2s\"\nduration = \"3s\"\nsessions = 2",
        ),
    );
    let seen: Arc<Mutex<Vec<Duration>>> = Arc::default();
    let log = seen.clone();
    let script: Script = Arc::new(move |c: ScriptCall| {
        if c.method == "tools/call" {
            log.lock().expect("lock").push(c.at);
        }
        (Duration::from_millis(1), Ok(()))
    });
    let connector = ScriptedConnector::new(script);
    let out = run_with(&w, &connector, |_| tokio::spawn(async {})).await;
    assert_eq!(*connector.connected.lock().expect("lock"), 3);
    assert_eq!(op(&out, "probe/ping").ok, 200);
    assert_eq!(op(&out, "flood/echo").ok, 300);
    let seen = seen.lock().expect("lock");
    assert_eq!(seen.first(), Some(&Duration::from_secs(2)));
    assert_eq!(seen.last(), Some(&Duration::from_millis(4_990)));
}

#[tokio::test(start_paused = true)]
async fn a_scenario_rate_control_changes_only_that_scenarios_arrivals() {
    let seen: Arc<Mutex<Vec<(Duration, &'static str)>>> = Arc::default();
    let log = seen.clone();
    let script: Script = Arc::new(move |c: ScriptCall| {
        log.lock().expect("lock").push((c.at, c.method));
        (Duration::from_millis(1), Ok(()))
    });
    let connector = ScriptedConnector::new(script);
    let out = run_with(&probe_and_flood("1"), &connector, |h| {
        tokio::spawn(async move {
            tokio::time::sleep(Duration::from_millis(5_005)).await;
            h.controls
                .send(Control::SetScenarioRate(1, 200.0))
                .expect("send");
            // A closed-loop control on an open-loop scenario changes nothing.
            h.controls
                .send(Control::SetScenarioConcurrency(0, 50))
                .expect("send");
            std::future::pending::<()>().await;
        })
    })
    .await;
    let seen = seen.lock().expect("lock");
    let at = |method: &str| -> Vec<u128> {
        seen.iter()
            .filter(|(_, m)| *m == method)
            .map(|(t, _)| t.as_micros())
            .collect()
    };
    // The probe keeps its 50 ms beat throughout.
    assert_eq!(at("ping"), (0..200).map(|k| k * 50_000).collect::<Vec<_>>());
    // The flood: every 10 ms to 5.000 s; the send planned for 5.010 s keeps
    // its time, then every 5 ms to the end at 10 s.
    let flood: Vec<u128> = (0..=500)
        .map(|k| k * 10_000)
        .chain((0..998).map(|k| 5_010_000 + k * 5_000))
        .collect();
    assert_eq!(at("tools/call"), flood);
    let scenarios = &out.metrics.scenarios;
    assert_eq!((scenarios[0].sends, scenarios[0].planned_sends), (200, 200));
    assert_eq!(scenarios[1].sends, 1499);
    // Asked: 100/s for 5.005 s and 200/s for 4.995 s.
    assert_eq!(scenarios[1].planned_sends, 1500);
    assert_eq!(scenarios[1].asked_rate, Some(150.0));
}

#[tokio::test(start_paused = true)]
async fn the_snapshot_says_how_each_scenario_runs_and_its_concurrency_control_acts_alone() {
    // Replies take 7 ms, so no reply lands on a one-second tick.
    let w = two_scenarios(
        "duration = \"5s\"",
        "rate = 20\nsessions = 1",
        ("flood", "concurrency = 8\nsessions = 2\npipeline = 2"),
    );
    let seen: Arc<Mutex<Vec<Snapshot>>> = Arc::default();
    let keep = seen.clone();
    let connector = ScriptedConnector::new(fixed(7));
    let out = run_with(&w, &connector, |h| {
        tokio::spawn(async move {
            let start = Instant::now();
            for (at_ms, control) in [
                (2_500, Some(Control::SetScenarioConcurrency(1, 2))),
                (3_500, None),
            ] {
                tokio::time::sleep_until(start + Duration::from_millis(at_ms)).await;
                keep.lock()
                    .expect("lock")
                    .push(h.snapshots.borrow().clone());
                if let Some(c) = control {
                    h.controls.send(c).expect("send");
                }
            }
            std::future::pending::<()>().await;
        })
    })
    .await;
    let seen = seen.lock().expect("lock");
    // At 2.5 s, the snapshot of the 2 s tick.
    let [probe, flood] = &seen[0].scenarios[..] else {
        panic!("two scenarios: {:?}", seen[0].scenarios)
    };
    assert_eq!(probe.name, "probe");
    assert_eq!(
        (probe.rate, probe.concurrency, probe.cap),
        (Some(20.0), None, None)
    );
    assert_eq!((probe.sessions, probe.active), (1, true));
    let last = probe.last.as_ref().expect("an interval");
    assert_eq!(
        (last.asked_rate, last.sent_rate, last.completed),
        (Some(20.0), 20.0, 20)
    );
    assert_eq!(probe.history.len(), 2);
    // Asked 8 in flight, but 2 sessions x pipeline 2 hold 4.
    assert_eq!(
        (flood.concurrency, flood.cap, flood.in_flight),
        (Some(8), Some(4), 4)
    );
    assert_eq!(flood.last.as_ref().expect("an interval").asked_rate, None);
    // At 3.5 s (the 3 s tick), after the flood's concurrency went to 2.
    let [probe, flood] = &seen[1].scenarios[..] else {
        panic!("two scenarios")
    };
    assert_eq!(
        (flood.concurrency, flood.cap, flood.in_flight),
        (Some(2), None, 2)
    );
    assert_eq!(probe.rate, Some(20.0));
    assert_eq!(probe.last.as_ref().expect("an interval").completed, 20);
    assert_eq!(out.metrics.scenarios[0].sends, 100);
}

#[tokio::test(start_paused = true)]
async fn a_scenarios_stages_change_its_rate_alone_and_end_it() {
    // The spike: 100/s for 1.005 s, 200/s for 0.502 s, 100/s for 0.495 s,
    // then over at 2.002 s; the probe keeps 20/s for the 3 s run.
    let w = two_scenarios(
        "duration = \"3s\"",
        "rate = 20\nsessions = 1",
        (
            "spike",
            "rate = 100\nsessions = 1\n\
             [[scenarios.stages]]\nduration = \"1005ms\"\nrate = 100\n\
             [[scenarios.stages]]\nduration = \"502ms\"\nrate = 200\n\
             [[scenarios.stages]]\nduration = \"495ms\"\nrate = 100",
        ),
    );
    let seen: Arc<Mutex<Vec<(Duration, &'static str)>>> = Arc::default();
    let log = seen.clone();
    let script: Script = Arc::new(move |c: ScriptCall| {
        log.lock().expect("lock").push((c.at, c.method));
        (Duration::from_millis(1), Ok(()))
    });
    let out = run_plain(&w, script).await;
    let seen = seen.lock().expect("lock");
    let at = |method: &str| -> Vec<u128> {
        seen.iter()
            .filter(|(_, m)| *m == method)
            .map(|(t, _)| t.as_millis())
            .collect()
    };
    assert_eq!(at("ping"), (0..60).map(|k| k * 50).collect::<Vec<_>>());
    // Each send planned before a stage ends keeps its time; the next ones
    // follow the new rate.
    let spike: Vec<u128> = (0..=100)
        .map(|k| k * 10)
        .chain((0..100).map(|k| 1_010 + k * 5))
        .chain((0..50).map(|k| 1_510 + k * 10))
        .collect();
    let got = at("tools/call");
    assert_eq!(got.len(), spike.len());
    assert_eq!(got, spike);
    let s = &out.metrics.scenarios[1];
    assert_eq!(s.sends, 251);
    // Asked: 100.5 + 100.4 + 49.5 sends.
    assert_eq!(s.planned_sends, 250);
}

#[tokio::test(start_paused = true)]
async fn a_probe_pings_where_the_protocol_has_ping_else_sends_its_fallback_and_says_so() {
    let text = "name = \"t\"\nduration = \"1s\"\n\
         [[scenarios]]\nname = \"probe\"\nrate = 10\n\
         [[scenarios.ops]]\nmethod = \"ping\"\nfallback = \"tools/list\"\n";
    let w = Workload::parse(text, "test").expect("valid workload");
    for (era, sent) in [(Era::V2025_11_25, "ping"), (Era::STATELESS, "tools/list")] {
        let seen: Arc<Mutex<Vec<&'static str>>> = Arc::default();
        let log = seen.clone();
        let script: Script = Arc::new(move |c: ScriptCall| {
            log.lock().expect("lock").push(c.method);
            (Duration::from_millis(1), Ok(()))
        });
        let mut connector = ScriptedConnector::new(script);
        connector.era = era;
        let out = run_with(&w, &connector, |_| tokio::spawn(async {})).await;
        assert_eq!(*seen.lock().expect("lock"), vec![sent; 10], "{era}");
        // The op keeps its label (thresholds name it) and says what it sent.
        let probe = op(&out, "probe/ping");
        assert_eq!(probe.ok, 10);
        let fell_back = era == Era::STATELESS;
        assert_eq!(probe.sent_as.as_deref(), fell_back.then_some("tools/list"));
        let said = out.metrics.warnings.iter().any(|w| {
            w.starts_with("probe/ping: protocol")
                && w.contains("has no ping; sent tools/list instead")
        });
        assert_eq!(said, fell_back, "{:?}", out.metrics.warnings);
    }
}
