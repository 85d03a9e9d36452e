//! Flows on the paused clock: steps in order on one session, each timed on
//! its own and the iteration from its planned start; a value taken from an
//! earlier step's result by JSON pointer; a failing step ends its iteration
//! unless it may continue.

use super::*;

/// One `flow` scenario at 10 iterations/s for 1 s on one session: list the
/// tools, call the one at `pointer`, ping. `call_extra` goes in the call step.
fn flow(pointer: &str, call_extra: &str) -> Workload {
    let text = format!(
        "name = \"t\"\nduration = \"1s\"\n\
         [[scenarios]]\nname = \"flow\"\nrate = 10\nsessions = 1\npipeline = 1\n\
         [[scenarios.flow]]\nmethod = \"tools/list\"\nname = \"list\"\n\
         [[scenarios.flow]]\nmethod = \"tools/call\"\nfrom = {{ step = \"list\", pointer = \"{pointer}\" }}\n{call_extra}\n\
         [[scenarios.flow]]\nmethod = \"ping\"\n"
    );
    Workload::parse(&text, "test").expect("valid workload")
}

fn op<'a>(out: &'a RunOutcome, label: &str) -> &'a crate::metrics::recorder::OpMetrics {
    out.metrics
        .ops
        .iter()
        .find(|o| o.label == label)
        .unwrap_or_else(|| panic!("no {label} in {:?}", out.metrics.ops))
}

/// tools/list 2 ms (the very first 150 ms), tools/call 3 ms, ping 1 ms.
fn steps_script(call: Result<(), CallError>) -> Script {
    Arc::new(move |c: ScriptCall| match c.method {
        "tools/list" if c.nth == 0 => (Duration::from_millis(150), Ok(())),
        "tools/list" => (Duration::from_millis(2), Ok(())),
        "tools/call" => (Duration::from_millis(3), call.clone()),
        _ => (Duration::from_millis(1), Ok(())),
    })
}

#[tokio::test(start_paused = true)]
async fn steps_run_in_order_and_the_iteration_is_timed_from_its_planned_start() {
    let w = flow("/tools/1/name", "");
    let connector = ScriptedConnector::new(steps_script(Ok(())));
    let out = run_with(&w, &connector, |_| tokio::spawn(async {})).await;
    for label in [
        "flow/list",
        "flow/tools/call",
        "flow/ping",
        "flow/iteration",
    ] {
        assert_eq!(op(&out, label).ok, 10, "{label}");
        assert_eq!(op(&out, label).errors, 0, "{label}");
    }
    // The second tool of the listing, by pointer, kebab-case and all.
    let names = connector.names.lock().expect("lock");
    let called: Vec<&Option<String>> = names.iter().filter(|n| n.is_some()).collect();
    assert_eq!(called.len(), 10);
    assert!(called.iter().all(|n| n.as_deref() == Some("second-tool")));
    // Iteration 0: 150 + 3 + 1 ms. Iteration 1, planned at 100 ms, starts
    // when iteration 0 ends (154 ms): 54 ms late, then 2 + 3 + 1.
    let it = op(&out, "flow/iteration");
    assert_eq!(it.corrected.max_us, hdr(154_000));
    assert_eq!(it.corrected.p50_us, hdr(6_000));
    let list = op(&out, "flow/list");
    assert_eq!(list.corrected.max_us, hdr(150_000));
    // Later steps are timed from their own send: nothing waits before them.
    assert_eq!(op(&out, "flow/tools/call").corrected.max_us, hdr(3_000));
    // The run's totals count requests, not iterations.
    assert_eq!(out.metrics.overall.ok, 30);
    assert_eq!(out.metrics.scenarios[0].figures.ok, 30);
}

#[tokio::test(start_paused = true)]
async fn a_failing_step_ends_its_iteration_counted_by_kind() {
    let rpc = Err(CallError::JsonRpc {
        code: -32602,
        message: "unknown tool".into(),
    });
    let out = run_plain(&flow("/tools/0/name", ""), steps_script(rpc)).await;
    assert_eq!(op(&out, "flow/list").ok, 10);
    assert_eq!(op(&out, "flow/tools/call").errors, 10);
    assert_eq!(op(&out, "flow/ping").operations, 0);
    let it = op(&out, "flow/iteration");
    assert_eq!((it.ok, it.errors), (0, 10));
    assert_eq!(
        it.errors_by_kind.get("jsonrpc -32602").copied(),
        Some(10),
        "{it:?}"
    );
    // The run counts the failed call once, not once more for its iteration.
    assert_eq!(out.metrics.overall.errors, 10);
}

#[tokio::test(start_paused = true)]
async fn continue_on_error_lets_the_iteration_go_on() {
    let rpc = Err(CallError::JsonRpc {
        code: -32602,
        message: "unknown tool".into(),
    });
    let w = flow("/tools/0/name", "continue_on_error = true");
    let out = run_plain(&w, steps_script(rpc)).await;
    assert_eq!(op(&out, "flow/tools/call").errors, 10);
    assert_eq!(op(&out, "flow/ping").ok, 10);
    assert_eq!(op(&out, "flow/iteration").ok, 10);
}

#[tokio::test(start_paused = true)]
async fn a_pointer_to_nothing_fails_the_step_that_takes_it() {
    let out = run_plain(&flow("/tools/7/name", ""), steps_script(Ok(()))).await;
    let call = op(&out, "flow/tools/call");
    assert_eq!(call.errors, 10);
    let message = call.first_error_messages.values().next().cloned();
    assert!(
        message
            .as_deref()
            .is_some_and(|m| m.contains("/tools/7/name")),
        "{message:?}"
    );
    assert_eq!(op(&out, "flow/iteration").errors, 10);
}

#[tokio::test(start_paused = true)]
async fn a_step_with_nothing_to_take_is_skipped_and_counted_when_told_to() {
    // The listing has two tools: `/tools/5/name` finds nothing.
    for (if_missing, skipped) in [("skip", true), ("fail", false)] {
        // The pointer's closing quote, then `if_missing` in the same table.
        let w = flow(&format!("/tools/5/name\", if_missing = \"{if_missing}"), "");
        let connector = ScriptedConnector::new(steps_script(Ok(())));
        let out = run_with(&w, &connector, |_| tokio::spawn(async {})).await;
        let call = op(&out, "flow/tools/call");
        let (ping, iteration) = (op(&out, "flow/ping"), op(&out, "flow/iteration"));
        assert_eq!(call.ok, 0);
        assert_eq!(op(&out, "flow/list").ok, 10);
        let said = out
            .metrics
            .warnings
            .iter()
            .any(|w| w == "flow/tools/call: skipped in 10 iteration(s): nothing at /tools/5/name (if_missing = \"skip\")");
        if skipped {
            // Not sent, not failed: the iteration goes on to its ping.
            assert_eq!(
                (call.errors, ping.ok, iteration.ok, iteration.errors),
                (0, 10, 10, 0)
            );
            assert!(said, "{:?}", out.metrics.warnings);
        } else {
            assert_eq!((call.errors, ping.ok, iteration.errors), (10, 0, 10));
            assert!(!said);
        }
    }
}
