//! Taking GC reports out of a child's stderr on its way to the kept tail:
//! `StderrSplitter` cuts the bytes into lines, hands each GC report to the
//! run's `GcFeed` (with the instant it arrived) and passes every other byte
//! on unchanged. A line goes on at once as soon as its start cannot be a GC
//! report, so the tail sees the server's own words as early as before; only
//! a line that may still be a report waits for its end.

use super::gc::{GcFormat, GcNote, Line};
use std::sync::{Arc, Mutex, PoisonError};
use std::time::{Duration, Instant, SystemTime};

/// A held line longer than this is no GC report: it goes on as it is.
const MAX_REPORT_LINE: usize = 64 * 1024;
/// Reports kept for the recorder at most between two of its reads (it reads
/// every tick; this only bounds a run nobody reads).
const MAX_PENDING: usize = 1 << 20;

/// A runtime's own time older than this when read is not believed (a clock
/// that jumped): such a report is placed when read.
const MAX_REPORT_AGE: Duration = Duration::from_secs(60);

/// When a report's collection happened: by the runtime's own clock where the
/// report says (mapped from wall clock to `Instant` at reading), else when
/// it was read.
fn happened(note: &GcNote, read: Instant, read_wall: SystemTime) -> Instant {
    let GcNote::Collection(event) = note else {
        return read;
    };
    event
        .started
        .and_then(|t| read_wall.duration_since(t).ok())
        .filter(|age| *age <= MAX_REPORT_AGE)
        .and_then(|age| read.checked_sub(age))
        .unwrap_or(read)
}

/// A GC report as it arrived from one session's child.
#[derive(Debug, Clone, PartialEq)]
pub struct Arrived {
    /// When the collection started, where the runtime says; else when read.
    pub at: Instant,
    pub session: u32,
    pub note: GcNote,
}

#[derive(Default)]
struct FeedState {
    pending: Vec<Arrived>,
    dropped: u64,
}

/// The GC reports of every session of one run, until the recorder takes
/// them. Cheap to clone.
#[derive(Clone, Default)]
pub struct GcFeed(Arc<Mutex<FeedState>>);

impl GcFeed {
    pub fn push(&self, session: u32, note: GcNote) {
        let mut state = self.0.lock().unwrap_or_else(PoisonError::into_inner);
        if state.pending.len() >= MAX_PENDING {
            state.dropped += 1;
            return;
        }
        state.pending.push(Arrived {
            at: happened(&note, Instant::now(), SystemTime::now()),
            session,
            note,
        });
    }

    /// Everything that arrived since the last call, oldest first, and how
    /// many reports were dropped for want of room.
    pub fn take(&self) -> (Vec<Arrived>, u64) {
        let mut state = self.0.lock().unwrap_or_else(PoisonError::into_inner);
        let dropped = std::mem::take(&mut state.dropped);
        (std::mem::take(&mut state.pending), dropped)
    }
}

/// One child's stderr, split into GC reports and everything else.
pub struct StderrSplitter {
    format: GcFormat,
    session: u32,
    feed: GcFeed,
    /// The start of a line that may still be a GC report.
    held: Vec<u8>,
    /// The rest of the current line goes on unchanged.
    passing: bool,
}

impl StderrSplitter {
    pub fn new(format: GcFormat, session: u32, feed: GcFeed) -> StderrSplitter {
        StderrSplitter {
            format,
            session,
            feed,
            held: Vec::new(),
            passing: false,
        }
    }

    /// Takes the reports out of `bytes`; what remains for the kept stderr
    /// is appended to `out`.
    pub fn split(&mut self, mut bytes: &[u8], out: &mut Vec<u8>) {
        while !bytes.is_empty() {
            let end = bytes.iter().position(|&b| b == b'\n');
            let (part, rest) = match end {
                Some(i) => (&bytes[..=i], &bytes[i + 1..]),
                None => (bytes, &bytes[bytes.len()..]),
            };
            bytes = rest;
            if self.passing {
                out.extend_from_slice(part);
                self.passing = end.is_none();
                continue;
            }
            self.held.extend_from_slice(part);
            if end.is_some() {
                self.line_ended(out);
            } else if !self.format.may_start(&self.held) || self.held.len() > MAX_REPORT_LINE {
                out.append(&mut self.held);
                self.passing = true;
            }
        }
    }

    /// The stream ended: a held line without its end goes on as it is.
    pub fn finish(&mut self, out: &mut Vec<u8>) {
        out.append(&mut self.held);
        self.passing = false;
    }

    fn line_ended(&mut self, out: &mut Vec<u8>) {
        let line = std::mem::take(&mut self.held);
        let body = line.strip_suffix(b"\n").unwrap_or(&line);
        let (body, cr) = match body.strip_suffix(b"\r") {
            Some(b) => (b, true),
            None => (body, false),
        };
        let kind = match std::str::from_utf8(body) {
            Ok(text) if text.len() <= MAX_REPORT_LINE => self.format.classify(text),
            _ => Line::Other,
        };
        match kind {
            Line::Other => out.extend_from_slice(&line),
            Line::Report(note) => self.feed.push(self.session, note),
            Line::Rewritten(text) => {
                out.extend_from_slice(text.as_bytes());
                if cr {
                    out.push(b'\r');
                }
                out.push(b'\n');
            }
        }
    }
}

/// Where a child's stderr goes on its way to the kept tail: through a
/// splitter when GC reports come on it, straight on otherwise.
pub struct StderrRoute {
    splitter: Option<StderrSplitter>,
    kept: Vec<u8>,
}

impl StderrRoute {
    pub fn new(splitter: Option<StderrSplitter>) -> StderrRoute {
        StderrRoute {
            splitter,
            kept: Vec::new(),
        }
    }

    /// The part of `bytes` that is kept.
    pub fn bytes<'a>(&'a mut self, bytes: &'a [u8]) -> &'a [u8] {
        match &mut self.splitter {
            Some(splitter) => {
                self.kept.clear();
                splitter.split(bytes, &mut self.kept);
                &self.kept
            }
            None => bytes,
        }
    }

    /// What is left to keep when the stream ended.
    pub fn end(&mut self) -> &[u8] {
        self.kept.clear();
        if let Some(splitter) = &mut self.splitter {
            splitter.finish(&mut self.kept);
        }
        &self.kept
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::runtime::gc::jvm::ToolOptions;
    use crate::runtime::gc::GcEvent;

    fn collection(started: Option<SystemTime>) -> GcNote {
        GcNote::Collection(GcEvent {
            pid: 1,
            pause: Some(Duration::from_millis(1)),
            kind: "minor".into(),
            heap_before_bytes: None,
            heap_after_bytes: None,
            started,
        })
    }

    #[test]
    fn a_collection_is_placed_by_the_runtimes_clock_when_it_says() {
        let read = Instant::now() + Duration::from_secs(3600);
        let wall = SystemTime::UNIX_EPOCH + Duration::from_secs(1_764_500_000);
        let before = |ms: u64| Some(wall - Duration::from_millis(ms));
        assert_eq!(
            happened(&collection(before(300)), read, wall),
            read - Duration::from_millis(300)
        );
        // Not said, in the future (clocks differ), or implausibly old: read time.
        assert_eq!(happened(&collection(None), read, wall), read);
        assert_eq!(
            happened(
                &collection(Some(wall + Duration::from_millis(5))),
                read,
                wall
            ),
            read
        );
        assert_eq!(happened(&collection(before(61_000)), read, wall), read);
        assert_eq!(happened(&GcNote::Reporting { pid: 1 }, read, wall), read);
    }

    const MIXED: &str = "listening on stdio\n\
        mcptop-gc: reporting runtime=node pid=9\n\
        warning: slow\r\n\
        mcptop-gc: pause pid=9 us=120.0 kind=minor\n\
        mcptop-gc-lookalike but not ours\n\
        \n\
        mcptop-gc: pause pid=9 us=80.5 kind=major\n\
        \u{1b}[31mred\u{1b}[0m and \u{fffd} bytes\n\
        last words without an end";

    const KEPT: &str = "listening on stdio\n\
        warning: slow\r\n\
        mcptop-gc-lookalike but not ours\n\
        \n\
        \u{1b}[31mred\u{1b}[0m and \u{fffd} bytes\n\
        last words without an end";

    fn split_in_chunks(text: &[u8], chunk: usize) -> (Vec<u8>, Vec<Arrived>) {
        let feed = GcFeed::default();
        let mut splitter = StderrSplitter::new(GcFormat::Hook, 3, feed.clone());
        let mut out = Vec::new();
        for part in text.chunks(chunk) {
            splitter.split(part, &mut out);
        }
        splitter.finish(&mut out);
        (out, feed.take().0)
    }

    #[test]
    fn other_bytes_pass_unchanged_however_the_reads_cut_them() {
        for chunk in 1..=MIXED.len() {
            let (kept, notes) = split_in_chunks(MIXED.as_bytes(), chunk);
            assert_eq!(String::from_utf8_lossy(&kept), KEPT, "chunks of {chunk}");
            assert_eq!(notes.len(), 3, "chunks of {chunk}");
            assert!(notes.iter().all(|n| n.session == 3));
        }
    }

    #[test]
    fn a_line_that_cannot_be_a_report_goes_on_before_its_end() {
        let feed = GcFeed::default();
        let mut splitter = StderrSplitter::new(GcFormat::Hook, 0, feed);
        let mut out = Vec::new();
        splitter.split(b"Traceback (most", &mut out);
        assert_eq!(out, b"Traceback (most");
        splitter.split(b" recent call last):\nmcptop-gc: pa", &mut out);
        // The start of a report waits for its end.
        assert_eq!(out, b"Traceback (most recent call last):\n");
    }

    #[test]
    fn invalid_utf8_and_very_long_lines_pass() {
        let feed = GcFeed::default();
        let mut splitter = StderrSplitter::new(GcFormat::Hook, 0, feed.clone());
        let mut out = Vec::new();
        let mut long = b"mcptop-gc: ".to_vec();
        long.resize(MAX_REPORT_LINE + 10, b'x');
        long.push(b'\n');
        splitter.split(&long, &mut out);
        splitter.split(b"mcptop-gc: \xff\n", &mut out);
        let mut expected = long.clone();
        expected.extend_from_slice(b"mcptop-gc: \xff\n");
        // Not assert_eq: a failure would print 64 KiB of bytes.
        assert!(
            out == expected,
            "kept {} of {} bytes",
            out.len(),
            expected.len()
        );
        assert!(feed.take().0.is_empty());
    }

    #[test]
    fn the_jvms_echo_of_its_options_is_given_back_as_the_user_set_it() {
        let options = ToolOptions {
            original: Some("-Xmx1g".into()),
            added: "-Xlog:gc:stderr".into(),
        };
        let feed = GcFeed::default();
        let mut splitter = StderrSplitter::new(GcFormat::JvmLog(options), 0, feed.clone());
        let mut out = Vec::new();
        splitter.split(
            b"Picked up JAVA_TOOL_OPTIONS: -Xmx1g -Xlog:gc:stderr\n[0.004s][info][gc] Using G1\n",
            &mut out,
        );
        assert_eq!(out, b"Picked up JAVA_TOOL_OPTIONS: -Xmx1g\n");
        assert_eq!(feed.take().0.len(), 1);
    }
}
