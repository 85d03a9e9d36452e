//! Process and allocator measurements turned into rates, slopes and the leak
//! verdict. Readings come in as plain cumulative numbers with explicit times
//! (from the sampler task, or from a test); everything derived from them
//! (CPU %, allocations per second and per request, RSS growth in MiB/min,
//! cost per session, leak suspicion) is computed here and nowhere else.

use super::retention::Ring;
use super::snapshot::{AllocatorStats, MemoryStats, ProcessStats};

/// Samples kept for slopes and charts (ten minutes at four per second).
pub const RESOURCE_HISTORY_LEN: usize = 2400;
/// Fewest samples over which a leak may be suspected (3 s at 250 ms).
pub const LEAK_MIN_SAMPLES: usize = 12;
/// A fit that explains less than this share of the variance is noise.
pub const LEAK_MIN_R2: f64 = 0.8;
/// Growth (fitted, over the judged span) below this is never a leak.
pub const LEAK_MIN_GROWTH_BYTES: f64 = 8.0 * 1024.0 * 1024.0;
/// Nor is growth below this share of the starting RSS.
pub const LEAK_MIN_GROWTH_SHARE: f64 = 0.10;
/// Each half of the run must grow at least this share of the whole run's slope:
/// a warm-up step followed by a flat line is not a leak.
pub const LEAK_HALF_SLOPE_SHARE: f64 = 0.25;
/// Shortest span a CPU rate is taken over (most of one sampler period).
pub const RATE_SPAN_S: f64 = 0.2;

const MIB: f64 = 1024.0 * 1024.0;

/// One process (or a set of processes, summed) as read from the OS.
#[derive(Debug, Clone, Copy, Default, PartialEq)]
pub struct ProcessReading {
    pub pid: u32,
    pub rss_bytes: u64,
    /// User + system CPU time since the process started, summed over the set.
    pub cpu_seconds: f64,
    pub threads: u64,
    pub open_fds: u64,
    pub fd_limit: Option<u64>,
}

/// Cumulative allocator numbers at one instant.
#[derive(Debug, Clone, Copy, Default, PartialEq)]
pub struct AllocReading {
    /// Allocations (alloc, alloc_zeroed, realloc) since the process started.
    pub allocs: u64,
    /// Bytes asked for by those allocations.
    pub bytes: u64,
    pub allocated_bytes: u64,
    pub active_bytes: u64,
    pub resident_bytes: u64,
    pub retained_bytes: u64,
    pub metadata_bytes: u64,
}

/// Everything one sampler pass read.
#[derive(Debug, Clone, Copy, Default, PartialEq)]
pub struct ResourceReading {
    /// Seconds since the sampler started.
    pub t_s: f64,
    pub mcptop: Option<ProcessReading>,
    /// Target processes summed; `None` when the target runs in-process.
    pub target: Option<ProcessReading>,
    pub alloc: Option<AllocReading>,
}

/// A least-squares line through points.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct LineFit {
    pub slope: f64,
    pub intercept: f64,
    /// Share of the variance the line explains (1 for a perfect line; 0 when y is flat).
    pub r2: f64,
}

/// Least-squares fit of y on x; `None` with fewer than two distinct x.
pub fn least_squares(points: &[(f64, f64)]) -> Option<LineFit> {
    let n = points.len() as f64;
    if points.len() < 2 {
        return None;
    }
    let mean_x = points.iter().map(|p| p.0).sum::<f64>() / n;
    let mean_y = points.iter().map(|p| p.1).sum::<f64>() / n;
    let (mut sxx, mut sxy, mut syy) = (0.0, 0.0, 0.0);
    for (x, y) in points {
        let (dx, dy) = (x - mean_x, y - mean_y);
        sxx += dx * dx;
        sxy += dx * dy;
        syy += dy * dy;
    }
    if sxx <= f64::EPSILON {
        return None;
    }
    let slope = sxy / sxx;
    let r2 = if syy <= f64::EPSILON {
        0.0
    } else {
        (sxy * sxy) / (sxx * syy)
    };
    Some(LineFit {
        slope,
        intercept: mean_y - slope * mean_x,
        r2,
    })
}

/// RSS growth in MiB per minute from (seconds, bytes) points.
pub fn slope_mib_per_min(series: &[(f64, f64)]) -> Option<f64> {
    least_squares(series).map(|f| f.slope * 60.0 / MIB)
}

/// Why a series is or is not a suspected leak, with the numbers behind it.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct LeakVerdict {
    pub suspect: bool,
    pub slope_mib_per_min: f64,
    pub r2: f64,
    /// Fitted growth over the judged span, bytes.
    pub growth_bytes: f64,
}

/// A leak is suspected when RSS grows steadily for the whole series: at least
/// `LEAK_MIN_SAMPLES` points, a positive slope whose line explains at least
/// `LEAK_MIN_R2` of the variance, fitted growth above both
/// `LEAK_MIN_GROWTH_BYTES` and `LEAK_MIN_GROWTH_SHARE` of the first RSS, and
/// each half of the series growing at `LEAK_HALF_SLOPE_SHARE` of the overall
/// slope or more (so a step up during warm-up, then flat, does not count).
pub fn judge_leak(series: &[(f64, f64)]) -> Option<LeakVerdict> {
    if series.len() < LEAK_MIN_SAMPLES {
        return None;
    }
    let fit = least_squares(series)?;
    let span = series.last()?.0 - series.first()?.0;
    let growth = fit.slope * span;
    let start = series.first()?.1;
    let half = series.len() / 2;
    let halves_grow = [&series[..half], &series[half..]]
        .iter()
        .all(|h| least_squares(h).is_some_and(|f| f.slope >= LEAK_HALF_SLOPE_SHARE * fit.slope));
    let suspect = fit.slope > 0.0
        && fit.r2 >= LEAK_MIN_R2
        && growth >= LEAK_MIN_GROWTH_BYTES
        && growth >= LEAK_MIN_GROWTH_SHARE * start
        && halves_grow;
    Some(LeakVerdict {
        suspect,
        slope_mib_per_min: fit.slope * 60.0 / MIB,
        r2: fit.r2,
        growth_bytes: growth,
    })
}

/// Marginal cost of one more unit: the slope of (units, bytes) points.
pub fn cost_per_unit(points: &[(f64, f64)]) -> Option<f64> {
    least_squares(points).map(|f| f.slope)
}

/// Counters at one end of the measured window.
#[derive(Debug, Clone, Copy, Default, PartialEq)]
pub struct RequestMark {
    pub requests: u64,
    pub allocs: u64,
    pub bytes: u64,
}

/// Allocations and bytes per completed request between two marks.
pub fn per_request(from: RequestMark, to: RequestMark) -> Option<(f64, f64)> {
    let requests = to.requests.checked_sub(from.requests)?;
    if requests == 0 {
        return None;
    }
    let allocs = to.allocs.checked_sub(from.allocs)? as f64;
    let bytes = to.bytes.checked_sub(from.bytes)? as f64;
    Some((allocs / requests as f64, bytes / requests as f64))
}

/// Collects readings and turns them into `MemoryStats` and `AllocatorStats`.
#[derive(Debug)]
pub struct ResourceRecorder {
    readings: Ring<ResourceReading>,
    /// (sessions open, mcptop + target RSS) while sessions connect.
    session_points: Vec<(f64, f64)>,
    /// Sampler time when measuring began; earlier readings are warm-up.
    measure_from: Option<f64>,
    measure_until: Option<f64>,
    window_start: Option<RequestMark>,
    window_end: Option<RequestMark>,
    /// Measuring is over: the run's figures are read at its end, not from
    /// readings taken while in-flight requests drain and sessions close.
    ended: bool,
    /// mcptop's own CPU profiler, when one ran (`mcptop profile`).
    profiler: Option<ProfilerMark>,
}

/// When the in-process profiler started and mcptop's RSS either side of
/// its start: its sample table is allocated at once, a step that is the
/// profiler's, not the run's.
#[derive(Debug, Clone, Copy, Default, PartialEq)]
pub struct ProfilerMark {
    /// Sampler time once the profiler was running.
    pub running_at_s: f64,
    pub rss_before: u64,
    pub rss_after: u64,
}

impl Default for ResourceRecorder {
    /// Its readings' ring made at full length (`retention::Ring`): ten
    /// minutes of readings are RSS from the start, not growth.
    fn default() -> ResourceRecorder {
        ResourceRecorder {
            readings: Ring::new(RESOURCE_HISTORY_LEN),
            session_points: Vec::new(),
            measure_from: None,
            measure_until: None,
            window_start: None,
            window_end: None,
            ended: false,
            profiler: None,
        }
    }
}

impl ResourceRecorder {
    pub fn new() -> ResourceRecorder {
        ResourceRecorder::default()
    }

    pub fn push(&mut self, reading: ResourceReading) {
        self.readings.push(reading);
    }

    /// A session finished connecting; `rss_bytes` is mcptop plus target RSS after it.
    pub fn session_connected(&mut self, sessions: u32, rss_bytes: u64) {
        self.session_points
            .push((f64::from(sessions), rss_bytes as f64));
    }

    /// Measuring began at sampler time `t_s`, with these counters.
    pub fn measuring_started(&mut self, t_s: f64, mark: RequestMark) {
        if self.measure_from.is_none() {
            self.measure_from = Some(t_s);
            self.window_start = Some(mark);
        }
    }

    /// Measuring ended (or, during the run, the latest counters).
    pub fn measured_until(&mut self, t_s: f64, mark: RequestMark) {
        if self.window_start.is_some() {
            self.measure_until = Some(t_s);
            self.window_end = Some(mark);
        }
    }

    /// Measuring ended with `reading`, taken then (before the drain), and
    /// these counters; later readings still chart memory but no longer give
    /// the run's CPU, RSS or allocator figures.
    pub fn measuring_ended(&mut self, reading: ResourceReading, mark: RequestMark) {
        let t_s = reading.t_s;
        self.push(reading);
        if self.window_start.is_some() {
            self.measured_until(t_s, mark);
            self.ended = true;
        }
    }

    /// The reading the figures are read at (the latest, or the one taken
    /// when measuring ended) and one before it to take rates against: at
    /// least [`RATE_SPAN_S`] earlier when there is one, so the reading at
    /// the end does not make a rate over a few milliseconds.
    fn figure_readings(&self) -> Option<(&ResourceReading, Option<&ResourceReading>)> {
        let until = if self.ended {
            self.measure_until.unwrap_or(f64::INFINITY)
        } else {
            f64::INFINITY
        };
        let mut upto = self.readings.iter().rev().filter(|r| r.t_s <= until);
        let last = upto.next()?;
        let mut earlier = upto.peekable();
        let next = earlier.peek().copied();
        let prev = earlier.find(|r| last.t_s - r.t_s >= RATE_SPAN_S).or(next);
        Some((last, prev))
    }

    fn measured(&self) -> impl Iterator<Item = &ResourceReading> {
        let from = self.measure_from.unwrap_or(f64::INFINITY);
        let until = self.measure_until.unwrap_or(f64::INFINITY);
        self.readings
            .iter()
            .filter(move |r| r.t_s >= from && r.t_s <= until)
    }

    fn rss_series(&self, pick: fn(&ResourceReading) -> Option<u64>) -> Vec<(f64, f64)> {
        self.measured()
            .filter_map(|r| pick(r).map(|b| (r.t_s, b as f64)))
            .collect()
    }

    /// mcptop's RSS over the measured window; with the profiler on, from
    /// once it was running, so its own memory is not judged as the run's.
    fn mcptop_series(&self) -> Vec<(f64, f64)> {
        let from = self.profiler.map_or(f64::NEG_INFINITY, |p| p.running_at_s);
        self.rss_series(|r| r.mcptop.map(|m| m.rss_bytes))
            .into_iter()
            .filter(|(t, _)| *t >= from)
            .collect()
    }

    /// The in-process profiler loaded or started; `mark` says when it was
    /// running and mcptop's RSS either side. Steps add up (loading its
    /// tables before the run, starting it); growth is judged from the last.
    pub fn profiler_started(&mut self, mark: ProfilerMark) {
        let earlier = self
            .profiler
            .map_or(0, |p| p.rss_after.saturating_sub(p.rss_before));
        let step = mark.rss_after.saturating_sub(mark.rss_before);
        self.profiler = Some(ProfilerMark {
            running_at_s: mark.running_at_s,
            rss_before: mark.rss_before,
            rss_after: mark.rss_before.saturating_add(step + earlier),
        });
    }

    /// The process whose growth decides a leak: the target when it is a
    /// separate process, else mcptop (which then hosts the server).
    fn judged_series(&self) -> Vec<(f64, f64)> {
        let target = self.rss_series(|r| r.target.map(|t| t.rss_bytes));
        if target.is_empty() {
            self.mcptop_series()
        } else {
            target
        }
    }

    pub fn leak(&self) -> Option<LeakVerdict> {
        judge_leak(&self.judged_series())
    }

    /// The warning a suspected leak raises, if it does.
    pub fn leak_warning(&self) -> Option<String> {
        let v = self.leak().filter(|v| v.suspect)?;
        let who = if self.readings.iter().any(|r| r.target.is_some()) {
            "target"
        } else {
            "mcptop (with the in-process target)"
        };
        Some(format!(
            "possible memory leak: {who} RSS grew {:.1} MiB at {:.2} MiB/min for the whole run \
             (R² {:.2}); see `mcptop profile` and the allocator stats",
            v.growth_bytes / MIB,
            v.slope_mib_per_min,
            v.r2
        ))
    }

    pub fn memory(&self) -> Option<MemoryStats> {
        let (last, prev) = self.figure_readings()?;
        let stats = |now: Option<ProcessReading>, before: Option<ProcessReading>| {
            now.map(|n| ProcessStats {
                pid: n.pid,
                rss_bytes: n.rss_bytes,
                cpu_percent: match (before, prev) {
                    (Some(b), Some(p)) if last.t_s > p.t_s => {
                        ((n.cpu_seconds - b.cpu_seconds).max(0.0) / (last.t_s - p.t_s)) * 100.0
                    }
                    _ => 0.0,
                },
                threads: n.threads,
                open_fds: n.open_fds,
                fd_limit: n.fd_limit,
            })
        };
        let history_from = self.readings.len().saturating_sub(600);
        Some(MemoryStats {
            mcptop: stats(last.mcptop, prev.and_then(|p| p.mcptop)),
            target: stats(last.target, prev.and_then(|p| p.target)),
            mcptop_slope_mib_per_min: slope_mib_per_min(&self.mcptop_series()),
            profiler_rss_bytes: self
                .profiler
                .map(|p| p.rss_after.saturating_sub(p.rss_before)),
            target_slope_mib_per_min: slope_mib_per_min(
                &self.rss_series(|r| r.target.map(|t| t.rss_bytes)),
            ),
            bytes_per_session: if self.session_points.len() >= 2 {
                cost_per_unit(&self.session_points)
            } else {
                None
            },
            leak_suspect: self.leak().is_some_and(|v| v.suspect),
            target_cpu_us_per_request: self.target_cpu_us_per_request(),
            history: self
                .readings
                .iter()
                .skip(history_from)
                .map(|r| {
                    (
                        r.t_s,
                        r.mcptop.map_or(0, |m| m.rss_bytes),
                        r.target.map_or(0, |t| t.rss_bytes),
                    )
                })
                .collect(),
            allocator_history: self
                .readings
                .iter()
                .skip(history_from)
                .filter_map(|r| {
                    r.alloc
                        .map(|a| (r.t_s, a.allocated_bytes, a.resident_bytes))
                })
                .collect(),
        })
    }

    /// The target's CPU µs per request over the measured window: its CPU
    /// rate between the first and last measured readings, times the
    /// window's length, over the requests completed between the window's
    /// marks. `None` for an in-process target (mcptop's CPU has it).
    pub fn target_cpu_us_per_request(&self) -> Option<f64> {
        let mut cpu = self
            .measured()
            .filter_map(|r| r.target.map(|t| (r.t_s, t.cpu_seconds)));
        let first = cpu.next()?;
        let last = cpu.last()?;
        if last.0 <= first.0 {
            return None;
        }
        let rate = (last.1 - first.1).max(0.0) / (last.0 - first.0);
        let window = self.measure_until? - self.measure_from?;
        let requests = self
            .window_end?
            .requests
            .checked_sub(self.window_start?.requests)?;
        (requests > 0).then(|| rate * window * 1e6 / requests as f64)
    }

    pub fn allocator(&self) -> Option<AllocatorStats> {
        let (last, _) = self.figure_readings()?;
        let a = last.alloc?;
        // Rates over the last second or so, not one 250 ms step.
        let earlier = self
            .readings
            .iter()
            .rev()
            .find(|r| r.alloc.is_some() && last.t_s - r.t_s >= 0.9)
            .or_else(|| self.readings.front());
        let (allocs_per_s, bytes_per_s) = match earlier.and_then(|e| e.alloc.map(|x| (e.t_s, x))) {
            Some((t, e)) if last.t_s > t => {
                let dt = last.t_s - t;
                (
                    a.allocs.saturating_sub(e.allocs) as f64 / dt,
                    a.bytes.saturating_sub(e.bytes) as f64 / dt,
                )
            }
            _ => (0.0, 0.0),
        };
        let per_req = match (self.window_start, self.window_end) {
            (Some(from), Some(to)) => per_request(from, to),
            _ => None,
        };
        Some(AllocatorStats {
            allocated_bytes: a.allocated_bytes,
            active_bytes: a.active_bytes,
            resident_bytes: a.resident_bytes,
            retained_bytes: a.retained_bytes,
            metadata_bytes: a.metadata_bytes,
            fragmentation: if a.active_bytes > 0 {
                1.0 - a.allocated_bytes as f64 / a.active_bytes as f64
            } else {
                0.0
            },
            bytes_per_s,
            allocs_per_s,
            allocs_per_request: per_req.map(|p| p.0),
            bytes_per_request: per_req.map(|p| p.1),
        })
    }
}

#[cfg(test)]
mod tests;
