//! A scenario's flow at run time: one iteration runs the steps in order on
//! one session, as one send of the scheduler (one slot in flight). Each
//! step gets a sample of its own (the first from the iteration's planned
//! time, the others from when they were sent, as they wait for nothing but
//! the step before), and the iteration one more, from its planned start to
//! its last reply, failed with the kind of the step that ended it. A step
//! whose result a later one takes from is sent as a request whose result
//! is read; the others as plain calls.

use super::scheduler::{PreparedOp, Scheduler};
use crate::client::wire_bytes::{self, WireBytes};
use crate::client::CallError;
use crate::metrics::Sample;
use crate::protocol::jsonrpc::probe::{Listing, ResultProbe};
use crate::protocol::jsonrpc::PreparedRequest;
use crate::transport::Session;
use crate::workload::flow::{Flow, Take};
use crate::workload::{Method, Operation};
use serde_json::{json, Value};
use std::sync::atomic::Ordering;
use std::sync::Arc;
use tokio::sync::mpsc;
use tokio::time::Instant;

/// A flow ready to run.
#[derive(Debug)]
pub struct FlowRun {
    steps: Vec<StepRun>,
    iteration: usize,
}

#[derive(Debug)]
struct StepRun {
    op: usize,
    /// Its method, to fill in with what it takes.
    method: Method,
    continue_on_error: bool,
    from: Option<Take>,
    /// A later step takes from its result.
    keep: bool,
    /// Iterations that skipped it (`if_missing = "skip"`).
    skipped: std::sync::atomic::AtomicU64,
}

impl FlowRun {
    pub fn new(flow: &Flow, ops: &[Operation]) -> FlowRun {
        let steps = flow
            .steps
            .iter()
            .enumerate()
            .map(|(i, s)| StepRun {
                op: s.op,
                method: ops
                    .get(s.op)
                    .map(|o| o.method.clone())
                    .unwrap_or(Method::Ping),
                continue_on_error: s.continue_on_error,
                from: s.from.clone(),
                keep: flow.steps[i + 1..]
                    .iter()
                    .any(|later| later.from.as_ref().is_some_and(|t| t.step == i)),
                skipped: Default::default(),
            })
            .collect();
        FlowRun {
            steps,
            iteration: flow.iteration,
        }
    }

    /// The op that records its iterations.
    pub fn iteration_op(&self) -> usize {
        self.iteration
    }
}

impl FlowRun {
    /// Each step that iterations skipped: its op, the pointer that found
    /// nothing, and how many times.
    pub fn skips(&self) -> Vec<(usize, String, u64)> {
        self.steps
            .iter()
            .filter_map(|s| {
                let n = s.skipped.load(Ordering::Relaxed);
                let pointer = &s.from.as_ref()?.pointer;
                (n > 0).then(|| (s.op, pointer.clone(), n))
            })
            .collect()
    }
}

impl Scheduler {
    /// Starts one iteration of `flow` on session `slot`, planned at `planned`.
    pub(super) fn send_flow(&self, slot: usize, planned: Instant, flow: Arc<FlowRun>) {
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
            let session = sessions[slot].session.as_ref();
            iterate(&flow, &ops, session, planned, &samples).await;
            sessions[slot].in_flight.fetch_sub(1, Ordering::Relaxed);
            if let Some(s) = &scenario {
                s.in_flight.fetch_sub(1, Ordering::Relaxed);
            }
            counters.in_flight.fetch_sub(1, Ordering::Relaxed);
            counters.slot_freed.notify_waiters();
        });
    }
}

/// Runs the steps of one iteration and sends their samples and its own.
pub(super) async fn iterate(
    flow: &FlowRun,
    ops: &[PreparedOp],
    session: &dyn Session,
    planned: Instant,
    samples: &mpsc::UnboundedSender<Sample>,
) {
    let mut kept: Vec<Option<Value>> = vec![None; flow.steps.len()];
    let mut first_sent = None;
    let mut done = planned;
    let mut failed = None;
    for (i, step) in flow.steps.iter().enumerate() {
        let Some(op) = ops.get(step.op) else { break };
        let sent = Instant::now();
        first_sent.get_or_insert(sent);
        let nothing_there = |t: &Take| t.skip_if_missing && take_name(t, &kept).is_err();
        if step.from.as_ref().is_some_and(nothing_there) {
            // Told to skip when there is nothing to take: no request, no
            // sample; the count goes to the run's warnings.
            step.skipped.fetch_add(1, Ordering::Relaxed);
            continue;
        }
        let (outcome, bytes) = wire_bytes::measure(run_step(step, op, &kept, session)).await;
        done = Instant::now();
        let outcome = match outcome {
            Ok(result) => {
                kept[i] = result;
                Ok(())
            }
            Err(e) => Err(e),
        };
        let _ = samples.send(Sample {
            op: step.op,
            planned: if i == 0 { planned } else { sent },
            sent,
            done,
            outcome: outcome.clone(),
            bytes,
        });
        if let Err(e) = outcome {
            if !step.continue_on_error {
                failed = Some(e);
                break;
            }
        }
    }
    let _ = samples.send(Sample {
        op: flow.iteration,
        planned,
        sent: first_sent.unwrap_or(planned),
        done,
        outcome: failed.map_or(Ok(()), Err),
        // Its steps carried the bytes.
        bytes: WireBytes::default(),
    });
}

/// Sends one step, within its timeout; its result when a later step needs it.
async fn run_step(
    step: &StepRun,
    op: &PreparedOp,
    kept: &[Option<Value>],
    session: &dyn Session,
) -> Result<Option<Value>, CallError> {
    let taken;
    let request = match &step.from {
        None => &op.request,
        Some(take) => {
            let name = take_name(take, kept)?;
            let method = with_name(&step.method, name);
            taken = PreparedRequest::new(method.wire_name(), &method.params());
            &taken
        }
    };
    let call = async {
        if step.keep {
            let probe = session.request(request).await?;
            if request.is_tool_call && probe.is_error == Some(true) {
                return Err(CallError::ToolError(probe.error_text.unwrap_or_default()));
            }
            Ok(Some(kept_of(&probe)))
        } else {
            session.call(request).await.map(|_| None)
        }
    };
    tokio::time::timeout(op.timeout, call)
        .await
        .unwrap_or(Err(CallError::Timeout))
}

/// The string at the pointer in an earlier step's result.
fn take_name(take: &Take, kept: &[Option<Value>]) -> Result<String, CallError> {
    kept.get(take.step)
        .and_then(Option::as_ref)
        .and_then(|v| v.pointer(&take.pointer))
        .and_then(Value::as_str)
        .map(str::to_string)
        .ok_or_else(|| {
            CallError::Protocol(format!(
                "flow: no string at {} in the result of step {}",
                take.pointer,
                take.step + 1
            ))
        })
}

fn with_name(method: &Method, name: String) -> Method {
    match method.clone() {
        Method::ToolsCall { arguments, .. } => Method::ToolsCall {
            tool: name,
            arguments,
        },
        Method::ResourcesRead { .. } => Method::ResourcesRead { uri: name },
        Method::PromptsGet { arguments, .. } => Method::PromptsGet {
            prompt: name,
            arguments,
        },
        other => other,
    }
}

/// What a result keeps for later steps: the listings' names and URIs, at
/// the pointers a flow names (`/tools/0/name`, `/resources/0/uri`, ...).
fn kept_of(p: &ResultProbe) -> Value {
    let list = |l: &Listing| -> Value {
        l.0.as_ref().map_or(Value::Null, |items| {
            items
                .iter()
                .map(|x| json!({ "name": x.name, "uri": x.uri, "uriTemplate": x.uri_template }))
                .collect()
        })
    };
    json!({
        "tools": list(&p.tools),
        "resources": list(&p.resources),
        "prompts": list(&p.prompts),
        "resourceTemplates": list(&p.resource_templates),
    })
}
