//! Where closed intervals' histograms wait for the end of the run: an
//! unlinked temporary file, so a long run's RSS stays flat. At 20k req/s an
//! interval's encoded histograms are about 6 KB; an hour of one-second
//! intervals in memory was 20 MB and RSS rose all along. The interval's
//! figures (what the live screen reads) stay in memory; its histograms are
//! read back only to merge it into a coarser one (`retention`) and for the
//! result file. Text goes in and comes out byte for byte, so merging stays
//! exact. When no file can be written the text stays in memory: nothing is
//! lost, only kept where it was before.

use super::{Closed, Coarsen};
use crate::metrics::snapshot::IntervalStats;
use crate::metrics::timeline::{OpIntervalHistograms, TimelineInterval};
use std::fs::File;
use std::sync::{Arc, Mutex, PoisonError};

/// Once this many bytes of the file are merged away (and at least as many
/// as are still wanted), the wanted ones are copied to a new file.
const COMPACT_AFTER: u64 = 64 << 20;

/// One histogram's text: none, in the file, or in memory.
#[derive(Debug, Clone, PartialEq)]
enum Slot {
    Empty,
    Filed { at: u64, len: u64 },
    Here(Box<str>),
}

#[derive(Debug, Default)]
struct ShelfFile {
    file: Option<File>,
    /// Set once creating or writing the file failed: keep texts in memory.
    failed: bool,
    end: u64,
    /// Bytes of the file still referred to.
    live: u64,
    compact_after: u64,
}

/// The file, shared by the intervals filed in it. Cheap to clone.
#[derive(Debug, Clone)]
pub struct Shelf(Arc<Mutex<ShelfFile>>);

impl Default for Shelf {
    fn default() -> Self {
        Shelf::with_compaction_after(COMPACT_AFTER)
    }
}

impl Shelf {
    /// A shelf that copies its wanted texts to a new file once `bytes` are
    /// merged away (tests use small ones).
    pub fn with_compaction_after(bytes: u64) -> Shelf {
        Shelf(Arc::new(Mutex::new(ShelfFile {
            compact_after: bytes,
            ..ShelfFile::default()
        })))
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, ShelfFile> {
        self.0.lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// The file's size in bytes (0 without one).
    pub fn file_bytes(&self) -> u64 {
        self.lock().end
    }

    /// Whether texts went to a file (else they are kept in memory).
    pub fn is_filed(&self) -> bool {
        self.lock().file.is_some()
    }

    fn put(&self, text: &str) -> Slot {
        if text.is_empty() {
            return Slot::Empty;
        }
        let mut shelf = self.lock();
        match shelf.write(text.as_bytes()) {
            Some(at) => Slot::Filed {
                at,
                len: text.len() as u64,
            },
            None => Slot::Here(text.into()),
        }
    }

    fn get(&self, slot: &Slot) -> String {
        match slot {
            Slot::Empty => String::new(),
            Slot::Here(text) => text.to_string(),
            Slot::Filed { at, len } => self.lock().read(*at, *len),
        }
    }

    fn release(&self, slot: &Slot) {
        if let Slot::Filed { len, .. } = slot {
            let mut shelf = self.lock();
            shelf.live = shelf.live.saturating_sub(*len);
        }
    }

    fn wants_compaction(&self) -> bool {
        let shelf = self.lock();
        let dead = shelf.end - shelf.live.min(shelf.end);
        dead >= shelf.compact_after && dead >= shelf.live
    }
}

impl ShelfFile {
    /// Appends `bytes`; where they start, or `None` when there is no file.
    fn write(&mut self, bytes: &[u8]) -> Option<u64> {
        if self.failed {
            return None;
        }
        if self.file.is_none() {
            match tempfile::tempfile() {
                Ok(f) => self.file = Some(f),
                Err(_) => {
                    self.failed = true;
                    return None;
                }
            }
        }
        let file = self.file.as_ref()?;
        let at = self.end;
        if write_at(file, bytes, at).is_err() {
            // Keep what is filed; new texts stay in memory.
            self.failed = true;
            return None;
        }
        self.end += bytes.len() as u64;
        self.live += bytes.len() as u64;
        Some(at)
    }

    fn read(&self, at: u64, len: u64) -> String {
        let Some(file) = self.file.as_ref() else {
            return String::new();
        };
        let mut buf = vec![0u8; usize::try_from(len).unwrap_or(0)];
        match read_at(file, &mut buf, at) {
            Ok(()) => String::from_utf8(buf).unwrap_or_default(),
            // Unreadable after it was written: the histogram is left out
            // (its interval's figures are kept).
            Err(_) => String::new(),
        }
    }
}

#[cfg(unix)]
fn write_at(file: &File, bytes: &[u8], at: u64) -> std::io::Result<()> {
    std::os::unix::fs::FileExt::write_all_at(file, bytes, at)
}

#[cfg(unix)]
fn read_at(file: &File, buf: &mut [u8], at: u64) -> std::io::Result<()> {
    std::os::unix::fs::FileExt::read_exact_at(file, buf, at)
}

#[cfg(not(unix))]
fn write_at(_: &File, _: &[u8], _: u64) -> std::io::Result<()> {
    Err(std::io::Error::other(
        "positional writes are used on unix only",
    ))
}

#[cfg(not(unix))]
fn read_at(_: &File, _: &mut [u8], _: u64) -> std::io::Result<()> {
    Err(std::io::Error::other(
        "positional reads are used on unix only",
    ))
}

/// A closed interval with its figures in memory and its histograms on a
/// shelf.
#[derive(Debug, Clone)]
pub struct Shelved {
    pub stats: IntervalStats,
    start_s: f64,
    length_s: f64,
    /// (corrected, service) per operation.
    ops: Vec<(Slot, Slot)>,
    shelf: Shelf,
}

impl Shelved {
    pub fn new(closed: Closed, shelf: &Shelf) -> Shelved {
        let t = closed.timeline;
        Shelved {
            stats: closed.stats,
            start_s: t.start_s,
            length_s: t.length_s,
            ops: t
                .ops
                .iter()
                .map(|op| (shelf.put(&op.corrected), shelf.put(&op.service)))
                .collect(),
            shelf: shelf.clone(),
        }
    }

    /// The interval with its histograms read back (byte for byte).
    pub fn to_closed(&self) -> Closed {
        let ops = self
            .ops
            .iter()
            .map(|(c, s)| OpIntervalHistograms {
                corrected: self.shelf.get(c),
                service: self.shelf.get(s),
            })
            .collect();
        Closed {
            stats: self.stats.clone(),
            timeline: TimelineInterval {
                start_s: self.start_s,
                length_s: self.length_s,
                ops,
            },
        }
    }

    fn release(&self) {
        for (c, s) in &self.ops {
            self.shelf.release(c);
            self.shelf.release(s);
        }
    }

    /// Moves the histograms to `shelf` (compaction).
    fn move_to(&mut self, shelf: &Shelf) {
        let moved = Shelved::new(self.to_closed(), shelf);
        *self = moved;
    }
}

impl Coarsen for Shelved {
    fn start_s(&self) -> f64 {
        self.start_s
    }

    fn end_s(&self) -> f64 {
        self.stats.t_s
    }

    fn absorb(&mut self, later: Shelved) {
        let mut merged = self.to_closed();
        merged.absorb(later.to_closed());
        self.release();
        later.release();
        let shelf = self.shelf.clone();
        *self = Shelved::new(merged, &shelf);
    }
}

/// A recorder's history: its intervals and the shelf their histograms are on.
#[derive(Debug, Clone, Default)]
pub struct ShelvedHistory {
    pub kept: super::Retained<Shelved>,
    shelf: Shelf,
}

impl ShelvedHistory {
    pub fn new(kept: super::Retained<Shelved>, shelf: Shelf) -> ShelvedHistory {
        ShelvedHistory { kept, shelf }
    }

    /// Adds the newest interval (older ones merge as `Retained` does); when
    /// most of the file is merged away, the rest moves to a new one.
    pub fn push(&mut self, closed: Closed) {
        self.kept.push(Shelved::new(closed, &self.shelf));
        if self.shelf.wants_compaction() {
            let fresh = Shelf::with_compaction_after(self.shelf.lock().compact_after);
            for item in self.kept.iter_mut() {
                item.move_to(&fresh);
            }
            self.shelf = fresh;
        }
    }

    pub fn shelf(&self) -> &Shelf {
        &self.shelf
    }

    /// Oldest first, histograms read back.
    pub fn into_closed(self) -> Vec<Closed> {
        self.kept.iter().map(Shelved::to_closed).collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::metrics::retention::{Retained, Tier};
    use crate::metrics::timeline::TimelineRecorder;
    use crate::metrics::{decode_histogram, new_histogram};
    use tokio::time::Instant;

    fn closed(timeline: &mut TimelineRecorder, i: u64, samples: u64) -> Closed {
        for k in 0..samples {
            let us = 50 + (i * 7919 + k * 104_729) % 20_000;
            timeline.record((k % 2) as usize, us, us / 2 + 1);
        }
        let t_s = (i + 1) as f64;
        Closed {
            stats: IntervalStats {
                t_s,
                length_s: 1.0,
                completed: samples,
                ..IntervalStats::default()
            },
            timeline: timeline.close(t_s),
        }
    }

    /// What goes on the shelf comes back byte for byte, and its histograms
    /// decode to exactly the recorded ones.
    #[tokio::test(start_paused = true)]
    async fn shelved_histograms_come_back_exactly() {
        let mut timeline = TimelineRecorder::new(&["a".into(), "b".into()], Instant::now());
        let shelf = Shelf::default();
        let original = closed(&mut timeline, 0, 5_000);
        let shelved = Shelved::new(original.clone(), &shelf);
        assert!(shelf.is_filed(), "the texts went to a file");
        assert!(shelf.file_bytes() > 1_000);
        let back = shelved.to_closed();
        assert_eq!(back, original);
        for (a, b) in back.timeline.ops.iter().zip(&original.timeline.ops) {
            let (ha, hb) = (
                decode_histogram(&a.corrected).expect("decodes"),
                decode_histogram(&b.corrected).expect("decodes"),
            );
            assert_eq!(ha, hb);
            assert_eq!(ha.len(), 2_500);
        }
    }

    /// Merged through the shelf, intervals come out as merged in memory,
    /// and the file is compacted: it stays near what is still wanted.
    #[tokio::test(start_paused = true)]
    async fn merging_on_the_shelf_is_exact_and_the_file_stays_bounded() {
        let rules = [
            Tier {
                width_s: 1.0,
                keep_s: 20.0,
            },
            Tier {
                width_s: 10.0,
                keep_s: f64::INFINITY,
            },
        ];
        let labels = ["a".to_string(), "b".to_string()];
        let (mut t1, mut t2) = (
            TimelineRecorder::new(&labels, Instant::now()),
            TimelineRecorder::new(&labels, Instant::now()),
        );
        let mut in_memory: Retained<Closed> = Retained::new(&rules, 1_000);
        let mut shelved = ShelvedHistory::new(
            Retained::new(&rules, 1_000),
            Shelf::with_compaction_after(20_000),
        );
        let mut largest = 0;
        for i in 0..300 {
            in_memory.push(closed(&mut t1, i, 200));
            shelved.push(closed(&mut t2, i, 200));
            largest = largest.max(shelved.shelf().file_bytes());
        }
        let (a, b) = (in_memory.into_vec(), shelved.clone().into_closed());
        assert_eq!(a.len(), 20 + 28);
        assert_eq!(a, b);
        let mut total = new_histogram();
        for c in &b {
            for op in &c.timeline.ops {
                total.add(op.corrected().expect("decodes")).expect("adds");
            }
        }
        assert_eq!(total.len(), 300 * 200);
        let live: u64 = b
            .iter()
            .flat_map(|c| &c.timeline.ops)
            .map(|op| (op.corrected.len() + op.service.len()) as u64)
            .sum();
        // Compacted: never much past twice what is wanted plus the threshold.
        assert!(largest <= 2 * live + 40_000, "{largest} vs {live}");
        assert!(largest > 20_000, "compaction was reached: {largest}");
    }
}
