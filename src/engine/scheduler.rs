//! The one scheduler. Every load shape runs through the same loop: wait for
//! the planned time (open loop only), wait for a free slot (the in-flight
//! limit: `concurrency` in closed loop, a safety cap in open loop, and the
//! per-session pipeline depth), then send. Latency is measured from the
//! planned time, so a send that had to wait is charged for the wait
//! (coordinated omission corrected, as wrk2 does). With JSON-RPC batches,
//! requests are planned one by one as always and go out `batch` at a time,
//! each still measured from its own planned time.

use super::mix::Mix;
use crate::client::{wire_bytes, BatchItem, CallError};
use crate::metrics::Sample;
use crate::protocol::jsonrpc::PreparedRequest;
use crate::transport::Session;
use crate::workload::LoadShape;
use std::sync::atomic::{AtomicU32, AtomicU64, Ordering};
use std::sync::Arc;
use std::time::Duration;
use tokio::sync::{mpsc, watch, Notify};
use tokio::time::Instant;

/// Requests in flight at most in open loop, whatever the rate: bounds memory
/// when a target stalls.
pub const OPEN_LOOP_MAX_IN_FLIGHT: u64 = 100_000;
/// Sessions a `new_session` scenario has open at once at most in open loop;
/// beyond it sends wait (and are charged for the wait).
pub const CHURN_MAX_OPEN: u64 = 64;
/// Longest wait for a slot before the scheduler looks again (a session may
/// close with nothing in flight to wake it).
const SLOT_RECHECK: Duration = Duration::from_millis(100);
/// How much longer than its longest timeout a batch may take as a whole.
const BATCH_GRACE: Duration = Duration::from_secs(1);

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

impl PreparedOp {
    /// Every operation of a workload, ready to send to a server whose
    /// protocol has `ping` or not (then a ping with a fallback sends that).
    pub fn all(ops: &[crate::workload::Operation], has_ping: bool) -> Arc<[PreparedOp]> {
        ops.iter()
            .map(|o| {
                let method = o.method_for(has_ping);
                PreparedOp {
                    request: PreparedRequest::new(method.wire_name(), &method.params())
                        .resuming(o.resume, &o.label),
                    timeout: o.timeout,
                }
            })
            .collect()
    }
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
    /// Requests per send: 1, or the size of a JSON-RPC batch.
    pub batch: u32,
    pub measure_start: Instant,
    pub request_limit: Option<u64>,
    pub counters: Arc<LoadCounters>,
    /// With `[[scenarios]]`: this scenario's own in-flight count, which its
    /// closed-loop limit applies to (`counters` keeps the run's total).
    pub scenario: Option<Arc<LoadCounters>>,
    pub samples: mpsc::UnboundedSender<Sample>,
    pub plan: watch::Receiver<Plan>,
    /// A scenario's flow: each send is one iteration of its steps.
    pub flow: Option<Arc<super::flow::FlowRun>>,
    /// `new_session`: every send opens a session of its own (no slots).
    pub churn: Option<Arc<super::churn::Churn>>,
}

enum SlotWait {
    Slot(usize),
    Paused,
    Stop,
}

enum Wait {
    /// The planned time came; when the pacer thread fired, if it did.
    Ready(Option<Instant>),
    PlanChanged,
    Closed,
}

impl Scheduler {
    pub async fn run(self) -> SchedulerEnd {
        let end = self.run_loop().await;
        if let Some(trace) = super::send_trace::global() {
            trace.write();
        }
        end
    }

    async fn run_loop(mut self) -> SchedulerEnd {
        let mut next_planned: Option<Instant> = None;
        // The pacer's and the scheduler's wake-ups of the last planned send,
        // for the send trace.
        let mut marks: (Option<Instant>, Option<Instant>) = (None, None);
        let mut cursor = 0usize;
        let batch = self.batch.max(1) as usize;
        // Planned times of the requests of the next send (`None`: closed
        // loop, due when the send goes).
        let mut gathered: Vec<Option<Instant>> = Vec::with_capacity(batch);
        // One timer for the whole run, not one per wait for a slot (a timer
        // registered and cancelled per request in a closed loop).
        let mut recheck = tokio::time::interval_at(Instant::now() + SLOT_RECHECK, SLOT_RECHECK);
        recheck.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        loop {
            let plan = *self.plan.borrow_and_update();
            if plan.stop {
                return SchedulerEnd::Stopped;
            }
            if plan.paused {
                // Pausing drops the planned sends; resuming restarts the schedule.
                next_planned = None;
                gathered.clear();
                if self.plan.changed().await.is_err() {
                    return SchedulerEnd::Stopped;
                }
                continue;
            }
            match plan.shape {
                LoadShape::OpenLoop { rate } => {
                    let now = Instant::now();
                    let t = *next_planned.get_or_insert(now);
                    marks = (None, None);
                    let gap = Duration::from_secs_f64(1.0 / rate);
                    if t > now {
                        match self.wait_until(t, gap).await {
                            Wait::Ready(fired) => marks = (fired, Some(Instant::now())),
                            Wait::PlanChanged => continue,
                            Wait::Closed => return SchedulerEnd::Stopped,
                        }
                    }
                    next_planned = Some(t + gap);
                    gathered.push(Some(t));
                }
                LoadShape::ClosedLoop { .. } => gathered.push(None),
            }
            if gathered.len() < batch && !self.limit_reached_with(&gathered) {
                continue;
            }
            let slot = match self
                .wait_for_slot(&mut cursor, gathered.len() as u32, &mut recheck)
                .await
            {
                SlotWait::Slot(i) => i,
                SlotWait::Paused => {
                    gathered.clear();
                    continue;
                }
                SlotWait::Stop if self.all_closed() => return SchedulerEnd::AllSessionsClosed,
                SlotWait::Stop => return SchedulerEnd::Stopped,
            };
            // Closed loop: the requests were due the moment their slots freed.
            let now = Instant::now();
            let measured = gathered
                .iter()
                .filter(|p| p.unwrap_or(now) >= self.measure_start)
                .count() as u64;
            self.send_gathered(slot, batch == 1, &mut gathered, marks, now);
            if self.count_measured(measured) {
                return SchedulerEnd::RequestLimit;
            }
        }
    }

    /// Sends what is gathered on `slot`: one request (with its steps so far,
    /// `marks` being the pacer's and the scheduler's wake-ups), or a batch
    /// (even of one, the run's last).
    fn send_gathered(
        &mut self,
        slot: usize,
        single: bool,
        gathered: &mut Vec<Option<Instant>>,
        marks: (Option<Instant>, Option<Instant>),
        now: Instant,
    ) {
        if single {
            let planned = gathered.pop().flatten().unwrap_or(now);
            let (fired, woke) = marks;
            let steps = super::send_trace::Steps {
                planned,
                fired,
                woke,
                slot: now,
            };
            self.send_one(slot, steps);
        } else {
            let planned: Vec<(Instant, usize)> = gathered
                .drain(..)
                .map(|p| (p.unwrap_or(now), self.mix.next_op()))
                .collect();
            self.send_batch(slot, planned);
        }
        gathered.clear();
    }

    /// Counts `measured` sends (the run's and the scenario's); true when
    /// the run's request limit is reached.
    fn count_measured(&self, measured: u64) -> bool {
        if measured == 0 {
            return false;
        }
        if let Some(s) = &self.scenario {
            s.measured_sends.fetch_add(measured, Ordering::Relaxed);
        }
        let n = self
            .counters
            .measured_sends
            .fetch_add(measured, Ordering::Relaxed)
            + measured;
        self.request_limit.is_some_and(|limit| n >= limit)
    }

    /// True when sending what is gathered reaches the request limit, so a
    /// last batch goes out short rather than overshooting.
    fn limit_reached_with(&self, gathered: &[Option<Instant>]) -> bool {
        let Some(limit) = self.request_limit else {
            return false;
        };
        let now = Instant::now();
        let measured = gathered
            .iter()
            .filter(|p| p.unwrap_or(now) >= self.measure_start)
            .count() as u64;
        self.counters.measured_sends.load(Ordering::Relaxed) + measured >= limit
    }

    /// Waits for the planned time `t` of a send, sends being `gap` apart.
    async fn wait_until(&mut self, t: Instant, gap: Duration) -> Wait {
        tokio::select! {
            // Precise: tokio's timer alone fires up to 1 ms late, and with a
            // spare core the worker is awake at `t` (`pacer::lead`).
            fired = crate::pacer::sleep_until_on_worker(t, gap) => Wait::Ready(fired),
            changed = self.plan.changed() => {
                if changed.is_err() { Wait::Closed } else { Wait::PlanChanged }
            }
        }
    }

    fn limit(&self) -> u64 {
        match self.plan.borrow().shape {
            // Each churned session may be a process: a slow target must not
            // make an open loop start thousands.
            LoadShape::OpenLoop { .. } if self.churn.is_some() => CHURN_MAX_OPEN,
            LoadShape::OpenLoop { .. } => OPEN_LOOP_MAX_IN_FLIGHT,
            LoadShape::ClosedLoop { concurrency } => u64::from(concurrency),
        }
    }

    fn all_closed(&self) -> bool {
        self.churn.is_none() && self.sessions.iter().all(|s| s.session.is_closed())
    }

    /// A session with room for `count` more, round robin from `cursor`;
    /// `None` when none is open. A send larger than the pipeline fits an idle
    /// session, so a batch can never wait forever.
    fn pick(&self, cursor: &mut usize, count: u32) -> Option<usize> {
        let n = self.sessions.len();
        let room = self.pipeline.max(count);
        for k in 0..n {
            let i = (*cursor + k) % n;
            let slot = &self.sessions[i];
            if !slot.session.is_closed() && slot.in_flight.load(Ordering::Relaxed) + count <= room {
                *cursor = (i + 1) % n;
                return Some(i);
            }
        }
        None
    }

    /// Waits until the in-flight limit and a session allow `count` more
    /// requests (as with the pipeline, a limit below `count` is raised to it).
    async fn wait_for_slot(
        &mut self,
        cursor: &mut usize,
        count: u32,
        recheck: &mut tokio::time::Interval,
    ) -> SlotWait {
        let mut waited = false;
        loop {
            let plan = *self.plan.borrow();
            if plan.stop || self.all_closed() {
                return SlotWait::Stop;
            }
            if plan.paused {
                return SlotWait::Paused;
            }
            // Armed before the check, so a slot freed in between still wakes
            // us: completions wake every waiting scheduler (scenarios share
            // sessions), not one.
            let freed = self.counters.slot_freed.notified();
            tokio::pin!(freed);
            freed.as_mut().enable();
            let count64 = u64::from(count);
            let own = self.scenario.as_ref().unwrap_or(&self.counters);
            if own.in_flight.load(Ordering::Relaxed) + count64 <= self.limit().max(count64) {
                if self.churn.is_some() {
                    // Each send brings its own session.
                    return SlotWait::Slot(0);
                }
                if let Some(i) = self.pick(cursor, count) {
                    return SlotWait::Slot(i);
                }
            }
            if !waited {
                waited = true;
                self.counters
                    .backpressure_waits
                    .fetch_add(1, Ordering::Relaxed);
                if let Some(s) = &self.scenario {
                    s.backpressure_waits.fetch_add(1, Ordering::Relaxed);
                }
            }
            tokio::select! {
                _ = freed => {}
                changed = self.plan.changed() => {
                    if changed.is_err() {
                        return SlotWait::Stop;
                    }
                }
                // A session may close with nothing in flight to wake us.
                _ = recheck.tick() => {}
            }
        }
    }

    /// One send: the next op of the mix, or an iteration of the flow.
    fn send_one(&mut self, slot: usize, steps: super::send_trace::Steps) {
        let planned = steps.planned;
        if let Some(churn) = &self.churn {
            let op_index = if self.flow.is_some() {
                0
            } else {
                self.mix.next_op()
            };
            return self.send_churn(planned, churn.clone(), op_index);
        }
        match &self.flow {
            Some(flow) => self.send_flow(slot, planned, flow.clone()),
            None => {
                let op_index = self.mix.next_op();
                self.send(slot, steps, op_index);
            }
        }
    }

    fn send(&self, slot: usize, steps: super::send_trace::Steps, op_index: usize) {
        let planned = steps.planned;
        let trace = super::send_trace::global();
        let sessions = self.sessions.clone();
        let ops = self.ops.clone();
        let counters = self.counters.clone();
        let scenario = self.scenario.clone();
        let samples = self.samples.clone();
        sessions[slot].in_flight.fetch_add(1, Ordering::Relaxed);
        counters.in_flight.fetch_add(1, Ordering::Relaxed);
        if let Some(s) = &scenario {
            s.in_flight.fetch_add(1, Ordering::Relaxed);
        }
        tokio::spawn(async move {
            let op = &ops[op_index];
            let slot_ref = &sessions[slot];
            let sent = Instant::now();
            let call = tokio::time::timeout(op.timeout, slot_ref.session.call(&op.request));
            // With the trace on, also when the request's own task wrote it.
            let ((result, written), bytes) = match trace {
                Some(_) => wire_bytes::measure(crate::client::writer::traced(call)).await,
                None => wire_bytes::measure(async { (call.await, None) }).await,
            };
            let (done, outcome) = match result {
                Ok(Ok(at)) => (at, Ok(())),
                Ok(Err(e)) => (Instant::now(), Err(e)),
                Err(_) => (Instant::now(), Err(CallError::Timeout)),
            };
            if let Some(trace) = trace {
                trace.push(steps, sent, written, done, Instant::now());
            }
            // The sample first: a drain that sees nothing in flight must
            // find every sample queued.
            let _ = samples.send(Sample {
                op: op_index,
                planned,
                sent,
                done,
                outcome,
                bytes,
            });
            slot_ref.in_flight.fetch_sub(1, Ordering::Relaxed);
            if let Some(s) = &scenario {
                s.in_flight.fetch_sub(1, Ordering::Relaxed);
            }
            counters.in_flight.fetch_sub(1, Ordering::Relaxed);
            counters.slot_freed.notify_waiters();
        });
    }

    /// Sends `(planned, op)` requests as one batch; each gets its own sample.
    fn send_batch(&self, slot: usize, requests: Vec<(Instant, usize)>) {
        let sessions = self.sessions.clone();
        let ops = self.ops.clone();
        let counters = self.counters.clone();
        let samples = self.samples.clone();
        let count = requests.len() as u32;
        sessions[slot].in_flight.fetch_add(count, Ordering::Relaxed);
        counters
            .in_flight
            .fetch_add(u64::from(count), Ordering::Relaxed);
        tokio::spawn(async move {
            let items: Vec<BatchItem> = requests
                .iter()
                .map(|&(_, op)| BatchItem {
                    request: &ops[op].request,
                    timeout: ops[op].timeout,
                })
                .collect();
            let longest = items.iter().map(|i| i.timeout).max().unwrap_or_default();
            let slot_ref = &sessions[slot];
            let sent = Instant::now();
            let call =
                tokio::time::timeout(longest + BATCH_GRACE, slot_ref.session.call_batch(&items));
            let (outcomes, bytes) = wire_bytes::measure(call).await;
            let outcomes = outcomes
                .unwrap_or_else(|_| items.iter().map(|_| Err(CallError::Timeout)).collect());
            let finished = Instant::now();
            // One body and one reply for all: each request gets an equal share.
            for (i, (&(planned, op), outcome)) in requests.iter().zip(outcomes).enumerate() {
                let (done, outcome) = match outcome {
                    Ok(at) => (at, Ok(())),
                    Err(e) => (finished, Err(e)),
                };
                let _ = samples.send(Sample {
                    op,
                    planned,
                    sent,
                    done,
                    outcome,
                    bytes: bytes.share(i, requests.len()),
                });
            }
            slot_ref.in_flight.fetch_sub(count, Ordering::Relaxed);
            counters
                .in_flight
                .fetch_sub(u64::from(count), Ordering::Relaxed);
            counters.slot_freed.notify_waiters();
        });
    }
}
