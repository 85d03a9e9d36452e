//! Bounded reading of newline-delimited messages, shared by the client's
//! reader and the builtin server's transport. A line longer than the limit
//! is skipped up to its newline with nothing kept, so an endless line costs
//! bounded memory and the stream stays usable. Reading is cancel-safe: a
//! partial line survives a dropped `next` and the next call resumes it.

use tokio::io::{AsyncBufRead, AsyncBufReadExt};

/// How reading one line ended.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum LineRead {
    /// A whole line is in `LineReader::line`, without its newline.
    Line,
    /// Longer than the limit: skipped, nothing kept.
    TooLong,
    Eof,
}

pub struct LineReader<R> {
    io: R,
    buf: Vec<u8>,
    max: usize,
    too_long: bool,
    /// The last call returned a line: clear it before reading on.
    delivered: bool,
}

impl<R: AsyncBufRead + Unpin> LineReader<R> {
    pub fn new(io: R, max: usize) -> LineReader<R> {
        LineReader {
            io,
            buf: Vec::new(),
            max,
            too_long: false,
            delivered: false,
        }
    }

    /// The line the last `next` returned (empty otherwise).
    pub fn line(&self) -> &[u8] {
        let line = self.buf.strip_suffix(b"\r").unwrap_or(&self.buf);
        if self.delivered {
            line
        } else {
            &[]
        }
    }

    pub fn max(&self) -> usize {
        self.max
    }

    pub async fn next(&mut self) -> std::io::Result<LineRead> {
        if self.delivered {
            self.buf.clear();
            self.delivered = false;
        }
        loop {
            // No await between looking at the bytes and consuming them, so a
            // cancelled call loses nothing.
            let available = self.io.fill_buf().await?;
            if available.is_empty() {
                let end = match (self.too_long, self.buf.is_empty()) {
                    (true, _) => LineRead::TooLong,
                    (false, true) => LineRead::Eof,
                    (false, false) => LineRead::Line,
                };
                self.too_long = false;
                self.delivered = end == LineRead::Line;
                return Ok(end);
            }
            let (chunk, used, done) = match available.iter().position(|&b| b == b'\n') {
                Some(i) => (&available[..i], i + 1, true),
                None => (available, available.len(), false),
            };
            if !self.too_long {
                if self.buf.len() + chunk.len() > self.max {
                    self.too_long = true;
                    self.buf = Vec::new();
                } else {
                    self.buf.extend_from_slice(chunk);
                }
            }
            self.io.consume(used);
            if done {
                let end = if self.too_long {
                    LineRead::TooLong
                } else {
                    LineRead::Line
                };
                self.too_long = false;
                self.delivered = end == LineRead::Line;
                return Ok(end);
            }
        }
    }
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
