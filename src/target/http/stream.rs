//! The optional GET stream of a Streamable HTTP session: the server's own
//! requests and notifications, outside any POST. When it drops, it is opened
//! again with `Last-Event-ID` so the server can replay what was missed.

use super::pool::Pool;
use super::sse::{Parsed, SseParser};
use super::{Inner, SESSION_HEADER, VERSION_HEADER};
use crate::client::MAX_LINE_BYTES;
use bytes::Bytes;
use http::header::{HeaderValue, ACCEPT, HOST};
use http::{Method, Request, StatusCode};
use http_body_util::{BodyExt, Full};
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
    let pool = Pool::new(inner.pool.endpoint().clone(), 1);
    let mut last_event_id: Option<String> = None;
    let mut resumed_session: Option<HeaderValue> = None;
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
        let mut builder = Request::builder()
            .method(Method::GET)
            .uri(inner.path.clone())
            .header(HOST, inner.host.clone())
            .header(ACCEPT, HeaderValue::from_static("text/event-stream"))
            .header(SESSION_HEADER, session_id);
        if let Some(v) = state.version {
            builder = builder.header(VERSION_HEADER, v);
        }
        if let Some(id) = last_event_id
            .as_deref()
            .and_then(|i| HeaderValue::from_str(i).ok())
        {
            builder = builder.header("last-event-id", id);
        }
        let Ok(request) = builder.body(Full::new(Bytes::new())) else {
            return;
        };
        let got_events = match pool.lease().await {
            Ok(mut lease) => {
                let Some(sender) = lease.sender.as_mut() else {
                    return;
                };
                match sender.send_request(request).await {
                    Ok(response) if response.status() == StatusCode::METHOD_NOT_ALLOWED => return,
                    Ok(response) if response.status().is_success() => {
                        let mut body = response.into_body();
                        let mut parser = SseParser::new(MAX_LINE_BYTES);
                        let mut any = false;
                        while let Some(Ok(frame)) = body.frame().await {
                            let Some(chunk) = frame.data_ref() else {
                                continue;
                            };
                            let mut parsed = Parsed::default();
                            parser.push(chunk, &mut parsed);
                            let at = Instant::now();
                            for event in parsed.events {
                                any = true;
                                inner.on_body(&event.data, None, at, &mut None, true);
                            }
                            if parser.last_event_id.is_some() {
                                last_event_id = parser.last_event_id.clone();
                            }
                        }
                        // The stream ended: its connection is not reused.
                        lease.sender = None;
                        any
                    }
                    Ok(_) | Err(_) => {
                        lease.sender = None;
                        false
                    }
                }
            }
            Err(_) => false,
        };
        failed_opens = if got_events { 0 } else { failed_opens + 1 };
        tokio::time::sleep(REOPEN_DELAY).await;
    }
}
