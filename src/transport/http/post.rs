//! One POST of a Streamable HTTP session and the replies it brings: a JSON
//! body, or an event stream read until every awaited reply is in. Either may
//! hold a single message or, answering a JSON-RPC batch, an array of them.
//! Whatever else arrives (server requests, notifications, replies nobody
//! awaits) is answered or counted on the way.

use super::conn::RequestBytes;
use super::pool::Body;
use super::{Inner, SessionMode, ACCEPT_BOTH, SESSION_HEADER, VERSION_HEADER};
use crate::client::{rpc_error, wire_bytes, CallError};
use crate::protocol::jsonrpc::{self as wire, Incoming, Messages, ResultProbe};
use crate::protocol::lines::MAX_LINE_BYTES;
use crate::protocol::sse;
use std::borrow::Cow;
use std::sync::atomic::Ordering;
use tokio::time::Instant;

pub(super) type Reply = (Instant, Result<ResultProbe, CallError>);

/// The replies one POST waits for, by id, each with when it arrived.
pub(super) struct Replies {
    first: u64,
    got: Vec<Option<Reply>>,
    /// The POST carried a batch, so an array in reply is its answer.
    batch: bool,
}

impl Replies {
    /// A notification: no reply.
    pub fn none() -> Replies {
        Replies {
            first: 0,
            got: Vec::new(),
            batch: false,
        }
    }

    pub fn one(id: u64) -> Replies {
        Replies {
            first: id,
            got: vec![None],
            batch: false,
        }
    }

    /// The consecutive ids `first..first + count` of a batch.
    pub fn batch(first: u64, count: usize) -> Replies {
        Replies {
            first,
            got: (0..count).map(|_| None).collect(),
            batch: true,
        }
    }

    pub(super) fn complete(&self) -> bool {
        self.got.iter().all(Option::is_some)
    }

    fn found_any(&self) -> bool {
        self.got.iter().any(Option::is_some)
    }

    /// Files a reply; false when nothing awaits `id` (unknown or duplicate).
    fn file(&mut self, id: u64, reply: Reply) -> bool {
        let slot = id
            .checked_sub(self.first)
            .and_then(|i| self.got.get_mut(usize::try_from(i).ok()?));
        match slot {
            Some(slot @ None) => {
                *slot = Some(reply);
                true
            }
            _ => false,
        }
    }

    /// Gives every reply still missing the error `why` makes for its id.
    fn fill(&mut self, at: Instant, why: impl Fn(u64) -> CallError) {
        for (id, slot) in (self.first..).zip(self.got.iter_mut()) {
            if slot.is_none() {
                *slot = Some((at, Err(why(id))));
            }
        }
    }

    /// The replies in id order; `None` where none came.
    pub fn into_replies(self) -> Vec<Option<Reply>> {
        self.got
    }
}

/// What one POST came to.
pub(super) enum Posted {
    /// Every awaited reply is filed: a message or an error for its id.
    Answered,
    /// Nothing came back for any request: the POST itself failed.
    Failed(CallError),
    /// 404 on a session id: the server forgot the session.
    SessionExpired,
}

impl Inner {
    pub(super) async fn post(
        &self,
        body: Vec<u8>,
        replies: &mut Replies,
        method: &str,
        name: Option<&str>,
    ) -> Posted {
        self.post_raw(body, replies, method, name, true).await.0
    }

    /// A POST's request line and headers, with room for a body of
    /// `body_len` bytes: the session's id and protocol version when
    /// `with_session`, the method and name when stateless. Also says whether
    /// a session id went with it.
    pub(super) fn post_head(
        &self,
        method: &str,
        name: Option<&str>,
        with_session: bool,
        body_len: usize,
    ) -> (RequestBytes, bool) {
        let mut request = RequestBytes::with_body_room("POST", &self.path, &self.host, body_len);
        request
            .header("Content-Type", "application/json")
            .header("Accept", ACCEPT_BOTH);
        // Read in place: a copy of the state would cost two `String`s a request.
        let sent_session = self.with_state(|state| {
            if !with_session {
                return false;
            }
            if let Some(id) = &state.session_id {
                request.header(SESSION_HEADER, id);
            }
            if let Some(v) = &state.version {
                request.header(VERSION_HEADER, v);
            }
            state.session_id.is_some()
        });
        if self.mode == SessionMode::Stateless {
            request.header("Mcp-Method", method);
            if let Some(value) = name.map(header_text) {
                request.header("Mcp-Name", &value);
            }
        }
        (request, sent_session)
    }

    /// One POST; also returns the `Mcp-Session-Id` the server sent.
    // Over 80 lines: one POST from its head to its judged reply, each status
    // in turn, reads best in one place; counting its bytes added the last few.
    pub(super) async fn post_raw(
        &self,
        body: Vec<u8>,
        replies: &mut Replies,
        method: &str,
        name: Option<&str>,
        with_session: bool,
    ) -> (Posted, Option<String>) {
        let (mut request, sent_session) = self.post_head(method, name, with_session, body.len());
        let deployed = self.pool.deployed();
        let authorization = match deployed.authorization().await {
            Ok(a) => a,
            Err(e) => return (Posted::Failed(e), None),
        };
        deployed.decorate(&mut request, authorization.as_ref());
        let request = request.finish(&body);
        let (head, reply) = match self.pool.send(&request).await {
            Ok(r) => r,
            Err(e) => return (Posted::Failed(self.deaths.send_failed(e)), None),
        };
        // Headers count with the body on both sides: they are on the wire.
        wire_bytes::add_sent(request.len());
        wire_bytes::add_received(head.wire_len);
        let status = head.status;
        if status == 401 {
            reply.drain_later();
            deployed.refused(authorization.as_ref());
            let refusal = crate::transport::auth::unauthorized(head.www_authenticate.as_deref());
            return (Posted::Failed(refusal), head.session_id);
        }
        let ok = (200..300).contains(&status);
        let session_id = head.session_id;
        if status == 404 && sent_session {
            reply.drain_later();
            if let Some(gone) = self.deaths.forgotten() {
                return (Posted::Failed(gone), session_id);
            }
            return (Posted::SessionExpired, session_id);
        }
        if status == 202 || (ok && replies.got.is_empty()) {
            reply.drain_later();
            if replies.got.is_empty() {
                return (Posted::Answered, session_id);
            }
            let why = format!("HTTP {status} and no reply to a request");
            return (Posted::Failed(CallError::Protocol(why)), session_id);
        }
        if head.event_stream && ok {
            // Boxed: its parser would otherwise swell every POST's future,
            // which is moved on each request, by the size of the rare path.
            return (Box::pin(self.read_events(reply, replies)).await, session_id);
        }
        let bytes = match reply.collect(MAX_LINE_BYTES).await {
            Ok(b) => b,
            Err(e) => return (Posted::Failed(self.deaths.read_failed(e)), session_id),
        };
        wire_bytes::add_received(bytes.len());
        let at = Instant::now();
        if let Ok(text) = std::str::from_utf8(&bytes) {
            self.on_body(text, replies, at, ok);
        }
        let text = || wire::snippet(String::from_utf8_lossy(&bytes).trim());
        let posted = match (replies.found_any(), ok) {
            (true, true) => {
                replies.fill(at, |id| {
                    CallError::Protocol(format!("the batch reply has no response for id {id}"))
                });
                Posted::Answered
            }
            (true, false) => {
                replies.fill(at, |_| {
                    CallError::Transport(format!("HTTP {status}: {}", text()))
                });
                Posted::Answered
            }
            (false, true) => Posted::Failed(CallError::Protocol(format!(
                "HTTP {status} without the reply: {}",
                text()
            ))),
            (false, false) => {
                Posted::Failed(CallError::Transport(format!("HTTP {status}: {}", text())))
            }
        };
        (posted, session_id)
    }

    /// Reads an event stream until every awaited reply arrived; the rest of
    /// the stream is read in the background before the connection is reused.
    async fn read_events(&self, mut body: Body, replies: &mut Replies) -> Posted {
        let mut parser = sse::SseParser::new(MAX_LINE_BYTES);
        let mut chunk = Vec::with_capacity(4096);
        loop {
            chunk.clear();
            match body.chunk(&mut chunk).await {
                Ok(true) => {}
                Ok(false) => break,
                Err(e) if replies.found_any() => {
                    let e = self.deaths.read_failed(e);
                    replies.fill(Instant::now(), |_| e.clone());
                    return Posted::Answered;
                }
                Err(e) => return Posted::Failed(self.deaths.read_failed(e)),
            }
            // The event stream's framing (`data:`, `id:`) counts: it is on the wire.
            wire_bytes::add_received(chunk.len());
            let mut parsed = sse::Parsed::default();
            parser.push(&chunk, &mut parsed);
            let at = Instant::now();
            for _ in 0..parsed.oversized {
                self.counters.violation(format!(
                    "event longer than {MAX_LINE_BYTES} bytes (dropped)"
                ));
            }
            for event in parsed.events {
                self.on_body(&event.data, replies, at, true);
            }
            if replies.complete() {
                body.drain_later();
                return Posted::Answered;
            }
        }
        let ended = "the event stream ended without the reply";
        if !replies.found_any() {
            return Posted::Failed(CallError::Protocol(ended.into()));
        }
        replies.fill(Instant::now(), |_| CallError::Protocol(ended.into()));
        Posted::Answered
    }

    /// Handles one JSON body or event: a message, or an array answering a
    /// batch (whose requests it leaves unanswered fail at once).
    pub(super) fn on_body(
        &self,
        text: &str,
        replies: &mut Replies,
        at: Instant,
        expect_message: bool,
    ) {
        match wire::classify_text(text, replies.batch) {
            Messages::One(message) => self.on_message(message, replies, at, expect_message),
            Messages::Batch(messages) => {
                for message in messages {
                    self.on_message(message, replies, at, true);
                }
                replies.fill(at, |id| {
                    CallError::Protocol(format!("the batch reply has no response for id {id}"))
                });
            }
        }
    }

    fn on_message(
        &self,
        message: Incoming,
        replies: &mut Replies,
        at: Instant,
        expect_message: bool,
    ) {
        match message {
            Incoming::Response { id, outcome } => {
                if !replies.file(id, (at, outcome.map_err(rpc_error))) {
                    self.counters.violation(format!(
                        "response for id {id}, which this request did not send (unknown or duplicate)"
                    ));
                }
            }
            Incoming::ServerRequest { id, method } => {
                self.counters
                    .server_requests
                    .fetch_add(1, Ordering::Relaxed);
                self.answer_server(wire::reply_to_server(&id, &method));
            }
            Incoming::Notification { .. } => {
                self.counters.notifications.fetch_add(1, Ordering::Relaxed);
            }
            Incoming::Invalid(what) => {
                // An error body without JSON (a proxy page) is a transport
                // matter, reported with the status by the caller.
                if expect_message {
                    self.counters.violation(what);
                }
            }
        }
    }

    /// Replies to a server's request with a POST of its own.
    fn answer_server(&self, reply: Vec<u8>) {
        let Ok(runtime) = tokio::runtime::Handle::try_current() else {
            return;
        };
        let state = self.state();
        let mut request = RequestBytes::new("POST", &self.path, &self.host);
        request
            .header("Content-Type", "application/json")
            .header("Accept", ACCEPT_BOTH);
        if let Some(id) = &state.session_id {
            request.header(SESSION_HEADER, id);
        }
        if let Some(v) = &state.version {
            request.header(VERSION_HEADER, v);
        }
        self.pool.deployed().decorate_cached(&mut request);
        let request = request.finish(&reply);
        let pool = self.pool.clone();
        runtime.spawn(async move {
            if let Ok((_, body)) = pool.send(&request).await {
                let _ = body.collect(64 * 1024).await;
            }
        });
    }
}

/// A header value for a name: as is when it is plain printable ASCII, else
/// in the `=?base64?...?=` form the 2026-07-28 transport defines.
fn header_text(name: &str) -> Cow<'_, str> {
    let plain = !name.is_empty()
        && name.bytes().all(|b| (0x20..0x7f).contains(&b))
        && !name.starts_with(' ')
        && !name.ends_with(' ')
        && !name.starts_with("=?base64?");
    if plain {
        return Cow::Borrowed(name);
    }
    use base64::Engine;
    let encoded = base64::engine::general_purpose::STANDARD.encode(name.as_bytes());
    Cow::Owned(format!("=?base64?{encoded}?="))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_become_header_values() {
        assert_eq!(header_text("echo"), "echo");
        assert_eq!(header_text("héllo"), "=?base64?aMOpbGxv?=");
        assert!(header_text(" lead").starts_with("=?base64?"));
    }

    #[test]
    fn replies_are_filed_once_by_id_and_the_rest_filled() {
        let at = Instant::now();
        let mut r = Replies::batch(10, 3);
        assert!(r.file(11, (at, Ok(ResultProbe::default()))));
        assert!(!r.file(11, (at, Ok(ResultProbe::default()))), "duplicate");
        assert!(!r.file(13, (at, Ok(ResultProbe::default()))), "not ours");
        assert!(
            !r.file(9, (at, Ok(ResultProbe::default()))),
            "below the range"
        );
        assert!(r.found_any() && !r.complete());
        r.fill(at, |id| CallError::Protocol(id.to_string()));
        let got = r.into_replies();
        assert!(matches!(&got[0], Some((_, Err(CallError::Protocol(m)))) if m == "10"));
        assert!(matches!(&got[1], Some((_, Ok(_)))));
        assert!(matches!(&got[2], Some((_, Err(CallError::Protocol(m)))) if m == "12"));
    }
}
