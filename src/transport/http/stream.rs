//! The optional GET stream of a Streamable HTTP session: the server's own
//! requests and notifications, outside any POST. When it drops, it is opened
//! again with `Last-Event-ID` so the server can replay what was missed.

use super::conn::RequestBytes;
use super::pool::Pool;
use super::post::Replies;
use super::{Inner, SESSION_HEADER, VERSION_HEADER};
use crate::protocol::lines::MAX_LINE_BYTES;
use crate::protocol::sse::{Parsed, SseParser};
use std::sync::Arc;
use std::time::Duration;
use tokio::time::Instant;

/// Opens in a row that fail before any event arrives, before giving up.
const MAX_FAILED_OPENS: u32 = 5;
const REOPEN_DELAY: Duration = Duration::from_millis(100);

/// Runs until the session ends (the task is aborted) or the server says it
/// offers no stream (405) or keeps failing.
pub(super) async fn listen(inner: Arc<Inner>) {
    // Its own connection: a stream that never ends must not hold a slot
    // that requests need.
    let pool = Pool::new(
        inner.pool.endpoint().clone(),
        1,
        inner.pool.deployed().clone(),
    );
    let mut last_event_id: Option<String> = None;
    let mut resumed_session: Option<String> = None;
    let mut failed_opens = 0;
    while failed_opens < MAX_FAILED_OPENS {
        let state = inner.state();
        let Some(session_id) = state.session_id else {
            return;
        };
        if resumed_session.as_ref() != Some(&session_id) {
            // A new session: the old one's event ids mean nothing to it.
            last_event_id = None;
            resumed_session = Some(session_id.clone());
        }
        let mut request = RequestBytes::new("GET", &inner.path, &inner.host);
        request
            .header("Accept", "text/event-stream")
            .header(SESSION_HEADER, &session_id);
        if let Some(v) = &state.version {
            request.header(VERSION_HEADER, v);
        }
        if let Some(id) = &last_event_id {
            request.header("Last-Event-ID", id);
        }
        pool.deployed().decorate_now(&mut request).await;
        let got_events = match pool.send(&request.finish(b"")).await {
            Ok((head, _)) if head.status == 405 => return,
            Ok((head, mut body)) if (200..300).contains(&head.status) => {
                let mut parser = SseParser::new(MAX_LINE_BYTES);
                let mut any = false;
                let mut chunk = Vec::new();
                while let Ok(true) = body.chunk(&mut chunk).await {
                    let mut parsed = Parsed::default();
                    parser.push(&chunk, &mut parsed);
                    chunk.clear();
                    let at = Instant::now();
                    for event in parsed.events {
                        any = true;
                        inner.on_body(&event.data, &mut Replies::none(), at, true);
                    }
                    if parser.last_event_id.is_some() {
                        last_event_id = parser.last_event_id.clone();
                    }
                }
                any
            }
            Ok(_) | Err(_) => false,
        };
        failed_opens = if got_events { 0 } else { failed_opens + 1 };
        tokio::time::sleep(REOPEN_DELAY).await;
    }
}
