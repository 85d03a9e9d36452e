//! A debugging trace of where an open-loop send's time goes, step by step:
//! planned start, the pacer's wake-up, the scheduler resuming, a slot free,
//! the request task running (`sent`), its request written to the stream
//! (`written`, when its own task wrote it: see `client::writer`; -1 when the
//! writer task did), the reply read (`done`) and the task resuming with it
//! (`recorded`). Off unless `MCPTOP_SEND_TRACE=<file>` is
//! set; then every single (non-batch, non-flow) send is kept, up to
//! [`MAX_ROWS`], and written as CSV when the scheduler ends. It is how the
//! 5,000/s gap of issue 17 was taken apart (`benches/send_steps.py`,
//! docs/PERFORMANCE.md, "Pacing"): a figure to measure with, not one mcptop
//! shows.

use std::io::Write;
use std::sync::{Mutex, OnceLock};
use tokio::time::Instant;

/// Rows kept at most (memory: about 60 bytes each).
pub const MAX_ROWS: usize = 1_000_000;

/// One send's instants; `None` where the step did not happen (closed loop
/// has no pacer, a send whose slot was free did not wait).
#[derive(Debug, Clone, Copy)]
pub struct Steps {
    pub planned: Instant,
    /// When the pacer thread woke the scheduler (open loop, pacer thread).
    pub fired: Option<Instant>,
    /// When the scheduler ran again after its wait for the planned time.
    pub woke: Option<Instant>,
    /// When a slot was free (after `woke`, or after the wait for a slot).
    pub slot: Instant,
}

/// The trace of this process, when `MCPTOP_SEND_TRACE` names a file.
pub struct SendTrace {
    path: std::path::PathBuf,
    start: Instant,
    rows: Mutex<Vec<[i64; 8]>>,
}

/// The process's trace, or `None` (the default): read once.
pub fn global() -> Option<&'static SendTrace> {
    static TRACE: OnceLock<Option<SendTrace>> = OnceLock::new();
    TRACE
        .get_or_init(|| {
            let path = std::env::var_os("MCPTOP_SEND_TRACE")?;
            Some(SendTrace {
                path: path.into(),
                start: Instant::now(),
                rows: Mutex::new(Vec::new()),
            })
        })
        .as_ref()
}

/// Nanoseconds from `from` to `to`, negative when `to` came first.
fn ns(from: Instant, to: Instant) -> i64 {
    if to >= from {
        to.duration_since(from).as_nanos() as i64
    } else {
        -(from.duration_since(to).as_nanos() as i64)
    }
}

impl SendTrace {
    /// Keeps one send's steps with its `sent`, `written`, `done` and
    /// `recorded` instants.
    pub fn push(
        &self,
        steps: Steps,
        sent: Instant,
        written: Option<Instant>,
        done: Instant,
        recorded: Instant,
    ) {
        let p = steps.planned;
        let opt = |t: Option<Instant>| t.map_or(-1, |t| ns(p, t));
        let row = [
            ns(self.start, p),
            opt(steps.fired),
            opt(steps.woke),
            ns(p, steps.slot),
            ns(p, sent),
            opt(written),
            ns(p, done),
            ns(p, recorded),
        ];
        let mut rows = self.rows.lock().unwrap_or_else(|e| e.into_inner());
        if rows.len() < MAX_ROWS {
            rows.push(row);
        }
    }

    /// Writes the rows kept so far (a debugging aid: a failure is printed,
    /// never fatal to the run).
    pub fn write(&self) {
        let rows = self.rows.lock().unwrap_or_else(|e| e.into_inner());
        let written = std::fs::File::create(&self.path).and_then(|f| {
            let mut out = std::io::BufWriter::new(f);
            writeln!(
                out,
                "planned_ns,fired_ns,woke_ns,slot_ns,sent_ns,written_ns,done_ns,recorded_ns"
            )?;
            for r in rows.iter() {
                let cells: Vec<String> = r.iter().map(i64::to_string).collect();
                writeln!(out, "{}", cells.join(","))?;
            }
            out.flush()
        });
        if let Err(e) = written {
            eprintln!("MCPTOP_SEND_TRACE {}: {e}", self.path.display());
        }
    }
}
