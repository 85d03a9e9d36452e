//! Connecting a run's sessions: every one, the target's
//! `connect_parallelism` at a time, giving up on a stop signal or the first
//! failure, and what the target said about itself.

use super::stop::StopToken;
use super::{EngineError, TargetInfo};
use crate::metrics::sampler::ResourceMonitor;
use crate::transport::{Connected, Connector, TargetError};
use crate::workload::Workload;
use futures_util::stream::{self, StreamExt, TryStreamExt};

/// Connects every session (giving up on a stop signal) and checks that
/// they can run the workload; says what the target is.
pub(super) async fn connect(
    workload: &Workload,
    connector: &dyn Connector,
    stop: &StopToken,
    resources: Option<&ResourceMonitor>,
) -> Result<(Vec<Connected>, TargetInfo), EngineError> {
    let connected = tokio::select! {
        biased;
        signal = stop.stopped() => return Err(EngineError::Stopped(signal)),
        connected = connect_all(connector, workload.sessions_to_open(), resources) => connected?,
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
    Ok((connected, target))
}

/// Opens every session, the connector's `connect_parallelism` at a time.
/// A slot is given to the next session as soon as any one connects (a slow
/// handshake holds its own slot, not the others'); the sessions keep their
/// numbers' order. The first failure ends it: the sessions still connecting
/// are dropped (their children killed) rather than each waiting out its
/// own timeout.
pub(super) async fn connect_all(
    connector: &dyn Connector,
    sessions: u32,
    resources: Option<&ResourceMonitor>,
) -> Result<Vec<Connected>, TargetError> {
    let mut connected: Vec<(u32, Connected)> = stream::iter(0..sessions)
        .map(|i| async move {
            let connected = connector.connect(i).await?;
            // The cost of one session: its process and mcptop's RSS now.
            if let Some(monitor) = resources {
                monitor.session_connected(connected.pid);
            }
            Ok((i, connected))
        })
        .buffer_unordered(connector.connect_parallelism().max(1))
        .try_collect()
        .await?;
    connected.sort_unstable_by_key(|(i, _)| *i);
    Ok(connected.into_iter().map(|(_, c)| c).collect())
}
