//! Busy threads for the profiler's tests and `examples/profiler_memory.rs`:
//! [`Busy`] keeps threads working until dropped, and [`descend`] gives a
//! thread thousands of distinct call stacks on purpose (the memory test and
//! `--many-stacks` need samples that land in many stacks, not one hot loop).

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::thread::JoinHandle;
use std::time::Duration;

/// Threads running a piece of work over and over until this is dropped;
/// dropping stops and joins them.
pub struct Busy {
    stop: Arc<AtomicBool>,
    workers: Vec<JoinHandle<()>>,
}

impl Busy {
    /// `threads` threads, each calling `work(0)`, `work(1)`, ... in turn.
    pub fn start(threads: usize, work: impl Fn(u32) + Send + Clone + 'static) -> Busy {
        let stop = Arc::new(AtomicBool::new(false));
        let workers = (0..threads)
            .map(|_| {
                let (flag, work) = (stop.clone(), work.clone());
                std::thread::spawn(move || {
                    let mut turn = 0u32;
                    while !flag.load(Ordering::Relaxed) {
                        work(turn);
                        turn = turn.wrapping_add(1);
                    }
                })
            })
            .collect();
        Busy { stop, workers }
    }
}

impl Drop for Busy {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::Relaxed);
        for w in self.workers.drain(..) {
            let _ = w.join();
        }
    }
}

/// Burns a little CPU at the tip of one of 2^`depth` distinct stacks,
/// picked by `path`'s low bits.
pub fn descend(path: u32, depth: u32) {
    match depth {
        0 => {
            std::hint::black_box(crate::server::burn_cpu(Duration::from_micros(200)));
        }
        _ if path & 1 == 0 => left(path >> 1, depth - 1),
        _ => right(path >> 1, depth - 1),
    }
}

// `left` and `right` differ so they stay two functions (and two frames).
#[inline(never)]
fn left(path: u32, depth: u32) {
    descend(path, depth);
    std::hint::black_box(1u8);
}

#[inline(never)]
fn right(path: u32, depth: u32) {
    descend(path, depth);
    std::hint::black_box(2u16);
}
