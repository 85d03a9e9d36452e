//! Precise waiting for a planned instant. Tokio's timer wheel has a
//! one-millisecond granularity: a task asleep until `t` wakes at the next
//! tick after `t`, up to a millisecond late (about 0.75 ms on average at
//! 500 sends/s). Coordinated-omission correction charges that lateness to the
//! server, so the open-loop scheduler and the builtin `sleep` tools wait here
//! instead.
//!
//! How (measured in docs/PERFORMANCE.md, "Pacing", with
//! `examples/pacing_options.rs`): one pacer thread per process keeps the
//! pending deadlines in a heap and sleeps on a condition variable with a
//! timeout (a high-resolution futex timer, its timer slack lowered to 1 µs),
//! then wakes the waiting task. It costs no CPU while waiting; the wake-up of
//! the task is the remaining lag (tens of µs). Spinning bought little more
//! precision for a lot of CPU (see the doc), so the pacer spins only for the
//! last [`SPIN_US`] before a deadline, and only when the machine has a core to
//! spare (fewer runnable threads than cores, from `/proc/loadavg`, read at
//! most every [`IDLE_CHECK`]); near the rate ceiling it never spins.
//!
//! On a current-thread runtime (unit tests, where tokio's clock may be paused
//! and is the subject) it is tokio's timer, so paused-clock tests stay exact.
//! This module sits on the ground floor: the engine and the builtin server
//! both wait here, and it depends on nothing of the crate.

use std::cmp::Reverse;
use std::collections::BinaryHeap;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Condvar, Mutex, OnceLock};
use std::time::Duration;
use tokio::sync::oneshot;
use tokio::time::Instant;

/// The pacer thread spins (instead of sleeping) for at most this long before
/// a deadline, when a core is free.
pub const SPIN_US: u64 = 20;
/// How often the pacer looks again whether a core is free.
pub const IDLE_CHECK: Duration = Duration::from_millis(250);
/// Timer slack asked for the pacer thread (Linux): the kernel may fire a
/// timer this late to batch wake-ups; the default is 50 µs.
const TIMER_SLACK_NS: u64 = 1_000;

/// How to wait: the options measured in `examples/pacing_options.rs`. Only
/// [`Strategy::Thread`] is used by mcptop; the others are kept to measure
/// against.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Strategy {
    /// Tokio's `sleep_until`: the next millisecond tick after the deadline.
    Timer,
    /// Tokio's timer until a millisecond before, then yield in a loop.
    TimerThenSpin,
    /// The pacer thread (what [`sleep_until`] does on a multi-thread runtime).
    Thread,
}

impl Strategy {
    pub fn parse(name: &str) -> Option<Strategy> {
        match name {
            "timer" => Some(Strategy::Timer),
            "spin" => Some(Strategy::TimerThenSpin),
            "thread" => Some(Strategy::Thread),
            _ => None,
        }
    }
}

/// Waits until `t`, precisely where the runtime allows it (see the module doc).
pub async fn sleep_until(t: Instant) {
    sleep_until_with(default_strategy(), t).await;
}

/// As [`sleep_until`], and says when the pacer thread sent the wake-up
/// (`None` when it did not wait on the thread): the send trace's "fired".
pub async fn sleep_until_fired(t: Instant) -> Option<Instant> {
    sleep_until_with(default_strategy(), t).await
}

/// Waits for `d` from now, precisely.
pub async fn sleep(d: Duration) {
    sleep_until(Instant::now() + d).await;
}

/// The thread on a multi-thread runtime; tokio's timer on a current-thread
/// one, whose clock may be paused (tokio allows pausing only there).
/// `MCPTOP_PACER=timer` (or `spin`) picks another strategy, to measure
/// against it.
fn default_strategy() -> Strategy {
    static CHOSEN: OnceLock<Option<Strategy>> = OnceLock::new();
    let chosen = *CHOSEN.get_or_init(|| {
        std::env::var("MCPTOP_PACER")
            .ok()
            .and_then(|name| Strategy::parse(&name))
    });
    match tokio::runtime::Handle::try_current().map(|h| h.runtime_flavor()) {
        Ok(tokio::runtime::RuntimeFlavor::MultiThread) => chosen.unwrap_or(Strategy::Thread),
        _ => Strategy::Timer,
    }
}

/// Waits until `t` with the given strategy; with the pacer thread, says
/// when it sent the wake-up.
pub async fn sleep_until_with(strategy: Strategy, t: Instant) -> Option<Instant> {
    if t <= Instant::now() {
        return None;
    }
    match strategy {
        Strategy::Timer => tokio::time::sleep_until(t).await,
        Strategy::TimerThenSpin => {
            let early = t.checked_sub(Duration::from_millis(1)).unwrap_or(t);
            tokio::time::sleep_until(early).await;
            while Instant::now() < t {
                tokio::task::yield_now().await;
            }
        }
        Strategy::Thread => {
            let Some(pacer) = pacer() else {
                tokio::time::sleep_until(t).await;
                return None;
            };
            let (tx, rx) = oneshot::channel();
            pacer.add(t.into_std(), tx);
            match rx.await {
                Ok(fired) => return Some(fired.into()),
                // The pacer keeps its sender until the deadline: an error
                // cannot happen, and waiting on the timer is the safe answer.
                Err(_) => tokio::time::sleep_until(t).await,
            }
        }
    }
    None
}

struct Entry {
    at: std::time::Instant,
    seq: u64,
    wake: oneshot::Sender<std::time::Instant>,
}

impl PartialEq for Entry {
    fn eq(&self, other: &Self) -> bool {
        (self.at, self.seq) == (other.at, other.seq)
    }
}
impl Eq for Entry {}
impl PartialOrd for Entry {
    fn partial_cmp(&self, other: &Self) -> Option<std::cmp::Ordering> {
        Some(self.cmp(other))
    }
}
impl Ord for Entry {
    fn cmp(&self, other: &Self) -> std::cmp::Ordering {
        (self.at, self.seq).cmp(&(other.at, other.seq))
    }
}

struct Pacer {
    queue: Mutex<BinaryHeap<Reverse<Entry>>>,
    changed: Condvar,
    seq: AtomicU64,
    /// Whether a core looked free at the last check.
    spare_core: AtomicBool,
}

impl Pacer {
    fn add(&self, at: std::time::Instant, wake: oneshot::Sender<std::time::Instant>) {
        let seq = self.seq.fetch_add(1, Ordering::Relaxed);
        let mut queue = self.queue.lock().unwrap_or_else(|e| e.into_inner());
        let earliest = queue.peek().is_none_or(|Reverse(e)| at < e.at);
        queue.push(Reverse(Entry { at, seq, wake }));
        drop(queue);
        if earliest {
            self.changed.notify_one();
        }
    }

    /// The pacer thread: wakes every entry whose time has come, then sleeps
    /// until the next one (or a new earlier one).
    fn serve(&self) {
        lower_timer_slack();
        let mut last_check: Option<std::time::Instant> = None;
        let mut times = cpu_times();
        let mut spun = lead::SPUN_NS.load(Ordering::Relaxed);
        let mut queue = self.queue.lock().unwrap_or_else(|e| e.into_inner());
        loop {
            let now = std::time::Instant::now();
            while queue.peek().is_some_and(|Reverse(e)| e.at <= now) {
                if let Some(Reverse(e)) = queue.pop() {
                    // The waiter may be gone (its plan changed): nothing to do.
                    let _ = e.wake.send(std::time::Instant::now());
                }
            }
            if last_check.is_none_or(|t| now.duration_since(t) >= IDLE_CHECK) {
                // The workers' own finishing spins (`lead`) count as idle:
                // otherwise spinning would make the core look needed.
                let now_spun = lead::SPUN_NS.load(Ordering::Relaxed);
                let spun_cores = last_check.map_or(0.0, |t| {
                    now_spun.saturating_sub(spun) as f64
                        / now.duration_since(t).as_nanos().max(1) as f64
                });
                spun = now_spun;
                last_check = Some(now);
                let now_times = cpu_times();
                let spare = SPIN_ALLOWED.load(Ordering::Relaxed)
                    && spare_core(times, now_times, spun_cores);
                self.spare_core.store(spare, Ordering::Relaxed);
                times = now_times;
            }
            let Some(next) = queue.peek().map(|Reverse(e)| e.at) else {
                queue = self.changed.wait(queue).unwrap_or_else(|e| e.into_inner());
                continue;
            };
            let left = next.saturating_duration_since(now);
            let spin = Duration::from_micros(SPIN_US);
            if left <= spin && self.spare_core.load(Ordering::Relaxed) {
                drop(queue);
                while std::time::Instant::now() < next {
                    std::hint::spin_loop();
                }
                queue = self.queue.lock().unwrap_or_else(|e| e.into_inner());
                continue;
            }
            let sleep = if self.spare_core.load(Ordering::Relaxed) {
                left - spin.min(left)
            } else {
                left
            };
            queue = self
                .changed
                .wait_timeout(queue, sleep)
                .unwrap_or_else(|e| e.into_inner())
                .0;
        }
    }
}

/// The process's pacer, its thread started on first use; `None` when no
/// thread could be started (then every wait uses the timer).
fn pacer() -> Option<&'static Pacer> {
    static PACER: OnceLock<Option<&'static Pacer>> = OnceLock::new();
    *PACER.get_or_init(|| {
        let pacer: &'static Pacer = Box::leak(Box::new(Pacer {
            queue: Mutex::new(BinaryHeap::new()),
            changed: Condvar::new(),
            seq: AtomicU64::new(0),
            spare_core: AtomicBool::new(false),
        }));
        std::thread::Builder::new()
            .name("mcptop-pacer".into())
            .spawn(move || pacer.serve())
            .ok()
            .map(|_| pacer)
    })
}

/// Lets the pacer spin before deadlines when a core is free (the default);
/// `false` measures the thread alone (`examples/pacing_options.rs`).
pub fn allow_spin(allowed: bool) {
    SPIN_ALLOWED.store(allowed, Ordering::Relaxed);
}

static SPIN_ALLOWED: AtomicBool = AtomicBool::new(true);

/// CPU time counters of the whole machine (Linux `/proc/stat`, first line):
/// (idle, total) in clock ticks.
fn cpu_times() -> Option<(u64, u64)> {
    let text = std::fs::read_to_string("/proc/stat").ok()?;
    let line = text.lines().next()?;
    let fields: Vec<u64> = line
        .split_whitespace()
        .skip(1)
        .filter_map(|f| f.parse().ok())
        .collect();
    // user nice system idle iowait irq softirq steal ...
    let idle = fields.get(3)? + fields.get(4).copied().unwrap_or(0);
    Some((idle, fields.iter().sum()))
}

/// Whether the machine had at least [`SPARE_CORE_SHARE`] of a core idle
/// between `before` and `now` (idle and total ticks of all cores), counting
/// `spun_cores` (cores' worth of mcptop's own finishing spins) as idle.
fn spare_core(before: Option<(u64, u64)>, now: Option<(u64, u64)>, spun_cores: f64) -> bool {
    let (Some((idle0, total0)), Some((idle1, total1))) = (before, now) else {
        return false;
    };
    let total = total1.saturating_sub(total0);
    if total == 0 {
        return false;
    }
    let cores = std::thread::available_parallelism()
        .map(|n| n.get())
        .unwrap_or(1) as f64;
    let idle_cores = idle1.saturating_sub(idle0) as f64 / total as f64 * cores;
    idle_cores + spun_cores >= SPARE_CORE_SHARE
}

/// Whether a core looked free at the pacer's last check (never before the
/// pacer thread ran, nor on a current-thread runtime).
pub(crate) fn spare_core_now() -> bool {
    default_strategy() == Strategy::Thread
        && pacer().is_some_and(|p| p.spare_core.load(Ordering::Relaxed))
}

/// Idle share of one core (over the last [`IDLE_CHECK`]) above which the
/// pacer may spin: most of a core was unused, so a few µs of spinning per
/// deadline takes nothing the target needs.
pub const SPARE_CORE_SHARE: f64 = 0.75;

#[cfg(target_os = "linux")]
fn lower_timer_slack() {
    // SAFETY: PR_SET_TIMERSLACK takes a plain integer and only affects the
    // calling thread's timers.
    unsafe {
        libc::prctl(libc::PR_SET_TIMERSLACK, TIMER_SLACK_NS as libc::c_ulong);
    }
}

#[cfg(not(target_os = "linux"))]
fn lower_timer_slack() {}

mod exact;
mod lead;
pub use exact::{sleep_exact, Slept, WaitKind, EXACT_MAX, EXACT_WAITERS, SPIN_LEAD};
pub use lead::{sleep_until_on_worker, worker_lead, MAX_LEAD_SHARE, WORKER_LEAD};

#[cfg(test)]
mod tests;
