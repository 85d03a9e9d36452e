//! The engine: connects the sessions, runs the scheduler through warm-up,
//! stages and controls, feeds samples to the recorder, publishes a snapshot
//! every tick, and ends with the run's metrics however it stops (time up,
//! request count, `q`, a stop signal, a target that died).

pub mod mix;
pub mod scheduler;
pub mod stop;

use crate::metrics::sampler::ResourceMonitor;
use crate::metrics::snapshot::{LoadNow, Phase, ProtocolCounters};
use crate::metrics::{EngineStatus, Recorder, RunMetrics, Sample, Snapshot};
use crate::protocol::Era;
use crate::transport::{Connected, Connector, TargetError, TargetEvent};
use crate::workload::{LoadShape, Workload};
use futures_util::stream::{self, StreamExt, TryStreamExt};
use scheduler::{LoadCounters, Plan, PreparedOp, Scheduler, SchedulerEnd, SessionSlot};
use serde::{Deserialize, Serialize};
use std::sync::atomic::{AtomicU32, Ordering};
use std::sync::Arc;
use std::time::Duration;
use stop::{StopSignal, StopToken};
use tokio::sync::{mpsc, watch};
use tokio::time::{sleep_until, Instant};

/// What a view may ask of a running engine.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum Control {
    Pause,
    Resume,
    Stop,
    /// Open loop: new asked rate (overrides stages for the rest of the run).
    SetRate(f64),
    /// Closed loop: new concurrency (overrides stages for the rest of the run).
    SetConcurrency(u32),
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case", tag = "reason")]
pub enum StopReason {
    /// The planned duration or stages ran out.
    Completed,
    RequestLimit,
    /// Stopped from the live screen (`q`).
    Interrupted,
    /// Stopped by a signal (SIGINT, SIGTERM, SIGHUP).
    Signal {
        signal: StopSignal,
    },
    TargetExited {
        session: u32,
        status: String,
        stderr_tail: String,
        after_s: f64,
    },
    AllSessionsClosed,
}

#[derive(Debug, thiserror::Error)]
pub enum EngineError {
    #[error("cannot connect to the target: {0}")]
    Connect(#[from] TargetError),
    #[error("stopped by {} while connecting; nothing was measured", .0.name())]
    Stopped(StopSignal),
    #[error("batch: JSON-RPC batches exist only in protocol {batches}, but the server chose {chosen}; set protocol = \"{batches}\" or remove batch", batches = Era::BATCHES)]
    BatchEra { chosen: Era },
}

/// What the run learnt about the target at connect time.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct TargetInfo {
    pub server_name: String,
    pub protocol_version: String,
    /// Server processes (for the builtin target, mcptop's own).
    pub pids: Vec<u32>,
}

pub struct RunOutcome {
    pub metrics: RunMetrics,
    pub stopped_by: StopReason,
    pub target: TargetInfo,
    /// Requests still unanswered when the drain ended.
    pub unfinished: u64,
}

pub struct RunSetup<'a> {
    pub workload: &'a Workload,
    pub connector: &'a dyn Connector,
    pub target_events: mpsc::UnboundedReceiver<TargetEvent>,
    pub controls: mpsc::UnboundedReceiver<Control>,
    pub snapshots: watch::Sender<Snapshot>,
    pub tick: Duration,
    /// Observed in every phase; the process's own in real runs.
    pub stop: StopToken,
    /// Samples processes and allocations, when they are measured: told of
    /// every session as it connects, and completing every snapshot.
    pub resources: Option<ResourceMonitor>,
}

/// Sessions opened at once while connecting.
const CONNECT_PARALLELISM: usize = 32;
/// Longest wait for in-flight requests after a stop.
const MAX_DRAIN: Duration = Duration::from_secs(5);
const DRAIN_GRACE: Duration = Duration::from_millis(250);
const INTERRUPTED_DRAIN: Duration = Duration::from_secs(1);
/// How long to wait for a dead child's exit status once its pipes closed.
const EXIT_STATUS_GRACE: Duration = Duration::from_millis(500);

/// Asked sends: the integral of the asked rate over measured, unpaused time.
struct AskedMeter {
    /// Asked sends count from here (the end of warm-up).
    measure_start: Instant,
    since: Instant,
    rate: Option<f64>,
    total: f64,
}

impl AskedMeter {
    fn advance(&mut self, now: Instant, measuring: bool, paused: bool) {
        if measuring && !paused {
            if let Some(rate) = self.rate {
                let from = self.since.max(self.measure_start);
                self.total += rate * now.saturating_duration_since(from).as_secs_f64();
            }
        }
        self.since = now;
    }
}

pub async fn run(setup: RunSetup<'_>) -> Result<RunOutcome, EngineError> {
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
            sessions: workload.sessions,
            ..LoadNow::default()
        },
        ..Snapshot::default()
    });
    let connected = tokio::select! {
        biased;
        signal = stop.stopped() => return Err(EngineError::Stopped(signal)),
        connected = connect_all(connector, workload.sessions, resources.as_ref()) => connected?,
    };
    if workload.batch > 1 {
        if let Some(c) = connected.iter().find(|c| !c.era.has_batches()) {
            return Err(EngineError::BatchEra { chosen: c.era });
        }
    }
    let target = TargetInfo {
        server_name: connected
            .first()
            .map(|c| c.server_name.clone())
            .unwrap_or_default(),
        protocol_version: connected
            .first()
            .map(|c| c.era.to_string())
            .unwrap_or_default(),
        pids: {
            let mut pids: Vec<u32> = connected.iter().filter_map(|c| c.pid).collect();
            pids.dedup();
            pids
        },
    };
    let session_counters: Vec<_> = connected
        .iter()
        .filter_map(|c| c.session.counters())
        .collect();
    let slots: Arc<[SessionSlot]> = connected
        .iter()
        .map(|c| SessionSlot {
            session: c.session.clone(),
            in_flight: AtomicU32::new(0),
        })
        .collect();
    let ops: Arc<[PreparedOp]> = workload
        .ops
        .iter()
        .map(|o| PreparedOp {
            request: crate::protocol::jsonrpc::PreparedRequest::new(
                o.method.wire_name(),
                &o.method.params(),
            ),
            timeout: o.timeout,
        })
        .collect();
    let labels: Vec<String> = workload.ops.iter().map(|o| o.label.clone()).collect();
    let weights: Vec<u32> = workload.ops.iter().map(|o| o.weight).collect();

    let t0 = Instant::now();
    let measure_start = t0 + workload.warmup;
    let mut recorder = Recorder::new(&labels, measure_start, workload.planned_duration())
        .with_resources(resources);
    let counters = Arc::new(LoadCounters::default());
    let (sample_tx, mut sample_rx) = mpsc::unbounded_channel();
    let mut plan = Plan {
        shape: workload.initial_shape(),
        paused: false,
        stop: false,
    };
    let (plan_tx, plan_rx) = watch::channel(plan);
    let scheduler = Scheduler {
        sessions: slots.clone(),
        ops,
        mix: mix::Mix::new(&weights),
        pipeline: workload.pipeline,
        batch: workload.batch,
        measure_start,
        request_limit: workload.requests,
        counters: counters.clone(),
        samples: sample_tx,
        plan: plan_rx,
    };
    let mut scheduler_task = tokio::spawn(scheduler.run());

    let mut deadline = workload.planned_duration().map(|d| measure_start + d);
    let mut manual_shape: Option<LoadShape> = None;
    let mut paused_since: Option<Instant> = None;
    let mut paused_total = Duration::ZERO;
    let mut asked = AskedMeter {
        measure_start,
        since: t0,
        rate: None,
        total: 0.0,
    };
    let mut ticker = tokio::time::interval_at(t0 + tick, tick);
    ticker.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    let mut stopped_by: Option<StopReason> = None;
    // Views see measuring begin the moment it does, not at the next tick,
    // which a short run may never reach: `profile` starts its capture there
    // and the resource monitor starts counting allocations per request.
    let mut announced_measuring = false;
    let stopped = stop.stopped();
    tokio::pin!(stopped);

    let status = |plan: &Plan, asked: &AskedMeter, phase: Phase, paused: Duration| EngineStatus {
        phase,
        load: load_now(plan, &counters, workload.sessions),
        planned_total: if matches!(plan.shape, LoadShape::OpenLoop { .. }) {
            asked.total.round() as u64
        } else {
            counters.measured_sends.load(Ordering::Relaxed)
        },
        sent_total: counters.measured_sends.load(Ordering::Relaxed),
        backpressure_total: counters.backpressure_waits.load(Ordering::Relaxed),
        paused,
        protocol: protocol_counters(&session_counters),
    };

    while stopped_by.is_none() {
        let now = Instant::now();
        let measuring = now >= measure_start;
        let phase = if measuring {
            Phase::Measuring
        } else {
            Phase::Warmup
        };
        if measuring && !announced_measuring {
            announced_measuring = true;
            let _ = snapshots.send(
                recorder.snapshot(now, status(&plan, &asked, Phase::Measuring, paused_total)),
            );
        }
        // The shape in force now: a manual override, else the stage schedule.
        let paused_offset = paused_total + paused_since.map(|p| now - p).unwrap_or_default();
        let measured_elapsed = now
            .saturating_duration_since(measure_start)
            .saturating_sub(paused_offset);
        let shape = manual_shape.unwrap_or_else(|| {
            if measuring {
                workload.shape_at(measured_elapsed)
            } else {
                workload.initial_shape()
            }
        });
        if shape != plan.shape {
            asked.advance(now, measuring, plan.paused);
            plan.shape = shape;
            let _ = plan_tx.send(plan);
        }
        asked.rate = match plan.shape {
            LoadShape::OpenLoop { rate } => Some(rate),
            LoadShape::ClosedLoop { .. } => None,
        };
        let next_wake = if plan.paused {
            now + Duration::from_secs(3600)
        } else {
            next_boundary(workload, now, measure_start, paused_offset, deadline)
        };
        tokio::select! {
            Some(sample) = sample_rx.recv() => {
                recorder.record(&sample);
                // Drain what else is queued without another trip through select.
                for _ in 0..1024 {
                    match sample_rx.try_recv() {
                        Ok(s) => recorder.record(&s),
                        Err(_) => break,
                    }
                }
            }
            _ = ticker.tick() => {
                let now = Instant::now();
                asked.advance(now, now >= measure_start, plan.paused);
                let snap = recorder.tick(now, status(&plan, &asked, phase, paused_total));
                let _ = snapshots.send(snap);
            }
            _ = sleep_until(next_wake) => {
                if deadline.is_some_and(|d| Instant::now() >= d) && !plan.paused {
                    stopped_by = Some(StopReason::Completed);
                }
            }
            // A closed control channel only means nobody steers this run.
            Some(control) = controls.recv() => {
                let now = Instant::now();
                asked.advance(now, now >= measure_start, plan.paused);
                match Some(control) {
                    None | Some(Control::Stop) => stopped_by = Some(StopReason::Interrupted),
                    Some(Control::Pause) if !plan.paused => {
                        plan.paused = true;
                        paused_since = Some(now);
                        let _ = plan_tx.send(plan);
                    }
                    Some(Control::Resume) if plan.paused => {
                        plan.paused = false;
                        if let Some(since) = paused_since.take() {
                            let gap = now - since;
                            paused_total += gap;
                            deadline = deadline.map(|d| d + gap);
                        }
                        let _ = plan_tx.send(plan);
                    }
                    Some(Control::SetRate(rate)) if rate > 0.0 && rate.is_finite() => {
                        if matches!(plan.shape, LoadShape::OpenLoop { .. }) {
                            manual_shape = Some(LoadShape::OpenLoop { rate });
                        }
                    }
                    Some(Control::SetConcurrency(c)) if c > 0 => {
                        if matches!(plan.shape, LoadShape::ClosedLoop { .. }) {
                            manual_shape = Some(LoadShape::ClosedLoop { concurrency: c });
                        }
                    }
                    Some(_) => {}
                }
            }
            signal = &mut stopped => stopped_by = Some(StopReason::Signal { signal }),
            Some(event) = target_events.recv() => {
                let TargetEvent::Exited { session, status, stderr_tail } = event;
                let after_s = Instant::now().saturating_duration_since(t0).as_secs_f64();
                recorder.warn(format!("target session {session} {status} after {after_s:.1}s"));
                stopped_by = Some(StopReason::TargetExited { session, status, stderr_tail, after_s });
            }
            end = &mut scheduler_task => {
                stopped_by = Some(match end {
                    Ok(SchedulerEnd::RequestLimit) => StopReason::RequestLimit,
                    Ok(SchedulerEnd::AllSessionsClosed) => {
                        // A child that died closes its pipes before its exit
                        // status is known: give the status a moment to arrive.
                        match tokio::time::timeout(EXIT_STATUS_GRACE, target_events.recv()).await {
                            Ok(Some(TargetEvent::Exited { session, status, stderr_tail })) => {
                                let after_s = Instant::now().saturating_duration_since(t0).as_secs_f64();
                                recorder.warn(format!("target session {session} {status} after {after_s:.1}s"));
                                StopReason::TargetExited { session, status, stderr_tail, after_s }
                            }
                            _ => {
                                recorder.warn("every session was closed by the target".into());
                                StopReason::AllSessionsClosed
                            }
                        }
                    }
                    _ => StopReason::Interrupted,
                });
            }
        }
    }

    // Stop sending, then wait for what is in flight (bounded).
    let stop_at = Instant::now();
    asked.advance(stop_at, stop_at >= measure_start, plan.paused);
    plan.stop = true;
    let _ = plan_tx.send(plan);
    recorder.stop(stop_at);
    let max_timeout = workload
        .ops
        .iter()
        .map(|o| o.timeout)
        .max()
        .unwrap_or(MAX_DRAIN);
    let drain_for = match stopped_by {
        // A little past the longest timeout, so a request that times out is counted as one.
        Some(StopReason::Completed | StopReason::RequestLimit) => {
            (max_timeout + DRAIN_GRACE).min(MAX_DRAIN)
        }
        _ => INTERRUPTED_DRAIN,
    };
    let _ = snapshots.send(recorder.snapshot(
        stop_at,
        status(&plan, &asked, Phase::Draining, paused_total),
    ));
    let already = matches!(stopped_by, Some(StopReason::Signal { .. }));
    if let Some(signal) = drain(
        &mut sample_rx,
        &mut recorder,
        &counters,
        stop_at + drain_for,
        (!already).then_some(&stop),
    )
    .await
    {
        // The run ended, but a signal cut its drain short: say so.
        stopped_by = Some(StopReason::Signal { signal });
    }
    if !scheduler_task.is_finished() {
        scheduler_task.abort();
    }
    let final_status = status(&plan, &asked, Phase::Done, paused_total);
    let unfinished = counters.in_flight.load(Ordering::Relaxed);
    let metrics = recorder.finish(stop_at, final_status);
    let last = snapshots.borrow().clone();
    let _ = snapshots.send(Snapshot {
        phase: Phase::Done,
        ..last
    });
    drop(slots);
    drop(connected);
    Ok(RunOutcome {
        metrics,
        stopped_by: stopped_by.unwrap_or(StopReason::Interrupted),
        target,
        unfinished,
    })
}

fn load_now(plan: &Plan, counters: &LoadCounters, sessions: u32) -> LoadNow {
    let (rate, concurrency) = match plan.shape {
        LoadShape::OpenLoop { rate } => (Some(rate), None),
        LoadShape::ClosedLoop { concurrency } => (None, Some(concurrency)),
    };
    LoadNow {
        rate,
        concurrency,
        in_flight: counters.in_flight.load(Ordering::Relaxed),
        sessions,
        paused: plan.paused,
    }
}

fn protocol_counters(all: &[Arc<crate::client::SessionCounters>]) -> ProtocolCounters {
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

/// Opens every session, `CONNECT_PARALLELISM` at a time. The first failure
/// ends it: the sessions still connecting are dropped (their children
/// killed) rather than each waiting out its own timeout.
async fn connect_all(
    connector: &dyn Connector,
    sessions: u32,
    resources: Option<&ResourceMonitor>,
) -> Result<Vec<Connected>, TargetError> {
    stream::iter(0..sessions)
        .map(|i| async move {
            let connected = connector.connect(i).await?;
            // The cost of one session: its process and mcptop's RSS now.
            if let Some(monitor) = resources {
                monitor.session_connected(connected.pid);
            }
            Ok(connected)
        })
        .buffered(CONNECT_PARALLELISM)
        .try_collect()
        .await
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
async fn drain(
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

#[cfg(test)]
mod tests;
