//! Many distinct call stacks on purpose: the profiler's memory test and
//! `examples/profiler_memory.rs --many-stacks` both need a thread whose
//! samples land in thousands of different stacks, not one hot loop.

use std::time::Duration;

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
