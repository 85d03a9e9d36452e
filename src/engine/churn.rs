//! Session churn (`new_session = true`): every iteration opens a session
//! of its own, runs its op or flow on it, and closes it (dropping the
//! session DELETEs an HTTP session and ends a stdio child). The connector
//! belongs to the run, not to a spawned task, so sessions are opened by a
//! service that runs beside the run (`serve`) and answers `Opener`s from
//! any task. Each session's life, connect to close, is one sample of the
//! scenario's `session` op: its throughput is sessions per second, its
//! errors the sessions that failed to open; connect and initialize times go
//! to the run's connection phases as the transports measure them.
//!
//! In a run with faults or `reconnect`, each session is wrapped as the run's
//! own are (`Resilient`, never reconnecting: the next iteration opens a new
//! one), so a request whose connection dies under it is `lost`, and an
//! iteration whose session cannot be opened is `not sent`, each charged to
//! the fault in force.

use super::faults::FaultLog;
use super::flow::{iterate, FlowRun};
use super::reconnect::{Resilient, WrapOptions};
use super::scheduler::Scheduler;
use crate::client::wire_bytes::{self, WireBytes};
use crate::client::CallError;
use crate::metrics::Sample;
use crate::transport::{Connected, Connector, TargetError};
use futures_util::stream::{FuturesUnordered, StreamExt};
use std::sync::atomic::{AtomicU32, Ordering};
use std::sync::Arc;
use tokio::sync::{mpsc, oneshot};
use tokio::time::Instant;

type Reply = oneshot::Sender<Result<Connected, TargetError>>;
/// A request for a session: to the run's target, or (failover) to the
/// target at this index.
type Ask = (Option<usize>, Reply);

/// Asks the run's connector for a new session.
#[derive(Clone, Debug)]
pub struct Opener {
    requests: mpsc::UnboundedSender<Ask>,
    /// Set in a run with faults or `reconnect`: churned sessions are sorted
    /// into the fault buckets.
    faults: Option<Arc<FaultLog>>,
}

impl Opener {
    /// This opener, whose churned sessions tell `log` what they saw.
    pub(super) fn sorting_into(self, log: Arc<FaultLog>) -> Opener {
        Opener {
            faults: Some(log),
            ..self
        }
    }

    /// A session for one iteration: wrapped when faults are sorted, so that
    /// its failures are sorted as the run's sessions' are.
    async fn open_churned(&self) -> Result<Connected, TargetError> {
        let connected = self.open().await?;
        Ok(match &self.faults {
            Some(log) => {
                let options = WrapOptions {
                    reconnect: false,
                    failover: None,
                };
                Resilient::wrap(connected, options, log.clone(), self.clone()).0
            }
            None => connected,
        })
    }

    /// What an iteration whose session could not be opened counts as:
    /// `not sent` in a run that sorts faults, else a transport error.
    fn open_failed(&self, e: &TargetError) -> CallError {
        match &self.faults {
            Some(log) => {
                log.not_sent();
                log.failure(Instant::now());
                CallError::NotSent(format!("no session: {e}"))
            }
            None => CallError::Transport(e.to_string()),
        }
    }

    pub(super) async fn open(&self) -> Result<Connected, TargetError> {
        self.ask(None).await
    }

    /// A session to failover target `target`.
    pub(super) async fn open_to(&self, target: usize) -> Result<Connected, TargetError> {
        self.ask(Some(target)).await
    }

    async fn ask(&self, target: Option<usize>) -> Result<Connected, TargetError> {
        let (tx, rx) = oneshot::channel();
        let gone = || TargetError::Handshake {
            session: 0,
            reason: "the run is ending".into(),
        };
        self.requests.send((target, tx)).map_err(|_| gone())?;
        rx.await.map_err(|_| gone())?
    }
}

/// An opener and the service that answers it, which must be polled for as
/// long as the run lasts (it never ends by itself while openers live).
/// Sessions it opens are numbered from `first` on (after the run's own).
pub fn service(
    connector: &dyn Connector,
    first: u32,
) -> (Opener, impl std::future::Future<Output = ()> + '_) {
    let (tx, mut rx) = mpsc::unbounded_channel::<Ask>();
    let serve = async move {
        let next = AtomicU32::new(first);
        let mut opening = FuturesUnordered::new();
        loop {
            tokio::select! {
                asked = rx.recv() => match asked {
                    Some((target, reply)) => {
                        let n = next.fetch_add(1, Ordering::Relaxed);
                        opening.push(async move {
                            let connected = match target {
                                Some(t) => connector.connect_to(t, n).await,
                                None => connector.connect(n).await,
                            };
                            let _ = reply.send(connected);
                        });
                    }
                    None => std::future::pending::<()>().await,
                },
                Some(()) = opening.next(), if !opening.is_empty() => {}
            }
        }
    };
    (
        Opener {
            requests: tx,
            faults: None,
        },
        serve,
    )
}

/// What a churning scenario's scheduler needs.
#[derive(Debug)]
pub struct Churn {
    pub opener: Opener,
    /// The op that records sessions.
    pub session_op: usize,
}

impl Scheduler {
    /// One iteration on a session of its own: open, run, close.
    pub(super) fn send_churn(&self, planned: Instant, churn: Arc<Churn>, op_index: usize) {
        let ops = self.ops.clone();
        let counters = self.counters.clone();
        let scenario = self.scenario.clone();
        let samples = self.samples.clone();
        let flow: Option<Arc<FlowRun>> = self.flow.clone();
        counters.in_flight.fetch_add(1, Ordering::Relaxed);
        if let Some(s) = &scenario {
            s.in_flight.fetch_add(1, Ordering::Relaxed);
        }
        tokio::spawn(async move {
            let started = Instant::now();
            let outcome = match churn.opener.open_churned().await {
                Ok(connected) => {
                    let session = connected.session.as_ref();
                    match &flow {
                        Some(flow) => iterate(flow, &ops, session, planned, &samples).await,
                        None => {
                            let op = &ops[op_index];
                            let sent = Instant::now();
                            let call = tokio::time::timeout(op.timeout, session.call(&op.request));
                            let (result, bytes) = wire_bytes::measure(call).await;
                            let _ = samples.send(Sample {
                                op: op_index,
                                planned,
                                sent,
                                done: Instant::now(),
                                outcome: result.unwrap_or(Err(CallError::Timeout)).map(|_| ()),
                                bytes,
                            });
                        }
                    }
                    drop(connected);
                    Ok(())
                }
                Err(e) => {
                    let failed = churn.opener.open_failed(&e);
                    if matches!(failed, CallError::NotSent(_)) {
                        // The iteration was planned and never went out: it
                        // ends in a bucket like any planned request.
                        let now = Instant::now();
                        let _ = samples.send(Sample {
                            op: flow.as_ref().map_or(op_index, |f| f.iteration_op()),
                            planned,
                            sent: now,
                            done: now,
                            outcome: Err(failed.clone()),
                            bytes: WireBytes::default(),
                        });
                    }
                    Err(CallError::Transport(e.to_string()))
                }
            };
            // The session's own sample: its handshake's bytes are not counted.
            let _ = samples.send(Sample {
                op: churn.session_op,
                planned,
                sent: started,
                done: Instant::now(),
                outcome,
                bytes: WireBytes::default(),
            });
            if let Some(s) = &scenario {
                s.in_flight.fetch_sub(1, Ordering::Relaxed);
            }
            counters.in_flight.fetch_sub(1, Ordering::Relaxed);
            counters.slot_freed.notify_waiters();
        });
    }
}
