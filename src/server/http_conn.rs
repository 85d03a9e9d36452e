//! One HTTP/1.1 connection of `mcptop serve --http`, with the time limits
//! a server on a shared machine needs: a request head must arrive within the
//! header timeout, a keep-alive connection may wait between requests for at
//! most the idle timeout, and a request body must arrive within the header
//! timeout after its head (`http_batch` enforces that one).
//!
//! hyper's own `header_read_timeout` also starts while a kept-alive
//! connection waits for its next request, so it cannot give a short header
//! limit and a longer idle one; this module keeps both clocks itself. The
//! connection's reads are watched: the first byte of a new request starts
//! its header clock, a request in flight (until its response body has been
//! sent or dropped, so a long event stream is never cut) stops both, and the
//! end of the last response starts the idle clock. As Go's `net/http` does,
//! the first request of a new connection is on the header clock from the
//! moment it is accepted, so connecting and sending nothing holds a slot for
//! the header timeout only.

use super::access::AccessPolicy;
use super::http_batch::{self, Reply, Service};
use http_body_util::BodyExt;
use hyper::body::{Body, Bytes, Frame, Incoming, SizeHint};
use std::convert::Infallible;
use std::net::IpAddr;
use std::pin::Pin;
use std::sync::{Arc, Mutex, PoisonError};
use std::task::{Context, Poll};
use std::time::Duration;
use tokio::io::{AsyncRead, AsyncWrite, ReadBuf};
use tokio::sync::Notify;
use tokio::time::Instant;

/// Time limits of one connection.
#[derive(Debug, Clone, Copy)]
pub struct Timeouts {
    /// A request head (and then its body) must arrive within this.
    pub header: Duration,
    /// A kept-alive connection may wait this long for its next request.
    pub idle: Duration,
}

/// Where a connection is: the clock that runs, if any.
#[derive(Debug)]
struct Phase {
    in_flight: usize,
    /// A request head is being received since then.
    head_since: Option<Instant>,
    /// Nothing in flight, nothing received since then.
    idle_since: Instant,
}

/// What a connection's reader, its service and its watchdog share.
#[derive(Debug)]
struct Watch {
    phase: Mutex<Phase>,
    changed: Notify,
}

impl Watch {
    fn new(now: Instant) -> Watch {
        Watch {
            phase: Mutex::new(Phase {
                in_flight: 0,
                head_since: Some(now),
                idle_since: now,
            }),
            changed: Notify::new(),
        }
    }

    fn phase(&self) -> std::sync::MutexGuard<'_, Phase> {
        // A panic elsewhere cannot leave the counters half-updated.
        self.phase.lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// Bytes arrived: between requests, that starts a head.
    fn on_read(&self) {
        let mut phase = self.phase();
        if phase.in_flight == 0 && phase.head_since.is_none() {
            phase.head_since = Some(Instant::now());
            drop(phase);
            self.changed.notify_one();
        }
    }

    /// A whole head arrived; the request is in flight until the guard drops.
    fn request_started(self: &Arc<Self>) -> InFlight {
        let mut phase = self.phase();
        phase.in_flight += 1;
        phase.head_since = None;
        InFlight(self.clone())
    }

    /// When the connection is to be closed if nothing changes before.
    fn deadline(&self, timeouts: Timeouts) -> Option<Instant> {
        let phase = self.phase();
        if phase.in_flight > 0 {
            return None;
        }
        Some(match phase.head_since {
            Some(since) => since + timeouts.header,
            None => phase.idle_since + timeouts.idle,
        })
    }
}

/// A request in flight; dropped with its response body.
struct InFlight(Arc<Watch>);

impl Drop for InFlight {
    fn drop(&mut self) {
        let mut phase = self.0.phase();
        phase.in_flight = phase.in_flight.saturating_sub(1);
        if phase.in_flight == 0 {
            phase.idle_since = Instant::now();
            phase.head_since = None;
            drop(phase);
            self.0.changed.notify_one();
        }
    }
}

/// A response body that keeps its request in flight until it is done.
struct GuardedBody {
    inner: http_body_util::combinators::BoxBody<Bytes, Infallible>,
    _in_flight: InFlight,
}

impl Body for GuardedBody {
    type Data = Bytes;
    type Error = Infallible;

    fn poll_frame(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
    ) -> Poll<Option<Result<Frame<Bytes>, Infallible>>> {
        Pin::new(&mut self.inner).poll_frame(cx)
    }

    fn is_end_stream(&self) -> bool {
        self.inner.is_end_stream()
    }

    fn size_hint(&self) -> SizeHint {
        self.inner.size_hint()
    }
}

/// The socket, telling the watch when bytes arrive.
struct WatchedIo<S> {
    inner: S,
    watch: Arc<Watch>,
}

impl<S: AsyncRead + Unpin> AsyncRead for WatchedIo<S> {
    fn poll_read(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<std::io::Result<()>> {
        let before = buf.filled().len();
        let polled = Pin::new(&mut self.inner).poll_read(cx, buf);
        if matches!(polled, Poll::Ready(Ok(()))) && buf.filled().len() > before {
            self.watch.on_read();
        }
        polled
    }
}

impl<S: AsyncWrite + Unpin> AsyncWrite for WatchedIo<S> {
    fn poll_write(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        data: &[u8],
    ) -> Poll<std::io::Result<usize>> {
        Pin::new(&mut self.inner).poll_write(cx, data)
    }

    fn poll_flush(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<std::io::Result<()>> {
        Pin::new(&mut self.inner).poll_flush(cx)
    }

    fn poll_shutdown(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<std::io::Result<()>> {
        Pin::new(&mut self.inner).poll_shutdown(cx)
    }

    fn poll_write_vectored(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        bufs: &[std::io::IoSlice<'_>],
    ) -> Poll<std::io::Result<usize>> {
        Pin::new(&mut self.inner).poll_write_vectored(cx, bufs)
    }

    fn is_write_vectored(&self) -> bool {
        self.inner.is_write_vectored()
    }
}

/// Everything one connection needs from its listener.
#[derive(Clone)]
pub struct HttpShared {
    pub service: Service,
    pub access: Arc<AccessPolicy>,
    pub timeouts: Timeouts,
}

/// Serves one accepted connection until the client leaves or a clock runs
/// out; `local` is the address the client connected to (for the Host check).
pub async fn serve_connection<S>(stream: S, local: IpAddr, shared: HttpShared)
where
    S: AsyncRead + AsyncWrite + Unpin + Send + 'static,
{
    let timeouts = shared.timeouts;
    let watch = Arc::new(Watch::new(Instant::now()));
    let io = WatchedIo {
        inner: stream,
        watch: watch.clone(),
    };
    let serving = watch.clone();
    let service = hyper::service::service_fn(move |request| {
        let in_flight = serving.request_started();
        let shared = shared.clone();
        async move {
            let reply = answer(request, local, &shared).await;
            Ok::<_, Infallible>(reply.map(|inner| GuardedBody {
                inner,
                _in_flight: in_flight,
            }))
        }
    });
    let connection = hyper::server::conn::http1::Builder::new()
        .keep_alive(true)
        // The clocks above replace it (see the module doc).
        .header_read_timeout(None)
        .serve_connection(hyper_util::rt::TokioIo::new(io), service);
    tokio::pin!(connection);
    loop {
        let deadline = watch.deadline(timeouts);
        tokio::select! {
            _ = &mut connection => return,
            () = watch.changed.notified() => {}
            () = sleep_until(deadline) => {
                // Nothing in flight and a clock ran out: dropping the
                // connection closes the socket; no response is cut.
                if watch.deadline(timeouts).is_some_and(|d| d <= Instant::now()) {
                    return;
                }
            }
        }
    }
}

async fn sleep_until(deadline: Option<Instant>) {
    match deadline {
        Some(deadline) => tokio::time::sleep_until(deadline).await,
        None => std::future::pending().await,
    }
}

/// The Origin/Host check, then the request itself.
async fn answer(request: hyper::Request<Incoming>, local: IpAddr, shared: &HttpShared) -> Reply {
    if let Err(refusal) = shared.access.check(request.headers(), local) {
        let mut reply = hyper::Response::new(
            http_body_util::Full::new(Bytes::from(format!("Forbidden: {}", refusal.reason)))
                .boxed(),
        );
        *reply.status_mut() = refusal.status;
        return reply;
    }
    http_batch::handle(shared.service.clone(), request, shared.timeouts.header).await
}

#[cfg(test)]
mod tests {
    use super::*;

    const T: Timeouts = Timeouts {
        header: Duration::from_secs(10),
        idle: Duration::from_secs(60),
    };

    #[tokio::test(start_paused = true)]
    async fn a_new_connection_is_on_the_header_clock_then_idle_between_requests() {
        let start = Instant::now();
        let watch = Arc::new(Watch::new(start));
        assert_eq!(watch.deadline(T), Some(start + T.header));
        tokio::time::advance(Duration::from_secs(3)).await;
        let request = watch.request_started();
        assert_eq!(watch.deadline(T), None, "a request in flight has no clock");
        tokio::time::advance(Duration::from_secs(500)).await;
        drop(request);
        let done = Instant::now();
        assert_eq!(watch.deadline(T), Some(done + T.idle));
        tokio::time::advance(Duration::from_secs(20)).await;
        watch.on_read();
        let head = Instant::now();
        assert_eq!(watch.deadline(T), Some(head + T.header));
        tokio::time::advance(Duration::from_secs(1)).await;
        watch.on_read();
        assert_eq!(
            watch.deadline(T),
            Some(head + T.header),
            "more bytes of the same head do not restart its clock"
        );
    }

    #[tokio::test(start_paused = true)]
    async fn two_requests_in_flight_keep_the_clocks_stopped_until_both_end() {
        let watch = Arc::new(Watch::new(Instant::now()));
        let a = watch.request_started();
        let b = watch.request_started();
        drop(a);
        watch.on_read();
        assert_eq!(watch.deadline(T), None);
        drop(b);
        assert_eq!(watch.deadline(T), Some(Instant::now() + T.idle));
    }
}
