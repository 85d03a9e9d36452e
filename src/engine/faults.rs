//! Faults during a run (`[[faults]]`) and what they did. `arm` wraps every
//! session in a `Resilient` one when the workload has faults or
//! `reconnect`; `Armed::start` runs the faults at their times on the
//! measured clock (SIGKILL, SIGSTOP/SIGCONT, restart, a dropped connection,
//! a client-side delay or blackhole); `Armed::finish` adds the accounting
//! buckets and each fault's recovery figures to the run's metrics. The
//! `FaultLog` is where the sessions say what they saw, each event charged
//! to the latest fault that had happened by then.

use super::churn::Opener;
use super::fault_clock::FaultClock;
use super::reconnect::{ClientFault, Resilient, WrapOptions};
use super::scheduler::Plan;
use crate::metrics::accounting::Accounting;
use crate::metrics::failover::{FailoverReport, FailoverSource, SessionMoves};
use crate::metrics::fault_marks::{FaultMark, FaultMarks};
use crate::metrics::recovery::{self, FaultTimeline};
use crate::metrics::sampler::ResourceMonitor;
use crate::metrics::RunMetrics;
use crate::transport::Connected;
use crate::workload::faults::{Fault, FaultAction, FaultSessions};
use crate::workload::{ScenarioSessions, Workload};
use std::ops::Range;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex, PoisonError};
use tokio::sync::watch;
use tokio::time::Instant;

/// What happened after one fault.
#[derive(Debug, Clone, Default)]
struct Tally {
    fired_at: Option<Instant>,
    /// Measured time (pauses excluded) from the start of measuring to the fault.
    fired_measured: Option<std::time::Duration>,
    in_flight_at_fault: u64,
    in_flight_at_death: u64,
    first_failure: Option<Instant>,
    lost: u64,
    not_sent: u64,
    died: u32,
    back: u32,
}

/// What the sessions saw, charged to the latest fault fired before it.
#[derive(Debug, Default)]
pub struct FaultLog {
    tallies: Mutex<Vec<Tally>>,
    warnings: Mutex<Vec<String>>,
    ended: AtomicBool,
}

impl FaultLog {
    fn new(faults: usize) -> FaultLog {
        FaultLog {
            tallies: Mutex::new(vec![Tally::default(); faults]),
            ..FaultLog::default()
        }
    }

    /// Applies `f` to the tally of the latest fault fired, if any.
    fn charge(&self, f: impl FnOnce(&mut Tally)) {
        if self.ended() {
            return;
        }
        let mut tallies = self.tallies.lock().unwrap_or_else(PoisonError::into_inner);
        if let Some(t) = tallies
            .iter_mut()
            .filter(|t| t.fired_at.is_some())
            .max_by_key(|t| t.fired_at)
        {
            f(t);
        }
    }

    fn fired(&self, index: usize, at: (Instant, std::time::Duration), in_flight: u64) {
        let mut tallies = self.tallies.lock().unwrap_or_else(PoisonError::into_inner);
        if let Some(t) = tallies.get_mut(index) {
            t.fired_at = Some(at.0);
            t.fired_measured = Some(at.1);
            t.in_flight_at_fault = in_flight;
        }
    }

    /// A request failed or timed out, seen at `at`.
    pub fn failure(&self, at: Instant) {
        self.charge(|t| {
            t.first_failure.get_or_insert(at);
        });
    }

    pub fn lost(&self) {
        self.charge(|t| t.lost += 1);
    }

    pub fn not_sent(&self) {
        self.charge(|t| t.not_sent += 1);
    }

    /// A session was seen dead with `on_wire` requests sent and unanswered.
    pub fn session_died(&self, on_wire: u64) {
        self.charge(|t| {
            t.died += 1;
            t.in_flight_at_death += on_wire;
        });
    }

    pub fn session_back(&self) {
        self.charge(|t| t.back += 1);
    }

    pub fn warn(&self, what: String) {
        let mut w = self.warnings.lock().unwrap_or_else(PoisonError::into_inner);
        // Bounded: a target that never comes back fails every attempt.
        if w.len() < 20 {
            w.push(what);
        }
    }

    /// True once the run is over: reconnects stop, late drops are not faults'.
    pub fn ended(&self) -> bool {
        self.ended.load(Ordering::SeqCst)
    }
}

/// The faults of a run, ready to go; inert for a workload without chaos.
pub struct Armed {
    faults: Vec<Fault>,
    sessions: Vec<Arc<Resilient>>,
    /// Session index ranges of each scenario (file order).
    scenario_sessions: Vec<Range<usize>>,
    target_pids: Vec<u32>,
    log: Arc<FaultLog>,
    measure_start: Instant,
    task: Option<tokio::task::JoinHandle<()>>,
    enabled: bool,
    /// The faults fired, for the live screen's markers.
    marks: FaultMarks,
    /// Each flow's steps and the op of its iterations: a flow plans
    /// iterations, so they are what its buckets count.
    flows: Vec<(Range<usize>, usize)>,
    /// With failover: the targets (described) and `failover_timeouts`.
    failover: Option<(Vec<String>, u32)>,
}

/// Wraps the sessions when the workload has faults or `reconnect`, and
/// starts the faults' clock: warm-up starts now (the instant returned), the
/// faults are timed from its end. With faults or reconnect, a session that
/// dies does not stop the run (the driver ignores target exits).
pub fn arm(
    workload: &Workload,
    connected: Vec<Connected>,
    opener: &Opener,
    resources: &Option<ResourceMonitor>,
) -> (Vec<Connected>, Armed, Instant) {
    let t0 = Instant::now();
    let chaos = &workload.chaos;
    let log = Arc::new(FaultLog::new(chaos.faults.len()));
    let mut sessions = Vec::new();
    let scenario_sessions = scenario_sessions(workload);
    let connected = if chaos.expects_failures() {
        connected
            .into_iter()
            .enumerate()
            .map(|(i, c)| {
                let mine =
                    (0..scenario_sessions.len()).filter(|&s| scenario_sessions[s].contains(&i));
                let failover = chaos
                    .failover
                    .as_ref()
                    .map(|f| (f.targets.len(), f.timeouts));
                // A session that fails over opens its next one as a reconnect does.
                let options = WrapOptions {
                    reconnect: chaos.reconnects(mine) || failover.is_some(),
                    failover,
                };
                let wrapped = Resilient::wrap(c, options, log.clone(), opener.clone());
                sessions.push(wrapped.1);
                wrapped.0
            })
            .collect()
    } else {
        connected
    };
    let armed = Armed {
        faults: chaos.faults.clone(),
        sessions,
        scenario_sessions,
        target_pids: resources
            .as_ref()
            .map(|r| r.target_pids())
            .unwrap_or_default(),
        log,
        measure_start: t0 + workload.warmup,
        task: None,
        enabled: chaos.expects_failures(),
        marks: FaultMarks::default(),
        flows: workload
            .scenarios
            .iter()
            .filter(|s| s.flow.is_some())
            .map(|s| (s.ops.clone(), s.ops.end))
            .collect(),
        failover: chaos.failover.as_ref().map(|f| {
            let targets = f.targets.iter().map(|t| t.describe()).collect();
            (targets, f.timeouts)
        }),
    };
    (connected, armed, t0)
}

/// Each scenario's sessions, as `engine::scenarios` lays them out: the
/// shared ones first, then each scenario's own in file order.
fn scenario_sessions(workload: &Workload) -> Vec<Range<usize>> {
    let shared = workload
        .scenarios
        .iter()
        .any(|s| s.sessions == ScenarioSessions::Shared);
    let mut next = if shared {
        workload.sessions as usize
    } else {
        0
    };
    workload
        .scenarios
        .iter()
        .map(|s| match s.sessions {
            ScenarioSessions::Shared => 0..workload.sessions as usize,
            ScenarioSessions::Own(n) => {
                let range = next..next + n as usize;
                next = range.end;
                range
            }
        })
        .collect()
}

impl Armed {
    /// Runs the faults at their times on the measured clock (`plan` says
    /// when the run is paused), beside the load.
    pub fn start(&mut self, pauses: watch::Receiver<Plan>) {
        if self.faults.is_empty() {
            return;
        }
        let plan: Vec<(usize, Fault, Vec<Arc<Resilient>>)> = self
            .faults
            .iter()
            .enumerate()
            .map(|(i, f)| (i, f.clone(), self.hit(f)))
            .collect();
        let marks = self.marks.clone();
        let (log, start, pids) = (
            self.log.clone(),
            self.measure_start,
            self.target_pids.clone(),
        );
        self.task = Some(tokio::spawn(async move {
            let mut order = plan;
            order.sort_by_key(|(_, f, _)| f.at);
            // Dropped with this task when the run ends: a stop still in
            // progress is aborted, and its process gets its SIGCONT.
            let mut running = tokio::task::JoinSet::new();
            let mut clock = FaultClock::new(pauses);
            for (index, fault, hit) in order {
                clock.until(start, fault.at).await;
                let in_flight = hit.iter().map(|s| s.in_flight()).sum();
                let measured = clock.measured(start);
                log.fired(index, (Instant::now(), measured), in_flight);
                // On the charts' clock (since measuring began, pauses
                // included), as the intervals it is drawn among: after a
                // pause, `fault.at` of measured time would sit that much
                // early. The label keeps the workload's `at`.
                marks.push(FaultMark {
                    label: fault.label(),
                    t_s: Instant::now()
                        .saturating_duration_since(start)
                        .as_secs_f64(),
                });
                let pids = match fault.target {
                    // The `--target-pid` given in that target's place.
                    Some(t) => pids.get(t).copied().into_iter().collect(),
                    None => pids.clone(),
                };
                let named = fault.target.is_some();
                running.spawn(act(fault.action, named, hit, pids, log.clone()));
            }
            while running.join_next().await.is_some() {}
        }));
    }

    /// `opener` for churned sessions (`new_session`): in a run that sorts
    /// faults, their failures are sorted too.
    pub fn churn_opener(&self, opener: Opener) -> Opener {
        if self.enabled {
            opener.sorting_into(self.log.clone())
        } else {
            opener
        }
    }

    /// Where the faults are marked as they fire.
    pub fn marks(&self) -> FaultMarks {
        self.marks.clone()
    }

    /// Has `recorder` show the faults' marks and, with failover, the
    /// sessions' moves in its snapshots.
    pub fn watch_from(&self, recorder: &mut crate::metrics::recorder::Recorder) {
        recorder.watch_faults(self.marks());
        recorder.watch_failover(self.failover_source());
    }

    /// The sessions a fault hits.
    fn hit(&self, fault: &Fault) -> Vec<Arc<Resilient>> {
        let range = match fault.scenario {
            Some(s) => self.scenario_sessions.get(s).cloned().unwrap_or(0..0),
            None => 0..self.sessions.len(),
        };
        let pool = self.sessions.get(range).unwrap_or_default();
        match fault.sessions {
            FaultSessions::All => pool.to_vec(),
            FaultSessions::First(n) => pool.iter().take(n as usize).cloned().collect(),
        }
    }

    /// Ends the faults (a stopped process gets its SIGCONT) and adds the
    /// accounting and recovery figures to `metrics`.
    pub fn finish(mut self, mut metrics: RunMetrics, unfinished: u64) -> RunMetrics {
        self.log.ended.store(true, Ordering::SeqCst);
        if let Some(task) = self.task.take() {
            task.abort();
        }
        if !self.enabled {
            return metrics;
        }
        let (ok, errors) = planned_units(&metrics, &self.flows);
        metrics.accounting = Some(Accounting::from_counts(
            metrics.planned_sends,
            metrics.sends,
            ok,
            &errors,
            unfinished,
        ));
        let tallies = self
            .log
            .tallies
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .clone();
        // The intervals' axis (their `t_s`) counts pauses; so do the wall
        // instants here: the recovery figures are read on it, and a fault's
        // `at_s` is then reported on the measured clock its `at` was given in.
        let secs = |t: Instant| {
            t.saturating_duration_since(self.measure_start)
                .as_secs_f64()
        };
        let first_at = tallies
            .iter()
            .filter_map(|t| t.fired_at.map(secs))
            .fold(f64::INFINITY, f64::min);
        metrics.faults = self
            .faults
            .iter()
            .zip(&tallies)
            .filter_map(|(f, t)| Some((f, t, t.fired_at?)))
            .map(|(f, t, fired)| {
                let timeline = FaultTimeline {
                    label: f.label(),
                    at_s: secs(fired),
                    first_failure_s: t.first_failure.map(secs),
                    lost: t.lost,
                    in_flight_at_fault: t.in_flight_at_fault,
                    in_flight_at_death: t.in_flight_at_death,
                    not_sent: t.not_sent,
                    sessions_died: t.died,
                    sessions_back: t.back,
                };
                let mut r = recovery::recovery(&metrics.intervals, &timeline, first_at);
                r.at_s = t.fired_measured.unwrap_or(f.at).as_secs_f64();
                r
            })
            .collect();
        let warnings = self
            .log
            .warnings
            .lock()
            .unwrap_or_else(PoisonError::into_inner);
        metrics.warnings.extend(warnings.iter().cloned());
        metrics.failover = self.failover_report();
        metrics
    }

    /// The sessions' moves between targets, with failover.
    fn failover_report(&self) -> Option<FailoverReport> {
        failover_report(&self.sessions, self.failover.as_ref())
    }

    /// The failover figures as the run goes, for the live screen and
    /// `/metrics`.
    pub fn failover_source(&self) -> FailoverSource {
        if self.failover.is_none() {
            return FailoverSource::default();
        }
        // Weak: the figures must not keep a session (and its child) alive
        // after the run let it go.
        let sessions: Vec<_> = self.sessions.iter().map(Arc::downgrade).collect();
        let failover = self.failover.clone();
        FailoverSource::new(move || {
            let sessions: Vec<_> = sessions.iter().filter_map(|s| s.upgrade()).collect();
            failover_report(&sessions, failover.as_ref())
        })
    }
}

/// The sessions' moves between targets, with failover (`targets`, `timeouts`).
fn failover_report(
    sessions: &[Arc<Resilient>],
    failover: Option<&(Vec<String>, u32)>,
) -> Option<FailoverReport> {
    let (targets, timeouts) = failover.cloned()?;
    let moves: Vec<SessionMoves> = sessions
        .iter()
        .filter_map(|s| s.failover_figures())
        .map(|(migrations, answered)| SessionMoves {
            took_s: migrations
                .iter()
                .map(|m| m.took().map(|d| d.as_secs_f64()))
                .collect(),
            lost: migrations.iter().map(|m| m.lost).sum(),
            not_sent: migrations.iter().map(|m| m.not_sent).sum(),
            answered,
        })
        .collect();
    Some(FailoverReport::build(targets, timeouts, &moves))
}

/// The successes and failures by kind in the units the run planned:
/// requests, except that a flow's steps count as its iterations (each ends
/// ok or in the bucket of the step that ended it).
fn planned_units(
    metrics: &RunMetrics,
    flows: &[(Range<usize>, usize)],
) -> (u64, std::collections::BTreeMap<String, u64>) {
    let mut ok = metrics.overall.ok;
    let mut errors = metrics.overall.errors_by_kind.clone();
    for (steps, iteration) in flows {
        for (op, add) in steps
            .clone()
            .map(|i| (i, false))
            .chain([(*iteration, true)])
        {
            let Some(m) = metrics.ops.get(op) else {
                continue;
            };
            let apply = |total: u64, n: u64| match add {
                true => total + n,
                false => total.saturating_sub(n),
            };
            ok = apply(ok, m.ok);
            for (kind, n) in &m.errors_by_kind {
                let e = errors.entry(kind.clone()).or_default();
                *e = apply(*e, *n);
            }
        }
    }
    errors.retain(|_, n| *n > 0);
    (ok, errors)
}

/// A run that ends without `finish` (its future dropped) still ends its
/// faults: a stopped process gets its SIGCONT.
impl Drop for Armed {
    fn drop(&mut self) {
        self.log.ended.store(true, Ordering::SeqCst);
        if let Some(task) = self.task.take() {
            task.abort();
        }
    }
}

/// Sends `sig` to a session's process group (stdio children lead their
/// own), or to a `--target-pid` process.
fn signal(pid: u32, group: bool, sig: libc::c_int) {
    let Ok(id) = i32::try_from(pid) else { return };
    // SAFETY: kill(2) on a process this run started or was pointed at.
    unsafe {
        libc::kill(if group { -id } else { id }, sig);
    }
}

/// Sends SIGCONT when dropped, so a stopped process is never left stopped
/// (the run may end during the stop).
struct Resume(Vec<(u32, bool)>);

impl Drop for Resume {
    fn drop(&mut self) {
        for &(pid, group) in &self.0 {
            signal(pid, group, libc::SIGCONT);
        }
    }
}

/// The processes a fault signals: the hit sessions' children, else the
/// `--target-pid` processes (a network target run elsewhere).
fn processes(hit: &[Arc<Resilient>], target_pids: &[u32], target: bool) -> Vec<(u32, bool)> {
    if target {
        return target_pids.iter().map(|&p| (p, false)).collect();
    }
    let children: Vec<(u32, bool)> = hit
        .iter()
        .filter_map(|s| s.pid())
        .map(|p| (p, true))
        .collect();
    if children.is_empty() {
        target_pids.iter().map(|&p| (p, false)).collect()
    } else {
        children
    }
}

/// `named`: the fault names a failover target, whose `--target-pid`
/// process is signalled instead of the sessions' children.
async fn act(
    action: FaultAction,
    named: bool,
    hit: Vec<Arc<Resilient>>,
    target_pids: Vec<u32>,
    log: Arc<FaultLog>,
) {
    let needs_process = matches!(
        action,
        FaultAction::Kill | FaultAction::Stop(_) | FaultAction::Restart
    );
    let procs = processes(&hit, &target_pids, named);
    if needs_process && procs.is_empty() {
        log.warn(format!(
            "fault {}: no process to signal (a network target needs --target-pid{})",
            action.name(),
            if named {
                ", given once per failover target in their order"
            } else {
                ""
            }
        ));
        return;
    }
    match action {
        FaultAction::Kill | FaultAction::Restart => {
            for &(pid, group) in &procs {
                signal(pid, group, libc::SIGKILL);
            }
            if action == FaultAction::Restart {
                hit.iter().for_each(|s| s.went_down(true));
            }
        }
        FaultAction::Stop(d) => {
            let resume = Resume(procs.clone());
            for &(pid, group) in &procs {
                signal(pid, group, libc::SIGSTOP);
            }
            tokio::time::sleep(d).await;
            drop(resume);
        }
        FaultAction::DropConnections => hit.iter().for_each(|s| s.drop_connection()),
        FaultAction::Delay { by, window } => {
            let until = Instant::now() + window;
            hit.iter()
                .for_each(|s| s.set_client_fault(ClientFault::Delay { by, until }));
        }
        FaultAction::Blackhole(window) => {
            let until = Instant::now() + window;
            hit.iter()
                .for_each(|s| s.set_client_fault(ClientFault::Blackhole { until }));
        }
    }
}
