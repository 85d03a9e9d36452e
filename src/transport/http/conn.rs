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

impl RequestBytes {
    pub fn new(method: &str, path: &str, host: &str) -> RequestBytes {
        let mut b = Vec::with_capacity(512);
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
        self.0.extend_from_slice(b"Content-Length: ");
        self.0.extend_from_slice(body.len().to_string().as_bytes());
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

    async fn read_head(&mut self) -> io::Result<Head> {
        let mut line = Vec::with_capacity(128);
        let mut total = 0;
        let mut head = Head {
            status: 0,
            event_stream: false,
            session_id: None,
            www_authenticate: None,
            framing: Framing::UntilClose,
            wire_len: 0,
        };
        let mut keep_alive = true;
        let mut first = true;
        loop {
            line.clear();
            let n = (&mut self.io)
                .take((MAX_HEAD_BYTES - total) as u64 + 1)
                .read_until(b'\n', &mut line)
                .await?;
            if n == 0 {
                return Err(io::Error::new(
                    io::ErrorKind::UnexpectedEof,
                    "connection closed before a reply",
                ));
            }
            total += n;
            if total > MAX_HEAD_BYTES {
                return Err(bad("response head too long"));
            }
            let text = std::str::from_utf8(&line)
                .map_err(|_| bad("response head is not UTF-8"))?
                .trim_end();
            if first {
                first = false;
                let mut parts = text.split(' ');
                let version = parts.next().unwrap_or_default();
                if !version.starts_with("HTTP/1.") {
                    return Err(bad(format!("not an HTTP/1 reply: {text:?}")));
                }
                keep_alive = version != "HTTP/1.0";
                head.status = parts
                    .next()
                    .and_then(|s| s.parse().ok())
                    .ok_or_else(|| bad(format!("bad status line {text:?}")))?;
                continue;
            }
            if text.is_empty() {
                break;
            }
            apply_header(&mut head, &mut keep_alive, text)?;
        }
        if head.status == 204 || head.status == 304 || head.framing == Framing::Length(0) {
            head.framing = Framing::Done;
        }
        head.wire_len = total;
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

    #[test]
    fn header_values_with_line_breaks_are_left_out() {
        let mut r = RequestBytes::new("POST", "/mcp", "h:1");
        r.header("A", "ok").header("B", "bad\r\nX-Injected: 1");
        let text = String::from_utf8(r.finish(b"")).expect("utf8");
        assert!(text.contains("A: ok\r\n"));
        assert!(!text.contains("Injected"));
    }
}
