//! Session churn on the paused clock: every iteration connects a session of
//! its own, and the scenario's `session` op counts sessions per second.

use super::*;

#[tokio::test(start_paused = true)]
async fn every_iteration_opens_a_session_of_its_own() {
    let text = "name = \"t\"\nduration = \"1s\"\n\
         [[scenarios]]\nname = \"churn\"\nrate = 10\nnew_session = true\n\
         [[scenarios.flow]]\nmethod = \"tools/list\"\nname = \"list\"\n\
         [[scenarios.flow]]\nmethod = \"tools/call\"\n\
         from = { step = \"list\", pointer = \"/tools/0/name\" }\n";
    let w = Workload::parse(text, "test").expect("valid workload");
    assert_eq!(w.sessions_to_open(), 0);
    let script: Script = Arc::new(|c: ScriptCall| {
        // Each session is new: its first call is its only tools/list.
        assert!(c.method != "tools/list" || c.nth == 0, "{c:?}");
        (Duration::from_millis(2), Ok(()))
    });
    let connector = ScriptedConnector::new(script);
    let out = run_with(&w, &connector, |_| tokio::spawn(async {})).await;
    assert_eq!(*connector.connected.lock().expect("lock"), 10);
    let names = connector.names.lock().expect("lock");
    assert_eq!(
        names
            .iter()
            .filter(|n| n.as_deref() == Some("first-tool"))
            .count(),
        10
    );
    let op = |label: &str| {
        out.metrics
            .ops
            .iter()
            .find(|o| o.label == label)
            .unwrap_or_else(|| panic!("no {label}"))
            .clone()
    };
    assert_eq!(op("churn/iteration").ok, 10);
    let sessions = op("churn/session");
    assert_eq!((sessions.ok, sessions.errors), (10, 0));
    // Sessions per second: 10 over the measured second.
    assert_eq!(sessions.throughput_msg_per_s, 10.0);
    assert_eq!(sessions.corrected.max_us, hdr(4_000));
    assert_eq!(out.metrics.overall.ok, 20);
}

#[test]
fn validate_refuses_new_session_with_batch_or_sessions() {
    let text = "name = \"t\"\nduration = \"1s\"\nbatch = 2\nprotocol = \"2025-03-26\"\n\
         [[scenarios]]\nname = \"churn\"\nrate = 10\nnew_session = true\nsessions = 2\n\
         [[scenarios.ops]]\nmethod = \"ping\"\n";
    let errors = Workload::parse_all(text, "c.toml", &Default::default()).expect_err("invalid");
    let keys: Vec<&str> = errors.iter().map(|e| e.key.as_str()).collect();
    for key in ["scenarios[0].new_session", "scenarios[0].sessions"] {
        assert!(keys.contains(&key), "{key} not in {keys:?}");
    }
}

#[tokio::test(start_paused = true)]
async fn an_open_loop_keeps_a_bounded_number_of_sessions_open() {
    let text = "name = \"t\"\nduration = \"1s\"\n\
         [[scenarios]]\nname = \"churn\"\nrate = 1000\nnew_session = true\n\
         [[scenarios.ops]]\nmethod = \"ping\"\n";
    let w = Workload::parse(text, "test").expect("valid workload");
    // Every session's ping takes 10 s: only the cap's worth are ever open.
    let connector = ScriptedConnector::new(fixed(10_000));
    let out = run_with(&w, &connector, |_| tokio::spawn(async {})).await;
    let opened = *connector.connected.lock().expect("lock");
    assert_eq!(u64::from(opened), scheduler::CHURN_MAX_OPEN);
    assert!(out.metrics.backpressure_waits > 0);
}
