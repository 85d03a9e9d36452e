//! A call whose reply stream is dropped on purpose and resumed
//! (`resume_after`): the POST carries a progress token, its event stream is
//! read until `after` numbered events are in, the connection is closed
//! without a goodbye, and a GET with the session id and `Last-Event-ID`
//! picks the stream up again until the reply. Every number must arrive
//! exactly once and in order (`protocol::resume`); a gap or a duplicate is a
//! protocol violation naming the numbers. The replay time (resume request →
//! the last replayed event, the reply) and the counts go to the run's
//! `ResumeFigures`.
//!
//! Some servers replay only what they had stored when the GET came and then
//! send nothing more on it (the TypeScript reference server's event store);
//! others end the replay there. Either way, a resumed stream that brings
//! nothing for [`RESUME_IDLE`], or ends without the reply, is resumed again
//! from the last event it brought, at most [`MAX_RESUMES`] times.

use super::conn::RequestBytes;
use super::pool::Body;
use super::post::{Replies, Reply};
use super::{Inner, SessionMode, SESSION_HEADER, VERSION_HEADER};
use crate::client::{judge, CallError};
use crate::protocol::jsonrpc::{PreparedRequest, ResumeAsk};
use crate::protocol::lines::MAX_LINE_BYTES;
use crate::protocol::resume::{event_number, Sequence};
use crate::protocol::sse::{Parsed, SseParser};
use crate::transport::resume_figures::ResumeSample;
use std::sync::atomic::Ordering;
use std::time::Duration;
use tokio::time::Instant;

/// A resumed stream silent this long is resumed again.
pub const RESUME_IDLE: Duration = Duration::from_secs(1);
/// Resume requests one call may make.
pub const MAX_RESUMES: u32 = 5;

/// Where reading one stream got to.
struct Reading {
    token: String,
    seq: Sequence,
    /// The `total` the events announce: how many numbers to expect.
    total: Option<u64>,
    replies: Replies,
    /// When the last numbered event or the reply arrived.
    last_at: Option<Instant>,
}

/// Why a stream stopped being read.
enum Stop {
    /// `after` numbered events are in: drop it here.
    Enough,
    /// The reply arrived.
    Answered,
    /// It ended (or broke) first.
    Ended(Option<CallError>),
    /// Nothing came for [`RESUME_IDLE`].
    Idle,
}

impl Reading {
    /// Reads `body` until the reply, or `until` numbered events when given.
    async fn read(
        &mut self,
        inner: &Inner,
        body: &mut Body,
        parser: &mut SseParser,
        until: Option<u64>,
        idle: Option<Duration>,
    ) -> Stop {
        let mut chunk = Vec::with_capacity(4096);
        loop {
            chunk.clear();
            let next = body.chunk(&mut chunk);
            let got = match idle {
                Some(idle) => match tokio::time::timeout(idle, next).await {
                    Ok(got) => got,
                    Err(_) => return Stop::Idle,
                },
                None => next.await,
            };
            match got {
                Ok(true) => {}
                Ok(false) => return Stop::Ended(None),
                Err(e) => return Stop::Ended(Some(e)),
            }
            let mut parsed = Parsed::default();
            parser.push(&chunk, &mut parsed);
            let at = Instant::now();
            for event in parsed.events {
                self.on_event(&event.data, at);
                // The reply is filed, the rest counted, as on any stream.
                inner.on_body(&event.data, &mut self.replies, at, true);
            }
            if self.replies.complete() {
                return Stop::Answered;
            }
            if until.is_some_and(|k| self.seq.received >= k) {
                return Stop::Enough;
            }
        }
    }

    fn on_event(&mut self, data: &str, at: Instant) {
        let Ok(message) = serde_json::from_str::<serde_json::Value>(data) else {
            return;
        };
        if let Some(n) = event_number(&message, &self.token) {
            self.seq.see(n);
            self.last_at = Some(at);
            if let Some(total) = message["params"]["total"].as_f64() {
                self.total = Some(total as u64);
            }
        }
    }
}

impl Inner {
    /// One call with a drop and a resumption; the figures go to the run.
    pub(super) async fn call_resuming(
        &self,
        req: &PreparedRequest,
        ask: &ResumeAsk,
    ) -> Result<Instant, CallError> {
        let sent = Instant::now();
        let mut sample = ResumeSample::default();
        let outcome = self.resuming(req, ask, &mut sample).await;
        sample.call = sent.elapsed();
        self.pool
            .deployed()
            .resume
            .record(&ask.label, sent, &sample);
        outcome
    }

    async fn resuming(
        &self,
        req: &PreparedRequest,
        ask: &ResumeAsk,
        sample: &mut ResumeSample,
    ) -> Result<Instant, CallError> {
        let session_id = self
            .state()
            .session_id
            .filter(|_| self.mode == SessionMode::Initialized);
        let Some(session_id) = session_id else {
            return Err(CallError::Protocol(
                "resume_after needs a Streamable HTTP session (Mcp-Session-Id): none was \
                 given (the stateless 2026-07-28 era has none; set protocol = \"2025-11-25\")"
                    .into(),
            ));
        };
        let id = self.next_id.fetch_add(1, Ordering::Relaxed);
        let token = format!("mcptop-{id}");
        let meta = serde_json::json!({ "progressToken": token }).to_string();
        let mut body = self.post_events(req, id, meta.as_bytes()).await?;
        let mut reading = Reading {
            token,
            seq: Sequence::new(),
            total: None,
            replies: Replies::one(id),
            last_at: None,
        };
        let mut parser = SseParser::new(MAX_LINE_BYTES);
        let first = reading
            .read(
                self,
                &mut body,
                &mut parser,
                Some(u64::from(ask.plan.after)),
                None,
            )
            .await;
        let resumed_at = match first {
            Stop::Answered => {
                body.drain_later();
                None
            }
            Stop::Ended(e) => {
                let received = reading.seq.received;
                return Err(e.unwrap_or_else(|| {
                    CallError::Protocol(format!(
                        "the event stream ended after {received} events, without the reply"
                    ))
                }));
            }
            Stop::Enough => {
                // Closed without reading on: the connection is not reused.
                drop(body);
                let last_id = parser.last_event_id.clone().ok_or_else(|| {
                    CallError::Protocol(format!(
                        "the event stream has no event ids: it cannot be resumed (after event {})",
                        reading.seq.last()
                    ))
                })?;
                let before = reading.seq.received;
                if !ask.plan.delay.is_zero() {
                    tokio::time::sleep(ask.plan.delay).await;
                }
                let resumed = self
                    .resume(&session_id, last_id, &mut reading, sample)
                    .await;
                sample.replayed = reading.seq.received - before;
                Some(resumed?)
            }
            // Not read with an idle limit: cannot come.
            Stop::Idle => return Err(CallError::Protocol("the event stream went silent".into())),
        };
        finish(req, reading, resumed_at, sample)
    }

    /// The POST, answered with an event stream.
    async fn post_events(
        &self,
        req: &PreparedRequest,
        id: u64,
        meta: &[u8],
    ) -> Result<Body, CallError> {
        let (mut request, _) = self.post_head(req.method, req.target_name.as_deref(), true, 0);
        let deployed = self.pool.deployed();
        let authorization = deployed.authorization().await?;
        deployed.decorate(&mut request, authorization.as_ref());
        let (head, body) = self
            .pool
            .send(&request.finish(&req.encode_with_meta(id, meta)))
            .await
            .map_err(|e| self.deaths.send_failed(e))?;
        if !(200..300).contains(&head.status) {
            body.drain_later();
            return Err(CallError::Transport(format!("HTTP {}", head.status)));
        }
        if !head.event_stream {
            body.drain_later();
            return Err(CallError::Protocol(
                "resume_after: the reply came as one JSON body, not an event stream, so \
                 there is nothing to resume"
                    .into(),
            ));
        }
        Ok(body)
    }

    /// GETs with `Last-Event-ID` until the reply; when the last GET went out.
    async fn resume(
        &self,
        session_id: &str,
        mut last_id: String,
        reading: &mut Reading,
        sample: &mut ResumeSample,
    ) -> Result<Instant, CallError> {
        for _ in 0..MAX_RESUMES {
            let at = Instant::now();
            sample.resumes += 1;
            let mut body = self
                .resume_get(session_id, &last_id, reading.seq.last())
                .await?;
            let before = reading.seq.received;
            let mut parser = SseParser::new(MAX_LINE_BYTES);
            let stop = reading.read(self, &mut body, &mut parser, None, Some(RESUME_IDLE));
            match stop.await {
                Stop::Answered => {
                    // Closed, not drained: a replay may stay open after the
                    // reply (the TypeScript server's does), and would hold
                    // the connection a request needs.
                    drop(body);
                    return Ok(at);
                }
                Stop::Ended(Some(e)) => return Err(e),
                Stop::Ended(None) if reading.seq.received == before => {
                    // A finite replay with nothing new: the server has not
                    // stored more yet, so wait before asking again.
                    tokio::time::sleep(RESUME_IDLE).await;
                }
                Stop::Idle | Stop::Ended(None) | Stop::Enough => {}
            }
            if let Some(id) = parser.last_event_id {
                last_id = id;
            }
        }
        Err(CallError::Protocol(format!(
            "no reply after {MAX_RESUMES} resumptions (the last after event {}, Last-Event-ID \
             {last_id:?})",
            reading.seq.last()
        )))
    }

    /// One GET with `Last-Event-ID`, answered with an event stream.
    async fn resume_get(
        &self,
        session_id: &str,
        last_id: &str,
        after: u64,
    ) -> Result<Body, CallError> {
        let state = self.state();
        let mut request = RequestBytes::new("GET", &self.path, &self.host);
        request
            .header("Accept", "text/event-stream")
            .header(SESSION_HEADER, session_id)
            .header("Last-Event-ID", last_id);
        if let Some(v) = &state.version {
            request.header(VERSION_HEADER, v);
        }
        self.pool.deployed().decorate_now(&mut request).await;
        let (head, body) = self
            .pool
            .send(&request.finish(b""))
            .await
            .map_err(|e| self.deaths.send_failed(e))?;
        if (200..300).contains(&head.status) && head.event_stream {
            return Ok(body);
        }
        body.drain_later();
        Err(CallError::Protocol(format!(
            "resuming after event {after} (Last-Event-ID {last_id:?}): HTTP {}{}",
            head.status,
            if head.event_stream {
                ""
            } else {
                ", not an event stream"
            }
        )))
    }
}

/// The checks once the reply is in: the server's own error first (a tool
/// that refused to stream), then every number once, in order.
fn finish(
    req: &PreparedRequest,
    mut reading: Reading,
    resumed_at: Option<Instant>,
    sample: &mut ResumeSample,
) -> Result<Instant, CallError> {
    let reply: Option<Reply> = reading.replies.into_replies().pop().flatten();
    let Some((at, outcome)) = reply else {
        return Err(CallError::Protocol("no reply".into()));
    };
    if let (Some(from), Some(to)) = (resumed_at, reading.last_at) {
        sample.replay = Some(to.max(at).saturating_duration_since(from));
    }
    let expected = reading.total.unwrap_or(reading.seq.last());
    let checked = reading.seq.finish(expected);
    sample.events = reading.seq.received;
    sample.duplicates = reading.seq.duplicates;
    sample.missing = reading.seq.missing;
    let judged = judge(req, at, outcome)?;
    if reading.seq.received == 0 {
        return Err(CallError::Protocol(
            "resume_after: the reply came without numbered progress events \
             (is the tool one that streams them, like the builtin `events`?)"
                .into(),
        ));
    }
    checked.map_err(CallError::Protocol)?;
    Ok(judged)
}
