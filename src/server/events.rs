//! The builtin `events {count, interval_us}` tool: `count` numbered
//! `notifications/progress` (progress 1, 2, ... `count`, message `event N`)
//! for the call's progress token, `interval_us` apart, then the result.
//!
//! Progress notifications are what rmcp routes onto the request's own SSE
//! stream (by the token the request registered); other notifications go to
//! the session's GET stream. Without `_meta.progressToken` the events are
//! `notifications/message` (info, data `{"event": N, "of": count}`): over
//! stdio, tcp, ws and the builtin server they arrive on the session's one
//! stream like any other. Over HTTP the tool needs a session with event
//! streams: a server started with `--json-response` or `--stateless`, or a
//! stateless-era request, cannot resume a stream, and the tool says so
//! instead of streaming.

use rmcp::model::{ProgressNotificationParam, ProgressToken};
use rmcp::service::RequestContext;
use rmcp::RoleServer;
use std::time::Duration;

/// Most events one call streams.
pub const MAX_EVENTS: u64 = 10_000;
/// Longest one call may stream for: `count * interval_us`.
pub const MAX_STREAM_MICROS: u64 = 60_000_000;

/// Why this server cannot stream resumable events over HTTP, when it cannot.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum HttpStreams {
    /// Sessions with event streams and an event store (or not HTTP at all).
    Resumable,
    /// `mcptop serve --http --json-response` or `--stateless`.
    Refused(&'static str),
}

/// The checks before streaming; the error is the tool's message.
pub fn check(
    count: u64,
    interval_us: u64,
    streams: HttpStreams,
    context: &RequestContext<RoleServer>,
) -> Result<Option<ProgressToken>, String> {
    if count > MAX_EVENTS {
        return Err(format!("count must be at most {MAX_EVENTS}"));
    }
    if count.saturating_mul(interval_us) > MAX_STREAM_MICROS {
        return Err(format!(
            "count * interval_us must be at most {MAX_STREAM_MICROS} (60 s of streaming)"
        ));
    }
    if let HttpStreams::Refused(flag) = streams {
        return Err(format!(
            "events needs SSE: this server runs with {flag}, which has no resumable \
             event stream; run `mcptop serve --http` without it"
        ));
    }
    if let Some(parts) = context.extensions.get::<hyper::http::request::Parts>() {
        if !parts.headers.contains_key("mcp-session-id") {
            return Err(
                "events needs SSE: this request has no session (the stateless \
                 2026-07-28 era), so its stream cannot be resumed; use a session \
                 (protocol 2025-11-25 or earlier)"
                    .into(),
            );
        }
    }
    Ok(context.meta.get_progress_token())
}

/// Sends the events; the number sent, or where the client went away.
pub async fn stream(
    count: u64,
    interval_us: u64,
    token: Option<ProgressToken>,
    context: &RequestContext<RoleServer>,
) -> Result<u64, String> {
    let interval = Duration::from_micros(interval_us);
    for n in 1..=count {
        let sent = match &token {
            Some(token) => {
                let progress = ProgressNotificationParam::new(token.clone(), n as f64)
                    .with_total(count as f64)
                    .with_message(format!("event {n}"));
                context.peer.notify_progress(progress).await
            }
            None => log_event(n, count, context).await,
        };
        if let Err(e) = sent {
            return Err(format!("event {n} could not be sent: {e}"));
        }
        if n < count && !interval.is_zero() {
            crate::pacer::sleep(interval).await;
        }
    }
    Ok(count)
}

/// Event `n` as `notifications/message`. Logging is deprecated (SEP-2577),
/// but it is the one notification a server may send without being given a
/// token, and the 2025 eras' clients all take it.
#[allow(deprecated)]
async fn log_event(
    n: u64,
    count: u64,
    context: &RequestContext<RoleServer>,
) -> Result<(), rmcp::service::ServiceError> {
    use rmcp::model::{LoggingLevel, LoggingMessageNotificationParam};
    let data = serde_json::json!({ "event": n, "of": count });
    let message = LoggingMessageNotificationParam::new(LoggingLevel::Info, data);
    context.peer.notify_logging_message(message).await
}
