//! The write side of a line session (stdio, TCP, TLS): one stream, written
//! in order by whoever gets there first.
//!
//! A request sent while the stream is idle and nothing else of the session is
//! in flight is written by its own task, at once (`Outbox::send` with
//! `direct`): no hand-off to a writer task, which at 5,000 paced sends a
//! second was one more task wake-up per request on the round trip (issue 17).
//! Everything else (a write that would block, one under way, several requests
//! in flight, replies to the server's requests) is queued and written by the
//! writer task (`run`), which joins what queued into one write, as before.
//! Bytes already queued always go first, so lines never interleave.
//!
//! A direct write is a single non-blocking attempt under the lock: its
//! future never holds the stream, so a request that times out cannot leave
//! half a line behind; what it could not write is queued as the rest of it.

use std::future::poll_fn;
use std::pin::Pin;
use std::sync::Mutex;
use std::task::{Context, Poll, Waker};
use tokio::io::AsyncWrite;
use tokio::sync::Notify;
use tokio::time::Instant;

/// A queue emptied by its writer keeps its buffer up to this size; an idle
/// session holds no more.
const KEEP_BUFFER_BYTES: usize = 8 * 1024;

/// The stream, boxed: sessions of every transport share one type.
pub type Stream = Box<dyn AsyncWrite + Send + Unpin>;

/// Why a message could not go out.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum SendError {
    /// The stream was closed before (the session holds the reason).
    Closed,
    /// This write failed: the session closes with this reason.
    Failed(String),
}

/// How a message went out.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Sent {
    /// Written to the stream by the caller's task, complete at this instant.
    Written(Instant),
    /// Queued for the writer task.
    Queued,
}

struct State {
    /// `None` once closed.
    stream: Option<Stream>,
    /// Bytes waiting, `queue[done..]` not yet written.
    queue: Vec<u8>,
    done: usize,
    /// The writer task owns the stream until `queue` is written and flushed.
    busy: bool,
}

/// One session's stream and its queue.
pub struct Outbox {
    state: Mutex<State>,
    wake: Notify,
}

impl Outbox {
    pub fn new(stream: Stream) -> Outbox {
        Outbox {
            state: Mutex::new(State {
                stream: Some(stream),
                queue: Vec::new(),
                done: 0,
                busy: false,
            }),
            wake: Notify::new(),
        }
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, State> {
        self.state.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// Sends `body`: written now when `direct` and the stream is idle, else
    /// queued for the writer task.
    pub fn send(&self, body: Vec<u8>, direct: bool) -> Result<Sent, SendError> {
        let mut st = self.lock();
        let State {
            stream,
            queue,
            done,
            busy,
        } = &mut *st;
        let Some(stream) = stream.as_mut() else {
            return Err(SendError::Closed);
        };
        // What the writer task still has to write of `body` (all of it
        // unless this task wrote some).
        let mut from = 0;
        if direct && !*busy {
            let mut cx = Context::from_waker(Waker::noop());
            match write_some(stream, &body, &mut cx) {
                Err(e) => {
                    st.stream = None;
                    return Err(SendError::Failed(format!("write failed: {e}")));
                }
                Ok(n) if n == body.len() => {
                    if let Poll::Ready(Ok(())) = Pin::new(stream).poll_flush(&mut cx) {
                        return Ok(Sent::Written(Instant::now()));
                    }
                    // A buffered stream (TLS) still holds it: its writer flushes.
                    from = n;
                }
                Ok(n) => from = n,
            }
        }
        if from == 0 && queue.is_empty() {
            *queue = body;
            *done = 0;
        } else {
            queue.extend_from_slice(&body[from..]);
        }
        if !*busy {
            *busy = true;
            self.wake.notify_one();
        }
        Ok(Sent::Queued)
    }

    /// The writer task: writes what queues, in order, until the stream
    /// closes; `Err(reason)` when a write failed.
    pub async fn run(&self) -> Result<(), String> {
        loop {
            self.wake.notified().await;
            poll_fn(|cx| self.poll_drain(cx)).await?;
        }
    }

    /// Writes and flushes the queue; `Ready` once it is empty.
    fn poll_drain(&self, cx: &mut Context<'_>) -> Poll<Result<(), String>> {
        let mut st = self.lock();
        let State {
            stream,
            queue,
            done,
            busy,
        } = &mut *st;
        let Some(s) = stream.as_mut() else {
            return Poll::Ready(Err("write failed: the stream is closed".into()));
        };
        while *done < queue.len() {
            match Pin::new(&mut *s).poll_write(cx, &queue[*done..]) {
                Poll::Ready(Ok(0)) => return self.fail(&mut st, "write returned 0 bytes".into()),
                Poll::Ready(Ok(n)) => *done += n,
                Poll::Ready(Err(e)) => return self.fail(&mut st, e.to_string()),
                Poll::Pending => return Poll::Pending,
            }
        }
        match Pin::new(&mut *s).poll_flush(cx) {
            Poll::Ready(Ok(())) => {}
            Poll::Ready(Err(e)) => return self.fail(&mut st, e.to_string()),
            Poll::Pending => return Poll::Pending,
        }
        queue.clear();
        *done = 0;
        if queue.capacity() > KEEP_BUFFER_BYTES {
            *queue = Vec::new();
        }
        *busy = false;
        Poll::Ready(Ok(()))
    }

    fn fail(&self, st: &mut State, why: String) -> Poll<Result<(), String>> {
        st.stream = None;
        Poll::Ready(Err(format!("write failed: {why}")))
    }
}

/// One non-blocking attempt to write all of `body`: how much went.
fn write_some(stream: &mut Stream, body: &[u8], cx: &mut Context<'_>) -> std::io::Result<usize> {
    let mut n = 0;
    while n < body.len() {
        match Pin::new(&mut *stream).poll_write(cx, &body[n..]) {
            Poll::Ready(Ok(0)) => return Err(std::io::ErrorKind::WriteZero.into()),
            Poll::Ready(Ok(k)) => n += k,
            Poll::Ready(Err(e)) => return Err(e),
            Poll::Pending => break,
        }
    }
    Ok(n)
}

tokio::task_local! {
    static WRITTEN: std::cell::Cell<Option<Instant>>;
}

/// Runs `call` and returns with its output when its request was written by
/// its own task (`None` when the writer task wrote it, or nothing was
/// written): the send trace's `written` step.
pub async fn traced<F: std::future::Future>(call: F) -> (F::Output, Option<Instant>) {
    WRITTEN
        .scope(std::cell::Cell::new(None), async move {
            let output = call.await;
            (output, WRITTEN.try_with(|w| w.get()).ok().flatten())
        })
        .await
}

/// Notes, for `traced`, that this task's request was written at `at`.
pub fn note_written(at: Instant) {
    let _ = WRITTEN.try_with(|w| w.set(Some(at)));
}

#[cfg(test)]
#[path = "writer_tests.rs"]
mod tests;
