//! Live metrics for Prometheus (and Grafana, VictoriaMetrics, ...):
//! `--prometheus ADDR` serves `/metrics` while runs go, in the text format
//! (OpenMetrics, as `prometheus-client` encodes it). Every figure is the
//! latest snapshot's: requests by operation and outcome, errors by kind,
//! in flight, asked/sent/achieved rate, latency histograms (corrected and
//! service) in fixed buckets counted from the recorder's HDR histograms,
//! mcptop's and the target's RSS/CPU, the allocator's figures, and SSE
//! resumption (replay latency histogram, duplicate and gap counters), and
//! with failover the sessions' moves (`mcptop_failover_*`).
//!
//! The run publishes each snapshot here (`publish`); with no endpoint
//! listening that is a no-op.

use crate::metrics::buckets::{FixedBuckets, LATENCY_BOUNDS_US};
use crate::metrics::snapshot::{Phase, ProcessStats};
use crate::metrics::Snapshot;
use prometheus_client::collector::Collector;
use prometheus_client::encoding::{DescriptorEncoder, EncodeMetric};
use prometheus_client::metrics::counter::ConstCounter;
use prometheus_client::metrics::gauge::ConstGauge;
use prometheus_client::metrics::MetricType;
use prometheus_client::registry::Registry;
use std::net::SocketAddr;
use std::sync::{Arc, Mutex};

/// The content type of the OpenMetrics text `prometheus-client` writes.
pub const CONTENT_TYPE: &str = "application/openmetrics-text; version=1.0.0; charset=utf-8";
/// Default port: the one Prometheus's registry of exporters gives mcptop-like tools.
pub const DEFAULT_PORT: u16 = 9464;

/// The latest snapshot of the run under way, shared with the endpoint.
static LIVE: Mutex<Option<Arc<Latest>>> = Mutex::new(None);

#[derive(Debug, Default)]
struct Latest {
    snapshot: Mutex<Option<Snapshot>>,
    /// Labels on every series (`shard` when the run is one of several).
    labels: Vec<(String, String)>,
}

impl Latest {
    /// Keeps `snap` for the next scrapes, without the histories the
    /// exposition does not read: a whole copy grew with the run.
    fn keep(&self, snap: &Snapshot) {
        let lean = snap.without_history();
        if let Ok(mut s) = self.snapshot.lock() {
            *s = Some(lean);
        }
    }
}

/// Hands a snapshot to the endpoint, if one is listening.
pub fn publish(snap: &Snapshot) {
    let live = match LIVE.lock() {
        Ok(g) => g.clone(),
        Err(_) => return,
    };
    if let Some(latest) = live {
        latest.keep(snap);
    }
}

/// Publishes every snapshot of a run until its channel closes.
pub async fn follow(mut snaps: tokio::sync::watch::Receiver<Snapshot>) {
    while snaps.changed().await.is_ok() {
        let listening = LIVE.lock().is_ok_and(|l| l.is_some());
        let snap = snaps.borrow_and_update();
        if listening {
            publish(&snap);
        }
    }
}

/// The `/metrics` text of a snapshot.
pub fn exposition(snap: &Snapshot) -> String {
    exposition_labelled(snap, &[])
}

/// The `/metrics` text of a snapshot, `labels` on every series: each shard
/// of a run serves its own endpoint (Prometheus scrapes every pod), and
/// `shard="I/N"` keeps their series apart.
pub fn exposition_labelled(snap: &Snapshot, labels: &[(String, String)]) -> String {
    let mut registry = Registry::with_labels(
        labels
            .iter()
            .map(|(k, v)| (k.clone().into(), v.clone().into())),
    );
    registry.register_collector(Box::new(SnapshotCollector(snap.clone())));
    let mut out = String::new();
    // Writing to a String cannot fail.
    let _ = prometheus_client::encoding::text::encode(&mut out, &registry);
    out
}

#[derive(Debug)]
struct SnapshotCollector(Snapshot);

type Labels = Vec<(&'static str, String)>;

fn counter(
    enc: &mut DescriptorEncoder,
    name: &str,
    help: &str,
    series: &[(Labels, u64)],
) -> std::fmt::Result {
    let mut family = enc.encode_descriptor(name, help, None, MetricType::Counter)?;
    for (labels, v) in series {
        ConstCounter::new(*v).encode(family.encode_family(labels)?)?;
    }
    Ok(())
}

fn gauge(
    enc: &mut DescriptorEncoder,
    name: &str,
    help: &str,
    series: &[(Labels, f64)],
) -> std::fmt::Result {
    let mut family = enc.encode_descriptor(name, help, None, MetricType::Gauge)?;
    for (labels, v) in series {
        ConstGauge::new(*v).encode(family.encode_family(labels)?)?;
    }
    Ok(())
}

fn histogram(
    enc: &mut DescriptorEncoder,
    name: &str,
    help: &str,
    series: &[(Labels, &FixedBuckets)],
) -> std::fmt::Result {
    let mut family = enc.encode_descriptor(name, help, None, MetricType::Histogram)?;
    for (labels, b) in series {
        let buckets: Vec<(f64, u64)> = LATENCY_BOUNDS_US
            .iter()
            .map(|us| *us as f64 / 1e6)
            .chain(std::iter::once(f64::INFINITY))
            .zip(b.counts.iter().copied())
            .collect();
        family.encode_family(labels)?.encode_histogram::<Labels>(
            b.sum_us / 1e6,
            b.count,
            &buckets,
            None,
        )?;
    }
    Ok(())
}

impl Collector for SnapshotCollector {
    fn encode(&self, mut enc: DescriptorEncoder) -> std::fmt::Result {
        let s = &self.0;
        let op = |label: &str| -> Labels { vec![("op", label.to_string())] };
        let mut requests = Vec::new();
        for o in &s.ops {
            requests.push((
                vec![("op", o.label.clone()), ("outcome", "ok".into())],
                o.ok,
            ));
            requests.push((
                vec![("op", o.label.clone()), ("outcome", "error".into())],
                o.errors,
            ));
        }
        counter(
            &mut enc,
            "mcptop_requests",
            "Measured requests answered, by operation and outcome",
            &requests,
        )?;
        let errors: Vec<(Labels, u64)> = s
            .errors
            .iter()
            .map(|(kind, n)| (vec![("kind", kind.clone())], *n))
            .collect();
        counter(
            &mut enc,
            "mcptop_errors",
            "Failed requests by kind",
            &errors,
        )?;
        counter(
            &mut enc,
            "mcptop_late_sends",
            "Sends more than 1 ms (LATE_SEND_US) behind their planned time",
            &[(vec![], s.late_sends)],
        )?;
        let mut bytes = Vec::new();
        for o in &s.ops {
            let by =
                |direction: &str| vec![("op", o.label.clone()), ("direction", direction.into())];
            bytes.push((by("sent"), o.bytes.bytes_sent));
            bytes.push((by("received"), o.bytes.bytes_received));
        }
        counter(
            &mut enc,
            "mcptop_bytes",
            "Bytes on the wire of measured requests (sent) and their replies (received), by operation",
            &bytes,
        )?;
        counter(
            &mut enc,
            "mcptop_protocol_violations",
            "Replies to no request, duplicates, invalid or over-long lines",
            &[(vec![], s.protocol.violations)],
        )?;
        self.load(&mut enc)?;
        let mut latency = Vec::new();
        for d in &s.distributions {
            let mut c = op(&d.label);
            c.push(("latency", "corrected".into()));
            latency.push((c, &d.corrected));
            let mut v = op(&d.label);
            v.push(("latency", "service".into()));
            latency.push((v, &d.service));
        }
        histogram(
            &mut enc,
            "mcptop_latency_seconds",
            "Latency of successful requests: corrected (from the planned start) and service (from the send)",
            &latency,
        )?;
        self.resumption(&mut enc)?;
        self.failover(&mut enc)?;
        self.processes(&mut enc)?;
        self.allocator(&mut enc)
    }
}

impl SnapshotCollector {
    /// SSE resumption (`resume_after`): nothing when no call resumed.
    fn resumption(&self, enc: &mut DescriptorEncoder) -> std::fmt::Result {
        let resume = &self.0.sse_resume;
        if resume.is_empty() {
            return Ok(());
        }
        let op = |label: &str| -> Labels { vec![("op", label.to_string())] };
        let replay: Vec<(Labels, &FixedBuckets)> =
            resume.iter().map(|r| (op(&r.op), &r.replay)).collect();
        histogram(
            enc,
            "mcptop_sse_replay_seconds",
            "SSE resumption: the Last-Event-ID request sent to the last replayed event received",
            &replay,
        )?;
        let count = |f: fn(&crate::transport::resume_figures::ResumeStats) -> u64| {
            resume
                .iter()
                .map(|r| (op(&r.op), f(&r.stats)))
                .collect::<Vec<_>>()
        };
        counter(
            enc,
            "mcptop_sse_resume_duplicates",
            "SSE resumption: numbered events received more than once",
            &count(|s| s.duplicates),
        )?;
        counter(
            enc,
            "mcptop_sse_resume_gaps",
            "SSE resumption: numbered events that never arrived",
            &count(|s| s.gaps),
        )
    }

    /// Failover (`failover = true`): the sessions' moves between targets;
    /// nothing without failover, and no time before a move finished.
    fn failover(&self, enc: &mut DescriptorEncoder) -> std::fmt::Result {
        let Some(f) = &self.0.failover else {
            return Ok(());
        };
        gauge(
            enc,
            "mcptop_failover_sessions_migrated",
            "Failover: sessions that moved to another target at least once",
            &[(vec![], f64::from(f.sessions_migrated))],
        )?;
        gauge(
            enc,
            "mcptop_failover_sessions_migrated_ratio",
            "Failover: share of the sessions that moved (0 to 1)",
            &[(vec![], f.migrated_pct / 100.0)],
        )?;
        let times: Vec<(Labels, f64)> = [("0.5", f.failover_p50_s), ("1", f.failover_max_s)]
            .into_iter()
            .filter_map(|(q, t)| Some((vec![("quantile", q.to_string())], t?)))
            .collect();
        if !times.is_empty() {
            gauge(
                enc,
                "mcptop_failover_time_seconds",
                "Failover: failure seen to the first reply from the next target, median (0.5) and max (1) over finished moves",
                &times,
            )?;
        }
        counter(
            enc,
            "mcptop_failover_requests_lost",
            "Failover: requests on the wire when their session's target failed",
            &[(vec![], f.requests_lost)],
        )?;
        counter(
            enc,
            "mcptop_failover_requests_not_sent",
            "Failover: requests planned while their session was moving",
            &[(vec![], f.requests_not_sent)],
        )?;
        let by_target = |v: fn(&crate::metrics::failover::TargetShare) -> f64| {
            f.answered
                .iter()
                .map(|t| (vec![("target", t.target.clone())], v(t)))
                .collect::<Vec<_>>()
        };
        gauge(
            enc,
            "mcptop_failover_replies_share_ratio",
            "Failover: each target's share of the replies (0 to 1)",
            &by_target(|t| t.share_pct / 100.0),
        )?;
        let replies: Vec<(Labels, u64)> = f
            .answered
            .iter()
            .map(|t| (vec![("target", t.target.clone())], t.ok))
            .collect();
        counter(
            enc,
            "mcptop_failover_replies",
            "Failover: replies each target gave",
            &replies,
        )
    }

    fn load(&self, enc: &mut DescriptorEncoder) -> std::fmt::Result {
        let s = &self.0;
        let phases = [
            Phase::Connecting,
            Phase::Warmup,
            Phase::Measuring,
            Phase::Draining,
            Phase::Done,
        ];
        let phase: Vec<(Labels, f64)> = phases
            .iter()
            .map(|p| {
                (
                    vec![("phase", p.name().to_string())],
                    f64::from(u8::from(*p == s.phase)),
                )
            })
            .collect();
        gauge(enc, "mcptop_phase", "1 for the phase the run is in", &phase)?;
        gauge(
            enc,
            "mcptop_measured_seconds",
            "Measured time so far (not warm-up, not paused)",
            &[(vec![], s.elapsed.as_secs_f64())],
        )?;
        gauge(
            enc,
            "mcptop_in_flight",
            "Requests sent and not yet answered",
            &[(vec![], s.load.in_flight as f64)],
        )?;
        gauge(
            enc,
            "mcptop_sessions",
            "MCP sessions",
            &[(vec![], f64::from(s.load.sessions))],
        )?;
        let last = s.last.as_ref();
        let mut rates: Vec<(Labels, f64)> = vec![
            (
                vec![("rate", "achieved".into())],
                last.map_or(0.0, |i| i.throughput),
            ),
            (
                vec![("rate", "sent".into())],
                last.map_or(0.0, |i| i.sent_rate),
            ),
        ];
        if let Some(asked) = last.and_then(|i| i.asked_rate).or(s.load.rate) {
            rates.push((vec![("rate", "asked".into())], asked));
        }
        gauge(
            enc,
            "mcptop_requests_per_second",
            "The last interval's rates: asked (open loop), sent, achieved (successes)",
            &rates,
        )
    }

    fn processes(&self, enc: &mut DescriptorEncoder) -> std::fmt::Result {
        let Some(m) = &self.0.memory else {
            return Ok(());
        };
        let procs: Vec<(&str, &ProcessStats)> = [("mcptop", &m.mcptop), ("target", &m.target)]
            .into_iter()
            .filter_map(|(n, p)| p.as_ref().map(|p| (n, p)))
            .collect();
        let series = |f: fn(&ProcessStats) -> f64| -> Vec<(Labels, f64)> {
            procs
                .iter()
                .map(|(n, p)| (vec![("process", n.to_string())], f(p)))
                .collect()
        };
        gauge(
            enc,
            "mcptop_process_resident_memory_bytes",
            "Resident memory of mcptop and of the target (its processes summed)",
            &series(|p| p.rss_bytes as f64),
        )?;
        gauge(
            enc,
            "mcptop_process_cpu_percent",
            "CPU use in percent of one core, over the last sample",
            &series(|p| p.cpu_percent),
        )?;
        gauge(
            enc,
            "mcptop_process_threads",
            "Threads",
            &series(|p| p.threads as f64),
        )?;
        gauge(
            enc,
            "mcptop_process_open_fds",
            "Open file descriptors",
            &series(|p| p.open_fds as f64),
        )
    }

    fn allocator(&self, enc: &mut DescriptorEncoder) -> std::fmt::Result {
        let Some(a) = &self.0.allocator else {
            return Ok(());
        };
        let bytes: Vec<(Labels, f64)> = [
            ("allocated", a.allocated_bytes),
            ("active", a.active_bytes),
            ("resident", a.resident_bytes),
            ("retained", a.retained_bytes),
            ("metadata", a.metadata_bytes),
        ]
        .iter()
        .map(|(k, v)| (vec![("kind", k.to_string())], *v as f64))
        .collect();
        gauge(
            enc,
            "mcptop_allocator_bytes",
            "mcptop's allocator (jemalloc): bytes by kind",
            &bytes,
        )?;
        gauge(
            enc,
            "mcptop_allocator_allocations_per_second",
            "Allocations per second in mcptop",
            &[(vec![], a.allocs_per_s)],
        )?;
        gauge(
            enc,
            "mcptop_allocator_allocated_bytes_per_second",
            "Bytes allocated per second in mcptop",
            &[(vec![], a.bytes_per_s)],
        )?;
        let per_request: Vec<(Labels, f64)> = [
            ("allocations", a.allocs_per_request),
            ("bytes", a.bytes_per_request),
        ]
        .iter()
        .filter_map(|(k, v)| v.map(|v| (vec![("per", k.to_string())], v)))
        .collect();
        gauge(
            enc,
            "mcptop_allocator_per_request",
            "Allocations and bytes per completed request over the measured window",
            &per_request,
        )
    }
}

/// The `/metrics` endpoint: listening from `start` until dropped.
pub struct Endpoint {
    addr: SocketAddr,
    task: tokio::task::JoinHandle<()>,
    latest: Arc<Latest>,
}

impl Endpoint {
    /// Binds ADDR (a port alone binds 127.0.0.1) and serves `/metrics`.
    pub async fn start(given: &str) -> anyhow::Result<Endpoint> {
        Endpoint::start_labelled(given, Vec::new()).await
    }

    /// As `start`, with `labels` on every series (`shard`).
    pub async fn start_labelled(
        given: &str,
        labels: Vec<(String, String)>,
    ) -> anyhow::Result<Endpoint> {
        let addr = crate::server::net::listen_address(given, DEFAULT_PORT);
        let listener = tokio::net::TcpListener::bind(&addr)
            .await
            .map_err(|e| anyhow::anyhow!("--prometheus {addr}: cannot listen: {e}"))?;
        let local = listener.local_addr()?;
        if !local.ip().to_canonical().is_loopback() {
            eprintln!(
                "warning: --prometheus binds {local}, which is not a loopback address: other \
                 machines can read the run's metrics"
            );
        }
        let latest = Arc::new(Latest {
            labels,
            ..Latest::default()
        });
        if let Ok(mut live) = LIVE.lock() {
            *live = Some(latest.clone());
        }
        let shared = latest.clone();
        let task = tokio::spawn(async move {
            while let Ok((stream, _)) = listener.accept().await {
                let latest = shared.clone();
                tokio::spawn(serve_one(stream, latest));
            }
        });
        Ok(Endpoint {
            addr: local,
            task,
            latest,
        })
    }

    pub fn addr(&self) -> SocketAddr {
        self.addr
    }
}

impl Drop for Endpoint {
    fn drop(&mut self) {
        self.task.abort();
        if let Ok(mut live) = LIVE.lock() {
            if live.as_ref().is_some_and(|l| Arc::ptr_eq(l, &self.latest)) {
                *live = None;
            }
        }
    }
}

async fn serve_one(stream: tokio::net::TcpStream, latest: Arc<Latest>) {
    use http_body_util::Full;
    use hyper::body::Bytes;
    let service = hyper::service::service_fn(move |request: hyper::Request<_>| {
        let latest = latest.clone();
        async move {
            let (status, body) = if request.uri().path() != "/metrics" {
                (404, "not found: the metrics are at /metrics\n".to_string())
            } else {
                let snap = latest
                    .snapshot
                    .lock()
                    .ok()
                    .and_then(|s| s.clone())
                    .unwrap_or_default();
                (200, exposition_labelled(&snap, &latest.labels))
            };
            hyper::Response::builder()
                .status(status)
                .header(
                    "content-type",
                    if status == 200 {
                        CONTENT_TYPE
                    } else {
                        "text/plain"
                    },
                )
                .body(Full::new(Bytes::from(body)))
        }
    });
    let io = hyper_util::rt::TokioIo::new(stream);
    // A scrape that breaks off is the scraper's business.
    let _ = hyper::server::conn::http1::Builder::new()
        .serve_connection(io, service)
        .await;
}

#[cfg(test)]
mod tests;
