//! Several scenarios at once (`[[scenarios]]`): the one `Scheduler` loop
//! drives each scenario's arrival process, with the scenario's shape, mix,
//! sessions (its own, or the workload's shared ones) and time window. The
//! driver's plan (pause, stop) reaches every scenario through `window`,
//! which also holds a scenario back until its start and after its end.

use super::churn::{Churn, Opener};
use super::flow::FlowRun;
use super::mix::Mix;
use super::scheduler::{LoadCounters, Plan, PreparedOp, Scheduler, SchedulerEnd, SessionSlot};
use crate::metrics::Sample;
use crate::transport::Connected;
use crate::workload::{Scenario, ScenarioSessions, Workload};
use futures_util::stream::{FuturesUnordered, StreamExt};
use std::sync::atomic::AtomicU32;
use std::sync::Arc;
use tokio::sync::{mpsc, watch};
use tokio::task::JoinHandle;
use tokio::time::{sleep_until, Instant};

/// Starts `scheduler` as it is, or, with scenarios, one scheduler per
/// scenario made from it.
pub(super) fn start(
    workload: &Workload,
    connected: &[Connected],
    scheduler: Scheduler,
    opener: Opener,
) -> JoinHandle<SchedulerEnd> {
    if workload.scenarios.is_empty() {
        return tokio::spawn(scheduler.run());
    }
    let shared = Shared {
        ops: scheduler.ops,
        measure_start: scheduler.measure_start,
        request_limit: scheduler.request_limit,
        counters: scheduler.counters,
        samples: scheduler.samples,
        plan: scheduler.plan,
        opener,
    };
    spawn(workload, connected, shared)
}

/// What every scenario's scheduler shares.
pub(super) struct Shared {
    pub ops: Arc<[PreparedOp]>,
    pub measure_start: Instant,
    pub request_limit: Option<u64>,
    pub counters: Arc<LoadCounters>,
    pub samples: mpsc::UnboundedSender<Sample>,
    pub plan: watch::Receiver<Plan>,
    pub opener: Opener,
}

fn slots(connected: &[Connected]) -> Arc<[SessionSlot]> {
    connected
        .iter()
        .map(|c| SessionSlot {
            session: c.session.clone(),
            in_flight: AtomicU32::new(0),
        })
        .collect()
}

/// Starts one scheduler per scenario over `connected` (the shared sessions
/// first, then each scenario's own, in order, as `sessions_to_open` counts
/// them). Ends when one scheduler reaches the request limit or loses all
/// its sessions, or when all have stopped.
pub(super) fn spawn(
    workload: &Workload,
    connected: &[Connected],
    shared: Shared,
) -> JoinHandle<SchedulerEnd> {
    let has_shared = workload
        .scenarios
        .iter()
        .any(|s| s.sessions == ScenarioSessions::Shared);
    let shared_count = if has_shared {
        workload.sessions as usize
    } else {
        0
    };
    let shared_slots = slots(&connected[..shared_count.min(connected.len())]);
    let mut next = shared_count;
    let tasks: FuturesUnordered<JoinHandle<SchedulerEnd>> = FuturesUnordered::new();
    for scenario in &workload.scenarios {
        let sessions = match scenario.sessions {
            ScenarioSessions::Shared => shared_slots.clone(),
            ScenarioSessions::Own(n) => {
                let end = (next + n as usize).min(connected.len());
                let own = slots(&connected[next.min(end)..end]);
                next = end;
                own
            }
        };
        let (plan_tx, plan_rx) = watch::channel(window_plan(
            scenario,
            *shared.plan.borrow(),
            shared.measure_start,
            Instant::now(),
        ));
        tokio::spawn(window(
            scenario.clone(),
            shared.plan.clone(),
            plan_tx,
            shared.measure_start,
        ));
        let weights: Vec<u32> = workload.ops[scenario.ops.clone()]
            .iter()
            .map(|o| o.weight)
            .collect();
        let scheduler = Scheduler {
            sessions,
            ops: shared.ops.clone(),
            mix: Mix::offset(&weights, scenario.ops.start),
            pipeline: scenario.pipeline,
            batch: 1,
            measure_start: shared.measure_start,
            request_limit: shared.request_limit,
            counters: shared.counters.clone(),
            scenario: Some(Arc::new(LoadCounters::default())),
            samples: shared.samples.clone(),
            plan: plan_rx,
            flow: scenario
                .flow
                .as_ref()
                .map(|f| Arc::new(FlowRun::new(f, &workload.ops))),
            churn: scenario.session_op.map(|session_op| {
                Arc::new(Churn {
                    opener: shared.opener.clone(),
                    session_op,
                })
            }),
        };
        tasks.push(tokio::spawn(scheduler.run()));
    }
    tokio::spawn(first_end(tasks))
}

async fn first_end(mut tasks: FuturesUnordered<JoinHandle<SchedulerEnd>>) -> SchedulerEnd {
    while let Some(end) = tasks.next().await {
        match end {
            Ok(SchedulerEnd::Stopped) | Err(_) => {}
            Ok(other) => return other,
        }
    }
    SchedulerEnd::Stopped
}

/// The scenario's plan at `now`, given the run's.
fn window_plan(s: &Scenario, run: Plan, measure_start: Instant, now: Instant) -> Plan {
    let start = measure_start + s.start;
    let ended = s.duration.is_some_and(|d| now >= start + d);
    Plan {
        shape: s.shape,
        paused: run.paused || (s.start > std::time::Duration::ZERO && now < start) || ended,
        stop: run.stop,
    }
}

/// Keeps a scenario's plan in step with the run's and its own window,
/// until the run stops or nobody listens.
async fn window(
    s: Scenario,
    mut run: watch::Receiver<Plan>,
    tx: watch::Sender<Plan>,
    measure_start: Instant,
) {
    let start = measure_start + s.start;
    let end = s.duration.map(|d| start + d);
    loop {
        let now = Instant::now();
        let plan = window_plan(&s, *run.borrow_and_update(), measure_start, now);
        tx.send_if_modified(|p| {
            let changed = *p != plan;
            *p = plan;
            changed
        });
        if tx.is_closed() || plan.stop {
            return;
        }
        let next = [Some(start), end]
            .into_iter()
            .flatten()
            .filter(|t| *t > now)
            .min();
        tokio::select! {
            changed = run.changed() => if changed.is_err() { return },
            _ = until(next) => {}
        }
    }
}

async fn until(t: Option<Instant>) {
    match t {
        Some(t) => sleep_until(t).await,
        None => std::future::pending().await,
    }
}
