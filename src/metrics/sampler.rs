//! The resource sampler: a plain thread that reads mcptop's and the target's
//! processes (each stdio child's whole process group, so a server behind a
//! launcher is counted) and the allocator every `SAMPLE_PERIOD`, feeding a
//! `resources::ResourceRecorder`. The engine tells it when sessions connect
//! (for the cost of one session), and the recorder asks it for the memory
//! and allocator figures of every snapshot it makes (which also marks the
//! measured window) and of the run's metrics.

use super::connections::ConnectionWatch;
use super::resources::{ProfilerMark, RequestMark, ResourceReading, ResourceRecorder};
use super::snapshot::{MemoryStats, Phase};
use super::{alloc, process, RunMetrics, Snapshot};
use std::sync::atomic::{AtomicBool, AtomicU32, AtomicU64, Ordering};
use std::sync::{Arc, Mutex, MutexGuard, PoisonError};
use std::time::{Duration, Instant};

/// How often processes and the allocator are read.
pub const SAMPLE_PERIOD: Duration = Duration::from_millis(250);

struct Shared {
    started: Instant,
    enabled: bool,
    recorder: Mutex<ResourceRecorder>,
    /// Target processes other than mcptop itself (`--target-pid`).
    target_pids: Mutex<Vec<u32>>,
    /// Process groups led by the sessions' children.
    target_groups: Mutex<Vec<u32>>,
    sessions: AtomicU32,
    /// RSS of each target process when its session connected, summed.
    target_rss_at_connect: AtomicU64,
    measuring_ended: AtomicBool,
    stop: AtomicBool,
    /// The sampling thread, woken by `stop` so a run's end waits for no
    /// sampling period.
    thread: Mutex<Option<std::thread::Thread>>,
    /// The transports' connection phases and TLS warnings (set by the run).
    connections: Mutex<Option<ConnectionWatch>>,
    /// The target's GC reports (`metrics::gc`), when the run reads them.
    gc: Mutex<Option<super::gc::GcMonitor>>,
}

/// Process and allocator sampling for one run. Cheap to clone; every clone
/// sees the same readings.
#[derive(Clone)]
pub struct ResourceMonitor {
    shared: Arc<Shared>,
}

impl ResourceMonitor {
    /// `enabled: false` measures nothing (and stops counting allocations), to
    /// measure what the sampling costs. `target_pids` adds processes to
    /// watch beyond the ones sessions report (`--target-pid`).
    pub fn new(enabled: bool, target_pids: Vec<u32>) -> ResourceMonitor {
        alloc::set_counting(enabled);
        let monitor = ResourceMonitor {
            shared: Arc::new(Shared {
                started: Instant::now(),
                enabled,
                recorder: Mutex::new(ResourceRecorder::new()),
                target_pids: Mutex::new(Vec::new()),
                target_groups: Mutex::new(Vec::new()),
                sessions: AtomicU32::new(0),
                target_rss_at_connect: AtomicU64::new(0),
                measuring_ended: AtomicBool::new(false),
                stop: AtomicBool::new(false),
                thread: Mutex::new(None),
                connections: Mutex::new(None),
                gc: Mutex::new(None),
            }),
        };
        for pid in target_pids {
            monitor.add_target_pid(pid);
        }
        if enabled {
            let rss = process::read_self().map_or(0, |r| r.rss_bytes);
            monitor.recorder().session_connected(0, rss);
        }
        monitor
    }

    pub fn enabled(&self) -> bool {
        self.shared.enabled
    }

    fn recorder(&self) -> MutexGuard<'_, ResourceRecorder> {
        // A panic while holding the lock leaves plain data; keep using it.
        self.shared
            .recorder
            .lock()
            .unwrap_or_else(|e| e.into_inner())
    }

    fn now_s(&self) -> f64 {
        self.shared.started.elapsed().as_secs_f64()
    }

    pub fn add_target_pid(&self, pid: u32) {
        if pid == std::process::id() {
            return;
        }
        let mut pids = self
            .shared
            .target_pids
            .lock()
            .unwrap_or_else(|e| e.into_inner());
        if !pids.contains(&pid) {
            pids.push(pid);
        }
    }

    fn add_target_group(&self, pgid: u32) {
        let mut groups = self
            .shared
            .target_groups
            .lock()
            .unwrap_or_else(|e| e.into_inner());
        if !groups.contains(&pgid) {
            groups.push(pgid);
        }
    }

    fn target_groups(&self) -> Vec<u32> {
        self.shared
            .target_groups
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .clone()
    }

    /// Target processes other than mcptop, in the order they appeared: the
    /// given ones, then every process now in the sessions' groups.
    pub fn target_pids(&self) -> Vec<u32> {
        let mut pids = self
            .shared
            .target_pids
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .clone();
        let groups = self.target_groups();
        let mut members = crate::transport::group::members_of(&groups);
        members.sort_by_key(|&(g, p)| (groups.iter().position(|&x| x == g), p != g, p));
        for (_, p) in members {
            if !pids.contains(&p) {
                pids.push(p);
            }
        }
        pids
    }

    /// Reads everything once, now.
    pub fn read_now(&self) -> ResourceReading {
        let pids = self
            .shared
            .target_pids
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .clone();
        let groups = self.target_groups();
        ResourceReading {
            t_s: self.now_s(),
            mcptop: process::read_self(),
            target: if pids.is_empty() && groups.is_empty() {
                None
            } else {
                process::read_groups(&groups, &pids)
            },
            alloc: alloc::installed().then(alloc::read),
        }
    }

    /// Starts the sampling thread; it runs until `stop` (or the last clone is dropped).
    pub fn start(&self) -> Option<std::thread::JoinHandle<()>> {
        if !self.shared.enabled {
            return None;
        }
        let weak = Arc::downgrade(&self.shared);
        let handle = std::thread::Builder::new()
            .name("mcptop-sampler".into())
            .spawn(move || loop {
                let Some(shared) = weak.upgrade() else { return };
                if shared.stop.load(Ordering::Relaxed) {
                    return;
                }
                let monitor = ResourceMonitor { shared };
                let reading = monitor.read_now();
                monitor.recorder().push(reading);
                drop(monitor);
                let next = Instant::now() + SAMPLE_PERIOD;
                while let Some(wait) = next.checked_duration_since(Instant::now()) {
                    if wait.is_zero()
                        || weak
                            .upgrade()
                            .is_none_or(|s| s.stop.load(Ordering::Relaxed))
                    {
                        break;
                    }
                    std::thread::park_timeout(wait);
                }
            })
            .ok()?;
        *self.shared.thread.lock().unwrap_or_else(|e| e.into_inner()) =
            Some(handle.thread().clone());
        Some(handle)
    }

    /// Also completes snapshots and metrics with what the transports
    /// measured about reaching the target (whether or not resources are
    /// sampled).
    pub fn watch_connections(&self, watch: ConnectionWatch) {
        *self.connections() = Some(watch);
    }

    /// The run measures from `start` (what came before is warm-up).
    pub fn measure_from(&self, start: tokio::time::Instant) {
        if let Some(watch) = self.connections().as_ref() {
            watch.measure_from(start);
        }
    }

    fn connections(&self) -> MutexGuard<'_, Option<ConnectionWatch>> {
        self.shared
            .connections
            .lock()
            .unwrap_or_else(|e| e.into_inner())
    }

    pub fn stop(&self) {
        self.shared.stop.store(true, Ordering::Relaxed);
        if let Some(thread) = self
            .shared
            .thread
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .as_ref()
        {
            thread.unpark();
        }
    }

    /// Called when a session connected: remembers its process group (a
    /// session's child leads one) and, for the sessions [`reads_rss_at`]
    /// picks, the RSS now.
    pub fn session_connected(&self, pid: Option<u32>) {
        if !self.shared.enabled {
            return;
        }
        let sessions = self.shared.sessions.fetch_add(1, Ordering::Relaxed) + 1;
        if let Some(pid) = pid.filter(|&p| p != std::process::id()) {
            self.add_target_group(pid);
            let rss = process::read_groups(&[pid], &[]).map_or(0, |r| r.rss_bytes);
            self.shared
                .target_rss_at_connect
                .fetch_add(rss, Ordering::Relaxed);
        }
        if !reads_rss_at(sessions) {
            return;
        }
        let total = process::read_self_rss().unwrap_or(0)
            + self.shared.target_rss_at_connect.load(Ordering::Relaxed);
        self.recorder().session_connected(sessions, total);
    }

    /// mcptop's in-process profiler is about to start: returns what
    /// `profiler_running` needs once it has.
    pub fn profiler_starting(&self) -> u64 {
        process::read_self_rss().unwrap_or(0)
    }

    /// The profiler started (mcptop's RSS was `rss_before` just before):
    /// mcptop's growth is judged from now on, and the step is shown apart.
    pub fn profiler_running(&self, rss_before: u64) {
        if !self.shared.enabled {
            return;
        }
        let mark = ProfilerMark {
            running_at_s: self.now_s(),
            rss_before,
            rss_after: process::read_self_rss().unwrap_or(0),
        };
        self.recorder().profiler_started(mark);
    }

    /// Marks the measured window: `phase` is the run's phase now and
    /// `requests` the requests measured so far.
    fn mark(&self, phase: Phase, requests: u64) {
        if !self.shared.enabled {
            return;
        }
        let (allocs, bytes) = alloc::counts();
        let mark = RequestMark {
            requests,
            allocs,
            bytes,
        };
        // The last reading of the run is taken as measuring ends, before the
        // drain: the run's CPU figures cover the load only.
        let ending =
            phase >= Phase::Draining && !self.shared.measuring_ended.swap(true, Ordering::Relaxed);
        let final_reading = ending.then(|| self.read_now());
        let t = self.now_s();
        let mut rec = self.recorder();
        match phase {
            Phase::Connecting | Phase::Warmup => {}
            Phase::Measuring => {
                rec.measuring_started(t, mark);
                rec.measured_until(t, mark);
            }
            Phase::Draining | Phase::Done => {
                if let Some(reading) = final_reading {
                    rec.measuring_ended(reading, mark);
                }
            }
        }
    }

    /// Reads the target's GC reports into every snapshot and the run's
    /// metrics too (on even with `--no-memory-stats`: they cost mcptop nothing
    /// to read, and `--no-gc-report` turns them off at the source).
    pub fn watch_gc(&self, gc: super::gc::GcMonitor) {
        *self
            .shared
            .gc
            .lock()
            .unwrap_or_else(PoisonError::into_inner) = Some(gc);
    }

    fn gc(&self) -> Option<super::gc::GcMonitor> {
        self.shared
            .gc
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .clone()
    }

    /// Completes a snapshot the recorder is making: marks the measured
    /// window (by its phase and requests so far) and fills its memory,
    /// allocator and warnings (a suspected leak, file descriptors running
    /// out). The only place these warnings are decided.
    pub fn complete(&self, snap: &mut Snapshot) {
        if let Some(watch) = self.connections().as_ref() {
            watch.complete(snap);
        }
        if let Some(gc) = self.gc() {
            gc.complete(snap);
        }
        if !self.shared.enabled {
            return;
        }
        self.mark(snap.phase, snap.total.ok + snap.total.errors);
        let rec = self.recorder();
        snap.memory = rec.memory();
        snap.allocator = rec.allocator();
        if let Some(mem) = &snap.memory {
            snap.warnings.extend(fd_warnings(mem));
        }
        if let Some(w) = rec.leak_warning() {
            snap.warnings.push(w);
        }
    }

    /// Stops sampling and puts the run's memory and allocator figures into `metrics`.
    pub fn finish(&self, metrics: &mut RunMetrics) {
        self.stop();
        if let Some(watch) = self.connections().as_ref() {
            watch.finish(metrics);
        }
        if let Some(gc) = self.gc() {
            gc.finish(metrics);
        }
        if !self.shared.enabled {
            return;
        }
        let rec = self.recorder();
        metrics.memory = rec.memory();
        metrics.allocator = rec.allocator();
        if let Some(a) = metrics.allocator {
            metrics.overall.allocs_per_request = a.allocs_per_request;
            metrics.overall.bytes_per_request = a.bytes_per_request;
        }
        if let Some(w) = rec.leak_warning() {
            metrics.warnings.push(w);
        }
    }
}

/// Whether the `n`th session to connect reads mcptop's RSS for the
/// per-session memory slope. A read costs a `/proc` read (about 40 µs of
/// system time): at 50,000 sessions, reading at every one was about two
/// seconds of CPU spent while connecting. The first 256 are read (small runs
/// keep every point), then one in 64; the slope is a least-squares fit over
/// the points, which thinning them evenly does not bias.
fn reads_rss_at(n: u32) -> bool {
    n <= 256 || n.is_multiple_of(64)
}

/// Share of the file descriptor limit in use at which the live screen warns.
const FD_WARN_SHARE: f64 = 0.8;

/// A warning for each process that has used most of its file descriptors.
fn fd_warnings(mem: &MemoryStats) -> Vec<String> {
    let mut out = Vec::new();
    for (who, stats) in [("mcptop", &mem.mcptop), ("target", &mem.target)] {
        let Some(p) = stats else { continue };
        if let Some(limit) = p.fd_limit.filter(|l| *l > 0) {
            if p.open_fds as f64 >= limit as f64 * FD_WARN_SHARE {
                out.push(format!(
                    "{who}: {} of {limit} file descriptors open",
                    p.open_fds
                ));
            }
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::metrics::snapshot::ProcessStats;

    #[test]
    fn past_256_sessions_one_in_64_reads_the_rss() {
        let reads = |n: u32| (1..=n).filter(|&i| reads_rss_at(i)).count();
        assert_eq!(reads(4), 4);
        assert_eq!(reads(256), 256);
        assert_eq!(reads(320), 257);
        assert_eq!(reads(50_000), 256 + (50_000 - 256) / 64);
    }

    #[test]
    fn most_file_descriptors_in_use_is_a_warning() {
        let mem = MemoryStats {
            target: Some(ProcessStats {
                open_fds: 900,
                fd_limit: Some(1024),
                ..ProcessStats::default()
            }),
            mcptop: Some(ProcessStats {
                open_fds: 10,
                fd_limit: Some(1024),
                ..ProcessStats::default()
            }),
            ..MemoryStats::default()
        };
        assert_eq!(
            fd_warnings(&mem),
            vec!["target: 900 of 1024 file descriptors open".to_string()]
        );
    }
}
