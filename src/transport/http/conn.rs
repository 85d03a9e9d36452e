//! A minimal HTTP/1.1 client connection, driven by the task that makes the
//! request. A general client (hyper's) runs each connection on a task of its
//! own and hands requests and replies across channels: two task wake-ups per
//! request, which on a loaded box cost more than the parsing. Here the caller
//! writes the request and reads the reply itself. Only what MCP servers send
//! is understood: `Content-Length`, `chunked`, or a body until close.

use super::super::tls::{Dial, MaybeTls};
use std::io;
use tokio::io::{AsyncBufReadExt, AsyncReadExt, AsyncWriteExt, BufReader};

/// Longest response head accepted.
const MAX_HEAD_BYTES: usize = 64 * 1024;
const READ_BUFFER_BYTES: usize = 16 * 1024;

pub struct Conn {
    io: BufReader<MaybeTls>,
    /// True between a reply head that allows keep-alive and the next send.
    pub reusable: bool,
    /// Requests sent on this connection.
    requests: u32,
}

/// How the body of a response is delimited.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum Framing {
    Length(u64),
    /// In a chunked body: bytes left in the current chunk (`None` between).
    Chunked(Option<u64>),
    UntilClose,
    Done,
}

/// The parts of a response head mcptop reads.
#[derive(Debug)]
pub struct Head {
    pub status: u16,
    pub event_stream: bool,
    pub session_id: Option<String>,
    /// A 401's challenge.
    pub www_authenticate: Option<String>,
    pub framing: Framing,
    /// Bytes the status line and headers took, 1xx heads before it included.
    pub wire_len: usize,
}

/// Builds a request head; values must not contain CR or LF.
pub struct RequestBytes(Vec<u8>);

/// Room for a request head's usual headers, so building one allocates once.
const HEAD_ROOM: usize = 512;

impl RequestBytes {
    pub fn new(method: &str, path: &str, host: &str) -> RequestBytes {
        RequestBytes::with_body_room(method, path, host, 0)
    }

    /// A head whose buffer also has room for a body of `body_len` bytes, so
    /// `finish` copies the body in without growing it.
    pub fn with_body_room(method: &str, path: &str, host: &str, body_len: usize) -> RequestBytes {
        let mut b = Vec::with_capacity(HEAD_ROOM + body_len);
        b.extend_from_slice(method.as_bytes());
        b.push(b' ');
        b.extend_from_slice(path.as_bytes());
        b.extend_from_slice(b" HTTP/1.1\r\nHost: ");
        b.extend_from_slice(host.as_bytes());
        b.extend_from_slice(b"\r\n");
        RequestBytes(b)
    }

    pub fn header(&mut self, name: &str, value: &str) -> &mut Self {
        if !value.bytes().any(|c| c == b'\r' || c == b'\n') {
            self.0.extend_from_slice(name.as_bytes());
            self.0.extend_from_slice(b": ");
            self.0.extend_from_slice(value.as_bytes());
            self.0.extend_from_slice(b"\r\n");
        }
        self
    }

    pub fn finish(mut self, body: &[u8]) -> Vec<u8> {
        self.0.reserve(body.len() + 40);
        self.0.extend_from_slice(b"Content-Length: ");
        crate::protocol::jsonrpc::push_digits(&mut self.0, body.len() as u64);
        self.0.extend_from_slice(b"\r\n\r\n");
        self.0.extend_from_slice(body);
        self.0
    }
}

fn bad(what: impl Into<String>) -> io::Error {
    io::Error::new(io::ErrorKind::InvalidData, what.into())
}

impl Conn {
    /// A plain connection to `authority`.
    pub async fn dial(authority: &str) -> io::Result<Conn> {
        let host = authority.rsplit_once(':').map_or(authority, |(h, _)| h);
        Conn::open(&Dial {
            authority,
            host,
            tls: None,
            timeout: super::super::CONNECT_TIMEOUT,
            phases: None,
        })
        .await
    }

    /// A connection, over TLS when `dial` says so.
    pub async fn open(dial: &Dial<'_>) -> io::Result<Conn> {
        let stream = dial.open().await?;
        Ok(Conn {
            io: BufReader::with_capacity(READ_BUFFER_BYTES, stream),
            reusable: true,
            requests: 0,
        })
    }

    /// True when this connection carried a request before the current one,
    /// so a close before any reply byte may be the server's idle timeout.
    pub fn was_reused(&self) -> bool {
        self.requests > 1
    }

    /// Writes a whole request and reads the head of its response.
    pub async fn send(&mut self, request: &[u8]) -> io::Result<Head> {
        self.requests += 1;
        self.reusable = false;
        self.io.get_mut().write_all(request).await?;
        let mut informational = 0;
        loop {
            let mut head = self.read_head().await?;
            // 1xx replies are followed by the real one.
            if !(100..200).contains(&head.status) {
                head.wire_len += informational;
                return Ok(head);
            }
            informational += head.wire_len;
        }
    }

    /// Reads one response head. Nearly always one read brings the whole head
    /// (and the body), so it is parsed where it lies in the read buffer;
    /// only a head split across reads is gathered line by line first.
    async fn read_head(&mut self) -> io::Result<Head> {
        let buffered = self.io.fill_buf().await?;
        if buffered.is_empty() {
            return Err(closed_before_reply());
        }
        if let Some(end) = head_end(buffered) {
            let parsed = parse_head(&buffered[..end]);
            self.io.consume(end);
            return self.judged(parsed?);
        }
        let mut bytes = Vec::with_capacity(buffered.len().max(128) * 2);
        loop {
            let line_start = bytes.len();
            let n = (&mut self.io)
                .take((MAX_HEAD_BYTES - line_start) as u64 + 1)
                .read_until(b'\n', &mut bytes)
                .await?;
            if n == 0 {
                return Err(closed_before_reply());
            }
            if bytes.len() > MAX_HEAD_BYTES {
                return Err(bad("response head too long"));
            }
            if line_start > 0 && bytes[line_start..].trim_ascii_end().is_empty() {
                break;
            }
        }
        self.judged(parse_head(&bytes)?)
    }

    /// Notes whether the connection can carry the next request.
    fn judged(&mut self, (head, keep_alive): (Head, bool)) -> io::Result<Head> {
        // Reusable once the body is read, if the server keeps the connection.
        self.reusable = keep_alive && head.framing != Framing::UntilClose;
        Ok(head)
    }

    /// Appends the next piece of the body to `out`; false at its end.
    pub async fn body_chunk(
        &mut self,
        framing: &mut Framing,
        out: &mut Vec<u8>,
    ) -> io::Result<bool> {
        loop {
            match *framing {
                Framing::Done => return Ok(false),
                Framing::Length(left) => {
                    let buf = self.io.fill_buf().await?;
                    if buf.is_empty() {
                        return Err(bad("connection closed inside a reply"));
                    }
                    let n = buf.len().min(left as usize);
                    out.extend_from_slice(&buf[..n]);
                    self.io.consume(n);
                    let left = left - n as u64;
                    *framing = if left == 0 {
                        Framing::Done
                    } else {
                        Framing::Length(left)
                    };
                    return Ok(true);
                }
                Framing::UntilClose => {
                    let buf = self.io.fill_buf().await?;
                    if buf.is_empty() {
                        *framing = Framing::Done;
                        return Ok(false);
                    }
                    let n = buf.len();
                    out.extend_from_slice(buf);
                    self.io.consume(n);
                    return Ok(true);
                }
                Framing::Chunked(None) => {
                    let size = self.read_line_text().await?;
                    let size = size.split(';').next().unwrap_or_default().trim();
                    let size = u64::from_str_radix(size, 16)
                        .map_err(|_| bad(format!("bad chunk size {size:?}")))?;
                    if size == 0 {
                        // Trailers, up to the blank line.
                        while !self.read_line_text().await?.is_empty() {}
                        *framing = Framing::Done;
                        return Ok(false);
                    }
                    *framing = Framing::Chunked(Some(size));
                }
                Framing::Chunked(Some(left)) => {
                    let buf = self.io.fill_buf().await?;
                    if buf.is_empty() {
                        return Err(bad("connection closed inside a chunk"));
                    }
                    let n = buf.len().min(left as usize);
                    out.extend_from_slice(&buf[..n]);
                    self.io.consume(n);
                    if left == n as u64 {
                        self.read_line_text().await?;
                        *framing = Framing::Chunked(None);
                    } else {
                        *framing = Framing::Chunked(Some(left - n as u64));
                    }
                    return Ok(true);
                }
            }
        }
    }

    async fn read_line_text(&mut self) -> io::Result<String> {
        let mut line = Vec::new();
        let n = (&mut self.io)
            .take(4096)
            .read_until(b'\n', &mut line)
            .await?;
        if n == 0 {
            return Err(bad("connection closed inside a chunked reply"));
        }
        Ok(String::from_utf8_lossy(&line).trim_end().to_string())
    }
}

fn closed_before_reply() -> io::Error {
    io::Error::new(
        io::ErrorKind::UnexpectedEof,
        "connection closed before a reply",
    )
}

/// Where the head at the start of `bytes` ends (just past its blank line),
/// if it is all there. A line of only whitespace counts as blank.
fn head_end(bytes: &[u8]) -> Option<usize> {
    let mut at = bytes.iter().position(|&b| b == b'\n')? + 1;
    loop {
        let len = bytes[at..].iter().position(|&b| b == b'\n')? + 1;
        let line = &bytes[at..at + len];
        at += len;
        if line.trim_ascii_end().is_empty() {
            return Some(at);
        }
    }
}

/// Parses a whole response head, status line to blank line; also says
/// whether the server keeps the connection open.
fn parse_head(bytes: &[u8]) -> io::Result<(Head, bool)> {
    let text = std::str::from_utf8(bytes).map_err(|_| bad("response head is not UTF-8"))?;
    let mut lines = text.split_terminator('\n').map(str::trim_ascii_end);
    let status_line = lines.next().unwrap_or_default();
    let mut parts = status_line.split(' ');
    let version = parts.next().unwrap_or_default();
    if !version.starts_with("HTTP/1.") {
        return Err(bad(format!("not an HTTP/1 reply: {status_line:?}")));
    }
    let mut keep_alive = version != "HTTP/1.0";
    let mut head = Head {
        status: parts
            .next()
            .and_then(|s| s.parse().ok())
            .ok_or_else(|| bad(format!("bad status line {status_line:?}")))?,
        event_stream: false,
        session_id: None,
        www_authenticate: None,
        framing: Framing::UntilClose,
        wire_len: bytes.len(),
    };
    for line in lines.take_while(|l| !l.is_empty()) {
        apply_header(&mut head, &mut keep_alive, line)?;
    }
    if head.status == 204 || head.status == 304 || head.framing == Framing::Length(0) {
        head.framing = Framing::Done;
    }
    Ok((head, keep_alive))
}

/// Reads one response header line into `head` (framing, event stream,
/// session id) and `keep_alive`.
fn apply_header(head: &mut Head, keep_alive: &mut bool, text: &str) -> io::Result<()> {
    let Some((name, value)) = text.split_once(':') else {
        return Err(bad(format!("bad header line {text:?}")));
    };
    let value = value.trim();
    if name.eq_ignore_ascii_case("content-length") {
        let len = value
            .parse()
            .map_err(|_| bad(format!("bad Content-Length {value:?}")))?;
        if head.framing == Framing::UntilClose {
            head.framing = Framing::Length(len);
        }
    } else if name.eq_ignore_ascii_case("transfer-encoding") {
        if value.to_ascii_lowercase().ends_with("chunked") {
            head.framing = Framing::Chunked(None);
        }
    } else if name.eq_ignore_ascii_case("content-type") {
        head.event_stream = value.starts_with("text/event-stream");
    } else if name.eq_ignore_ascii_case("mcp-session-id") {
        head.session_id = Some(value.to_string());
    } else if name.eq_ignore_ascii_case("www-authenticate") {
        head.www_authenticate = Some(value.to_string());
    } else if name.eq_ignore_ascii_case("connection") {
        let v = value.to_ascii_lowercase();
        *keep_alive = if v.contains("close") {
            false
        } else {
            *keep_alive || v.contains("keep-alive")
        };
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use tokio::net::TcpListener;

    /// A server that answers every request with the next canned reply.
    async fn canned(replies: Vec<&'static str>) -> String {
        let listener = TcpListener::bind("127.0.0.1:0").await.expect("bind");
        let addr = listener.local_addr().expect("addr").to_string();
        tokio::spawn(async move {
            let Ok((mut socket, _)) = listener.accept().await else {
                return;
            };
            let mut buf = vec![0u8; 4096];
            for reply in replies {
                let _ = socket.read(&mut buf).await;
                let _ = socket.write_all(reply.as_bytes()).await;
            }
        });
        addr
    }

    async fn body(conn: &mut Conn, head: &Head) -> String {
        let mut framing = head.framing;
        let mut out = Vec::new();
        while conn.body_chunk(&mut framing, &mut out).await.expect("body") {}
        String::from_utf8(out).expect("utf8")
    }

    #[tokio::test]
    async fn reads_length_chunked_and_informational_replies_on_one_connection() {
        let addr = canned(vec![
            "HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nMcp-Session-Id: abc\r\nContent-Length: 5\r\n\r\nhello",
            "HTTP/1.1 100 Continue\r\n\r\nHTTP/1.1 200 OK\r\nContent-Type: text/event-stream\r\nTransfer-Encoding: chunked\r\n\r\n4;x=y\r\ndata\r\n3\r\n: x\r\n0\r\nTrailer: 1\r\n\r\n",
            "HTTP/1.1 202 Accepted\r\nContent-Length: 0\r\nConnection: close\r\n\r\n",
        ])
        .await;
        let mut conn = Conn::dial(&addr).await.expect("dial");
        let request = RequestBytes::new("POST", "/mcp", &addr).finish(b"{}");
        let head = conn.send(&request).await.expect("head");
        assert_eq!(head.status, 200);
        assert_eq!(head.session_id.as_deref(), Some("abc"));
        assert!(!head.event_stream);
        assert_eq!(body(&mut conn, &head).await, "hello");
        assert!(conn.reusable);

        let head = conn.send(&request).await.expect("head");
        assert_eq!(head.status, 200);
        assert!(head.event_stream);
        assert_eq!(body(&mut conn, &head).await, "data: x");
        assert!(conn.was_reused());

        let head = conn.send(&request).await.expect("head");
        assert_eq!((head.status, head.framing), (202, Framing::Done));
        assert!(!conn.reusable, "Connection: close");
    }

    #[tokio::test]
    async fn a_close_before_the_reply_and_a_bad_status_line_are_errors() {
        let addr = canned(vec!["garbage\r\n\r\n"]).await;
        let mut conn = Conn::dial(&addr).await.expect("dial");
        let request = RequestBytes::new("GET", "/", &addr).finish(b"");
        let err = conn.send(&request).await.expect_err("not HTTP");
        assert!(err.to_string().contains("not an HTTP/1 reply"), "{err}");
        let addr = canned(vec![]).await;
        let mut conn = Conn::dial(&addr).await.expect("dial");
        let err = conn.send(&request).await.expect_err("closed");
        // Closed with the request unread: EOF or a reset, depending on timing.
        assert!(
            matches!(
                err.kind(),
                io::ErrorKind::UnexpectedEof | io::ErrorKind::ConnectionReset
            ),
            "{err}"
        );
    }

    #[tokio::test]
    async fn a_head_longer_than_one_read_parses_and_leaves_the_body() {
        // Past the read buffer, so the head cannot arrive in one read.
        let filler = format!("X-Filler: {}\r\n", "f".repeat(100)).repeat(200);
        let reply = format!(
            "HTTP/1.1 200 OK\r\n{filler}Mcp-Session-Id: long\r\nContent-Length: 2\r\n\r\nok"
        );
        assert!(reply.len() > READ_BUFFER_BYTES);
        let addr = canned(vec![Box::leak(reply.into_boxed_str())]).await;
        let mut conn = Conn::dial(&addr).await.expect("dial");
        let request = RequestBytes::new("POST", "/mcp", &addr).finish(b"{}");
        let head = conn.send(&request).await.expect("head");
        assert_eq!(head.status, 200);
        assert_eq!(head.session_id.as_deref(), Some("long"));
        assert!(head.wire_len > READ_BUFFER_BYTES, "{}", head.wire_len);
        assert_eq!(body(&mut conn, &head).await, "ok");
    }

    #[test]
    fn a_head_is_found_and_parsed_where_it_lies() {
        let text = b"HTTP/1.0 200 OK\nContent-Length: 3\nConnection: keep-alive\n \r\nabc";
        let end = head_end(text).expect("whole head");
        assert_eq!(&text[end..], b"abc", "a whitespace line ends the head");
        let (head, keep_alive) = parse_head(&text[..end]).expect("parses");
        assert_eq!(
            (head.status, head.framing, head.wire_len),
            (200, Framing::Length(3), end)
        );
        assert!(keep_alive, "HTTP/1.0 with keep-alive");
        assert_eq!(head_end(b"HTTP/1.1 200 OK\r\nContent-Length: 3\r\n"), None);
        assert_eq!(head_end(b"HTTP/1.1 200 OK"), None);
        let (head, _) = parse_head(b"HTTP/1.1 204 No Content\r\n\r\n").expect("parses");
        assert_eq!(head.framing, Framing::Done);
        let err = parse_head(b"HTTP/1.1 abc\r\n\r\n").expect_err("bad status");
        assert!(err.to_string().contains("bad status line"), "{err}");
        let err = parse_head(b"HTTP/1.1 200 OK\r\nno colon\r\n\r\n").expect_err("bad header");
        assert!(err.to_string().contains("bad header line"), "{err}");
    }

    #[test]
    fn content_length_is_written_for_every_body_size() {
        for len in [0, 7, 10, 99, 307, 12_345] {
            let body = vec![b'x'; len];
            let sized = RequestBytes::with_body_room("POST", "/mcp", "h:1", len).finish(&body);
            let plain = RequestBytes::new("POST", "/mcp", "h:1").finish(&body);
            assert_eq!(sized, plain);
            let text = String::from_utf8(sized).expect("utf8");
            assert!(
                text.contains(&format!("\r\nContent-Length: {len}\r\n\r\n")),
                "{len}"
            );
            assert!(text.ends_with(&"x".repeat(len)));
        }
    }

    #[test]
    fn header_values_with_line_breaks_are_left_out() {
        let mut r = RequestBytes::new("POST", "/mcp", "h:1");
        r.header("A", "ok").header("B", "bad\r\nX-Injected: 1");
        let text = String::from_utf8(r.finish(b"")).expect("utf8");
        assert!(text.contains("A: ok\r\n"));
        assert!(!text.contains("Injected"));
    }
}
