//! The phases of one run, in order: connect every session (`connect`),
//! drive the load through warm-up, stages and controls until something
//! stops it (`Driver`), then stop sending and drain what is in flight
//! (`drain`). `run` strings them together.

use super::churn::{self, Opener};
use super::connect::connect;
use super::meter::AskedMeter;
use super::scenarios::{self, RunClock, Scenarios};
use super::scheduler::{LoadCounters, Plan, PreparedOp, Scheduler, SchedulerEnd, SessionSlot};
use super::stop::{StopSignal, StopToken};
use super::{mix, Control, EngineError, RunOutcome, RunSetup, StopReason};
use crate::client::SessionCounters;
use crate::metrics::sampler::ResourceMonitor;
use crate::metrics::snapshot::{LoadNow, Phase, ProtocolCounters};
use crate::metrics::{EngineStatus, Recorder, Sample, Snapshot};
use crate::transport::{Connected, TargetEvent};
use crate::workload::{LoadShape, Workload};
use futures_util::future::Either;
use std::sync::atomic::{AtomicU32, Ordering};
use std::sync::Arc;
use std::time::Duration;
use tokio::sync::{mpsc, watch};
use tokio::time::{sleep_until, Instant};

/// Longest wait for in-flight requests after a stop.
const MAX_DRAIN: Duration = Duration::from_secs(5);
const DRAIN_GRACE: Duration = Duration::from_millis(250);
const INTERRUPTED_DRAIN: Duration = Duration::from_secs(1);
/// How often the run collects the samples replies left in its queue: often
/// enough to be live, rare enough that one wake-up serves many replies.
const SAMPLE_DRAIN: Duration = Duration::from_millis(5);
/// How long to wait for a dead child's exit status once its pipes closed.
const EXIT_STATUS_GRACE: Duration = Duration::from_millis(500);

/// Runs the workload: connects, drives the load until it is stopped, then
/// drains. Every phase observes the stop token.
pub async fn run(setup: RunSetup<'_>) -> Result<RunOutcome, EngineError> {
    let (opener, serve) = churn::service(setup.connector, setup.workload.sessions_to_open());
    let (body, serve) = (
        std::pin::pin!(run_opening(setup, opener)),
        std::pin::pin!(serve),
    );
    match futures_util::future::select(body, serve).await {
        Either::Left((outcome, _)) => outcome,
        Either::Right(((), body)) => body.await,
    }
}

/// The run, with `opener` for scenarios that open a session per iteration.
async fn run_opening(setup: RunSetup<'_>, opener: Opener) -> Result<RunOutcome, EngineError> {
    let RunSetup {
        workload,
        connector,
        mut target_events,
        mut controls,
        snapshots,
        tick,
        stop,
        resources,
    } = setup;
    let _ = snapshots.send(Snapshot {
        phase: Phase::Connecting,
        planned: workload.planned_duration(),
        load: LoadNow {
            sessions: workload.sessions_to_open(),
            ..LoadNow::default()
        },
        ..Snapshot::default()
    });
    let (connected, target) = connect(workload, connector, &stop, resources.as_ref()).await?;
    let (connected, mut chaos, t0) = super::faults::arm(workload, connected, &opener, &resources);
    let opener = chaos.churn_opener(opener);
    let slots: Arc<[SessionSlot]> = connected
        .iter()
        .map(|c| SessionSlot {
            session: c.session.clone(),
            in_flight: AtomicU32::new(0),
        })
        .collect();
    let mut driver = Driver::new(workload, &connected, (slots.clone(), opener), t0, resources);
    chaos.start(driver.plan_tx.subscribe());
    chaos.watch_from(&mut driver.recorder);
    let stopped_by = driver
        .drive(&mut target_events, &mut controls, &snapshots, tick, &stop)
        .await;
    let (metrics, stopped_by, unfinished) = driver.finish(stopped_by, &snapshots, &stop).await;
    let last = snapshots.borrow().clone();
    let _ = snapshots.send(Snapshot {
        phase: Phase::Done,
        ..last
    });
    drop((slots, connected));
    Ok(RunOutcome {
        metrics: chaos.finish(metrics, unfinished),
        stopped_by,
        target,
        unfinished,
    })
}

/// The load while it runs: the scheduler's plan and what steers it (stages,
/// controls, pauses), the recorder, and the asked-send meter.
struct Driver<'a> {
    workload: &'a Workload,
    t0: Instant,
    measure_start: Instant,
    recorder: Recorder,
    counters: Arc<LoadCounters>,
    session_counters: Vec<Arc<SessionCounters>>,
    samples: mpsc::UnboundedReceiver<Sample>,
    scheduler: tokio::task::JoinHandle<SchedulerEnd>,
    /// With `[[scenarios]]`: each one's plan, steered beside the run's.
    scenarios: Scenarios,
    plan: Plan,
    plan_tx: watch::Sender<Plan>,
    deadline: Option<Instant>,
    manual_shape: Option<LoadShape>,
    paused_since: Option<Instant>,
    paused_total: Duration,
    asked: AskedMeter,
}

impl<'a> Driver<'a> {
    /// Starts the scheduler over `slots`; warm-up runs from `t0`.
    fn new(
        workload: &'a Workload,
        connected: &[Connected],
        (slots, opener): (Arc<[SessionSlot]>, Opener),
        t0: Instant,
        resources: Option<ResourceMonitor>,
    ) -> Driver<'a> {
        // Every session talks to the same server, in the same protocol.
        let era = connected.first().map(|c| c.era);
        let has_ping = era.is_none_or(|e| e.has_ping());
        let ops = PreparedOp::all(&workload.ops, has_ping);
        let labels: Vec<String> = workload.ops.iter().map(|o| o.label.clone()).collect();
        let weights: Vec<u32> = workload.ops.iter().map(|o| o.weight).collect();
        let measure_start = t0 + workload.warmup;
        let recorder = Recorder::new(&labels, measure_start, workload.planned_duration())
            .with_resources(resources)
            .with_warmup(workload.warmup)
            .with_cpu(own_cpu_meter(connected))
            .with_scenarios(scenarios::groups(workload))
            .with_iterations(&workload.iterations())
            .with_fallbacks(&workload.fallbacks(has_ping), era);
        let counters = Arc::new(LoadCounters::default());
        let (sample_tx, samples) = mpsc::unbounded_channel();
        let plan = Plan {
            shape: workload.initial_shape(),
            paused: false,
            stop: false,
        };
        let (plan_tx, plan_rx) = watch::channel(plan);
        let scheduler = Scheduler {
            sessions: slots,
            ops,
            mix: mix::Mix::new(&weights),
            pipeline: workload.pipeline,
            batch: workload.batch,
            measure_start,
            request_limit: workload.requests,
            counters: counters.clone(),
            samples: sample_tx,
            plan: plan_rx,
            scenario: None,
            flow: None,
            churn: None,
        };
        let (scheduler, scenarios) = scenarios::start(workload, connected, scheduler, opener);
        Driver {
            workload,
            t0,
            measure_start,
            recorder,
            counters,
            session_counters: connected
                .iter()
                .filter_map(|c| c.session.counters())
                .collect(),
            samples,
            scheduler,
            scenarios,
            plan,
            plan_tx,
            deadline: workload.planned_duration().map(|d| measure_start + d),
            manual_shape: None,
            paused_since: None,
            paused_total: Duration::ZERO,
            asked: AskedMeter {
                measure_start,
                since: t0,
                rate: None,
                total: 0.0,
            },
        }
    }

    fn status(&self, phase: Phase) -> EngineStatus {
        let sends = self.counters.measured_sends.load(Ordering::Relaxed);
        let scenarios = self.scenarios.statuses();
        EngineStatus {
            phase,
            load: load_now(&self.plan, &self.counters, self.workload),
            planned_total: if !scenarios.is_empty() {
                // The run has no shape of its own: what its scenarios asked.
                scenarios.iter().map(|s| s.planned_total).sum()
            } else if matches!(self.plan.shape, LoadShape::OpenLoop { .. }) {
                self.asked.total.round() as u64
            } else {
                sends
            },
            sent_total: sends,
            backpressure_total: self.counters.backpressure_waits.load(Ordering::Relaxed),
            paused: self.paused_total,
            protocol: protocol_counters(&self.session_counters),
            scenarios,
        }
    }

    fn advance_asked(&mut self, now: Instant) {
        let measuring = now >= self.measure_start;
        self.asked.advance(now, measuring, self.plan.paused);
        self.scenarios.advance_asked(now, measuring);
    }

    /// Time spent paused up to `now`.
    fn paused_offset(&self, now: Instant) -> Duration {
        self.paused_total + self.paused_since.map(|p| now - p).unwrap_or_default()
    }

    /// Where the run is in its measured time at `now`.
    fn clock(&self, now: Instant) -> RunClock {
        match now.checked_duration_since(self.measure_start) {
            Some(d) => RunClock::Measured(d.saturating_sub(self.paused_offset(now))),
            None => RunClock::Warmup,
        }
    }

    /// Puts the shape in force now (a manual override, else the stage
    /// schedule) into the plan; returns when it may next change.
    fn steer(&mut self, now: Instant) -> Instant {
        let measuring = now >= self.measure_start;
        let paused_offset = self.paused_offset(now);
        let measured_elapsed = now
            .saturating_duration_since(self.measure_start)
            .saturating_sub(paused_offset);
        let shape = self.manual_shape.unwrap_or_else(|| {
            if measuring {
                self.workload.shape_at(measured_elapsed)
            } else {
                self.workload.initial_shape()
            }
        });
        if shape != self.plan.shape {
            self.asked.advance(now, measuring, self.plan.paused);
            self.plan.shape = shape;
            let _ = self.plan_tx.send(self.plan);
        }
        self.asked.rate = match self.plan.shape {
            LoadShape::OpenLoop { rate } => Some(rate),
            LoadShape::ClosedLoop { .. } => None,
        };
        let scenario_change = self.scenarios.steer(self.plan, self.clock(now), now);
        let next = if self.plan.paused {
            now + Duration::from_secs(3600)
        } else {
            next_boundary(
                self.workload,
                now,
                self.measure_start,
                paused_offset,
                self.deadline,
            )
        };
        scenario_change.map_or(next, |t| t.min(next))
    }

    /// Runs the load until something stops it: time up, the request
    /// count, a control, a signal, the target.
    async fn drive(
        &mut self,
        target_events: &mut mpsc::UnboundedReceiver<TargetEvent>,
        controls: &mut mpsc::UnboundedReceiver<Control>,
        snapshots: &watch::Sender<Snapshot>,
        tick: Duration,
        stop: &StopToken,
    ) -> StopReason {
        let mut ticker = tokio::time::interval_at(self.t0 + tick, tick);
        ticker.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        // Samples are collected every SAMPLE_DRAIN, not as each arrives:
        // waking this task per reply cost a thread wake-up per request.
        let mut collect = tokio::time::interval(SAMPLE_DRAIN);
        collect.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        // Views see measuring begin the moment it does, not at the next tick,
        // which a short run may never reach: `profile` starts its capture there
        // and the resource monitor starts counting allocations per request.
        let mut announced_measuring = false;
        let stopped = stop.stopped();
        tokio::pin!(stopped);
        loop {
            let now = Instant::now();
            let measuring = now >= self.measure_start;
            let phase = if measuring {
                Phase::Measuring
            } else {
                Phase::Warmup
            };
            if measuring && !announced_measuring {
                announced_measuring = true;
                let _ = snapshots.send(self.recorder.snapshot(now, self.status(Phase::Measuring)));
            }
            let next_wake = self.steer(now);
            let stopped_by = tokio::select! {
                _ = collect.tick() => {
                    self.record_queued();
                    None
                }
                _ = ticker.tick() => {
                    // Every reply that came before the interval ends is in it.
                    self.record_queued();
                    let now = Instant::now();
                    self.advance_asked(now);
                    let _ = snapshots.send(self.recorder.tick(now, self.status(phase)));
                    None
                }
                _ = sleep_until(next_wake) => {
                    (self.deadline.is_some_and(|d| Instant::now() >= d) && !self.plan.paused)
                        .then_some(StopReason::Completed)
                }
                // A closed control channel only means nobody steers this run.
                Some(control) = controls.recv() => self.control(control),
                signal = &mut stopped => Some(StopReason::Signal { signal }),
                Some(event) = target_events.recv(), if !self.workload.chaos.expects_failures() =>
                    Some(self.target_exited(event)),
                end = &mut self.scheduler => Some(self.scheduler_ended(end, target_events).await),
            };
            if let Some(reason) = stopped_by {
                return reason;
            }
        }
    }

    /// Records every sample queued now.
    fn record_queued(&mut self) {
        while let Ok(sample) = self.samples.try_recv() {
            self.recorder.record(&sample);
        }
    }

    /// Applies a view's control; `Some` when it stops the run.
    fn control(&mut self, control: Control) -> Option<StopReason> {
        let now = Instant::now();
        self.advance_asked(now);
        match control {
            Control::Stop => return Some(StopReason::Interrupted),
            Control::Pause if !self.plan.paused => {
                self.plan.paused = true;
                self.paused_since = Some(now);
                let _ = self.plan_tx.send(self.plan);
            }
            Control::Resume if self.plan.paused => {
                self.plan.paused = false;
                if let Some(since) = self.paused_since.take() {
                    let gap = now - since;
                    self.paused_total += gap;
                    self.deadline = self.deadline.map(|d| d + gap);
                }
                let _ = self.plan_tx.send(self.plan);
            }
            Control::SetRate(rate) if rate > 0.0 && rate.is_finite() => {
                if matches!(self.plan.shape, LoadShape::OpenLoop { .. }) {
                    self.manual_shape = Some(LoadShape::OpenLoop { rate });
                }
            }
            Control::SetConcurrency(c) if c > 0 => {
                if matches!(self.plan.shape, LoadShape::ClosedLoop { .. }) {
                    self.manual_shape = Some(LoadShape::ClosedLoop { concurrency: c });
                }
            }
            Control::SetScenarioRate(..) | Control::SetScenarioConcurrency(..) => {
                self.scenarios.control(control);
            }
            _ => {}
        }
        None
    }

    fn target_exited(&mut self, event: TargetEvent) -> StopReason {
        let TargetEvent::Exited {
            session,
            status,
            stderr_tail,
        } = event;
        let after_s = Instant::now()
            .saturating_duration_since(self.t0)
            .as_secs_f64();
        self.recorder.warn(format!(
            "target session {session} {status} after {after_s:.1}s"
        ));
        StopReason::TargetExited {
            session,
            status,
            stderr_tail,
            after_s,
        }
    }

    async fn scheduler_ended(
        &mut self,
        end: Result<SchedulerEnd, tokio::task::JoinError>,
        target_events: &mut mpsc::UnboundedReceiver<TargetEvent>,
    ) -> StopReason {
        match end {
            Ok(SchedulerEnd::RequestLimit) => StopReason::RequestLimit,
            Ok(SchedulerEnd::AllSessionsClosed) => {
                // A child that died closes its pipes before its exit
                // status is known: give the status a moment to arrive.
                match tokio::time::timeout(EXIT_STATUS_GRACE, target_events.recv()).await {
                    Ok(Some(event)) => self.target_exited(event),
                    _ => {
                        self.recorder
                            .warn("every session was closed by the target".into());
                        StopReason::AllSessionsClosed
                    }
                }
            }
            _ => StopReason::Interrupted,
        }
    }

    /// Stops sending, then waits for what is in flight (bounded); returns
    /// the run's metrics, why it stopped (a signal during the drain says
    /// so) and the requests left unanswered.
    async fn finish(
        mut self,
        mut stopped_by: StopReason,
        snapshots: &watch::Sender<Snapshot>,
        stop: &StopToken,
    ) -> (crate::metrics::RunMetrics, StopReason, u64) {
        let stop_at = Instant::now();
        self.advance_asked(stop_at);
        self.plan.stop = true;
        let _ = self.plan_tx.send(self.plan);
        self.scenarios
            .steer(self.plan, self.clock(stop_at), stop_at);
        self.recorder.stop(stop_at);
        let max_timeout = self
            .workload
            .ops
            .iter()
            .map(|o| o.timeout)
            .max()
            .unwrap_or(MAX_DRAIN);
        let drain_for = match stopped_by {
            // A little past the longest timeout, so a request that times out is counted as one.
            StopReason::Completed | StopReason::RequestLimit => {
                (max_timeout + DRAIN_GRACE).min(MAX_DRAIN)
            }
            _ => INTERRUPTED_DRAIN,
        };
        let _ = snapshots.send(
            self.recorder
                .snapshot(stop_at, self.status(Phase::Draining)),
        );
        let already = matches!(stopped_by, StopReason::Signal { .. });
        if let Some(signal) = drain(
            &mut self.samples,
            &mut self.recorder,
            &self.counters,
            stop_at + drain_for,
            (!already).then_some(stop),
        )
        .await
        {
            // The run ended, but a signal cut its drain short: say so.
            stopped_by = StopReason::Signal { signal };
        }
        if !self.scheduler.is_finished() {
            self.scheduler.abort();
        }
        for (op, pointer, n) in self.scenarios.skips() {
            let label = self.workload.ops.get(op).map_or("", |o| o.label.as_str());
            self.recorder.warn(format!(
                "{label}: skipped in {n} iteration(s): nothing at {pointer} (if_missing = \"skip\")"
            ));
        }
        let final_status = self.status(Phase::Done);
        let unfinished = self.counters.in_flight.load(Ordering::Relaxed);
        let metrics = self.recorder.finish(stop_at, final_status);
        (metrics, stopped_by, unfinished)
    }
}

fn load_now(plan: &Plan, counters: &LoadCounters, workload: &Workload) -> LoadNow {
    let (rate, concurrency) = match plan.shape {
        _ if !workload.scenarios.is_empty() => (None, None),
        LoadShape::OpenLoop { rate } => (Some(rate), None),
        LoadShape::ClosedLoop { concurrency } => (None, Some(concurrency)),
    };
    let sessions = workload.sessions_to_open();
    LoadNow {
        rate,
        concurrency,
        in_flight: counters.in_flight.load(Ordering::Relaxed),
        sessions,
        paused: plan.paused,
        scenarios: workload.scenarios.len() as u32,
        cap: concurrency.map(|_| workload.in_flight_cap()),
    }
}

fn protocol_counters(all: &[Arc<SessionCounters>]) -> ProtocolCounters {
    let mut p = ProtocolCounters::default();
    for c in all {
        p.notifications += c.notifications.load(Ordering::Relaxed);
        p.server_requests += c.server_requests.load(Ordering::Relaxed);
        p.violations += c.violations.load(Ordering::Relaxed);
    }
    p
}

/// The next instant the shape may change or the run may end.
fn next_boundary(
    workload: &Workload,
    now: Instant,
    measure_start: Instant,
    paused_offset: Duration,
    deadline: Option<Instant>,
) -> Instant {
    let far = now + Duration::from_secs(3600);
    if now < measure_start {
        return measure_start;
    }
    let mut end = measure_start + paused_offset;
    for stage in &workload.stages {
        end += stage.duration;
        if end > now {
            return deadline.map_or(end, |d| d.min(end));
        }
    }
    deadline.map_or(far, |d| if d > now { d } else { now })
}

/// Waits for the requests still in flight after a stop, recording their
/// samples, until none is left, `deadline` passes, or `stop` (when given)
/// fires, which leaves at most `INTERRUPTED_DRAIN` more. Returns that signal.
///
/// A request task sends its sample and then gives its slot back, so the
/// last sample can arrive while the task still counts as in flight. The
/// drain then waits for the sample channel to close, which it does as soon
/// as the scheduler and every request task have dropped their senders: the
/// last reply ends the drain, not the deadline.
pub(super) async fn drain(
    samples: &mut mpsc::UnboundedReceiver<Sample>,
    recorder: &mut Recorder,
    counters: &LoadCounters,
    deadline: Instant,
    stop: Option<&StopToken>,
) -> Option<StopSignal> {
    let mut deadline = deadline;
    let mut signalled = None;
    let stop_wait = async {
        match stop {
            Some(stop) => stop.stopped().await,
            None => std::future::pending().await,
        }
    };
    tokio::pin!(stop_wait);
    while counters.in_flight.load(Ordering::Relaxed) > 0 {
        tokio::select! {
            sample = samples.recv() => match sample {
                Some(sample) => recorder.record(&sample),
                None => break,
            },
            _ = sleep_until(deadline) => break,
            signal = &mut stop_wait, if signalled.is_none() => {
                signalled = Some(signal);
                deadline = deadline.min(Instant::now() + INTERRUPTED_DRAIN);
            }
        }
    }
    while let Ok(sample) = samples.try_recv() {
        recorder.record(&sample);
    }
    signalled
}

/// mcptop's CPU per request, read from its own clock; the builtin target
/// (a session whose server is mcptop's own process) shares that CPU.
fn own_cpu_meter(connected: &[Connected]) -> crate::metrics::generator_cpu::CpuMeter {
    use crate::metrics::generator_cpu::{own_cpu_clock, CpuMeter};
    let inside = connected.iter().any(|c| c.pid == Some(std::process::id()));
    CpuMeter::new(
        own_cpu_clock(),
        CpuMeter::runtime_cores(),
        inside,
        crate::metrics::recorder::HISTORY_LEN,
    )
}
