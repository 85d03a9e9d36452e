//! Bounded reading of newline-delimited messages, shared by the client's
//! reader and the builtin server's transport. A line longer than the limit
//! is skipped up to its newline with nothing kept but its start (to name the
//! request it answers), so an endless line costs bounded memory and the
//! stream stays usable. Reading is cancel-safe: a partial line survives a
//! dropped `next` and the next call resumes it.
//!
//! Memory is bounded for the whole process, not per reader: a reader's
//! buffer grows on demand, and beyond its first `FREE_LINE_BYTES` it must
//! take the bytes from one `LineBudget` that every reader shares. A line the
//! budget cannot hold is skipped like an over-long one (and said so), and a
//! buffer that grew for a long line shrinks back once that line is done. So
//! sixteen sessions fed 200 MB lines cost at most the budget, not sixteen
//! times the longest line.

use std::sync::atomic::{AtomicUsize, Ordering};
use tokio::io::{AsyncBufRead, AsyncBufReadExt};

/// Longest line accepted from a peer; longer ones are skipped and counted.
pub const MAX_LINE_BYTES: usize = 64 * 1024 * 1024;
/// Bytes a reader may hold without asking the shared budget: most messages
/// fit, so ordinary traffic never touches the budget.
pub const FREE_LINE_BYTES: usize = 64 * 1024;
/// The shared budget for line buffers beyond their free bytes, for all the
/// process's readers together: four lines of the 64 MiB limit at once.
pub const LINE_BUDGET_BYTES: usize = 256 * 1024 * 1024;
/// How much of a skipped line is kept, to read its id.
const HEAD_BYTES: usize = 256;

/// Bytes that line buffers may take beyond their free share, shared.
#[derive(Debug)]
pub struct LineBudget {
    left: AtomicUsize,
}

impl LineBudget {
    pub const fn new(total: usize) -> LineBudget {
        LineBudget {
            left: AtomicUsize::new(total),
        }
    }

    /// Takes `n` bytes if that many are left.
    fn take(&self, n: usize) -> bool {
        self.left
            .fetch_update(Ordering::AcqRel, Ordering::Acquire, |left| {
                left.checked_sub(n)
            })
            .is_ok()
    }

    fn give(&self, n: usize) {
        self.left.fetch_add(n, Ordering::AcqRel);
    }

    /// Bytes not taken by any reader right now.
    pub fn left(&self) -> usize {
        self.left.load(Ordering::Acquire)
    }
}

/// The budget every reader in the process shares.
pub static SHARED_LINE_BUDGET: LineBudget = LineBudget::new(LINE_BUDGET_BYTES);

/// How reading one line ended.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum LineRead {
    /// A whole line is in `LineReader::line`, without its newline.
    Line,
    /// Longer than the limit, or than the budget could hold: skipped; its
    /// start is in `LineReader::head`.
    TooLong,
    Eof,
}

pub struct LineReader<R> {
    io: R,
    line: LineBuf,
    /// The last call returned a line: clear it before reading on.
    delivered: bool,
}

/// The line being assembled, apart from the reader so that it can grow
/// while the reader's bytes are borrowed.
struct LineBuf {
    buf: Vec<u8>,
    max: usize,
    too_long: bool,
    /// The line being skipped did not fit in the shared budget (it was not
    /// necessarily over the limit).
    over_budget: bool,
    /// The start of the last skipped line.
    head: Vec<u8>,
    budget: &'static LineBudget,
    /// Bytes of `budget` held (the buffer beyond the free share).
    taken: usize,
}

impl Drop for LineBuf {
    fn drop(&mut self) {
        self.budget.give(self.taken);
    }
}

impl LineBuf {
    /// Adds a piece of the line, or starts skipping it when it cannot be kept.
    fn push(&mut self, chunk: &[u8]) {
        if self.too_long {
            return;
        }
        if self.grow(chunk.len()) {
            self.buf.extend_from_slice(chunk);
        } else {
            self.start_skipping(chunk);
        }
    }

    /// Room for `extra` more bytes, within the limit and the budget; false
    /// when the line cannot be kept.
    fn grow(&mut self, extra: usize) -> bool {
        let needed = self.buf.len() + extra;
        if needed > self.max {
            return false;
        }
        if needed <= self.buf.capacity() {
            return true;
        }
        // Doubling keeps the copies linear; the budget pays for what
        // exceeds the free share, and a tight fit is tried before giving up.
        let want = needed.max(self.buf.capacity() * 2).max(256).min(self.max);
        let Some(cap) = [want, needed]
            .into_iter()
            .find(|&cap| self.reserve_for(cap))
        else {
            self.over_budget = true;
            return false;
        };
        self.buf.reserve_exact(cap - self.buf.len());
        true
    }

    /// Takes from the budget what a buffer of `cap` bytes needs beyond the
    /// free share and what is already held.
    fn reserve_for(&mut self, cap: usize) -> bool {
        let wanted = cap.saturating_sub(FREE_LINE_BYTES);
        if wanted <= self.taken {
            return true;
        }
        if self.budget.take(wanted - self.taken) {
            self.taken = wanted;
            true
        } else {
            false
        }
    }

    /// Empties the buffer; one grown for a long line is given back.
    fn reset(&mut self) {
        if self.buf.capacity() > FREE_LINE_BYTES {
            self.buf = Vec::new();
            self.budget.give(std::mem::take(&mut self.taken));
        } else {
            self.buf.clear();
        }
    }

    fn start_skipping(&mut self, chunk: &[u8]) {
        self.too_long = true;
        self.head.clear();
        self.head
            .extend_from_slice(&self.buf[..self.buf.len().min(HEAD_BYTES)]);
        let room = HEAD_BYTES - self.head.len();
        self.head.extend_from_slice(&chunk[..chunk.len().min(room)]);
        self.buf.clear();
        self.reset();
    }
}

impl<R> LineReader<R> {
    /// The line the last `next` returned (empty otherwise).
    pub fn line(&self) -> &[u8] {
        let buf = &self.line.buf;
        let line = buf.strip_suffix(b"\r").unwrap_or(buf);
        if self.delivered {
            line
        } else {
            &[]
        }
    }

    /// Bytes the line the last `next` returned took on the wire, with its
    /// line end (0 otherwise).
    pub fn wire_len(&self) -> usize {
        if self.delivered {
            self.line.buf.len() + 1
        } else {
            0
        }
    }

    /// The first bytes of the line the last `next` skipped as too long.
    pub fn head(&self) -> &[u8] {
        &self.line.head
    }

    /// The last skipped line was cut short by the shared budget, not by the limit.
    pub fn over_budget(&self) -> bool {
        self.line.over_budget
    }

    pub fn max(&self) -> usize {
        self.line.max
    }

    /// Bytes this reader's buffer holds now.
    pub fn capacity(&self) -> usize {
        self.line.buf.capacity()
    }
}

impl<R: AsyncBufRead + Unpin> LineReader<R> {
    pub fn new(io: R, max: usize) -> LineReader<R> {
        Self::with_budget(io, max, &SHARED_LINE_BUDGET)
    }

    /// A reader that takes long lines' memory from `budget`.
    pub fn with_budget(io: R, max: usize, budget: &'static LineBudget) -> LineReader<R> {
        LineReader {
            io,
            line: LineBuf {
                buf: Vec::new(),
                max,
                too_long: false,
                over_budget: false,
                head: Vec::new(),
                budget,
                taken: 0,
            },
            delivered: false,
        }
    }

    pub async fn next(&mut self) -> std::io::Result<LineRead> {
        if self.delivered {
            self.line.reset();
            self.delivered = false;
        }
        // A new line (not one a cancelled call left half read) starts clean.
        if !self.line.too_long && self.line.buf.is_empty() {
            self.line.over_budget = false;
        }
        loop {
            // No await between looking at the bytes and consuming them, so a
            // cancelled call loses nothing.
            let available = self.io.fill_buf().await?;
            if available.is_empty() {
                let end = match (self.line.too_long, self.line.buf.is_empty()) {
                    (true, _) => LineRead::TooLong,
                    (false, true) => LineRead::Eof,
                    (false, false) => LineRead::Line,
                };
                return Ok(self.end(end));
            }
            let (chunk, used, done) = match available.iter().position(|&b| b == b'\n') {
                Some(i) => (&available[..i], i + 1, true),
                None => (available, available.len(), false),
            };
            self.line.push(chunk);
            self.io.consume(used);
            if done {
                let end = if self.line.too_long {
                    LineRead::TooLong
                } else {
                    LineRead::Line
                };
                return Ok(self.end(end));
            }
        }
    }

    fn end(&mut self, end: LineRead) -> LineRead {
        self.line.too_long = false;
        self.delivered = end == LineRead::Line;
        end
    }
}

/// The next message written to a bridge's line end (a line, without its
/// end; blank lines skipped); `None` once the writer is gone.
pub async fn next_message<'a, R>(lines: &mut R, buf: &'a mut String) -> Option<&'a str>
where
    R: tokio::io::AsyncBufRead + Unpin,
{
    use tokio::io::AsyncBufReadExt;
    loop {
        buf.clear();
        match lines.read_line(buf).await {
            Ok(0) | Err(_) => return None,
            Ok(_) if buf.trim_end().is_empty() => continue,
            Ok(_) => return Some(buf.trim_end()),
        }
    }
}

/// One message as one line for the client: raw newlines in a JSON message
/// can only be whitespace, so they become spaces.
pub fn message_line(mut message: Vec<u8>) -> Vec<u8> {
    for b in message.iter_mut() {
        if *b == b'\n' || *b == b'\r' {
            *b = b' ';
        }
    }
    message.push(b'\n');
    message
}

#[cfg(test)]
mod tests {
    use super::*;
    use tokio::io::AsyncWriteExt;

    async fn lines_of(input: &[u8], max: usize) -> Vec<(LineRead, String)> {
        let mut reader = LineReader::new(input, max);
        let mut out = Vec::new();
        loop {
            let r = reader.next().await.expect("read");
            out.push((r, String::from_utf8_lossy(reader.line()).into_owned()));
            if r == LineRead::Eof {
                return out;
            }
        }
    }

    #[tokio::test]
    async fn long_lines_are_skipped_and_reading_goes_on() {
        let got = lines_of(b"ab\r\n0123456789\nxy\nlast", 4).await;
        assert_eq!(
            got,
            vec![
                (LineRead::Line, "ab".into()),
                (LineRead::TooLong, String::new()),
                (LineRead::Line, "xy".into()),
                (LineRead::Line, "last".into()),
                (LineRead::Eof, String::new()),
            ]
        );
    }

    /// A budget of its own, so other tests' readers do not share it.
    fn budget(bytes: usize) -> &'static LineBudget {
        Box::leak(Box::new(LineBudget::new(bytes)))
    }

    fn line_of(len: usize) -> Vec<u8> {
        let mut line = vec![b'x'; len];
        line.push(b'\n');
        line
    }

    #[tokio::test]
    async fn a_long_line_grows_the_buffer_on_demand_and_gives_it_back() {
        let shared = budget(1 << 20);
        let mut input = line_of(600_000);
        input.extend(line_of(10));
        let mut reader = LineReader::with_budget(&input[..], 1 << 20, shared);
        assert_eq!(reader.next().await.expect("read"), LineRead::Line);
        assert_eq!(reader.line().len(), 600_000);
        assert!(shared.left() < (1 << 20) - 500_000, "{}", shared.left());
        assert_eq!(reader.next().await.expect("read"), LineRead::Line);
        assert_eq!(reader.line().len(), 10);
        assert!(
            reader.capacity() <= FREE_LINE_BYTES,
            "{}",
            reader.capacity()
        );
        assert_eq!(shared.left(), 1 << 20, "all of it back");
    }

    #[tokio::test]
    async fn a_line_the_shared_budget_cannot_hold_is_skipped_and_said_so() {
        let shared = budget(1 << 20);
        let big = line_of(900_000);
        let mut first = LineReader::with_budget(&big[..], 1 << 20, shared);
        assert_eq!(first.next().await.expect("read"), LineRead::Line);
        // `first` still holds its line: `second` cannot get as much.
        let mut input = b"{\"id\":7,\"result\":\"".to_vec();
        input.extend(line_of(500_000));
        input.extend(line_of(5));
        let mut second = LineReader::with_budget(&input[..], 1 << 20, shared);
        assert_eq!(second.next().await.expect("read"), LineRead::TooLong);
        assert!(second.over_budget());
        assert!(
            second.head().starts_with(b"{\"id\":7,"),
            "the start is kept"
        );
        assert_eq!(second.next().await.expect("read"), LineRead::Line);
        assert!(!second.over_budget());
        drop(first);
        let mut third = LineReader::with_budget(&input[..], 1 << 20, shared);
        assert_eq!(
            third.next().await.expect("read"),
            LineRead::Line,
            "room again"
        );
        drop((second, third));
        assert_eq!(shared.left(), 1 << 20);
    }

    #[tokio::test]
    async fn over_the_limit_is_not_over_the_budget() {
        let mut input = line_of(5000);
        input.extend(line_of(3));
        let mut reader = LineReader::with_budget(&input[..], 4096, budget(1 << 20));
        assert_eq!(reader.next().await.expect("read"), LineRead::TooLong);
        assert!(!reader.over_budget());
        assert_eq!(reader.head().len(), HEAD_BYTES);
    }

    #[tokio::test]
    async fn a_cancelled_read_keeps_the_partial_line() {
        let (client, server) = tokio::io::duplex(64);
        let (mut tx, rx) = (client, tokio::io::BufReader::new(server));
        let mut reader = LineReader::new(rx, 1024);
        tx.write_all(b"{\"half\":").await.expect("write");
        let cancelled =
            tokio::time::timeout(std::time::Duration::from_millis(20), reader.next()).await;
        assert!(cancelled.is_err(), "no newline yet");
        tx.write_all(b"1}\n").await.expect("write");
        assert_eq!(reader.next().await.expect("read"), LineRead::Line);
        assert_eq!(reader.line(), b"{\"half\":1}");
    }
}
