//! What the transports measured about reaching the target, brought into
//! the run's figures: the connect / TLS / initialize histograms (filled by
//! the transports as they open connections) for the live screen, and the
//! warnings a deployed target's settings call for (`--insecure`), and the
//! SSE resumption figures the HTTP transport measures (`metrics::resume`).

use super::{RunMetrics, Snapshot};
use crate::transport::phases::Phases;
use crate::transport::resume_figures::ResumeFigures;
use std::sync::Arc;
use tokio::time::Instant;

/// The run's connection phases and the warnings its TLS settings call for.
#[derive(Debug, Clone, Default)]
pub struct ConnectionWatch {
    pub phases: Arc<Phases>,
    pub resume: Arc<ResumeFigures>,
    pub warnings: Vec<String>,
}

impl ConnectionWatch {
    /// Puts the phases and resumptions so far and the warnings into a snapshot.
    pub fn complete(&self, snap: &mut Snapshot) {
        snap.connections = self.phases.summary();
        snap.sse_resume = super::resume::live(&self.resume);
        snap.warnings.extend(self.warnings.iter().cloned());
    }

    /// The run measures from `start`: resumptions of calls sent before are
    /// warm-up.
    pub fn measure_from(&self, start: Instant) {
        self.resume.measure_from(start);
    }

    /// Puts the warnings into the run's metrics (the phases go into the
    /// result file's own `connection_phases` key).
    pub fn finish(&self, metrics: &mut RunMetrics) {
        metrics.warnings.extend(self.warnings.iter().cloned());
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::Duration;

    #[test]
    fn the_histograms_share_the_runs_limits() {
        assert_eq!(
            crate::transport::phases::MAX_LATENCY_US,
            super::super::MAX_LATENCY_US
        );
        assert_eq!(crate::transport::phases::SIGFIGS, super::super::SIGFIGS);
    }

    #[test]
    fn a_snapshot_gets_the_phases_and_the_warnings() {
        let watch = ConnectionWatch {
            phases: Arc::new(Phases::default()),
            warnings: vec!["insecure".into()],
            ..ConnectionWatch::default()
        };
        let mut snap = Snapshot::default();
        watch.complete(&mut snap);
        assert_eq!(snap.connections, None, "nothing measured yet");
        watch.phases.tls(Duration::from_millis(3));
        watch.complete(&mut snap);
        let tls = snap.connections.and_then(|c| c.tls).expect("tls phase");
        assert_eq!(tls.count, 1);
        assert!(snap.warnings.iter().any(|w| w == "insecure"));
    }
}
