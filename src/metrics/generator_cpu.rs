//! mcptop's own CPU time per request (the generator's cost, issue 14): read
//! at every recorder tick from the process's CPU clock (user + system, the
//! same clock the resource sampler reads), divided by the requests completed
//! in each interval and over the run; and the warning that says when mcptop's
//! CPU, not the target, is what limits the rate. Readings come in with
//! explicit instants (the clock is injectable), so tests are exact.

use super::retention::Ring;
use serde::{Deserialize, Serialize};
use tokio::time::Instant;

/// Share of mcptop's worker cores in use at which its CPU is the limit.
pub const CPU_LIMIT_SHARE: f64 = 0.9;

/// The process's CPU seconds so far (user + system), or `None` when the OS
/// does not say.
pub type CpuClock = Box<dyn FnMut() -> Option<f64> + Send>;

/// mcptop's CPU clock: `getrusage` on Unix (microsecond resolution, one
/// system call; `/proc/self/stat` counts in 10 ms ticks), else the sampler's
/// process reading.
pub fn own_cpu_clock() -> CpuClock {
    Box::new(crate::metrics::process::self_cpu_seconds)
}

/// One interval's generator CPU.
#[derive(Debug, Clone, Copy, Default, PartialEq, Serialize, Deserialize)]
pub struct CpuInterval {
    /// Seconds since measurement started, at the end of the interval (as the
    /// run's `intervals`).
    pub t_s: f64,
    /// mcptop's CPU seconds per second in the interval (1.0 = one core busy).
    pub cores_busy: f64,
    /// CPU µs per completed request; `None` when none completed.
    pub us_per_request: Option<f64>,
}

/// The run's generator CPU, as the result file keeps it.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct GeneratorCpu {
    /// CPU µs per completed request over the measured run.
    pub us_per_request: Option<f64>,
    /// mcptop's CPU seconds over the measured intervals.
    pub cpu_s: f64,
    /// Requests completed (successes and failures) over them.
    pub requests: u64,
    /// Cores mcptop can use: its async runtime's worker threads, at most the
    /// machine's CPUs.
    pub cores: f64,
    /// The target runs inside mcptop (builtin): its CPU is in these figures.
    pub includes_target: bool,
    /// Each interval's figures, oldest first (bounded like the run's).
    pub intervals: Vec<CpuInterval>,
}

/// Reads the CPU clock at ticks and makes `CpuInterval`s.
pub struct CpuMeter {
    clock: CpuClock,
    cores: f64,
    includes_target: bool,
    /// The reading at the latest tick.
    last: Option<(Instant, f64)>,
    cpu_s: f64,
    requests: u64,
    intervals: Ring<CpuInterval>,
}

impl CpuMeter {
    /// `cores`: worker threads (at most the CPUs); `keep`: intervals kept.
    pub fn new(clock: CpuClock, cores: f64, includes_target: bool, keep: usize) -> CpuMeter {
        CpuMeter {
            clock,
            cores,
            includes_target,
            last: None,
            cpu_s: 0.0,
            requests: 0,
            intervals: Ring::new(keep),
        }
    }

    /// Cores mcptop's runtime can keep busy: its worker threads, at most the CPUs.
    pub fn runtime_cores() -> f64 {
        let cpus = std::thread::available_parallelism().map_or(1, |n| n.get());
        let workers = tokio::runtime::Handle::try_current()
            .map_or(cpus, |h| h.metrics().num_workers())
            .max(1);
        workers.min(cpus) as f64
    }

    pub fn includes_target(&self) -> bool {
        self.includes_target
    }

    pub fn cores(&self) -> f64 {
        self.cores
    }

    /// Reads the clock at a tick that closes no interval (warm-up).
    pub fn mark(&mut self, now: Instant) {
        if let Some(cpu) = (self.clock)() {
            self.last = Some((now, cpu));
        }
    }

    /// Closes an interval of `length` seconds ending at `now` (`t_s` into
    /// measuring) in which `completed` requests came back; `None` without two
    /// readings. The CPU rate is read between this tick and the last one (the
    /// first interval's may start in warm-up), and counts for `length`.
    pub fn close(
        &mut self,
        now: Instant,
        (t_s, length): (f64, f64),
        completed: u64,
    ) -> Option<CpuInterval> {
        let before = self.last;
        self.mark(now);
        let ((t0, c0), (t1, c1)) = (before?, self.last?);
        let span = t1.saturating_duration_since(t0).as_secs_f64();
        if span <= 0.0 {
            return None;
        }
        let cores_busy = (c1 - c0).max(0.0) / span;
        let cpu_s = cores_busy * length;
        let interval = CpuInterval {
            t_s,
            cores_busy,
            us_per_request: per_request_us(cpu_s, completed),
        };
        self.cpu_s += cpu_s;
        self.requests += completed;
        self.intervals.push(interval);
        Some(interval)
    }

    pub fn figures(&self) -> GeneratorCpu {
        GeneratorCpu {
            us_per_request: per_request_us(self.cpu_s, self.requests),
            cpu_s: self.cpu_s,
            requests: self.requests,
            cores: self.cores,
            includes_target: self.includes_target,
            intervals: self.intervals.iter().copied().collect(),
        }
    }
}

fn per_request_us(cpu_s: f64, requests: u64) -> Option<f64> {
    (requests > 0).then(|| cpu_s.max(0.0) * 1e6 / requests as f64)
}

/// How the interval's load went, for the CPU warning.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum Pace {
    /// Open loop: sent `sent`/s of `asked`/s asked (behind the rate).
    Behind { asked: f64, sent: f64 },
    /// Open loop and keeping up.
    OnTime,
    /// Closed loop: as fast as replies come.
    Closed,
}

/// The warning when mcptop's CPU is what limits the rate: an open-loop
/// interval behind its asked rate, or a closed loop against a separate
/// target, while mcptop kept `CPU_LIMIT_SHARE` or more of its `cores` busy.
/// A closed loop against the builtin target always shares mcptop's CPU with
/// the server, so it does not warn.
pub fn cpu_limit_warning(
    cpu: &CpuInterval,
    cores: f64,
    includes_target: bool,
    pace: Pace,
) -> Option<String> {
    if cores <= 0.0 || cpu.cores_busy < CPU_LIMIT_SHARE * cores {
        return None;
    }
    let with = if includes_target {
        " (its CPU includes the builtin server running inside it)"
    } else {
        ""
    };
    let per_request = cpu
        .us_per_request
        .map_or(String::new(), |us| format!(", {us:.1} µs CPU per request"));
    let used = format!(
        "mcptop used {:.0}% of its {cores:.0} worker core{}{per_request}{with}",
        cpu.cores_busy / cores * 100.0,
        if cores == 1.0 { "" } else { "s" },
    );
    let at = cpu.t_s;
    match pace {
        Pace::OnTime => None,
        Pace::Closed if includes_target => None,
        Pace::Closed => Some(format!(
            "mcptop's CPU limits the rate at {at:.0}s: {used}; the target may answer faster \
             than measured (give it more worker threads with --threads, or more cores, or run mcptop \
             on another machine)"
        )),
        Pace::Behind { asked, sent } => Some(format!(
            "mcptop's CPU limits the rate at {at:.0}s: sent {sent:.0}/s of {asked:.0}/s asked; \
             {used}"
        )),
    }
}

#[cfg(test)]
mod tests;
