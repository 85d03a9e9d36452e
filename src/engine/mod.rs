//! The engine: connects the sessions, runs the scheduler through warm-up,
//! stages and controls, feeds samples to the recorder, publishes a snapshot
//! every tick, and ends with the run's metrics however it stops (time up,
//! request count, `q`, a stop signal, a target that died).

mod churn;
mod connect;
mod failover;
mod fault_clock;
pub mod faults;
mod flow;
mod meter;
pub mod mix;
mod phases;
mod reconnect;
mod scenarios;
pub mod scheduler;
mod send_trace;
pub mod stop;

#[cfg(test)]
use crate::transport::CONNECT_PARALLELISM;
#[cfg(test)]
use phases::drain;
pub use phases::run;
/// How the recorder groups a workload's ops by scenario (tests of the
/// layers above build their recorders with it).
#[cfg(test)]
pub(crate) use scenarios::groups as scenario_groups;

use crate::metrics::sampler::ResourceMonitor;
use crate::metrics::{RunMetrics, Snapshot};
use crate::protocol::Era;
use crate::transport::{Connector, TargetError, TargetEvent};
use crate::workload::Workload;
use serde::{Deserialize, Serialize};
use std::time::Duration;
use stop::{StopSignal, StopToken};
use tokio::sync::{mpsc, watch};

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
    /// With `[[scenarios]]`: new asked rate of the scenario at this index
    /// (file order), for the rest of the run.
    SetScenarioRate(usize, f64),
    /// With `[[scenarios]]`: new concurrency of the scenario at this index.
    SetScenarioConcurrency(usize, u32),
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

#[cfg(test)]
mod tests;
