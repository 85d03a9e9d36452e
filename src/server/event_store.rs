//! The in-memory event store behind `mcptop serve --http`: every SSE event
//! the server sends is kept here under an id `STREAM-INDEX`, so a client
//! whose stream dropped can come back with `Last-Event-ID` and get the rest.
//!
//! rmcp's session manager keeps its own replay cache, but that cache holds
//! only as many events as the session's channel (16), so a resumption after
//! more than 16 missed events fails; rmcp's [`EventStore`] hook has no such
//! limit, so the builtin server plugs this store into it.
//!
//! A replay does not stop at what is stored: it follows the stream live until
//! the stream's reply (a response or an error) is stored, so a client that
//! resumes while a tool is still streaming gets every later event on the
//! same GET. Memory is bounded: at most [`MAX_STORED_EVENTS`] events in all
//! (the oldest streams are forgotten first) and [`MAX_STREAM_EVENTS`] per
//! stream (its oldest events are forgotten first).

use futures_util::stream;
use rmcp::model::ServerJsonRpcMessage;
use rmcp::transport::common::server_side_http::ServerSseMessage;
use rmcp::transport::streamable_http_server::session::{EventStore, EventStoreError, EventStream};
use std::collections::{HashMap, VecDeque};
use std::future::Future;
use std::pin::Pin;
use std::sync::{Arc, Mutex};
use tokio::sync::watch;

/// Events kept in all streams together.
pub const MAX_STORED_EVENTS: usize = 200_000;
/// Events kept per stream: the `events` tool's cap with room for the
/// priming event and the reply.
pub const MAX_STREAM_EVENTS: usize = super::events::MAX_EVENTS as usize + 16;

/// Why a replay cannot start.
#[derive(Debug, thiserror::Error, PartialEq)]
pub enum ReplayError {
    #[error("Last-Event-ID {0:?} is not an id this server gave (STREAM-INDEX)")]
    Malformed(String),
    #[error("Last-Event-ID {0:?}: its stream is no longer kept")]
    Forgotten(String),
    #[error("Last-Event-ID {0:?}: the events after it are no longer kept")]
    TooOld(String),
}

struct Log {
    /// The id rmcp gave the stream, to forget it without a scan.
    stream_id: String,
    /// Index of `events[0]`.
    first: u64,
    events: VecDeque<ServerSseMessage>,
    /// The stream's reply is stored: nothing follows.
    done: bool,
    /// Events stored so far, for followers to wait on.
    stored: watch::Sender<u64>,
}

#[derive(Default)]
struct Logs {
    ids: HashMap<String, u64>,
    logs: HashMap<u64, Log>,
    /// Stream numbers, oldest first, for forgetting.
    order: VecDeque<u64>,
    next_stream: u64,
    total: usize,
}

/// The store; cheap to share.
#[derive(Default, Clone)]
pub struct MemoryEventStore {
    logs: Arc<Mutex<Logs>>,
}

fn is_reply(event: &ServerSseMessage) -> bool {
    matches!(
        event.message.as_deref(),
        Some(ServerJsonRpcMessage::Response(_) | ServerJsonRpcMessage::Error(_))
    )
}

impl Logs {
    fn log_for(&mut self, stream_id: &str) -> u64 {
        if let Some(&n) = self.ids.get(stream_id) {
            if self.logs.contains_key(&n) {
                return n;
            }
        }
        let n = self.next_stream;
        self.next_stream += 1;
        self.ids.insert(stream_id.to_string(), n);
        self.order.push_back(n);
        let (stored, _) = watch::channel(0);
        self.logs.insert(
            n,
            Log {
                stream_id: stream_id.to_string(),
                first: 0,
                events: VecDeque::new(),
                done: false,
                stored,
            },
        );
        n
    }

    /// Forgets the oldest streams (never `keep`) until under the bound.
    fn shrink(&mut self, keep: u64) {
        while self.total > MAX_STORED_EVENTS {
            let Some(oldest) = self.order.pop_front() else {
                return;
            };
            if oldest == keep {
                self.order.push_back(oldest);
                if self.order.len() == 1 {
                    return;
                }
                continue;
            }
            if let Some(log) = self.logs.remove(&oldest) {
                self.total -= log.events.len();
                // Once full, every new stream forgets one: a scan of every
                // id here made each store cost O(streams kept).
                if self.ids.get(&log.stream_id) == Some(&oldest) {
                    self.ids.remove(&log.stream_id);
                }
            }
        }
    }

    fn store(&mut self, stream_id: &str, event: &ServerSseMessage) -> String {
        let n = self.log_for(stream_id);
        let mut trimmed = 0;
        let id = match self.logs.get_mut(&n) {
            Some(log) => {
                let index = log.first + log.events.len() as u64;
                let mut event = event.clone();
                let id = format!("{n}-{index}");
                event.event_id = Some(id.clone());
                log.done |= is_reply(&event);
                log.events.push_back(event);
                if log.events.len() > MAX_STREAM_EVENTS {
                    log.events.pop_front();
                    log.first += 1;
                    trimmed = 1;
                }
                log.stored.send_replace(index + 1);
                id
            }
            None => String::new(),
        };
        self.total = self.total + 1 - trimmed;
        self.shrink(n);
        id
    }

    /// The event at `index` of stream `n`; `Err(true)` when the stream has
    /// ended there, `Err(false)` when it may still grow.
    fn event_at(&self, n: u64, index: u64) -> Result<ServerSseMessage, bool> {
        let Some(log) = self.logs.get(&n) else {
            return Err(true);
        };
        match index
            .checked_sub(log.first)
            .and_then(|i| log.events.get(usize::try_from(i).ok()?))
        {
            Some(event) => Ok(event.clone()),
            None => Err(log.done),
        }
    }
}

/// Parses `STREAM-INDEX`.
fn parse_id(id: &str) -> Option<(u64, u64)> {
    let (stream, index) = id.split_once('-')?;
    Some((stream.parse().ok()?, index.parse().ok()?))
}

impl MemoryEventStore {
    /// Events stored now, in all streams.
    pub fn len(&self) -> usize {
        self.lock().total
    }

    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, Logs> {
        match self.logs.lock() {
            Ok(logs) => logs,
            Err(poisoned) => poisoned.into_inner(),
        }
    }

    pub fn store(&self, stream_id: &str, event: &ServerSseMessage) -> String {
        self.lock().store(stream_id, event)
    }

    /// The events after `last_event_id`, then the stream's later events as
    /// they are stored, until its reply.
    pub fn replay_after(
        &self,
        last_event_id: &str,
    ) -> Result<impl futures_util::Stream<Item = ServerSseMessage> + Send + Sync, ReplayError> {
        let (n, index) =
            parse_id(last_event_id).ok_or_else(|| ReplayError::Malformed(last_event_id.into()))?;
        let stored = {
            let logs = self.lock();
            let log = logs
                .logs
                .get(&n)
                .ok_or_else(|| ReplayError::Forgotten(last_event_id.into()))?;
            if index + 1 < log.first {
                return Err(ReplayError::TooOld(last_event_id.into()));
            }
            log.stored.subscribe()
        };
        let state = (self.clone(), stored, index + 1);
        Ok(stream::unfold(
            state,
            move |(store, mut stored, next)| async move {
                loop {
                    // Marked seen before looking, so a store in between wakes us.
                    stored.borrow_and_update();
                    let found = store.lock().event_at(n, next);
                    match found {
                        Ok(event) => return Some((event, (store, stored, next + 1))),
                        Err(true) => return None,
                        Err(false) => {}
                    }
                    if stored.changed().await.is_err() {
                        // Forgotten while we waited: what was missed is gone.
                        return None;
                    }
                }
            },
        ))
    }
}

type Boxed<'a, T> = Pin<Box<dyn Future<Output = Result<T, EventStoreError>> + Send + 'a>>;

impl EventStore for MemoryEventStore {
    fn store_event<'a, 'b, 'c, 'd>(
        &'a self,
        stream_id: &'b str,
        event: &'c ServerSseMessage,
    ) -> Boxed<'d, String>
    where
        'a: 'd,
        'b: 'd,
        'c: 'd,
        Self: 'd,
    {
        Box::pin(async move { Ok(self.store(stream_id, event)) })
    }

    fn replay_events_after<'a, 'b, 'd>(&'a self, last_event_id: &'b str) -> Boxed<'d, EventStream>
    where
        'a: 'd,
        'b: 'd,
        Self: 'd,
    {
        Box::pin(async move {
            let replay = self.replay_after(last_event_id)?;
            Ok(Box::pin(replay) as EventStream)
        })
    }
}

#[cfg(test)]
#[path = "event_store_tests.rs"]
mod tests;
