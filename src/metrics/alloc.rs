//! Counting allocations: `CountingAllocator` wraps the global allocator
//! (jemalloc with the `jemalloc` feature, the default, else the system's) and
//! counts allocations and bytes asked for. The binary installs it
//! (`#[global_allocator]` in `main.rs`); a library user that does not gets
//! no allocator figures rather than zeros. jemalloc's own statistics say how
//! much is held, not how often we ask; the count is what makes allocations
//! per request a low-noise regression metric. Counters are sharded per
//! thread (relaxed atomics on separate cache lines) so worker threads do not
//! fight over one line.

use crate::metrics::resources::AllocReading;
use std::alloc::{GlobalAlloc, Layout};
use std::cell::Cell;
use std::sync::atomic::{AtomicBool, AtomicU64, AtomicUsize, Ordering};

const SHARDS: usize = 64;

#[repr(align(128))]
struct Shard {
    allocs: AtomicU64,
    bytes: AtomicU64,
}

#[allow(clippy::declare_interior_mutable_const)]
const EMPTY_SHARD: Shard = Shard {
    allocs: AtomicU64::new(0),
    bytes: AtomicU64::new(0),
};

static COUNTS: [Shard; SHARDS] = [EMPTY_SHARD; SHARDS];
static NEXT_SHARD: AtomicUsize = AtomicUsize::new(0);
static COUNTING: AtomicBool = AtomicBool::new(true);

thread_local! {
    // Const-initialised and without Drop: reading it never allocates nor
    // registers a destructor, so it is safe inside the allocator.
    static MY_SHARD: Cell<usize> = const { Cell::new(usize::MAX) };
}

fn shard() -> &'static Shard {
    let i = MY_SHARD
        .try_with(|s| {
            let mut i = s.get();
            if i == usize::MAX {
                i = NEXT_SHARD.fetch_add(1, Ordering::Relaxed) % SHARDS;
                s.set(i);
            }
            i
        })
        .unwrap_or(0);
    &COUNTS[i % SHARDS]
}

#[inline]
fn count(size: usize) {
    if COUNTING.load(Ordering::Relaxed) {
        let s = shard();
        s.allocs.fetch_add(1, Ordering::Relaxed);
        s.bytes.fetch_add(size as u64, Ordering::Relaxed);
    }
}

/// Turns allocation counting on or off (off: to measure what counting costs).
pub fn set_counting(on: bool) {
    COUNTING.store(on, Ordering::Relaxed);
}

pub fn counting() -> bool {
    COUNTING.load(Ordering::Relaxed)
}

/// (allocations, bytes) asked for since the process started (while counting).
pub fn counts() -> (u64, u64) {
    COUNTS.iter().fold((0, 0), |(a, b), s| {
        (
            a + s.allocs.load(Ordering::Relaxed),
            b + s.bytes.load(Ordering::Relaxed),
        )
    })
}

/// An allocator that counts what it is asked for, then defers to `A`.
pub struct CountingAllocator<A> {
    inner: A,
}

impl<A> CountingAllocator<A> {
    pub const fn new(inner: A) -> Self {
        CountingAllocator { inner }
    }
}

// SAFETY: every call is forwarded unchanged to `inner`, itself a GlobalAlloc;
// counting touches only atomics and a const thread-local, never the heap.
unsafe impl<A: GlobalAlloc> GlobalAlloc for CountingAllocator<A> {
    unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
        count(layout.size());
        // SAFETY: same contract as ours.
        unsafe { self.inner.alloc(layout) }
    }

    unsafe fn alloc_zeroed(&self, layout: Layout) -> *mut u8 {
        count(layout.size());
        // SAFETY: same contract as ours.
        unsafe { self.inner.alloc_zeroed(layout) }
    }

    unsafe fn dealloc(&self, ptr: *mut u8, layout: Layout) {
        // SAFETY: same contract as ours.
        unsafe { self.inner.dealloc(ptr, layout) }
    }

    unsafe fn realloc(&self, ptr: *mut u8, layout: Layout, new_size: usize) -> *mut u8 {
        count(new_size);
        // SAFETY: same contract as ours.
        unsafe { self.inner.realloc(ptr, layout, new_size) }
    }
}

/// The allocator the binary installs: jemalloc when built with it.
#[cfg(feature = "jemalloc")]
pub type Installed = CountingAllocator<tikv_jemallocator::Jemalloc>;
#[cfg(not(feature = "jemalloc"))]
pub type Installed = CountingAllocator<std::alloc::System>;

/// The counting allocator over the build's allocator, for the binary's
/// `#[global_allocator]`.
pub const fn counting_allocator() -> Installed {
    #[cfg(feature = "jemalloc")]
    {
        CountingAllocator::new(tikv_jemallocator::Jemalloc)
    }
    #[cfg(not(feature = "jemalloc"))]
    {
        CountingAllocator::new(std::alloc::System)
    }
}

/// True when the counting allocator is the global one: any program has
/// allocated by the time it asks, so zero counts mean it is not installed.
pub fn installed() -> bool {
    counts().0 > 0
}

/// The counters plus, with jemalloc, what the allocator holds.
pub fn read() -> AllocReading {
    let (allocs, bytes) = counts();
    let reading = AllocReading {
        allocs,
        bytes,
        ..AllocReading::default()
    };
    with_jemalloc_stats(reading)
}

#[cfg(feature = "jemalloc")]
fn with_jemalloc_stats(mut reading: AllocReading) -> AllocReading {
    use tikv_jemalloc_ctl::{epoch, stats};
    // jemalloc's statistics are a snapshot refreshed by advancing the epoch.
    if epoch::advance().is_ok() {
        reading.allocated_bytes = stats::allocated::read().unwrap_or(0) as u64;
        reading.active_bytes = stats::active::read().unwrap_or(0) as u64;
        reading.resident_bytes = stats::resident::read().unwrap_or(0) as u64;
        reading.retained_bytes = stats::retained::read().unwrap_or(0) as u64;
        reading.metadata_bytes = stats::metadata::read().unwrap_or(0) as u64;
    }
    reading
}

#[cfg(not(feature = "jemalloc"))]
fn with_jemalloc_stats(reading: AllocReading) -> AllocReading {
    reading
}

/// Gives the allocator's freed pages back to the system now rather than
/// after jemalloc's decay (seconds): after a profile's tables are dropped,
/// so they do not stay in mcptop's RSS. A no-op without jemalloc.
pub fn purge() {
    #[cfg(feature = "jemalloc")]
    {
        // "arena.<MALLCTL_ARENAS_ALL>.purge" (4096): every arena. It takes
        // and returns nothing, so mallctl gets no pointers at all.
        let name = b"arena.4096.purge\0";
        // SAFETY: a NUL-terminated name and null old/new pointers, which a
        // void mallctl expects.
        unsafe {
            tikv_jemalloc_sys::mallctl(
                name.as_ptr().cast(),
                std::ptr::null_mut(),
                std::ptr::null_mut(),
                std::ptr::null_mut(),
                0,
            );
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn counts_allocations_and_bytes() {
        let (a0, b0) = counts();
        let v: Vec<u8> = Vec::with_capacity(10_000);
        let (a1, b1) = counts();
        drop(v);
        assert!(a1 > a0, "{a0} -> {a1}");
        assert!(b1 - b0 >= 10_000, "{b0} -> {b1}");
    }

    #[cfg(feature = "jemalloc")]
    #[test]
    fn reads_jemalloc_statistics() {
        let keep = vec![1u8; 4 << 20];
        let r = read();
        assert!(r.allocated_bytes >= 4 << 20, "{r:?}");
        assert!(r.active_bytes >= r.allocated_bytes, "{r:?}");
        assert!(r.resident_bytes > 0 && r.metadata_bytes > 0, "{r:?}");
        drop(keep);
    }

    #[cfg(feature = "jemalloc")]
    #[test]
    fn purge_gives_freed_pages_back() {
        // Small blocks: freed, their pages stay with jemalloc until decay
        // (a single large block would be returned at once).
        let blocks: Vec<Vec<u8>> = (0..4096).map(|_| vec![1u8; 16 << 10]).collect();
        std::hint::black_box(&blocks);
        drop(blocks);
        let before = read().resident_bytes;
        purge();
        let after = read().resident_bytes;
        assert!(after + (32 << 20) <= before, "{before} -> {after}");
    }
}
