//! Several scenarios at once (`[[scenarios]]`): the one `Scheduler` loop
//! drives each scenario's arrival process, with the scenario's shape, mix,
//! sessions (its own, or the workload's shared ones) and time window.
//! `Scenarios` is the driver's side of them: it puts each one's plan in
//! force (the run's pause and stop, its window, its `+`/`-`), meters the
//! sends each asked for, and says how each stands for the snapshot.

use super::churn::{Churn, Opener};
use super::flow::FlowRun;
use super::meter::AskedMeter;
use super::mix::Mix;
use super::scheduler::{LoadCounters, Plan, PreparedOp, Scheduler, SchedulerEnd, SessionSlot};
use super::Control;
use crate::metrics::{Sample, ScenarioOps, ScenarioStatus};
use crate::transport::Connected;
use crate::workload::{LoadShape, Scenario, ScenarioSessions, Workload};
use futures_util::stream::{FuturesUnordered, StreamExt};
use std::sync::atomic::{AtomicU32, Ordering};
use std::sync::Arc;
use std::time::Duration;
use tokio::sync::{mpsc, watch};
use tokio::task::JoinHandle;
use tokio::time::Instant;

/// Starts `scheduler` as it is, or, with scenarios, one scheduler per
/// scenario made from it, and the scenarios' steering.
pub(super) fn start(
    workload: &Workload,
    connected: &[Connected],
    scheduler: Scheduler,
    opener: Opener,
) -> (JoinHandle<SchedulerEnd>, Scenarios) {
    if workload.scenarios.is_empty() {
        return (tokio::spawn(scheduler.run()), Scenarios::default());
    }
    let shared = Shared {
        run: *scheduler.plan.borrow(),
        ops: scheduler.ops,
        measure_start: scheduler.measure_start,
        request_limit: scheduler.request_limit,
        counters: scheduler.counters,
        samples: scheduler.samples,
        opener,
    };
    spawn(workload, connected, shared)
}

/// Each scenario's operations, as the recorder groups them: its requests,
/// and the ops that record its iterations and sessions.
pub(crate) fn groups(workload: &Workload) -> Vec<ScenarioOps> {
    workload
        .scenarios
        .iter()
        .map(|s| ScenarioOps {
            name: s.name.clone(),
            ops: s.ops.clone(),
            also: [s.flow.as_ref().map(|f| f.iteration), s.session_op]
                .into_iter()
                .flatten()
                .collect(),
        })
        .collect()
}

/// What every scenario's scheduler shares.
pub(super) struct Shared {
    /// The run's plan as the scenarios start.
    pub run: Plan,
    pub ops: Arc<[PreparedOp]>,
    pub measure_start: Instant,
    pub request_limit: Option<u64>,
    pub counters: Arc<LoadCounters>,
    pub samples: mpsc::UnboundedSender<Sample>,
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

/// One scenario as the driver steers it.
pub(super) struct ScenarioLoad {
    scenario: Scenario,
    plan: Plan,
    plan_tx: watch::Sender<Plan>,
    /// Its own in-flight count and sends (the run's are in the run's counters).
    counters: Arc<LoadCounters>,
    /// Set by `+`/`-`: overrides its shape for the rest of the run.
    manual: Option<LoadShape>,
    asked: AskedMeter,
    /// Sessions it sends on (none when it opens one per iteration).
    sessions: u32,
    flow: Option<Arc<FlowRun>>,
}

/// Every scenario's steering; empty for a workload without scenarios.
#[derive(Default)]
pub(super) struct Scenarios {
    loads: Vec<ScenarioLoad>,
}

/// Starts one scheduler per scenario over `connected` (the shared sessions
/// first, then each scenario's own, in order, as `sessions_to_open` counts
/// them). The handle ends when one scheduler reaches the request limit or
/// loses all its sessions, or when all have stopped.
pub(super) fn spawn(
    workload: &Workload,
    connected: &[Connected],
    shared: Shared,
) -> (JoinHandle<SchedulerEnd>, Scenarios) {
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
    let mut loads = Vec::new();
    let now = Instant::now();
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
        let plan = plan_at(scenario, None, shared.run, RunClock::Warmup);
        let (plan_tx, plan_rx) = watch::channel(plan);
        let counters = Arc::new(LoadCounters::default());
        loads.push(ScenarioLoad {
            scenario: scenario.clone(),
            plan,
            plan_tx,
            counters: counters.clone(),
            manual: None,
            asked: AskedMeter {
                measure_start: shared.measure_start,
                since: now,
                rate: open_rate(plan.shape),
                total: 0.0,
            },
            sessions: sessions.len() as u32,
            flow: None,
        });
        let scheduler = scheduler(workload, scenario, sessions, &shared, counters, plan_rx);
        if let Some(l) = loads.last_mut() {
            l.flow = scheduler.flow.clone();
        }
        tasks.push(tokio::spawn(scheduler.run()));
    }
    (tokio::spawn(first_end(tasks)), Scenarios { loads })
}

/// The scheduler of one scenario.
fn scheduler(
    workload: &Workload,
    scenario: &Scenario,
    sessions: Arc<[SessionSlot]>,
    shared: &Shared,
    counters: Arc<LoadCounters>,
    plan: watch::Receiver<Plan>,
) -> Scheduler {
    let weights: Vec<u32> = workload.ops[scenario.ops.clone()]
        .iter()
        .map(|o| o.weight)
        .collect();
    Scheduler {
        sessions,
        ops: shared.ops.clone(),
        mix: Mix::offset(&weights, scenario.ops.start),
        pipeline: scenario.pipeline,
        batch: 1,
        measure_start: shared.measure_start,
        request_limit: shared.request_limit,
        counters: shared.counters.clone(),
        scenario: Some(counters),
        samples: shared.samples.clone(),
        plan,
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
    }
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

fn elapsed_of(clock: RunClock) -> Duration {
    match clock {
        RunClock::Warmup => Duration::ZERO,
        RunClock::Measured(elapsed) => elapsed,
    }
}

fn open_rate(shape: LoadShape) -> Option<f64> {
    match shape {
        LoadShape::OpenLoop { rate } => Some(rate),
        LoadShape::ClosedLoop { .. } => None,
    }
}

/// Where the run is in time: still warming up, or this far into measuring
/// (pauses left out).
#[derive(Debug, Clone, Copy, PartialEq)]
pub(super) enum RunClock {
    Warmup,
    Measured(Duration),
}

/// The scenario's plan given the run's: paused outside its window (one
/// starting at 0 also runs during warm-up), its shape the manual one if
/// set, else that of its stage then.
fn plan_at(s: &Scenario, manual: Option<LoadShape>, run: Plan, clock: RunClock) -> Plan {
    let (outside, shape) = match clock {
        RunClock::Warmup => (s.start > Duration::ZERO, s.shape_at(Duration::ZERO)),
        RunClock::Measured(elapsed) => (
            elapsed < s.start || s.duration.is_some_and(|d| elapsed >= s.start + d),
            s.shape_at(elapsed.saturating_sub(s.start)),
        ),
    };
    Plan {
        shape: manual.unwrap_or(shape),
        paused: run.paused || outside,
        stop: run.stop,
    }
}

impl Scenarios {
    /// Puts each scenario's plan at `now` (`clock` on the run's measured
    /// time) in force; returns the next instant one may change (its window
    /// opening or closing, its next stage).
    pub fn steer(&mut self, run: Plan, clock: RunClock, now: Instant) -> Option<Instant> {
        let measuring = clock != RunClock::Warmup;
        let mut next: Option<Duration> = None;
        for l in &mut self.loads {
            let plan = plan_at(&l.scenario, l.manual, run, clock);
            if plan != l.plan {
                // Sends asked so far count at the old rate, while it held.
                l.asked.advance(now, measuring, l.plan.paused);
                l.asked.rate = open_rate(plan.shape);
                l.plan = plan;
                let _ = l.plan_tx.send(plan);
            }
            let RunClock::Measured(elapsed) = clock else {
                // The driver wakes when measuring begins.
                continue;
            };
            let s = &l.scenario;
            let stage = s.next_change(elapsed.saturating_sub(s.start));
            let ends = [Some(Duration::ZERO), s.duration, stage];
            for t in ends.into_iter().flatten().map(|d| s.start + d) {
                if t > elapsed && next.is_none_or(|n| t < n) {
                    next = Some(t);
                }
            }
        }
        next.map(|t| now + (t - elapsed_of(clock)))
    }

    /// Counts the sends asked for up to `now`.
    pub fn advance_asked(&mut self, now: Instant, measuring: bool) {
        for l in &mut self.loads {
            l.asked.advance(now, measuring, l.plan.paused);
        }
    }

    /// Applies `+`/`-` to one scenario, in its own loop model only; it
    /// takes effect at the next `steer`.
    pub fn control(&mut self, control: Control) {
        match control {
            Control::SetScenarioRate(i, rate) if rate > 0.0 && rate.is_finite() => {
                if let Some(l) = self.loads.get_mut(i) {
                    if matches!(l.plan.shape, LoadShape::OpenLoop { .. }) {
                        l.manual = Some(LoadShape::OpenLoop { rate });
                    }
                }
            }
            Control::SetScenarioConcurrency(i, c) if c > 0 => {
                if let Some(l) = self.loads.get_mut(i) {
                    if matches!(l.plan.shape, LoadShape::ClosedLoop { .. }) {
                        l.manual = Some(LoadShape::ClosedLoop { concurrency: c });
                    }
                }
            }
            _ => {}
        }
    }

    /// Flow steps that iterations skipped (nothing at their pointer, and
    /// `if_missing = "skip"`): the step's op, its pointer, how many times.
    pub fn skips(&self) -> Vec<(usize, String, u64)> {
        self.loads
            .iter()
            .filter_map(|l| l.flow.as_ref())
            .flat_map(|f| f.skips())
            .collect()
    }

    /// How each scenario stands now, in file order.
    pub fn statuses(&self) -> Vec<ScenarioStatus> {
        self.loads.iter().map(ScenarioLoad::status).collect()
    }
}

impl ScenarioLoad {
    fn status(&self) -> ScenarioStatus {
        let sends = self.counters.measured_sends.load(Ordering::Relaxed);
        let in_flight = self.counters.in_flight.load(Ordering::Relaxed);
        let (rate, concurrency) = match self.plan.shape {
            LoadShape::OpenLoop { rate } => (Some(rate), None),
            LoadShape::ClosedLoop { concurrency } => (None, Some(concurrency)),
        };
        let churn = self.scenario.session_op.is_some();
        // Each session holds `pipeline` requests at most: past that, more
        // concurrency asked is not more in flight.
        let cap = u64::from(self.sessions) * u64::from(self.scenario.pipeline);
        ScenarioStatus {
            rate,
            concurrency,
            cap: concurrency
                .filter(|&c| !churn && u64::from(c) > cap)
                .map(|_| cap),
            in_flight,
            // A churning scenario holds one session per iteration in flight.
            sessions: if churn {
                in_flight as u32
            } else {
                self.sessions
            },
            active: !self.plan.paused && !self.plan.stop,
            planned_total: match rate {
                Some(_) => self.asked.total.round() as u64,
                None => sends,
            },
            sent_total: sends,
            backpressure_total: self.counters.backpressure_waits.load(Ordering::Relaxed),
        }
    }
}
