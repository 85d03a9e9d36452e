//! The one scheduler. Every load shape runs through the same loop: wait for
//! the planned time (open loop only), wait for a free slot (the in-flight
//! limit: `concurrency` in closed loop, a safety cap in open loop, and the
//! per-session pipeline depth), then send. Latency is measured from the
//! planned time, so a send that had to wait is charged for the wait
//! (coordinated omission corrected, as wrk2 does).

use super::mix::Mix;
use crate::client::wire::PreparedRequest;
use crate::metrics::{ErrorKind, Sample};
use crate::target::Session;
use crate::workload::LoadShape;
use std::sync::atomic::{AtomicU32, AtomicU64, Ordering};
use std::sync::Arc;
use std::time::Duration;
use tokio::sync::{mpsc, watch, Notify};
use tokio::time::{sleep_until, Instant};

/// Requests in flight at most in open loop, whatever the rate: bounds memory
/// when a target stalls.
pub const OPEN_LOOP_MAX_IN_FLIGHT: u64 = 100_000;

/// What the run loop tells the scheduler.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Plan {
    pub shape: LoadShape,
    pub paused: bool,
    pub stop: bool,
}

/// An operation ready to send.
#[derive(Debug, Clone)]
pub struct PreparedOp {
    pub request: PreparedRequest,
    pub timeout: Duration,
}

/// Counters shared between the scheduler, its request tasks and the run loop.
#[derive(Debug, Default)]
pub struct LoadCounters {
    pub in_flight: AtomicU64,
    /// Sends whose planned time is in the measured phase.
    pub measured_sends: AtomicU64,
    pub backpressure_waits: AtomicU64,
    pub slot_freed: Notify,
}

pub struct SessionSlot {
    pub session: Arc<dyn Session>,
    pub in_flight: AtomicU32,
}

/// Why the scheduler stopped on its own.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum SchedulerEnd {
    Stopped,
    RequestLimit,
    AllSessionsClosed,
}

pub struct Scheduler {
    pub sessions: Arc<[SessionSlot]>,
    pub ops: Arc<[PreparedOp]>,
    pub mix: Mix,
    pub pipeline: u32,
    pub measure_start: Instant,
    pub request_limit: Option<u64>,
    pub counters: Arc<LoadCounters>,
    pub samples: mpsc::UnboundedSender<Sample>,
    pub plan: watch::Receiver<Plan>,
}

enum SlotWait {
    Slot(usize),
    Paused,
    Stop,
}

enum Wait {
    Ready,
    PlanChanged,
    Closed,
}

impl Scheduler {
    pub async fn run(mut self) -> SchedulerEnd {
        let mut next_planned: Option<Instant> = None;
        let mut cursor = 0usize;
        loop {
            let plan = *self.plan.borrow_and_update();
            if plan.stop {
                return SchedulerEnd::Stopped;
            }
            if plan.paused {
                next_planned = None;
                if self.plan.changed().await.is_err() {
                    return SchedulerEnd::Stopped;
                }
                continue;
            }
            let planned = match plan.shape {
                LoadShape::OpenLoop { rate } => {
                    let now = Instant::now();
                    let t = *next_planned.get_or_insert(now);
                    if t > now {
                        match self.wait_until(t).await {
                            Wait::Ready => {}
                            Wait::PlanChanged => continue,
                            Wait::Closed => return SchedulerEnd::Stopped,
                        }
                    }
                    next_planned = Some(t + Duration::from_secs_f64(1.0 / rate));
                    Some(t)
                }
                LoadShape::ClosedLoop { .. } => None,
            };
            let slot = match self.wait_for_slot(&mut cursor).await {
                SlotWait::Slot(i) => i,
                // Pausing drops the planned send; resuming restarts the schedule.
                SlotWait::Paused => continue,
                SlotWait::Stop if self.all_closed() => return SchedulerEnd::AllSessionsClosed,
                SlotWait::Stop => return SchedulerEnd::Stopped,
            };
            // Closed loop: the request was due the moment its slot freed.
            let planned = planned.unwrap_or_else(Instant::now);
            let op_index = self.mix.next_op();
            self.send(slot, planned, op_index);
            if planned >= self.measure_start {
                let n = self.counters.measured_sends.fetch_add(1, Ordering::Relaxed) + 1;
                if self.request_limit.is_some_and(|limit| n >= limit) {
                    return SchedulerEnd::RequestLimit;
                }
            }
        }
    }

    async fn wait_until(&mut self, t: Instant) -> Wait {
        tokio::select! {
            _ = sleep_until(t) => Wait::Ready,
            changed = self.plan.changed() => {
                if changed.is_err() { Wait::Closed } else { Wait::PlanChanged }
            }
        }
    }

    fn limit(&self) -> u64 {
        match self.plan.borrow().shape {
            LoadShape::OpenLoop { .. } => OPEN_LOOP_MAX_IN_FLIGHT,
            LoadShape::ClosedLoop { concurrency } => u64::from(concurrency),
        }
    }

    fn all_closed(&self) -> bool {
        self.sessions.iter().all(|s| s.session.is_closed())
    }

    /// A session with room, round robin from `cursor`; `None` when none is open.
    fn pick(&self, cursor: &mut usize) -> Option<usize> {
        let n = self.sessions.len();
        for k in 0..n {
            let i = (*cursor + k) % n;
            let slot = &self.sessions[i];
            if !slot.session.is_closed() && slot.in_flight.load(Ordering::Relaxed) < self.pipeline {
                *cursor = (i + 1) % n;
                return Some(i);
            }
        }
        None
    }

    /// Waits until the in-flight limit and a session allow one more send.
    async fn wait_for_slot(&mut self, cursor: &mut usize) -> SlotWait {
        let mut waited = false;
        loop {
            let plan = *self.plan.borrow();
            if plan.stop || self.all_closed() {
                return SlotWait::Stop;
            }
            if plan.paused {
                return SlotWait::Paused;
            }
            if self.counters.in_flight.load(Ordering::Relaxed) < self.limit() {
                if let Some(i) = self.pick(cursor) {
                    return SlotWait::Slot(i);
                }
            }
            if !waited {
                waited = true;
                self.counters
                    .backpressure_waits
                    .fetch_add(1, Ordering::Relaxed);
            }
            tokio::select! {
                _ = self.counters.slot_freed.notified() => {}
                changed = self.plan.changed() => {
                    if changed.is_err() {
                        return SlotWait::Stop;
                    }
                }
                // A session may close with nothing in flight to wake us.
                _ = tokio::time::sleep(Duration::from_millis(100)) => {}
            }
        }
    }

    fn send(&self, slot: usize, planned: Instant, op_index: usize) {
        let sessions = self.sessions.clone();
        let ops = self.ops.clone();
        let counters = self.counters.clone();
        let samples = self.samples.clone();
        sessions[slot].in_flight.fetch_add(1, Ordering::Relaxed);
        counters.in_flight.fetch_add(1, Ordering::Relaxed);
        tokio::spawn(async move {
            let op = &ops[op_index];
            let slot_ref = &sessions[slot];
            let sent = Instant::now();
            let result = tokio::time::timeout(op.timeout, slot_ref.session.call(&op.request)).await;
            let (done, outcome) = match result {
                Ok(Ok(at)) => (at, Ok(())),
                Ok(Err(e)) => (Instant::now(), Err(ErrorKind::from(&e))),
                Err(_) => (Instant::now(), Err(ErrorKind::Timeout)),
            };
            slot_ref.in_flight.fetch_sub(1, Ordering::Relaxed);
            counters.in_flight.fetch_sub(1, Ordering::Relaxed);
            counters.slot_freed.notify_one();
            let _ = samples.send(Sample {
                op: op_index,
                planned,
                sent,
                done,
                outcome,
            });
        });
    }
}
