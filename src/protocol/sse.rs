//! An incremental `text/event-stream` parser: bytes in as they arrive, whole
//! events out. Memory is bounded: a line or an event longer than the limit is
//! dropped (and reported) instead of growing without end.

/// One dispatched event.
#[derive(Debug, Clone, PartialEq)]
pub struct SseEvent {
    pub id: Option<String>,
    /// The `event:` type; `None` means `message`.
    pub event: Option<String>,
    pub data: String,
}

/// What the parser saw in one chunk besides events.
#[derive(Debug, Default, PartialEq)]
pub struct Parsed {
    pub events: Vec<SseEvent>,
    /// Events or lines dropped for being over the limit.
    pub oversized: u32,
}

/// Lines up to this size grow by doubling; longer ones get the limit's room
/// at once (see `SseParser::make_room`).
const SMALL_LINE_BYTES: usize = 64 * 1024;

pub struct SseParser {
    line: Vec<u8>,
    line_too_long: bool,
    data: Vec<u8>,
    data_too_long: bool,
    id: Option<String>,
    event: Option<String>,
    /// The id of the last event, kept across events (`Last-Event-ID`).
    pub last_event_id: Option<String>,
    max: usize,
}

impl SseParser {
    pub fn new(max: usize) -> SseParser {
        SseParser {
            line: Vec::new(),
            line_too_long: false,
            data: Vec::new(),
            data_too_long: false,
            id: None,
            event: None,
            last_event_id: None,
            max,
        }
    }

    pub fn push(&mut self, mut chunk: &[u8], out: &mut Parsed) {
        while !chunk.is_empty() {
            let (part, rest, done) = match chunk.iter().position(|&b| b == b'\n') {
                Some(i) => (&chunk[..i], &chunk[i + 1..], true),
                None => (chunk, &[][..], false),
            };
            chunk = rest;
            if !self.line_too_long {
                let needed = self.line.len() + part.len();
                if needed > self.max {
                    self.line_too_long = true;
                    self.line = Vec::new();
                } else {
                    self.make_room(needed);
                    self.line.extend_from_slice(part);
                }
            }
            if done {
                if self.line_too_long {
                    self.line_too_long = false;
                    self.data_too_long = true;
                } else {
                    let mut line = std::mem::take(&mut self.line);
                    self.on_line(&line, out);
                    // A buffer grown for a long line is given back.
                    if line.capacity() <= SMALL_LINE_BYTES {
                        line.clear();
                        self.line = line;
                    }
                }
            }
        }
    }

    /// Room for a line of `needed` bytes. Past `SMALL_LINE_BYTES` the buffer
    /// is reserved at the limit at once instead of doubling: reserved pages
    /// cost nothing until written, while each doubling held the old buffer
    /// and the new one (32 + 64 MiB for a line nearing a 64 MiB limit).
    fn make_room(&mut self, needed: usize) {
        if needed <= self.line.capacity() {
            return;
        }
        let cap = if needed <= SMALL_LINE_BYTES {
            needed.max(self.line.capacity() * 2).min(SMALL_LINE_BYTES)
        } else {
            self.max
        };
        self.line.reserve_exact(cap - self.line.len());
    }

    fn on_line(&mut self, line: &[u8], out: &mut Parsed) {
        let line = line.strip_suffix(b"\r").unwrap_or(line);
        if line.is_empty() {
            self.dispatch(out);
            return;
        }
        if line[0] == b':' {
            return;
        }
        let (field, value) = match line.iter().position(|&b| b == b':') {
            Some(i) => {
                let v = &line[i + 1..];
                (&line[..i], v.strip_prefix(b" ").unwrap_or(v))
            }
            None => (line, &[][..]),
        };
        match field {
            b"data" => {
                if self.data_too_long {
                    return;
                }
                if self.data.len() + value.len() + 1 > self.max {
                    self.data_too_long = true;
                    self.data = Vec::new();
                    return;
                }
                if !self.data.is_empty() {
                    self.data.push(b'\n');
                }
                self.data.extend_from_slice(value);
            }
            b"id" => self.id = Some(String::from_utf8_lossy(value).into_owned()),
            b"event" => self.event = Some(String::from_utf8_lossy(value).into_owned()),
            _ => {}
        }
    }

    fn dispatch(&mut self, out: &mut Parsed) {
        let id = self.id.take();
        let event = self.event.take();
        if id.is_some() {
            self.last_event_id = id.clone();
        }
        if self.data_too_long {
            self.data_too_long = false;
            self.data.clear();
            out.oversized += 1;
            return;
        }
        if self.data.is_empty() {
            // Priming events carry only an id (for resumption).
            return;
        }
        let data = String::from_utf8_lossy(&self.data).into_owned();
        self.data.clear();
        out.events.push(SseEvent { id, event, data });
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn feed(parser: &mut SseParser, chunks: &[&str]) -> Parsed {
        let mut out = Parsed::default();
        for c in chunks {
            parser.push(c.as_bytes(), &mut out);
        }
        out
    }

    #[test]
    fn events_split_anywhere_come_out_whole() {
        let mut p = SseParser::new(1024);
        let out = feed(
            &mut p,
            &[
                "id: 1\r\nevent: mess",
                "age\r\ndata: {\"a\":",
                "1}\r\n\r\n: comment\n\nid: 2\ndata: x\ndata: y\n\n",
            ],
        );
        assert_eq!(
            out.events,
            vec![
                SseEvent {
                    id: Some("1".into()),
                    event: Some("message".into()),
                    data: "{\"a\":1}".into()
                },
                SseEvent {
                    id: Some("2".into()),
                    event: None,
                    data: "x\ny".into()
                },
            ]
        );
        assert_eq!(p.last_event_id.as_deref(), Some("2"));
    }

    #[test]
    fn a_priming_event_sets_the_resumption_id_only() {
        let mut p = SseParser::new(1024);
        let out = feed(&mut p, &["id: abc\ndata:\n\n"]);
        assert!(out.events.is_empty());
        assert_eq!(p.last_event_id.as_deref(), Some("abc"));
    }

    #[test]
    fn oversized_lines_and_events_are_dropped_with_bounded_memory() {
        let mut p = SseParser::new(16);
        let long = "x".repeat(100);
        let out = feed(
            &mut p,
            &[
                "data: ",
                &long,
                &long,
                "\n\n",
                "data: 0123456789\ndata: 0123456789\n\n",
                "data: ok\n\n",
            ],
        );
        assert_eq!(out.oversized, 2);
        assert_eq!(out.events.len(), 1);
        assert_eq!(out.events[0].data, "ok");
        assert!(p.line.capacity() <= 64, "{}", p.line.capacity());
    }

    #[test]
    fn a_long_lines_buffer_is_reserved_once_at_the_limit_and_given_back() {
        let max = 1024 * 1024;
        let mut p = SseParser::new(max);
        let mut out = Parsed::default();
        p.push(b"data: ", &mut out);
        let piece = vec![b'x'; 100 * 1024];
        p.push(&piece, &mut out);
        // Past the small size: room for the limit at once, never more.
        assert_eq!(p.line.capacity(), max);
        for _ in 0..8 {
            p.push(&piece, &mut out);
        }
        assert_eq!(p.line.capacity(), max);
        p.push(b"\n\n", &mut out);
        assert_eq!(out.events.len(), 1);
        assert_eq!(out.events[0].data.len(), 9 * 100 * 1024);
        // The line is done: its buffer does not stay at the limit.
        assert!(
            p.line.capacity() <= SMALL_LINE_BYTES,
            "{}",
            p.line.capacity()
        );
    }
}
